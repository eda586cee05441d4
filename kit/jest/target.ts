/**
 * Which implementation the specs run against: the learner's starters in lessons/ (the default) or the
 * reference solutions (COURSE_TARGET=solutions, set by `npm run test:solutions` and `npm run verify`).
 *
 * In-process imports are redirected by kit/jest/resolver.cjs. A spec that spawns a lesson file as a
 * real process cannot use Jest's resolver, so for solutions we lay out `.solved/NN-slug/src`: the
 * lesson's src with the solution's files copied over it. It sits at the same depth as lessons/NN/src,
 * so the relative imports of the kit ('../../../kit/…') still work.
 */
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const SOLVED_DIR = join(ROOT, '.solved');

export type Target = 'lessons' | 'solutions';

export function currentTarget(env: NodeJS.ProcessEnv = process.env): Target {
  return env.COURSE_TARGET === 'solutions' ? 'solutions' : 'lessons';
}

/** Where the code of a lesson's `src` runs from, for the current target. */
export function lessonSrcDir(lessonId: string, target: Target = currentTarget()): string {
  return target === 'solutions' ? join(SOLVED_DIR, lessonId, 'src') : join(ROOT, 'lessons', lessonId, 'src');
}

/** Builds .solved/ (solutions target only). Idempotent; called from the Jest global setup. */
export function prepareTarget(target: Target = currentTarget()): void {
  if (target !== 'solutions') return;
  rmSync(SOLVED_DIR, { recursive: true, force: true });
  for (const lessonId of readdirSync(join(ROOT, 'lessons'))) {
    const starter = join(ROOT, 'lessons', lessonId, 'src');
    const solution = join(ROOT, 'solutions', lessonId, 'src');
    if (!existsSync(starter)) continue;
    cpSync(starter, join(SOLVED_DIR, lessonId, 'src'), { recursive: true });
    if (existsSync(solution)) cpSync(solution, join(SOLVED_DIR, lessonId, 'src'), { recursive: true });
  }
}
