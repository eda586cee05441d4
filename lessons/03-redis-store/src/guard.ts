/**
 * Lesson 03 — The Redis store: when Redis goes away                     (edit this file)
 *
 * ./server.ts (given) puts this middleware in front of every /cart route, before the session
 * middleware. While Redis is connected it lets the request through. While it is not, the request
 * must not reach the session store: it would wait for a Redis that may be gone for minutes, or fail
 * with a 500 as if this server had a bug.
 *
 *   Step 4  answer 503 while Redis is away
 *
 * Run `npm test lessons/03` after each step: the first failure tells you what to do next.
 */
import type { RequestHandler } from 'express';
import type { RedisClientType } from 'redis';
import { todo } from '../../../kit/todo';

const lesson = '03-redis-store';
const file = 'src/guard.ts';

export function requireRedis(client: RedisClientType): RequestHandler {
  return (_req, _res, next) => {
    if (client.isReady) {
      next(); // Redis is connected: let the request through to the session middleware.
      return;
    }
    // Step 4 — answer 503 while Redis is away.
    // TODO: Redis is unreachable (the client is reconnecting). Answer now, without touching the
    // session and without passing the request on: which status tells the visitor "not your fault,
    // not a bug here, try again in a moment"? Send the course's JSON error shape, two strings:
    // { "error": …, "message": … } (README Step 4). The specs check it on this function in process
    // (status, JSON body, the request goes no further) and on a real server whose Redis they stop
    // (an answer within 1 s). Docs: https://expressjs.com/en/5x/api.html#res.status
    todo({ lesson, file, step: 'Step 4 — answer 503 while Redis is away' });
  };
}
