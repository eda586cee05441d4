/**
 * What the lesson-03 specs share beyond the kit (browser, items, processes, Redis: kit/spec/). Not a
 * spec itself (Jest runs *.spec.ts only); you do not need to read it to do the lesson.
 */
import type { RedisClientType } from 'redis';
import { type Unfinished, unfinishedSteps } from '../../../kit/course/unfinished';
import { lessonSrcDir } from '../../../kit/jest/target';
import type { EmbeddedRedis, RedisBinary } from '../../../kit/redis/embedded';
import {
  type ServerProcess,
  type StartOptions,
  sharedServer,
  type useServerProcesses,
} from '../../../kit/spec/processes';
import { lesson } from '../../../kit/spec/task';
import { pollUntil } from '../../../kit/spec/wait';
import { NotImplementedError } from '../../../kit/todo';

export const LESSON = '03-redis-store';

/**
 * The earliest unfinished README step up to `step` (a static read of the todo() calls left in src),
 * or undefined when Steps 1..`step` are all done.
 */
export function unfinishedUpTo(step: number): Unfinished | undefined {
  return unfinishedSteps(lessonSrcDir(LESSON)).find((left) => left.step <= step);
}

/**
 * The lesson's task helper for a file whose every task needs Steps 1..`needs` done (its servers, or
 * the function its first tasks check). While one of those is unfinished every task of the file fails
 * anyway, naming that step: so each fails at once, and `blocked()` tells the file to start nothing
 * (no redis-server, no process) — a fresh starter answers in a moment.
 */
export function gatedLesson(needs: number) {
  const { topic, task } = lesson(LESSON);
  const blocked = (): Unfinished | undefined => unfinishedUpTo(needs);
  const gatedTask: typeof task = (title, meta, body) =>
    task(title, meta, async () => {
      const left = blocked();
      if (left)
        throw new NotImplementedError(
          { lesson: LESSON, file: left.file, step: left.title },
          { record: false },
        );
      await body();
    });
  return { topic, task: gatedTask, blocked };
}

/** Starting and stopping redis-servers: milliseconds, but a machine under load can take seconds. */
const HOOK_TIMEOUT_MS = 30_000;
/** How long a server process may take to answer /health (half a second on an idle machine). */
const SERVER_READY_MS = 25_000;

/**
 * A server process of this lesson (src/server.ts), shared by a file's tasks (kit sharedServer).
 *
 * server.ts calls connectRedis (Step 1) and createSessionStore (Step 2) as it boots: while either
 * still holds its todo(), a spawned server could only print that todo and exit. So the start fails at
 * once with the same "do README Step N" message, without spawning anything: a fresh starter answers
 * in a moment instead of waiting for processes that cannot come up.
 */
export function lessonServer(
  servers: Pick<ReturnType<typeof useServerProcesses>, 'start'>,
  env: () => Record<string, string>,
) {
  const start = async (options: StartOptions): Promise<ServerProcess> => {
    const left = unfinishedUpTo(2);
    if (left)
      throw new NotImplementedError({ lesson: LESSON, file: left.file, step: left.title }, { record: false });
    return servers.start(options);
  };
  // Started in the background and shared: todo() messages are read from the static source above and
  // from 501 answers, never blamed on whichever task happens to be running.
  return sharedServer({ start }, () => ({
    lesson: LESSON,
    entry: 'server.ts',
    env: env(),
    recordTodos: false,
    // A bound, not a speed test: at load 20 on two cores a boot was seen to take ~10 s.
    readyTimeoutMs: SERVER_READY_MS,
  }));
}

/**
 * node-redis and redis-memory-server (and express, in the outage spec) are loaded when first needed,
 * not when a spec file loads: a fresh starter, whose tasks fail before they need them, never pays the
 * ~0.3 s each of them costs to load.
 */
export const redisModule = () => import('redis');

/** A plain node-redis client of the spec's own, to look inside Redis as `redis-cli` would. */
export async function specClient(url: string, reconnectMs = 20): Promise<RedisClientType> {
  const { createClient } = await redisModule();
  const client: RedisClientType = createClient({
    url,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: () => reconnectMs },
  });
  client.on('error', () => undefined); // a spec's client never crashes the worker when Redis stops
  await client.connect();
  return client;
}

