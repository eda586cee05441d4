/** @jest-config-loader esbuild-register */
/**
 * One Jest project per lesson (its name prefixes each result), plus one for the course's own kit.
 *
 *   npm test lessons/01          a lesson's specs against the learner's code in lessons/01-…/src
 *   npm run test:solutions       the same specs against solutions/ (COURSE_TARGET=solutions)
 *   npm run test:kit             the kit's own specs (COURSE_KIT=only; npm test leaves them out:
 *                                they are the course's, not the learner's, and use pristine copies)
 *   COURSE_REPORTER=default      Jest's own reporter instead of the course's
 *   COURSE_ALLURE=1              record Allure results (npm run grade sets it)
 *
 * A lesson whose specs import kit/spec/redis gets the embedded Redis global setup; Jest runs a
 * project's global setup only when one of its specs is selected, so lessons 01–02 never start Redis.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from 'jest';
import { swcTransform } from './kit/jest/swc';
import { specModuleMap } from './kit/vendor';

type Project = NonNullable<Config['projects']>[number] & object;

const solutions = process.env.COURSE_TARGET === 'solutions';
const allure = process.env.COURSE_ALLURE === '1';
/** COURSE_KIT=1 adds the kit's own specs to the lessons' (verify); COURSE_KIT=only runs just those. */
const kit = process.env.COURSE_KIT;

// The spec helper lists every task it declares (points, step) here; the course reporter reads it.
// Set before the workers start, so they inherit it. (The grader and verify bring their own.)
if (!process.env.COURSE_GRADE_CATALOG) {
  const catalog = mkdtempSync(join(tmpdir(), 'course-tasks-'));
  process.env.COURSE_GRADE_CATALOG = catalog;
  // This runs in Jest's main process: the folder goes when Jest does, whichever reporter it ran.
  process.once('exit', () => rmSync(catalog, { recursive: true, force: true }));
}

const common = {
  rootDir: __dirname,
  transform: swcTransform,
  resolver: solutions ? '<rootDir>/kit/jest/resolver.cjs' : undefined,
  testEnvironment: allure
    ? '<rootDir>/kit/jest/allure-environment.cjs'
    : '<rootDir>/kit/jest/environment.cjs',
  testEnvironmentOptions: allure ? { resultsDir: process.env.ALLURE_RESULTS_DIR ?? 'allure-results' } : {},
  slowTestThreshold: 10,
  // express, node-redis, supertest… from one pre-bundled file: each spec file loads them again
  // (kit/vendor.ts says what that saves).
  moduleNameMapper: specModuleMap(),
} satisfies Project;

function specFiles(dir: string): string[] {
  // A lesson being written may have no specs folder yet.
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.spec.ts'))
    .map((file) => join(dir, file));
}

function lessonProject(lessonId: string): Project {
  const specs = join(__dirname, 'lessons', lessonId, 'specs');
  const needsRedis = specFiles(specs).some((file) => readFileSync(file, 'utf8').includes('kit/spec/redis'));
  return {
    ...common,
    displayName: lessonId,
    roots: [`<rootDir>/lessons/${lessonId}`],
    testMatch: ['<rootDir>/lessons/*/specs/**/*.spec.ts'],
    globalSetup: needsRedis
      ? '<rootDir>/kit/jest/global-setup-redis.ts'
      : '<rootDir>/kit/jest/global-setup.ts',
    globalTeardown: needsRedis ? '<rootDir>/kit/jest/global-teardown-redis.ts' : undefined,
  };
}

const lessons = readdirSync(join(__dirname, 'lessons')).filter((name) => /^\d\d-/.test(name));

const config: Config = {
  // The learner's view: a progress line per README step and what to do next (kit/course/reporter.ts).
  // Jest's own: `npm test lessons/01 -- --reporters=default`.
  reporters: process.env.COURSE_REPORTER === 'default' ? ['default'] : ['<rootDir>/kit/course/reporter.cjs'],
  // Jest's default on 2 cores is one worker. The specs mostly wait on real servers and processes, so
  // two files side by side finish sooner: lesson 05, 9.1 → 6.9 s; lesson 03, 5.2 → 4.8 s (2-core
  // machine, `hyperfine --runs 6 -N -L w 1,2 "env COURSE_TARGET=solutions node_modules/.bin/jest
  // --maxWorkers={w} lessons/05"`).
  maxWorkers: 2,
  projects: [
    ...(kit === 'only' ? [] : lessons.map(lessonProject)),
    ...(kit === '1' || kit === 'only'
      ? [
          {
            ...common,
            displayName: 'kit',
            roots: ['<rootDir>/kit'],
            testMatch: ['<rootDir>/kit/**/*.spec.ts'],
            globalSetup: '<rootDir>/kit/jest/global-setup-redis.ts',
            globalTeardown: '<rootDir>/kit/jest/global-teardown-redis.ts',
          },
        ]
      : []),
  ],
};

export default config;
