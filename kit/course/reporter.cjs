// Jest loads reporters without any TypeScript transform: this shim compiles the course reporter
// (kit/course/reporter.ts and the kit files it imports) with esbuild-register, only while loading it.
const { join } = require('node:path');
const { register } = require('esbuild-register/dist/node');

const kit = join(__dirname, '..');
const { unregister } = register({
  target: `node${process.versions.node}`,
  hookMatcher: (file) => file.startsWith(kit),
});
try {
  module.exports = require('./reporter.ts').default;
} finally {
  unregister();
}
