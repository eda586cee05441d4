/**
 * Lesson 07 — acknowledged writes. A Sentinel set whose replicas reach the primary through relays this
 * process can cut (kit/redis/sentinel.ts, `partitionable`), and one server process on your code.
 *
 * The story: a visitor adds three items; the replication links are cut (the replicas stay connected,
 * and receive nothing); the visitor adds one more; the primary's redis-server is SIGKILLed, a replica
 * that never received that add takes over, and the visitor adds until a 201 comes back. Without WAIT,
 * the add after the cut was answered 201 — and is gone: an acknowledged write, lost.
 * Run: npm test lessons/07
 */
import { type Answer, Visitor } from '../../../kit/spec/browser';
import { useServerProcesses } from '../../../kit/spec/processes';
import { lesson } from '../../../kit/spec/task';
import { startedOnce } from '../../../kit/spec/wait';
import { cartConnection } from '../src/sentinel';
import { assert, DEADLINE_MS, nextStep, shopOptions, useSentinelSet, WAIT_TIMEOUT_MS } from './support';

const { topic, task } = lesson('07-redis-ha');
const servers = useServerProcesses();
const ready = () => {
  const next = nextStep();
  return next === undefined || next > 2;
};
const ha = useSentinelSet({ replicas: 2, sentinels: 3, partitionable: true }, ready);
const STEP_2 = 'Step 2';
const timeout = 90_000;
const FAILOVER_BOUND_MS = 30_000;

/** Fails at once (no process started) while Step 1 or 2 is not done. */
function preflight(): void {
  cartConnection({} as never, 1);
}

interface Add {
  item: { name: string; price: number };
  answer: Answer;
  when: 'before the cut' | 'after the cut' | 'after the failover';
}

const story = startedOnce(async () => {
  const set = await ha.get();
  const server = await servers.start(shopOptions('web-5', set.sentinels));
  const visitor = new Visitor();
  const adds: Add[] = [];
  const add = async (when: Add['when']) => {
    const item = { name: `item ${adds.length + 1}`, price: adds.length + 1 };
    const answer = await visitor.post(server, '/cart/items', item, DEADLINE_MS + 8_000);
    adds.push({ item, answer, when });
    return answer;
  };
  // Connections the primary accepted while the visitor added three items (INFO stats; the INFO's own
  // connection counts one).
  const accepted = async () =>
    Number(
      /total_connections_received:(\d+)/.exec(await set.command(await set.primary(), 'INFO', 'stats'))?.[1],
    );
  const acceptedBefore = await accepted();
  for (let i = 0; i < 3; i++) await add('before the cut');
  const connectionsDuringAdds = (await accepted()) - acceptedBefore - 1;
  set.partition();
  await add('after the cut');

  const old = await set.primary();
  const killed = performance.now();
  await set.kill(old);
  await set.failover(old, FAILOVER_BOUND_MS);
  let recovered = false;
  while (performance.now() - killed < FAILOVER_BOUND_MS) {
    if ((await add('after the failover')).status === 201) {
      recovered = true;
      break;
    }
  }
  const cart = await visitor.get(server, '/cart');
  return { adds, cart, recovered, server, connectionsDuringAdds };
});

beforeAll(() => {
  if (ready()) story.begin();
});

const said = (add: Add) =>
  `${add.item.name} (${add.when}): ${add.answer.status} ${JSON.stringify(add.answer.body).slice(0, 200)}`;

topic('when the replicas stop receiving what the primary writes', () => {
  task(
    'while they are connected, each add is confirmed by a replica and answered 201',
    {
      points: 1,
      step: STEP_2,
      timeout,
      hint: 'WAIT for ONE replica: waiting for more than you need costs availability.',
    },
    async () => {
      preflight();
      const { adds } = await story.get();
      const failed = adds.filter((add) => add.when === 'before the cut' && add.answer.status !== 201);
      assert(
        failed.length === 0,
        `Adds failed while the replicas were fine:\n  ${failed.map(said).join('\n  ')}`,
      );
    },
  );

  task(
    'three adds open no new connection to the primary: one client per process, its pool reused',
    {
      points: 1,
      step: STEP_2,
      timeout,
      hint: 'Borrow a connection of the client you are given; never make a client per change.',
    },
    async () => {
      preflight();
      const { connectionsDuringAdds } = await story.get();
      assert(
        connectionsDuringAdds <= 1,
        `The primary accepted ${connectionsDuringAdds} new connections while the visitor added 3 items (INFO stats ` +
          'total_connections_received): a client (or a connection) per change costs a handshake each time, and ' +
          'exhausts the primary under load.',
      );
    },
  );

  task(
    'an add no replica confirmed is answered 503 JSON within about WAIT_TIMEOUT_MS — never 201',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'WAIT answers how many replicas have the change: 0 means "not safe yet".',
    },
    async () => {
      preflight();
      const { adds } = await story.get();
      const cut = adds.find((add) => add.when === 'after the cut');
      assert(cut, 'The story made no add after the cut.');
      assert(
        cut.answer.status !== 201,
        `${said(cut)} — answered 201 although no replica has it: if the primary dies now, the visitor was told ` +
          '"saved" about an item that is gone.',
      );
      assert(
        cut.answer.status === 503 && cut.answer.body?.error === 'service_unavailable',
        `${said(cut)} — want 503 JSON (a NotReplicatedError): a 500 says "bug", a 503 says "not saved for sure, retry".`,
      );
      assert(
        cut.answer.ms < WAIT_TIMEOUT_MS + 1_000 && /replica/i.test(String(cut.answer.body?.message)),
        `It took ${Math.round(cut.answer.ms)} ms with WAIT_TIMEOUT_MS=${WAIT_TIMEOUT_MS}, and said: ` +
          `${JSON.stringify(cut.answer.body?.message)} — that is the shop's deadline (REDIS_DEADLINE_MS=${DEADLINE_MS}), ` +
          'not your WAIT: bound the WAIT by waitTimeoutMs, in milliseconds.',
      );
    },
  );

  task(
    'after the primary dies with writes no replica saw, every add answered 201 is still in the cart',
    {
      points: 3,
      step: STEP_2,
      severity: 'blocker',
      timeout,
      hint: 'Only a change a replica confirmed may be answered 201.',
    },
    async () => {
      preflight();
      const { adds, cart, recovered } = await story.get();
      assert(
        recovered,
        `No add was answered 201 within ${FAILOVER_BOUND_MS} ms of the kill:\n  ${adds.slice(-3).map(said).join('\n  ')}`,
      );
      assert(cart.status === 200, `GET /cart answered ${cart.status} ${JSON.stringify(cart.body)}`);
      const names: string[] = cart.body.items.map((line: { name: string }) => line.name);
      const lost = adds.filter((add) => add.answer.status === 201 && !names.includes(add.item.name));
      assert(
        lost.length === 0,
        `Answered 201, then lost in the failover (the replica that took over never received them):\n  ${lost.map(said).join('\n  ')}`,
      );
    },
  );
});
