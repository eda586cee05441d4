/**
 * Lesson 03 — reference solution. The session store: express-session keeps every session in Redis,
 * under one key per session, so any server process finds any visitor's cart.
 */
import { RedisStore } from 'connect-redis';
import type session from 'express-session';
import type { RedisClientType } from 'redis';

// Step 2 — keep sessions in Redis.
export function createSessionStore(client: RedisClientType, prefix: string): session.Store {
  // Each session is one key, `${prefix}${sessionId}`, holding the session as JSON. Its TTL follows the
  // cookie's maxAge, so Redis forgets a session when the browser would.
  return new RedisStore({ client, prefix });
}
