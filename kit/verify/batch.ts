/**
 * verify's step and mistake runs, many to one Jest process. Each run is "lesson NN's src holds these
 * files; run these spec files": it gets a scratch copy of the course of its own (kit/verify/trees.ts),
 * and one Jest process runs the spec files of a whole chunk of copies side by side. Each copy's specs
 * import that copy's kit and src (relative imports), so the copies never see each other's code; the
 * run's Redis hands each spec file a database of its own, as in any run. What this saves is Jest's
 * start-up (about 1.3 s a process on these machines), paid once per chunk instead of once per run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { LessonFiles } from '../course/steps';
import { swcTransform } from '../jest/swc';
import { prepareTarget, ROOT } from '../jest/target';
import { specModuleMap } from '../vendor';
import { type JestRun, runJest, type TestEvent } from './runs';
import type { TreePool } from './trees';

export interface BatchItem {
  lesson: string;
  /** The lesson's src for this run. */
  files: LessonFiles;
  /** Spec files to run, relative to the course root (lessons/NN/specs/x.spec.ts). */
  specs: string[];
  /** Only these tasks of those files (full names, as Jest reports them); every other task is skipped. */
  tasks?: string[];
  /** How long it is expected to take (s): the batch starts the costliest first. */
  cost?: number;
}

export interface ItemRun {
  /** The scratch copy it ran in (test events carry absolute paths under it). */
  dir: string;
  tests: TestEvent[];
  fileErrors: JestRun['fileErrors'];
  /** Every spec file of the item reported its end. */
  finished: boolean;
  timedOut: boolean;
  /** Time its spec files took, added up. */
  seconds: number;
  /** Time each of its spec files took (absolute path, as in `tests`). */
  fileSeconds: Map<string, number>;
}

export interface BatchOptions {
  trees: TreePool;
  /** Where the chunk's Jest config is written. */
  scratch: string;
  /** Spec files side by side (Jest workers). */
  workers: number;
  /** Each spec file ends its remaining tasks once one failed (mistake runs: one failure is the answer). */
  stopAfterFailure: boolean;
  /** COURSE_GRADE_CATALOG for the runs: the spec helper lists each task there. */
  catalog: string;
  timeoutMs: number;
  /** Runs per Jest process. */
  chunk?: number;
  onItem?: (item: BatchItem, run: ItemRun) => void;
}

export async function runBatch(items: BatchItem[], options: BatchOptions): Promise<ItemRun[]> {
  if (items.length === 0) return [];
  const results = new Map<BatchItem, ItemRun>();
  // Two Jest processes at a time, each with half the workers: while one ends its chunk (its last
  // files, then a new Jest starting up), the other keeps the cores busy.
  const streams = Math.min(items.length, options.workers >= 4 ? 2 : 1);
  const workers = Math.max(1, Math.floor(options.workers / streams));
  const chunks = dealChunks(items, options.chunk ?? CHUNK, streams);
  const stream = async () => {
    for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
      (await runChunk(chunk, { ...options, workers })).forEach((run, i) => {
        const item = chunk?.[i];
        if (item) results.set(item, run);
      });
    }
  };
  await Promise.all(Array.from({ length: streams }, stream));
  // In the callers' order: they read the i-th run as the i-th item's.
  return items.map((item) => {
    const run = results.get(item);
    if (!run) throw new Error(`verify: no run for ${item.lesson} (${item.specs.join(', ')})`);
    return run;
  });
}

/**
 * Runs per Jest process, at most: verify keeps this many scratch copies per stream (made ahead, about
 * 15 ms each). Fewer, larger chunks pay Jest's start-up and a chunk's last slow files less often: the
 * steps and mistakes took 120 s in chunks of at most 70, against 129 s in chunks of 40 (one
 * `npm run verify` each, 2026-12-07).
 */
export const CHUNK = 70;

/**
 * The items in chunks of at most `size`, dealt like cards from the costliest down, so that every
 * chunk holds some long runs and some short ones (each chunk's Jest starts its costliest first,
 * kit/verify/sequencer.cjs): no chunk is all long runs that keep a few workers busy while the others
 * wait. As many chunks for each stream, so that no stream runs a last chunk alone.
 */
