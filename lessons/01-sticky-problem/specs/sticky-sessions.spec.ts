/**
 * Lesson 01, README Step 3 — a cart in the session, and the sticky problem. Each `task` is one thing
 * the README asks you to build. Run: npm test lessons/01
 *
 * A visitor is supertest's agent: it keeps the cookies a server sets, as a browser does. Where the
 * specs look at the operator's side, they pass a session store of their own as options.store
 * (WatchedStore in ./support.ts) and read what it holds and what it was asked to do.
 */
import './env';
import { isDeepStrictEqual } from 'node:util';
import request from 'supertest';
import { iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { createApp } from '../src/app';
import {
  check,
  cookieFor,
  logAnswers,
  mustSetSessionCookie,
  quietly,
  SPEC_SECRET,
  sessionCookieOf,
  WatchedStore,
} from './support';

const { topic, task } = lesson('01-sticky-problem');

const show = (value: unknown) => JSON.stringify(value);

/** A browser: supertest's agent keeps the cookies a server sets, like a real one does. */
function visitor(app = createApp({ serverId: 'server-1' })) {
  return request.agent(app);
}

/** POST /cart/items, which must answer 201 with the cart. */
async function add(to: ReturnType<typeof visitor>, item: object): Promise<request.Response> {
  const res = await to.post('/cart/items').send(item);
  check(
    res.status === 201,
    `POST /cart/items with ${show(item)} answered ${res.status} ${show(res.body)}, not 201.`,
  );
  return res;
}

/** A request that must get an answer within `ms` (a promise that never settles is a bug to name). */
async function answered(test: request.Test, what: string, ms = 2_000): Promise<request.Response> {
  try {
    return await test.timeout(ms);
  } catch (error) {
    if ((error as { timeout?: number }).timeout)
      throw new Error(
        `${what} got no answer within ${ms / 1000} s: does emptyCart() resolve once the session is destroyed?`,
      );
    throw error;
  }
}

topic('when a visitor fills a cart', () => {
  task(
    'adding a first item gives the visitor a session cookie, and the store holds their cart',
    {
      points: 2,
      step: 'Step 3',
      severity: 'blocker',
      hint: 'Assign the new cart to req.session.cart: express-session saves the session because it changed.',
    },
    async () => {
      const store = new WatchedStore();
      const res = await add(visitor(createApp({ serverId: 'server-1', store })), macbook);

      check(
        isDeepStrictEqual(res.body, { serverId: 'server-1', items: [macbook], total: 2500 }),
        `The 201 answer should show the cart with the MacBook in it; it is ${show(res.body)}.`,
      );
      const cookie = mustSetSessionCookie(res, 'Adding a first item');
      check(
        isDeepStrictEqual(store.peek(cookie.sid)?.cart, [macbook]),
        `After the first item, the store passed as options.store holds ${show(store.peek(cookie.sid) ?? null)} for the visitor's session, not their cart [MacBook Pro] (it was asked: ${store.describeCalls()}).`,
      );
    },
  );

  task(
    'the cart persists across requests with that cookie',
    {
      points: 2,
      step: 'Step 3',
      severity: 'critical',
      hint: 'Keep the items in req.session.cart; express-session saves it and finds it again by the cookie.',
    },
    async () => {
      const shopper = visitor();

      await add(shopper, macbook);
      await add(shopper, iphone);
      const res = await shopper.get('/cart');

      check(res.status === 200, `GET /cart answered ${res.status} ${show(res.body)}.`);
      check(
        !Array.isArray(res.body.items) || res.body.items.length <= 2,
        `After adding a MacBook, then an iPhone, GET /cart shows ${show(res.body.items)}: items this visitor never added. Are carts shared (a module variable, or one array handed to every new visitor)?`,
      );
      check(
        isDeepStrictEqual(res.body, { serverId: 'server-1', items: [macbook, iphone], total: 3700 }),
        `After adding a MacBook, then an iPhone, GET /cart shows ${show(res.body)}: the cart should hold both, in that order (total 3700).`,
      );
      check(res.headers['x-served-by'] === 'server-1', 'GET /cart lacks X-Served-By: server-1.');
    },
  );

  task(
    'looking at the cart before adding anything shows an empty cart and creates no session',
    {
      points: 1,
      step: 'Step 3',
      hint: 'Reading the cart must not change the session: answer an empty list without storing it.',
    },
    async () => {
      const store = new WatchedStore();

      const res = await request(createApp({ serverId: 'server-1', store })).get('/cart');

      check(
        res.status === 200 && isDeepStrictEqual(res.body, { serverId: 'server-1', items: [], total: 0 }),
        `GET /cart for a new visitor answered ${res.status} ${show(res.body)}, not 200 with an empty cart.`,
      );
      check(
        sessionCookieOf(res) === undefined && store.ids().length === 0,
        `Only looking at an empty cart gave the visitor a session (cookie: ${sessionCookieOf(res)?.line ?? 'none'}; the store was asked: ${store.describeCalls()}).`,
      );
    },
  );

  task(
    'the cart holds the item parseItem() gave back (name trimmed, no other fields), not the raw body',
    {
      points: 1,
      step: 'Step 3',
      hint: 'addToCart receives the checked item: store that one, not req.body.',
    },
    async () => {
      const shopper = visitor();

      await add(shopper, { name: '  Socks ', price: 0, discount: 100 });
      const res = await shopper.get('/cart');

      check(
        isDeepStrictEqual(res.body.items, [{ name: 'Socks', price: 0 }]),
        `After adding { name: "  Socks ", price: 0, discount: 100 }, the cart holds ${show(res.body.items)}, not [{ name: "Socks", price: 0 }].`,
      );
    },
  );

  task(
    'two visitors never see each other’s cart',
    {
      points: 2,
      step: 'Step 3',
      severity: 'critical',
      hint: 'A cart belongs to a session, not to the server: keep nothing about carts in module variables, and change no array you did not create.',
    },
    async () => {
      const app = createApp({ serverId: 'server-1' });
      const alice = visitor(app);
      const bob = visitor(app);

      await add(alice, macbook);
      const bobFirst = await bob.get('/cart');
      await add(bob, iphone);
      const aliceCart = (await alice.get('/cart')).body.items;
      const bobCart = (await bob.get('/cart')).body.items;

      check(
        isDeepStrictEqual(bobFirst.body.items, []),
        `Bob has added nothing yet, but his cart shows ${show(bobFirst.body.items)}: Alice's items leaked into it.`,
      );
      check(
        isDeepStrictEqual(aliceCart, [macbook]) && isDeepStrictEqual(bobCart, [iphone]),
        `Alice added a MacBook, Bob an iPhone; Alice's cart shows ${show(aliceCart)}, Bob's ${show(bobCart)}.`,
      );
    },
  );
});

topic('when the same visitor reaches another server', () => {
  task(
    'server 2 does not see the cart filled on server 1 (the sticky problem)',
    {
      points: 2,
      step: 'Step 3',
      severity: 'critical',
      hint: 'Each createApp() has its own MemoryStore. Once your cart works, this shows why sessions are sticky.',
    },
    async () => {
      const server1 = createApp({ serverId: 'server-1' });
      const server2 = createApp({ serverId: 'server-2' });
      const filled = await request(server1).post('/cart/items').send(macbook);
      const cookie = mustSetSessionCookie(filled, 'Adding a MacBook on server 1');

      const onServer1 = await request(server1).get('/cart').set('Cookie', cookie.cookie);
      const onServer2 = await request(server2).get('/cart').set('Cookie', cookie.cookie);

      check(
        isDeepStrictEqual(onServer1.body.items, [macbook]),
        `Server 1 lost the cart it just filled: ${show(onServer1.body)}.`,
      );
      check(
        onServer2.headers['x-served-by'] === 'server-2',
        'The second request was not served by server 2.',
      );
      check(
        isDeepStrictEqual(onServer2.body.items, []),
        `Server 2 shows ${show(onServer2.body.items)} for a cart filled on server 1: each server's sessions live in its own memory, so it should see none (is the cart kept in a module variable, shared by every createApp()?).`,
      );
    },
  );

  task(
    'servers given one store share the carts in it (what lesson 03 builds on)',
    {
      points: 2,
      step: 'Step 3',
      hint: 'The cart lives in req.session and nowhere else: whatever the store holds for the cookie is the cart.',
    },
    async () => {
      // Alice filled her cart earlier, on a server that is gone: her session is in the shared store.
      const store = new WatchedStore();
      store.put('alice', [macbook]);
      const server1 = createApp({ serverId: 'server-1', store, secret: SPEC_SECRET });
      const server2 = createApp({ serverId: 'server-2', store, secret: SPEC_SECRET });
      const alice = cookieFor('alice', SPEC_SECRET);

      const onServer2 = await request(server2).get('/cart').set('Cookie', alice);
      check(
        store.count('get', 'alice') === 1,
        `Alice's cookie, signed with options.secret, did not make server 2 ask options.store for her session (the store was asked: ${store.describeCalls()}): does the session middleware use options.store and options.secret?`,
      );
      const added = await request(server2).post('/cart/items').set('Cookie', alice).send(iphone);
      const onServer1 = await request(server1).get('/cart').set('Cookie', alice);

      check(
        isDeepStrictEqual(onServer2.body.items, [macbook]),
        `The store holds Alice's session with a MacBook in the cart, yet GET /cart with her cookie shows ${show(onServer2.body.items)}: readCart() must read the cart from the session.`,
      );
      check(added.status === 201, `POST /cart/items answered ${added.status} ${show(added.body)}, not 201.`);
      check(
        isDeepStrictEqual(onServer1.body.items, [macbook, iphone]) &&
          isDeepStrictEqual(store.peek('alice')?.cart, [macbook, iphone]),
        `After Alice added an iPhone on server 2, server 1 shows ${show(onServer1.body.items)} and the store holds ${show(store.peek('alice')?.cart)}, not [MacBook Pro, iPhone 15].`,
      );
    },
  );
});

topic('when the visitor empties the cart', () => {
  /** A server with its own store, and a visitor (their cookie) who has a MacBook in the cart. */
  async function filledCart() {
    const store = new WatchedStore();
    const app = logAnswers(createApp({ serverId: 'server-1', store }), store.log);
    const filled = await request(app).post('/cart/items').send(macbook);
    check(filled.status === 201, `POST /cart/items answered ${filled.status} ${show(filled.body)}, not 201.`);
    const cookie = mustSetSessionCookie(filled, 'Adding a MacBook');
    store.log.length = 0;
    return { store, app, cookie };
  }

  task(
    'emptying the cart destroys the session in the store',
    {
      points: 2,
      step: 'Step 3',
      severity: 'critical',
      hint: 'req.session.destroy(callback) forgets the whole session; wrap the callback in a Promise.',
    },
    async () => {
      const { store, app, cookie } = await filledCart();

      const emptied = await answered(
        request(app).delete('/cart').set('Cookie', cookie.cookie),
        'DELETE /cart',
      );
      const after = await request(app).get('/cart').set('Cookie', cookie.cookie);

      check(
        emptied.status === 200 &&
          isDeepStrictEqual(emptied.body, { serverId: 'server-1', items: [], total: 0 }),
        `DELETE /cart answered ${emptied.status} ${show(emptied.body)}, not 200 with the empty cart.`,
      );
      check(
        store.count('destroy', cookie.sid) === 1 && store.peek(cookie.sid) === undefined,
        `DELETE /cart left the visitor's session in the store (it was asked: ${store.describeCalls()}; it holds ${show(store.peek(cookie.sid))}): emptying the cart must forget the whole session.`,
      );
      check(
        isDeepStrictEqual(after.body.items, []),
        `After DELETE /cart, the old cookie still finds a cart: ${show(after.body)}.`,
      );
    },
  );

  task(
    'DELETE /cart answers only once the store has destroyed the session',
    {
      points: 1,
      step: 'Step 3',
      hint: 'Resolve the promise inside the callback req.session.destroy() calls, not after calling it.',
    },
    async () => {
      const { store, app, cookie } = await filledCart();

      const res = await answered(request(app).delete('/cart').set('Cookie', cookie.cookie), 'DELETE /cart');

      check(res.status === 200, `DELETE /cart answered ${res.status} ${show(res.body)}, not 200.`);
      check(
        isDeepStrictEqual(store.log, [
          'the store was asked to destroy the session',
          'the store destroyed the session',
          'DELETE /cart answered',
        ]),
        `DELETE /cart must answer after the store has destroyed the session; in this order it went: ${store.log.join(' → ')}. The visitor's next request could still find the cart.`,
      );
    },
  );

  task(
    'when the store cannot destroy the session, DELETE /cart answers 500 and the cart is kept',
    {
      points: 1,
      step: 'Step 3',
      hint: 'The destroy callback gets an error when the store fails: reject with it (the route turns that into a 500).',
    },
    async () => {
      const { store, app, cookie } = await filledCart();
      store.destroyFails = new Error('the session store is unreachable');

      const res = await quietly(() =>
        answered(request(app).delete('/cart').set('Cookie', cookie.cookie), 'DELETE /cart'),
      );
      store.destroyFails = undefined;
      const after = await request(app).get('/cart').set('Cookie', cookie.cookie);

      check(
        res.status === 500 && typeof res.body?.error === 'string',
        `The store failed to destroy the session, yet DELETE /cart answered ${res.status} ${show(res.body)}: the visitor is told the cart is empty while it is still there. It should be a 500 JSON error.`,
      );
      check(
        isDeepStrictEqual(after.body.items, [macbook]),
        `After the failed DELETE /cart, the cart shows ${show(after.body.items)}, not [MacBook Pro].`,
      );
    },
  );
});
