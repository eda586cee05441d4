/**
 * Lesson 04 — the load balancer. Each `task` is one thing the README asks you to build.
 * Run: npm test lessons/04
 *
 * The balancer is yours (src/balancer.ts), run in this process. The servers behind it are real
 * processes running the FINISHED earlier lessons: two that keep sessions in memory (lesson 02) and two
 * that keep them in Redis (lesson 03). They start once, side by side, and are shared by the tests;
 * servers die for real (POST /crash, SIGKILL), and a test that needs one alive again restarts it on
 * its port. Every wait is bounded and waits for a real event, never a fixed sleep.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestInFlight, Visitor } from '../../../kit/spec/browser';
import { PROCESS_TIMEOUT_MS, useServerProcesses, within } from '../../../kit/spec/processes';
import { useRedis } from '../../../kit/spec/redis';
import { airpods, iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { PIN_COOKIE } from '../src/balancer';
import { fleetServer, LESSON, STEP_1, STEP_2, STEP_3, STEP_4, useBalancers } from './support';

const { topic, task } = lesson(LESSON);
const redis = useRedis();
const servers = useServerProcesses();
const balancers = useBalancers();

/** Sessions in each server's memory: lesson 02's finished server. */
const inMemory = () => ({
  lesson: '02-crash',
  entry: 'server.ts',
  finished: true,
  env: { ENABLE_CHAOS: '1' },
  recordTodos: false,
});
/** Sessions in Redis, shared by both: lesson 03's finished server. */
const inRedis = () => ({
  lesson: '03-redis-store',
  entry: 'server.ts',
  finished: true,
  env: { REDIS_URL: redis.url, ENABLE_CHAOS: '1' },
  recordTodos: false,
});
const memory1 = fleetServer(servers, 'memory-1', inMemory);
const memory2 = fleetServer(servers, 'memory-2', inMemory);
const redis1 = fleetServer(servers, 'redis-1', inRedis);
const redis2 = fleetServer(servers, 'redis-2', inRedis);

// All four boot side by side as the file begins; each task awaits the ones it needs.
beforeAll(() => {
  for (const server of [memory1, memory2, redis1, redis2]) server.alive().catch(() => {});
});

const timeout = PROCESS_TIMEOUT_MS;
/** Upper bound for anything that should happen soon (an answer cut off, a process gone). */
const BOUND_MS = 5_000;

const servedBy = (answers: Array<{ servedBy: string | null }>) => answers.map((answer) => answer.servedBy);

/** A new visitor, pinned by a sticky balancer to `serverName` (new visitors are spread in turn). */
async function visitorPinnedTo(lb: { url: string }, serverName: string): Promise<Visitor> {
  for (let tries = 0; tries < 4; tries++) {
    const visitor = new Visitor();
    if ((await visitor.get(lb, '/cart')).servedBy === serverName) return visitor;
  }
  throw new Error(`four new visitors in a row, and none was sent to ${serverName}.`);
}

topic('a round-robin balancer', () => {
  task(
    'sends each request to the next server in turn, starting with the first',
    {
      points: 2,
      step: STEP_1,
      severity: 'blocker',
      hint: 'roundRobin(count) returns a function with a counter of its own: 0, 1, …, count − 1, then 0.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([memory1.alive(), memory2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'round-robin' });

      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await new Visitor().get(lb, '/health'));

      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
      expect(servedBy(answers)).toEqual(['memory-1', 'memory-2', 'memory-1', 'memory-2']);
    },
  );

  task(
    'keeps its connections to a server open: ten requests, one connection',
    {
      points: 2,
      step: STEP_2,
      hint:
        'Give the proxy an http.Agent with keepAlive: true (option `agent`). Without one, http-proxy opens ' +
        'a connection per request and asks the server to close it after the answer.',
      timeout,
    },
    async () => {
      const probe = await probeServer('answers');
      try {
        const lb = await balancers.start({ targets: [probe.url], strategy: 'round-robin' });

        const statuses = [];
        for (let i = 0; i < 10; i++) statuses.push((await new Visitor().get(lb, '/')).status);

        expect(statuses).toEqual(Array(10).fill(200));
        expect(probe.connections()).toBe(1);
      } finally {
        await probe.close();
      }
    },
  );
});

