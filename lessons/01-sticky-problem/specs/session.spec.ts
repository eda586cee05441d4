/**
 * Lesson 01, README Step 1 — the session middleware, before there is any cart. Each `task` is one
 * thing the README asks you to build. Run: npm test lessons/01
 *
 * These tasks run your sessionMiddleware() in process, inside a small app of the specs (specApp() in
 * ./support.ts) whose POST /fill puts a cart in req.session and whose GET /look only reads it. They
 * look at what a visitor sees (the Set-Cookie line) and at what an operator sees (what the session
 * store passed as options.store was asked to do). The last two check, through createApp(), that the
 * bodies the course refuses before your code runs still get JSON errors with your middleware in place.
 */
import './env';
import { isDeepStrictEqual } from 'node:util';
import request from 'supertest';
import { iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { type AppOptions, sessionMiddleware } from '../src/app';
import { ENV_SECRET } from './env';
import {
  check,
  cookieFor,
  mustSetSessionCookie,
  nothingChanged,
  SESSION_COOKIE,
  SPEC_SECRET,
  sessionCookieOf,
  shopWithAlice,
  signedWith,
  specApp,
  WatchedStore,
} from './support';

const { topic, task } = lesson('01-sticky-problem');

const serverId = 'server-1';
const app = (options: Omit<AppOptions, 'serverId'> = {}) =>
  specApp(sessionMiddleware({ serverId, ...options }));

topic('when your sessionMiddleware() runs (in process, in an app of the specs)', () => {
  task(
    'a visitor whose session holds something gets a signed connect.sid cookie',
    {
      points: 2,
      step: 'Step 1',
      severity: 'blocker',
      hint: 'Return the middleware express-session builds; it sets a signed cookie once a session has something in it.',
    },
    async () => {
      const res = await request(app()).post('/fill');

      check(
        res.status === 201,
        `POST /fill (it puts a cart in req.session) answered ${res.status}: ${JSON.stringify(res.body)}`,
      );
      const cookie = mustSetSessionCookie(res, 'POST /fill, which put a cart in req.session,');
      check(
        cookie.sid === res.body.sessionId,
        `The cookie holds session id ${cookie.sid}, but the request's session is ${res.body.sessionId}.`,
      );
      check(
        cookie.attributes.get('path') === '/',
        `The session cookie must be sent with every page of the shop (Path=/): ${cookie.line}`,
      );
    },
  );

  task(
    'the session cookie is HttpOnly and SameSite=Lax',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint: "express-session's cookie options: one keeps it from page scripts, one from other sites' requests.",
    },
    async () => {
      const cookie = mustSetSessionCookie(await request(app()).post('/fill'), 'POST /fill');

      check(
        cookie.attributes.get('httponly') === true,
        `The session cookie is not HttpOnly: any script on the page (an injected one too) can read the session id and steal the session. Set-Cookie: ${cookie.line}`,
      );
      check(
        String(cookie.attributes.get('samesite')).toLowerCase() === 'lax',
        `The session cookie is not SameSite=Lax: a form on another site could post to the cart with the visitor's session. Set-Cookie: ${cookie.line}`,
      );
    },
  );

  task(
    'the session cookie expires after sessionMaxAgeMs, 30 minutes when not given',
    {
      points: 2,
      step: 'Step 1',
      hint: 'The cookie option takes milliseconds; take options.sessionMaxAgeMs, with a default when it is undefined.',
    },
    async () => {
      for (const [given, expected, said] of [
        [90_000, 90_000, 'With sessionMaxAgeMs: 90000'],
        [undefined, 30 * 60_000, 'With no sessionMaxAgeMs'],
      ] as const) {
        const store = new WatchedStore();
        const before = Date.now();
        const res = await request(
          app(given === undefined ? { store } : { store, sessionMaxAgeMs: given }),
        ).post('/fill');
        const after = Date.now();
        const cookie = mustSetSessionCookie(res, `${said}, POST /fill`);
        const expires = Date.parse(String(cookie.attributes.get('expires')));

        check(
          Number.isFinite(expires),
          `${said}, the session cookie has no expiry: it lives until the browser closes, not ${expected / 1000} s. Set-Cookie: ${cookie.line}`,
        );
        // Expires is written to the whole second: allow that second, and the time the request took.
        check(
          expires >= before + expected - 1_500 && expires <= after + expected + 500,
          `${said}, the session cookie should expire in ${expected / 1000} s; it expires in ${Math.round((expires - before) / 1000)} s. Set-Cookie: ${cookie.line}`,
        );
        // express-session reads the lifetime back from the expiry it just set: a millisecond may pass.
        check(
          store.peek(cookie.sid) !== undefined,
          `The session was not saved in the store given as options.store (that store was asked: ${store.describeCalls()}).`,
        );
        const saved = store.peek(cookie.sid)?.cookie.originalMaxAge;
        check(
          typeof saved === 'number' && saved <= expected && saved > expected - 1_000,
          `${said}, the session saved in the store should last ${expected} ms; it says ${saved}.`,
        );
      }
    },
  );

  task(
    'a visitor who stores nothing gets no cookie and no session in the store',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint: 'One option of express-session decides whether an untouched session is saved (and its cookie sent).',
    },
    async () => {
      const store = new WatchedStore();

      const res = await request(app({ store })).get('/look');

      check(res.status === 200, `GET /look answered ${res.status}: ${JSON.stringify(res.body)}`);
      check(
        sessionCookieOf(res) === undefined,
        `GET /look stored nothing in req.session, yet it set a ${SESSION_COOKIE} cookie: every visitor (every crawler, every health probe) would get a session. Set-Cookie: ${sessionCookieOf(res)?.line}`,
      );
      check(
        store.count('set') === 0 && store.ids().length === 0,
        `GET /look stored nothing in req.session, yet a session was saved in the store (it was asked: ${store.describeCalls()}).`,
      );
    },
  );

  task(
    'sessions are kept in the store given as options.store, and the cookie finds them again',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint: 'Hand options.store to express-session (left undefined, it uses its own MemoryStore).',
    },
    async () => {
      const store = new WatchedStore();
      const shop = app({ store });
      const cookie = mustSetSessionCookie(await request(shop).post('/fill'), 'POST /fill');

      check(
        store.count('set', cookie.sid) === 1 && isDeepStrictEqual(store.peek(cookie.sid)?.cart, [macbook]),
        `The session was not saved in the store given as options.store (that store was asked: ${store.describeCalls()}). Lesson 03 passes Redis there.`,
      );
      const looked = await request(shop).get('/look').set('Cookie', cookie.cookie);
      check(
        store.count('get', cookie.sid) === 1,
        `GET /look with the cookie did not ask options.store for the session (it was asked: ${store.describeCalls()}).`,
      );
      check(
        isDeepStrictEqual(looked.body.cart, [macbook]),
        `GET /look with the cookie did not find the session's cart: ${JSON.stringify(looked.body)}`,
      );
    },
  );

  task(
    'a request that changes nothing does not write the session back to the store',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint: 'One option of express-session decides whether an unchanged session is saved again at the end of every request.',
    },
    async () => {
      const store = new WatchedStore();
      const shop = app({ store });
      const cookie = mustSetSessionCookie(await request(shop).post('/fill'), 'POST /fill');
      check(
        store.count('set', cookie.sid) === 1,
        `POST /fill should save the session in options.store once (it was asked: ${store.describeCalls()}).`,
      );

      await request(shop).get('/look').set('Cookie', cookie.cookie).expect(200);
      await request(shop).get('/look').set('Cookie', cookie.cookie).expect(200);

      check(
        store.count('set', cookie.sid) === 1,
        `Two GET /look changed nothing in the session, yet the store was asked to save it again (${store.describeCalls()}). Two requests of one visitor at once would each write back what they read: the slower one undoes the other's change.`,
      );
    },
  );

  task(
    'the cookie is signed with options.secret, else with the SESSION_SECRET environment variable',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      hint: 'Pick the secret with ?? : the option first, then process.env.SESSION_SECRET, then a dev-only string.',
    },
    async () => {
      const withOption = mustSetSessionCookie(
        await request(app({ secret: SPEC_SECRET })).post('/fill'),
        'With options.secret, POST /fill',
      );
      check(
        signedWith(withOption, SPEC_SECRET),
        `With options.secret given, the cookie is not signed with it${
          signedWith(withOption, ENV_SECRET) ? ' but with SESSION_SECRET (the option comes first)' : ''
        }: servers given the same secret could not read each other's cookies.`,
      );

      const fromEnv = mustSetSessionCookie(
        await request(app()).post('/fill'),
        'Without options.secret, POST /fill',
      );
      check(
        signedWith(fromEnv, ENV_SECRET),
        'Without options.secret, the cookie is not signed with the SESSION_SECRET environment variable: a deployment has no way to set its secret.',
      );
    },
  );

  task(
    'with a list of secrets the first signs and each one is accepted; a forged cookie finds nothing',
    {
      points: 1,
      step: 'Step 1',
      hint: 'express-session takes a string or an array of secrets as they are: pass options.secret on unchanged.',
    },
    async () => {
      const store = new WatchedStore();
      store.put('alice', [macbook]);
      store.put('bob', [iphone]);
      const shop = app({ store, secret: ['the-new-secret', SPEC_SECRET] });

      const filled = mustSetSessionCookie(await request(shop).post('/fill'), 'POST /fill');
      const old = await request(shop).get('/look').set('Cookie', cookieFor('alice', SPEC_SECRET));
      const forged = await request(shop).get('/look').set('Cookie', cookieFor('bob', 'a-guessed-secret'));

      check(
        signedWith(filled, 'the-new-secret'),
        'With secret: [new, old], a new cookie is not signed with the first (newest) secret.',
      );
      check(
        isDeepStrictEqual(old.body.cart, [macbook]),
        `With secret: [new, old], a cookie signed with the old secret no longer finds its session (${JSON.stringify(old.body)}): rotating the secret would log every visitor out.`,
      );
      check(
        forged.body.cart === null && store.count('get', 'bob') === 0,
        `A cookie signed with a secret the server does not have found a session: ${JSON.stringify(forged.body)}`,
      );
    },
  );
});

