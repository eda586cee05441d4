/**
 * Lesson 07 — the server entry point (given: you do not need to edit this file).
 *
 * Lesson 05's configuration without REDIS_URL, plus where the Sentinels are (./config.ts), then the
 * shop (./shop.ts), which runs what you write in ./sentinel.ts.
 *
 *   REDIS_SENTINELS=127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381 REDIS_MASTER_NAME=shop \
 *     PORT=3001 SERVER_ID=web-1 node --import tsx lessons/07-redis-ha/src/server.ts
 *
 * A bad environment, or a start your Step 3 refuses: its message (one line for Step 3), exit 1.
 */
import { NotImplementedError } from '../../../kit/todo';
import { ConfigError, loadHaConfig, StartupError } from './config';
import type * as Shop from './shop';

async function main(): Promise<void> {
  const config = loadHaConfig(process.env);
  const { startShop }: typeof Shop = await import('./shop');
  await startShop(config);
}

main().catch((error: unknown) => {
  // By name: your sentinel.ts imports the error classes by a path of its own (one copy per path).
  const known = [ConfigError, StartupError, NotImplementedError].map((kind) => kind.name);
  if (error instanceof Error && known.includes(error.name)) console.error(error.message);
  else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
