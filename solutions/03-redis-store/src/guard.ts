/**
 * Lesson 03 — reference solution. While Redis is unreachable, a request that needs a session is
 * answered at once with a 503 JSON error, instead of waiting for Redis or failing with a 500.
 */
import type { RequestHandler } from 'express';
import type { RedisClientType } from 'redis';

/** How long a client should wait before trying again (the Retry-After header, in seconds). */
export const RETRY_AFTER_SECONDS = 1;

export function requireRedis(client: RedisClientType): RequestHandler {
  return (_req, res, next) => {
    if (client.isReady) {
      next(); // Redis is connected: let the request through to the session middleware.
      return;
    }
    // Step 4 — answer 503 while Redis is away.
    // 503 says "this server is fine, a service it needs is not: try again soon" — and nothing was
    // changed. A 500 would say "a bug"; waiting would hold the visitor (and a worker) for nothing.
    res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(503).json({
      error: 'service_unavailable',
      message: 'Carts are unavailable for a moment (the session store cannot be reached). Please retry.',
    });
  };
}
