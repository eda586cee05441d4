/**
 * Lesson 03 — when Redis goes away. The sessions live in Redis now, so Redis can fail the cart. It
 * must fail it honestly and briefly: a fast 503, no hang, no crash, and carts again as soon as Redis
 * is back — with no restart of the server.
 *
 * Two kinds of task here:
 * - the pieces, checked **in process** on the functions you export (connectRedis, closeRedis,
 *   requireRedis), because what they decide is not visible from outside a server: whether a command
 *   waits while Redis is down, what the reconnect strategy does after many failed attempts, whether a
 *   reply in flight survives the close;
 * - a real server process (src/server.ts) whose Redis is stopped under it, checked from outside.
 *
 * This file runs redis-servers of its own and stops them on purpose: one under the in-process client,
 * one under the server, one that never stops. The stories (arrange + act) run once, in the background
 * from the start, and the tasks check what they saw. Every wait is bounded and waits for a real event.
 * Run: npm test lessons/03
 */
import { request as httpRequest } from 'node:http';
import type { RedisClientType } from 'redis';
import { jsonErrors } from '../../../kit/http';
import { type Answer, fetchAnswer, Visitor } from '../../../kit/spec/browser';
import {
  type Exit,
  PROCESS_TIMEOUT_MS,
  throwIfNotImplemented,
  useServerProcesses,
} from '../../../kit/spec/processes';
import { macbook } from '../../../kit/spec/shop';
import { pollUntil, startedOnce } from '../../../kit/spec/wait';
import { requireRedis } from '../src/guard';
import { closeRedis, connectRedis } from '../src/redis';
import {
  connectionsReceived,
  gatedLesson,
  lessonServer,
  type Outcome,
  openConnections,
  outcomeWithin,
  ready,
  redisModule,
  specClient,
  useOwnRedis,
} from './support';

// Every task here needs connectRedis (Step 1): the in-process ones call it, the server boots with it.
const { topic, task, blocked } = gatedLesson(1);

/** The contract: while Redis is unreachable, a cart request is answered within this time. */
const ANSWER_WITHIN_MS = 1_000;
/** A command sent while disconnected fails within this (it takes about a millisecond). */
const FAIL_FAST_MS = 250;
/** However many reconnection attempts have failed, the next one comes at most this long after. */
const MAX_RETRY_DELAY_MS = 1_000;
/** Bound on "Redis is back, the client is connected again" (generous: a busy machine is slow). */
const RECOVERY_WITHIN_MS = 5_000;
/** Upper bound for anything that should happen soon. */
const BOUND_MS = 5_000;
const timeout = PROCESS_TIMEOUT_MS;

/** connectRedis's client, closed after the file: before its Redis stops (hooks run in this order). */
let learnerClient: Promise<RedisClientType> | undefined;
afterAll(async () => {
  const connecting = learnerClient && (await outcomeWithin(learnerClient, 1_000));
  if (connecting?.kind === 'value' && connecting.value.isOpen) connecting.value.destroy();
}, PROCESS_TIMEOUT_MS);
const redis = useOwnRedis(['underServer', 'underClient', 'steady'], { unless: blocked });
const servers = useServerProcesses();
const server = lessonServer(servers, () => ({ REDIS_URL: redis.underServer.url, SERVER_ID: 'server-1' }));

// Everything slow starts at once, side by side: the server boots (then lives through its outage)
// while the in-process client lives through its own.
beforeAll(() => {
  if (blocked()) return;
  serverOutage.begin();
  clientOutage.begin();
}, PROCESS_TIMEOUT_MS);