topic('a visitor behind a round-robin balancer', () => {
  task(
    'over servers with sessions in memory, the cart is gone on the next request (the sticky problem)',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      hint:
        'forward() hands the request to http-proxy (proxy.web) with the body you read: the server answers, ' +
        'its status, X-Served-By and Set-Cookie come back as they are.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([memory1.alive(), memory2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'round-robin' });
      const shopper = new Visitor();

      const added = await shopper.post(lb, '/cart/items', macbook);
      const next = await shopper.get(lb, '/cart');

      expect(added.status).toBe(201);
      expect(added.servedBy).toBe('memory-1');
      expect(added.body.items).toEqual([macbook]);
      expect(next.servedBy).toBe('memory-2');
      expect(next.body).toEqual({ serverId: 'memory-2', items: [], total: 0 });
    },
  );

  task(
    'over servers with sessions in Redis, every request sees the whole cart, whichever server answers',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      hint:
        'Nothing Redis-specific to write: once the balancer forwards requests and their bodies, the ' +
        'servers share the sessions (lesson 03). A POST that arrives empty means forward() lost the body.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([redis1.alive(), redis2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'round-robin' });
      const shopper = new Visitor();

      expect((await shopper.post(lb, '/cart/items', macbook)).status).toBe(201);
      expect((await shopper.post(lb, '/cart/items', iphone)).status).toBe(201);
      const reads = [];
      for (let i = 0; i < 4; i++) reads.push(await shopper.get(lb, '/cart'));

      expect(servedBy(reads)).toEqual(['redis-1', 'redis-2', 'redis-1', 'redis-2']);
      for (const read of reads) expect(read.body).toMatchObject({ items: [macbook, iphone], total: 3700 });
    },
  );
});

topic('bad input through the balancer', () => {
  task(
    'gets the server’s own 400 JSON, and changes nothing',
    {
      points: 2,
      step: STEP_2,
      hint:
        'The balancer does not judge the body: it passes it on byte for byte, and passes the server’s 400 ' +
        'back. If the balancer answered 5xx, look at what forward() does with the server’s answer.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([redis1.alive(), redis2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'round-robin' });
      const shopper = new Visitor();
      expect((await shopper.post(lb, '/cart/items', macbook)).status).toBe(201);

      const brokenJson = await shopper.send(lb, 'POST', '/cart/items', { raw: '{"name": "iPhone 15", "pri' });
      const noName = await shopper.post(lb, '/cart/items', { name: '  ', price: 1200 });
      const textPrice = await shopper.post(lb, '/cart/items', { name: 'iPhone 15', price: 'NaN' });
      const cart = await shopper.get(lb, '/cart');

      expect(brokenJson.status).toBe(400);
      expect(brokenJson.body).toMatchObject({ error: 'invalid_json' });
      for (const refused of [noName, textPrice]) {
        expect(refused.status).toBe(400);
        expect(refused.body).toMatchObject({ error: 'invalid_item', message: expect.any(String) });
        expect(refused.servedBy).toMatch(/^redis-/);
      }
      expect(cart.body.items).toEqual([macbook]);
    },
  );

  task(
    'a body larger than the balancer keeps gets a 413 JSON from the balancer, and no server sees it',
    {
      points: 1,
      step: STEP_2,
      hint:
        'readBody() counts the bytes as they come, and rejects with bodyTooLarge(maxBytes) past the limit ' +
        '(a Content-Length that says so from the start can be refused at once).',
      timeout,
    },
    async () => {
      const one = await redis1.alive();
      const lb = await balancers.start({ targets: [one.url], strategy: 'round-robin', maxBodyBytes: 1024 });
      const shopper = new Visitor();

      const huge = await shopper.post(lb, '/cart/items', { name: 'x'.repeat(4000), price: 1 });
      const small = await shopper.post(lb, '/cart/items', macbook);

      expect(huge.status).toBe(413);
      expect(huge.body).toMatchObject({ error: 'payload_too_large', message: expect.any(String) });
      expect(huge.servedBy).toBeNull();
      expect(small.status).toBe(201);
      expect(small.body.items).toEqual([macbook]);
    },
  );
});

