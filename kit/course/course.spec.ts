/**
 * The learner's tools, checked on every `npm run verify`: the course reporter after `npm test` and
 * every `npm run course` command, each run as a real process on a scratch copy of the course (its
 * lessons as git ships them, never this checkout's lessons/, which may hold a learner's work).
 * Lesson 01 only: no Redis, no server processes, about a second a run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { buildTreeFromFiles, COURSE_ROOT, type Tree } from '../grade/workspace';
import { filesAt, pristineRef } from './pristine';
import { filesWithStepsDone, solutionFiles } from './steps';

const LESSON = '01-sticky-problem';
const JEST = join('node_modules', 'jest', 'bin', 'jest.js');
const CLI = join('kit', 'course', 'cli.ts');
const BOUND_MS = 30_000;
// Each test runs the real CLI (or Jest) as a process, several times: more than Jest's default 5 s.
jest.setTimeout(2 * BOUND_MS);

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

let tree: Tree;
const outputs: Record<'fresh' | 'half' | 'done', Outcome> = {} as never;

/** A process in the scratch course, with none of the surrounding run's COURSE_ settings. */
function start(args: string[], input?: string): { child: ChildProcess; done: Promise<Outcome> } {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' };
  for (const key of Object.keys(env)) if (/^(COURSE_|JEST_)/.test(key)) delete env[key];
  const child = spawn(process.execPath, args, { cwd: tree.dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  child.stdin?.end(input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
  const done = new Promise<Outcome>((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

const run = (args: string[]) => start(args).done;
const course = (...args: string[]) => run(['--import', 'tsx', CLI, ...args]);
const testLesson = () => run([JEST, 'lessons/01']);

function writeSrc(files: Map<string, string>): void {
  const src = join(tree.dir, 'lessons', LESSON, 'src');
  rmSync(src, { recursive: true, force: true });
  for (const [path, text] of files) {
    mkdirSync(dirname(join(tree.dir, 'lessons', LESSON, path)), { recursive: true });
    writeFileSync(join(tree.dir, 'lessons', LESSON, path), text);
  }
}

const appFile = () => join(tree.dir, 'lessons', LESSON, 'src', 'app.ts');

beforeAll(async () => {
  const ref = pristineRef(COURSE_ROOT);
  if (!ref) throw new Error('these specs need the course as a git checkout (its pristine starters)');
  const starters: Record<string, Map<string, string>> = {};
  for (const [path, text] of filesAt(COURSE_ROOT, ref, 'lessons')) {
    const match = /^lessons\/([^/]+)\/(src\/.+)$/.exec(path);
    if (!match?.[1] || !match[2]) continue;
    starters[match[1]] ??= new Map();
    starters[match[1]]?.set(match[2], text);
  }
  tree = buildTreeFromFiles(starters);
  // A clone of its own, so that `reset` has a pristine starter to take back.
  for (const args of [
    ['init', '-q'],
    ['add', '-A'],
    ['-c', 'user.name=spec', '-c', 'user.email=spec@x', 'commit', '-qm', 'course'],
  ]) {
    await run([
      '-e',
      `require('child_process').execFileSync('git', ${JSON.stringify(args)}, { stdio: 'ignore' })`,
    ]);
  }

  outputs.fresh = await testLesson();
  writeSrc(filesWithStepsDone(COURSE_ROOT, LESSON, 1));
  outputs.half = await testLesson();
  writeSrc(solutionFiles(COURSE_ROOT, LESSON));
  outputs.done = await testLesson();
}, 4 * BOUND_MS);

afterAll(() => tree?.remove());

const lines = (text: string) => text.trimEnd().split('\n');

describe('after npm test lessons/01 (the course reporter)', () => {
  test('on the fresh starter: a line per step, one Next part, and the whole output fits in 30 lines', () => {
    const { stdout, stderr } = outputs.fresh;

    expect(lines(stdout).length + lines(stderr).filter(Boolean).length).toBeLessThanOrEqual(30);
    expect(stdout).toMatch(/Lesson 01 — .* · 0 of \d+ points · 0 of \d+ tasks/);
    expect(stdout).toMatch(/○ Step 1 — .*not started/);
    expect(stdout).toMatch(/○ Step 2 — .*not started/);
    expect(stdout).toMatch(/^Next: Step 1 — /m);
    expect(stdout).toContain(`open   lessons/${LESSON}/src/`);
    expect(stdout).toContain(`read   lessons/${LESSON}/README.md → Step 1`);
    expect(stdout).toContain('npm run course -- hint 01 1');
    expect(stdout).toContain('--reporters=default');
    // Repeated "not implemented yet" failures collapse into one Next part, with a count.
    expect(stdout.match(/Not implemented yet/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(stdout).toMatch(/\d+ more failing tasks/);
  });

  test('with Step 1 done: Step 1 is done, and Next names Step 2', () => {
    const { stdout } = outputs.half;

    expect(stdout).toMatch(/✓ Step 1 — .*done/);
    expect(stdout).toMatch(/^Next: Step 2 — /m);
    expect(stdout).toContain('npm run course -- hint 01 2');
  });

  test('with the lesson done: every step done, full points, and Next is lesson 02', () => {
    const { stdout, code } = outputs.done;
    const score = /· (\d+) of (\d+) points · (\d+) of (\d+) tasks/.exec(stdout);

    expect(code).toBe(0);
    expect(score?.[1]).toBe(score?.[2]);
    expect(score?.[3]).toBe(score?.[4]);
    expect(stdout).not.toMatch(/not started|partly/);
    expect(stdout).toMatch(/Lesson done\. Next: Lesson 02/);
  });
});

describe('npm run course', () => {
  test('progress: lesson 01 done, the others not run yet', async () => {
    const { stdout, code } = await course('progress');

    expect(code).toBe(0);
    expect(stdout).toMatch(/^Lesson 01 .*\bdone\b\s+(\d+)\/\1\s+(\d+)\/\2/m);
    expect(stdout).toMatch(/^Lesson 02 .*not run yet/m);
    expect(stdout).toMatch(/1 of \d+ lessons done/);
  });

  test('next: the first lesson not done', async () => {
    const { stdout, code } = await course('next');

    expect(code).toBe(0);
    expect(stdout).toMatch(/^Next: Lesson 02 .*README\.md, then: npm test lessons\/02/m);
  });

  test('hint: one level per call, remembered; --all shows every level', async () => {
    const first = await course('hint', '01', '1');
    const second = await course('hint', '01', '1');
    const all = await course('hint', '1', '1', '--all');

    expect(first.stdout).toMatch(/hint level 1 of 3/);
    expect(first.stdout).toContain('npm run course -- hint 01 1   (level 2 of 3)');
    expect(second.stdout).toMatch(/hint level 2 of 3/);
    expect(all.stdout.match(/hint level \d of 3/g)).toEqual([
      'hint level 1 of 3',
      'hint level 2 of 3',
      'hint level 3 of 3',
    ]);
  });

  test('every command has --help', async () => {
    for (const command of ['progress', 'next', 'hint', 'watch', 'reset', 'solution']) {
      const { stdout, code } = await course(command, '--help');
      expect({ command, code, usage: stdout.split('\n')[0] }).toEqual({
        command,
        code: 0,
        usage: expect.stringContaining(`npm run course -- ${command}`),
      });
    }
  });

  test('a bad command or lesson: one line naming the valid ones, exit code 2', async () => {
    const badCommand = await course('bogus');
    const badLesson = await course('hint', '42');

    expect(badCommand.code).toBe(2);
    expect(lines(badCommand.stderr)).toEqual([
      expect.stringMatching(/unknown command "bogus" \(commands: progress, next, hint/),
    ]);
    expect(badLesson.code).toBe(2);
    expect(lines(badLesson.stderr)).toEqual([
      expect.stringMatching(/no lesson "42" \(lessons: 01-sticky-problem, /),
    ]);
  });

  test('solution: one line warning it shows the answer, then a diff against your files', async () => {
    const starter = filesWithStepsDone(COURSE_ROOT, LESSON, 0).get('src/app.ts') ?? '';
    writeFileSync(appFile(), starter);

    const { stdout, code } = await course('solution', '01');

    expect(code).toBe(0);
    expect(lines(stdout)[0]).toMatch(/shows the answer/);
    expect(stdout).toContain(`--- lessons/${LESSON}/src/app.ts (yours)`);
    expect(stdout).toContain(`+++ solutions/${LESSON}/src/app.ts`);
    expect(stdout).toMatch(/^-.*todo\(/m);
  });

  test('reset: asks first; with --yes it backs your files up, then puts the starter back', async () => {
    writeFileSync(appFile(), '// my own attempt\n');

    const refused = await course('reset', '01');
    const untouched = readFileSync(appFile(), 'utf8');
    const { stdout, code } = await course('reset', '01', '--yes');
    const backups = readdirSync(join(tree.dir, '.course', 'backups'));

    expect(refused.code).toBe(1);
    expect(untouched).toBe('// my own attempt\n');
    expect(code).toBe(0);
    expect(stdout).toMatch(/the starter is back/);
    expect(readFileSync(appFile(), 'utf8')).toContain('todo(');
    expect(backups).toHaveLength(1);
    expect(
      readFileSync(join(tree.dir, '.course', 'backups', backups[0] ?? '', 'src', 'app.ts'), 'utf8'),
    ).toBe('// my own attempt\n');
  });

  test('watch: a run at once, another on each save; Ctrl-C stops it and every process it started', async () => {
    const watching = start(['--import', 'tsx', CLI, 'watch', '01']);
    let text = '';
    watching.child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk;
    });
    const runsEnded = () => text.match(/waiting for a change/g)?.length ?? 0;

    await until(() => runsEnded() >= 1);
    writeFileSync(appFile(), `${readFileSync(appFile(), 'utf8')}\n// saved again\n`);
    await until(() => runsEnded() >= 2);
    watching.child.kill('SIGINT');
    const { code } = await watching.done;

    expect(text.match(/^Lesson 01 — /gm)).toHaveLength(2);
    expect(text).toMatch(/lessons\/01-sticky-problem\/src\/app\.ts changed/);
    expect(text).toMatch(/stopped watching/);
    expect(code).toBe(0);
    expect(processesIn(tree.dir)).toEqual([]);
  });
});

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${BOUND_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Processes running in `dir` (a Jest, a worker or a server the watch left behind). */
function processesIn(dir: string): string[] {
  if (!existsSync('/proc')) return [];
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        if (readlinkSync(`/proc/${pid}/cwd`) !== dir) return [];
        return [`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`];
      } catch {
        return [];
      }
    });
}
