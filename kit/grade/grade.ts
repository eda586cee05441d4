/**
 * `npm run grade` — the instructor's grade (README.md, "Grading", explains it for instructors).
 *
 *   npm run grade                               this checkout's lessons/*\/src
 *   npm run grade -- --submission ../alice      a learner's clone or unpacked zip (only its src counts)
 *   npm run grade -- --solutions --lessons 01   the reference solutions, lesson 01 only
 *
 * 1. builds a scratch tree: this repo's specs, kit and config, with the graded lessons/*\/src in it;
 * 2. runs the lesson specs there with Jest (--json) and allure-jest (COURSE_ALLURE=1);
 * 3. scores each task from Jest's outcome and the points the spec helper declared (score.ts);
 * 4. writes grade.json, an Allure Report 3 (one HTML file) and prints a table.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findRedisBinary } from '../redis/embedded';
import categories from './categories.json';
import { type CatalogTask, filesPattern, runJest } from './jest-run';
import { callerDir, type GradeOptions, parseOptions, USAGE } from './options';
import { completeResults, generateReport, remoteReferences, writeEnvironment } from './report';
import { gradeLessons, type LessonGrade, type Totals, totals } from './score';
import {
  buildTree,
  COURSE_ROOT,
  courseLessons,
  type GitInfo,
  GradeError,
  gitInfo,
  type Lesson,
  type Source,
  selectLessons,
  submissionSource,
} from './workspace';

const ALLURE_TIMEOUT_MS = 120_000;

export interface GradeFile {
  course: string;
  gradedAt: string;
  durationSeconds: number;
  submission: { kind: Source['kind']; path: string; git: GitInfo | null };
  specs: { path: string; git: GitInfo | null };
  environment: { node: string; redis: string };
  score: Totals;
  lessons: LessonGrade[];
  warnings: string[];
  report: string | null;
}

async function main(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const lessons = selectLessons(courseLessons(), options.lessons);
  if (lessons.length === 0) throw new GradeError('this course has no lesson specs to grade');
  const source = sourceOf(options);
  const redis = redisInUse(lessons);
  const out = outputs(options.out);
  const started = new Date();

  console.log(`Grading ${describeSource(source)} — ${lessons.map((lesson) => lesson.id).join(', ')}`);
  const { graded, warnings, treeDir } = await gradeInTree(source, lessons, out, options);
  const grade: GradeFile = {
    course: packageName(),
    gradedAt: started.toISOString(),
    durationSeconds: 0,
    submission: {
      kind: source.kind,
      path: source.dir,
      git: source.kind === 'solutions' ? gitInfo(COURSE_ROOT, 'solutions') : gitInfo(source.dir),
    },
    specs: { path: COURSE_ROOT, git: gitInfo(COURSE_ROOT) },
    environment: { node: process.version, redis },
    score: totals(graded),
    lessons: graded,
    warnings,
    report: null,
  };

  if (options.report) {
    writeEnvironment(out.results, environmentOf(grade));
    completeResults(out.results, graded, treeDir);
    const index = await generateReport({
      resultsDir: out.results,
      reportDir: out.report,
      name: `Grade: ${describeSource(source)}`,
      variables: scoreVariables(grade),
      timeoutMs: ALLURE_TIMEOUT_MS,
    });
    const remote = remoteReferences(readFileSync(index, 'utf8'));
    if (remote.length) grade.warnings.push(`the report loads remote resources: ${remote.join(' ')}`);
    grade.report = index;
  }
  grade.durationSeconds = Math.round((Date.now() - started.getTime()) / 100) / 10;
  writeFileSync(out.grade, `${JSON.stringify(grade, null, 2)}\n`);
  printSummary(grade, out);
}

/** Runs the pristine specs on the graded code in a scratch tree (removed before returning). */
async function gradeInTree(source: Source, lessons: Lesson[], out: Outputs, options: GradeOptions) {
  const tree = buildTree(source);
  const removeTree = () => tree.remove();
  process.once('exit', removeTree);
  try {
    const specFiles = lessons.flatMap((lesson) => lesson.specFiles);
    const run = await runJest({
      tree: tree.dir,
      testPathPattern: filesPattern(tree.dir, specFiles),
      env: { COURSE_ALLURE: '1', ALLURE_RESULTS_DIR: out.results },
      logFile: out.log,
      timeoutMs: options.timeoutMs,
    });
    if (run.timedOut) {
      throw new GradeError(
        `the specs did not finish within ${options.timeoutMs / 1000} s; see ${shown(out.log)}`,
      );
    }
    if (!run.report) {
      throw new GradeError(`Jest produced no results (exit code ${run.exitCode}); see ${shown(out.log)}`);
    }
    const catalog = [...run.catalog, ...(await listUnloaded(specFiles, run.catalog, out.log, options))];
    const graded = gradeLessons(lessons, catalog, run.report, tree.dir, tree.origins);
    refuseHarnessFailure(graded);
    return { graded, warnings: tree.warnings, treeDir: tree.dir };
  } finally {
    process.off('exit', removeTree);
    tree.remove();
  }
}