topic('a sticky balancer', () => {
  task(
    'pins a visitor from the very first answer: six requests, one server, one cart',
    {
      points: 3,
      step: STEP_3,
      severity: 'critical',
      hint:
        `The first answer carries Set-Cookie: ${PIN_COOKIE}=<index> (pinCookie), set by the balancer itself ` +
        '— not a hash of connect.sid, which a first visit does not have yet. readPin() reads it back.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([memory1.alive(), memory2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'sticky' });
      const shopper = new Visitor();

      const first = await shopper.get(lb, '/cart');
      const answers = [
        first,
        await shopper.post(lb, '/cart/items', macbook),
        await shopper.get(lb, '/cart'),
        await shopper.post(lb, '/cart/items', iphone),
        await shopper.get(lb, '/cart'),
        await shopper.get(lb, '/cart'),
      ];

      expect(first.setCookies.some((cookie) => cookie.startsWith(`${PIN_COOKIE}=`))).toBe(true);
      expect(new Set(servedBy(answers)).size).toBe(1);
      expect(answers[5].body).toMatchObject({ items: [macbook, iphone], total: 3700 });
    },
  );

  task(
    'spreads different visitors over the servers',
    {
      points: 1,
      step: STEP_3,
      hint: 'A visitor with no pin yet is placed like any round-robin request: the next server in turn.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([memory1.alive(), memory2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'sticky' });

      const firstVisits = [];
      for (let i = 0; i < 4; i++) firstVisits.push(await new Visitor().get(lb, '/cart'));

      expect(new Set(servedBy(firstVisits))).toEqual(new Set(['memory-1', 'memory-2']));
    },
  );

  task(
    'a pin the balancer never set (lb=banana, lb=7, lb=-1…) is ignored: the visitor is pinned afresh',
    {
      points: 2,
      step: STEP_3,
      hint:
        'Cookies come from the visitor: readPin() accepts only a whole number from 0 to count − 1, and ' +
        'returns undefined for anything else — the balancer then picks a server and pins the visitor to it.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([memory1.alive(), memory2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'sticky' });

      for (const forged of ['banana', '7', '-1', '1.5', '', '0x1', '%00', '99999999999999999999']) {
        const visitor = new Visitor();
        visitor.setCookie(PIN_COOKIE, forged);

        const answer = await visitor.get(lb, '/cart');
        const again = await visitor.get(lb, '/cart');

        expect({ forged, status: answer.status }).toEqual({ forged, status: 200 });
        expect({ forged, pin: visitor.cookie(PIN_COOKIE) }).toEqual({
          forged,
          pin: expect.stringMatching(/^[01]$/),
        });
        expect({ forged, sameServer: again.servedBy }).toEqual({ forged, sameServer: answer.servedBy });
      }
    },
  );
});

