/**
 * Lesson 07 — the primary dies. A real Sentinel set (a primary, two replicas, three Sentinels:
 * kit/redis/sentinel.ts), three server processes (src/server.ts, on your client) behind lesson 04's
 * finished round-robin balancer, and a visitor who fills a cart. Then the primary's redis-server is
 * SIGKILLed, and the visitor keeps adding, one item at a time, until an add is answered 201 again.
 *
 * The story runs once (it starts in beforeAll, beside a fourth server whose first Sentinel is down);
 * each task checks one thing it saw. No task sleeps: each wait is for a real event (the Sentinels
 * naming a new primary, INFO replication, a 201), bounded.
 * Run: npm test lessons/07
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bulkStrings } from '../../../kit/redis/launch';
import type { RedisNode } from '../../../kit/redis/sentinel';
import { type Answer, Visitor } from '../../../kit/spec/browser';
import { type ServerProcess, useServerProcesses } from '../../../kit/spec/processes';
import { lesson } from '../../../kit/spec/task';
import { pollUntil, startedOnce } from '../../../kit/spec/wait';
import { createBalancer } from '../../../solutions/04-load-balancer/src/balancer';
import { sentinelOptions } from '../src/sentinel';
import { assert, DEADLINE_MS, deadPorts, nextStep, shopOptions, useSentinelSet } from './support';

const { topic, task } = lesson('07-redis-ha');
const servers = useServerProcesses();
const ha = useSentinelSet({ replicas: 2, sentinels: 3 }, () => nextStep() !== 1);
const STEP_1 = 'Step 1';
const timeout = 90_000;
/** Generous: others run specs on this 2-core machine too. A bound, not a speed test. */
const FAILOVER_BOUND_MS = 30_000;
/** How long a read of the cart after the failover is asked again while it answers 503. */
const READ_AGAIN_MS = 4 * DEADLINE_MS;

/** Fails at once (no process started) while Step 1 is not done. */
function preflight(): void {
  sentinelOptions({ serverId: 'web-0', sentinels: [{ host: '127.0.0.1', port: 1 }], masterName: 'x' });
}

let balancer: Server | undefined;
afterAll(async () => {
  if (!balancer) return;
  const closed = new Promise((resolve) => balancer?.close(resolve));
  balancer.closeAllConnections();
  await closed;
});

interface Add {
  item: { name: string; price: number };
  answer: Answer;
  /** ms since the kill (negative: before it). */
  at: number;
}

const story = startedOnce(async () => {
  const set = await ha.get();
  const fleet = await Promise.all(
    ['web-1', 'web-2', 'web-3'].map((id) => servers.start(shopOptions(id, set.sentinels))),
  );
  balancer = createBalancer({ targets: fleet.map((server) => server.url), strategy: 'round-robin' });
  await new Promise<void>((resolve) => balancer?.listen(0, '127.0.0.1', resolve));
  const front = { url: `http://127.0.0.1:${(balancer.address() as AddressInfo).port}` };

  const visitor = new Visitor();
  const adds: Add[] = [];
  let killedAt = 0;
  let count = 0;
  const add = async (to: { url: string } = front) => {
    // Numbered as it is sent: adds to the three servers at once each get an item of their own.
    count += 1;
    const item = { name: `item ${count}`, price: count };
    const sent = performance.now();
    const answer = await visitor.post(to, '/cart/items', item, DEADLINE_MS + 8_000).catch(
      (error: unknown): Answer => ({
        status: 0,
        servedBy: null,
        headers: new Headers(),
        body: String(error),
        setCookies: [],
        ms: performance.now() - sent,
      }),
    );
    adds.push({ item, answer, at: killedAt ? sent - killedAt : -1 });
    return answer;
  };
  for (let i = 0; i < 6; i++) await add();

  const old = await set.primary();
  killedAt = performance.now();
  await set.kill(old);
  let recoveredAt: number | undefined;
  const named = set
    .failover(old, FAILOVER_BOUND_MS)
    .then((primary) => ({ primary, at: performance.now() - killedAt }));
  named.catch(() => undefined);
  for (;;) {
    const answer = await add();
    if (answer.status === 201) {
      recoveredAt = performance.now() - killedAt;
      break;
    }
    if (performance.now() - killedAt > FAILOVER_BOUND_MS) break;
  }
  const { primary, at: failoverMs } = await named;
  // Each server hears of the new primary from its own Sentinel, at its own moment: each is asked
  // directly, one add at a time, until it answers 201 (bounded).
  const serverRecoveredAt = await Promise.all(
    fleet.map(async (server) => {
      while (performance.now() - killedAt < FAILOVER_BOUND_MS) {
        if ((await add(server)).status === 201) return performance.now() - killedAt;
      }
      return undefined;
    }),
  );

  // What this story checks is whether the items are there. A server that has answered an add since
  // the failover can still answer one read 503 on a busy machine (its Redis command past the
  // deadline), which is no lost item: each read is asked again until it is not a 503, bounded.
  const reads = await Promise.all(
    fleet.map(async (server) => {
      const read = await pollUntil(
        () => visitor.get(server, '/cart'),
        (answer) => answer.status !== 503,
        READ_AGAIN_MS,
        100,
      );
      return read.last;
    }),
  );
  const sessionId = visitor.sessionId();
  const [cartOnPrimary, sessionOnPrimary] = await Promise.all([
    set.command(primary, 'HGETALL', `cart:${sessionId}`),
    set.command(primary, 'EXISTS', `sess:${sessionId}`),
  ]);
  return {
    set,
    fleet,
    adds,
    old,
    primary,
    failoverMs,
    recoveredAt,
    serverRecoveredAt,
    reads,
    sessionId,
    cartOnPrimary: bulkStrings(cartOnPrimary),
    sessionOnPrimary: sessionOnPrimary.trim(),
  };
});