topic('when the body is not JSON the course accepts (refused before your code runs)', () => {
  task(
    'a body that is not valid JSON is refused with 400 invalid_json, and nothing changes',
    {
      points: 1,
      step: 'Step 1',
      hint: 'express.json() and the course error handler do this once your session middleware is in place.',
    },
    async () => {
      const { store, app, alice } = shopWithAlice();

      const res = await request(app)
        .post('/cart/items')
        .set('Cookie', alice)
        .set('Content-Type', 'application/json')
        .send('{"name": ');

      check(
        res.status === 400 && res.body?.error === 'invalid_json',
        `A body that is not JSON was answered ${res.status} ${JSON.stringify(res.body)}, not 400 invalid_json.`,
      );
      nothingChanged(store, res, 'a body that is not JSON');
    },
  );

  task(
    'a body over 10 kB is refused with 413 payload_too_large, and nothing changes',
    {
      points: 1,
      step: 'Step 1',
      hint: 'express.json({ limit }) refuses big bodies before your code runs; the session must still work.',
    },
    async () => {
      const { store, app, alice } = shopWithAlice();

      const res = await request(app)
        .post('/cart/items')
        .set('Cookie', alice)
        .send({ name: 'Socks', price: 1, note: 'x'.repeat(20_000) });

      check(
        res.status === 413 && res.body?.error === 'payload_too_large',
        `A 20 kB body was answered ${res.status} ${JSON.stringify(res.body)}, not 413 payload_too_large.`,
      );
      nothingChanged(store, res, 'a 20 kB body');
    },
  );
});
