/**
 * Lesson 05 — reference solution. Sessions that end by themselves when a visitor goes away, and live
 * on while they shop: the Redis key's TTL and the cookie's max age are one setting, and every request
 * pushes both forward (sliding expiration).
 */
import { RedisStore } from 'connect-redis';
import type { RequestHandler } from 'express';
import session from 'express-session';
import type { RedisClientType } from 'redis';
import type { Config } from './config';

export type SessionConfig = Pick<Config, 'sessionSecrets' | 'sessionTtlSeconds' | 'sessionPrefix'>;

// Step 4 — sessions that expire and slide.
export function createSessionStore(client: RedisClientType, config: SessionConfig): session.Store {
  // connect-redis writes each session with SET … EX <ttl>, and a request that only reads it with
  // EXPIRE <ttl>. The TTL comes from the cookie's expiry (set below); `ttl` covers a session whose
  // cookie has none, so that no key ever lives for ever.
  return new RedisStore({ client, prefix: config.sessionPrefix, ttl: config.sessionTtlSeconds });
}

export function sessionMiddleware(store: session.Store, config: SessionConfig): RequestHandler {
  return session({
    store,
    // A list rotates: the first secret signs new cookies, every one of them verifies.
    secret: config.sessionSecrets,
    // Sliding expiration: a request that changed nothing does not write the session back (a write could
    // undo a parallel request's change) — express-session calls the store's touch() instead, which
    // runs EXPIRE and pushes the key's expiry forward…
    resave: false,
    saveUninitialized: false,
    // …and `rolling` re-sends the cookie on every response, so the browser's copy slides too.
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: config.sessionTtlSeconds * 1000 },
  });
}
