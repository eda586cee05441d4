/**
 * Lesson 03 — the cart lives in Redis, so every server is interchangeable: any of them serves any
 * request, and a server that dies takes no cart with it. Lesson 02 crashed a server and the cart died
 * with it; the same journey ends the other way here.
 *
 * Two real server processes (src/server.ts) share one redis-server of this file's own (so that
 * INFO stats counts their connections and nobody else's). They boot side by side as the file begins,
 * and die for real at its end: server 1 by POST /crash (a crash: exit code 1), server 2 by SIGTERM
 * (a deploy: exit code 0). Lesson 02 showed SIGKILL too; for a cart in Redis it is the same death.
 * One task checks the store in process, on createSessionStore itself: a TTL that follows the cookie is
 * not visible from outside until the cookie is old.
 * Run: npm test lessons/03
 */
import { Visitor } from '../../../kit/spec/browser';
import { PROCESS_TIMEOUT_MS, useServerProcesses } from '../../../kit/spec/processes';
import { iphone, macbook } from '../../../kit/spec/shop';
import { pollUntil } from '../../../kit/spec/wait';
import { createSessionStore } from '../src/store';
import { connectionsReceived, gatedLesson, lessonServer, openConnections, useOwnRedis } from './support';

// Every task here needs a server (Steps 1 and 2) or createSessionStore (Step 2).
const { topic, task, blocked } = gatedLesson(2);
const { shared: redis } = useOwnRedis(['shared'], { unless: blocked });
const servers = useServerProcesses();

/** Not the default 'sess:': the store must use the prefix it is given. */
const PREFIX = 'shop:sess:';
/** lesson 01's createApp: the session cookie's max age. */
const MAX_AGE_MS = 30 * 60_000;
/** Upper bound for anything a process should do soon (exit, answer). Generous on purpose. */
const BOUND_MS = 5_000;
const timeout = PROCESS_TIMEOUT_MS;

const fleet = [1, 2].map((n) =>
  lessonServer(servers, () => ({
    REDIS_URL: redis.url,
    SESSION_PREFIX: PREFIX,
    SERVER_ID: `server-${n}`,
    ENABLE_CHAOS: '1',
    DRAIN_TIMEOUT_MS: '3000',
  })),
);
const [server1, server2] = fleet as [(typeof fleet)[0], (typeof fleet)[0]];

// All three boot side by side as the file begins; each task awaits the ones it needs.
beforeAll(() => {
  if (blocked()) return;
  for (const server of fleet) server.warm();
}, timeout);

