/**
 * Lesson 06 — try it: why a WATCH needs a connection of its own (README, "What WATCH does").
 *
 * Twenty read-modify-write increments of one counter, each guarded by WATCH and retried on a
 * WatchError — first all on ONE shared connection (as every request shares lesson 05's client), then
 * each on a connection lent by a pool. Not part of the specs.
 *
 *   REDIS_URL=redis://127.0.0.1:6380 npx tsx lessons/06-lost-updates/try/watch-needs-its-own-connection.ts
 */
import { createClient, createClientPool, type RedisClientType, WatchError } from 'redis';

const KEY = 'try:counter';
const TIMES = 20;

/** Read n, then write n + 1 — guarded by WATCH, tried again when EXEC was refused. */
async function increment(client: RedisClientType, aborted: { count: number }): Promise<void> {
  for (;;) {
    await client.watch(KEY);
    const n = Number(await client.get(KEY));
    try {
      await client
        .multi()
        .set(KEY, String(n + 1))
        .exec();
      return;
    } catch (error) {
      if (!(error instanceof WatchError)) throw error;
      aborted.count++;
    }
  }
}

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const shared: RedisClientType = createClient({ url });
  await shared.connect();

  await shared.set(KEY, '0');
  const onShared = { count: 0 };
  await Promise.all(Array.from({ length: TIMES }, () => increment(shared, onShared)));
  console.log(`one shared connection: ${await shared.get(KEY)} of ${TIMES}, ${onShared.count} EXECs refused`);

  await shared.set(KEY, '0');
  const pool = createClientPool({ url }, { minimum: 1, maximum: 4 });
  await pool.connect();
  const onPool = { count: 0 };
  await Promise.all(
    Array.from({ length: TIMES }, () =>
      pool.execute((client) => increment(client as unknown as RedisClientType, onPool)),
    ),
  );
  console.log(
    `a pooled connection each: ${await shared.get(KEY)} of ${TIMES}, ${onPool.count} EXECs refused`,
  );

  await shared.del(KEY);
  await pool.close();
  await shared.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
