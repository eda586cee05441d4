/**
 * Lesson 05 — one shop server on a Redis of its own (README Steps 2, 3 and 4).
 *
 * However many requests a server handles at once, Redis sees ONE connection from it, carrying its
 * name. Its sessions leave Redis by themselves when a visitor goes away, and slide while they shop;
 * the secret that signs the cookies can be replaced without logging anybody out. When Redis goes
 * away, the server answers a fast 503 and stays up; when Redis is back, the same process reconnects
 * by itself — with a backoff that is capped and jittered, so a fleet does not stampede a Redis that
 * just came back.
 *
 * What cannot be seen from outside a process (how long node-redis waits between two attempts) is
 * checked in this process, on the functions of src/redis.ts and src/session.ts; the rest on a real
 * server process, `shop-web-1`:
 *   SESSION_TTL_SECONDS=60, SESSION_SECRET=new,old (after a secret rotation), SESSION_PREFIX=shop:sess:
 * This file runs a redis-server of its own (usePrivateRedis): it stops it on purpose, and it counts
 * every connection Redis has, which only works where no other spec file connects.
 * No task sleeps: PTTL says how long a key has left, and every wait is for a real condition, bounded.
 * Run: npm test lessons/05
 */
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { createClient, type RedisClientType } from 'redis';
import { type Answer, Visitor } from '../../../kit/spec/browser';
import {
  failIfExited,
  PROCESS_TIMEOUT_MS,
  throwIfNotImplemented,
  useServerProcesses,
  within,
} from '../../../kit/spec/processes';
import { untilOutageNoticed, usePrivateRedis } from '../../../kit/spec/redis';
import { macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { pollUntil, startedOnce } from '../../../kit/spec/wait';
import { NotImplementedError } from '../../../kit/todo';
import {
  closeRedis,
  connectRedis,
  FIRST_RECONNECT_DELAY_MS,
  MAX_RECONNECT_DELAY_MS,
  reconnectDelay,
} from '../src/redis';
import { createSessionStore } from '../src/session';
import {
  assert,
  cookieLifetimeSeconds,
  expectEveryStepDone,
  failFastBeforeStep1,
  getWithCookie,
  LESSON,
  serverEnv,
  sessionSetCookie,
  signature,
  signatureIn,
  signedCookie,
} from './support';

const { topic, task } = lesson(LESSON);
const redis = usePrivateRedis();
const servers = useServerProcesses();

const STEP_2 = 'Step 2';
const STEP_3 = 'Step 3';
const STEP_4 = 'Step 4';
const timeout = PROCESS_TIMEOUT_MS;

const SERVER_ID = 'shop-web-1';
const TTL_SECONDS = 60;
const TTL_MS = TTL_SECONDS * 1000;
/** Not the default 'sess:': the store must use the prefix it is configured with. */
const PREFIX = 'shop:sess:';
const OLD_SECRET = 'old-secret-2024-7f3a9c1e';
const NEW_SECRET = 'new-secret-2025-b84d20f6';

/** The contract: while Redis is unreachable, a cart request is answered within this time. */
const ANSWER_WITHIN_MS = 1_000;
/** Bound on "Redis is back, the client is ready again": generous, node-redis's own fallback included. */
const RECOVERY_WITHIN_MS = 5_000;
/**
 * The same for the in-process client of Step 2, whose reconnect strategy may still be Step 3's todo():
 * node-redis then falls back to its own backoff (up to 2.2 s between attempts). A bound, not a speed
 * test: Step 3's tasks check your backoff itself.
 */
const RECONNECT_WITHIN_MS = 10_000;
/** A command sent while Redis is cut off: settled within this time means it did not wait for Redis. */
const FAILS_AT_ONCE_MS = 1_000;
const CONCURRENT_VISITORS = 50;
/** Noticing an outage: every request answered within 1 s, the cart no longer served within 5 s. */
const OUTAGE = { answerWithinMs: ANSWER_WITHIN_MS, withinMs: RECOVERY_WITHIN_MS };

const server = startedOnce(async () => {
  const env = serverEnv({
    REDIS_URL: redis.url,
    SERVER_ID,
    SESSION_PREFIX: PREFIX,
    SESSION_TTL_SECONDS: String(TTL_SECONDS),
    SESSION_SECRET: `${NEW_SECRET},${OLD_SECRET}`,
  });
  failFastBeforeStep1(env);
  // It boots while the in-process tasks run: the tasks that need it check its start themselves.
  return servers.start({ lesson: LESSON, entry: 'server.ts', env, recordTodos: false });
});

// ── Looking into Redis, as redis-cli would ───────────────────────────────────────────────────────

/** Every connection this file opens itself has a name that starts so; the server's never does. */
const SPEC_NAME = 'spec-';

/** A short-lived connection of this file's own, for one look (it survives outages: one per look). */
async function lookIn<T>(look: (client: RedisClientType) => Promise<T>): Promise<T> {
  const client: RedisClientType = createClient({
    url: redis.url,
    name: `${SPEC_NAME}looking-in`,
    disableOfflineQueue: true,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await look(client);
  } finally {
    await client.close();
  }
}

/** The connections Redis has from anyone but this file (CLIENT LIST, as `redis-cli CLIENT LIST`). */
async function serverConnections(): Promise<Array<{ id: number; name: string }>> {
  const list = await lookIn((client) => client.clientList());
  return list.filter((c) => !c.name.startsWith(SPEC_NAME)).map((c) => ({ id: c.id, name: c.name }));
}

/** The key's PTTL in ms; fails clearly when there is no such key (a prefix not passed on, say). */
async function pttl(client: RedisClientType, key: string): Promise<number> {
  const ms = await client.pTTL(key);
  if (ms === -2) {
    const found = await client.keys(`*${key.slice(PREFIX.length)}`);
    throw new Error(
      `No key ${key} in Redis (keys of this session: ${JSON.stringify(found)}). ` +
        'Does createSessionStore pass config.sessionPrefix to the store?',
    );
  }
  return ms;
}

const keyOf = (shopper: Visitor) => `${PREFIX}${shopper.sessionId()}`;

// ── Clients of your connectRedis, in this process ────────────────────────────────────────────────

const opened: RedisClientType[] = [];

/**
 * How long connectRedis may take against a Redis that is up. A local connect takes milliseconds; the
 * bound is generous because the first one in a cold run, beside a browser and a load test, once took
 * over 3 s (a clean-clone `.ci/run`).
 */
const CONNECT_BOUND_MS = 10_000;

/** connectRedis({ url, name }) on this file's Redis, bounded; closed after the task whatever happens. */
async function yourClient(name: string, url = redis.url): Promise<RedisClientType> {
  const connecting = connectRedis({ url, name: `${SPEC_NAME}${name}` });
  const client = await within(connecting, CONNECT_BOUND_MS);
  if (!client)
    throw new Error(
      `connectRedis({ url, name }) did not resolve within ${CONNECT_BOUND_MS / 1000} s (Redis is up).`,
    );
  opened.push(client);
  return client;
}

afterEach(async () => {
  for (const client of opened.splice(0)) {
    if (client.isOpen) await client.destroy();
  }
});

/**
 * A TCP relay in front of this file's Redis, for one client: cut() takes Redis out of its reach (the
 * connection is cut, new ones are refused) without stopping Redis for the server, reopen() brings it
 * back on the same port.
 */
async function redisProxy() {
  const target = new URL(redis.url);
  const sockets = new Set<Socket>();
  let listener: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const relay = createServer((visitor) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const socket of [visitor, upstream]) {
          sockets.add(socket);
          socket.on('error', () => undefined);
          socket.on('close', () => {
            sockets.delete(socket);
            visitor.destroy();
            upstream.destroy();
          });
        }
        visitor.pipe(upstream).pipe(visitor);
      });
      relay.once('error', reject);
      relay.listen(port, '127.0.0.1', () => {
        port = (relay.address() as AddressInfo).port;
        listener = relay;
        resolve();
      });
    });
  const cut = async () => {
    const closing = listener;
    listener = undefined;
    if (!closing) return;
    const closed = new Promise((resolve) => closing.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await open();
  return { url: `redis://127.0.0.1:${port}`, cut, reopen: open, close: cut };
}

/** Error output of the client's own 'error' listener, kept out of the test report while a task runs. */
function quietConsole(): () => void {
  const spies = [jest.spyOn(console, 'error'), jest.spyOn(console, 'warn'), jest.spyOn(console, 'log')];
  for (const spy of spies) spy.mockImplementation(() => undefined);
  return () => {
    for (const spy of spies) spy.mockRestore();
  };
}

// ── The story that takes time (arrange + act), started as the file begins ────────────────────────

/** A visitor fills a cart, a moment passes, and they look at the cart again. */
const slidingStory = startedOnce(async () => {
  const current = await server.get();
  const shopper = new Visitor();
  const added = await shopper.post(current, '/cart/items', macbook);
  const key = keyOf(shopper);
  return lookIn(async (client) => {
    const stored = await client.get(key);
    const afterAdd = await pttl(client, key);
    // A real condition, not a sleep: the key has aged by at least 150 ms.
    const aged = await pollUntil(
      () => pttl(client, key),
      (ms) => ms <= afterAdd - 150,
      5_000,
      10,
    );
    const looked = await shopper.get(current, '/cart');
    const afterLook = await pttl(client, key);
    const storedAfterLook = await client.get(key);
    return { added, stored, afterAdd, aged: aged.last, looked, afterLook, storedAfterLook };
  });
});

beforeAll(() => {
  server.begin();
  slidingStory.begin();
});

// ── Step 3, in this process: how long to wait before reconnecting ───────────────────────────────

topic('how long to wait before reconnecting (in-process: reconnectDelay)', () => {
  const hint =
    'Double a delay that starts near FIRST_RECONNECT_DELAY_MS with each attempt, cap it at ' +
    'MAX_RECONNECT_DELAY_MS, and draw part of it (not all) with random().';
  const middle = () => 0.5;

  task(
    'the wait doubles with each failed attempt, from about FIRST_RECONNECT_DELAY_MS',
    { points: 2, step: STEP_3, hint },
    () => {
      const waits = Array.from({ length: 12 }, (_, retries) => reconnectDelay(retries, middle));

      const said = `With random() = 0.5, the waits for retries 0, 1, 2… are ${waits.join(', ')} ms`;

      assert(
        waits[0] > 0 && waits[0] <= 2 * FIRST_RECONNECT_DELAY_MS,
        `${said}: the first should be about FIRST_RECONNECT_DELAY_MS (${FIRST_RECONNECT_DELAY_MS}).`,
      );
      for (let i = 1; i < waits.length; i++) assert(waits[i] >= waits[i - 1], `${said}: a wait got shorter.`);
      // Below the cap (50, 100, 200, 400 ms ceilings), each wait is about twice the one before.
      for (let i = 1; i <= 3; i++)
        assert(waits[i] >= 1.8 * waits[i - 1], `${said}: each should be about twice the one before.`);
    },
  );

  task(
    'it never exceeds MAX_RECONNECT_DELAY_MS, and never gives up (always a number of ms)',
    { points: 2, step: STEP_3, severity: 'critical', hint },
    () => {
      for (const retries of [0, 5, 9, 10, 11, 30, 100, 10_000]) {
        for (const random of [0, 0.5, 0.999_999]) {
          const wait = reconnectDelay(retries, () => random);
          assert(
            typeof wait === 'number' && Number.isFinite(wait) && wait >= 0 && wait <= MAX_RECONNECT_DELAY_MS,
            `reconnectDelay(${retries}, () => ${random}) is ${String(wait)}: it must be a number of ms from 0 to ` +
              `MAX_RECONNECT_DELAY_MS (${MAX_RECONNECT_DELAY_MS}).`,
          );
        }
      }
    },
  );

  task(
    'once capped, even the luckiest draw waits at least half of MAX_RECONNECT_DELAY_MS',
    { points: 1, step: STEP_3, hint },
    () => {
      const waits = [0, 0.5, 0.999_999].map((random) => reconnectDelay(30, () => random));

      const said = `After 30 failed attempts, with random() = 0, 0.5 and 0.999999, the waits are ${waits.join(', ')} ms`;

      assert(
        waits.every((wait) => wait >= MAX_RECONNECT_DELAY_MS / 2),
        `${said}: none should be under half of MAX_RECONNECT_DELAY_MS (a server that waits ~0 ms hammers Redis).`,
      );
      assert(
        Math.max(...waits) >= 0.95 * MAX_RECONNECT_DELAY_MS,
        `${said}: the cap is MAX_RECONNECT_DELAY_MS (${MAX_RECONNECT_DELAY_MS}), and the longest should come close to it.`,
      );
    },
  );

  task(
    'it is jittered with the random() it is given: different draws, different waits; the same draw, the same wait',
    { points: 2, step: STEP_3, hint },
    () => {
      const randoms = [0, 0.25, 0.5, 0.75, 0.999];

      for (const retries of [0, 3, 20]) {
        const waits = randoms.map((random) => reconnectDelay(retries, () => random));
        const again = randoms.map((random) => reconnectDelay(retries, () => random));
        assert(
          new Set(waits).size === randoms.length,
          `reconnectDelay(${retries}, random) for random() = ${randoms.join(', ')} gives ${waits.join(', ')} ms: ` +
            'different draws should give different waits (jitter).',
        );
        assert(
          again.join() === waits.join(),
          `reconnectDelay(${retries}, random) gave ${waits.join(', ')} ms, then ${again.join(', ')} ms for the same ` +
            'draws: the wait should depend only on retries and the random() it is given.',
        );
      }
    },
  );
});

// ── Steps 2 and 3, in this process: your connectRedis and closeRedis ────────────────────────────

topic('the client connectRedis gives (in-process, on this file’s Redis)', () => {
  task(
    'it is connected when connectRedis resolves, and Redis knows the connection by its name (CLIENT INFO)',
    {
      points: 2,
      timeout,
      step: STEP_2,
      severity: 'critical',
      hint:
        'createClient with the url and the name, then await connect() before returning: server.ts listens ' +
        'as soon as connectRedis resolves.',
    },
    async () => {
      const client = await yourClient('named-1');

      assert(
        client.isReady,
        'connectRedis resolved with a client that is not connected yet (isReady is false).',
      );
      const { name } = await client.clientInfo();
      assert(
        name === `${SPEC_NAME}named-1`,
        `Redis knows the connection as ${JSON.stringify(name)}, not by the name given to connectRedis ("${SPEC_NAME}named-1").`,
      );
    },
  );

  task(
    'while Redis is out of reach, a command fails at once instead of waiting; then it reconnects by itself',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint:
        'Lesson 03 again: an "error" listener (without one, the first connection error kills the process), ' +
        'no offline queue (a command fails at once while disconnected), and a reconnect strategy.',
    },
    async () => {
      const proxy = await redisProxy();
      const restore = quietConsole();
      try {
        const client = await yourClient('cut-off', proxy.url);
        if (client.listenerCount('error') === 0) {
          throw new Error(
            'The client has no "error" listener: the first connection error would be thrown, and kill the process.',
          );
        }

        await proxy.cut();
        const noticed = await pollUntil(
          async () => client.isReady,
          (ready) => !ready,
          2_000,
          5,
        );
        // Redis stays cut off until this settles or the bound passes: a command that waits in the
        // offline queue cannot be answered in that time, one that fails at once settles in a moment.
        const whileDown = await within(
          client.ping().then(
            () => 'it was answered',
            (error: Error) => `it failed: ${error.message}`,
          ),
          FAILS_AT_ONCE_MS,
        );
        await proxy.reopen();
        const back = await pollUntil(
          async () => client.isReady,
          (ready) => ready,
          RECONNECT_WITHIN_MS,
          5,
        );

        expect(noticed.ok).toBe(true);
        if (whileDown === undefined || !whileDown.startsWith('it failed')) {
          throw new Error(
            `A command sent while Redis was out of reach was still waiting after ${FAILS_AT_ONCE_MS} ms ` +
              `(${whileDown ?? 'no answer'}): it should fail at once, not wait in the offline queue until Redis is back.`,
          );
        }
        if (!back.ok)
          throw new Error(
            `The client was not connected again ${RECONNECT_WITHIN_MS} ms after Redis was back: it should reconnect by itself.`,
          );
        expect(await client.ping()).toBe('PONG');
      } finally {
        restore();
        await proxy.close();
      }
    },
  );

  task(
    'closeRedis closes it once the replies on their way have arrived, and a second call does nothing',
    {
      points: 1,
      timeout,
      step: STEP_2,
      hint:
        'close() (not destroy(): that cuts off replies still on their way), and only while the client is ' +
        'open (client.isOpen): closing a closed client throws.',
    },
    async () => {
      const client = await yourClient('closing');
      const onTheWay = client.get('spec:no-such-key');

      await closeRedis(client);
      const reply = await onTheWay.then(
        (value) => ({ value }),
        (error: Error) => ({ error: error.message }),
      );
      const again = await closeRedis(client).then(
        () => 'resolved',
        (error: Error) => `threw: ${error.message}`,
      );

      assert(!client.isOpen, 'After closeRedis the client is still open.');
      assert(
        'value' in reply && reply.value === null,
        `A reply on its way when closeRedis was called was lost (${JSON.stringify(reply)}): close it, do not destroy it.`,
      );
      assert(again === 'resolved', `closeRedis on a client already closed ${again}: it should do nothing.`);
    },
  );

  task(
    'node-redis reconnects with your reconnectDelay: capped, jittered, never giving up (in-process: the client’s socket.reconnectStrategy)',
    {
      points: 2,
      timeout,
      step: STEP_3,
      severity: 'critical',
      hint:
        'connectRedis passes socket.reconnectStrategy to createClient: a function of (retries, cause) that ' +
        'calls reconnectDelay(retries). Passed as it is, reconnectDelay would get the cause (an Error) as random.',
    },
    async () => {
      const client = await yourClient('strategy');
      const strategy = client.options?.socket?.reconnectStrategy;
      if (typeof strategy !== 'function') {
        throw new Error(
          `The client's socket.reconnectStrategy is ${JSON.stringify(strategy)}: node-redis falls back to its own ` +
            '(up to 2 s between attempts, and it gives up on a socket timeout).',
        );
      }
      const cause = new Error('connect ECONNREFUSED 127.0.0.1:6379');
      const waitFor = (retries: number) => {
        try {
          return strategy(retries, cause);
        } catch (error) {
          if (error instanceof NotImplementedError) throw error;
          throw new Error(
            `node-redis calls the strategy as (retries, cause); strategy(${retries}, new Error(…)) threw: ` +
              `${error instanceof Error ? error.message : String(error)}. node-redis would then use its own.`,
          );
        }
      };
      const tries = (retries: number, times: number) => Array.from({ length: times }, () => waitFor(retries));

      const all = [0, 1, 2, 5, 9, 10, 11, 20, 50, 1_000, 10_000].flatMap((retries) => tries(retries, 5));
      const first = tries(0, 30);
      const capped = tries(20, 30);
      const mean = (waits: unknown[]) =>
        (waits as number[]).reduce((sum, wait) => sum + wait, 0) / waits.length;

      for (const wait of all) {
        if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0 || wait > MAX_RECONNECT_DELAY_MS) {
          throw new Error(
            `The strategy returned ${String(wait)}: it must always be a number of ms from 0 to ` +
              `MAX_RECONNECT_DELAY_MS (${MAX_RECONNECT_DELAY_MS}). false or an Error would close the client for good.`,
          );
        }
      }
      assert(
        mean(first) <= 2 * FIRST_RECONNECT_DELAY_MS,
        `The first reconnection waits ${Math.round(mean(first))} ms on average: it should be about FIRST_RECONNECT_DELAY_MS.`,
      );
      assert(
        mean(capped) > MAX_RECONNECT_DELAY_MS / 2,
        `After 20 failed attempts node-redis waits ${Math.round(mean(capped))} ms on average: reconnectDelay's cap ` +
          `(${MAX_RECONNECT_DELAY_MS}) should be reached.`,
      );
      assert(
        new Set(capped).size > 1,
        `After 20 failed attempts node-redis waits ${capped[0]} ms every time: no jitter, so servers that lost Redis ` +
          'together would all knock again together.',
      );
    },
  );
});

