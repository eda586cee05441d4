/**
 * Lesson 03 — the cart lives in Redis, so every server is interchangeable: any of them serves any
 * request, and a server that dies takes no cart with it. Lesson 02 crashed a server and the cart died
 * with it; the same journey ends the other way here.
 * Run: npm test lessons/03
 */
import { Visitor } from '../../../kit/spec/browser';
import { PROCESS_TIMEOUT_MS, sharedServer, useServerProcesses } from '../../../kit/spec/processes';
import { useRedis } from '../../../kit/spec/redis';
import { iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { LESSON } from './support';

const { topic, task } = lesson(LESSON);
const redis = useRedis();
const servers = useServerProcesses();

/** Not the default 'sess:': the store must use the prefix it is given. */
const PREFIX = 'shop:sess:';
const serverOptions = (serverId: string) => () => ({
  lesson: LESSON,
  entry: 'server.ts',
  env: { REDIS_URL: redis.url, SESSION_PREFIX: PREFIX, SERVER_ID: serverId, ENABLE_CHAOS: '1' },
});
const server1 = sharedServer(servers, serverOptions('server-1'));
const server2 = sharedServer(servers, serverOptions('server-2'));

/** Both servers, started side by side when a test first needs them. */
function bothServers() {
  return Promise.all([server1.get(), server2.get()]);
}

/** A visitor whose cart holds the MacBook and the iPhone, filled on `server`. */
async function shopperWithFullCart(server: { url: string }): Promise<Visitor> {
  const shopper = new Visitor();
  expect((await shopper.post(server, '/cart/items', macbook)).status).toBe(201);
  expect((await shopper.post(server, '/cart/items', iphone)).status).toBe(201);
  return shopper;
}

const sessionKey = (shopper: Visitor) => `${PREFIX}${shopper.sessionId()}`;
const sessionKeys = () => redis.client.keys(`${PREFIX}*`);

const storeHint =
  'Each process has its own MemoryStore until createSessionStore (src/store.ts) returns connect-redis’s ' +
  'RedisStore on the shared client: then every server reads and writes the same sessions, in Redis.';

topic('when two servers share one Redis', () => {
  task(
    'a cart filled on server 1 is read and extended on server 2, then read again on server 1',
    { points: 3, step: 'Step 2', severity: 'blocker', hint: storeHint, timeout: PROCESS_TIMEOUT_MS },
    async () => {
      const [one, two] = await bothServers();
      const shopper = new Visitor();

      expect((await shopper.post(one, '/cart/items', macbook)).status).toBe(201);
      const onTwo = await shopper.get(two, '/cart');
      const extendedOnTwo = await shopper.post(two, '/cart/items', iphone);
      const backOnOne = await shopper.get(one, '/cart');

      expect(onTwo.headers.get('x-served-by')).toBe('server-2');
      expect(onTwo.body.items).toEqual([macbook]);
      expect(extendedOnTwo.status).toBe(201);
      expect(backOnOne.headers.get('x-served-by')).toBe('server-1');
      expect(backOnOne.body).toEqual({ serverId: 'server-1', items: [macbook, iphone], total: 3700 });
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
        'connect-redis names each key prefix + session id: pass the prefix createSessionStore is given ' +
        '(redis-cli: KEYS shop:sess:* then GET one of them).',
      timeout: PROCESS_TIMEOUT_MS,
    },
    async () => {
      const one = await server1.get();
      const shopper = new Visitor();

      await shopper.post(one, '/cart/items', macbook);
      const keysOfThisSession = await redis.client.keys(`*${shopper.sessionId()}`);
      const stored = await redis.client.get(sessionKey(shopper));

      expect(keysOfThisSession).toEqual([sessionKey(shopper)]);
      expect(JSON.parse(stored ?? '{}').cart).toEqual([macbook]);
    },
  );

  task(
    'the key expires with the cookie: its PTTL is the cookie’s max age (30 minutes)',
    {
      points: 1,
      step: 'Step 2',
      hint:
        'connect-redis sets the TTL from the session cookie’s expiry when it saves: let it (no `ttl` option), ' +
        'and Redis forgets a session when the browser would (redis-cli: TTL <key>).',
      timeout: PROCESS_TIMEOUT_MS,
    },
    async () => {
      const one = await server1.get();
      const shopper = new Visitor();

      await shopper.post(one, '/cart/items', macbook);
      const pttl = await redis.client.pTTL(sessionKey(shopper));

      const maxAge = 30 * 60_000;
      expect(pttl).toBeLessThanOrEqual(maxAge);
      expect(pttl).toBeGreaterThan(maxAge - 60_000);
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
      timeout: PROCESS_TIMEOUT_MS,
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
      expect(await sessionKeys()).toEqual(keysBefore);
    },
  );

  task(
    'DELETE /cart removes the session’s key from Redis',
    {
      points: 1,
      step: 'Step 2',
      hint: 'req.session.destroy() (lesson 01’s DELETE /cart) calls the store’s destroy: RedisStore deletes the key.',
      timeout: PROCESS_TIMEOUT_MS,
    },
    async () => {
      const one = await server1.get();
      const shopper = new Visitor();
      await shopper.post(one, '/cart/items', macbook);
      const key = sessionKey(shopper);
      expect(await redis.client.exists(key)).toBe(1);

      const emptied = await shopper.delete(one, '/cart');

      expect(emptied.status).toBe(200);
      expect(await redis.client.exists(key)).toBe(0);
    },
  );
});

topic('when server 1 crashes (POST /crash)', () => {
  task(
    'restarted on the same port, it answers the same cookie with the same cart',
    { points: 3, step: 'Step 2', severity: 'blocker', hint: storeHint, timeout: PROCESS_TIMEOUT_MS },
    async () => {
      const before = await server1.get();
      const shopper = await shopperWithFullCart(before);

      expect((await shopper.post(before, '/crash')).status).toBe(202);
      expect(await before.exited).toEqual({ code: 1, signal: null });
      const after = await server1.restart();
      const cart = await shopper.get(after, '/cart');

      expect(after.port).toBe(before.port);
      expect(after.pid).not.toBe(before.pid);
      expect(cart.status).toBe(200);
      expect(cart.body).toEqual({ serverId: 'server-1', items: [macbook, iphone], total: 3700 });
    },
  );
});

topic('when the machine kills server 1 (SIGKILL)', () => {
  task(
    'restarted on the same port, it answers the same cookie with the same cart',
    { points: 2, step: 'Step 2', severity: 'critical', hint: storeHint, timeout: PROCESS_TIMEOUT_MS },
    async () => {
      const before = await server1.get();
      const shopper = await shopperWithFullCart(before);

      expect(await before.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      const after = await server1.restart();
      const cart = await shopper.get(after, '/cart');

      expect(after.port).toBe(before.port);
      expect(cart.status).toBe(200);
      expect(cart.body).toEqual({ serverId: 'server-1', items: [macbook, iphone], total: 3700 });
    },
  );
});

topic('when a deploy stops server 1 (SIGTERM)', () => {
  task(
    'server 1 closes its Redis client and exits 0, and server 2 still serves the cart',
    {
      points: 2,
      step: 'Step 3',
      hint:
        'After SIGTERM the server drains its requests, then awaits closeRedis (src/redis.ts): it must resolve, ' +
        'or the process exits 1 mid-deploy. node-redis v6 closes a client with close().',
      timeout: PROCESS_TIMEOUT_MS,
    },
    async () => {
      const [one, two] = await bothServers();
      const shopper = await shopperWithFullCart(one);

      const exit = await one.kill('SIGTERM');
      const onTwo = await shopper.get(two, '/cart');

      expect(exit).toEqual({ code: 0, signal: null });
      expect(one.output()).toContain('Redis client closed');
      expect(onTwo.body).toEqual({ serverId: 'server-2', items: [macbook, iphone], total: 3700 });
    },
  );
});
