/**
 * `npm run demo` — watch a cart vanish, then survive. Real server processes, a real crash, a real
 * redis-server; the course's story in three acts, printed as it happens: a sticky cart dies with its
 * server; a cart in Redis survives; then Redis itself dies, and Sentinel fails over (lesson 07).
 *
 *   npm run demo             runs the finished lessons (reference solutions)
 *   npm run demo -- --mine   runs your code in lessons/02-crash, lessons/03-redis-store and lessons/07-redis-ha
 */

import { prepareTarget } from './jest/target';
import { actThreeFailover } from './redis/demo-failover';
import { type EmbeddedRedis, findRedisBinary, startEmbeddedRedis } from './redis/embedded';
import { type Answer, Visitor } from './spec/browser';
import { type ServerProcess, serverProcesses } from './spec/processes';
import { iphone, macbook } from './spec/shop';

const mine = process.argv.includes('--mine');
const processes = serverProcesses();
function say(text: string) {
  console.log(text);
}

function showCart(label: string, res: Answer) {
  const items: Array<{ name: string; price: number }> = res.body.items ?? [];
  const list = items.length ? items.map((item) => `${item.name} (${item.price})`).join(', ') : 'EMPTY';
  say(
    `   ${label}: served by ${res.servedBy} → 🛒 ${list}${items.length ? ` — total ${res.body.total}` : ''}`,
  );
}

function start(lesson: string, serverId: string, env: Record<string, string> = {}, port?: number) {
  return processes.start({
    lesson,
    entry: 'server.ts',
    finished: !mine,
    port,
    env: { SERVER_ID: serverId, ENABLE_CHAOS: '1', ...env },
  });
}

async function crash(shopper: Visitor, server: ServerProcess, name: string) {
  const res = await shopper.post(server, '/crash');
  say(`💥 POST /crash → ${res.status} "${res.body.message}"`);
  const exit = await server.exited;
  say(`   ${name}'s process exited with code ${exit.code}: everything in its memory is gone.`);
}

async function actOneSticky() {
  say('\n━━ Act 1 — sessions in server memory (lesson 02) ━━');
  const server3 = await start('02-crash', 'server-3');
  say(`▶ server-3 is up on ${server3.url} (pid ${server3.pid})`);
  const shopper = new Visitor();
  await shopper.post(server3, '/cart/items', macbook);
  showCart('Black Friday, a shopper fills a cart', await shopper.post(server3, '/cart/items', iphone));
  await crash(shopper, server3, 'server-3');
  const restarted = await start('02-crash', 'server-3', {}, server3.port);
  say(`▶ server-3 restarted on the same port (pid ${restarted.pid})`);
  showCart('same shopper, same cookie', await shopper.get(restarted, '/cart'));
  say('   The cart vanished. Multiply by every shopper pinned to server-3: 50,000 carts.');
}

async function actTwoStateless(redis: EmbeddedRedis) {
  say('\n━━ Act 2 — sessions in Redis (lesson 03) ━━');
  const env = { REDIS_URL: redis.url };
  const [server1, server2] = await Promise.all([
    start('03-redis-store', 'server-1', env),
    start('03-redis-store', 'server-2', env),
  ]);
  say(`▶ server-1 and server-2 are up, both using the Redis at ${redis.url}`);
  const shopper = new Visitor();
  await shopper.post(server1, '/cart/items', macbook);
  showCart('filled on server-1', await shopper.post(server1, '/cart/items', iphone));
  showCart('read on server-2', await shopper.get(server2, '/cart'));
  await crash(shopper, server1, 'server-1');
  showCart('right after the crash, server-2', await shopper.get(server2, '/cart'));
  const restarted = await start('03-redis-store', 'server-1', env, server1.port);
  showCart('server-1 restarted', await shopper.get(restarted, '/cart'));
  say('   The cart survived: it was never in a server. Any server can serve any request.');
}

async function main() {
  say(
    `sticky-to-stateless demo — running ${mine ? 'YOUR code (lessons/)' : 'the finished lessons (solutions/)'}`,
  );
  prepareTarget();
  let redis: EmbeddedRedis | undefined;
  try {
    await actOneSticky();
    redis = await startEmbeddedRedis(findRedisBinary());
    await actTwoStateless(redis);
    await actThreeFailover({ processes, say, mine });
  } finally {
    await processes.stopAll();
    await redis?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`\ndemo stopped: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
