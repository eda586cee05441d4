/**
 * `npm run verify` — the one command that proves the course is sound (and what CI runs):
 *
 *   1. everything type-checks (tsc --noEmit) and lints (biome check);
 *   2. every spec passes against the reference solutions, and the kit's own specs pass;
 *   3. steps unlock in order: with README Steps 1..N of a lesson done (N = 0: the untouched starter),
 *      exactly the tasks of Steps ≤ N pass, and every other task fails with the message that names
 *      Step N+1 (kit/course/steps.ts builds each "Steps 1..N done" from the starter and the solution);
 *   4. every wrong solution the course keeps (solutions/NN/mistakes/*.md) fails at least one task of
 *      its lesson: a spec that a wrong solution passes would grade it as right.
 *
 * Steps and mistakes run the way a grade does: in a scratch copy of the course whose lessons/NN/src
 * holds that code (kit/grade/workspace.ts), only the spec files the changed code can reach, several
 * runs side by side; a mistake's run stops at its first failing task.
 *
 *   npm run verify                      everything (CI)
 *   npm run verify -- --quick           1 and 2 and the starters (N = 0): a fast local loop
 *   npm run verify -- --lesson 04       one lesson (repeatable), no kit specs
 *   npm run verify -- --jobs 3          Jest runs side by side (default 2)
 *   npm run verify -- --show-mistakes   which task caught each mistake
 *   npm run verify -- --skip-tools      no tsc and biome (while you work on one lesson)
 *
 * It prints a table per lesson and ends with one plain line, `N passed, M failed`.
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
import { dirname, join, relative } from 'node:path';
import { hintProblems } from '../course/hints';
import { applyMistake, lessonMistakes, type Mistake } from '../course/mistakes';
import { filesWithStepsDone, type LessonFiles, solutionFiles, starterSteps } from '../course/steps';
import { stepNumber } from '../course/unfinished';
import { courseLessons } from '../grade/workspace';
import { ROOT } from '../jest/target';
import { type Reach, specsReaching } from './affected';
import { inPool, type JestRun, runJest, type TestEvent } from './runs';
import { TreePool } from './trees';

const RUN_TIMEOUT_MS = 4 * 60_000;
const trees = new TreePool();

interface Options {
  quick: boolean;
  lessons: string[];
  jobs: number;
  showMistakes: boolean;
  skipTools: boolean;
}

interface Check {
  group: string;
  kind: 'tool' | 'data' | 'solution' | 'kit' | 'starter' | 'step' | 'mistake' | 'jest';
  name: string;
  ok: boolean;
  detail?: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { quick: false, lessons: [], jobs: 2, showMistakes: false, skipTools: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--show-mistakes') options.showMistakes = true;
    else if (arg === '--skip-tools') options.skipTools = true;
    else if (arg === '--lesson' || arg === '--lessons') options.lessons.push(...(argv[++i] ?? '').split(','));
    else if (arg === '--jobs') options.jobs = Math.max(1, Number(argv[++i]) || 1);
    else {
      console.error(
        `verify: unknown option ${arg} (options: --quick, --lesson ID, --jobs N, --show-mistakes)`,
      );
      process.exit(2);
    }
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const all = courseLessons(ROOT).map((lesson) => lesson.id);
  const lessons = options.lessons.length
    ? options.lessons.map((wanted) => {
        const id = all.find(
          (lesson) => lesson === wanted || lesson.startsWith(`${wanted.padStart(2, '0')}-`),
        );
        if (!id) {
          console.error(`verify: no lesson ${wanted} (lessons: ${all.join(', ')})`);
          process.exit(2);
        }
        return id;
      })
    : all;
  const withKit = options.lessons.length === 0;
  const scratch = mkdtempSync(join(tmpdir(), 'course-verify-'));
  const checks: Check[] = [];
  const started = Date.now();
  try {
    if (!options.skipTools) {
      checks.push(
        ...(await Promise.all([
          tool('typecheck', 'tsc --noEmit', ['node_modules/.bin/tsc', '--noEmit', '-p', '.']),
          tool('lint', 'biome check', ['node_modules/.bin/biome', 'check', '.']),
        ])),
      );
    }
    for (const lesson of lessons) checks.push(...dataChecks(lesson));

    const jobs: Array<() => Promise<Check[]>> = [
      () => solutionsRun(scratch, lessons, withKit),
      () => startersRun(scratch, lessons),
    ];
    if (!options.quick) {
      for (const lesson of lessons) {
        const steps = starterSteps(ROOT, lesson);
        for (const done of steps.slice(0, -1)) jobs.push(() => stepRun(scratch, lesson, done, steps));
        for (const mistake of lessonMistakes(ROOT, lesson)) {
          jobs.push(() => mistakeRun(scratch, mistake, options.showMistakes));
        }
      }
    }
    console.log(`• ${jobs.length} Jest runs, ${options.jobs} at a time …`);
    for (const result of await inPool(jobs, options.jobs)) checks.push(...result);
    saveCaughtBy();
  } finally {
    trees.removeAll();
    rmSync(scratch, { recursive: true, force: true });
  }
  report(checks, lessons, options);
  const failed = checks.filter((check) => !check.ok).length;
  console.log(`verify took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

// ── The runs ─────────────────────────────────────────────────────────────────────────────────────

async function solutionsRun(scratch: string, lessons: string[], withKit: boolean): Promise<Check[]> {
  const catalog = catalogDir(scratch, 'solutions');
  const run = await runJest({
    cwd: ROOT,
    patterns: withKit ? [] : lessons.map((lesson) => `lessons/${lesson}/`),
    env: { COURSE_TARGET: 'solutions', COURSE_KIT: withKit ? '1' : '0', COURSE_GRADE_CATALOG: catalog },
    timeoutMs: RUN_TIMEOUT_MS,
  });
  progress(`solutions and kit specs: ${run.seconds.toFixed(1)} s`);
  const checks = [...runChecks('solutions', run, ROOT), exitCheck('solutions', run)];
  for (const test of run.tests) {
    const group = groupOf(ROOT, test.file);
    checks.push({
      group,
      kind: group === 'kit' ? 'kit' : 'solution',
      name: `${group === 'kit' ? 'kit' : 'solution passes'}: ${test.fullName}`,
      ok: test.status === 'passed',
      detail: test.failureMessages.join('\n'),
    });
  }
  return checks;
}

async function startersRun(scratch: string, lessons: string[]): Promise<Check[]> {
  const catalog = catalogDir(scratch, 'starters');
  const run = await runJest({
    cwd: ROOT,
    patterns: lessons.map((lesson) => `lessons/${lesson}/`),
    env: { COURSE_TARGET: 'lessons', COURSE_GRADE_CATALOG: catalog },
    timeoutMs: RUN_TIMEOUT_MS,
  });
  progress(`untouched starters: ${run.seconds.toFixed(1)} s`);
  const steps = readCatalog(catalog, ROOT);
  const checks = [...runChecks('starters', run, ROOT), exitCheck('starters', run)];
  for (const test of run.tests) {
    const lesson = groupOf(ROOT, test.file);
    const first = starterSteps(ROOT, lesson)[0] ?? 1;
    checks.push(unlockCheck(lesson, 'starter', 0, first, test, steps.get(key(ROOT, test))));
  }
  return checks;
}

/** Steps 1..done of `lesson` done, the rest untouched: exactly the tasks of those steps pass. */
async function stepRun(scratch: string, lesson: string, done: number, steps: number[]): Promise<Check[]> {
  const next = steps.find((step) => step > done) ?? done + 1;
  const files = filesWithStepsDone(ROOT, lesson, done);
  return trees.use(lesson, files, async (dir) => {
    const tree = { dir };
    const catalog = catalogDir(scratch, `${lesson}-step-${done}`);
    const run = await runJest({
      cwd: tree.dir,
      patterns: [`lessons/${lesson}/`],
      env: { COURSE_TARGET: 'lessons', COURSE_GRADE_CATALOG: catalog },
      timeoutMs: RUN_TIMEOUT_MS,
    });
    progress(`${lesson} with Steps 1–${done} done: ${run.seconds.toFixed(1)} s`);
    const stepOf = readCatalog(catalog, tree.dir);
    const checks = runChecks(lesson, run, tree.dir, `Steps 1–${done} done`);
    for (const test of run.tests) {
      checks.push(unlockCheck(lesson, 'step', done, next, test, stepOf.get(key(tree.dir, test))));
    }
    return checks;
  });
}

