/**
 * Lesson 05 — Production: sessions that expire, and slide while in use   (edit this file)
 *
 * A session nobody uses any more must leave Redis by itself, or Redis fills up with abandoned carts.
 * A session somebody IS using must not end in the middle of a checkout. Both are one setting —
 * SESSION_TTL_SECONDS — applied to the Redis key and to the cookie, and pushed forward by every request.
 * ./shop.ts (given) creates the store once, on the one Redis client, and runs lesson 01's cart app on
 * your middleware.
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
// TODO: connect-redis's RedisStore on this client (https://github.com/tj/connect-redis#options): its keys
// under config.sessionPrefix, and no key without an expiry — even for a session whose cookie has none,
// it lives config.sessionTtlSeconds (mind the unit the store counts in).
export function createSessionStore(_client: RedisClientType, _config: SessionConfig): session.Store {
  return todo({ lesson, file, step: 'Step 4 — sessions that expire and slide' });
}

// TODO: express-session's middleware on that store (https://github.com/expressjs/session#options):
//   - every secret of config.sessionSecrets, in order: the first signs, every one verifies;
//   - a visitor who stores nothing gets no session, no cookie, no key (as in lesson 01);
//   - sliding expiration: a request that changed nothing must not write the session back (it only
//     touches it, which pushes the key's expiry forward), and every answer re-sends the cookie;
//   - the cookie: out of reach of scripts, not sent with other sites' forms, and expiring when the key
//     does (the cookie counts in milliseconds, SESSION_TTL_SECONDS in seconds).
// The shop (given, ./shop.ts) hands this middleware to lesson 01's cart app: it is the only session
// middleware on the store, so the cookie is exactly the one you configure here.
export function sessionMiddleware(_store: session.Store, _config: SessionConfig): RequestHandler {
  return todo({ lesson, file, step: 'Step 4 — sessions that expire and slide' });
}
