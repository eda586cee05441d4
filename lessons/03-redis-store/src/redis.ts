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
// TODO: create a node-redis client for `url` (createClient, from 'redis'), connect it, and return it
// once it is connected. Three choices decide what happens when Redis goes away (README Step 1 says
// why); the specs check each on the client you return, then on a real server whose Redis they stop:
//   - an 'error' listener: log the error, never rethrow it;
//   - fail fast while disconnected instead of queueing commands (a client option);
//   - reconnect by itself, soon (within 1 s) however long the outage, never giving up, never in a
//     tight loop (the socket's reconnect strategy).
// Type the client as RedisClientType (from 'redis').
// Docs: https://github.com/redis/node-redis/blob/master/docs/client-configuration.md
export async function connectRedis(_url: string): Promise<RedisClientType> {
  return todo({ lesson, file, step: 'Step 1 — connect one Redis client' });
}

// Step 3 — close the client when the server stops.
// TODO: close the connection politely: the replies of commands already sent must still arrive, and
// the promise resolves once the connection is closed (server.ts exits right after). A client that
// gave up reconnecting is closed already, and closing it again throws. The specs check it in process
// (a reply in flight, CLIENT LIST, a closed client) and by sending SIGTERM to a real server.
// Docs: https://github.com/redis/node-redis#disconnecting
export async function closeRedis(_client: RedisClientType): Promise<void> {
  todo({ lesson, file, step: 'Step 3 — close the client when the server stops' });
}
