/**
 * The course's packages (express, node-redis, supertest…) pre-bundled into one file, for the two
 * places that load them again and again: every spec file (Jest gives each its own module registry, so
 * each re-reads and compiles hundreds of small files) and every server process a spec starts.
 *
 * Measured in a spec file, Jest worker, 2-core machine (each require timed with performance.now()):
 * redis 275 ms, express 100 ms, supertest 70 ms from node_modules; the same from the bundle together
 * about 150 ms. A spec file of lesson 06 loads all three, and verify runs a few hundred spec files.
 *
 * Each package is evaluated on first use, as before (esbuild's lazy module wrappers); only the parsing
 * of the file is shared. Best effort: when esbuild cannot bundle the set, everything loads from
 * node_modules as it would without this.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..');
/** Bump when what this file writes changes: older caches are then ignored. */
const FORMAT = 'v5';
export const CACHE = join(ROOT, 'node_modules', '.cache', 'course-vendor');

/** What specs and servers load in every run: the course's dependencies, and supertest. */
export const SPEC_PACKAGES = [
  'connect-redis',
  'express',
  'express-session',
  'http-proxy',
  'redis',
  'supertest',
];

export interface Vendor {
  /** The bundle: one getter per package. */
  file: string;
  /**
   * For `node --require`: makes `require(name)` return the bundle's package, for every name in it.
   * It compiles the bundle with V8's code cache of it (vendor.cache, written once beside it by
   * running the preload with COURSE_VENDOR_WRITE_CACHE=1 after loading every package): the functions
   * compiled while the packages load are not compiled again in each process: an express +
   * express-session + node-redis app answering its first request took ≈0.27 CPU-s without it, ≈0.20
   * with it (`/usr/bin/time node --require preload.js …`, 6 runs each, 2-core machine). A cache V8
   * refuses (another Node) is only ignored.
   */
  preload: string;
  /** Per package, a module whose exports are the bundle's package (for Jest's moduleNameMapper). */
  stubs: Record<string, string>;
}

/** The bundle of `packages`, built once per set and installed versions; undefined if it cannot be. */
export function vendorBundle(packages: readonly string[]): Vendor | undefined {
  const wanted = [...new Set(packages)].sort();
  if (wanted.length === 0) return undefined;
  const key = createHash('sha1')
    .update(FORMAT)
    .update(JSON.stringify(wanted))
    .update(lockfileHash())
    .digest('hex');
  const dir = join(CACHE, key);
  const vendor: Vendor = {
    file: join(dir, 'vendor.js'),
    preload: join(dir, 'preload.js'),
    stubs: Object.fromEntries(
      wanted.map((name) => [name, join(dir, 'stubs', `${name.replace('/', '__')}.js`)]),
    ),
  };
  // The preload is written last: when it exists, everything else does. The files require each other
  // by relative paths: verify's scratch copies of the course share this node_modules.
  if (existsSync(vendor.preload)) return vendor;
  try {
    const getters = wanted
      .map(
        (name) =>
          `Object.defineProperty(exports, ${JSON.stringify(name)}, { enumerable: true, get: () => require(${JSON.stringify(name)}) });`,
      )
      .join('\n');
    const result = buildSync({
      stdin: { contents: getters, resolveDir: ROOT, loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    writeAtomically(vendor.file, result.outputFiles?.[0]?.contents ?? new Uint8Array());
  } catch {
    return undefined;
  }
  for (const [name, stub] of Object.entries(vendor.stubs)) {
    writeAtomically(stub, stubFor(name));
  }
  writeAtomically(vendor.preload, PRELOAD);
  spawnSync(process.execPath, [vendor.preload], {
    env: { ...process.env, COURSE_VENDOR_WRITE_CACHE: '1' },
    stdio: 'ignore',
    timeout: 30_000,
  });
  return vendor;
}

/**
 * A package's stub for Jest: the bundle as the specs' environment loads it (compiled once per worker,
 * kit/jest/environment.cjs), or required as any file where that environment is not in use.
 */
function stubFor(name: string): string {
  return `const file = require('node:path').join(__dirname, '..', 'vendor.js');
const load = globalThis.__courseVendor;
module.exports = (load ? load(file) : require(file))[${JSON.stringify(name)}];
`;
}

const PRELOAD = `const Module = require('node:module');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const vm = require('node:vm');
const file = join(__dirname, 'vendor.js');
const cacheFile = join(__dirname, 'vendor.cache');
let cachedData;
try { cachedData = readFileSync(cacheFile); } catch {}
const wrapped = '(function (exports, require, module, __filename, __dirname) {' + readFileSync(file, 'utf8') + '\\n})';
const script = new vm.Script(wrapped, { filename: file, cachedData });
const bundle = { exports: {} };
script.runInThisContext().call(bundle.exports, bundle.exports, require, bundle, file, __dirname);
const vendor = bundle.exports;
if (process.env.COURSE_VENDOR_WRITE_CACHE === '1') {
  for (const name of Object.keys(vendor)) void vendor[name];
  const temporary = cacheFile + '.' + process.pid + '.tmp';
  writeFileSync(temporary, script.createCachedData());
  renameSync(temporary, cacheFile);
}
const load = Module._load;
Module._load = function (request, ...rest) {
  return Object.hasOwn(vendor, request) ? vendor[request] : load.call(this, request, ...rest);
};
`;

/** Jest's moduleNameMapper for the spec packages ({} when the bundle cannot be built). */
export function specModuleMap(): Record<string, string> {
  const vendor = vendorBundle(SPEC_PACKAGES);
  if (!vendor) return {};
  return Object.fromEntries(
    Object.entries(vendor.stubs).map(([name, stub]) => [
      `^${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`,
      stub,
    ]),
  );
}

/** The installed packages' versions: a bundle is rebuilt after `npm install` changes them. */
let lockfile: string | undefined;
function lockfileHash(): string {
  if (lockfile === undefined) {
    try {
      lockfile = createHash('sha1')
        .update(readFileSync(join(ROOT, 'node_modules', '.package-lock.json')))
        .digest('hex');
    } catch {
      lockfile = 'none';
    }
  }
  return lockfile;
}

/** Concurrent runs may write the same file: each writes a file of its own, then renames it. */
export function writeAtomically(file: string, content: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}