/** Fails a task with a sentence a learner can act on (Jest's expect() would only say "expected true"). */
function must(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const shown = (answer: Answer) => `${answer.status} ${JSON.stringify(answer.body)}`;

// ── The in-process stories ───────────────────────────────────────────────────────────────────────

/** Silences console while the learner's client logs an outage (one line per failed attempt). */
let muted = 0;
const realConsole = { error: console.error, warn: console.warn, log: console.log, info: console.info };
function muteConsole(): () => void {
  if (muted++ === 0)
    for (const name of Object.keys(realConsole) as Array<keyof typeof realConsole>) console[name] = () => {};
  return () => {
    if (--muted === 0) Object.assign(console, realConsole);
  };
}

/** connectRedis(url) on a Redis that is up: what it returned, and what it cost Redis. */
const connected = startedOnce(async () => {
  const { spec } = redis.underClient;
  const before = await connectionsReceived(spec);
  learnerClient = connectRedis(redis.underClient.url);
  const returned = await outcomeWithin(learnerClient, BOUND_MS);
  if (returned.kind === 'pending')
    throw new Error(
      `connectRedis(url) had not resolved ${BOUND_MS} ms after it was called, with Redis up at that url.`,
    );
  if (returned.kind === 'error') throw returned.error;
  const client = returned.value;
  const readyWhenReturned = client.isReady;
  const opened = (await connectionsReceived(spec)) - before;
  // Asked here, before the outage story (in the background) stops this Redis.
  const ping = await outcomeWithin(client.ping(), BOUND_MS);
  return { client, readyWhenReturned, opened, ping, listeners: probeErrorListeners(client) };
});

/**
 * Calls each 'error' listener with a probe, as node-redis would when the connection drops. A listener
 * that exits the process would take this test process with it: process.exit is stubbed meanwhile.
 */
function probeErrorListeners(client: RedisClientType): { count: number; threw?: unknown; exited?: unknown } {
  const listeners = client.listeners('error');
  const unmute = muteConsole();
  const realExit = process.exit;
  let exited: unknown;
  process.exit = ((code?: number | string | null) => {
    exited = code ?? 0;
    throw new Error(`process.exit(${String(code ?? '')})`);
  }) as typeof process.exit;
  try {
    for (const listener of listeners)
      listener.call(client, new Error('Socket closed unexpectedly (a probe from the specs)'));
    return { count: listeners.length };
  } catch (error) {
    return exited === undefined
      ? { count: listeners.length, threw: error }
      : { count: listeners.length, exited };
  } finally {
    process.exit = realExit;
    unmute();
  }
}

/** Redis stops under connectRedis's client, then comes back. */
const clientOutage = startedOnce(async () => {
  const { client, listeners } = await connected.get();
  // Without a listener that keeps quiet, the outage would throw inside this test process.
  must(
    listeners.count > 0 && listeners.threw === undefined && listeners.exited === undefined,
    'Not run: connectRedis’s client has no "error" listener that returns normally (see the task about it), ' +
      'so stopping Redis would crash this very test process.',
  );
  const unmute = muteConsole();
  try {
    await redis.underClient.stop();
    const noticed = await pollUntil(
      async () => client.isReady,
      (isReady) => !isReady,
      BOUND_MS,
      5,
    );
    must(noticed.ok, `Redis has been stopped for ${BOUND_MS} ms and client.isReady is still true.`);
    const whileDown = await outcomeWithin(client.get('course:probe'), FAIL_FAST_MS);

    await redis.underClient.restart();
    const back = await pollUntil(
      async () => client.isReady || !client.isOpen,
      (settled) => settled,
      RECOVERY_WITHIN_MS,
      5,
    );
    const ping = client.isReady ? await outcomeWithin(client.ping(), BOUND_MS) : undefined;
    return { whileDown, reconnected: back.ok && client.isReady, stillOpen: client.isOpen, ping };
  } finally {
    unmute();
  }
});

topic('the Redis client (connectRedis, checked in process)', () => {
  task(
    'connectRedis resolves with a client that is connected, over one connection',
    {
      points: 1,
      step: 'Step 1',
      hint:
        'Create the client, await its connection, return it: server.ts listens only once connectRedis has ' +
        'resolved, so its first request finds Redis ready. One client, one connection, for the whole process.',
      timeout,
    },
    async () => {
      const { readyWhenReturned, opened, ping } = await connected.get();

      must(
        readyWhenReturned,
        'connectRedis resolved before its client was connected (client.isReady was false): server.ts would ' +
          'listen, and its first requests would find no Redis. Await the connection before returning.',
      );
      must(
        opened === 1,
        `connectRedis opened ${opened} connections to Redis (INFO stats: total_connections_received): one ` +
          'client, one connection, shared by every request.',
      );
      expect(ping).toMatchObject({ kind: 'value', value: 'PONG' });
    },
  );

  task(
    'its "error" listener keeps a lost connection from killing the process (checked in process: the client’s listeners)',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint:
        'node-redis emits "error" when the connection drops and at every failed reconnection; an EventEmitter ' +
        'with no "error" listener throws it, and the process dies. Listen, log, never rethrow.',
      timeout,
    },
    async () => {
      const { listeners } = await connected.get();

      must(
        listeners.count > 0,
        'connectRedis’s client has no "error" listener. When Redis goes away, node-redis emits "error", and an ' +
          'EventEmitter with no listener for it throws: the whole server process would die with Redis.',
      );
      must(
        listeners.threw === undefined,
        `connectRedis’s "error" listener throws (${String(listeners.threw)}): that kills the process as surely ` +
          'as having no listener. Log the error and return.',
      );
      must(
        listeners.exited === undefined,
        `connectRedis’s "error" listener calls process.exit(${String(listeners.exited)}): every Redis blip would ` +
          'kill the server and cut off its visitors, and it could not come back while Redis is away. Log and return.',
      );
    },
  );

  task(
    'while Redis is down, a command fails at once instead of waiting for Redis to return',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint:
        'By default node-redis keeps commands sent while disconnected in a queue until it reconnects: the ' +
        'visitor waits that long. One client option makes them fail at once instead (README Step 1).',
      timeout,
    },
    async () => {
      const { whileDown } = await clientOutage.get();

      must(
        whileDown.kind !== 'pending',
        `A GET sent while Redis was down had no answer after ${FAIL_FAST_MS} ms: the client keeps it in its ` +
          'offline queue until Redis returns, and a request behind it hangs as long — minutes, in a real outage.',
      );
      must(whileDown.kind === 'error', 'A GET sent while Redis was down got a reply: was Redis really down?');
    },
  );

  task(
    'once Redis is back, the client reconnects by itself',
    {
      points: 2,
      step: 'Step 1',
      hint:
        'socket.reconnectStrategy says how long to wait before the next attempt; false (or a function that ' +
        'returns false or an Error) gives up for good, and only a restart would bring the carts back.',
      timeout,
    },
    async () => {
      const { reconnected, stillOpen, ping } = await clientOutage.get();

      must(
        stillOpen,
        'The client closed for good during the outage: its reconnect strategy gave up (it returned false or an ' +
          'Error). Carts would never come back without restarting the server.',
      );
      must(
        reconnected,
        `Redis has been back for ${RECOVERY_WITHIN_MS} ms and the client is still not ready.`,
      );
      expect(ping).toMatchObject({ kind: 'value', value: 'PONG' });
    },
  );

  task(
    'however many attempts have failed, it tries again within 1 s, never in a tight loop (checked in process: its reconnectStrategy)',
    {
      points: 2,
      step: 'Step 1',
      hint:
        'Cap the wait: a backoff that keeps doubling waits minutes after a long outage, so carts stay away ' +
        'long after Redis is back. And wait a little between attempts: a retry every millisecond floods the logs.',
      timeout,
    },
    async () => {
      const { client } = await connected.get();
      const socket = client.options?.socket as { reconnectStrategy?: unknown } | undefined;
      const problem = reconnectProblem(socket?.reconnectStrategy);
      must(problem === undefined, `The client’s socket.reconnectStrategy: ${problem}`);
    },
  );
});

