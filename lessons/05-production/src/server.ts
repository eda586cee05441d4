/**
 * Lesson 05 — the server entry point (given: you do not need to edit this file).
 *
 * Reads the configuration (./config.ts, your Step 1) and starts the shop (./shop.ts, given), which
 * calls the rest of what you write: the Redis client (./redis.ts) and the sessions (./session.ts).
 *
 *   REDIS_URL=redis://127.0.0.1:6380 PORT=3001 SERVER_ID=server-1 node --import tsx lessons/05-production/src/server.ts
 *
 * Environment (README step 1): REDIS_URL (required), SESSION_SECRET (required when NODE_ENV=production;
 * a comma-separated list rotates), SESSION_TTL_SECONDS (1800), SESSION_PREFIX (sess:), PORT (3000),
 * SERVER_ID (server-<port>), DRAIN_TIMEOUT_MS (10000), ENABLE_CHAOS (0), NODE_ENV.
 * A bad environment: the process prints every problem and exits 1, before it loads or connects to
 * anything else.
 */
import { NotImplementedError } from '../../../kit/todo';
import { ConfigError, loadConfig } from './config';
import type * as Shop from './shop';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // Loaded only once the configuration is known to be good: express, express-session and node-redis
  // take a few hundred milliseconds to load, and a refused start should not wait for them.
  const { startShop }: typeof Shop = await import('./shop');
  await startShop(config);
}

main().catch((error: unknown) => {
  // A bad environment or an unfinished step: the message says it all, a stack trace would only hide it.
  if (error instanceof ConfigError || error instanceof NotImplementedError) console.error(error.message);
  else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
