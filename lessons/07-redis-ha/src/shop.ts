/**
 * Lesson 07 — the shop server, assembled (given: you do not need to edit this file).
 *
 * Lesson 06's shop — lesson 05's sessions that expire and slide, the cart in its own Redis hash
 * (`cart:<session id>`, lesson 06's finished cart operations) — on a Redis that survives the death of
 * its primary: every Redis command goes through the Sentinel-aware client you write in ./sentinel.ts.
 *
 *   startup     findPrimary (Step 3): a bad REDIS_SENTINELS / REDIS_MASTER_NAME stops the server here
 *   sessions    connect-redis's RedisStore on your client (Step 1): GET, SET … EX, EXPIRE
 *   carts       each cart operation on a connection of the client's pool lent to it alone (WATCH needs
 *               that, and so does WAIT), then acknowledged by a replica (cartConnection, Step 2)
 *
 * During a failover the client waits for the new primary (measured: about 2–4 s here) — so a cart
 * request that Redis has not answered within REDIS_DEADLINE_MS is answered 503 (Retry-After: 1),
 * never left hanging. What it started may still land once the new primary is there: a 503 means "not
 * saved for sure", never "not saved".
 */
import express, { type RequestHandler } from 'express';
import type { RedisClientType, RedisSentinelType } from 'redis';
import { jsonErrors, notFound, servedBy } from '../../../kit/http';
import { NotImplementedError } from '../../../kit/todo';
import { chaosRoutes } from '../../../solutions/02-crash/src/chaos';
import { serve } from '../../../solutions/02-crash/src/serve';
import { createSessionStore, sessionMiddleware } from '../../../solutions/05-production/src/session';
import { cartRoutes, type WithConnection } from './cart-app';
import type { HaConfig } from './config';
import { cartConnection, connectSentinel, findPrimary } from './sentinel';

export async function startShop(config: HaConfig): Promise<void> {
  const { serverId } = config;
  try {
    const primary = await findPrimary(config);
    console.log(`[${serverId}] the Sentinels name ${primary.host}:${primary.port} as "${config.masterName}"`);
  } catch (error) {
    // Until Step 3 is done the server starts without its startup check, and says so.
    if (!(error instanceof NotImplementedError)) throw error;
    console.log(error.message);
  }

  const client = await connectSentinel(config);
  console.log(
    `[${serverId}] connected through the Sentinels ${config.sentinels.map((s) => `${s.host}:${s.port}`).join(',')} ` +
      `to "${config.masterName}" at ${describe(client.getMasterNode())}`,
  );
  client.on('topology-change', (event: { type: string; node?: { host: string; port: number } }) => {
    if (event.type === 'MASTER_CHANGE') console.log(`[${serverId}] new primary: ${describe(event.node)}`);
  });

  let withConnection: WithConnection;
  try {
    withConnection = cartConnection(client, config.waitTimeoutMs);
  } catch (error) {
    // Until Step 2 is done, cart changes are not acknowledged by a replica (and the server says so).
    if (!(error instanceof NotImplementedError)) throw error;
    console.log(error.message);
    withConnection = (work) => client.use((lease) => work(lease as unknown as RedisClientType));
  }

  // connect-redis calls get, set, expire, del (and scanIterator for all/ids): the Sentinel client
  // has them all, with the same signatures as a plain client's.
  const session = sessionMiddleware(createSessionStore(client as unknown as RedisClientType, config), config);
  const app = express();
  app.disable('x-powered-by');
  app.use(servedBy(serverId));
  app.use(chaosRoutes({ enabled: config.enableChaos, serverId }));
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', serverId });
  });
  app.use('/cart', requireClient(client), deadline(config.redisDeadlineMs));
  app.use(cartRoutes({ serverId, session, withConnection, ttlMs: config.sessionTtlSeconds * 1000 }));
  app.use(notFound);
  app.use(jsonErrors);

  await serve({
    app,
    port: config.port,
    serverId,
    drainTimeoutMs: config.drainTimeoutMs,
    onShutdown: async () => {
      if (client.isOpen) await client.close();
      console.log(`[${serverId}] Sentinel client closed`);
    },
  });
}

function describe(node: { host: string; port: number } | undefined): string {
  return node ? `${node.host}:${node.port}` : '(none yet)';
}

const unavailable = (message: string) => ({ error: 'service_unavailable', message });

/** A client that was closed (or never became ready) serves nothing: a fast 503. */
function requireClient(client: RedisSentinelType): RequestHandler {
  return (_req, res, next) => {
    if (client.isReady) return next();
    res.set('Retry-After', '1');
    res
      .status(503)
      .json(unavailable('Carts are unavailable for a moment (Redis cannot be reached). Please retry.'));
  };
}

/**
 * A cart request that has no answer after `ms` gets a 503 JSON: during a failover the client holds
 * commands until the Sentinels name a new primary. Whatever the route does later is dropped (its
 * answer has been given).
 */
function deadline(ms: number): RequestHandler {
  return (_req, res, next) => {
    const timer = setTimeout(() => {
      if (res.headersSent) return;
      res.set('Retry-After', '1');
      res
        .status(503)
        .json(
          unavailable(
            `Redis did not answer within ${ms} ms (a failover?): nothing was saved for sure. Please retry.`,
          ),
        );
      // The route is still running: its late answer (or error) must go nowhere.
      const ignore = () => res;
      Object.assign(res, { status: ignore, json: ignore, send: ignore, set: ignore, setHeader: ignore });
    }, ms);
    res.once('close', () => clearTimeout(timer));
    res.once('finish', () => clearTimeout(timer));
    next();
  };
}
