/**
 * Lesson 06 — the server entry point (given: you do not need to edit this file).
 *
 * Lesson 05's configuration, read and checked by its finished loadConfig, then the shop (./shop.ts),
 * which runs your cart operations (./cart-store.ts).
 *
 *   REDIS_URL=redis://127.0.0.1:6380 PORT=3001 SERVER_ID=web-1 node --import tsx lessons/06-lost-updates/src/server.ts
 *
 * Environment (lesson 05, README Step 1): REDIS_URL (required), SESSION_SECRET, SESSION_TTL_SECONDS
 * (1800: the session's and the cart's), SESSION_PREFIX (sess:), PORT (3000), SERVER_ID (server-<port>),
 * DRAIN_TIMEOUT_MS (10000), ENABLE_CHAOS (0), NODE_ENV.
 */
import { ConfigError, loadConfig } from '../../../solutions/05-production/src/config';
import type * as Shop from './shop';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const { startShop }: typeof Shop = await import('./shop');
  await startShop(config);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