topic('when server 2 dies', () => {
  task(
    'sticky, sessions in memory: its visitors are moved to server 1 — and find their carts empty',
    {
      points: 3,
      step: STEP_4,
      severity: 'critical',
      hint:
        'tryInTurn() goes on with the next server when canRetry() says so (a refused connection): the ' +
        'balancer then pins the visitor to the server that answered. The cart itself cannot be saved: it ' +
        'was in the memory of the process that died.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([memory1.alive(), memory2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'sticky' });
      const alice = await visitorPinnedTo(lb, 'memory-1');
      const bob = await visitorPinnedTo(lb, 'memory-2');
      expect((await alice.post(lb, '/cart/items', macbook)).status).toBe(201);
      expect((await bob.post(lb, '/cart/items', iphone)).status).toBe(201);

      expect((await new Visitor().send(two, 'POST', '/crash')).status).toBe(202);
      expect(await within(two.exited, BOUND_MS)).toEqual({ code: 1, signal: null });
      const bobsCart = await bob.get(lb, '/cart');
      const alicesCart = await alice.get(lb, '/cart');

      expect(bobsCart.status).toBe(200);
      expect(bobsCart.servedBy).toBe('memory-1');
      expect(bobsCart.body).toEqual({ serverId: 'memory-1', items: [], total: 0 });
      expect(bob.cookie(PIN_COOKIE)).toBe(alice.cookie(PIN_COOKIE));
      expect(alicesCart.body.items).toEqual([macbook]);
    },
  );

  task(
    'round-robin, sessions in Redis: the cart survives, and not one request fails',
    {
      points: 3,
      step: STEP_4,
      severity: 'critical',
      hint:
        'Every other request is sent to the dead server first: its connection is refused, so tryInTurn() ' +
        'must go on with the next server instead of giving up with a 502.',
      timeout,
    },
    async () => {
      const [one, two] = await Promise.all([redis1.alive(), redis2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'round-robin' });
      const shopper = new Visitor();
      expect((await shopper.post(lb, '/cart/items', macbook)).status).toBe(201);
      expect((await shopper.post(lb, '/cart/items', iphone)).status).toBe(201);

      expect(await two.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      const afterwards = [
        await shopper.get(lb, '/cart'),
        await shopper.get(lb, '/cart'),
        await shopper.post(lb, '/cart/items', airpods),
        await shopper.get(lb, '/cart'),
      ];

      expect(afterwards.map((answer) => answer.status)).toEqual([200, 200, 201, 200]);
      expect(new Set(servedBy(afterwards))).toEqual(new Set(['redis-1']));
      expect(afterwards[3].body).toMatchObject({ items: [macbook, iphone, airpods], total: 3950 });
    },
  );

  task(
    'a POST sent to the dead server first is sent on to a live one, and the item is added exactly once',
    {
      points: 3,
      step: STEP_4,
      hint:
        'The retry must carry the same body: forward() needs a new stream of the buffered bytes on every ' +
        'attempt (a stream that was read once is empty the second time).',
      timeout,
    },
    async () => {
      const [dead, live] = await Promise.all([redis2.dead(), redis1.alive()]);
      const lb = await balancers.start({ targets: [dead.url, live.url], strategy: 'round-robin' });
      const shopper = new Visitor();

      // One of the two goes to the dead server first, whichever way the balancer counts.
      const added = [
        await shopper.post(lb, '/cart/items', iphone),
        await shopper.post(lb, '/cart/items', airpods),
      ];
      const cart = await shopper.get(live, '/cart');

      expect(added.map((answer) => answer.status)).toEqual([201, 201]);
      expect(servedBy(added)).toEqual(['redis-1', 'redis-1']);
      expect(cart.body).toEqual({ serverId: 'redis-1', items: [iphone, airpods], total: 1450 });
    },
  );
});

topic('when no server can answer', () => {
  task(
    'its only server is down: 502 JSON, and the balancer keeps running',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      hint:
        'proxy.web(req, res, options, callback): the callback receives the error (ECONNREFUSED); reject ' +
        'forward()’s promise with it and the given code answers 502. An "error" event nobody listens to ' +
        'kills the balancer.',
      timeout,
    },
    async () => {
      const dead = await memory2.dead();
      const lb = await balancers.start({ targets: [dead.url], strategy: 'round-robin' });

      const answers = [
        await new Visitor().get(lb, '/cart'),
        await new Visitor().post(lb, '/cart/items', macbook),
        await new Visitor().get(lb, '/health'),
      ];

      for (const answer of answers) {
        expect(answer.status).toBe(502);
        expect(answer.headers.get('content-type')).toMatch(/application\/json/);
        expect(answer.body).toEqual({ error: 'bad_gateway', message: expect.any(String) });
      }
    },
  );

  task(
    'every server is down: 502 JSON; once one is back, the balancer answers again',
    {
      points: 2,
      step: STEP_4,
      hint:
        'When every attempt failed, tryInTurn() throws the last error (the given code answers 502). ' +
        'Nothing is remembered about dead servers: the next request tries them all again.',
      timeout,
    },
    async () => {
      const [deadMemory, deadRedis] = await Promise.all([memory2.dead(), redis2.dead()]);
      const lb = await balancers.start({ targets: [deadMemory.url, deadRedis.url], strategy: 'round-robin' });

      const down = await new Visitor().get(lb, '/health');
      await redis2.alive();
      const back = await new Visitor().get(lb, '/health');

      expect(down.status).toBe(502);
      expect(down.body).toEqual({ error: 'bad_gateway', message: expect.any(String) });
      expect(back.status).toBe(200);
      expect(back.servedBy).toBe('redis-2');
    },
  );
});