/** The old primary, restarted after the story: until it is a replica of the new one, bounded. */
const rejoined = startedOnce(async () => {
  const { set, old, primary } = await story.get();
  const started = performance.now();
  await set.restart(old);
  const role = await pollUntil(
    () => set.role(old).catch(() => ({ role: 'unreachable' }) as Awaited<ReturnType<typeof set.role>>),
    (now) => now.role === 'slave' && now.masterPort === primary.port && now.linkUp === true,
    FAILOVER_BOUND_MS,
    100,
  );
  return { role: role.last, ok: role.ok, ms: performance.now() - started };
});

/** A server configured with a first Sentinel that is down, then the real ones. */
const withDeadSentinel = startedOnce(async () => {
  const set = await ha.get();
  const [dead] = await deadPorts(1);
  return servers.start(shopOptions('web-4', [dead, ...set.sentinels]));
});

beforeAll(() => {
  if (nextStep() === 1) return;
  story.begin();
  withDeadSentinel.begin();
});

const line = (add: Add) =>
  `${add.item.name} (${add.at < 0 ? 'before the kill' : `${Math.round(add.at)} ms after it`}): ${add.answer.status} ${JSON.stringify(add.answer.body).slice(0, 160)}`;

async function exitsOf(fleet: ServerProcess[]) {
  return Promise.all(fleet.map(async (server) => ({ server, exit: await server.exitWithin(0) })));
}