/** What is wrong with a node-redis reconnectStrategy, after 0 to 1000 failed attempts (undefined: nothing). */
function reconnectProblem(strategy: unknown): string | undefined {
  if (strategy === undefined)
    return (
      'none is set, so node-redis’s default waits up to 2.2 s between attempts (2 s plus a random jitter): ' +
      `more than ${MAX_RETRY_DELAY_MS} ms.`
    );
  if (strategy === false) return 'false: the client never reconnects once the connection is lost.';
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
  for (let retries = 0; retries <= 1000; retries++) {
    let delay: unknown;
    try {
      delay = typeof strategy === 'function' ? strategy(retries, cause) : strategy;
    } catch (error) {
      return `it throws after ${retries} failed attempts (${String(error)}).`;
    }
    if (delay === false || delay instanceof Error)
      return (
        `after ${retries} failed attempts it returns ${delay === false ? 'false' : 'an Error'}: the client ` +
        'gives up for good, and carts never come back without a restart.'
      );
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0)
      return `after ${retries} failed attempts it returns ${String(delay)}, not a number of milliseconds.`;
    if (delay > MAX_RETRY_DELAY_MS)
      return (
        `after ${retries} failed attempts it waits ${Math.round(delay)} ms, more than ${MAX_RETRY_DELAY_MS} ms: ` +
        'after a long outage, carts would stay away that long after Redis is back. Cap the wait.'
      );
    if (retries >= 5 && delay < 10)
      return (
        `after ${retries} failed attempts it waits ${delay} ms: a tight loop of connection attempts (and of ` +
        '"error" log lines) while Redis is down. Wait a little between attempts.'
      );
  }
  return undefined;
}

