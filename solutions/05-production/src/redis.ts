/**
 * Lesson 05 — reference solution. ONE Redis client per server process, shared by every request:
 * node-redis multiplexes all of them over a single connection. It carries the server's name (so
 * `CLIENT LIST` says whose connection it is), never dies with Redis, fails fast while Redis is away,
 * and reconnects by itself with a capped, jittered backoff.
 */
import { createClient, type RedisClientType } from 'redis';

/** The first reconnection attempt waits about this long: a Redis restart is usually short. */
export const FIRST_RECONNECT_DELAY_MS = 50;
/** No wait between two attempts is longer: once Redis is back, carts come back within this time. */
export const MAX_RECONNECT_DELAY_MS = 1_000;

export interface RedisOptions {
  url: string;
  /** The connection's name in Redis (CLIENT SETNAME): the server id. No spaces. */
  name: string;
}

// Step 2 — one named Redis client per process.
export async function connectRedis(options: RedisOptions): Promise<RedisClientType> {
  const client: RedisClientType = createClient({
    url: options.url,
    // `CLIENT LIST` shows name=<server id>: during an incident you can tell which server holds which
    // connection (and spot a server that opens too many).
    name: options.name,
    // While disconnected, commands fail at once instead of queueing until Redis is back.
    disableOfflineQueue: true,
    socket: {
      // A wrapper, not reconnectDelay itself: node-redis passes (retries, cause), and `cause` is no
      // random-number function.
      reconnectStrategy: (retries) => reconnectDelay(retries),
    },
  });
  // Without a listener, the 'error' emitted when Redis goes away would kill the process.
  client.on('error', (error: Error) => {
    console.error(`[redis] ${error.message || error.name}`);
  });
  await client.connect();
  return client;
}

// Step 3 — reconnect with capped backoff and jitter.
/**
 * How long to wait before reconnection attempt `retries` (0 for the first). Exponential — 50, 100,
 * 200… ms — so a Redis that stays down is not hammered, capped so that recovery stays quick, and
 * jittered: "equal jitter" keeps the lower half of the wait and draws the upper half at random, so a
 * hundred servers that lost Redis at the same instant do not all knock again at the same instant.
 * Never `false`: giving up would leave the server without sessions until someone restarts it.
 */
export function reconnectDelay(retries: number, random: () => number = Math.random): number {
  const ceiling = Math.min(FIRST_RECONNECT_DELAY_MS * 2 ** retries, MAX_RECONNECT_DELAY_MS);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

// Step 2 — close the client when the server stops.
export async function closeRedis(client: RedisClientType): Promise<void> {
  // The server has drained its requests by now: close() lets any reply still on its way arrive first.
  if (client.isOpen) await client.close();
}
