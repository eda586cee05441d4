/**
 * Lesson 01 — the sticky problem. Each `task` is one thing the README asks you to build.
 * Run: npm test lessons/01
 */
import request from 'supertest';
import { iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { createApp } from '../src/app';

const { topic, task } = lesson('01-sticky-problem');

/** A browser: supertest's agent keeps the cookies a server sets, like a real one does. */
function visitor(app = createApp({ serverId: 'server-1' })) {
  return request.agent(app);
}

topic('when a visitor fills a cart', () => {
  task(
    'adding a first item gives the visitor a session cookie',
    {
      points: 2,
      step: 'Step 1',
      severity: 'blocker',
      hint: 'express-session sets a signed "connect.sid" cookie once a session has something in it.',
    },
    async () => {
      const res = await visitor().post('/cart/items').send(macbook);

      expect(res.status).toBe(201);
      expect(String(res.headers['set-cookie'])).toMatch(/connect\.sid=/);
    },
  );

  task(
    'the cart persists across requests with that cookie',
    {
      points: 2,
      step: 'Step 2',
      severity: 'critical',
      hint: 'Keep the items in req.session.cart; express-session saves it and finds it again by the cookie.',
    },
    async () => {
      const shopper = visitor();

      await shopper.post('/cart/items').send(macbook).expect(201);
      await shopper.post('/cart/items').send(iphone).expect(201);
      const res = await shopper.get('/cart');

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ serverId: 'server-1', items: [macbook, iphone], total: 3700 });
      expect(res.headers['x-served-by']).toBe('server-1');
    },
  );

  task(
    'two visitors never see each other’s cart',
    {
      points: 2,
      step: 'Step 2',
      severity: 'critical',
      hint: 'A cart belongs to a session, not to the server: keep nothing about carts in module variables.',
    },
    async () => {
      const app = createApp({ serverId: 'server-1' });
      const alice = visitor(app);
      const bob = visitor(app);

      await alice.post('/cart/items').send(macbook).expect(201);
      await bob.post('/cart/items').send(iphone).expect(201);

      expect((await alice.get('/cart')).body.items).toEqual([macbook]);
      expect((await bob.get('/cart')).body.items).toEqual([iphone]);
    },
  );

  task(
    'emptying the cart leaves it empty',
    {
      points: 1,
      step: 'Step 2',
      hint: 'req.session.destroy(callback) forgets the whole session; wrap the callback in a Promise.',
    },
    async () => {
      const shopper = visitor();
      await shopper.post('/cart/items').send(macbook).expect(201);

      const emptied = await shopper.delete('/cart');
      const after = await shopper.get('/cart');

      expect(emptied.status).toBe(200);
      expect(emptied.body.items).toEqual([]);
      expect(after.body).toEqual({ serverId: 'server-1', items: [], total: 0 });
    },
  );
});

topic('when the same visitor reaches another server', () => {
  task(
    'server 2 does not see the cart filled on server 1 (the sticky problem)',
    {
      points: 2,
      step: 'Step 2',
      severity: 'critical',
      hint: 'Each createApp() has its own MemoryStore. Once your cart works, this shows why sessions are sticky.',
    },
    async () => {
      const server1 = createApp({ serverId: 'server-1' });
      const server2 = createApp({ serverId: 'server-2' });
      const filled = await request(server1).post('/cart/items').send(macbook).expect(201);
      const cookie = filled.headers['set-cookie'] ?? [];

      const onServer1 = await request(server1).get('/cart').set('Cookie', cookie);
      const onServer2 = await request(server2).get('/cart').set('Cookie', cookie);

      expect(onServer1.body.items).toEqual([macbook]);
      expect(onServer2.headers['x-served-by']).toBe('server-2');
      expect(onServer2.body.items).toEqual([]);
    },
  );
});

topic('when the input is bad, nothing changes', () => {
  const badItems: Array<[string, unknown]> = [
    ['a missing name', { price: 10 }],
    ['an empty name', { name: '', price: 10 }],
    ['a name of only spaces', { name: '   ', price: 10 }],
    ['a name over 100 characters', { name: 'x'.repeat(101), price: 10 }],
    ['a name that is not a string', { name: 42, price: 10 }],
    ['a missing price', { name: 'Socks' }],
    ['a negative price', { name: 'Socks', price: -1 }],
    ['a price of "NaN"', { name: 'Socks', price: 'NaN' }],
    ['a price that is a string of digits', { name: 'Socks', price: '12' }],
    ['a price over the maximum', { name: 'Socks', price: 1_000_001 }],
    ['an array instead of an item', [{ name: 'Socks', price: 10 }]],
  ];

  for (const [what, body] of badItems) {
    task(
      `${what} is refused with 400 and the cart is unchanged`,
      {
        points: 1,
        step: 'Step 3',
        hint: 'Check typeof and ranges in parseItem; the route already answers 400 when it returns { ok: false }.',
      },
      async () => {
        const shopper = visitor();
        await shopper.post('/cart/items').send(macbook).expect(201);

        const res = await shopper.post('/cart/items').send(body as object);

        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ error: 'invalid_item', message: expect.any(String) });
        expect((await shopper.get('/cart')).body.items).toEqual([macbook]);
      },
    );
  }

  task(
    'a body that is not valid JSON is refused with 400 and a JSON error',
    {
      points: 1,
      step: 'Step 1',
      hint: 'express.json() and the course error handler do this once the session middleware is in place.',
    },
    async () => {
      const shopper = visitor();
      await shopper.post('/cart/items').send(macbook).expect(201);

      const res = await shopper.post('/cart/items').set('Content-Type', 'application/json').send('{"name": ');

      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_json' });
      expect((await shopper.get('/cart')).body.items).toEqual([macbook]);
    },
  );

  task(
    'a body over 10 kB is refused with 413 and a JSON error',
    {
      points: 1,
      step: 'Step 1',
      hint: 'express.json({ limit }) refuses big bodies before your code runs; the session must still work.',
    },
    async () => {
      const shopper = visitor();
      await shopper.post('/cart/items').send(macbook).expect(201);

      const res = await shopper
        .post('/cart/items')
        .send({ name: 'Socks', price: 1, note: 'x'.repeat(20_000) });

      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ error: 'payload_too_large' });
      expect((await shopper.get('/cart')).body.items).toEqual([macbook]);
    },
  );
});
