/**
 * Lesson 03 — reference solution. One node-redis client per process: connected before the server
 * listens, never fatal when Redis goes away, quick to fail while disconnected, quick to come back.
 */
import { createClient, type RedisClientType } from 'redis';

/** Longest wait between two reconnection attempts: a restarted Redis is used again within this time. */
export const MAX_RECONNECT_DELAY_MS = 500;

// Step 1 — connect one Redis client.
export async function connectRedis(url: string): Promise<RedisClientType> {
  const client: RedisClientType = createClient({
    url,
    // While disconnected, a command fails at once (ClientOfflineError) instead of waiting in a queue
    // for a Redis that may be gone for minutes: a request that straddles a disconnection ends quickly.
    disableOfflineQueue: true,
    socket: { reconnectStrategy: reconnectDelay },
  });
  // node-redis emits 'error' on every lost connection and failed reconnection attempt. An EventEmitter
  // with no 'error' listener throws: the whole server would die with Redis. Log it and carry on; the
  // client reconnects by itself.
  client.on('error', (error: Error) => {
    console.error(`[redis] ${error.message || error.name}`);
  });
  await client.connect();
  return client;
}

/** Retry quickly at first, then every MAX_RECONNECT_DELAY_MS, for as long as it takes. */
function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS);
}

// Step 3 — close the client when the server stops.
export async function closeRedis(client: RedisClientType): Promise<void> {
  // close() lets commands already sent finish; it is idle by now (the server drained its requests).
  // A client that gave up reconnecting is already closed: nothing to do.
  if (client.isOpen) await client.close();
}