function must(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** A visitor whose cart holds the MacBook and the iPhone, filled on `server`. */
async function shopperWithFullCart(server: { url: string }): Promise<Visitor> {
  const shopper = new Visitor();
  expect((await shopper.post(server, '/cart/items', macbook)).status).toBe(201);
  expect((await shopper.post(server, '/cart/items', iphone)).status).toBe(201);
  return shopper;
}

const sessionKey = (shopper: Visitor) => `${PREFIX}${shopper.sessionId()}`;
const sessionKeys = () => redis.spec.keys(`${PREFIX}*`);
const fullCart = (serverId: string) => ({ serverId, items: [macbook, iphone], total: 3700 });

const storeHint =
  'Each process has its own MemoryStore until createSessionStore (src/store.ts) returns connect-redis’s ' +
  'store on the shared client: then every server reads and writes the same sessions, in Redis.';

topic('when servers share one Redis', () => {
  task(
    'a cart filled on server 1 is read and extended on server 2, then read again on server 1',
    { points: 3, step: 'Step 2', severity: 'blocker', hint: storeHint, timeout },
    async () => {
      const [one, two] = await Promise.all([server1.get(), server2.get()]);
      const shopper = new Visitor();

      expect((await shopper.post(one, '/cart/items', macbook)).status).toBe(201);
      const onTwo = await shopper.get(two, '/cart');
      const extendedOnTwo = await shopper.post(two, '/cart/items', iphone);
      const backOnOne = await shopper.get(one, '/cart');

      expect(onTwo.servedBy).toBe('server-2');
      expect(onTwo.body.items).toEqual([macbook]);
      expect(extendedOnTwo.status).toBe(201);
      expect(backOnOne.servedBy).toBe('server-1');
      expect(backOnOne.body).toEqual(fullCart('server-1'));
    },
  );

  task(
    'each server keeps its one Redis connection, however many requests it serves (INFO stats, CLIENT LIST)',
    {
      points: 2,
      step: 'Step 2',
      hint:
        'Every request uses the one client server.ts created at startup (node-redis pipelines concurrent ' +
        'commands over it): no client, no duplicate, no connection per request.',
      timeout,
    },
    async () => {
      const running = await Promise.all(fleet.map((server) => server.get()));
      const before = await connectionsReceived(redis.spec);

      const requests = running.flatMap((server) => [
        (visitor: Visitor) => visitor.post(server, '/cart/items', macbook),
        (visitor: Visitor) => visitor.get(server, '/cart'),
      ]);
      const answers = await Promise.all(
        [new Visitor(), new Visitor()].map(async (visitor) => {
          const seen = [];
          for (const send of requests) seen.push((await send(visitor)).status);
          return seen;
        }),
      );
      const opened = (await connectionsReceived(redis.spec)) - before;

      expect(answers.flat().every((status) => status === 200 || status === 201)).toBe(true);
      must(
        opened === 0,
        `${answers.flat().length} cart requests made Redis accept ${opened} new connections (INFO stats: ` +
          'total_connections_received): a connection per request costs a handshake each time, and runs Redis ' +
          'out of connections under load. Use the one client server.ts hands you.',
      );
      // The servers and the spec's own client; a connection of a process that just died may linger a moment.
      const connections = await pollUntil(
        () => openConnections(redis.spec),
        (ids) => ids.length === running.length + 1,
        1_000,
      );
      must(
        connections.ok,
        `Redis has ${connections.last.length - 1} connections from ${running.length} servers (CLIENT LIST): one each.`,
      );
    },
  );
});

topic('inside Redis', () => {
  task(
    'the session is one key, <prefix><session id>, and it holds the cart',
    {
      points: 2,
      step: 'Step 2',
      hint:
        'connect-redis names each key prefix + session id: pass on the prefix createSessionStore is given ' +
        '(redis-cli: KEYS shop:sess:* then GET one of them).',
      timeout,
    },
    async () => {
      const one = await server1.get();
      const shopper = new Visitor();

      await shopper.post(one, '/cart/items', macbook);
      const keysOfThisSession = await redis.spec.keys(`*${shopper.sessionId()}`);
      const stored = await redis.spec.get(sessionKey(shopper));

      must(
        keysOfThisSession.length > 0,
        `After POST /cart/items, Redis has no key for session ${shopper.sessionId()} (KEYS *<id>): the session is ` +
          'not in Redis.',
      );
      must(
        keysOfThisSession.length === 1 && keysOfThisSession[0] === sessionKey(shopper),
        `The session is stored as ${keysOfThisSession.join(', ')}, not ${sessionKey(shopper)}: the store must ` +
          `use the prefix it is given ("${PREFIX}"), so that sessions stay apart from whatever else uses this Redis.`,
      );
      expect(JSON.parse(stored ?? '{}').cart).toEqual([macbook]);
    },
  );

  task(
    'the key expires with the cookie: its PTTL is the cookie’s max age (30 minutes)',
    {
      points: 1,
      step: 'Step 2',
      hint:
        'connect-redis sets the TTL from the session cookie’s expiry when it saves: let it, and Redis ' +
        'forgets a session when the browser would (redis-cli: PTTL <key>).',
      timeout,
    },
    async () => {
      const one = await server1.get();
      const shopper = new Visitor();

      await shopper.post(one, '/cart/items', macbook);
      const pttl = await redis.spec.pTTL(sessionKey(shopper));

      must(pttl !== -2, `After POST /cart/items there is no key ${sessionKey(shopper)} in Redis.`);
      must(
        pttl !== -1,
        `The session key has no expiry (PTTL -1): Redis would keep it for ever, long after its 30-minute cookie ` +
          'is gone.',
      );
      must(
        pttl <= MAX_AGE_MS,
        `The session key lives ${Math.round(pttl / 60_000)} minutes (PTTL ${pttl} ms), longer than its cookie’s ` +
          '30 minutes: Redis keeps sessions the browser has forgotten.',
      );
      must(
        pttl > MAX_AGE_MS - 60_000,
        `The session key lives only ${Math.round(pttl / 1000)} s (PTTL ${pttl} ms), less than its cookie’s 30 ` +
          'minutes: the cart would vanish while the visitor still has a valid cookie.',
      );
    },
  );

  task(
    'the TTL follows each session’s own cookie, not a fixed time (checked in process on createSessionStore)',
    {
      points: 1,
      step: 'Step 2',
      hint:
        'Leave the TTL to connect-redis: with no ttl option it reads each session’s cookie expiry. A fixed ' +
        'ttl (or none at all) keeps sessions the browser has long forgotten.',
      timeout,
    },
    async () => {
      const store = createSessionStore(redis.spec, PREFIX);
      const id = `ttl-probe-${process.pid}-${Date.now()}`;
      const lifetimeMs = 20_000;
      const cookie = {
        originalMaxAge: lifetimeMs,
        expires: new Date(Date.now() + lifetimeMs),
        httpOnly: true,
        path: '/',
      };

      await new Promise<void>((resolve, reject) =>
        store.set(id, { cookie, cart: [macbook] } as never, (error) => (error ? reject(error) : resolve())),
      );
      const pttl = await redis.spec.pTTL(`${PREFIX}${id}`);

      must(pttl !== -2, `store.set('${id}', …) wrote no key ${PREFIX}${id} in Redis.`);
      must(
        pttl > 0,
        'A session saved through the store has no expiry in Redis (PTTL -1): it would stay for ever, long after ' +
          'its cookie is gone.',
      );
      must(
        pttl <= lifetimeMs && pttl > lifetimeMs - 5_000,
        `A session whose cookie expires in ${lifetimeMs / 1000} s was saved with a PTTL of ${pttl} ms: its TTL ` +
          'must follow the cookie’s expiry, not a fixed time.',
      );
    },
  );

  task(
    'a visitor who never touches the cart gets no cookie and creates no key',
    {
      points: 1,
      step: 'Step 2',
      hint:
        'saveUninitialized: false (lesson 01’s createApp) saves a session only once it holds something: ' +
        'browsing alone must not fill Redis with empty sessions.',
      timeout,
    },
    async () => {
      const one = await server1.get();
      const browser = new Visitor();
      const keysBefore = await sessionKeys();

      const health = await browser.get(one, '/health');
      const cart = await browser.get(one, '/cart');

      expect(health.status).toBe(200);
      expect(cart.status).toBe(200);
      expect(cart.body.items).toEqual([]);
      expect(browser.hasCookie()).toBe(false);
      expect((await sessionKeys()).sort()).toEqual(keysBefore.sort());
    },
  );

  task(
    'DELETE /cart removes the session’s key from Redis',
    {
      points: 1,
      step: 'Step 2',
      hint: 'req.session.destroy() (lesson 01’s DELETE /cart) calls the store’s destroy: RedisStore deletes the key.',
      timeout,
    },
    async () => {
      const one = await server1.get();
      const shopper = new Visitor();
      await shopper.post(one, '/cart/items', macbook);
      const key = sessionKey(shopper);
      expect(await redis.spec.exists(key)).toBe(1);

      const emptied = await shopper.delete(one, '/cart');

      expect(emptied.status).toBe(200);
      expect(await redis.spec.exists(key)).toBe(0);
    },
  );
});

topic('when server 1 crashes (POST /crash)', () => {
  task(
    'server 2 answers its visitor’s cookie with the same cart',
    { points: 3, step: 'Step 2', severity: 'blocker', hint: storeHint, timeout },
    async () => {
      const [one, two] = await Promise.all([server1.get(), server2.get()]);
      const shopper = await shopperWithFullCart(one);

      expect((await shopper.post(one, '/crash')).status).toBe(202);
      expect(await one.exitWithin(BOUND_MS)).toEqual({ code: 1, signal: null });
      const cart = await shopper.get(two, '/cart');

      must(
        cart.status === 200 && cart.body.items?.length === 2,
        `Server 1 crashed; server 2 answers its visitor’s cookie with ${cart.status} ${JSON.stringify(cart.body)}: ` +
          'the cart died with the process that held it.',
      );
      expect(cart.body).toEqual(fullCart('server-2'));
    },
  );
});

topic('when a deploy stops server 2 (SIGTERM)', () => {
  task(
    'it closes its Redis client and exits 0, and the cart stays in Redis for the next server',
    {
      points: 2,
      step: 'Step 3',
      hint:
        'After SIGTERM the server drains its requests, then awaits closeRedis (src/redis.ts): it must close the ' +
        'client and resolve, or the process exits 1 mid-deploy.',
      timeout,
    },
    async () => {
      const two = await server2.get();
      const shopper = await shopperWithFullCart(two);

      const exit = await two.kill('SIGTERM');
      const stored = await redis.spec.get(sessionKey(shopper));

      must(
        !/Redis client still open after closeRedis/.test(two.output()),
        'server.ts found the client still open after closeRedis: it did not close it.',
      );
      expect(exit).toEqual({ code: 0, signal: null });
      expect(two.output()).toContain('Redis client closed');
      expect(JSON.parse(stored ?? '{}').cart).toEqual([macbook, iphone]);
      // Whether its connection left Redis politely is checked in process (redis-outage.spec.ts): once
      // the process has exited, its connection is gone either way.
    },
  );
});
