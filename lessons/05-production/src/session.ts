/**
 * Lesson 05 — Production: sessions that expire, and slide while in use   (edit this file)
 *
 * A session nobody uses any more must leave Redis by itself, or Redis fills up with abandoned carts.
 * A session somebody IS using must not end in the middle of a checkout. Both are one setting —
 * SESSION_TTL_SECONDS — applied to the Redis key and to the cookie, and pushed forward by every request.
 * ./server.ts (given) creates the store once and puts your middleware in front of every /cart route.
 *
 *   Step 4  createSessionStore(client, config)   the Redis store, with the prefix and the TTL
 *           sessionMiddleware(store, config)     express-session, configured for production
 *
 * Run `npm test lessons/05` after each step: the first failure tells you what to do next.
 */
import type { RequestHandler } from 'express';
import type session from 'express-session';
import type { RedisClientType } from 'redis';
import { todo } from '../../../kit/todo';
import type { Config } from './config';

export type SessionConfig = Pick<Config, 'sessionSecrets' | 'sessionTtlSeconds' | 'sessionPrefix'>;

const lesson = '05-production';
const file = 'src/session.ts';

// Step 4 — sessions that expire and slide.
// TODO: connect-redis's RedisStore on this client (`import { RedisStore } from 'connect-redis'`), with
// config.sessionPrefix as the key prefix and config.sessionTtlSeconds as its `ttl`.
export function createSessionStore(_client: RedisClientType, _config: SessionConfig): session.Store {
  return todo({ lesson, file, step: 'Step 4 — sessions that expire and slide' });
}

// TODO: express-session's middleware (`import session from 'express-session'`) on that store:
//   - secret: ALL of config.sessionSecrets (the first signs, every one verifies);
//   - saveUninitialized: false, as before; resave and rolling: README step 4 says which, and why;
//   - cookie: httpOnly, sameSite 'lax', and a max age equal to the key's TTL (in milliseconds!).
export function sessionMiddleware(_store: session.Store, _config: SessionConfig): RequestHandler {
  return todo({ lesson, file, step: 'Step 4 — sessions that expire and slide' });
}
