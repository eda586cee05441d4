/**
 * The instructor's grading tool (`npm run grade`), checked on every `npm run verify`.
 *
 * Each grade runs the real tool as a child process, on lesson 01 only (no Redis, no server processes:
 * about 2–3 s a grade), into a temporary output folder. The four grades run side by side in beforeAll.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { filesAt, pristineRef } from '../course/pristine';
import type { GradeFile } from './grade';
import { remoteReferences } from './report';
import { COURSE_ROOT } from './workspace';

const LESSON = '01-sticky-problem';
const GRADER = join(__dirname, 'grade.ts');
/** The grader gives up on its own first; the kill is the last resort. */
const GRADER_TIMEOUT_S = 60;
const KILL_AFTER_MS = 75_000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runGrader(args: string[]): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', GRADER, '--lessons', '01', '--timeout', String(GRADER_TIMEOUT_S), ...args],
      { cwd: COURSE_ROOT, env: { ...process.env, INIT_CWD: COURSE_ROOT }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'course-grade-spec-'));
const out = (name: string) => join(scratch, 'out', name);
const readGrade = (name: string) =>
  JSON.parse(readFileSync(join(out(name), 'grade.json'), 'utf8')) as GradeFile;

/**
 * A learner's copy: lesson 01 as the course shipped it (from git, never this checkout's lessons/,
 * which may hold a learner's work), then `change` applied.
 */
function submission(name: string, change: (lessonDir: string) => void = () => {}): string {
  const dir = join(scratch, name);
  const ref = pristineRef(COURSE_ROOT);
  if (!ref) throw new Error('the grading specs need the course as a git checkout (its pristine starters)');
  for (const [path, text] of filesAt(COURSE_ROOT, ref, `lessons/${LESSON}`)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  change(join(dir, 'lessons', LESSON));
  return dir;
}

const runs: Record<string, Outcome> = {};

beforeAll(async () => {
  const cheat = submission('cheat', (lesson) => {
    for (const spec of readdirSync(join(lesson, 'specs'))) rmSync(join(lesson, 'specs', spec));
    writeFileSync(join(lesson, 'specs', 'sticky-sessions.spec.ts'), "test('x', () => {});\n");
  });
  const broken = submission('broken', (lesson) => {
    writeFileSync(join(lesson, 'src', 'app.ts'), 'export const createApp = ;\n');
  });
  const starters = submission('starters');
  const grades = {
    solutions: ['--solutions', '--out', out('solutions')],
    starters: ['--submission', starters, '--no-report', '--out', out('starters')],
    cheat: ['--submission', cheat, '--no-report', '--out', out('cheat')],
    broken: ['--submission', broken, '--no-report', '--out', out('broken')],
  };
  await Promise.all(
    Object.entries(grades).map(async ([name, args]) => {
      runs[name] = await runGrader(args);
    }),
  );
}, KILL_AFTER_MS + 5_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function graded(name: string): GradeFile {
  const run = runs[name];
  expect({ name, code: run?.code, stderr: run?.stderr }).toEqual({ name, code: 0, stderr: '' });
  return readGrade(name);
}

const tasksOf = (grade: GradeFile) => grade.lessons.flatMap((lesson) => lesson.tasks);

describe('grading', () => {
  test('the reference solutions get full marks', () => {
    const grade = graded('solutions');

    expect(grade.lessons.map((lesson) => lesson.id)).toEqual([LESSON]);
    expect(grade.score.possible).toBeGreaterThan(0);
    expect(grade.score).toMatchObject({ points: grade.score.possible, percent: 100 });
    expect(tasksOf(grade).filter((task) => task.status !== 'passed')).toEqual([]);
    expect(runs.solutions?.stdout).toMatch(/Total\s+(\d+) \/ \1\s+(\d+) \/ \2\s+100%/);
  });

  test('the untouched starters get zero, every task "not implemented yet"', () => {
    const grade = graded('starters');
    const full = graded('solutions');

    expect(grade.score).toMatchObject({ points: 0, possible: full.score.possible, total: full.score.total });
    expect(new Set(tasksOf(grade).map((task) => task.cause))).toEqual(new Set(['not-implemented']));
  });

  test('specs edited in the submission to pass trivially are ignored: the pristine specs grade it', () => {
    const grade = graded('cheat');
    const full = graded('solutions');

    expect(grade.score).toMatchObject({ points: 0, possible: full.score.possible, total: full.score.total });
    expect(tasksOf(grade).map((task) => task.title)).toEqual(tasksOf(full).map((task) => task.title));
  });

  test('code that breaks the spec file still loses every task of it, with the reason', () => {
    const grade = graded('broken');
    const full = graded('solutions');

    expect(grade.score).toMatchObject({ points: 0, possible: full.score.possible, total: full.score.total });
    for (const task of tasksOf(grade)) {
      expect(task).toMatchObject({ status: 'not run', cause: 'does-not-load' });
      expect(task.message).toMatch(/lessons\/01-sticky-problem\/src\/app\.ts/);
    }
  });
});

describe('what an instructor gets', () => {
  test('grade.json has, per task, title, points, status, failure message, step and hint', () => {
    const grade = graded('starters');
    const task = tasksOf(grade)[0];

    expect(task).toEqual(
      expect.objectContaining({
        title: expect.any(String),
        points: expect.any(Number),
        earned: 0,
        status: 'failed',
        message: expect.stringMatching(/^Not implemented yet \(lesson 01-sticky-problem\)/),
        step: expect.stringMatching(/^Step \d/),
        hint: expect.any(String),
      }),
    );
    expect(task?.message).not.toContain('Hint:');
    expect(grade.submission).toMatchObject({ kind: 'submission', path: join(scratch, 'starters') });
    expect(grade.environment).toEqual({ node: process.version, redis: 'not used' });
  });

  test('the report is one HTML file that opens offline, with every task labelled and the environment', () => {
    const report = join(out('solutions'), 'allure-report', 'index.html');
    const results = join(out('solutions'), 'allure-results');
    const html = readFileSync(report, 'utf8');
    const labelled = readdirSync(results)
      .filter((file) => file.endsWith('-result.json'))
      .map((file) => JSON.parse(readFileSync(join(results, file), 'utf8')) as { labels: { name: string }[] })
      .filter((result) => result.labels.some((label) => label.name === 'points'));

    expect(graded('solutions').report).toBe(report);
    expect(remoteReferences(html)).toEqual([]);
    expect(html).not.toContain('googletagmanager');
    expect(labelled).toHaveLength(graded('solutions').score.total);
    expect(readFileSync(join(results, 'environment.properties'), 'utf8')).toMatch(/^Node.js=v\d+/m);
  });

  test('a --no-report grade writes no report', () => {
    expect(existsSync(join(out('starters'), 'allure-report'))).toBe(false);
  });
});

describe('refusing what cannot be graded', () => {
  test('a missing --submission path fails fast with one line, no stack trace', async () => {
    const run = await runGrader(['--submission', join(scratch, 'no-such-dir'), '--out', out('missing')]);

    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/^grade: --submission .*no-such-dir: no such file or directory$/);
  });

  test('a folder that is not a course checkout is refused with one line', async () => {
    const notCourse = join(scratch, 'not-a-course');
    mkdirSync(join(notCourse, 'lessons', 'notes'), { recursive: true });
    const run = await runGrader(['--submission', notCourse, '--out', out('not-course')]);

    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/not a course checkout/)]);
    expect(existsSync(join(out('not-course'), 'grade.json'))).toBe(false);
  });
});