// ── closeRedis ───────────────────────────────────────────────────────────────────────────────────

topic('closing the client (closeRedis, checked in process)', () => {
  task(
    'closeRedis lets the reply in flight arrive, then the connection leaves Redis (CLIENT LIST)',
    {
      points: 2,
      step: 'Step 3',
      hint:
        'node-redis v6 has two ways to end a client: one waits for the replies of commands already sent, the ' +
        'other rejects them at once. Await the polite one.',
      timeout,
    },
    async () => {
      const { spec } = redis.steady;
      const client = await specClient(redis.steady.url);
      try {
        const id = String(await client.clientId());
        const key = `course:in-flight:${id}`;
        // A command in flight: BLPOP waits on Redis until the spec pushes to the list.
        let replied = false;
        const reply = client.blPop(key, 5).finally(() => {
          replied = true;
        });
        reply.catch(() => undefined); // looked at below: a rejection here is a finding, not a crash
        await pollUntil(
          async () => /^blocked_clients:(\d+)/m.exec(await spec.info('clients'))?.[1],
          (blocked) => Number(blocked) >= 1,
          BOUND_MS,
          5,
        );
        let closedBeforeReply = false;
        const closing = Promise.resolve()
          .then(() => closeRedis(client))
          .then(() => {
            closedBeforeReply = !replied;
          });
        closing.catch(() => undefined);
        // Macrotasks go by: a closeRedis that does not wait for the reply has resolved by now.
        await new Promise((resolve) => setImmediate(resolve));
        const resolvedEarly = closedBeforeReply;
        await spec.lPush(key, 'the answer');
        const [answered, closed] = await Promise.all([
          outcomeWithin(reply, BOUND_MS),
          outcomeWithin(closing, BOUND_MS),
        ]);

        if (closed.kind === 'error') throw closed.error;
        must(closed.kind === 'value', `closeRedis had not resolved ${BOUND_MS} ms after the reply arrived.`);
        must(
          answered.kind === 'value',
          `The command sent just before closeRedis ${answered.kind === 'error' ? `was rejected (${answered.error.name})` : 'never got its reply'}: ` +
            'closeRedis cut the connection instead of closing it, and a visitor’s save in flight would be lost.',
        );
        expect(answered.value).toEqual({ key, element: 'the answer' });
        const gone = await pollUntil(
          () => openConnections(spec),
          (ids) => !ids.includes(id),
          BOUND_MS,
          5,
        );
        must(
          gone.ok,
          'After closeRedis the client’s connection is still open (CLIENT LIST lists it): closeRedis did not close it.',
        );
        must(
          !resolvedEarly,
          'closeRedis resolved while a reply was still on its way: it did not wait for the close to finish, so ' +
            'server.ts would exit with the reply (a visitor’s save) still in flight.',
        );
      } finally {
        if (client.isOpen) client.destroy();
      }
    },
  );

  task(
    'closing a client that is closed already resolves (checked in process)',
    {
      points: 1,
      step: 'Step 3',
      hint: 'A client that gave up reconnecting is closed already, and closing it again throws: ask the client whether it is open.',
      timeout,
    },
    async () => {
      const client = await specClient(redis.steady.url);
      client.destroy();

      const closed = await outcomeWithin(
        Promise.resolve().then(() => closeRedis(client)),
        BOUND_MS,
      );

      if (closed.kind === 'error' && closed.error.name === 'NotImplementedError') throw closed.error;
      must(
        closed.kind === 'value',
        closed.kind === 'error'
          ? `closeRedis threw on a client that was closed already (${closed.error.name}: ${closed.error.message}): ` +
              'server.ts’s shutdown would fail and exit 1 instead of 0.'
          : `closeRedis had not resolved ${BOUND_MS} ms after it was called on a closed client.`,
      );
    },
  );
});

