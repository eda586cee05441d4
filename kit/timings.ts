/**
 * Where a spec run's time goes, for `npm run bench`: when COURSE_TIMINGS names a file, the kit appends
 * one JSON line per slow thing it does (a bundle built, a server process started until /health
 * answered, a redis-server started). Otherwise nothing is recorded and nothing is slower.
 */
import { appendFileSync } from 'node:fs';

export type TimingKind = 'bundle' | 'process-start' | 'redis-start';

export function recordTiming(kind: TimingKind, ms: number, detail = ''): void {
  const file = process.env.COURSE_TIMINGS;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ kind, ms: Math.round(ms), detail, pid: process.pid })}\n`);
}

/** Runs `work`, and records how long it took. */
export async function timed<T>(kind: TimingKind, detail: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    recordTiming(kind, performance.now() - started, detail);
  }
}