/** A wrong solution: at least one task of its lesson must fail (and the specs must have run). */
async function mistakeRun(scratch: string, mistake: Mistake, show: boolean): Promise<Check[]> {
  const name = `mistake caught: ${mistake.id} — ${mistake.title}`;
  const check = (ok: boolean, detail?: string): Check[] => [
    { group: mistake.lesson, kind: 'mistake', name, ok, detail },
  ];
  let files: LessonFiles;
  try {
    files = applyMistake(mistake, solutionFiles(ROOT, mistake.lesson));
  } catch (error) {
    return check(false, error instanceof Error ? error.message : String(error));
  }
  const changed = mistake.edits.map((edit) => edit.file);
  const reach = specsReaching(ROOT, mistake.lesson, changed);
  const specs = reach.map((spec) => spec.file);
  if (specs.length === 0)
    return check(false, `no spec file of ${mistake.lesson} reaches ${changed.join(', ')}`);
  const order = cheapestFirst(reach, caughtBefore.get(mistakeKey(mistake)));
  return trees.use(mistake.lesson, files, async (dir) => {
    const run = await runJest({
      cwd: dir,
      patterns: specs.map((spec) => `${escapeRegExp(spec)}$`),
      env: { COURSE_TARGET: 'lessons', COURSE_GRADE_CATALOG: catalogDir(scratch, `mistake-${mistake.id}`) },
      stopAtFirstFailure: true,
      inOrder: order,
      timeoutMs: RUN_TIMEOUT_MS,
    });
    const caughtBy = run.tests.filter((test) => test.status === 'failed');
    if (run.fileErrors.length > 0) {
      return check(
        false,
        `the wrong solution does not load, so it proves nothing:\n${run.fileErrors[0]?.message}`,
      );
    }
    const ok = caughtBy.length > 0;
    const catcher = caughtBy[0]?.file;
    if (catcher) caughtNow.set(mistakeKey(mistake), relative(dir, catcher));
    progress(
      `${mistake.lesson} mistake ${mistake.id}: ${ok ? 'caught' : 'NOT caught'} (${run.seconds.toFixed(1)} s)`,
    );
    if (show && ok) {
      const first = caughtBy[0];
      const message = (first?.failureMessages.join('\n') ?? '').split('\n').find((line) => line.trim()) ?? '';
      console.log(`    caught by: ${first?.fullName}\n      ${message.trim().slice(0, 200)}`);
    }
    return check(
      ok,
      ok
        ? undefined
        : run.timedOut
          ? `its run did not finish within ${RUN_TIMEOUT_MS / 1000} s`
          : `${mistake.why}\nEvery task of ${specs.join(', ')} passed with this mistake in the solution.`,
    );
  });
}

