/**
 * Lesson 03 — The Redis store: the Redis client                         (edit this file)
 *
 * Every server process keeps ONE connection to Redis, made before the server accepts requests and
 * shared by every request. ./server.ts (given) calls these two functions:
 *
 *   Step 1  connectRedis(url)    create the client, make it safe for outages, connect it
 *   Step 3  closeRedis(client)   close it when the server stops (after a SIGTERM)
 *
 * Run `npm test lessons/03` after each step: the first failure tells you what to do next.
 */
import type { RedisClientType } from 'redis';
import { todo } from '../../../kit/todo';

const lesson = '03-redis-store';
const file = 'src/redis.ts';

// Step 1 — connect one Redis client.
// TODO: create a node-redis client for `url` (`import { createClient } from 'redis'`), then connect it
// and return it. Three choices decide what happens when Redis goes away (README step 1 says why):
//   - an 'error' listener: log the error, never rethrow it;
//   - fail fast while disconnected instead of queueing commands (a client option);
//   - reconnect by itself, and soon, once Redis is back (socket.reconnectStrategy).
// Type the client as RedisClientType (from 'redis').
export async function connectRedis(_url: string): Promise<RedisClientType> {
  return todo({ lesson, file, step: 'Step 1 — connect one Redis client' });
}

// Step 3 — close the client when the server stops.
// TODO: close the connection politely (node-redis v6: close(); quit() is deprecated). A client that gave
// up reconnecting is closed already: closing it twice throws.
export async function closeRedis(_client: RedisClientType): Promise<void> {
  todo({ lesson, file, step: 'Step 3 — close the client when the server stops' });
}