/** INFO stats' total_connections_received: every connection Redis ever accepted. */
export async function connectionsReceived(client: RedisClientType): Promise<number> {
  const info = await client.info('stats');
  const match = /^total_connections_received:(\d+)/m.exec(info);
  if (!match) throw new Error(`INFO stats has no total_connections_received:\n${info}`);
  return Number(match[1]);
}

/** The ids of the connections Redis has open now (CLIENT LIST), the spec's own included. */
export async function openConnections(client: RedisClientType): Promise<string[]> {
  const list = await client.sendCommand<string>(['CLIENT', 'LIST']);
  return String(list)
    .split('\n')
    .map((line) => /\bid=(\d+)\b/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
}

/** What a promise did: its value, its error, or nothing yet after `ms` (it is left to settle later). */
export type Outcome<T> =
  | { kind: 'value'; value: T; ms: number }
  | { kind: 'error'; error: Error; ms: number }
  | { kind: 'pending'; ms: number };

export async function outcomeWithin<T>(promise: Promise<T>, ms: number): Promise<Outcome<T>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    (value): Outcome<T> => ({ kind: 'value', value, ms: performance.now() - started }),
    (error: unknown): Outcome<T> => ({
      kind: 'error',
      error: error instanceof Error ? error : new Error(String(error)),
      ms: performance.now() - started,
    }),
  );
  const pending = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'pending', ms }), ms);
  });
  try {
    return await Promise.race([settled, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** One redis-server of the file's own (kit/redis/embedded), and a spec client on it. */
export interface OwnRedis {
  readonly url: string;
  /** The spec's client: it reconnects within 20 ms of Redis coming back (see ready()). */
  readonly spec: RedisClientType;
  stop(): Promise<void>;
  /** Same port, no data: the end of an outage. Resolves once the spec's client is connected again. */
  restart(): Promise<void>;
}

/**
 * `names.length` redis-servers of the file's own, started side by side before its tasks and stopped
 * after them. Unlike the kit's usePrivateRedis, nothing restarts them between tasks: a story running
 * in the background may keep one stopped across a task boundary (it restarts it itself).
 */
export function useOwnRedis<const N extends string>(
  names: N[],
  options: { unless?: () => unknown } = {},
): Record<N, OwnRedis> {
  const started = new Map<string, { redis: EmbeddedRedis; spec: RedisClientType }>();
  beforeAll(async () => {
    if (options.unless?.()) return; // every task of the file fails at once: nothing to start
    const { findRedisBinary, startEmbeddedRedis } = await import('../../../kit/redis/embedded');
    const binary: RedisBinary = process.env.COURSE_REDIS_BINARY
      ? { source: 'REDISMS_SYSTEM_BINARY', path: process.env.COURSE_REDIS_BINARY }
      : findRedisBinary();
    await Promise.all(
      names.map(async (name) => {
        const redis = await startEmbeddedRedis(binary);
        started.set(name, { redis, spec: await specClient(redis.url, 20) });
      }),
    );
  }, HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await Promise.all(
      [...started.values()].map(async ({ redis, spec }) => {
        if (spec.isOpen) spec.destroy();
        await redis.stop();
      }),
    );
  }, HOOK_TIMEOUT_MS);
  const get = (name: string) => {
    const entry = started.get(name);
    if (!entry)
      throw new Error(`useOwnRedis(): Redis "${name}" is started in beforeAll; use it inside a task.`);
    return entry;
  };
  const all = {} as Record<N, OwnRedis>;
  for (const name of names) {
    all[name] = {
      get url() {
        return get(name).redis.url;
      },
      get spec() {
        return get(name).spec;
      },
      stop: () => get(name).redis.stop(),
      async restart() {
        const { redis, spec } = get(name);
        await redis.restart();
        await ready(spec, 5_000);
      },
    };
  }
  return all;
}

/** Resolves once `client` is connected; fails after `ms`. */
export async function ready(client: RedisClientType, ms: number): Promise<void> {
  const isReady = await pollUntil(
    async () => client.isReady,
    (yes) => yes,
    ms,
    5,
  );
  if (!isReady.ok) throw new Error(`The spec's own Redis client did not reconnect within ${ms} ms.`);
}