// ── Step 4, in this process: the store ──────────────────────────────────────────────────────────

topic('the store createSessionStore gives (in-process)', () => {
  task(
    'a session saved without a cookie expiry still gets the TTL, under the prefix',
    {
      points: 1,
      step: STEP_4,
      hint:
        'connect-redis takes the TTL from the cookie when it has an expiry, else from its own `ttl` option (in ' +
        'seconds; one day when not given): give it config.sessionTtlSeconds, and the prefix.',
    },
    async () => {
      const client: RedisClientType = createClient({
        url: redis.url,
        name: `${SPEC_NAME}store`,
        disableOfflineQueue: true,
      });
      client.on('error', () => undefined);
      try {
        // Your store before anything connects: an unfinished step fails at once.
        const store = createSessionStore(client, {
          sessionTtlSeconds: 7,
          sessionPrefix: 'spec:store:',
          sessionSecrets: ['spec-secret'],
        });
        await client.connect();
        const session = { cookie: { originalMaxAge: null }, cart: [macbook] };

        await new Promise<void>((resolve, reject) =>
          // biome-ignore lint/suspicious/noExplicitAny: a session as express-session hands it to a store.
          store.set('no-expiry', session as any, (error) => (error ? reject(error) : resolve())),
        );
        const ms = await client.pTTL('spec:store:no-expiry');

        if (ms === -2) {
          const keys = await client.keys('*no-expiry');
          throw new Error(
            `No key spec:store:no-expiry in Redis (found ${JSON.stringify(keys)}): is the prefix passed on?`,
          );
        }
        if (ms === -1)
          throw new Error('The key spec:store:no-expiry has no TTL: it would stay in Redis for ever.');
        assert(
          ms > 5_000 && ms <= 7_000,
          `With sessionTtlSeconds: 7, a session without a cookie expiry was saved with a PTTL of ${ms} ms, not about 7000.`,
        );
      } finally {
        if (client.isOpen) await client.close();
      }
    },
  );
});

