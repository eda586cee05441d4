/**
 * Lesson 03 — the server entry point (given: you do not need to edit this file).
 *
 * Lesson 01's cart app and lesson 02's chaos endpoints and graceful shutdown, with the sessions in
 * Redis: the client of ./redis.ts, the store of ./store.ts and the guard of ./guard.ts — the files
 * you write in this lesson.
 *
 *   REDIS_URL=redis://127.0.0.1:6380 PORT=3001 SERVER_ID=server-1 node --import tsx lessons/03-redis-store/src/server.ts
 *
 * (`node --import tsx` runs the server as ONE process, so a kill reaches the server itself; `npx tsx`
 * would start a wrapper and a child, and a SIGKILL would stop only the wrapper.)
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), SESSION_PREFIX (default 'sess:'),
 * PORT (default 3000), SERVER_ID (default server-<port>), ENABLE_CHAOS=1 turns on POST /crash and
 * GET /slow, DRAIN_TIMEOUT_MS (default 10000) bounds a graceful shutdown.
 */
import express from 'express';
import { jsonErrors, servedBy, withoutPassword } from '../../../kit/http';
import { createApp } from '../../../solutions/01-sticky-problem/src/app';
import { chaosRoutes } from '../../../solutions/02-crash/src/chaos';
import { serve } from '../../../solutions/02-crash/src/serve';
import { requireRedis } from './guard';
import { closeRedis, connectRedis } from './redis';
import { createSessionStore } from './store';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const serverId = process.env.SERVER_ID ?? `server-${port}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = process.env.SESSION_PREFIX ?? 'sess:';

  // Connect first: a server that listens before its session store is ready would fail its first requests.
  const client = await connectRedis(redisUrl);
  console.log(
    `[${serverId}] connected to Redis at ${withoutPassword(redisUrl)} (session keys: ${prefix}<session id>)`,
  );

  const app = express();
  app.disable('x-powered-by');
  app.use(servedBy(serverId));
  app.use(chaosRoutes({ enabled: process.env.ENABLE_CHAOS === '1', serverId }));
  // /health is left out on purpose: it says "this process is alive", which stays true while Redis is away.
  app.use('/cart', requireRedis(client));
  app.use(createApp({ serverId, store: createSessionStore(client, prefix) }));
  app.use(jsonErrors);

  await serve({
    app,
    port,
    serverId,
    drainTimeoutMs: Number(process.env.DRAIN_TIMEOUT_MS ?? 10_000),
    onShutdown: async () => {
      await closeRedis(client);
      // Says what happened, not what was meant to: a client still open here is cut off by the exit.
      console.log(
        client.isOpen
          ? `[${serverId}] Redis client still open after closeRedis: the exit will cut its connection`
          : `[${serverId}] Redis client closed`,
      );
    },
  });
}

main().catch((error: unknown) => {
  // An unfinished step prints its one-line "what to do next" here; the specs read it from stderr.
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