topic('when the Redis primary is SIGKILLed under three servers behind the balancer', () => {
  task(
    'every add answered 201 before the kill is in the cart afterwards, read from each of the three servers',
    {
      points: 4,
      step: STEP_1,
      severity: 'blocker',
      timeout,
      hint: 'Configure the client with the Sentinels and the name, never a primary.',
    },
    async () => {
      preflight();
      const { adds, reads, fleet, recoveredAt } = await story.get();
      const before = adds.filter((add) => add.at < 0);
      const failedBefore = before.filter((add) => add.answer.status !== 201);
      assert(
        failedBefore.length === 0,
        `Before the kill, adds failed:\n  ${failedBefore.map(line).join('\n  ')}`,
      );
      assert(
        recoveredAt !== undefined,
        `After the kill no add was answered 201 again within ${FAILOVER_BOUND_MS} ms — the servers never found the new ` +
          `primary. The last answers:\n  ${adds.slice(-3).map(line).join('\n  ')}`,
      );
      reads.forEach((read, index) => {
        const names = Array.isArray(read.body?.items)
          ? read.body.items.map((i: { name: string }) => i.name)
          : [];
        const missing = before.filter((add) => !names.includes(add.item.name)).map((add) => add.item.name);
        assert(
          read.status === 200 && missing.length === 0,
          `GET /cart on ${fleet[index]?.url} after the failover answered ${read.status}, missing ${missing.join(', ') || 'nothing'}: ` +
            JSON.stringify(read.body).slice(0, 300),
        );
      });
    },
  );

  task(
    'during the failover every answer is a 503 JSON with Retry-After — never a 500, never a hang — and no server exits',
    {
      points: 3,
      step: STEP_1,
      severity: 'critical',
      timeout,
      hint: 'The given shop answers 503 for you, as long as your client keeps the process alive.',
    },
    async () => {
      preflight();
      const { adds, fleet } = await story.get();
      const during = adds.filter((add) => add.at >= 0 && add.answer.status !== 201);
      const wrong = during.filter(
        (add) =>
          add.answer.status !== 503 ||
          add.answer.body?.error !== 'service_unavailable' ||
          add.answer.headers.get('retry-after') === null ||
          add.answer.ms > DEADLINE_MS + 2_000,
      );
      assert(
        wrong.length === 0,
        `During the failover, answers that are not a prompt 503 JSON (within REDIS_DEADLINE_MS=${DEADLINE_MS} + 2 s):\n  ` +
          wrong.map((add) => `${line(add)} in ${Math.round(add.answer.ms)} ms`).join('\n  '),
      );
      const exited = (await exitsOf(fleet)).filter(({ exit }) => exit);
      assert(
        exited.length === 0,
        `Server processes exited during the failover:\n  ${exited
          .map(
            ({ server, exit }) =>
              `${server.url} (code ${exit?.code}, signal ${exit?.signal}): ${server.output().trim().split('\n').slice(-3).join(' | ')}`,
          )
          .join('\n  ')}`,
      );
    },
  );

  task(
    'the servers reconnect by themselves: each answers 201 again within the failover time plus a deadline (and 8 s)',
    {
      points: 3,
      step: STEP_1,
      timeout,
      hint: 'A Sentinel client follows the Sentinels’ news of a new primary by itself.',
    },
    async () => {
      preflight();
      const { fleet, failoverMs, recoveredAt, serverRecoveredAt } = await story.get();
      const bound = failoverMs + DEADLINE_MS + 8_000;
      assert(
        recoveredAt !== undefined && recoveredAt <= bound,
        `The Sentinels named a new primary ${Math.round(failoverMs)} ms after the kill; the first 201 came ` +
          `${recoveredAt === undefined ? 'never' : `${Math.round(recoveredAt)} ms`} after it.`,
      );
      const late = fleet.filter(
        (_, index) => !((serverRecoveredAt[index] ?? Number.POSITIVE_INFINITY) <= bound),
      );
      assert(
        late.length === 0,
        `Servers that did not answer 201 again within ${Math.round(bound)} ms of the kill (the new primary was named ` +
          `after ${Math.round(failoverMs)} ms): ${late.map((server) => server.url).join(', ')} — ` +
          serverRecoveredAt.map((ms) => (ms === undefined ? 'never' : `${Math.round(ms)} ms`)).join(', '),
      );
    },
  );

  task(
    'the cart (cart:<id>) and the session (sess:<id>) are on the new primary, every 201 in it exactly once',
    {
      points: 2,
      step: STEP_1,
      timeout,
      hint: 'Replication copied them: nothing to write, if the client follows the primary.',
    },
    async () => {
      preflight();
      const { adds, cartOnPrimary, sessionOnPrimary, primary, old } = await story.get();
      expect(primary.port).not.toBe(old.port);
      expect(sessionOnPrimary).toBe(':1');
      const quantities = new Map<string, number>();
      for (let i = 0; i + 1 < cartOnPrimary.length; i += 2) {
        const [name] = JSON.parse(Buffer.from(cartOnPrimary[i] ?? '', 'base64url').toString()) as [string];
        quantities.set(name, Number(cartOnPrimary[i + 1]));
      }
      for (const add of adds) {
        const quantity = quantities.get(add.item.name) ?? 0;
        const allowed = add.answer.status === 201 ? [1] : [0, 1];
        assert(
          allowed.includes(quantity),
          `${line(add)} — the new primary holds it ${quantity} times (${add.answer.status === 201 ? 'a 201 must be there once' : 'a 503 may be there at most once'}).`,
        );
      }
    },
  );

  task(
    'the old primary, restarted, rejoins as a replica of the new one and holds the same cart: nothing lost, nothing twice',
    {
      points: 2,
      step: STEP_1,
      timeout,
      hint: 'The Sentinels turn it into a replica (they wait about 8 s before they do).',
    },
    async () => {
      preflight();
      const { set, old, primary, sessionId } = await story.get();
      const { ok, role, ms } = await rejoined.get();
      assert(
        ok,
        `${Math.round(ms)} ms after its restart, the old primary says ${JSON.stringify(role)} (want a replica of ${primary.port}).`,
      );
      const caughtUp = await pollUntil(
        async () => {
          const [a, b] = await Promise.all([
            set.command(old, 'HGETALL', `cart:${sessionId}`),
            set.command(primary, 'HGETALL', `cart:${sessionId}`),
          ]);
          return { replica: bulkStrings(a), primary: bulkStrings(b) };
        },
        (both) => JSON.stringify([...both.replica].sort()) === JSON.stringify([...both.primary].sort()),
        10_000,
        100,
      );
      expect(caughtUp.last.replica.sort()).toEqual(caughtUp.last.primary.sort());
    },
  );
});

topic('when the first Sentinel a server is configured with is down', () => {
  task(
    'the server still finds the primary through the others, and serves carts',
    {
      points: 2,
      step: STEP_1,
      severity: 'critical',
      timeout,
      hint: 'Give the client every Sentinel of the list, and an error listener.',
    },
    async () => {
      preflight();
      const server = await withDeadSentinel.get();
      const answer = await new Visitor().post(server, '/cart/items', { name: 'Socks', price: 5 });
      assert(
        answer.status === 201,
        `POST /cart/items answered ${answer.status} ${JSON.stringify(answer.body)}`,
      );
      const exit = await server.exitWithin(0);
      assert(!exit, `The server exited: ${server.output()}`);
    },
  );
});

export type { RedisNode };