// ── Which spec file to run first ─────────────────────────────────────────────────────────────────

/** Which spec file caught each mistake last time (a cache: it only decides the order of the files). */
const CAUGHT_FILE = join(ROOT, 'node_modules', '.cache', 'course-verify', 'caught-by.json');
const caughtBefore = new Map<string, string>(
  Object.entries(
    existsSync(CAUGHT_FILE) ? (JSON.parse(readFileSync(CAUGHT_FILE, 'utf8')) as Record<string, string>) : {},
  ),
);
const caughtNow = new Map<string, string>();

function mistakeKey(mistake: Mistake): string {
  return `${mistake.lesson}/${mistake.id}`;
}

function saveCaughtBy(): void {
  mkdirSync(dirname(CAUGHT_FILE), { recursive: true });
  writeFileSync(CAUGHT_FILE, JSON.stringify(Object.fromEntries([...caughtBefore, ...caughtNow]), null, 1));
}

/**
 * The spec files in the order to try them: the one that caught this mistake last time; then those
 * that import the changed file themselves (they test it most directly), cheapest first (no server
 * processes, no Redis of their own); then those that only reach it through a server they start.
 */
function cheapestFirst(specs: Reach[], last: string | undefined): string[] {
  const cost = ({ file, via }: Reach) => {
    if (file === last) return 0;
    const text = readFileSync(join(ROOT, file), 'utf8');
    const heavy = /useServerProcesses|usePrivateRedis|useRedis|startSentinelSet/.test(text) ? 1 : 0;
    return (via === 'import' ? 1 : 3) + heavy;
  };
  return [...specs].sort((a, b) => cost(a) - cost(b)).map((spec) => spec.file);
}

