/**
 * The spec helper. Every spec declares learner tasks with it:
 *
 *   const { topic, task } = lesson('01-sticky-problem');
 *   topic('when a visitor fills a cart', () => {
 *     task('the cart persists across requests', { points: 2, step: 'Step 2', hint: '…' }, async () => { … });
 *   });
 *
 * What it adds to a plain `test`:
 * - steps unlock in order: while README Step M is unfinished (a todo() is left in the lesson's src),
 *   every failing task of Step M or later begins with the one line that says "open <file> and do
 *   README Step M", whichever todo() it ran into. A failure that is only "not implemented yet" is that
 *   line and the task's hint; an assertion that failed keeps Jest's message (the diff) below it;
 * - a task of a step already done fails with its own message (and a plain hint): that is a bug to fix;
 * - when grading (COURSE_ALLURE=1) it records Allure labels: lesson → epic, topic → feature,
 *   task → story, severity, points, hint;
 * - when grading (COURSE_GRADE_CATALOG=dir) it lists every task as it is declared, so kit/grade knows
 *   the points possible even for a task whose test never ran (a failing beforeAll, a broken import).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { stepNumber, type Unfinished, unfinishedSteps } from '../course/unfinished';
import { lessonSrcDir } from '../jest/target';
import { NotImplementedError, todoMark, todosSince } from '../todo';
import { tasksChosenByVerify } from './wait';

export type Severity = 'blocker' | 'critical' | 'normal' | 'minor' | 'trivial';

export interface TaskMeta {
  /** Points this task is worth when grading. */
  points: number;
  /** The README step that teaches it, e.g. 'Step 2'. */
  step: string;
  /** Shown under a failure: points the way without giving the answer away. */
  hint: string;
  severity?: Severity;
  /** Per-task Jest timeout in ms, for tasks that start real processes. */
  timeout?: number;
}

const grading = process.env.COURSE_ALLURE === '1';
const catalogDir = process.env.COURSE_GRADE_CATALOG;
/**
 * verify's mistake runs only need to know that one task fails: once one has (in this spec file; Jest
 * loads this module afresh per file), the file's later tasks end at once instead of waiting out their
 * bounds on a wrong solution. Their results mean nothing then, and verify reads none of them.
 */
const stopAfterFirstFailure = process.env.COURSE_STOP_AFTER_FAILURE === '1';
let failedInThisFile = false;

/**
 * A task verify did not choose (kit/spec/wait.ts, tasksChosenByVerify) is declared skipped, so Jest
 * does not even run the hooks of a block with nothing left to run. Matched on the title: a task's
 * full name is its describe blocks' names, then its title.
 */
function skippedByVerify(title: string): boolean {
  const wanted = tasksChosenByVerify();
  return wanted !== undefined && !wanted.some((name) => name === title || name.endsWith(` ${title}`));
}

export function lesson(lessonId: string) {
  let currentTopic = '';

  /** A group of tasks; reads like the lesson ("when server 2 crashes"). Becomes the Allure feature. */
  function topic(name: string, body: () => void): void {
    describe(name, () => {
      const outer = currentTopic;
      currentTopic = name;
      try {
        body();
      } finally {
        currentTopic = outer;
      }
    });
  }

  /** One learner task: a Jest test with points, a README step and a hint. */
  function task(title: string, meta: TaskMeta, body: () => Promise<void> | void): void {
    const feature = currentTopic;
    if (catalogDir) listTask(catalogDir, lessonId, feature, title, meta);
    (skippedByVerify(title) ? test.skip : test)(
      title,
      async () => {
        if (stopAfterFirstFailure && failedInThisFile) return;
        if (grading) await recordLabels(lessonId, feature, title, meta);
        const next = nextStepOf(lessonId);
        if (runsAhead(meta, next)) {
          const where = { lesson: next.lesson, file: next.file, step: next.title };
          throw explain(new NotImplementedError(where, { record: false }), [], meta, next);
        }
        const mark = todoMark();
        try {
          await body();
        } catch (error) {
          failedInThisFile = true;
          throw explain(error, todosSince(mark), meta, nextStepOf(lessonId));
        }
      },
      meta.timeout,
    );
  }

  return { topic, task };
}

