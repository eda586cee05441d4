/**
 * Runs this course's Jest inside a grading tree (kit/grade/workspace.ts) and reads what it reports:
 * Jest's own JSON (--json --outputFile) for the outcome of each test, and the task catalog the spec
 * helper writes (COURSE_GRADE_CATALOG, kit/spec/task.ts) for the points, step and hint of each task.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface JestAssertion {
  ancestorTitles: string[];
  title: string;
  fullName: string;
  status: 'passed' | 'failed' | 'pending' | 'todo' | 'skipped' | 'disabled' | 'focused';
  failureMessages: string[];
  duration?: number | null;
}

export interface JestFileResult {
  /** Absolute path of the spec file. */
  name: string;
  message: string;
  assertionResults: JestAssertion[];
}

export interface JestReport {
  numTotalTests: number;
  testResults: JestFileResult[];
}

/** A task as the spec helper declared it. `file` is relative to the tree it was declared in. */
export interface CatalogTask {
  lesson: string;
  file: string;
  topic: string;
  title: string;
  points: number;
  step: string;
  hint: string;
  severity: string;
}

export interface RunOptions {
  tree: string;
  /** Which spec files to run: a regex on absolute paths. */
  testPathPattern: string;
  /** Extra environment (COURSE_ALLURE, ALLURE_RESULTS_DIR, COURSE_TARGET…). */
  env: Record<string, string>;
  /** Jest's console output goes here. */
  logFile: string;
  timeoutMs: number;
  /** Only list the tests (a pattern no test name matches: nothing runs, every task is declared). */
  listOnly?: boolean;
}

export interface RunResult {
  report?: JestReport;
  catalog: CatalogTask[];
  exitCode: number | null;
  timedOut: boolean;
}

const JEST = require.resolve('jest/bin/jest');

export async function runJest(options: RunOptions): Promise<RunResult> {
  const work = join(options.tree, '.grade', options.listOnly ? 'list' : 'run');
  const catalogDir = join(work, 'catalog');
  mkdirSync(catalogDir, { recursive: true });
  const jsonFile = join(work, 'jest.json');

  const args = [
    JEST,
    '--config',
    join(options.tree, 'jest.config.ts'),
    '--ci',
    '--json',
    // Jest's own account goes to grade.log (the course reporter is for learners).
    '--reporters=default',
    `--outputFile=${jsonFile}`,
    '--testPathPatterns',
    options.testPathPattern,
    // A learner's code may leave a timer or socket open; the grade must not hang on it. The specs'
    // own afterAll hooks still stop the servers and processes they started.
    '--forceExit',
    // Each tree is new: a shared cache would only pile up transforms of files that never recur.
    `--cacheDirectory=${join(work, 'cache')}`,
    ...(options.listOnly ? ['--testNamePattern', '(?!)'] : []),
  ];
  const log = openSync(options.logFile, 'a');
  try {
    const { exitCode, timedOut } = await spawnBounded(args, {
      cwd: options.tree,
      env: { ...cleanEnv(), ...options.env, COURSE_GRADE_CATALOG: catalogDir },
      log,
      timeoutMs: options.timeoutMs,
    });
    return {
      report: existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as JestReport) : undefined,
      catalog: readCatalog(catalogDir, options.tree),
      exitCode,
      timedOut,
    };
  } finally {
    closeSync(log);
  }
}

/** The grader's environment minus anything a surrounding course run set (COURSE_TARGET=solutions…). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
  for (const key of Object.keys(env)) {
    if (/^(COURSE_|ALLURE_|JEST_)/.test(key)) delete env[key];
  }
  return env;
}

/** Runs node with `args` in its own process group, so a timeout can stop Jest and all it spawned. */
function spawnBounded(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; log: number; timeoutMs: number },
): Promise<{ exitCode: number | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', options.log, options.log],
      detached: true,
    });
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    // Ctrl-C on the grader stops the run it started.
    const interrupt = () => {
      killGroup();
      process.exit(130);
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
      resolve({ exitCode: code, timedOut });
    });
  });
}

function readCatalog(dir: string, tree: string): CatalogTask[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.jsonl'))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as CatalogTask)
    .map((task) => ({ ...task, file: relative(tree, task.file) }));
}

/** Regex for --testPathPatterns: exactly these spec files (relative to the tree). */
export function filesPattern(tree: string, files: string[]): string {
  return `^(${files.map((file) => escapeRegExp(join(tree, file))).join('|')})$`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
