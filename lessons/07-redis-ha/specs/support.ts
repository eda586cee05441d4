/**
 * What the lesson-07 specs share beyond the kit (browser, processes, waits: kit/spec/; the Sentinel
 * set: kit/redis/sentinel.ts): the servers' environment and a Sentinel set per spec file. Not a spec
 * itself (Jest runs *.spec.ts only); you do not need to read it to do the lesson.
 */
import { appendFileSync } from 'node:fs';
import { unfinishedSteps } from '../../../kit/course/unfinished';
import { lessonSrcDir } from '../../../kit/jest/target';
import type { RedisNode } from '../../../kit/redis/sentinel';
import { type SentinelSet, type SentinelSetOptions, startSentinelSet } from '../../../kit/redis/sentinel';
import { freePort, type useServerProcesses } from '../../../kit/spec/processes';
import { headStartsWanted, startedOnce } from '../../../kit/spec/wait';

export const LESSON = '07-redis-ha';
/** Not Redis's default "mymaster": a client that ignores REDIS_MASTER_NAME finds nothing. */
export const MASTER_NAME = 'shop-07';
/** WAIT_TIMEOUT_MS and REDIS_DEADLINE_MS of the spec servers. */
export const WAIT_TIMEOUT_MS = 300;
export const DEADLINE_MS = 1_500;

/** Every variable the lesson's server reads. */
const CONFIG_VARIABLES = [
  'NODE_ENV',
  'PORT',
  'SERVER_ID',
  'REDIS_URL',
  'REDIS_SENTINELS',
  'REDIS_MASTER_NAME',
  'WAIT_TIMEOUT_MS',
  'REDIS_DEADLINE_MS',
  'SESSION_SECRET',
  'SESSION_TTL_SECONDS',
  'SESSION_PREFIX',
  'DRAIN_TIMEOUT_MS',
  'ENABLE_CHAOS',
] as const;

/** The earliest README step still to do in the lesson under test (undefined: all done). */
export function nextStep(): number | undefined {
  return unfinishedSteps(lessonSrcDir(LESSON))[0]?.step;
}

/** "host:port,host:port" */
export const addresses = (nodes: RedisNode[]) => nodes.map((node) => `${node.host}:${node.port}`).join(',');

/** The start options of a lesson server on these Sentinels; `env` overrides. */
export function shopOptions(serverId: string, sentinels: RedisNode[], env: Record<string, string> = {}) {
  return {
    lesson: LESSON,
    entry: 'server.ts',
    unset: CONFIG_VARIABLES,
    env: {
      NODE_ENV: 'development',
      SERVER_ID: serverId,
      REDIS_SENTINELS: addresses(sentinels),
      REDIS_MASTER_NAME: MASTER_NAME,
      WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
      REDIS_DEADLINE_MS: String(DEADLINE_MS),
      SESSION_SECRET: 'lesson-07-spec-secret-7a2c',
      SESSION_TTL_SECONDS: '600',
      SESSION_PREFIX: 'sess:',
      DRAIN_TIMEOUT_MS: '2000',
      ENABLE_CHAOS: '0',
      ...env,
    },
    // Started in the background and shared: a task reads a 501's body, never the process's output.
    recordTodos: false,
    readyTimeoutMs: 25_000,
  };
}

export type ServerStarter = Pick<ReturnType<typeof useServerProcesses>, 'start' | 'runToExit'>;

/**
 * One Sentinel set for the spec file, started in beforeAll only when `wanted()` (a starter that
 * would fail before using it starts nothing), stopped after the file.
 */
export function useSentinelSet(options: SentinelSetOptions, wanted: () => boolean) {
  // COURSE_SENTINEL_LOG=<file>: every line the Sentinels and Redis print, for a failover that went wrong.
  const logFile = process.env.COURSE_SENTINEL_LOG;
  const log = logFile
    ? (line: string) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`)
    : undefined;
  const set = startedOnce(() => startSentinelSet({ masterName: MASTER_NAME, log, ...options }));
  let started = false;
  beforeAll(() => {
    if (!wanted() || !headStartsWanted()) return;
    started = true;
    set.begin();
  });
  afterAll(async () => {
    if (started) await (await set.get().catch(() => undefined))?.stop();
  });
  return {
    get: () => {
      started = true;
      return set.get();
    },
  };
}

/** Ports where nothing listens (a Sentinel that is down). */
export async function deadPorts(count: number): Promise<RedisNode[]> {
  return Promise.all(
    Array.from({ length: count }, async () => ({ host: '127.0.0.1', port: await freePort() })),
  );
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export type { SentinelSet };