async function recordLabels(lessonId: string, feature: string, title: string, meta: TaskMeta) {
  // Loaded only when grading: it costs every spec file about 17 ms otherwise (20 spec files that
  // import it against 20 that do not, one Jest worker, 2-core machine).
  const allure = await import('allure-js-commons');
  await allure.epic(lessonId);
  if (feature) await allure.feature(feature);
  await allure.story(title);
  await allure.severity(meta.severity ?? 'normal');
  await allure.label('points', String(meta.points));
  await allure.label('step', meta.step);
  await allure.description(`**${meta.step}** · ${meta.points} point(s)\n\nHint: ${meta.hint}`);
}

/** One JSON line per declared task, in a file per process (Jest workers never share one). */
function listTask(dir: string, lessonId: string, topic: string, title: string, meta: TaskMeta) {
  const entry = {
    lesson: lessonId,
    file: expect.getState().testPath ?? '',
    topic,
    title,
    points: meta.points,
    step: meta.step,
    hint: meta.hint,
    severity: meta.severity ?? 'normal',
  };
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify(entry)}\n`);
}

/**
 * A task of a step that comes after the next one to do fails at once, naming that step: it could only
 * fail the same way after waiting out its bounds (a timeout the learner has not written yet), and the
 * learner is not there yet. The tasks of the next step itself run, so a learner at work on it sees what
 * they check. Every task runs when grading (a todo() left in code the learner no longer calls must not
 * cost the points of the steps after it), and in verify's run of the untouched starters
 * (COURSE_RUN_EVERY_TASK=1), to prove each really fails without its step.
 */
const runEveryTask = grading || process.env.COURSE_RUN_EVERY_TASK === '1';
function runsAhead(meta: Pick<TaskMeta, 'step'>, next: NextStep | undefined): next is NextStep {
  const checked = stepNumber(meta.step);
  return !runEveryTask && next !== undefined && checked !== undefined && checked > next.step;
}

/** The earliest unfinished step of a lesson, read once per worker (the code does not change in a run). */
type NextStep = Unfinished & { lesson: string };
const nextSteps = new Map<string, NextStep | undefined>();
function nextStepOf(lessonId: string): NextStep | undefined {
  if (!nextSteps.has(lessonId)) {
    const next = unfinishedSteps(lessonSrcDir(lessonId))[0];
    nextSteps.set(lessonId, next && { ...next, lesson: lessonId });
  }
  return nextSteps.get(lessonId);
}

/**
 * Turns a failure into the message a learner should read. `next` is the earliest step still to do in
 * the lesson (undefined when every step is done).
 */
export function explain(
  error: unknown,
  todos: string[],
  meta: Pick<TaskMeta, 'hint' | 'step'>,
  next?: NextStep,
): Error {
  const notDone = error instanceof NotImplementedError ? error.message : todos[0];
  const checked = stepNumber(meta.step);
  const blocking =
    next && (checked === undefined || checked >= next.step)
      ? new NotImplementedError({ lesson: next.lesson, file: next.file, step: next.title }, { record: false })
          .message
      : undefined;
  const first = blocking ?? notDone;
  if (first && (notDone || !(error instanceof Error))) {
    return clearError(`${first}\n${hintFor(first, meta)}`);
  }
  if (error instanceof Error) {
    const hinted = `${first ? `${first}\n\n` : ''}${error.message}\n\n${hintFor(first ?? '', meta)}`;
    if (error.stack) error.stack = error.stack.replace(error.message, hinted);
    error.message = hinted;
    return error;
  }
  return new Error(`${String(error)}\n\n${hintFor('', meta)}`);
}

/** A failure that is only "not implemented yet": one line and the hint, no stack frames (they would
 * point into the course's kit, not at anything the learner should open). */
function clearError(message: string): Error {
  const clear = new Error(message);
  clear.name = 'NotImplementedError';
  clear.stack = `${clear.name}: ${message}`;
  return clear;
}

/**
 * The task's hint, said so that it does not contradict the message above it: when the step to do now
 * comes before the one this task checks, the hint is for later. Otherwise it is a plain hint.
 */
function hintFor(message: string, meta: Pick<TaskMeta, 'hint' | 'step'>): string {
  const blocking = stepNumber(message);
  const checked = stepNumber(meta.step);
  if (blocking === undefined || checked === undefined || checked <= blocking) return `Hint: ${meta.hint}`;
  return `(This task checks Step ${checked}; its hint, for when you get there: ${meta.hint})`;
}
