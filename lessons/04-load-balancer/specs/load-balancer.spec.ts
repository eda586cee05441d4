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
import { requestInFlight, Visitor } from '../../../kit/spec/browser';
import { PROCESS_TIMEOUT_MS, useServerProcesses, within } from '../../../kit/spec/processes';
import { useRedis } from '../../../kit/spec/redis';
import { airpods, iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { PIN_COOKIE, roundRobin } from '../src/balancer';
import { fleetServer, LESSON, probeServer, STEP_1, STEP_2, STEP_3, STEP_4, useBalancers } from './support';

const { topic, task } = lesson(LESSON);
const redis = useRedis();
const servers = useServerProcesses();
const balancers = useBalancers();

/** A bound on a server's start: generous, for a 2-core machine shared with other test runs. */
const READY_MS = 25_000;
/** Sessions in each server's memory: lesson 02's finished server. */
const inMemory = () => ({
  lesson: '02-crash',
  entry: 'server.ts',
  finished: true,
  env: { ENABLE_CHAOS: '1' },
  recordTodos: false,
  readyTimeoutMs: READY_MS,
});
/** Sessions in Redis, shared by both: lesson 03's finished server. */
const inRedis = () => ({
  lesson: '03-redis-store',
  entry: 'server.ts',
  finished: true,
  env: { REDIS_URL: redis.url, ENABLE_CHAOS: '1' },
  recordTodos: false,
  readyTimeoutMs: READY_MS,
});
const memory1 = fleetServer(servers, 'memory-1', inMemory);
const memory2 = fleetServer(servers, 'memory-2', inMemory);
const redis1 = fleetServer(servers, 'redis-1', inRedis);
const redis2 = fleetServer(servers, 'redis-2', inRedis);

// All four boot side by side as the file begins; each task awaits the ones it needs.
// (Not while createBalancer itself stops at a todo(): every task then fails at its preflight.)
beforeAll(() => {
  try {
    balancers.preflight();
  } catch {
    return;
  }
  for (const server of [memory1, memory2, redis1, redis2]) server.warm();
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
    'takes turns: 0, 1, …, count − 1, then 0 again, with a counter per balancer (roundRobin, checked in process)',
    {
      points: 2,
      step: STEP_1,
      severity: 'blocker',
      hint: 'roundRobin(count) returns a function with a counter of its own: 0, 1, …, count − 1, then 0.',
    },
    () => {
      const ofThree = roundRobin(3);
      const turns = Array.from({ length: 7 }, () => ofThree());
      const ofTwo = roundRobin(2);
      const another = roundRobin(2);
      const interleaved = [ofTwo(), ofTwo(), another(), ofTwo(), another()];
      const alone = roundRobin(1);

      expect({ 'roundRobin(3), seven calls': turns }).toEqual({
        'roundRobin(3), seven calls': [0, 1, 2, 0, 1, 2, 0],
      });
      expect({ 'two balancers, each its own turn': interleaved }).toEqual({
        'two balancers, each its own turn': [0, 1, 0, 0, 1],
      });
      expect([alone(), alone(), alone()]).toEqual([0, 0, 0]);
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
      const probe = await probeServer('probe');
      const lb = await balancers.start({ targets: [probe.url], strategy: 'round-robin' });

      const statuses = [];
      for (let i = 0; i < 10; i++) statuses.push((await new Visitor().get(lb, '/')).status);

      expect(statuses).toEqual(Array(10).fill(200));
      expect({ 'connections to the server for ten requests': probe.connections() }).toEqual({
        'connections to the server for ten requests': 1,
      });
    },
  );

  task(
    'tells the server who the visitor is: X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host',
    {
      points: 1,
      step: STEP_2,
      hint:
        'http-proxy adds the X-Forwarded-* headers when you ask it to (an option of createProxyServer). A ' +
        'server behind a proxy needs them to know the visitor’s address and whether the visit was https.',
      timeout,
    },
    async () => {
      const probe = await probeServer('probe');
      const lb = await balancers.start({ targets: [probe.url], strategy: 'round-robin' });

      expect((await new Visitor().get(lb, '/cart')).status).toBe(200);
      const seen = probe.state.requests[0]?.headers ?? {};

      expect({
        'x-forwarded-for': seen['x-forwarded-for'],
        'x-forwarded-proto': seen['x-forwarded-proto'],
        'x-forwarded-host': seen['x-forwarded-host'],
      }).toEqual({
        'x-forwarded-for': expect.stringContaining('127.0.0.1'),
        'x-forwarded-proto': 'http',
        'x-forwarded-host': `127.0.0.1:${lb.port}`,
      });
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
      balancers.preflight();

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
      balancers.preflight();

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
      balancers.preflight();

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
      balancers.preflight();

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

  task(
    'a body of exactly the limit is passed on whole, one byte more is refused',
    {
      points: 1,
      step: STEP_2,
      hint: 'maxBytes is the largest body that is kept: a body of exactly maxBytes bytes is fine.',
      timeout,
    },
    async () => {
      const probe = await probeServer('probe');
      const lb = await balancers.start({ targets: [probe.url], strategy: 'round-robin', maxBodyBytes: 1024 });

      const exact = await new Visitor().send(lb, 'POST', '/cart/items', { raw: 'x'.repeat(1024) });
      const over = await new Visitor().send(lb, 'POST', '/cart/items', { raw: 'x'.repeat(1025) });
      const empty = await new Visitor().send(lb, 'POST', '/cart/items', { raw: '' });

      expect({ status: exact.status, 'bytes the server got': exact.body?.bodyBytes }).toEqual({
        status: 200,
        'bytes the server got': 1024,
      });
      expect(over.status).toBe(413);
      expect({ status: empty.status, 'bytes the server got': empty.body?.bodyBytes }).toEqual({
        status: 200,
        'bytes the server got': 0,
      });
      expect(probe.requests()).toBe(2);
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
      balancers.preflight();

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
    'the pin cookie is for every path, out of reach of scripts, SameSite=Lax, for the browser session only',
    {
      points: 2,
      step: STEP_3,
      hint:
        'pinCookie() returns the whole Set-Cookie value: the name and index, then the attributes that say ' +
        'where the browser sends it back and who may read it. No expiry: it ends with the browser session.',
      timeout,
    },
    async () => {
      const probe = await probeServer('probe');
      const lb = await balancers.start({ targets: [probe.url], strategy: 'sticky' });

      const first = await new Visitor().get(lb, '/cart');
      const pin = first.setCookies.find((cookie) => cookie.startsWith(`${PIN_COOKIE}=`)) ?? '(none)';
      const attributes = pin
        .split(';')
        .slice(1)
        .map((part) => part.trim().toLowerCase());

      expect({ pin: pin.split(';')[0] }).toEqual({ pin: `${PIN_COOKIE}=0` });
      expect({ pin, attributes: [...attributes].sort() }).toEqual({
        pin,
        attributes: ['httponly', 'path=/', 'samesite=lax'],
      });
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
      balancers.preflight();

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
      balancers.preflight();

      const [one, two] = await Promise.all([memory1.alive(), memory2.alive()]);
      const lb = await balancers.start({ targets: [one.url, two.url], strategy: 'sticky' });

      for (const forged of [
        'banana',
        '2',
        '7',
        '-1',
        ' 1',
        '1e0',
        '01x',
        '1.5',
        '',
        '0x1',
        '%00',
        '99999999999999999999',
      ]) {
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
      balancers.preflight();

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
      balancers.preflight();

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
      balancers.preflight();

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
      balancers.preflight();

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
      balancers.preflight();

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
      balancers.preflight();

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
      const diesOnRequest = await probeServer('dies', 'dies before answering');
      const other = await probeServer('other');
      const lb = await balancers.start({
        targets: [diesOnRequest.url, other.url],
        strategy: 'round-robin',
      });

      const added = await new Visitor().post(lb, '/cart/items', macbook);

      expect(diesOnRequest.requests()).toBe(1);
      expect(added.status).toBe(502);
      expect(added.body).toEqual({ error: 'bad_gateway', message: expect.any(String) });
      expect({ 'requests the other server got': other.requests() }).toEqual({
        'requests the other server got': 0,
      });
    },
  );

  task(
    'a POST reset on a kept-alive connection is not sent again either: the server may have it',
    {
      points: 2,
      step: STEP_4,
      hint:
        'A reset on a reused connection most likely came before the server read the request — but only ' +
        '“most likely”. Resend it only when running it twice does no harm (an idempotent method), never a POST.',
      timeout,
    },
    async () => {
      const flaky = await probeServer('flaky', 'dies on a reused connection');
      const other = await probeServer('other');
      const lb = await balancers.start({ targets: [flaky.url, other.url], strategy: 'round-robin' });

      const warmUp = [await new Visitor().get(lb, '/'), await new Visitor().get(lb, '/')];
      const added = await new Visitor().post(lb, '/cart/items', macbook);

      expect(servedBy(warmUp)).toEqual(['flaky', 'other']);
      expect({ 'connections to flaky': flaky.connections(), 'requests flaky got': flaky.requests() }).toEqual(
        {
          'connections to flaky': 1,
          'requests flaky got': 2,
        },
      );
      expect(added.status).toBe(502);
      expect({
        'POSTs the other server got': other.state.requests.filter((r) => r.method === 'POST').length,
      }).toEqual({
        'POSTs the other server got': 0,
      });
    },
  );
});
