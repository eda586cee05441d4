/**
 * Waiting without sleeping, for specs that share slow things (real processes, Redis expiry) across
 * tasks. A fixed sleep is either too short on a busy machine or wasted time on an idle one; these wait
 * for a real condition, bounded, and a failure reaches every task that needed the thing, each with an
 * error of its own.
 */
import { readFileSync } from 'node:fs';
import { NotImplementedError } from '../todo';

/**
 * verify's first try at a mistake runs only the task that caught it last time: COURSE_ONLY_TASKS names
 * a JSON file { "<absolute spec path>": ["<full task name>", …] }. The tasks chosen for this spec
 * file; undefined when it runs whole (no such file, or this spec file is not listed in it).
 */
export function tasksChosenByVerify(): string[] | undefined {
  chosen ??= process.env.COURSE_ONLY_TASKS
    ? (JSON.parse(readFileSync(process.env.COURSE_ONLY_TASKS, 'utf8')) as Record<string, string[]>)
    : {};
  return chosen[expect.getState().testPath ?? ''];
}
let chosen: Record<string, string[]> | undefined;

/**
 * Whether a file's head starts (begin(), warm(): what its tasks need, started as the file loads, so
 * that processes boot side by side) are worth it. Not when verify runs only some of the file's tasks
 * (a mistake's first try): then only what the chosen task asks for starts, and the other tasks'
 * processes do not take the CPU from the runs beside it.
 */
export function headStartsWanted(): boolean {
  return tasksChosenByVerify() === undefined;
}

/**
 * Something slow (a server process, a story of several steps) started at most once per file, as early
 * as `begin()` is called (a beforeAll, so that a file's processes boot side by side; see
 * headStartsWanted) or else by the first `get()`; every `get()` awaits that one start. A start that
 * failed fails every task that needs it, the same way (an unfinished step names the same README step).
 */
export function startedOnce<T>(start: () => Promise<T>) {
  let started: Promise<T> | undefined;
  const get = (): Promise<T> => {
    if (!started) {
      started = start();
      // Handled here, rethrown to every get(): no unhandled rejection while no task is awaiting it.
      started.catch(() => undefined);
    }
    return started.catch((error: unknown) => {
      throw ownCopy(error);
    });
  };
  return {
    begin: (): void => {
      if (headStartsWanted()) get().catch(() => undefined); // the tasks that await it report any failure
    },
    get,
  };
}

/**
 * Asks until `done(answer)`, for at most `withinMs`; gives the last answer either way. A bounded wait
 * on a real condition (never a sleep standing in for one).
 */
export async function pollUntil<T>(
  attempt: () => Promise<T>,
  done: (answer: T) => boolean,
  withinMs: number,
  everyMs = 25,
): Promise<{ ok: boolean; last: T }> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const last = await attempt();
    if (done(last)) return { ok: true, last };
    if (Date.now() >= deadline) return { ok: false, last };
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Each task gets its own error to decorate: the spec helper appends the task's hint to the message, and
 * one error shared by three tasks would end up carrying all three hints.
 */
export function ownCopy(error: unknown): unknown {
  if (error instanceof NotImplementedError || !(error instanceof Error)) return error;
  const copy = new Error(error.message);
  copy.stack = error.stack;
  return copy;
}
