/**
 * The demo's third act (`npm run demo`): Redis itself dies. A Sentinel set (./sentinel.ts: a primary,
 * two replicas, three Sentinels), two lesson-07 servers on it, a cart — then SIGKILL the primary, and
 * keep adding until the servers answer 201 again, on the replica the Sentinels promoted.
 *
 * kit/demo.ts calls it with its own process pool and printer (nothing here starts or stops anything
 * else):
 *
 *   import { actThreeFailover } from './redis/demo-failover';
 *   await actThreeFailover({ processes, say, mine });
 */
import type { Answer } from '../spec/browser';
import { Visitor } from '../spec/browser';
import type { serverProcesses } from '../spec/processes';
import { startSentinelSet } from './sentinel';

export interface FailoverActOptions {
  processes: Pick<ReturnType<typeof serverProcesses>, 'start'>;
  say: (line: string) => void;
  /** Run the learner's lesson 07 (lessons/) instead of the finished one. */
  mine?: boolean;
}

export async function actThreeFailover({ processes, say, mine = false }: FailoverActOptions): Promise<void> {
  say('\n━━ Act 3 — Redis itself dies (lesson 07: Sentinel) ━━');
  const ha = await startSentinelSet({ masterName: 'shop' });
  try {
    const sentinels = ha.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    const env = { REDIS_SENTINELS: sentinels, REDIS_MASTER_NAME: 'shop', ENABLE_CHAOS: '0' };
    const servers = await Promise.all(
      ['server-1', 'server-2'].map((id) =>
        processes.start({
          lesson: '07-redis-ha',
          entry: 'server.ts',
          finished: !mine,
          env: { ...env, SERVER_ID: id },
        }),
      ),
    );
    const primary = await ha.primary();
    say(
      `▶ a primary (:${primary.port}), 2 replicas, 3 Sentinels (${sentinels}); server-1 and server-2 ask the Sentinels`,
    );
    const shopper = new Visitor();
    const show = (label: string, res: Answer) => {
      const items: Array<{ name: string }> = res.body?.items ?? [];
      say(
        `   ${label}: ${res.status} from ${res.servedBy} → 🛒 ${items.map((item) => item.name).join(', ') || 'EMPTY'}`,
      );
    };
    show(
      'filled on server-1',
      await shopper.post(servers[0] as { url: string }, '/cart/items', { name: 'MacBook Pro', price: 2500 }),
    );
    show(
      'and on server-2',
      await shopper.post(servers[1] as { url: string }, '/cart/items', { name: 'iPhone 15', price: 1200 }),
    );

    const killed = performance.now();
    await ha.kill(primary);
    say(`💥 SIGKILL the primary's redis-server (:${primary.port})`);
    const named = ha.failover(primary, 30_000).then((now) => {
      say(
        `   ${Math.round(performance.now() - killed)} ms: the Sentinels agree it is down and promote :${now.port}`,
      );
      return now;
    });
    named.catch(() => undefined);
    for (let i = 1; performance.now() - killed < 30_000; i++) {
      const res = await shopper.post(
        servers[i % 2] as { url: string },
        '/cart/items',
        { name: `sock ${i}`, price: 5 },
        10_000,
      );
      say(
        `   ${Math.round(performance.now() - killed)} ms: add → ${res.status} ${res.status === 201 ? '' : (res.body?.message ?? '')}`,
      );
      if (res.status === 201) break;
    }
    await named;
    show('after the failover, server-1', await shopper.get(servers[0] as { url: string }, '/cart'));
    say(
      '   Nothing was restarted: the servers asked the Sentinels, and every 201 was kept (WAIT: a replica had it).',
    );
    say(
      '   A 503 means "not saved for sure": an add held during the failover may still land on the new primary.',
    );
  } finally {
    await ha.stop();
  }
}
