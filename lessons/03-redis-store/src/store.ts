/**
 * Lesson 03 — The Redis store: the session store                        (edit this file)
 *
 * express-session asks a *store* to load and save each session. Lessons 01–02 used its MemoryStore,
 * inside one process: the cart died with the process and no other process could see it. Here you
 * hand it a store that keeps sessions in Redis, shared by every server process.
 *
 *   Step 2  createSessionStore(client, prefix)
 *
 * Run `npm test lessons/03` after each step: the first failure tells you what to do next.
 */
import type session from 'express-session';
import type { RedisClientType } from 'redis';
import { todo } from '../../../kit/todo';

const lesson = '03-redis-store';
const file = 'src/store.ts';

// Step 2 — keep sessions in Redis.
// TODO: return connect-redis's store on this client (no client of its own: one connection per
// process), keeping each session under the key `${prefix}${sessionId}`, with the TTL each session's
// cookie gives it. Mind how connect-redis 9 exports it (README Step 2). The specs look inside Redis
// (KEYS, PTTL, GET, INFO stats, CLIENT LIST) and call this function in process with a short cookie.
// Docs: https://github.com/tj/connect-redis#options
export function createSessionStore(_client: RedisClientType, _prefix: string): session.Store {
  return todo({ lesson, file, step: 'Step 2 — keep sessions in Redis' });
}