function sourceOf(options: GradeOptions): Source {
  if (options.solutions) return { kind: 'solutions', dir: join(COURSE_ROOT, 'solutions') };
  if (options.submission !== undefined) return submissionSource(options.submission);
  return { kind: 'checkout', dir: COURSE_ROOT };
}

function describeSource(source: Source): string {
  if (source.kind === 'solutions') return 'the reference solutions';
  if (source.kind === 'checkout') return `this checkout (${source.dir})`;
  return source.dir;
}

interface Outputs {
  dir: string;
  results: string;
  report: string;
  grade: string;
  log: string;
}

/** The output locations, emptied: a grade never mixes with an older one. */
function outputs(dir: string): Outputs {
  const out = {
    dir,
    results: join(dir, 'allure-results'),
    report: join(dir, 'allure-report'),
    grade: join(dir, 'grade.json'),
    log: join(dir, 'grade.log'),
  };
  for (const path of [out.results, out.report, out.grade, out.log])
    rmSync(path, { recursive: true, force: true });
  mkdirSync(out.results, { recursive: true });
  return out;
}

/**
 * Spec files that declared no task in the graded run did not load (the graded code broke an import).
 * Their tasks still count: list them from a tree holding the reference solutions, running nothing.
 */
async function listUnloaded(
  specFiles: string[],
  catalog: CatalogTask[],
  log: string,
  options: GradeOptions,
): Promise<CatalogTask[]> {
  const unloaded = specFiles.filter((file) => !catalog.some((task) => task.file === file));
  if (unloaded.length === 0) return [];
  const tree = buildTree({ kind: 'solutions', dir: join(COURSE_ROOT, 'solutions') });
  try {
    const listed = await runJest({
      tree: tree.dir,
      testPathPattern: filesPattern(tree.dir, unloaded),
      // No test runs, so no Redis is needed: an unreachable URL keeps the global setup from starting one.
      env: { REDIS_URL: 'redis://127.0.0.1:1' },
      logFile: log,
      timeoutMs: options.timeoutMs,
      listOnly: true,
    });
    const missing = unloaded.filter((file) => !listed.catalog.some((task) => task.file === file));
    if (missing.length) {
      throw new GradeError(
        `cannot list the tasks of ${missing.join(', ')}: those specs do not load even with the reference solutions; see ${shown(log)}`,
      );
    }
    return listed.catalog;
  } finally {
    tree.remove();
  }
}

/** The course's own Redis did not start: every Redis task would fail for a reason not the learner's. */
function refuseHarnessFailure(lessons: LessonGrade[]): void {
  const harness = /No Redis for this run|Could not start Redis/;
  const hit = lessons.flatMap((lesson) => lesson.tasks).find((task) => harness.test(task.message ?? ''));
  if (hit)
    throw new GradeError(`Redis is unavailable, so the Redis lessons cannot be graded:\n${hit.message}`);
}