function dealChunks(items: BatchItem[], size: number, streams: number): BatchItem[][] {
  const sorted = [...items].sort((a, b) => (b.cost ?? 0) - (a.cost ?? 0));
  const count = streams * Math.ceil(sorted.length / (size * streams));
  const chunks: BatchItem[][] = Array.from({ length: count }, () => []);
  for (const [i, item] of sorted.entries()) chunks[i % count]?.push(item);
  return chunks;
}

async function runChunk(chunk: BatchItem[], options: BatchOptions): Promise<ItemRun[]> {
  return options.trees.useMany(chunk, async (dirs) => {
    // A spec that runs an earlier lesson's finished server spawns it from the copy's own .solved/.
    for (const dir of dirs) prepareTarget(dir);
    // (Made again if it went: something may sweep /tmp while a long verify runs.)
    mkdirSync(options.scratch, { recursive: true });
    const config = join(options.scratch, `batch-${process.pid}-${Date.now()}.json`);
    writeFileSync(
      config,
      JSON.stringify(batchConfig(chunk.map((item, i) => join(dirs[i] ?? '', 'lessons', item.lesson)))),
    );
    const onlyTasks = onlyTasksFile(config, chunk, dirs);
    const paths = chunk.flatMap((item, i) => item.specs.map((spec) => join(dirs[i] ?? '', spec)));
    const order = config.replace(/\.json$/, '.order.json');
    writeFileSync(order, JSON.stringify(paths));
    const run = await runJest({
      cwd: ROOT,
      patterns: [],
      config,
      paths,
      maxWorkers: options.workers,
      env: {
        COURSE_TARGET: 'lessons',
        COURSE_BATCH_ORDER: order,
        COURSE_GRADE_CATALOG: options.catalog,
        ...(options.stopAfterFailure ? { COURSE_STOP_AFTER_FAILURE: '1' } : {}),
        ...(onlyTasks ? { COURSE_ONLY_TASKS: onlyTasks } : {}),
      },
      timeoutMs: options.timeoutMs,
    });
    return chunk.map((item, i) => {
      const dir = dirs[i] ?? '';
      const mine = (file: string) => file.startsWith(`${dir}${sep}`);
      const files = item.specs.map((spec) => run.fileTimes.get(join(dir, spec)));
      // A file whose start was not reported (all its tasks skipped) counts as no time, not as -epoch.
      const took = (times: (typeof files)[number]) =>
        times?.started !== undefined && times.ended !== undefined ? (times.ended - times.started) / 1000 : 0;
      const itemRun: ItemRun = {
        dir,
        tests: run.tests.filter((test) => mine(test.file)),
        fileErrors: run.fileErrors.filter((error) => mine(error.file)),
        finished: files.every((times) => times?.ended !== undefined),
        timedOut: run.timedOut,
        seconds: files.reduce((sum, times) => sum + took(times), 0),
        fileSeconds: new Map(item.specs.map((spec, j) => [join(dir, spec), took(files[j])])),
      };
      options.onItem?.(item, itemRun);
      return itemRun;
    });
  });
}

/** kit/spec/task.ts's COURSE_ONLY_TASKS file for the chunk's items that name tasks (none: undefined). */
function onlyTasksFile(config: string, chunk: BatchItem[], dirs: string[]): string | undefined {
  const only: Record<string, string[]> = {};
  chunk.forEach((item, i) => {
    if (!item.tasks) return;
    for (const spec of item.specs) only[join(dirs[i] ?? '', spec)] = item.tasks;
  });
  if (Object.keys(only).length === 0) return undefined;
  const file = config.replace(/\.json$/, '.only-tasks.json');
  writeFileSync(file, JSON.stringify(only));
  return file;
}

/** The lessons' Jest project (jest.config.ts), over the chunk's copies of the lessons. */
function batchConfig(roots: string[]): Record<string, unknown> {
  return {
    rootDir: ROOT,
    roots: [...new Set(roots)],
    testMatch: ['**/specs/**/*.spec.ts'],
    transform: swcTransform,
    moduleNameMapper: specModuleMap(),
    testSequencer: join(ROOT, 'kit', 'verify', 'sequencer.cjs'),
    testEnvironment: join(ROOT, 'kit', 'jest', 'environment.cjs'),
    globalSetup: join(ROOT, 'kit', 'jest', 'global-setup-redis.ts'),
    globalTeardown: join(ROOT, 'kit', 'jest', 'global-teardown-redis.ts'),
    watchman: false,
  };
}