// ── The server: one connection, shared by every request ─────────────────────────────────────────

topic(`when ${CONCURRENT_VISITORS} visitors shop at once`, () => {
  task(
    'Redis sees exactly one connection from the server, named after it, the same one throughout',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint:
        'Create the client once, in connectRedis (the shop calls it once, at startup), with `name` set; the ' +
        'store uses that client. node-redis multiplexes concurrent commands over one connection.',
    },
    async () => {
      const current = await server.get();
      // The sessions' story looks into Redis too: let it finish, so that only the server connects now.
      await slidingStory.get().catch(() => undefined);
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

// ── The server's sessions ───────────────────────────────────────────────────────────────────────

topic('when a visitor only looks', () => {
  task(
    'they get no session: no cookie, no key in Redis',
    {
      points: 1,
      step: STEP_4,
      timeout,
      hint:
        'saveUninitialized: false, as in lesson 01: a session is saved (and its cookie sent) only once it ' +
        'holds something. Otherwise every passing bot fills Redis with empty sessions.',
    },
    async () => {
      const current = await server.get();
      expectEveryStepDone(current);
      await slidingStory.get(); // nothing else writes to Redis while this task looks
      const lookOnly = `${PREFIX}*`;
      const keysBefore = await lookIn((client) => client.keys(lookOnly));

      const looked = await new Visitor().get(current, '/cart');
      const keysAfter = await lookIn((client) => client.keys(lookOnly));

      expect(looked.status).toBe(200);
      expect(looked.setCookies).toEqual([]);
      expect(keysAfter.filter((key) => !keysBefore.includes(key))).toEqual([]);
    },
  );
});

topic(`when a visitor puts something in the cart (SESSION_TTL_SECONDS=${TTL_SECONDS})`, () => {
  task(
    `the session's key expires after SESSION_TTL_SECONDS: its PTTL is about ${TTL_MS} ms`,
    {
      points: 3,
      step: STEP_4,
      severity: 'blocker',
      timeout,
      hint:
        'connect-redis saves with SET … EX <seconds until the cookie expires>: the cookie’s max age and the ' +
        'store’s ttl both come from SESSION_TTL_SECONDS. redis-cli: PTTL <key>.',
    },
    async () => {
      const current = await server.get();
      expectEveryStepDone(current);
      const { added, afterAdd } = await slidingStory.get();

      expect(added.status).toBe(201);
      assert(
        afterAdd > TTL_MS - 5_000 && afterAdd <= TTL_MS,
        `The session key expires in ${afterAdd} ms: with SESSION_TTL_SECONDS=${TTL_SECONDS} it should be about ${TTL_MS}.`,
      );
    },
  );

  task(
    `the cookie is the one your sessionMiddleware configures: HttpOnly, SameSite=Lax, gone ${TTL_SECONDS} s after the answer`,
    {
      points: 2,
      step: STEP_4,
      severity: 'critical',
      timeout,
      hint:
        'cookie.maxAge is in MILLISECONDS, SESSION_TTL_SECONDS in seconds. httpOnly keeps scripts away from ' +
        'the cookie; sameSite "lax" keeps other sites from sending it with their forms.',
    },
    async () => {
      const current = await server.get();
      expectEveryStepDone(current);
      const { added } = await slidingStory.get();
      const cookie = sessionSetCookie(added) ?? '';

      const lifetime = cookieLifetimeSeconds(added);
      const said = `The answer set the cookie ${JSON.stringify(cookie)}`;

      assert(cookie !== '', 'Adding an item set no connect.sid cookie.');
      assert(/;\s*HttpOnly/i.test(cookie), `${said}: without HttpOnly, any script on the page can read it.`);
      assert(
        /;\s*SameSite=Lax/i.test(cookie),
        `${said}: without SameSite=Lax, other sites' forms send it too.`,
      );
      assert(/;\s*Path=\/(;|$)/i.test(cookie), `${said}: it should be for the whole site (Path=/).`);
      assert(
        lifetime !== undefined && lifetime >= TTL_SECONDS - 2 && lifetime <= TTL_SECONDS + 1,
        `${said}: it lives ${lifetime === undefined ? 'until the browser closes (no Expires)' : `${lifetime} s`}, ` +
          `not SESSION_TTL_SECONDS (${TTL_SECONDS} s) like its key.`,
      );
    },
  );
});

topic('while the visitor keeps shopping (sliding expiration)', () => {
  task(
    'each request pushes the key’s expiry back to the full TTL',
    {
      points: 3,
      step: STEP_4,
      severity: 'critical',
      timeout,
      hint:
        'With resave: false, express-session calls the store’s touch() on a request that changed nothing: ' +
        'connect-redis runs EXPIRE <ttl>. (It never does if the store has disableTouch.)',
    },
    async () => {
      const current = await server.get();
      expectEveryStepDone(current);
      const { looked, afterAdd, aged, afterLook } = await slidingStory.get();

      expect(looked.status).toBe(200);
      expect(aged).toBeLessThanOrEqual(afterAdd - 150);
      assert(
        afterLook > aged + 100 && afterLook > TTL_MS - 1_000 && afterLook <= TTL_MS,
        `The key's PTTL was ${afterAdd} ms after the add, ${aged} ms a moment later, and ${afterLook} ms after a ` +
          `GET /cart: the request should have pushed it back to about ${TTL_MS}.`,
      );
    },
  );

  task(
    `each answer re-sends the cookie, good for another ${TTL_SECONDS} s (rolling)`,
    {
      points: 2,
      step: STEP_4,
      timeout,
      hint:
        'express-session re-sends the cookie only when the session changed — unless told to on every ' +
        'answer. Without it the key lives on in Redis while the browser drops the cookie 60 s after the last change.',
    },
    async () => {
      const current = await server.get();
      expectEveryStepDone(current);
      const { looked } = await slidingStory.get();

      const lifetime = cookieLifetimeSeconds(looked);
      assert(
        sessionSetCookie(looked) !== undefined,
        'GET /cart (which changed nothing) answered without a Set-Cookie: the browser keeps the old expiry, ' +
          'and drops the cookie while the key still lives in Redis.',
      );
      assert(
        lifetime !== undefined && lifetime >= TTL_SECONDS - 2 && lifetime <= TTL_SECONDS + 1,
        `The re-sent cookie lives ${String(lifetime)} s, not ${TTL_SECONDS} s.`,
      );
    },
  );

  task(
    'a request that only reads the cart does not write the session back (no resave)',
    {
      points: 1,
      step: STEP_4,
      timeout,
      hint:
        'resave: true writes every session back at the end of every request: a slow read of one visitor ' +
        'can then overwrite the item a parallel request of theirs just added.',
    },
    async () => {
      const current = await server.get();
      expectEveryStepDone(current);
      const { stored, storedAfterLook } = await slidingStory.get();

      expect(stored).not.toBeNull();
      assert(
        storedAfterLook === stored,
        `A GET /cart that changed nothing rewrote the session in Redis:\n  before: ${stored}\n  after:  ${storedAfterLook}`,
      );
    },
  );
});

topic('when the session secret is rotated (the server runs with SESSION_SECRET=new,old)', () => {
  /**
   * A visitor from before the rotation: their session is in Redis, and their browser still holds the
   * cookie the old servers signed with the old secret (signed here as they did).
   */
  async function visitorFromBeforeTheRotation() {
    const current = await server.get();
    expectEveryStepDone(current);
    const shopper = new Visitor();
    const added = await shopper.post(current, '/cart/items', macbook);
    expect(added.status).toBe(201);
    const sessionId = shopper.sessionId();
    return { current, sessionId, oldCookie: signedCookie(sessionId, OLD_SECRET) };
  }

  const hint =
    'Give express-session ALL of config.sessionSecrets, in order: the first signs, every one verifies. ' +
    'loadConfig splits SESSION_SECRET on commas (Step 1).';

  task(
    'a cookie signed with the old secret still finds its cart',
    { points: 2, step: STEP_4, severity: 'critical', timeout, hint },
    async () => {
      const { current, oldCookie } = await visitorFromBeforeTheRotation();

      const cart = await getWithCookie(current, '/cart', oldCookie);

      expect(cart.status).toBe(200);
      assert(
        JSON.stringify(cart.body.items) === JSON.stringify([macbook]),
        `A cookie signed with the old secret found the cart ${JSON.stringify(cart.body.items)}, not its own: the ` +
          'server does not accept the old secret any more.',
      );
    },
  );

  task(
    'the answer re-signs the cookie with the new secret',
    {
      points: 1,
      step: STEP_4,
      timeout,
      hint:
        `${hint} Every answer re-sends the cookie (rolling), signed with the first secret: a visitor who ` +
        'comes back moves to the new secret, so the old one can be dropped later.',
    },
    async () => {
      const { current, sessionId, oldCookie } = await visitorFromBeforeTheRotation();

      const cart = await getWithCookie(current, '/cart', oldCookie);

      const signed = signatureIn(sessionSetCookie(cart) ?? '');
      assert(
        signed === signature(sessionId, NEW_SECRET),
        signed === signature(sessionId, OLD_SECRET)
          ? 'The answer re-signed the cookie with the OLD secret: new cookies must be signed with the first secret of the list.'
          : `The answer's cookie is not signed with the new secret (its signature: ${String(signed)}).`,
      );
    },
  );

  task(
    'a cookie signed with a secret the server does not know finds nothing',
    {
      points: 1,
      step: STEP_4,
      timeout,
      hint: 'This is why cookies are signed: a session id alone, or a forged signature, must not open a cart.',
    },
    async () => {
      const { current, sessionId } = await visitorFromBeforeTheRotation();

      const forged = await getWithCookie(current, '/cart', signedCookie(sessionId, 'guessed-secret'));

      expect(forged.status).toBe(200);
      expect(forged.body.items).toEqual([]);
    },
  );
});

// ── The server when Redis goes away, and comes back ─────────────────────────────────────────────

topic('when Redis goes away', () => {
  task(
    'a cart request answers a JSON 503 within 1 s, the process keeps running, and it logs the error',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint:
        'An "error" listener that logs (without one the process dies with Redis; without the log nobody ' +
        'knows why carts fail), and no offline queue. The 503 guard is given.',
    },
    async () => {
      const current = await server.get();
      const shopper = new Visitor();
      expect((await shopper.post(current, '/cart/items', macbook)).status).toBe(201);
      const printedBefore = current.output().length;

      await redis.stop();
      await untilOutageNoticed(current, shopper, OUTAGE);
      const cart = await shopper.get(current, '/cart', ANSWER_WITHIN_MS);
      const health = await shopper.get(current, '/health', ANSWER_WITHIN_MS);
      await failIfExited(current);
      const logged = await pollUntil(
        async () => current.output().slice(printedBefore),
        // The connection's own error (its message or its name), not any line that says "Redis" or
        // "closed": a request that met the closed client can print those without the listener.
        (text) => /ECONNREFUSED|ECONNRESET|socket ?closed/i.test(text),
        1_000,
        10,
      );

      expect(cart.status).toBe(503);
      expect(cart.body).toEqual({ error: expect.any(String), message: expect.any(String) });
      expect(cart.ms).toBeLessThan(ANSWER_WITHIN_MS);
      expect(health.status).toBe(200);
      if (!logged.ok) {
        throw new Error(
          `Redis went away and the server printed nothing about it (${JSON.stringify(logged.last.trim())}): the ` +
            '"error" listener should log the error, so that whoever reads the logs knows why carts fail.',
        );
      }
    },
  );

  task(
    'once Redis is back, carts work again: same process, still one named connection',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint:
        'socket.reconnectStrategy must always return a number: false or an Error gives up for good, and the ' +
        'server would need a restart.',
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
        10,
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
      timeout,
      hint: 'The shop calls closeRedis after the drain (given); if closeRedis throws, the server exits 1.',
    },
    async () => {
      const current = await server.get();

      const exit = await current.kill('SIGTERM');
      if (exit.code !== 0) throwIfNotImplemented(current.output());

      expect(exit).toEqual({ code: 0, signal: null });
      expect(current.output()).toContain('Redis client closed');
    },
  );
});
