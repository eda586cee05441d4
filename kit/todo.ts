/**
 * The starter convention. Every unfinished piece of a starter calls `todo(...)`, which throws a
 * NotImplementedError naming the lesson, the file and the README step to read. The spec helper
 * (kit/spec/task.ts) turns that error into the one-line message a learner sees, so a failing spec
 * says "what to do next" instead of "undefined is not a function".
 */

export interface TodoLocation {
  /** Lesson folder name, e.g. '01-sticky-problem'. */
  lesson: string;
  /** The file to edit, relative to the lesson folder, e.g. 'src/app.ts'. */
  file: string;
  /** The README step that explains this piece, e.g. 'Step 2 — keep a cart in the session'. */
  step: string;
}

export class NotImplementedError extends Error {
  override readonly name = 'NotImplementedError';

  /** `record: false` only describes a step (the spec helper naming the next one), it was not hit. */
  constructor(
    readonly where: TodoLocation,
    options: { record?: boolean } = {},
  ) {
    super(
      `Not implemented yet (lesson ${where.lesson}): open lessons/${where.lesson}/${where.file} and do README ${where.step}.`,
    );
    if (options.record !== false) recordTodo(this.message);
  }
}

/** Throws the lesson's NotImplementedError. Typed `never` so a starter compiles wherever it stands. */
export function todo(where: TodoLocation): never {
  throw new NotImplementedError(where);
}

/**
 * Every NotImplementedError raised in this process (or reported from a child process, see
 * kit/spec/processes.ts) is remembered, because express catches errors thrown inside a route: the
 * spec only sees a 501, and the helper looks here to explain it.
 */
const todos: string[] = [];

export function recordTodo(message: string): void {
  todos.push(message);
}

/** Messages recorded since `mark` (a value of todoMark()), oldest first. */
export function todosSince(mark: number): string[] {
  return todos.slice(mark);
}

export function todoMark(): number {
  return todos.length;
}