/** The course data beside a lesson: hints in three levels for every step, and enough mistakes. */
const MIN_MISTAKES = 10;
function dataChecks(lesson: string): Check[] {
  const hints = hintProblems(ROOT, lesson, starterSteps(ROOT, lesson));
  let mistakes: string[];
  try {
    const count = lessonMistakes(ROOT, lesson).length;
    mistakes =
      count >= MIN_MISTAKES
        ? []
        : [`solutions/${lesson}/mistakes/ holds ${count} mistakes, fewer than ${MIN_MISTAKES}`];
  } catch (error) {
    mistakes = [error instanceof Error ? error.message : String(error)];
  }
  return [
    {
      group: lesson,
      kind: 'data',
      name: `${lesson}: hints in three levels for every step`,
      ok: hints.length === 0,
      detail: hints.join('\n'),
    },
    {
      group: lesson,
      kind: 'data',
      name: `${lesson}: at least ${MIN_MISTAKES} mistakes, each one that parses`,
      ok: mistakes.length === 0,
      detail: mistakes.join('\n'),
    },
  ];
}

// ── Checks ───────────────────────────────────────────────────────────────────────────────────────

/** A run that could not start, or a spec file that did not load, is a breach whatever else it says. */
function runChecks(group: string, run: JestRun, root: string, label = group): Check[] {
  const checks: Check[] = run.fileErrors.map((error) => ({
    group: groupOf(root, error.file),
    kind: 'jest',
    name: `${relative(root, error.file)} (${label}): the spec file loads`,
    ok: false,
    detail: error.message,
  }));
  if (!run.completed && !run.leftOpen) {
    checks.push({
      group,
      kind: 'jest',
      name: `Jest run (${label}) finishes`,
      ok: false,
      detail: run.timedOut
        ? `did not finish within ${RUN_TIMEOUT_MS / 1000} s`
        : `exit code ${run.exitCode}:\n${run.outputTail}`,
    });
  }
  return checks;
}

function exitCheck(label: string, run: JestRun): Check {
  return {
    group: 'jest',
    kind: 'jest',
    name: `Jest exits by itself after the run against ${label} (nothing left open)`,
    ok: run.completed && !run.leftOpen,
    detail: run.leftOpen
      ? 'Jest did not exit one second after the test run: run it with --detectOpenHandles.'
      : undefined,
  };
}

/**
 * With Steps 1..done done: a task of a step ≤ done must pass; any other must fail, and its message
 * must name Step `next` (the step to do now), whatever step the task itself checks.
 */