// ── requireRedis ─────────────────────────────────────────────────────────────────────────────────

topic('the guard (requireRedis, checked in process)', () => {
  task(
    'while the client is not ready it answers 503 with the JSON error at once, and the request goes no further',
    {
      points: 2,
      step: 'Step 4',
      severity: 'critical',
      hint:
        'Answer there and then: status 503 and a JSON body with exactly two strings, error and message — ' +
        'and do not call next(): behind the guard, the session store can only fail or wait.',
      timeout,
    },
    async () => {
      const { createClient } = await redisModule();
      const notReady: RedisClientType = createClient({ url: redis.steady.url }); // never connected
      await ready(redis.steady.spec, BOUND_MS);
      const [away, there] = await Promise.all([
        guardedApp(notReady, (app) => fetchAnswer(app, 'GET', '/cart', { timeoutMs: ANSWER_WITHIN_MS })),
        guardedApp(redis.steady.spec, (app) =>
          fetchAnswer(app, 'GET', '/cart', { timeoutMs: ANSWER_WITHIN_MS }),
        ),
      ]);

      must(
        away.answer.status === 503,
        `With the client not ready, GET /cart answered ${shown(away.answer)}. 503 says "not a bug here, a ` +
          'service this server needs is away: retry soon"; a 500 says "bug".',
      );
      must(
        /application\/json/.test(away.answer.headers.get('content-type') ?? ''),
        `The 503 is not JSON (content-type: ${away.answer.headers.get('content-type')}): the course answers every ` +
          'error as { "error": …, "message": … }.',
      );
      expect(away.answer.body).toEqual({ error: expect.any(String), message: expect.any(String) });
      must(
        away.reached === 0,
        'The request went on past the guard after its answer (next() was called): the session store behind it ' +
          'meets a Redis that is away.',
      );
      must(
        there.answer.status === 200 && there.reached === 1,
        `With the client ready, the request did not go through the guard: ${shown(there.answer)}.`,
      );
    },
  );
});

/**
 * An express app on an ephemeral port with requireRedis(client) in front of /cart, as server.ts has
 * it, and behind it a route that counts the requests that reach it.
 */
async function guardedApp(
  client: RedisClientType,
  send: (app: { url: string }) => Promise<Answer>,
): Promise<{ answer: Answer; reached: number }> {
  let reached = 0;
  const { default: express } = await import('express');
  const app = express();
  app.use('/cart', requireRedis(client));
  app.use('/cart', (_req, res) => {
    reached++;
    res.json({ reached: true });
  });
  app.use(jsonErrors);
  const listening = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
  const address = listening.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const answer = await send({ url: `http://127.0.0.1:${port}` });
    // A next() called after the answer has run by now.
    await new Promise((resolve) => setImmediate(resolve));
    return { answer, reached };
  } finally {
    listening.closeAllConnections();
    await new Promise((resolve) => listening.close(resolve));
  }
}

// ── A real server when Redis goes away ───────────────────────────────────────────────────────────

type Attempt<T> = { ok: true; value: T } | { ok: false; error: Error };
const attempt = <T>(promise: Promise<T>): Promise<Attempt<T>> =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error: error instanceof Error ? error : new Error(String(error)) }),
  );

/** Node-redis's words when it loses Redis: what a server's log should show during an outage. */
const REDIS_ERROR_IN_LOG = /ECONNREFUSED|Socket ?closed ?unexpectedly/i;

