/**
 * `npm run bench` — how long a learner waits. For every lesson: the warm wall time of
 * `jest lessons/NN` (one unmeasured run first, so Jest's transform cache is filled), on the fresh
 * starter and on the reference solution, as the median of a few whole-process runs; then one more run
 * of the solution with the kit's timings on (kit/timings.ts) to say where the time goes: Jest's own
 * start-up, server processes started until their /health answered, redis-servers, the slowest tasks.
 *
 *   npm run bench                      5 runs each, every lesson
 *   npm run bench -- --runs 3 --lesson 03
 *   npm run bench -- --readme          also rewrite the timing table in README.md
 *   npm run bench -- --throughput      req/s and p50/p99 instead: memory vs Redis store, balancer vs direct
 *                                      vs HAProxy, keep-alive agent vs none (kit/drill/throughput.ts;
 *                                      --duration S, --rounds N, --variants)
 *
 * Use it before you write a number into a README: numbers there are measured, with the command.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lessonIds } from './course/lessons';
import { runThroughput } from './drill/throughput';
import { ROOT } from './jest/target';
import { runJest } from './verify/runs';

interface Timing {
  kind: 'bundle' | 'process-start' | 'redis-start';
  ms: number;
  detail: string;
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    lesson: { type: 'string', multiple: true },
    readme: { type: 'boolean' },
    throughput: { type: 'boolean' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    variants: { type: 'boolean' },
  },
});
const runs = Math.max(1, Number(values.runs) || 5);
const lessons = values.lesson?.length
  ? lessonIds(ROOT).filter((id) => values.lesson?.some((wanted) => id.startsWith(wanted.padStart(2, '0'))))
  : lessonIds(ROOT);

async function wallSeconds(lesson: string, target: 'lessons' | 'solutions', timings?: string) {
  const run = await runJest({
    cwd: ROOT,
    patterns: [`lessons/${lesson}/`],
    env: { COURSE_TARGET: target, ...(timings ? { COURSE_TIMINGS: timings } : {}) },
    timeoutMs: 5 * 60_000,
  });
  return run;
}

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const seconds = (value: number) => `${value.toFixed(2)} s`;

async function main(): Promise<void> {
  console.log(
    `warm wall time of \`jest lessons/NN\`, median of ${runs} runs · Node ${process.version} · ${cpus().length} cores · load ${loadavg()[0]?.toFixed(2)}`,
  );
  const scratch = mkdtempSync(join(tmpdir(), 'course-bench-'));
  const rows: string[][] = [];
  try {
    for (const lesson of lessons) {
      const cells: number[] = [];
      for (const target of ['lessons', 'solutions'] as const) {
        await wallSeconds(lesson, target); // warm-up: transform cache, bundles
        const times: number[] = [];
        for (let i = 0; i < runs; i++) times.push((await wallSeconds(lesson, target)).seconds);
        cells.push(median(times));
      }
      const file = join(scratch, `${lesson}.jsonl`);
      writeFileSync(file, '');
      const measured = await wallSeconds(lesson, 'solutions', file);
      const timings = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Timing);
      rows.push([lesson, seconds(cells[0] ?? 0), seconds(cells[1] ?? 0)]);
      console.log(`\n${lesson}: starter ${seconds(cells[0] ?? 0)} · solution ${seconds(cells[1] ?? 0)}`);
      for (const line of breakdown(measured, timings)) console.log(`  ${line}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const table = [
    '| lesson | fresh starter | solution |',
    '| --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
  console.log(`\n${table}`);
  if (values.readme) writeReadme(table);
}

function breakdown(run: Awaited<ReturnType<typeof wallSeconds>>, timings: Timing[]): string[] {
  const of = (kind: Timing['kind']) =>
    timings.filter((timing) => timing.kind === kind).map((timing) => timing.ms);
  const range = (list: number[]) =>
    list.length ? `${Math.min(...list)}–${Math.max(...list)} ms (median ${median(list)})` : '';
  const starts = of('process-start');
  const redis = of('redis-start');
  const bundles = of('bundle');
  const files = new Set(run.tests.map((test) => test.file)).size;
  const slowest = [...run.tests]
    .sort((a, b) => (b.duration ?? 0) - (a.duration ?? 0))
    .slice(0, 3)
    .map((test) => `${test.duration ?? 0} ms ${test.fullName.slice(0, 70)}`);
  return [
    `Jest start-up until the first spec file runs: ${seconds(run.startupSeconds ?? 0)}; then ${files} spec files (2 workers) to the end: ${seconds(run.seconds - (run.startupSeconds ?? 0))}`,
    `server processes started: ${starts.length}${starts.length ? `, each ${range(starts)} from spawn to /health 200, bundles ${range(bundles)}` : ''}`,
    `redis-servers started: ${redis.length}${redis.length ? `, ${range(redis)}` : ''}`,
    `slowest tasks: ${slowest.join(' · ')}`,
  ];
}

/** Replaces the table between the bench markers of README.md. */
function writeReadme(table: string): void {
  const file = join(ROOT, 'README.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) {
    console.error(`README.md has no ${start} … ${end} markers: the table was not written.`);
    process.exitCode = 1;
    return;
  }
  const stamp = `Measured with \`npm run bench -- --runs ${runs}\` (median of ${runs} warm runs), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores.`;
  writeFileSync(file, `${text.slice(0, from + start.length)}\n${stamp}\n\n${table}\n${text.slice(to)}`);
  console.log('README.md: timing table rewritten.');
}

if (values.throughput) {
  const [duration, rounds] = [Number(values.duration) || 5, Math.max(1, Number(values.rounds) || 2)];
  void runThroughput({ duration, rounds, connections: 20, variants: values.variants === true });
} else void main();
