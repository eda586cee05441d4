/**
 * Lesson 03 — when Redis goes away. The sessions live in Redis now, so Redis can fail the cart. It
 * must fail it honestly and briefly: a fast 503, no hang, no crash, and carts again as soon as Redis
 * is back — with no restart of the server.
 * This file runs a redis-server of its own (usePrivateRedis) and stops it on purpose: the other spec
 * files, on the run's shared Redis, are not disturbed.
 * Run: npm test lessons/03
 */
import { Visitor } from '../../../kit/spec/browser';
import {
  failIfExited,
  PROCESS_TIMEOUT_MS,
  type ServerProcess,
  sharedServer,
  useServerProcesses,
} from '../../../kit/spec/processes';
import { untilOutageNoticed, usePrivateRedis } from '../../../kit/spec/redis';
import { macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { pollUntil } from '../../../kit/spec/wait';
import { LESSON } from './support';

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
/** Noticing an outage: every request answered within 1 s, the cart no longer served within 5 s. */
const OUTAGE = { answerWithinMs: ANSWER_WITHIN_MS, withinMs: RECOVERY_WITHIN_MS };

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
  const probe = new Visitor();
  const works = await pollUntil(
    () => probe.get(current, '/cart'),
    (a) => a.status === 200,
    RECOVERY_WITHIN_MS,
  );
  // A client that never came back would fail every later test for that one reason: start afresh.
  return works.ok ? current : server.restart();
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
      const shopper = new Visitor();
      expect((await shopper.post(current, '/cart/items', macbook)).status).toBe(201);

      await redis.stop();
      const answers = await watching(current, async () => {
        await untilOutageNoticed(current, shopper, OUTAGE);
        const cart = await shopper.get(current, '/cart', ANSWER_WITHIN_MS);
        const newcomer = await new Visitor().post(current, '/cart/items', macbook, ANSWER_WITHIN_MS);
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
      const shopper = new Visitor();

      await redis.stop();
      const health = await watching(current, async () => {
        // Whatever the cart answers here is the previous task's business; this one is about surviving.
        await untilOutageNoticed(current, shopper, OUTAGE).catch(() => undefined);
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
      const shopper = new Visitor();
      await redis.stop();
      await watching(current, () => untilOutageNoticed(current, shopper, OUTAGE));

      await redis.restart();
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
