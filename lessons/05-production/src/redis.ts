/**
 * Lesson 05 — Production: one Redis client per process                  (edit this file)
 *
 * You wrote a Redis client in lesson 03. This one is ready for day 2: it has a name Redis can show
 * you, and it comes back from an outage without a thundering herd. ./shop.ts (given) calls
 * connectRedis once, before it listens, and closeRedis once, after a SIGTERM has drained the requests.
 * Every request shares that one client: node-redis multiplexes all of them over one connection, so a
 * client (or a connection) per request is never needed — and would run Redis out of connections.
 *
 *   Step 2  connectRedis(options)   one named client: error listener, fail fast, reconnect; connect it
 *           closeRedis(client)      close it when the server stops
 *   Step 3  reconnectDelay(retries) the wait before each reconnection attempt: capped backoff + jitter
 *
 * Run `npm test lessons/05` after each step: the first failure tells you what to do next.
 */
import type { RedisClientType } from 'redis';
import { todo } from '../../../kit/todo';

/** The first reconnection attempt waits about this long: a Redis restart is usually short. */
export const FIRST_RECONNECT_DELAY_MS = 50;
/** No wait between two attempts is longer: once Redis is back, carts come back within this time. */
export const MAX_RECONNECT_DELAY_MS = 1_000;

export interface RedisOptions {
  url: string;
  /** The connection's name in Redis (CLIENT SETNAME): the server id. No spaces. */
  name: string;
}

const lesson = '05-production';
const file = 'src/redis.ts';

// Step 2 — one named Redis client per process.
// TODO: create the client (node-redis's createClient, https://github.com/redis/node-redis#usage),
// connect it, and return it connected. As in lesson 03, it must survive an outage:
//   - something must hear its errors and log them (an 'error' event nobody listens to kills the process);
//   - while disconnected, a command must fail at once instead of waiting in a queue;
//   - it must reconnect by itself, for ever: give node-redis a reconnect strategy that asks
//     reconnectDelay (Step 3) — node-redis calls a strategy with (retries, cause), and `cause` is no
//     random-number function.
// New here: the connection carries options.name, so that Redis's CLIENT LIST says whose it is.
// The specs call it in-process (connected when it resolves? its name in CLIENT INFO? a command while
// Redis is out of reach?) and on a real server (50 visitors, one connection; an outage; a restart).
// Options: https://github.com/redis/node-redis/blob/master/docs/client-configuration.md
export async function connectRedis(_options: RedisOptions): Promise<RedisClientType> {
  return todo({ lesson, file, step: 'Step 2 — one named Redis client per process' });
}

// TODO: close the client once the replies on their way have arrived — and do nothing if it is
// closed already (a second call must not throw). https://github.com/redis/node-redis#disconnecting
export async function closeRedis(_client: RedisClientType): Promise<void> {
  todo({ lesson, file, step: 'Step 2 — one named Redis client per process' });
}

// Step 3 — reconnect with capped backoff and jitter.
// TODO: the milliseconds to wait before reconnection attempt `retries` (0 for the first one):
//   - backoff: start around FIRST_RECONNECT_DELAY_MS and double with each failed attempt;
//   - capped: never more than MAX_RECONNECT_DELAY_MS, however many attempts failed;
//   - jitter: part of the wait drawn with random() (a number in [0, 1); use it, not Math.random), so
//     that servers which lost Redis at the same instant do not all retry at the same instant — only
//     part: the other half of the ceiling is waited for sure, so no wait shrinks to nothing;
//   - a number, always: false (or an Error) would make the client give up for good.
// The specs call it with fixed draws, then check (in-process) the strategy node-redis got from connectRedis.
export function reconnectDelay(_retries: number, _random: () => number = Math.random): number {
  return todo({ lesson, file, step: 'Step 3 — reconnect with capped backoff and jitter' });
}
