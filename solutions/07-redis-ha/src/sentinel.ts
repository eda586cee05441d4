/**
 * Lesson 07 — reference solution. A server that never knows where the primary is: it asks the
 * Sentinels, follows them through a failover, answers 201 only for a cart change a replica has, and
 * refuses to start — in one line — when the Sentinels cannot tell it.
 */
import {
  createClient,
  createSentinel,
  type RedisClientType,
  type RedisSentinelOptions,
  type RedisSentinelType,
} from 'redis';
import type { WithConnection } from '../../../lessons/07-redis-ha/src/cart-app';
import {
  NotReplicatedError,
  type SentinelConfig,
  type SentinelNode,
  StartupError,
} from '../../../lessons/07-redis-ha/src/config';
import { reconnectDelay } from '../../../solutions/05-production/src/redis';

/** Connections to the primary per server: sessions and cart operations borrow one each. */
const MASTER_POOL_SIZE = 4;

// Step 1 — a client that asks the Sentinels.
export function sentinelOptions(config: SentinelConfig): RedisSentinelOptions {
  const rules = {
    // While a connection is down, its commands fail at once instead of queueing.
    disableOfflineQueue: true,
    // Lesson 05's backoff: exponential, capped, jittered; never false (never give up).
    socket: { reconnectStrategy: (retries: number) => reconnectDelay(retries) },
  };
  return {
    // The name of the primary the Sentinels watch ("sentinel monitor <name> …"), and who to ask:
    // all of them, so that one that is down is skipped.
    name: config.masterName,
    sentinelRootNodes: config.sentinels,
    nodeClientOptions: { ...rules, name: config.serverId },
    sentinelClientOptions: rules,
    masterPoolSize: MASTER_POOL_SIZE,
  };
}

export async function connectSentinel(config: SentinelConfig): Promise<RedisSentinelType> {
  const client = createSentinel(sentinelOptions(config));
  // Without a listener, the first 'error' (a Sentinel of the list that is down, say) kills the process.
  client.on('error', (error: unknown) => {
    console.error(`[redis] ${error instanceof Error ? error.message || error.name : String(error)}`);
  });
  await client.connect();
  return client;
}

// Step 2 — acknowledged writes.
export function cartConnection(client: RedisSentinelType, waitTimeoutMs: number): WithConnection {
  return (work) =>
    client.use(async (lease) => {
      const result = await work(lease as unknown as RedisClientType);
      // WAIT counts the replicas that have every write of THIS connection so far: the change above.
      const confirmed = await lease.wait(1, waitTimeoutMs);
      if (confirmed < 1) throw new NotReplicatedError(waitTimeoutMs);
      return result;
    });
}

// Step 3 — refuse a bad configuration at startup.
export async function findPrimary(config: SentinelConfig, withinMs = 2_000): Promise<SentinelNode> {
  const answers = await Promise.all(
    config.sentinels.map((sentinel) => askSentinel(sentinel, config.masterName, withinMs)),
  );
  const primary = answers.find(
    (answer): answer is SentinelNode => typeof answer === 'object' && answer !== null,
  );
  if (primary) return primary;
  const list = config.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  if (answers.every((answer) => answer === 'unreachable'))
    throw new StartupError(
      `No Sentinel answered within ${withinMs} ms (REDIS_SENTINELS=${list}): is Sentinel running there?`,
    );
  throw new StartupError(
    `The Sentinels at ${list} know no primary named "${config.masterName}" (REDIS_MASTER_NAME): ` +
      'check the name in their "sentinel monitor" line.',
  );
}

/** One Sentinel's answer: the primary's address, null when it knows no such name, or 'unreachable'. */
async function askSentinel(
  sentinel: SentinelNode,
  masterName: string,
  withinMs: number,
): Promise<SentinelNode | null | 'unreachable'> {
  const client = createClient({
    socket: { host: sentinel.host, port: sentinel.port, connectTimeout: withinMs, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
  client.on('error', () => undefined); // a Sentinel that is down is an answer here, not a crash
  try {
    await client.connect();
    const reply = (await client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName], {
      abortSignal: AbortSignal.timeout(withinMs),
    })) as [string, string] | null;
    return reply ? { host: reply[0], port: Number(reply[1]) } : null;
  } catch {
    return 'unreachable';
  } finally {
    if (client.isOpen) client.destroy();
  }
}