function unlockCheck(
  lesson: string,
  kind: 'starter' | 'step',
  done: number,
  next: number,
  test: TestEvent,
  step: number | undefined,
): Check {
  const where = done === 0 ? 'untouched starter' : `Steps 1–${done} done`;
  const name = `${where}: ${test.fullName}`;
  if (step === undefined) return { group: lesson, kind, name, ok: false, detail: 'not declared with task()' };
  const message = test.failureMessages.join('\n');
  if (step <= done) {
    return {
      group: lesson,
      kind,
      name,
      ok: test.status === 'passed',
      detail: `a Step ${step} task must pass once Steps 1–${done} are done; it ${test.status}:\n${message.slice(0, 1500)}`,
    };
  }
  const names =
    message.includes('Not implemented yet (lesson') && message.includes(`do README Step ${next} `);
  return {
    group: lesson,
    kind,
    name,
    ok: test.status === 'failed' && names,
    detail:
      test.status === 'failed'
        ? `a Step ${step} task must fail naming Step ${next}, the step to do now; it said:\n${message.slice(0, 1500)}`
        : `a Step ${step} task ${test.status} with only Steps 1–${done} done: it does not check Step ${step}`,
  };
}

// ── Catalog: each task's step, as the spec helper declared it ─────────────────────────────────────

function catalogDir(scratch: string, name: string): string {
  return mkdtempSync(join(scratch, `${name}-`));
}

function key(root: string, test: { file: string; fullName: string }): string {
  return `${relative(root, test.file)}\n${test.fullName}`;
}

function readCatalog(dir: string, root: string): Map<string, number | undefined> {
  const steps = new Map<string, number | undefined>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean)) {
      const task = JSON.parse(line) as { file: string; topic: string; title: string; step: string };
      const fullName = task.topic ? `${task.topic} ${task.title}` : task.title;
      steps.set(key(root, { file: task.file, fullName }), stepNumber(task.step));
    }
  }
  return steps;
}

// ── Output ───────────────────────────────────────────────────────────────────────────────────────

function groupOf(root: string, file: string): string {
  return relative(root, file).match(/^lessons\/([^/]+)\//)?.[1] ?? 'kit';
}

function progress(line: string): void {
  console.log(`  ${line}`);
}

function report(checks: Check[], lessons: string[], options: Options): void {
  const header = [
    'lesson',
    'tests',
    'solution passes',
    'starter fails clearly',
    'steps unlock',
    'mistakes caught',
  ];
  const rows = lessons.map((lesson) => {
    const mine = (kind: Check['kind']) =>
      checks.filter((check) => check.group === lesson && check.kind === kind);
    const cell = (list: Check[]) => (list.length ? `${list.filter((c) => c.ok).length}/${list.length}` : '—');
    const solution = mine('solution');
    const steps = options.quick ? '(skipped)' : cell(mine('step'));
    const mistakes = options.quick ? '(skipped)' : cell(mine('mistake'));
    const data = mine('data').every((check) => check.ok) ? 'ok' : 'BROKEN';
    return [lesson, String(solution.length), cell(solution), cell(mine('starter')), steps, mistakes, data];
  });
  const kit = checks.filter((check) => check.kind === 'kit');
  if (kit.length)
    rows.push([
      'kit (harness, grading)',
      String(kit.length),
      `${kit.filter((c) => c.ok).length}/${kit.length}`,
      '',
      '',
      '',
    ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ');
  console.log(`\n${line(header)}`);
  for (const row of rows) console.log(line(row));

  const broken = checks.filter((check) => !check.ok);
  if (broken.length) {
    console.log('\nBreaches:');
    for (const check of broken) {
      console.log(`✗ [${check.group}] ${check.name}`);
      if (check.detail) console.log(check.detail.slice(0, 2000).replace(/^/gm, '    '));
    }
  }
  console.log('');
}

/** Runs a command; its output is shown only when it fails. */
async function tool(group: string, name: string, argv: string[]): Promise<Check> {
  const [command, ...args] = argv;
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(command ?? '', args, { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.on('close', (code) => resolve({ code, output }));
  });
  console.log(`• ${name} … ${code === 0 ? 'ok' : 'FAILED'}`);
  if (code !== 0) console.log(output);
  return { group, kind: 'tool', name, ok: code === 0, detail: code === 0 ? undefined : output.slice(-2000) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

void main();
