/**
 * Lesson 02 — the server entry point (given: you do not need to edit this file).
 *
 * Runs lesson 01's finished cart app as a real process, with the chaos endpoints of ./chaos.ts
 * and the startup/shutdown of ./serve.ts — the two files you write in this lesson.
 *
 *   ENABLE_CHAOS=1 PORT=3000 npx tsx lessons/02-crash/src/server.ts
 *
 * Environment: PORT (default 3000), SERVER_ID (default server-<port>), ENABLE_CHAOS=1 turns on
 * POST /crash and GET /slow (anything else leaves them off), DRAIN_TIMEOUT_MS (default 10000) bounds
 * a graceful shutdown.
 */
import express from 'express';
import { jsonErrors } from '../../../kit/http';
import { createApp } from '../../../solutions/01-sticky-problem/src/app';
import { chaosRoutes } from './chaos';
import { serve } from './serve';

const port = numberFromEnv('PORT', 3000);
const serverId = process.env.SERVER_ID || `server-${port}`;
const chaos = process.env.ENABLE_CHAOS === '1';
const drainTimeoutMs = numberFromEnv('DRAIN_TIMEOUT_MS', 10_000);

const app = express();
app.disable('x-powered-by');
app.use(chaosRoutes({ enabled: chaos, serverId }));
app.use(createApp({ serverId }));
// An error in a chaos route never reaches the cart app's error handler: answer it in JSON here too.
app.use(jsonErrors);

serve({ app, port, serverId, drainTimeoutMs }).catch((error: unknown) => {
  // One readable line (an unfinished step says which one), then the exit code of a failed start.
  console.error(`[${serverId}] could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number, got "${raw}"`);
    process.exit(1);
  }
  return value;
}
