/**
 * `npm run bench` — how long a learner waits. Times `jest lessons/NN` for every lesson (warm: one
 * unmeasured run first, so Jest's transform cache is filled), on the starters and on the solutions,
 * and prints the median of a few runs. Use it before you write a number into a README.
 *
 *   npm run bench            # 5 runs each
 *   npm run bench -- 10      # 10 runs each
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './jest/target';

const runs = Number(process.argv[2] ?? 5);
const lessons = readdirSync(join(ROOT, 'lessons')).filter((name) => /^\d\d-/.test(name));

function timeOnce(target: string, pattern: string): number {
  const started = process.hrtime.bigint();
  spawnSync(join(ROOT, 'node_modules/.bin/jest'), ['--ci', pattern], {
    cwd: ROOT,
    env: { ...process.env, COURSE_TARGET: target },
    stdio: 'ignore',
  });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

console.log(
  `warm wall time of \`jest lessons/NN\`, median of ${runs} runs (${process.version}, ${cpus().length} cores)`,
);
console.log('lesson                  starter  solution');
for (const lessonId of lessons) {
  const cells = ['lessons', 'solutions'].map((target) => {
    timeOnce(target, `lessons/${lessonId}`);
    return median(Array.from({ length: runs }, () => timeOnce(target, `lessons/${lessonId}`)));
  });
  console.log(`${lessonId.padEnd(22)}${cells.map((s) => `${s.toFixed(2)} s`.padStart(9)).join(' ')}`);
}
