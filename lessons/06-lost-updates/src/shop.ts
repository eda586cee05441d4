/**
 * Lesson 06 — the shop server, assembled (given: you do not need to edit this file).
 *
 * Lesson 05's finished shop — its config, its named Redis client with capped, jittered reconnects, its
 * sessions that expire and slide — with the cart moved out of the session, into `cart:<session id>`
 * (./app.ts, calling your ./cart-store.ts). Two Redis connections of a kind each:
 *
 *   - lesson 05's ONE client, shared by every request: the sessions (GET, SET … EX, EXPIRE);
 *   - a small pool for the cart: each cart operation borrows a connection to itself for the call and
 *     gives it back. WATCH is a property of a connection (README Step 2): on a connection that other
 *     requests share, their commands would clear your WATCH, or count as your changes.
 *
 * And, for comparison, the cart as it was until now, in the session: lesson 01's app at /v1, on the
 * same sessions (POST /v1/cart/items, GET /v1/cart, DELETE /v1/cart). The first spec measures what it
 * loses; "Try it yourself" in the README shows it by hand.
 */
import express from 'express';
import { createClientPool, type RedisClientType } from 'redis';
import { jsonErrors, notFound, servedBy, withoutPassword } from '../../../kit/http';
import { createApp } from '../../../solutions/01-sticky-problem/src/app';
import { chaosRoutes } from '../../../solutions/02-crash/src/chaos';
import { serve } from '../../../solutions/02-crash/src/serve';
import { requireRedis } from '../../../solutions/03-redis-store/src/guard';
import type { Config } from '../../../solutions/05-production/src/config';
import { closeRedis, connectRedis, reconnectDelay } from '../../../solutions/05-production/src/redis';
import { createSessionStore, sessionMiddleware } from '../../../solutions/05-production/src/session';
import { cartRoutes, type WithConnection } from './app';

/** At most this many cart operations of one server talk to Redis at once; more wait for a connection. */
export const CART_POOL_SIZE = 4;

export async function startShop(config: Config): Promise<void> {
  const { serverId } = config;
  const client = await connectRedis({ url: config.redisUrl, name: serverId });
  const pool = createClientPool(
    {
      url: config.redisUrl,
      // CLIENT LIST shows them as web-1-carts: whose they are, and what for.
      name: `${serverId}-carts`,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries) => reconnectDelay(retries) },
    },
    { minimum: 1, maximum: CART_POOL_SIZE, acquireTimeout: 2_000 },
  );
  pool.on('error', (error: Error) => console.error(`[redis carts] ${error.message || error.name}`));
  await pool.connect();
  console.log(
    `[${serverId}] connected to Redis at ${withoutPassword(config.redisUrl)} as "${serverId}" (sessions) ` +
      `and "${serverId}-carts" (carts, up to ${CART_POOL_SIZE} connections)`,
  );
  const withConnection: WithConnection = (work) =>
    pool.execute((connection) => work(connection as unknown as RedisClientType));

  const session = sessionMiddleware(createSessionStore(client, config), config);
  const app = express();
  app.disable('x-powered-by');
  app.use(servedBy(serverId));
  app.use(chaosRoutes({ enabled: config.enableChaos, serverId }));
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', serverId });
  });
  // Redis unreachable: a fast 503 for every cart request, before any session or cart is touched.
  app.use(['/cart', '/v1/cart'], requireRedis(client));
  app.use('/v1', createApp({ serverId, session }));
  app.use(cartRoutes({ serverId, session, withConnection, ttlMs: config.sessionTtlSeconds * 1000 }));
  app.use(notFound);
  app.use(jsonErrors);

  await serve({
    app,
    port: config.port,
    serverId,
    drainTimeoutMs: config.drainTimeoutMs,
    onShutdown: async () => {
      await pool.close();
      await closeRedis(client);
      console.log(`[${serverId}] Redis client and cart pool closed`);
    },
  });
}
