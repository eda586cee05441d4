/**
 * Lesson 03 — when Redis goes away. The sessions live in Redis now, so Redis can fail the cart. It
 * must fail it honestly and briefly: a fast 503, no hang, no crash, and carts again as soon as Redis
 * is back — with no restart of the server.
 * This file runs a redis-server of its own (usePrivateRedis) and stops it on purpose: the other spec
 * files, on the run's shared Redis, are not disturbed.
 * Run: npm test lessons/03
 */
import { type ServerProcess, useServerProcesses } from '../../../kit/spec/processes';
import { usePrivateRedis } from '../../../kit/spec/redis';
import { lesson } from '../../../kit/spec/task';
import {
  type Answer,
  failIfExited,
  LESSON,
  macbook,
  PROCESS_TIMEOUT_MS,
  Shopper,
  sharedServer,
} from './support';

const { topic, task } = lesson(LESSON);
const redis = usePrivateRedis();
const servers = useServerProcesses();
const server = sharedServer(servers, () => ({
  lesson: LESSON,
  entry: 'server.ts',
  env: { REDIS_URL: redis.url, SERVER_ID: 'server-1' },
}));

/** The contract: while Redis is unreachable, a cart request is answered within this time. */
const ANSWER_WITHIN_MS = 1_000;
/** Bound on "Redis is back, carts work again" (node-redis's default strategy waits at most ~2.2 s). */
const RECOVERY_WITHIN_MS = 5_000;

let redisDown = false;

async function stopRedis(): Promise<void> {
  await redis.stop();
  redisDown = true;
}

async function startRedisAgain(): Promise<void> {
  await redis.restart();
  redisDown = false;
}

// Every test starts with Redis up, whatever the previous one did.
afterEach(async () => {
  if (redisDown) await startRedisAgain();
});

/** Asks until an answer passes `done`, for at most `withinMs`; gives the last answer either way. */
async function pollUntil(
  attempt: () => Promise<Answer>,
  done: (answer: Answer) => boolean,
  withinMs: number,
): Promise<{ ok: boolean; last: Answer }> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const last = await attempt();
    if (done(last)) return { ok: true, last };
    if (Date.now() >= deadline) return { ok: false, last };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Runs `body` against the server; if the server died meanwhile, that is the failure to report. */
async function watching<T>(current: ServerProcess, body: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (error) {
    // A refused request is often the first sign of a crash: give the exit a moment to show.
    await failIfExited(current, 1_000);
    throw error;
  }
  await failIfExited(current);
  return result;
}

/** A server whose carts work now (after an earlier outage its client may still be reconnecting). */
async function serverWithWorkingCarts(): Promise<ServerProcess> {
  const current = await server.get();
  const probe = new Shopper();
  const works = await pollUntil(
    () => probe.get(current, '/cart'),
    (a) => a.status === 200,
    RECOVERY_WITHIN_MS,
  );
  // A client that never came back would fail every later test for that one reason: start afresh.
  return works.ok ? current : server.restart();
}

/**
 * Waits until the server has noticed that Redis is gone: a cart request is no longer served (node-redis
 * sees the closed connection a moment after Redis exits). Each request must be answered within 1 s.
 */
async function untilOutageNoticed(current: ServerProcess, shopper: Shopper): Promise<void> {
  const noticed = await pollUntil(
    () => shopper.get(current, '/cart', ANSWER_WITHIN_MS),
    (answer) => answer.status !== 200,
    RECOVERY_WITHIN_MS,
  );
  if (!noticed.ok)
    throw new Error(`Redis is down, yet GET /cart kept answering 200 for ${RECOVERY_WITHIN_MS} ms.`);
}

topic('when Redis goes away', () => {
  task(
    'a cart request answers 503 with a JSON error within 1 s',
    {
      points: 3,
      step: 'Step 4',
      severity: 'critical',
      hint:
        'While the client is not ready, requireRedis (src/guard.ts) answers by itself, at once: status 503 and ' +
        '{ error, message }, without next() — the session store behind it can only fail or wait for Redis.',
      timeout: PROCESS_TIMEOUT_MS,
    },
    async () => {
      const current = await serverWithWorkingCarts();
      const shopper = new Shopper();
      expect((await shopper.post(current, '/cart/items', macbook)).status).toBe(201);

      await stopRedis();
      const answers = await watching(current, async () => {
        await untilOutageNoticed(current, shopper);
        const cart = await shopper.get(current, '/cart', ANSWER_WITHIN_MS);
        const newcomer = await new Shopper().post(current, '/cart/items', macbook, ANSWER_WITHIN_MS);
        return [cart, newcomer];
      });

      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.headers.get('content-type')).toMatch(/application\/json/);
        expect(answer.body).toEqual({ error: expect.any(String), message: expect.any(String) });
        expect(answer.ms).toBeLessThan(ANSWER_WITHIN_MS);
      }
    },
  );

  task(
    'the server process keeps running and answers /health',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint:
        'node-redis emits "error" when it loses Redis and at every failed reconnection; an EventEmitter with ' +
        'no "error" listener throws, and the process dies. Listen and log (src/redis.ts).',
      timeout: PROCESS_TIMEOUT_MS,
    },
    async () => {
      const current = await server.get();
      const shopper = new Shopper();

      await stopRedis();
      const health = await watching(current, async () => {
        // Whatever the cart answers here is the previous task's business; this one is about surviving.
        await untilOutageNoticed(current, shopper).catch(() => undefined);
        return shopper.get(current, '/health', ANSWER_WITHIN_MS);
      });

      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: 'ok', serverId: 'server-1' });
    },
  );

  task(
    'carts work again once Redis is back, without restarting the server',
    {
      points: 2,
      step: 'Step 1',
      hint:
        'The client must reconnect by itself: socket.reconnectStrategy returns a delay in ms (never false, ' +
        'which gives up for good). Redis restarts empty here, so the cart starts afresh.',
      timeout: PROCESS_TIMEOUT_MS,
    },
    async () => {
      // Any running server will do, even one still reconnecting after an earlier outage: this is one more.
      const current = await server.get();
      const shopper = new Shopper();
      await stopRedis();
      await watching(current, () => untilOutageNoticed(current, shopper));

      await startRedisAgain();
      const added = await watching(current, () =>
        pollUntil(
          () => shopper.post(current, '/cart/items', macbook, ANSWER_WITHIN_MS),
          (answer) => answer.status === 201,
          RECOVERY_WITHIN_MS,
        ),
      );
      const cart = await shopper.get(current, '/cart');

      if (!added.ok) {
        throw new Error(
          `Redis has been back for ${RECOVERY_WITHIN_MS} ms and POST /cart/items still answers ` +
            `${added.last.status} ${JSON.stringify(added.last.body)}: the server did not reconnect.`,
        );
      }
      expect(cart.body.items).toEqual([macbook]);
    },
  );
});
