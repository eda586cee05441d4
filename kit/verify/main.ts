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
 * runs side by side; a mistake's run stops at its first failing task. 1 runs beside 2, and 3 and 4 run
 * as one batch, costliest first (what each took last time, node_modules/.cache/course-verify), so no
 * core waits while one long run ends a phase alone.
 *
 *   npm run verify                      everything (CI)
 *   npm run verify -- --quick           1 and 2 and the starters (N = 0): a fast local loop
 *   npm run verify -- --lesson 04       one lesson (repeatable), no kit specs
 *   npm run verify -- --jobs 2          spec files side by side in the step and mistake runs (default 6)
 *   npm run verify -- --show-mistakes   which task caught each mistake
 *   npm run verify -- --choose-catchers every task of every spec file each mistake reaches; a failing
 *                                       task of its quickest file kept in caught-by.json once it
 *                                       also fails alone (slow; after specs or mistakes change a lot)
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
import { specsReaching } from './affected';
import { type BatchItem, type BatchOptions, CHUNK, type ItemRun, runBatch } from './batch';
import { Costs } from './costs';
import { type JestRun, runJest, type TestEvent } from './runs';
import { TreePool } from './trees';

const RUN_TIMEOUT_MS = 4 * 60_000;
/** A whole batch of step or mistake runs (many Jest processes, one after another). */
const BATCH_TIMEOUT_MS = 8 * 60_000;
const trees = new TreePool();
/** How long each spec file took on the solutions (relative path → s): a first guess at a run's cost. */
const solutionSeconds = new Map<string, number>();
const costs = new Costs();

