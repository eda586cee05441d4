/**
 * The score. Every task is worth its `points` (from the spec helper's meta) and earns all of them
 * when its test passed, none otherwise. The tasks possible come from the pristine specs' declarations
 * (the catalog), never from what happened to run, so code that breaks a whole spec file still shows
 * every task it lost.
 */
import categories from './categories.json';
import type { CatalogTask, JestAssertion, JestReport } from './jest-run';
import type { Lesson } from './workspace';

export type TaskStatus = 'passed' | 'failed' | 'skipped' | 'not run';

export interface TaskGrade {
  title: string;
  topic: string;
  /** Spec file, relative to the course root. */
  file: string;
  step: string;
  severity: string;
  /** Points the task is worth. */
  points: number;
  /** Points earned: all of them when it passed, else 0. */
  earned: number;
  status: TaskStatus;
  /** Why it did not pass (a category id from categories.json, or 'error' / 'skipped'). */
  cause: string | null;
  /** The failure message, without the stack trace and without the hint. */
  message: string | null;
  hint: string;
}

export interface LessonGrade {
  id: string;
  /** Where the graded src came from: 'submission', 'this checkout', 'starter (no src in the submission)'… */
  source: string;
  points: number;
  possible: number;
  passed: number;
  total: number;
  tasks: TaskGrade[];
}

export interface Totals {
  points: number;
  possible: number;
  percent: number;
  passed: number;
  total: number;
}

export function gradeLessons(
  lessons: Lesson[],
  catalog: CatalogTask[],
  report: JestReport,
  tree: string,
  origins: Record<string, string>,
): LessonGrade[] {
  const resultsByFile = new Map(
    report.testResults.map((file) => [relativeTo(tree, file.name), file] as const),
  );
  return lessons.map((lesson) => {
    const tasks = lesson.specFiles.flatMap((file) => {
      const declared = catalog.filter((task) => task.file === file);
      const ran = resultsByFile.get(file);
      const unmatched = [...(ran?.assertionResults ?? [])];
      const whyNotRun = `The spec file did not run${ran?.message ? `:\n${cleanMessage(ran.message, tree)}` : '.'}`;
      return declared.map((task) => taskGrade(task, takeMatch(unmatched, task), whyNotRun, tree));
    });
    const passed = tasks.filter((task) => task.status === 'passed');
    return {
      id: lesson.id,
      source: origins[lesson.id] ?? 'this checkout',
      points: sum(passed.map((task) => task.earned)),
      possible: sum(tasks.map((task) => task.points)),
      passed: passed.length,
      total: tasks.length,
      tasks,
    };
  });
}

export function totals(lessons: LessonGrade[]): Totals {
  const points = sum(lessons.map((lesson) => lesson.points));
  const possible = sum(lessons.map((lesson) => lesson.possible));
  return {
    points,
    possible,
    percent: possible === 0 ? 0 : Math.round((1000 * points) / possible) / 10,
    passed: sum(lessons.map((lesson) => lesson.passed)),
    total: sum(lessons.map((lesson) => lesson.total)),
  };
}

/** The Jest result of a declared task: same title, preferably under the same topic. */
function takeMatch(results: JestAssertion[], task: CatalogTask): JestAssertion | undefined {
  const sameTitle = (result: JestAssertion) => result.title === task.title;
  let index = results.findIndex((result) => sameTitle(result) && result.ancestorTitles.at(-1) === task.topic);
  if (index < 0) index = results.findIndex(sameTitle);
  return index < 0 ? undefined : results.splice(index, 1)[0];
}

function taskGrade(
  task: CatalogTask,
  result: JestAssertion | undefined,
  whyNotRun: string,
  tree: string,
): TaskGrade {
  const base = {
    title: task.title,
    topic: task.topic,
    file: task.file,
    step: task.step,
    severity: task.severity,
    points: task.points,
    hint: task.hint,
  };
  if (result?.status === 'passed') {
    return { ...base, earned: task.points, status: 'passed', cause: null, message: null };
  }
  if (result && result.status !== 'failed') {
    return { ...base, earned: 0, status: 'skipped', cause: 'skipped', message: `Jest: ${result.status}` };
  }
  const message = withoutHint(
    result ? cleanMessage(result.failureMessages.join('\n'), tree) : whyNotRun,
    task.hint,
  );
  return { ...base, earned: 0, status: result ? 'failed' : 'not run', cause: causeOf(message), message };
}

/** The category (categories.json) a failure message belongs to; 'error' when none fits. */
export function causeOf(message: string): string {
  return categories.find((category) => new RegExp(category.message, 'm').test(message))?.id ?? 'error';
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const MAX_MESSAGE = 2000;

/**
 * Jest's failure text → the message: no colours, no stack frames, no "Error: " prefix, no native
 * backtrace from the compiler, and paths relative to the course root instead of the scratch tree.
 */
export function cleanMessage(text: string, tree: string): string {
  const lines = text
    .replace(ANSI, '')
    .replaceAll(`${tree}/`, '')
    .replace(/^\s*● Test suite failed to run\s*/, '')
    .replace(/\n\s*Stack backtrace:\n(\s+\d+: .*\n?)+/, '\n')
    .split('\n');
  const firstFrame = lines.findIndex((line) => /^\s+at /.test(line));
  const kept = (firstFrame < 0 ? lines : lines.slice(0, firstFrame)).map((line) => line.replace(/^ {4}/, ''));
  const message = kept
    .join('\n')
    .trim()
    .replace(/^(NotImplementedError|Error): /, '');
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
}

/**
 * The spec helper ends every failure with a line carrying the hint ("Hint: …", or "(This task checks
 * Step N; its hint, for when you get there: …)"); grade.json has the hint in its own field.
 */
function withoutHint(message: string, hint: string): string {
  const at = message.lastIndexOf(hint);
  const rest = at < 0 ? '' : message.slice(at + hint.length).trim();
  if (at < 0 || (rest !== '' && rest !== ')')) return message;
  return message.slice(0, Math.max(message.lastIndexOf('\n', at), 0)).trimEnd();
}

function relativeTo(tree: string, file: string): string {
  return file.startsWith(`${tree}/`) ? file.slice(tree.length + 1) : file;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
