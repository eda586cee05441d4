/**
 * Lesson 05 — one Redis client per process. However many requests a server handles at once, Redis
 * sees ONE connection from it, carrying its name. When Redis goes away, the server answers a fast 503
 * and stays up; when Redis is back, the same process reconnects by itself — with a backoff that is
 * capped and jittered, so a fleet of servers does not stampede a Redis that just came back.
 * This file runs a redis-server of its own (usePrivateRedis): it stops it on purpose, and it counts
 * every connection Redis has, which only works where no other spec file connects.
 * Run: npm test lessons/05
 */
import { createClient, type RedisClientType } from 'redis';
import { type Answer, Visitor } from '../../../kit/spec/browser';
import {
  failIfExited,
  PROCESS_TIMEOUT_MS,
  throwIfNotImplemented,
  useServerProcesses,
} from '../../../kit/spec/processes';
import { untilOutageNoticed, usePrivateRedis } from '../../../kit/spec/redis';
import { macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { pollUntil, startedOnce } from '../../../kit/spec/wait';
import { FIRST_RECONNECT_DELAY_MS, MAX_RECONNECT_DELAY_MS, reconnectDelay } from '../src/redis';
import { LESSON, serverEnv } from './support';

const { topic, task } = lesson(LESSON);
const redis = usePrivateRedis();
const servers = useServerProcesses();

const SERVER_ID = 'shop-web-1';
const server = startedOnce(() =>
  servers.start({
    lesson: LESSON,
    entry: 'server.ts',
    env: serverEnv({ REDIS_URL: redis.url, SERVER_ID }),
    // It boots while the in-process tasks run: the tasks that need it check its start themselves.
    recordTodos: false,
  }),
);
beforeAll(() => server.begin());

const STEP_2 = 'Step 2';
const STEP_3 = 'Step 3';
/** The contract: while Redis is unreachable, a cart request is answered within this time. */
const ANSWER_WITHIN_MS = 1_000;
/** Bound on "Redis is back, carts work again": a few times the longest reconnect wait. */
const RECOVERY_WITHIN_MS = 5_000;
const CONCURRENT_VISITORS = 50;
/** Noticing an outage: every request answered within 1 s, the cart no longer served within 5 s. */
const OUTAGE = { answerWithinMs: ANSWER_WITHIN_MS, withinMs: RECOVERY_WITHIN_MS };

/** The name this file's own look-ups go by, so they can be told apart from the server's connection. */
const SPEC_CLIENT = 'spec-looking-in';

interface Connection {
  id: number;
  name: string;
}

/** Every connection Redis has, except the one asking (CLIENT LIST, as `redis-cli CLIENT LIST` shows it). */
async function serverConnections(): Promise<Connection[]> {
  const client: RedisClientType = createClient({
    url: redis.url,
    name: SPEC_CLIENT,
    disableOfflineQueue: true,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const list = await client.clientList();
    return list.filter((c) => c.name !== SPEC_CLIENT).map((c) => ({ id: c.id, name: c.name }));
  } finally {
    await client.close();
  }
}

topic('how long to wait before reconnecting (in-process)', () => {
  const hint =
    'Double a delay that starts near FIRST_RECONNECT_DELAY_MS with each attempt, cap it at ' +
    'MAX_RECONNECT_DELAY_MS, and draw part of it with random(): e.g. half fixed, half random.';
  const middle = () => 0.5;

  task(
    'the wait grows with each failed attempt, from about FIRST_RECONNECT_DELAY_MS',
    { points: 2, step: STEP_3, hint },
    () => {
      const waits = Array.from({ length: 8 }, (_, retries) => reconnectDelay(retries, middle));

      expect(waits[0]).toBeLessThanOrEqual(2 * FIRST_RECONNECT_DELAY_MS);
      for (let i = 1; i < waits.length; i++) expect(waits[i]).toBeGreaterThanOrEqual(waits[i - 1]);
      expect(waits[4]).toBeGreaterThanOrEqual(4 * waits[0]);
    },
  );

  task(
    'it never exceeds MAX_RECONNECT_DELAY_MS, and never gives up (always a number of ms)',
    { points: 2, step: STEP_3, severity: 'critical', hint },
    () => {
      for (const retries of [0, 5, 10, 30, 100, 10_000]) {
        for (const random of [0, 0.5, 0.999_999]) {
          const wait = reconnectDelay(retries, () => random);
          expect(Number.isFinite(wait)).toBe(true);
          expect(wait).toBeGreaterThanOrEqual(0);
          expect(wait).toBeLessThanOrEqual(MAX_RECONNECT_DELAY_MS);
        }
      }
    },
  );

  task(
    'it is jittered: servers that retry at the same attempt wait different times',
    { points: 2, step: STEP_3, hint },
    () => {
      const randoms = [0, 0.25, 0.5, 0.75, 0.999];

      const capped = new Set(randoms.map((random) => reconnectDelay(20, () => random)));
      const early = new Set(randoms.map((random) => reconnectDelay(3, () => random)));

      expect(capped.size).toBe(randoms.length);
      expect(early.size).toBe(randoms.length);
    },
  );
});

topic(`when ${CONCURRENT_VISITORS} visitors shop at once`, () => {
  task(
    'Redis sees exactly one connection from the server, named after it, the same one throughout',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      timeout: PROCESS_TIMEOUT_MS,
      hint:
        'Create the client once, in connectRedis (server.ts calls it once, at startup), with `name` set; ' +
        'every request shares it. node-redis multiplexes concurrent commands over one connection.',
    },
    async () => {
      const current = await server.get();
      const before = await serverConnections();

      const burst = Promise.all(
        Array.from({ length: CONCURRENT_VISITORS }, () =>
          new Visitor().post(current, '/cart/items', macbook),
        ),
      );
      // Look while the requests are in flight too: a client per request may be gone by the end.
      const during = await serverConnections();
      const answers = await burst;
      const after = await serverConnections();

      expect(answers.map((answer) => answer.status)).toEqual(Array(CONCURRENT_VISITORS).fill(201));
      expect(before).toEqual([{ id: expect.any(Number), name: SERVER_ID }]);
      expect(during).toEqual(before);
      expect(after).toEqual(before);
    },
  );
});

topic('when Redis goes away', () => {
  task(
    'a cart request answers a JSON 503 within 1 s, and the process keeps running',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      timeout: PROCESS_TIMEOUT_MS,
      hint:
        'Keep lesson 03’s lessons: an "error" listener (without one the process dies with Redis) and ' +
        'disableOfflineQueue (without it, commands wait for Redis). The 503 guard is given.',
    },
    async () => {
      const current = await server.get();
      const shopper = new Visitor();
      expect((await shopper.post(current, '/cart/items', macbook)).status).toBe(201);

      await redis.stop();
      await untilOutageNoticed(current, shopper, OUTAGE);
      const cart = await shopper.get(current, '/cart', ANSWER_WITHIN_MS);
      const health = await shopper.get(current, '/health', ANSWER_WITHIN_MS);
      await failIfExited(current);

      expect(cart.status).toBe(503);
      expect(cart.body).toEqual({ error: expect.any(String), message: expect.any(String) });
      expect(cart.ms).toBeLessThan(ANSWER_WITHIN_MS);
      expect(health.status).toBe(200);
    },
  );

  task(
    'once Redis is back, carts work again: same process, still one named connection',
    {
      points: 3,
      step: STEP_3,
      severity: 'critical',
      timeout: PROCESS_TIMEOUT_MS,
      hint:
        'socket.reconnectStrategy: (retries) => reconnectDelay(retries). A strategy that returns false or ' +
        'an Error gives up for good, and the server would need a restart.',
    },
    async () => {
      const current = await server.get();
      const shopper = new Visitor();
      if (!redis.stopped) {
        await redis.stop();
        await untilOutageNoticed(current, shopper, OUTAGE);
      }

      await redis.restart();
      const added = await pollUntil<Answer>(
        () => shopper.post(current, '/cart/items', macbook, ANSWER_WITHIN_MS),
        (answer) => answer.status === 201,
        RECOVERY_WITHIN_MS,
      );
      await failIfExited(current);
      const connections = await serverConnections();

      if (!added.ok) {
        throw new Error(
          `Redis has been back for ${RECOVERY_WITHIN_MS} ms and POST /cart/items still answers ` +
            `${added.last.status} ${JSON.stringify(added.last.body)}: the client did not reconnect.`,
        );
      }
      expect(connections).toEqual([{ id: expect.any(Number), name: SERVER_ID }]);
    },
  );
});

topic('when a deploy stops the server (SIGTERM)', () => {
  task(
    'it closes its Redis client, then exits 0',
    {
      points: 1,
      step: STEP_2,
      timeout: PROCESS_TIMEOUT_MS,
      hint: 'closeRedis runs after the drain: client.close(), unless the client is closed already (isOpen).',
    },
    async () => {
      const current = await server.get();

      const exit = await current.kill('SIGTERM');
      throwIfNotImplemented(current.output());

      expect(exit).toEqual({ code: 0, signal: null });
      expect(current.output()).toContain('Redis client closed');
    },
  );
});