interface Options {
  quick: boolean;
  lessons: string[];
  jobs: number;
  showMistakes: boolean;
  chooseCatchers: boolean;
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
  const options: Options = {
    quick: false,
    lessons: [],
    // The step and mistake runs mostly wait on processes they started (a server's start, a bound
    // that must pass, a Sentinel failover): six spec files at a time, in two Jest processes of three
    // workers (kit/verify/batch.ts). The steps and mistakes took 124 s with 4, 100 s with 6 and 91 s
    // with 8 (one `npm run verify -- --jobs N` each, 2-core machine, 2026-12-08, the same code
    // otherwise; 90 s with 6 once the catchers were chosen), but with 8 a lesson 07 server once
    // answered a read past its 1.5 s Redis deadline (a clean-clone CI run, load average about 12):
    // 6 keeps more room for the specs' real bounds.
    jobs: 6,
    showMistakes: false,
    chooseCatchers: false,
    skipTools: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--show-mistakes') options.showMistakes = true;
    else if (arg === '--choose-catchers') options.chooseCatchers = true;
    else if (arg === '--skip-tools') options.skipTools = true;
    else if (arg === '--lesson' || arg === '--lessons') options.lessons.push(...(argv[++i] ?? '').split(','));
    else if (arg === '--jobs') options.jobs = Math.max(1, Number(argv[++i]) || 1);
    else {
      console.error(
        `verify: unknown option ${arg} (options: --quick, --lesson ID, --jobs N, --show-mistakes, --choose-catchers, --skip-tools)`,
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
    // tsc and biome use about one core for a few seconds: beside the spec runs, not before them.
    const tools = options.skipTools
      ? Promise.resolve([])
      : Promise.all([
          tool('typecheck', 'tsc --noEmit', ['node_modules/.bin/tsc', '--noEmit', '-p', '.']),
          tool('lint', 'biome check', ['node_modules/.bin/biome', 'check', '.']),
        ]);
    for (const lesson of lessons) checks.push(...dataChecks(lesson));

    console.log('• the solutions (and the kit), the untouched starters …');
    // Meanwhile, the scratch copies the step and mistake runs will use (two Jest processes' worth).
    const copies = options.quick
      ? Promise.resolve()
      : trees.prepare(Math.min(2 * CHUNK, runsNeeded(lessons)));
    for (const result of await Promise.all([
      solutionsRun(scratch, lessons, withKit),
      startersRun(scratch, lessons),
      tools,
    ]))
      checks.push(...result);
    await copies;
    if (!options.quick) {
      console.log(`• every step and every mistake of every lesson, ${options.jobs} spec files at a time …`);
      // One batch for both: no workers idle while the last long run of one phase ends alone.
      const catalog = catalogDir(scratch, 'steps-and-mistakes');
      const batch = sharedBatch(2, {
        trees,
        scratch,
        workers: options.jobs,
        catalog,
        timeoutMs: BATCH_TIMEOUT_MS,
      });
      const phases = await timedPhase('steps and mistakes', () =>
        Promise.all([stepRuns(lessons, batch, catalog), mistakeRuns(scratch, lessons, options, batch)]),
      );
      checks.push(...phases.flat());
    }
  } finally {
    costs.save();
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
  for (const [file, times] of run.fileTimes)
    if (times.ended !== undefined)
      solutionSeconds.set(relative(ROOT, file), (times.ended - times.started) / 1000);
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
    env: { COURSE_TARGET: 'lessons', COURSE_GRADE_CATALOG: catalog, COURSE_RUN_EVERY_TASK: '1' },
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

/**
 * Steps 1..N of each lesson done, the rest untouched (for every N short of the last): exactly the
 * tasks of Steps ≤ N pass. Every lesson spec file runs, in one batch (kit/verify/batch.ts).
 */
async function stepRuns(lessons: string[], batch: SharedBatch, catalog: string): Promise<Check[]> {
  const items: Array<BatchItem & { done: number; next: number }> = [];
  for (const lesson of lessons) {
    const steps = starterSteps(ROOT, lesson);
    const specs = lessonSpecs(lesson);
    for (const done of steps.slice(0, -1)) {
      const next = steps.find((step) => step > done) ?? done + 1;
      const cost = costs.of(`step ${lesson} ${done}`) ?? guessedCost(specs);
      items.push({ lesson, files: filesWithStepsDone(ROOT, lesson, done), specs, done, next, cost });
    }
  }
  const runs = await batch(items, (item, run) => {
    const { done } = item as (typeof items)[number];
    costs.record(`step ${item.lesson} ${done}`, run.seconds);
    progress(`${item.lesson} with Steps 1–${done} done: ${run.seconds.toFixed(1)} s`);
  });
  const stepOf = readCatalog(catalog, '/');
  return items.flatMap((item, i) => {
    const run = runs[i];
    if (!run) return [];
    const label = `Steps 1–${item.done} done`;
    const checks = itemChecks(item.lesson, run, label);
    for (const test of run.tests) {
      checks.push(unlockCheck(item.lesson, 'step', item.done, item.next, test, stepOf.get(key('/', test))));
    }
    return checks;
  });
}

/**
 * Every wrong solution the course keeps: at least one task of its lesson must fail (and the specs
 * must have loaded). First only the task that caught it last time (solutions/NN/mistakes/
 * caught-by.json: its spec file, every other task of it skipped); a mistake that task no longer
 * catches runs again with every spec file its change can reach, each file ending at its first failing
 * task.
 */
async function mistakeRuns(
  scratch: string,
  lessons: string[],
  options: Options,
  firstRound: SharedBatch,
): Promise<Check[]> {
  const checks: Check[] = [];
  const pending: Array<{ mistake: Mistake; files: LessonFiles; reach: string[] }> = [];
  // (A lesson whose mistakes do not parse has none here: its data check says why. This function must
  // hand its first round to the shared batch whatever happens, or the steps would wait for ever.)
  const parsed = (lesson: string) => {
    try {
      return lessonMistakes(ROOT, lesson);
    } catch {
      return [];
    }
  };
  for (const lesson of lessons) {
    for (const mistake of parsed(lesson)) {
      try {
        const files = applyMistake(mistake, solutionFiles(ROOT, lesson));
        const changed = mistake.edits.map((edit) => edit.file);
        const reach = specsReaching(ROOT, lesson, changed).map((spec) => spec.file);
        if (reach.length === 0)
          checks.push(
            mistakeCheck(mistake, false, `no spec file of ${lesson} reaches ${changed.join(', ')}`),
          );
        else pending.push({ mistake, files, reach });
      } catch (error) {
        checks.push(mistakeCheck(mistake, false, error instanceof Error ? error.message : String(error)));
      }
    }
  }
  const catchers = new Map(lessons.map((lesson) => [lesson, readCatchers(lesson)]));
  const lessonCatchers = (lesson: string) => {
    const known = catchers.get(lesson) ?? {};
    catchers.set(lesson, known);
    return known;
  };
  // First only the task that caught it last time; a mistake it no longer catches gets every task of
  // every spec file its change can reach.
  const hinted = pending.map((entry) => {
    const last = catchers.get(entry.mistake.lesson)?.[entry.mistake.id];
    const spec = last && `lessons/${entry.mistake.lesson}/${last.spec}`;
    return spec && entry.reach.includes(spec) && !options.chooseCatchers
      ? { ...entry, specs: [spec], tasks: [last.task] as string[] | undefined }
      : { ...entry, specs: entry.reach, tasks: undefined };
  });
  // A mistake with no task on record goes straight to the second round (whole files, each ending at
  // its first failure): the first round's shared batch runs its files whole.
  const again: typeof hinted = hinted.filter((entry) => !entry.tasks);
  const verdicts = new Map<Mistake, Check>();
  const judge = async (round: typeof hinted, last: boolean) => {
    const items = round.map((entry) => ({
      lesson: entry.mistake.lesson,
      files: entry.files,
      specs: entry.specs,
      tasks: entry.tasks,
      cost:
        (entry.tasks && costs.of(`mistake ${entry.mistake.lesson} ${entry.mistake.id}`)) ||
        guessedCost(entry.specs),
    }));
    // The second round runs whole spec files: each ends at its first failing task (all of them run
    // when choosing catchers).
    const runs = last
      ? await ownBatch(items, scratch, options, 'mistakes', !options.chooseCatchers)
      : await firstRound(items);
    round.forEach((entry, i) => {
      const run = runs[i];
      if (!run) return;
      const { mistake } = entry;
      const caughtBy = options.chooseCatchers
        ? quickest(
            run.tests.filter((test) => test.status === 'failed'),
            run.fileSeconds,
          )
        : run.tests.find((test) => test.status === 'failed');
      if (entry.tasks) costs.record(`mistake ${mistake.lesson} ${mistake.id}`, run.seconds);
      if (run.fileErrors.length > 0) {
        const message = run.fileErrors[0]?.message ?? '';
        verdicts.set(
          mistake,
          mistakeCheck(mistake, false, `the wrong solution does not load, so it proves nothing:\n${message}`),
        );
      } else if (caughtBy) {
        const lessonDir = join(run.dir, 'lessons', mistake.lesson);
        lessonCatchers(mistake.lesson)[mistake.id] = {
          spec: relative(lessonDir, caughtBy.file),
          task: caughtBy.fullName,
        };
        verdicts.set(mistake, mistakeCheck(mistake, true));
        progress(`${mistake.lesson} mistake ${mistake.id}: caught (${run.seconds.toFixed(1)} s)`);
        if (options.showMistakes) {
          const message =
            caughtBy.failureMessages
              .join('\n')
              .split('\n')
              .find((line) => line.trim()) ?? '';
          console.log(`    caught by: ${caughtBy.fullName}\n      ${message.trim().slice(0, 200)}`);
        }
      } else if (!last && (entry.tasks || entry.specs.length < entry.reach.length)) {
        again.push({ ...entry, specs: entry.reach, tasks: undefined });
      } else {
        progress(`${mistake.lesson} mistake ${mistake.id}: NOT caught (${run.seconds.toFixed(1)} s)`);
        verdicts.set(
          mistake,
          mistakeCheck(
            mistake,
            false,
            !run.finished
              ? `its specs did not finish (${run.timedOut ? `the batch ran out of its ${BATCH_TIMEOUT_MS / 1000} s` : 'Jest stopped'})`
              : `${mistake.why}\nEvery task of ${entry.reach.join(', ')} passed with this mistake in the solution.`,
          ),
        );
      }
    });
  };
  const known = again.length;
  await judge(
    hinted.filter((entry) => entry.tasks),
    false,
  );
  if (again.length) {
    if (again.length > known)
      progress(
        `${again.length - known} mistake(s) not caught where they were last time: every spec file they reach …`,
      );
    await judge(again, true);
  }
  if (options.chooseCatchers) await keepCatchersThatCatchAlone(pending, catchers, scratch, options);
  for (const lesson of lessons) writeCatchers(lesson, catchers.get(lesson) ?? {});
  return [
    ...checks,
    ...pending.map(({ mistake }) => verdicts.get(mistake) ?? mistakeCheck(mistake, false, 'not run')),
  ];
}

/**
 * A task chosen in a whole-file run may fail there only because of the tasks before it (a mistake
 * that keeps state per module shows only when a second task runs), and verify's first try runs it
 * alone. Each chosen task runs alone once: where it passes, the catcher on record stays.
 */
async function keepCatchersThatCatchAlone(
  pending: Array<{ mistake: Mistake; files: LessonFiles }>,
  catchers: Map<string, Record<string, Catcher>>,
  scratch: string,
  options: Options,
): Promise<void> {
  const chosen = pending.flatMap((entry) => {
    const catcher = catchers.get(entry.mistake.lesson)?.[entry.mistake.id];
    return catcher ? [{ ...entry, catcher }] : [];
  });
  progress(`${chosen.length} chosen catchers, each run alone …`);
  const runs = await ownBatch(
    chosen.map(({ mistake, files, catcher }) => ({
      lesson: mistake.lesson,
      files,
      specs: [`lessons/${mistake.lesson}/${catcher.spec}`],
      tasks: [catcher.task],
    })),
    scratch,
    options,
    'catchers',
    true,
  );
  chosen.forEach(({ mistake }, i) => {
    if (runs[i]?.tests.some((test) => test.status === 'failed')) return;
    const known = catchers.get(mistake.lesson) ?? {};
    const before = readCatchers(mistake.lesson)[mistake.id];
    if (before) known[mistake.id] = before;
    else delete known[mistake.id];
    progress(
      `${mistake.lesson} mistake ${mistake.id}: its quickest catcher passes alone; the one on record stays`,
    );
  });
}

/**
 * The failing task likely to be quickest alone (verify's first try at the mistake runs it alone, so a
 * quick one keeps every verify quick): one of the quickest spec file, then the quickest of that file.
 * The file first: a task's own time in a whole-file run leaves out what the file started before it
 * (a Sentinel set, a story of processes), and run alone it waits for that too.
 */
function quickest(failed: TestEvent[], fileSeconds: Map<string, number>): TestEvent | undefined {
  const cost = (test: TestEvent) => [fileSeconds.get(test.file) ?? Infinity, test.duration ?? Infinity];
  return failed.reduce<TestEvent | undefined>((best, test) => {
    if (!best) return test;
    const [file, own] = cost(test);
    const [bestFile, bestOwn] = cost(best);
    return file < bestFile || (file === bestFile && own < bestOwn) ? test : best;
  }, undefined);
}

/** A batch of the mistakes' own, after the one they share with the steps. */
function ownBatch(
  items: BatchItem[],
  scratch: string,
  options: Options,
  catalog: string,
  stopAfterFailure: boolean,
): Promise<ItemRun[]> {
  return runBatch(items, {
    trees,
    scratch,
    workers: options.jobs,
    stopAfterFailure,
    catalog: catalogDir(scratch, catalog),
    timeoutMs: BATCH_TIMEOUT_MS,
  });
}

/** Adds its items to a batch shared with the other phase; resolves with its own items' runs. */
type SharedBatch = (
  items: BatchItem[],
  onItem?: (item: BatchItem, run: ItemRun) => void,
) => Promise<ItemRun[]>;

/**
 * Waits for `parties` callers to hand in their items, then runs them all as one batch. Files run
 * whole: the steps need every task, and the mistakes' first round runs one chosen task a file.
 */
function sharedBatch(
  parties: number,
  options: Omit<BatchOptions, 'stopAfterFailure' | 'onItem'>,
): SharedBatch {
  const parts: Array<{
    items: BatchItem[];
    onItem?: (item: BatchItem, run: ItemRun) => void;
    settle: (runs: ItemRun[] | Error) => void;
  }> = [];
  return (items, onItem) =>
    new Promise((resolve, reject) => {
      parts.push({ items, onItem, settle: (runs) => (runs instanceof Error ? reject(runs) : resolve(runs)) });
      if (parts.length < parties) return;
      const owner = new Map(parts.flatMap((part) => part.items.map((item) => [item, part] as const)));
      runBatch(
        parts.flatMap((part) => part.items),
        { ...options, stopAfterFailure: false, onItem: (item, run) => owner.get(item)?.onItem?.(item, run) },
      ).then(
        (runs) => {
          let start = 0;
          for (const part of parts) {
            part.settle(runs.slice(start, start + part.items.length));
            start += part.items.length;
          }
        },
        (error: unknown) => {
          for (const part of parts) part.settle(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
}

/** How many step and mistake runs the lessons will need (a lesson whose mistakes do not parse: none). */
function runsNeeded(lessons: string[]): number {
  return lessons.reduce((sum, lesson) => {
    let mistakes = 0;
    try {
      mistakes = lessonMistakes(ROOT, lesson).length;
    } catch {
      // its data check says why
    }
    return sum + Math.max(0, starterSteps(ROOT, lesson).length - 1) + mistakes;
  }, 0);
}

/** Without a time from the last verify: what its spec files took on the solutions, all tasks. */
function guessedCost(specs: string[]): number {
  return specs.reduce((sum, spec) => sum + (solutionSeconds.get(spec) ?? 1), 0);
}

function mistakeCheck(mistake: Mistake, ok: boolean, detail?: string): Check {
  return {
    group: mistake.lesson,
    kind: 'mistake',
    name: `mistake caught: ${mistake.id} — ${mistake.title}`,
    ok,
    detail,
  };
}

/** A batch item whose specs did not load or did not finish is a breach whatever else it says. */
function itemChecks(lesson: string, run: ItemRun, label: string): Check[] {
  const checks: Check[] = run.fileErrors.map((error) => ({
    group: lesson,
    kind: 'jest',
    name: `${relative(run.dir, error.file)} (${label}): the spec file loads`,
    ok: false,
    detail: error.message,
  }));
  if (!run.finished) {
    checks.push({
      group: lesson,
      kind: 'jest',
      name: `${lesson} specs (${label}) finish`,
      ok: false,
      detail: run.timedOut
        ? `the batch did not finish within ${BATCH_TIMEOUT_MS / 1000} s`
        : 'Jest stopped before they ended',
    });
  }
  return checks;
}

function lessonSpecs(lesson: string): string[] {
  const dir = join(ROOT, 'lessons', lesson, 'specs');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.spec.ts'))
    .map((name) => join('lessons', lesson, 'specs', name))
    .sort();
}

// ── Which spec file caught each mistake: course data, rewritten by verify when it changes ─────────

interface Catcher {
  /** Relative to the lesson folder: specs/x.spec.ts */
  spec: string;
  /** The task that failed first (for people: the note on what catches what). */
  task: string;
}

function catchersFile(lesson: string): string {
  return join(ROOT, 'solutions', lesson, 'mistakes', 'caught-by.json');
}

function readCatchers(lesson: string): Record<string, Catcher> {
  const file = catchersFile(lesson);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Catcher>) : {};
}

function writeCatchers(lesson: string, catchers: Record<string, Catcher>): void {
  const known = new Set(lessonMistakes(ROOT, lesson).map((mistake) => mistake.id));
  const sorted = Object.fromEntries(
    Object.entries(catchers)
      .filter(([id]) => known.has(id))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  const text = `${JSON.stringify(sorted, null, 2)}\n`;
  const file = catchersFile(lesson);
  if (!existsSync(dirname(file))) return;
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text);
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
  mkdirSync(scratch, { recursive: true });
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

async function timedPhase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    console.log(`  (${name}: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
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

void main();
