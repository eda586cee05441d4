/**
 * Lesson 05 — a rolling restart with zero lost carts. The deploy every shop does every week: lesson
 * 04's finished balancer in front of two lesson-05 servers, a visitor who keeps filling a cart, and
 * each server in turn stopped with SIGTERM (it drains), started again on its port, and healthy again
 * before the next one goes. Sessions live in Redis, so no server holds anything worth waiting for.
 *
 * Deterministic on purpose: the visitor's adds are interleaved with the deploy's steps, and each
 * step waits for a real event (the exit, GET /health) — never for a time. Step 5 has no code: these
 * tasks pass once Steps 1–4 are done, on servers that run every one of them.
 * Run: npm test lessons/05
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Answer, Visitor } from '../../../kit/spec/browser';
import {
  type Exit,
  PROCESS_TIMEOUT_MS,
  type ServerProcess,
  throwIfNotImplemented,
  useServerProcesses,
} from '../../../kit/spec/processes';
import { lesson } from '../../../kit/spec/task';
import { startedOnce } from '../../../kit/spec/wait';
import { createBalancer } from '../../../solutions/04-load-balancer/src/balancer';
import { useRedisForServers } from './servers-redis';
import { expectEveryStepDone, failFastBeforeStep1, LESSON, serverEnv } from './support';

const { topic, task } = lesson(LESSON);
// The servers' own Redis: this file never looks into it, the visitor's cart says it all.
const redis = useRedisForServers();
const servers = useServerProcesses();

const STEP_5 = 'Step 5';
const timeout = PROCESS_TIMEOUT_MS;

async function startServer(serverId: string, port?: number): Promise<ServerProcess> {
  const env = serverEnv({ REDIS_URL: redis.url, SERVER_ID: serverId });
  failFastBeforeStep1(env);
  return servers.start({ lesson: LESSON, entry: 'server.ts', env, port, recordTodos: false });
}

// ── The balancer, in this process ────────────────────────────────────────────────────────────────

let balancer: Server | undefined;

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

afterAll(async () => {
  if (!balancer) return;
  const closed = new Promise((resolve) => balancer?.close(resolve));
  balancer.closeAllConnections(); // the visitor's kept-alive connection would hold close() open
  await closed;
});

// ── The story (arrange + act) ────────────────────────────────────────────────────────────────────

interface Add {
  item: { name: string; price: number };
  answer: Answer;
}

interface Restart {
  serverId: string;
  exit: Exit;
  /** What the stopped process printed, down to its last line. */
  output: string;
  oldPid: number;
  newPid: number;
  /** The process that took over on the same port. */
  restarted: ServerProcess;
}

/** Tuesday's deploy: web-1, then web-2, while a visitor keeps adding items through the balancer. */
const deploy = startedOnce(async () => {
  const [web1, web2] = await Promise.all([startServer('web-1'), startServer('web-2')]);
  balancer = createBalancer({ targets: [web1.url, web2.url], strategy: 'round-robin' });
  const front = { url: await listen(balancer) };

  const visitor = new Visitor();
  const adds: Add[] = [];
  /** The visitor adds two items: with round-robin, one to each running server. */
  const addTwo = async () => {
    for (let i = 0; i < 2; i++) {
      const item = { name: `item ${adds.length + 1}`, price: adds.length + 1 };
      adds.push({ item, answer: await visitor.post(front, '/cart/items', item) });
    }
  };
  /** One step of the deploy: SIGTERM (the server drains and exits), restart on its port, healthy again. */
  const restart = async (server: ServerProcess, serverId: string): Promise<Restart> => {
    const exit = await server.kill('SIGTERM');
    // While it is away the visitor keeps shopping: the balancer sends everything to the other one.
    await addTwo();
    // servers.start returns once GET /health answers 200 on that port: healthy again.
    const restarted = await startServer(serverId, server.port);
    return { serverId, exit, output: server.output(), oldPid: server.pid, newPid: restarted.pid, restarted };
  };

  await addTwo();
  const first = await restart(web1, 'web-1');
  await addTwo();
  const second = await restart(web2, 'web-2');
  await addTwo();
  const cart = await visitor.get(front, '/cart');
  return { adds, restarts: [first, second], cart, servers: [web1, web2, first.restarted, second.restarted] };
});

beforeAll(() => deploy.begin());

// ── The tasks (assert) ───────────────────────────────────────────────────────────────────────────

topic('when both servers are restarted one after the other, behind the balancer', () => {
  task(
    'every add the visitor made during the deploy was answered 201: no request failed',
    {
      points: 3,
      step: STEP_5,
      severity: 'critical',
      timeout,
      hint:
        'A draining server refuses new connections at once (lesson 02), and the balancer sends those to ' +
        'the other server (lesson 04): nothing to write — if this fails, an earlier step is unfinished.',
    },
    async () => {
      const { adds, servers: all } = await deploy.get();
      expectEveryStepDone(...all);

      const failed = adds.filter(({ answer }) => answer.status !== 201);

      expect(adds).toHaveLength(10);
      expect(
        failed.map(({ item, answer }) => `${item.name}: ${answer.status} ${JSON.stringify(answer.body)}`),
      ).toEqual([]);
    },
  );

  task(
    'the cart holds every item added, in order: zero lost',
    {
      points: 3,
      step: STEP_5,
      severity: 'blocker',
      timeout,
      hint:
        'The cart is in Redis, not in a server: a restarted server finds it by the cookie. One shared ' +
        'SESSION_SECRET (or list) on every server, or a cookie signed by one is refused by the other.',
    },
    async () => {
      const { adds, cart, servers: all } = await deploy.get();
      expectEveryStepDone(...all);

      expect(cart.status).toBe(200);
      expect(cart.body.items).toEqual(adds.map(({ item }) => item));
    },
  );

  task(
    'each server drained and exited 0, came back as a new process, and served the visitor again',
    {
      points: 2,
      step: STEP_5,
      timeout,
      hint:
        'Exit 0 after SIGTERM means every request finished and closeRedis resolved (Step 2). The balancer ' +
        'sends requests to a restarted server as soon as it listens again.',
    },
    async () => {
      const { adds, restarts, servers: all } = await deploy.get();
      expectEveryStepDone(...all);
      const servedBy = adds.map(({ answer }) => answer.headers.get('x-served-by'));

      for (const { exit, output, oldPid, newPid } of restarts) {
        throwIfNotImplemented(output);
        expect(exit).toEqual({ code: 0, signal: null });
        expect(newPid).not.toBe(oldPid);
      }
      // The last adds, after both restarts: round-robin over two servers that are both back.
      expect(new Set(servedBy.slice(-2))).toEqual(new Set(['web-1', 'web-2']));
    },
  );
});
