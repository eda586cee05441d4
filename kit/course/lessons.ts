/**
 * The course as a learner meets it: its lessons in order, each with its title and README steps, and
 * what a run of its specs says about each step. Shared by the course reporter (after `npm test`) and
 * `npm run course`, so both say the same thing.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stepNumber } from './unfinished';

export interface LessonInfo {
  /** Folder name, e.g. '01-sticky-problem'. */
  id: string;
  /** '01' */
  number: string;
  /** From the README's first heading: 'Lesson 01 — The sticky problem'. */
  title: string;
  steps: Array<{ step: number; title: string; anchor: string }>;
}

export function lessonIds(root: string): string[] {
  const dir = join(root, 'lessons');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^\d\d-/.test(name) && statSync(join(dir, name)).isDirectory())
    .sort();
}

export function lessonInfo(root: string, id: string): LessonInfo {
  const readme = join(root, 'lessons', id, 'README.md');
  const text = existsSync(readme) ? readFileSync(readme, 'utf8') : '';
  const title = /^# (.+)$/m.exec(text)?.[1]?.trim() ?? `Lesson ${id}`;
  const steps = [...text.matchAll(/^### (Step (\d+)\b.*)$/gm)].map((match) => ({
    step: Number(match[2]),
    title: (match[1] ?? '').trim(),
    anchor: githubAnchor(match[1] ?? ''),
  }));
  return { id, number: id.slice(0, 2), title, steps };
}

/** The lesson a learner means by '01', '1', '01-sticky-problem' or 'lessons/01-sticky-problem'. */
export function findLesson(root: string, wanted: string): string | undefined {
  const name = wanted.replace(/^lessons\//, '').replace(/\/$/, '');
  const prefix = /^\d$/.test(name) ? `0${name}` : name;
  return lessonIds(root).find((id) => id === prefix || id.startsWith(`${prefix}-`));
}

/** How GitHub names a heading's anchor: lower case, punctuation dropped, spaces to hyphens. */
export function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

// ── What a run says ──────────────────────────────────────────────────────────────────────────────

export type TaskStatus = 'passed' | 'failed' | 'not run';

export interface TaskResult {
  file: string;
  topic: string;
  title: string;
  step: number | undefined;
  points: number;
  status: TaskStatus;
  /** The failure, as the spec helper worded it (first line: what to do). */
  message?: string;
}

export interface StepProgress {
  step: number;
  title: string;
  anchor: string;
  state: 'done' | 'partly' | 'not started';
  passed: number;
  total: number;
  points: number;
  possible: number;
}

export interface LessonProgress {
  lesson: string;
  title: string;
  state: 'done' | 'in progress' | 'not started';
  passed: number;
  total: number;
  points: number;
  possible: number;
  steps: StepProgress[];
}

export function progressOf(info: LessonInfo, tasks: TaskResult[]): LessonProgress {
  const numbers = new Set<number>([
    ...info.steps.map((step) => step.step),
    ...tasks.flatMap((task) => (task.step === undefined ? [] : [task.step])),
  ]);
  const steps = [...numbers]
    .sort((a, b) => a - b)
    .map((number): StepProgress => {
      const mine = tasks.filter((task) => task.step === number);
      const passed = mine.filter((task) => task.status === 'passed');
      const heading = info.steps.find((step) => step.step === number);
      return {
        step: number,
        title: heading?.title ?? `Step ${number}`,
        anchor: heading?.anchor ?? '',
        state:
          passed.length === mine.length && mine.length > 0
            ? 'done'
            : passed.length > 0
              ? 'partly'
              : 'not started',
        passed: passed.length,
        total: mine.length,
        points: sum(passed.map((task) => task.points)),
        possible: sum(mine.map((task) => task.points)),
      };
    })
    .filter((step) => step.total > 0);
  const passed = tasks.filter((task) => task.status === 'passed');
  return {
    lesson: info.id,
    title: info.title,
    state:
      tasks.length > 0 && passed.length === tasks.length
        ? 'done'
        : passed.length > 0
          ? 'in progress'
          : 'not started',
    passed: passed.length,
    total: tasks.length,
    points: sum(passed.map((task) => task.points)),
    possible: sum(tasks.map((task) => task.points)),
    steps,
  };
}

/** The first failing task of the earliest step that is not done. */
export function firstFailing(progress: LessonProgress, tasks: TaskResult[]): TaskResult | undefined {
  const step = progress.steps.find((entry) => entry.state !== 'done');
  return step && tasks.find((task) => task.step === step.step && task.status !== 'passed');
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

export { stepNumber };
