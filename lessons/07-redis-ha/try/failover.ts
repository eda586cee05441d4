/**
 * Lesson 07 — measure a failover yourself (README, "Try it yourself" and "Measured").
 *
 *   node --import tsx lessons/07-redis-ha/try/failover.ts           # your code (lessons/07-redis-ha/src)
 *   node --import tsx lessons/07-redis-ha/try/failover.ts --solved  # the reference solution (after a
 *                                                                   # `npm run test:solutions -- lessons/07`)
 *
 * 1. A Sentinel set (primary, 2 replicas, 3 Sentinels), 3 servers; a visitor adds 6 items; SIGKILL the
 *    primary; one add every ~50 ms until a 201: prints kill → new primary named, kill → first 201, and
 *    how the answers in between went.
 * 2. WAIT, with and without: the replication links cut, 10 carts changed without WAIT and 10 with
 *    WAIT 1 300 (node-redis, no server), then the primary SIGKILLed: which acknowledged changes are lost.
 */
import { spawn } from 'node:child_process';
import { createSentinel } from 'redis';
import { startSentinelSet } from '../../../kit/redis/sentinel';
import { freePort } from '../../../kit/spec/processes';

const root = process.argv.includes('--solved') ? '.solved' : 'lessons';
const entry = `${root}/07-redis-ha/src/server.ts`;

async function main() {
  const ha = await startSentinelSet({ masterName: 'shop' });
  const sentinels = ha.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const children = ports.map((port, i) =>
    spawn(process.execPath, ['--import', 'tsx', entry], {
      env: {
        ...process.env,
        PORT: String(port),
        SERVER_ID: `web-${i + 1}`,
        REDIS_SENTINELS: sentinels,
        REDIS_MASTER_NAME: 'shop',
        SESSION_SECRET: 'try-07',
      },
      stdio: 'ignore',
    }),
  );
  try {
    for (const port of ports)
      await until(() => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok), 20_000);
    let cookie = '';
    const add = async (n: number) => {
      const res = await fetch(`http://127.0.0.1:${ports[n % 3]}/cart/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
        body: JSON.stringify({ name: `item ${n}`, price: 1 }),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      const set = res?.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
      if (set) cookie = set.split(';')[0] ?? '';
      await res?.text();
      return res?.status ?? 0;
    };
    for (let i = 0; i < 6; i++) console.log(`before the kill: add ${i} → ${await add(i)}`);
    const old = await ha.primary();
    const killed = performance.now();
    await ha.kill(old);
    const named = ha.failover(old, 30_000).then(() => performance.now() - killed);
    const answers: Record<number, number> = {};
    let firstOk = 0;
    for (let i = 6; performance.now() - killed < 30_000; i++) {
      const status = await add(i);
      answers[status] = (answers[status] ?? 0) + 1;
      if (status === 201) {
        firstOk = performance.now() - killed;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`kill → Sentinels name a new primary: ${Math.round(await named)} ms`);
    console.log(
      `kill → first 201 again: ${Math.round(firstOk)} ms; answers until then: ${JSON.stringify(answers)}`,
    );
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await ha.stop();
  }

  // 2. WAIT, with and without.
  const cut = await startSentinelSet({ masterName: 'shop', partitionable: true });
  const client = createSentinel({
    name: 'shop',
    sentinelRootNodes: cut.sentinels,
    nodeClientOptions: { disableOfflineQueue: true },
  });
  client.on('error', () => undefined);
  await client.connect();
  cut.partition();
  const acknowledged: string[] = [];
  let refused = 0;
  for (let i = 0; i < 20; i++) {
    const key = `cart:${i < 10 ? 'no-wait' : 'wait'}-${i}`;
    await client.use(async (lease) => {
      await lease.hIncrBy(key, 'socks', 1);
      if (i < 10)
        acknowledged.push(key); // answered 201 at once
      else if ((await lease.wait(1, 300)) >= 1) acknowledged.push(key);
      else refused++; // answered 503
    });
  }
  const old = await cut.primary();
  await cut.kill(old);
  const primary = await cut.failover(old, 30_000);
  const lost = [];
  for (const key of acknowledged)
    if ((await cut.command(primary, 'EXISTS', key)).trim() === ':0') lost.push(key);
  const lostWithout = lost.filter((key) => key.includes('no-wait')).length;
  const lostWith = lost.length - lostWithout;
  console.log(`without WAIT: 10 of 10 changes acknowledged, ${lostWithout} of them lost in the failover`);
  console.log(
    `with WAIT 1 300: ${10 - refused} acknowledged (${refused} answered 503), ${lostWith} acknowledged ones lost`,
  );
  await client.destroy();
  await cut.stop();
}

async function until(check: () => Promise<boolean>, withinMs: number) {
  const deadline = Date.now() + withinMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('a server did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