topic('when a server dies while it handles a request', () => {
  task(
    'an answer under way is cut off, and the balancer goes on answering',
    {
      points: 2,
      step: STEP_2,
      hint:
        'The balancer must survive the reset: http-proxy reports errors to the proxy.web callback, and ' +
        'emits "error" for the rest — with no listener, that event kills the balancer.',
      timeout,
    },
    async () => {
      const [one, other] = await Promise.all([memory1.alive(), redis1.alive()]);
      const lb = await balancers.start({ targets: [one.url, other.url], strategy: 'round-robin' });

      const slow = await requestInFlight(`${lb.url}/slow?ms=20000`);
      expect(slow.servedBy).toBe('memory-1');
      await one.kill('SIGKILL');
      const outcome = await within(slow.answer, BOUND_MS);
      const next = await new Visitor().get(lb, '/health');

      expect(outcome?.status ?? `still open ${BOUND_MS} ms after the server died`).toBe('cut off');
      expect(next.status).toBe(200);
      expect(next.servedBy).toBe('redis-1');
    },
  );

  task(
    'a POST the server received before it died is not sent again: 502, and no other server sees it',
    {
      points: 2,
      step: STEP_4,
      hint:
        'canRetry(): only a refused connection (ECONNREFUSED) proves the request never reached a server. ' +
        'A reset (ECONNRESET) may come after the server added the item: sent again, it would be added twice.',
      timeout,
    },
    async () => {
      const diesOnRequest = await probeServer('dies before answering');
      const other = await probeServer('answers');
      try {
        const lb = await balancers.start({
          targets: [diesOnRequest.url, other.url],
          strategy: 'round-robin',
        });

        const added = await new Visitor().post(lb, '/cart/items', macbook);

        expect(diesOnRequest.requests()).toBe(1);
        expect(added.status).toBe(502);
        expect(added.body).toEqual({ error: 'bad_gateway', message: expect.any(String) });
        expect(other.requests()).toBe(0);
      } finally {
        await Promise.all([diesOnRequest.close(), other.close()]);
      }
    },
  );
});

/**
 * A plain HTTP server in this process, an instrument rather than a shop: it counts the connections and
 * requests it gets, and either answers 200 or dies the moment a request arrives (its connection is
 * destroyed before any answer, as when a process crashes halfway through a request).
 */
async function probeServer(behaviour: 'answers' | 'dies before answering') {
  let connections = 0;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests += 1;
    if (behaviour === 'dies before answering') {
      req.socket.destroy();
      return;
    }
    res.setHeader('X-Served-By', 'probe');
    res.end('ok');
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
