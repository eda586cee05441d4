/**
 * Redis for specs. A spec file that imports this gets the embedded Redis of the run (Jest starts it
 * for lessons whose specs import this file: see jest.config.ts).
 *
 *   const redis = useRedis();            // at the top of the spec file
 *   redis.url                            // hand it to the app (REDIS_URL=…): this file's own database
 *   await redis.client.pTTL('sess:…')    // look inside, as `redis-cli` would
 *
 * Isolation: each test file takes its own database number (INCR on a counter in database 0), flushes
 * it before and after, so files running in parallel never see each other's keys.
 */
import { createClient, type RedisClientType } from 'redis';
import { type EmbeddedRedis, findRedisBinary, type RedisBinary, startEmbeddedRedis } from '../redis/embedded';
import { timed } from '../timings';
import type { Visitor } from './browser';
import { pollUntil } from './wait';

export interface SpecRedis {
  /** This file's database on the run's Redis, e.g. redis://127.0.0.1:41234/7 */
  readonly url: string;
  /** A client on that database, for assertions (KEYS, PTTL, GET…). */
  readonly client: RedisClientType;
}

export function useRedis(): SpecRedis {
  let url = '';
  let client: RedisClientType | undefined;
  let admin: RedisClientType | undefined;

  beforeAll(async () => {
    const base = runRedisUrl();
    admin = await connect(base);
    const db = await claimDatabase(admin);
    url = withDatabase(base, db);
    client = await connect(url);
    await client.flushDb();
  });

  afterAll(async () => {
    await client?.flushDb().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
  });

  return {
    get url() {
      if (!url) throw new Error('useRedis(): the Redis URL is known only once beforeAll has run.');
      return url;
    },
    get client() {
      if (!client) throw new Error('useRedis(): the client is ready only once beforeAll has run.');
      return client;
    },
  };
}

function runRedisUrl(): string {
  const url = process.env.COURSE_REDIS_URL;
  if (url) return url;
  throw new Error(
    process.env.COURSE_REDIS_ERROR ??
      'No Redis for this run: COURSE_REDIS_URL is not set. Run the specs through `npm test`, which starts one.',
  );
}

async function connect(url: string): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url, disableOfflineQueue: true });
  // A spec's client must never crash the worker when a Redis goes away on purpose.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function claimDatabase(admin: RedisClientType): Promise<number> {
  const counter = await admin.incr('course:spec-databases:next');
  const reply = await admin.configGet('databases').catch(() => ({ databases: '16' }));
  const databases = Number(reply.databases ?? 16);
  return 1 + ((counter - 1) % (databases - 1));
}

function withDatabase(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.toString();
}

/**
 * A Redis of the test's own, for tests that stop Redis on purpose (an outage must not disturb the
 * other files sharing the run's Redis). Started before the file's tests, stopped after them;
 * stop() / restart() in between at will (restart: same port, no data). Every test starts with it up:
 * a test that left it stopped (on purpose, or failing halfway through an outage) gets it restarted
 * after it, so no outage leaks into the next test.
 */
export interface PrivateRedis {
  readonly url: string;
  /** True between a stop() and the restart() that ends the outage. */
  readonly stopped: boolean;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export function usePrivateRedis(): PrivateRedis {
  let redis: EmbeddedRedis | undefined;
  let stopped = false;

  beforeAll(async () => {
    const binary: RedisBinary = process.env.COURSE_REDIS_BINARY
      ? { source: 'REDISMS_SYSTEM_BINARY', path: process.env.COURSE_REDIS_BINARY }
      : findRedisBinary();
    redis = await timed('redis-start', 'a private Redis', () => startEmbeddedRedis(binary));
  });
  afterEach(async () => {
    if (stopped) await restart();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const started = () => {
    if (!redis) throw new Error('usePrivateRedis(): Redis is started in beforeAll; use it inside a test.');
    return redis;
  };
  const restart = async () => {
    await started().restart();
    stopped = false;
  };
  return {
    get url() {
      return started().url;
    },
    get stopped() {
      return stopped;
    },
    async stop() {
      await started().stop();
      stopped = true;
    },
    restart,
  };
}

/**
 * Waits until a cart server has noticed that Redis is gone: a cart request is no longer served
 * (node-redis sees the closed connection a moment after Redis exits). Each request must be answered
 * within `answerWithinMs`; fails if the cart is still served after `withinMs`. Without this wait an
 * outage task would race the client and assert on an answer from before the outage.
 */
export async function untilOutageNoticed(
  server: { url: string },
  visitor: Visitor,
  bounds: { answerWithinMs: number; withinMs: number },
): Promise<void> {
  const noticed = await pollUntil(
    () => visitor.get(server, '/cart', bounds.answerWithinMs),
    (answer) => answer.status !== 200,
    bounds.withinMs,
  );
  if (!noticed.ok)
    throw new Error(`Redis is down, yet GET /cart kept answering 200 for ${bounds.withinMs} ms.`);
}
