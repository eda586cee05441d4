/**
 * Lesson 05 — sessions that expire, and slide while in use. A session nobody uses leaves Redis by
 * itself; a session somebody uses lives on, in Redis and in the browser. And the secret that signs
 * the cookies can be replaced without logging anybody out.
 *
 * Two real servers share this file's Redis database, started side by side as the file begins:
 *   shop-1   SESSION_TTL_SECONDS=60, SESSION_SECRET=new,old   (after a secret rotation)
 *   shop-2   SESSION_TTL_SECONDS=1                             (to watch a session expire, quickly)
 * No task sleeps for a TTL: PTTL tells how long a key has left, and every wait is for a real condition.
 * Run: npm test lessons/05
 */
import { Visitor } from '../../../kit/spec/browser';
import { PROCESS_TIMEOUT_MS, useServerProcesses } from '../../../kit/spec/processes';
import { useRedis } from '../../../kit/spec/redis';
import { macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { pollUntil, startedOnce } from '../../../kit/spec/wait';
import {
  cookieLifetimeSeconds,
  getWithCookie,
  LESSON,
  serverEnv,
  sessionSetCookie,
  signature,
  signatureIn,
  signedCookie,
} from './support';

const { topic, task } = lesson(LESSON);
const redis = useRedis();
const servers = useServerProcesses();

const STEP_4 = 'Step 4';
const TTL_SECONDS = 60;
const TTL_MS = TTL_SECONDS * 1000;
/** Not the default 'sess:': the store must use the prefix it is configured with. */
const PREFIX = 'shop:sess:';
const OLD_SECRET = 'old-secret-2024-7f3a9c1e';
const NEW_SECRET = 'new-secret-2025-b84d20f6';
/** How long "the key disappears by itself" may take with SESSION_TTL_SECONDS=1. */
const EXPIRY_WITHIN_MS = 3_000;
const timeout = PROCESS_TIMEOUT_MS;

function startShop(serverId: string, settings: Record<string, string>) {
  return startedOnce(() =>
    servers.start({
      lesson: LESSON,
      entry: 'server.ts',
      env: serverEnv({ REDIS_URL: redis.url, SERVER_ID: serverId, SESSION_PREFIX: PREFIX, ...settings }),
      // They boot while other tasks run: a task that needs one checks its start itself.
      recordTodos: false,
    }),
  );
}

const shop1 = startShop('shop-1', {
  SESSION_TTL_SECONDS: String(TTL_SECONDS),
  SESSION_SECRET: `${NEW_SECRET},${OLD_SECRET}`,
});
const shop2 = startShop('shop-2', { SESSION_TTL_SECONDS: '1' });

const keyOf = (shopper: Visitor) => `${PREFIX}${shopper.sessionId()}`;

/** The key's PTTL in ms; fails clearly when there is no such key (a prefix not passed on, say). */
async function pttl(key: string): Promise<number> {
  const ms = await redis.client.pTTL(key);
  if (ms === -2) {
    const found = await redis.client.keys(`*${key.slice(PREFIX.length)}`);
    throw new Error(
      `No key ${key} in Redis (keys of this session: ${JSON.stringify(found)}). ` +
        'Does createSessionStore pass config.sessionPrefix to the store?',
    );
  }
  return ms;
}

// ── The stories that take time (arrange + act), started as the file begins ───────────────────────

/** A visitor fills a cart on shop-2 (TTL 1 s), then goes away; Redis expires the key by itself. */
const expiryStory = startedOnce(async () => {
  const server = await shop2.get();
  const shopper = new Visitor();
  const added = await shopper.post(server, '/cart/items', macbook);
  const key = keyOf(shopper);
  const existedAfterAdd = (await redis.client.exists(key)) === 1;
  // EXISTS looks without touching: asking for the cart would push the expiry forward (that is the point
  // of sliding expiration), so the visitor stays away until the key is gone.
  const gone = await pollUntil(
    () => redis.client.exists(key),
    (count) => count === 0,
    EXPIRY_WITHIN_MS,
  );
  const cartAfter = await shopper.get(server, '/cart');
  return { added, existedAfterAdd, gone: gone.ok, cartAfter };
});

/** A visitor fills a cart on shop-1, a moment passes, and they look at the cart again. */
const slidingStory = startedOnce(async () => {
  const server = await shop1.get();
  const shopper = new Visitor();
  const added = await shopper.post(server, '/cart/items', macbook);
  const key = keyOf(shopper);
  const stored = await redis.client.get(key);
  const afterAdd = await pttl(key);
  // A real condition, not a sleep: the key has aged by at least 200 ms.
  const aged = await pollUntil(
    () => pttl(key),
    (ms) => ms <= afterAdd - 200,
    5_000,
  );
  const looked = await shopper.get(server, '/cart');
  const afterLook = await pttl(key);
  const storedAfterLook = await redis.client.get(key);
  return { added, stored, afterAdd, aged: aged.last, looked, afterLook, storedAfterLook };
});

beforeAll(() => {
  for (const started of [shop1, shop2, expiryStory, slidingStory]) started.begin();
});

// ── The tasks (assert) ───────────────────────────────────────────────────────────────────────────

topic(`when a visitor puts something in the cart (SESSION_TTL_SECONDS=${TTL_SECONDS})`, () => {
  task(
    `the session's key expires after SESSION_TTL_SECONDS: its PTTL is about ${TTL_MS} ms`,
    {
      points: 3,
      step: STEP_4,
      severity: 'blocker',
      timeout,
      hint:
        'connect-redis saves with SET … EX <seconds until the cookie expires>: set the cookie’s maxAge to ' +
        'sessionTtlSeconds * 1000 (and the store’s ttl to sessionTtlSeconds). redis-cli: PTTL <key>.',
    },
    async () => {
      const server = await shop1.get();
      const shopper = new Visitor();

      const added = await shopper.post(server, '/cart/items', macbook);
      const ms = await pttl(keyOf(shopper));

      expect(added.status).toBe(201);
      expect(ms).toBeGreaterThan(TTL_MS - 5_000);
      expect(ms).toBeLessThanOrEqual(TTL_MS);
    },
  );

  task(
    `the cookie expires at the same moment: ${TTL_SECONDS} s after the answer`,
    {
      points: 1,
      step: STEP_4,
      timeout,
      hint: 'cookie.maxAge is in MILLISECONDS, SESSION_TTL_SECONDS in seconds.',
    },
    async () => {
      const server = await shop1.get();

      const added = await new Visitor().post(server, '/cart/items', macbook);

      expect(cookieLifetimeSeconds(added)).toBeGreaterThanOrEqual(TTL_SECONDS - 2);
      expect(cookieLifetimeSeconds(added)).toBeLessThanOrEqual(TTL_SECONDS + 1);
    },
  );
});

topic('when the visitor goes away (SESSION_TTL_SECONDS=1)', () => {
  task(
    'Redis forgets the session by itself, and the same cookie then finds an empty cart',
    {
      points: 2,
      step: STEP_4,
      severity: 'critical',
      timeout,
      hint:
        'No clean-up job: a key saved with a TTL disappears by itself. If it never does, the store saves ' +
        'without one — check the cookie’s maxAge and the store’s ttl.',
    },
    async () => {
      const { added, existedAfterAdd, gone, cartAfter } = await expiryStory.get();

      expect(added.status).toBe(201);
      expect(existedAfterAdd).toBe(true);
      if (!gone) throw new Error(`The session key still existed ${EXPIRY_WITHIN_MS} ms after a 1 s TTL.`);
      expect(cartAfter.status).toBe(200);
      expect(cartAfter.body.items).toEqual([]);
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
      const { added, afterAdd, aged, looked, afterLook } = await slidingStory.get();

      expect(added.status).toBe(201);
      expect(looked.status).toBe(200);
      expect(aged).toBeLessThanOrEqual(afterAdd - 200);
      expect(afterLook).toBeGreaterThan(aged + 150);
      expect(afterLook).toBeGreaterThan(TTL_MS - 1_000);
    },
  );

  task(
    `each answer re-sends the cookie, good for another ${TTL_SECONDS} s (rolling)`,
    {
      points: 2,
      step: STEP_4,
      timeout,
      hint:
        'express-session re-sends the cookie only when the session changed — unless rolling: true. Without it ' +
        'the key lives on in Redis while the browser drops the cookie 60 s after the last change.',
    },
    async () => {
      const { looked } = await slidingStory.get();

      expect(sessionSetCookie(looked)).toBeDefined();
      expect(cookieLifetimeSeconds(looked)).toBeGreaterThanOrEqual(TTL_SECONDS - 2);
    },
  );

  task(
    'a request that only reads the cart does not write the session back (resave: false)',
    {
      points: 1,
      step: STEP_4,
      timeout,
      hint:
        'resave: true writes every session back at the end of every request: a slow read of one visitor ' +
        'can then overwrite the item a parallel request of theirs just added.',
    },
    async () => {
      const { stored, storedAfterLook } = await slidingStory.get();

      expect(stored).not.toBeNull();
      expect(storedAfterLook).toBe(stored);
    },
  );
});

topic('when the session secret is rotated (shop-1 runs with SESSION_SECRET=new,old)', () => {
  /**
   * A visitor from before the rotation: their session is in Redis, and their browser still holds the
   * cookie the old servers signed with the old secret (signed here as they did).
   */
  async function visitorFromBeforeTheRotation() {
    const shopper = new Visitor();
    const added = await shopper.post(await shop1.get(), '/cart/items', macbook);
    expect(added.status).toBe(201);
    const sessionId = shopper.sessionId();
    return { sessionId, oldCookie: signedCookie(sessionId, OLD_SECRET) };
  }

  const hint =
    'Pass ALL of config.sessionSecrets as express-session’s `secret` (an array): the first signs, every ' +
    'one verifies. loadConfig splits SESSION_SECRET on commas (Step 1).';

  task(
    'a cookie signed with the old secret still finds its cart',
    { points: 2, step: STEP_4, severity: 'critical', timeout, hint },
    async () => {
      const { oldCookie } = await visitorFromBeforeTheRotation();

      const cart = await getWithCookie(await shop1.get(), '/cart', oldCookie);

      expect(cart.status).toBe(200);
      expect(cart.body.items).toEqual([macbook]);
    },
  );

  task(
    'the answer re-signs the cookie with the new secret',
    {
      points: 1,
      step: STEP_4,
      timeout,
      hint:
        `${hint} With rolling: true every answer re-sends the cookie, signed with the first secret: a ` +
        'visitor who comes back moves to the new secret, so the old one can be dropped later.',
    },
    async () => {
      const { sessionId, oldCookie } = await visitorFromBeforeTheRotation();

      const cart = await getWithCookie(await shop1.get(), '/cart', oldCookie);

      expect(signatureIn(sessionSetCookie(cart) ?? '')).toBe(signature(sessionId, NEW_SECRET));
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
      const { sessionId } = await visitorFromBeforeTheRotation();

      const forged = await getWithCookie(
        await shop1.get(),
        '/cart',
        signedCookie(sessionId, 'guessed-secret'),
      );

      expect(forged.status).toBe(200);
      expect(forged.body.items).toEqual([]);
    },
  );
});
