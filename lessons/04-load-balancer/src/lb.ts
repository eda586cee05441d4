/**
 * Lesson 04 — the balancer's entry point (given: you do not need to edit this file).
 *
 * Runs createBalancer() from ./balancer.ts as a process of its own, in front of servers you started:
 *
 *   TARGETS=http://127.0.0.1:3001,http://127.0.0.1:3002 STRATEGY=round-robin PORT=8080 \
 *     node --import tsx lessons/04-load-balancer/src/lb.ts
 *
 * Environment: TARGETS (required: the servers' URLs, comma-separated), STRATEGY (round-robin or
 * sticky; default round-robin), PORT (default 8080), HEALTH_INTERVAL_MS (optional: turns Step 5's
 * health checks on, every that many ms). A bad setting exits 1 with one line saying which.
 * SIGTERM or Ctrl-C closes it.
 */
import { createBalancer } from './balancer';
import { STRATEGIES, type Strategy } from './plumbing';

interface Settings {
  port: number;
  targets: string[];
  strategy: Strategy;
  healthIntervalMs: number | undefined;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const port = Number(env.PORT || 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    fail(`PORT must be a port number (0–65535), got "${env.PORT}"`);
  }

  const targets = (env.TARGETS ?? '')
    .split(',')
    .map((target) => target.trim())
    .filter((target) => target !== '');
  if (targets.length === 0) {
    fail(
      'TARGETS is empty: give the servers to balance, e.g. TARGETS=http://127.0.0.1:3001,http://127.0.0.1:3002',
    );
  }
  for (const target of targets) {
    if (!URL.canParse(target) || new URL(target).protocol !== 'http:') {
      fail(`TARGETS: "${target}" is not an http:// URL (e.g. http://127.0.0.1:3001)`);
    }
  }

  const strategy = STRATEGIES.find((name) => name === (env.STRATEGY || 'round-robin'));
  if (!strategy) fail(`STRATEGY must be ${STRATEGIES.join(' or ')}, got "${env.STRATEGY}"`);

  const healthIntervalMs = env.HEALTH_INTERVAL_MS ? Number(env.HEALTH_INTERVAL_MS) : undefined;
  if (healthIntervalMs !== undefined && !(Number.isInteger(healthIntervalMs) && healthIntervalMs > 0)) {
    fail(
      `HEALTH_INTERVAL_MS must be a whole number of milliseconds above 0, got "${env.HEALTH_INTERVAL_MS}"`,
    );
  }

  return { port, targets, strategy, healthIntervalMs };
}

function fail(message: string): never {
  console.error(`[balancer] ${message}`);
  process.exit(1);
}

function main(): void {
  const { port, targets, strategy, healthIntervalMs } = readSettings(process.env);
  let balancer: ReturnType<typeof createBalancer>;
  try {
    balancer = createBalancer({
      targets,
      strategy,
      log: (line) => console.error(line),
      ...(healthIntervalMs ? { health: { intervalMs: healthIntervalMs } } : {}),
    });
  } catch (error) {
    // An unfinished step says which one, in one line.
    fail(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  balancer.once('error', (error: Error) => fail(`could not listen on port ${port}: ${error.message}`));
  balancer.listen(port, () => {
    console.log(
      `[balancer] ${strategy} on http://localhost:${port} → ${targets.join(', ')} (pid ${process.pid})`,
    );
  });

  const stop = () => {
    balancer.close(() => process.exit(0));
    balancer.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
