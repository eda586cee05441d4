/**
 * Which implementation the specs run against: the learner's starters in lessons/ (the default) or the
 * reference solutions (COURSE_TARGET=solutions, set by `npm run test:solutions` and `npm run verify`).
 *
 * In-process imports are redirected by kit/jest/resolver.cjs. A spec that spawns a lesson file as a
 * real process cannot use Jest's resolver, so for solutions we lay out `.solved/NN-slug/src`: the
 * lesson's src with the solution's files copied over it. It sits at the same depth as lessons/NN/src,
 * so the relative imports of the kit ('../../../kit/…') still work.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const SOLVED_DIR = join(ROOT, '.solved');

export type Target = 'lessons' | 'solutions';

export function currentTarget(env: NodeJS.ProcessEnv = process.env): Target {
  return env.COURSE_TARGET === 'solutions' ? 'solutions' : 'lessons';
}

/** Where the code of a lesson's `src` runs from, for the current target ('solutions': the finished lesson). */
export function lessonSrcDir(lessonId: string, target: Target = currentTarget()): string {
  return target === 'solutions' ? join(SOLVED_DIR, lessonId, 'src') : join(ROOT, 'lessons', lessonId, 'src');
}

/**
 * Brings .solved/ up to date; called from the Jest global setup on every run. Besides the solutions
 * target, later lessons use it to run an earlier lesson's *finished* server as a real process (lesson
 * 04 balances lesson 03's servers), whatever state the learner's own copy of that lesson is in.
 * Two runs may do this at once in one checkout (a maintainer's verify beside a grade), and one may
 * already be spawning servers from it: so nothing is deleted and re-copied wholesale. Each file is
 * written only when its content changed, to a temporary name then renamed (readers never see half a
 * file), and only files that left both sources are removed. `root`: another course tree (verify's
 * scratch copies).
 */
export function prepareTarget(root = ROOT): void {
  const solvedDir = join(root, '.solved');
  const wanted = new Map<string, string>(); // path in .solved → source file
  for (const lessonId of readdirSync(join(root, 'lessons'))) {
    for (const kind of ['lessons', 'solutions']) {
      const src = join(root, kind, lessonId, 'src');
      if (!existsSync(src)) continue;
      for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
        if (statSync(join(src, file)).isFile())
          wanted.set(join(solvedDir, lessonId, 'src', file), join(src, file));
      }
    }
  }
  for (const [copy, source] of wanted) syncFile(source, copy);
  if (!existsSync(solvedDir)) return;
  for (const file of readdirSync(solvedDir, { recursive: true, encoding: 'utf8' })) {
    const path = join(solvedDir, file);
    if (!wanted.has(path) && statSync(path, { throwIfNoEntry: false })?.isFile())
      rmSync(path, { force: true });
  }
}

function syncFile(source: string, target: string): void {
  const content = readFileSync(source);
  const current = existsSync(target) ? readFileSync(target) : undefined;
  if (current?.equals(content)) return;
  mkdirSync(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, target);
}
