/**
 * Lesson 05 — the server entry point (given: you do not need to edit this file).
 *
 * The whole course in one process: lesson 01's cart app, lesson 02's chaos endpoints and graceful
 * shutdown, lesson 03's 503 guard — configured from the environment (./config.ts), with one named,
 * reconnecting Redis client (./redis.ts) and sessions that expire and slide (./session.ts): the three
 * files you write in this lesson.
 *
 *   REDIS_URL=redis://127.0.0.1:6380 PORT=3001 SERVER_ID=server-1 node --import tsx lessons/05-production/src/server.ts
 *
 * Environment (README step 1): REDIS_URL (required), SESSION_SECRET (required when NODE_ENV=production;
 * a comma-separated list rotates), SESSION_TTL_SECONDS (1800), SESSION_PREFIX (sess:), PORT (3000),
 * SERVER_ID (server-<port>), DRAIN_TIMEOUT_MS (10000), ENABLE_CHAOS (0), NODE_ENV.
 * A bad environment: the process prints every problem and exits 1, before it connects to anything.
 */
import express from 'express';
import { jsonErrors, servedBy, withoutPassword } from '../../../kit/http';
import { NotImplementedError } from '../../../kit/todo';
import { createApp } from '../../../solutions/01-sticky-problem/src/app';
import { chaosRoutes } from '../../../solutions/02-crash/src/chaos';
import { serve } from '../../../solutions/02-crash/src/serve';
import { requireRedis } from '../../../solutions/03-redis-store/src/guard';
import { ConfigError, loadConfig } from './config';
import { closeRedis, connectRedis } from './redis';
import { createSessionStore, sessionMiddleware } from './session';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const { serverId } = config;

  // Connect first: a server that listened before its session store was ready would fail its first
  // requests. While Redis cannot be reached, connect() keeps trying (your reconnect strategy).
  const client = await connectRedis({ url: config.redisUrl, name: serverId });
  console.log(`[${serverId}] connected to Redis at ${withoutPassword(config.redisUrl)} as "${serverId}"`);
  const store = createSessionStore(client, config);

  const app = express();
  app.disable('x-powered-by');
  app.use(servedBy(serverId));
  app.use(chaosRoutes({ enabled: config.enableChaos, serverId }));
  // Your session middleware runs first on /cart. Lesson 01's createApp has a session middleware of its
  // own, without `rolling`; express-session steps aside when a request already has a session, so
  // yours is the one that loads, saves, touches and re-sends it. It gets the same store and secrets
  // anyway, for the routes outside /cart.
  app.use('/cart', requireRedis(client), sessionMiddleware(store, config));
  app.use(
    createApp({
      serverId,
      store,
      secret: config.sessionSecrets,
      sessionMaxAgeMs: config.sessionTtlSeconds * 1000,
    }),
  );
  app.use(jsonErrors);

  await serve({
    app,
    port: config.port,
    serverId,
    drainTimeoutMs: config.drainTimeoutMs,
    onShutdown: async () => {
      await closeRedis(client);
      console.log(`[${serverId}] Redis client closed`);
    },
  });
}

main().catch((error: unknown) => {
  // A bad environment or an unfinished step: the message says it all, a stack trace would only hide it.
  if (error instanceof ConfigError || error instanceof NotImplementedError) console.error(error.message);
  else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