/** Redis stops under a running server, with a visitor's request in flight; then it comes back. */
const serverOutage = startedOnce(async () => {
  const current = await server.get();
  const shopper = new Visitor();
  const filled = await shopper.post(current, '/cart/items', macbook);
  throwIfNotImplemented(filled.body);
  must(filled.status === 201, `Before the outage, POST /cart/items answered ${shown(filled)}.`);
  const inFlight = await requestPastTheGuard(current, shopper);

  await redis.underServer.stop();
  let restarted = false;
  try {
    // The server notices a moment after Redis exits: the shopper's cart is no longer served.
    const noticed = await pollUntil(
      () => attempt(shopper.get(current, '/cart', ANSWER_WITHIN_MS)),
      (answer) => !answer.ok || answer.value.status !== 200,
      BOUND_MS,
      10,
    );
    const cart = await attempt(shopper.get(current, '/cart', ANSWER_WITHIN_MS));
    const newcomer = await attempt(new Visitor().post(current, '/cart/items', macbook, ANSWER_WITHIN_MS));
    const health = await attempt(shopper.get(current, '/health', ANSWER_WITHIN_MS));
    const pastGuard = await inFlight.finish(ANSWER_WITHIN_MS);
    const logged = await current.waitForOutput(REDIS_ERROR_IN_LOG, ANSWER_WITHIN_MS);
    const exitDuring = await current.exitWithin(0);

    await redis.underServer.restart();
    restarted = true;
    const again = exitDuring
      ? undefined
      : await pollUntil(
          () => attempt(shopper.post(current, '/cart/items', macbook, ANSWER_WITHIN_MS)),
          (answer) => answer.ok && answer.value.status === 201,
          RECOVERY_WITHIN_MS,
          10,
        );
    const cartAfter = again?.ok ? await attempt(shopper.get(current, '/cart')) : undefined;
    const exitAfter = await current.exitWithin(0);
    return {
      current,
      noticed,
      cart,
      newcomer,
      health,
      pastGuard,
      logged: logged !== undefined,
      exit: exitDuring ?? exitAfter,
      again,
      cartAfter,
    };
  } finally {
    inFlight.hangUp();
    if (!restarted) await redis.underServer.restart().catch(() => undefined);
  }
});

/**
 * A visitor's POST /cart/items that is already past the guard when Redis goes away: its headers are
 * sent (with `Expect: 100-continue`, so the server says when it has them and the guard has let the
 * request through), its body not yet. The body parser waits for it; the session store comes after.
 */
async function requestPastTheGuard(server: { url: string }, visitor: Visitor) {
  const body = JSON.stringify(macbook);
  const req = httpRequest(`${server.url}/cart/items`, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      expect: '100-continue',
      cookie: `connect.sid=${visitor.cookie('connect.sid')}`,
    },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
  answer.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    req.once('continue', () => resolve());
    req.once('response', () => resolve());
    req.once('error', reject);
    req.flushHeaders();
  });
  return {
    /** Sends the body: the answer, if there is one within `ms`. */
    finish(ms: number): Promise<Outcome<{ status: number; body: string }>> {
      req.end(body);
      return outcomeWithin(answer, ms);
    },
    hangUp: () => req.destroy(),
  };
}

type ServerOutage = Awaited<ReturnType<typeof serverOutage.get>>;

/** The server must have lived through the outage: its death is the failure to report, whatever the task. */
function survived(outage: ServerOutage): void {
  const exit: Exit | undefined = outage.exit;
  if (!exit) return;
  const lines = outage.current
    .output()
    .trim()
    .split('\n')
    .filter((line) => /error/i.test(line) && !/^\s+at /.test(line))
    .slice(0, 4);
  throw new Error(
    `The server process died while Redis was away (exit code ${exit.code}, signal ${exit.signal}). It said:\n    ${lines.join('\n    ')}`,
  );
}