/** What the report and grade.json say about Redis: the version of the binary the harness will start. */
function redisInUse(lessons: Lesson[]): string {
  if (!lessons.some((lesson) => lesson.needsRedis)) return 'not used';
  if (process.env.REDIS_URL)
    return `external, REDIS_URL=${process.env.REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')}`;
  let binary: ReturnType<typeof findRedisBinary>;
  try {
    binary = findRedisBinary();
  } catch (error) {
    throw new GradeError(error instanceof Error ? error.message : String(error));
  }
  if (!binary.path) return 'built by redis-memory-server (no redis-server on PATH)';
  const probe = spawnSync(binary.path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const version = probe.stdout?.match(/\bv=(\S+)/)?.[1];
  return `${version ?? 'unknown version'} (${binary.path})`;
}

function environmentOf(grade: GradeFile): Record<string, string> {
  const commit = (git: GitInfo | null) =>
    git ? `${git.commit}${git.dirty ? ' + uncommitted changes' : ''}` : 'not a git checkout';
  return {
    Submission: grade.submission.path,
    'Submission commit': commit(grade.submission.git),
    Specs: `${grade.specs.path} @ ${commit(grade.specs.git)}`,
    'Node.js': grade.environment.node,
    Redis: grade.environment.redis,
    'Graded at': grade.gradedAt,
  };
}

function scoreVariables(grade: GradeFile): Record<string, string> {
  const line = (score: { points: number; possible: number; passed: number; total: number }) =>
    `${score.points} / ${score.possible} points · ${score.passed} / ${score.total} tasks`;
  return {
    Score: `${line(grade.score)} (${grade.score.percent}%)`,
    ...Object.fromEntries(grade.lessons.map((lesson) => [lesson.id, line(lesson)])),
  };
}

function printSummary(grade: GradeFile, out: Outputs): void {
  const rows = grade.lessons.map((lesson) => [
    lesson.id,
    `${lesson.points} / ${lesson.possible}`,
    `${lesson.passed} / ${lesson.total}`,
    lesson.source,
  ]);
  const total = [
    'Total',
    `${grade.score.points} / ${grade.score.possible}`,
    `${grade.score.passed} / ${grade.score.total}`,
    `${grade.score.percent}%`,
  ];
  const header = ['Lesson', 'Points', 'Tasks passed', 'Graded code'];
  const widths = header.map((_, column) =>
    Math.max(...[header, ...rows, total].map((row) => (row[column] ?? '').length)),
  );
  const format = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 1 || column === 2 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join('   ')
      .trimEnd();

  console.log(`\n${format(header)}`);
  for (const row of rows) console.log(format(row));
  console.log('-'.repeat(format(total).length));
  console.log(format(total));

  const lost = grade.lessons.flatMap((lesson) => lesson.tasks).filter((task) => task.status !== 'passed');
  if (lost.length) {
    const names = new Map<string, string>(categories.map((category) => [category.id, category.name]));
    const counts = new Map<string, number>();
    for (const task of lost) {
      const cause = names.get(task.cause ?? '') ?? task.cause ?? 'other';
      counts.set(cause, (counts.get(cause) ?? 0) + 1);
    }
    console.log(`\nNot passed: ${[...counts].map(([cause, count]) => `${count} ${cause}`).join(', ')}`);
  }
  for (const warning of grade.warnings) console.log(`Warning: ${warning}`);
  if (grade.report)
    console.log(`\nReport:  ${shown(grade.report)}  (open it in any browser; it works offline)`);
  console.log(`Grades:  ${shown(out.grade)}`);
}

/** A path as the caller typed it would be: relative to where `npm run grade` was started. */
function shown(path: string): string {
  const rel = relative(callerDir(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function packageName(): string {
  return (JSON.parse(readFileSync(join(COURSE_ROOT, 'package.json'), 'utf8')) as { name: string }).name;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof GradeError) {
    console.error(`grade: ${error.message}`);
  } else {
    console.error('grade: internal error (a bug in kit/grade):', error);
  }
  process.exitCode = 2;
});
