// Jest resolver for `npm run test:solutions`: a spec imports its lesson's code naturally ('../src/app');
// every import that resolves into lessons/NN-slug/src/X is sent to solutions/NN-slug/src/X when that
// file exists. solutions/ holds only the files a learner writes, so an import made *from* a solution
// file of a file it does not have (a given helper) falls back to the lesson's own copy.
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const inFolder = (kind) =>
  new RegExp(
    `^${escapeRegExp(path.join(root, kind))}\\${path.sep}([^\\${path.sep}]+)\\${path.sep}src(\\${path.sep}.*)?$`,
  );
const lessonsSrc = inFolder('lessons');
const solutionsSrc = inFolder('solutions');

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** @param {string} request @param {{ basedir: string, defaultResolver: Function }} options */
module.exports = (request, options) => {
  let resolved;
  try {
    resolved = options.defaultResolver(request, options);
  } catch (error) {
    const fromSolution = options.basedir.match(solutionsSrc);
    if (!fromSolution) throw error;
    const basedir = path.join(root, 'lessons', fromSolution[1], 'src', fromSolution[2] ?? '');
    resolved = options.defaultResolver(request, { ...options, basedir });
  }
  const inLesson = resolved.match(lessonsSrc);
  if (!inLesson) return resolved;
  const solution = path.join(root, 'solutions', inLesson[1], 'src', inLesson[2] ?? '');
  return existsSync(solution) ? solution : resolved;
};
