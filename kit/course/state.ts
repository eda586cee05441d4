/**
 * What the course remembers about a learner, in the git-ignored folder .course/ at the course root:
 * the results of their latest run of each lesson (written by the course reporter), the hint level
 * they have reached per step, and backups made by `npm run course -- reset`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TaskResult } from './lessons';

export function stateDir(root: string): string {
  return join(root, '.course');
}

export interface SavedRun {
  lesson: string;
  /** ISO date of the run. */
  ranAt: string;
  tasks: TaskResult[];
  /** Spec files that did not load (the learner's code does not compile, say), with Jest's message. */
  loadErrors: Array<{ file: string; message: string }>;
}

function resultFile(root: string, lesson: string): string {
  return join(stateDir(root), 'results', `${lesson}.json`);
}

export function saveRun(root: string, run: SavedRun): void {
  writeJson(resultFile(root, run.lesson), run);
}

export function loadRun(root: string, lesson: string): SavedRun | undefined {
  return readJson<SavedRun>(resultFile(root, lesson));
}

/** Per lesson, per step: the highest hint level shown so far. */
export type HintLevels = Record<string, Record<string, number>>;

export function loadHintLevels(root: string): HintLevels {
  return readJson<HintLevels>(join(stateDir(root), 'hints.json')) ?? {};
}

export function saveHintLevels(root: string, levels: HintLevels): void {
  writeJson(join(stateDir(root), 'hints.json'), levels);
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined; // a half-written or hand-edited file: as if there were none
  }
}

function writeJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temporary, file);
}