topic('when Redis goes away under a running server', () => {
  task(
    'cart requests answer 503 with a JSON error within 1 s',
    {
      points: 3,
      step: 'Step 4',
      severity: 'critical',
      hint:
        'While the client is not ready, requireRedis (src/guard.ts) answers by itself, at once: status 503 and ' +
        '{ error, message }, without next() — the session store behind it can only fail or wait for Redis.',
      timeout,
    },
    async () => {
      const outage = await serverOutage.get();
      survived(outage);
      must(outage.noticed.ok, `Redis is down, yet GET /cart kept answering 200 for ${BOUND_MS} ms.`);

      for (const [who, tried] of [
        ['GET /cart (a visitor with a cart)', outage.cart],
        ['POST /cart/items (a new visitor)', outage.newcomer],
      ] as const) {
        if (!tried.ok)
          throw new Error(
            `${who} while Redis was down: ${tried.error.message}. While Redis is away a cart request must be ` +
              'answered at once with a 503, not wait for Redis to come back.',
          );
        const answer = tried.value;
        throwIfNotImplemented(answer.body);
        must(answer.status === 503, `${who} while Redis was down answered ${shown(answer)}, not 503.`);
        must(
          /application\/json/.test(answer.headers.get('content-type') ?? ''),
          `${who}: the 503 is not JSON (content-type: ${answer.headers.get('content-type')}).`,
        );
        expect(answer.body).toEqual({ error: expect.any(String), message: expect.any(String) });
        must(answer.ms < ANSWER_WITHIN_MS, `${who}: the 503 took ${Math.round(answer.ms)} ms.`);
      }
    },
  );

  task(
    'the server process keeps running, answers /health, and logs the Redis error',
    {
      points: 2,
      step: 'Step 2',
      severity: 'critical',
      hint:
        'node-redis emits "error" when it loses Redis and at every failed reconnection. A listener that logs ' +
        'it keeps the process alive and tells the operator why carts fail (src/redis.ts).',
      timeout,
    },
    async () => {
      const outage = await serverOutage.get();
      survived(outage);

      if (!outage.health.ok)
        throw new Error(`GET /health while Redis was down: ${outage.health.error.message}`);
      expect(outage.health.value.status).toBe(200);
      expect(outage.health.value.body).toEqual({ status: 'ok', serverId: 'server-1' });
      must(
        outage.logged,
        'While Redis was down the server logged nothing about it (no "ECONNREFUSED", no "Socket closed ' +
          'unexpectedly"): an "error" listener that swallows the error leaves the operator blind.',
      );
    },
  );

  task(
    'a request already past the guard when Redis goes away fails at once, instead of waiting for Redis',
    {
      points: 2,
      step: 'Step 2',
      hint:
        'The guard cannot stop a request it let through a moment before the connection dropped: that request ' +
        'meets the client. With the offline queue off (Step 1) its command fails at once — a rare error, not a hang.',
      timeout,
    },
    async () => {
      const outage = await serverOutage.get();
      survived(outage);
      const { pastGuard } = outage;

      must(
        pastGuard.kind !== 'pending',
        `A POST /cart/items that was past the guard when Redis went away had no answer ${ANSWER_WITHIN_MS} ms ` +
          'after its body was sent: its session command waits in the client’s offline queue until Redis returns.',
      );
      if (pastGuard.kind === 'error')
        throw new Error(`A POST /cart/items past the guard got no answer: ${pastGuard.error.message}`);
      must(
        pastGuard.value.status >= 500,
        `A POST /cart/items past the guard answered ${pastGuard.value.status} ${pastGuard.value.body} while ` +
          'Redis was down: the session could not be read, so it must fail.',
      );
    },
  );

  task(
    'carts work again once Redis is back, without restarting the server',
    {
      points: 2,
      step: 'Step 2',
      hint:
        'The client must reconnect by itself: socket.reconnectStrategy returns a delay in ms (never false, ' +
        'which gives up for good). Redis restarts empty here, so the cart starts afresh.',
      timeout,
    },
    async () => {
      const outage = await serverOutage.get();
      survived(outage);
      const { again, cartAfter } = outage;

      if (!again?.ok) {
        const last = again?.last;
        throw new Error(
          `Redis has been back for ${RECOVERY_WITHIN_MS} ms and POST /cart/items still answers ` +
            `${last?.ok ? shown(last.value) : last?.error.message}: the server did not reconnect.`,
        );
      }
      if (!cartAfter?.ok) throw new Error(`GET /cart after the outage: ${cartAfter?.error.message}`);
      expect(cartAfter.value.body.items).toEqual([macbook]);
    },
  );
});
