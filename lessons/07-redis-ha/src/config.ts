/**
 * Lesson 07 — the configuration and the errors the shop shares (given: you do not need to edit this file).
 *
 * Lesson 05's configuration (its finished loadConfig: PORT, SERVER_ID, SESSION_SECRET,
 * SESSION_TTL_SECONDS, SESSION_PREFIX, DRAIN_TIMEOUT_MS, ENABLE_CHAOS, NODE_ENV), with one change: no
 * REDIS_URL. A server no longer knows where the primary is — the Sentinels do:
 *
 *   REDIS_SENTINELS     required: the Sentinels to ask, "host:port,host:port,…" (3 is the usual count)
 *   REDIS_MASTER_NAME   required: the name the Sentinels monitor the primary under ("sentinel monitor <name> …")
 *   WAIT_TIMEOUT_MS     500: how long a cart change waits for a replica to confirm it (README Step 2)
 *   REDIS_DEADLINE_MS   2000: the longest a cart request waits for Redis before a 503 (during a failover)
 *
 * A bad environment: every problem in one message, and the process exits 1 (./server.ts).
 */
import { type Config, ConfigError, type Env, loadConfig } from '../../../solutions/05-production/src/config';

export { ConfigError };

export interface SentinelNode {
  host: string;
  port: number;
}

/** What the Sentinel-aware client needs (README Step 1). */
export interface SentinelConfig {
  /** The connection's name in Redis (CLIENT SETNAME): the server id. */
  serverId: string;
  sentinels: SentinelNode[];
  masterName: string;
}

export interface HaConfig extends Omit<Config, 'redisUrl'>, SentinelConfig {
  waitTimeoutMs: number;
  redisDeadlineMs: number;
}

export const HA_DEFAULTS = { waitTimeoutMs: 500, redisDeadlineMs: 2_000 } as const;

export function loadHaConfig(env: Env): HaConfig {
  const problems: string[] = [];
  const read = (name: string) => (env[name]?.trim() ? env[name]?.trim() : undefined);

  const sentinels: SentinelNode[] = [];
  const list = read('REDIS_SENTINELS');
  if (!list)
    problems.push('REDIS_SENTINELS is required, e.g. 127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381');
  for (const entry of list?.split(',') ?? []) {
    const match = /^\s*([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match?.[1] || !(port >= 1 && port <= 65_535)) {
      problems.push(`REDIS_SENTINELS must be host:port entries separated by commas, got "${entry.trim()}"`);
      continue;
    }
    sentinels.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
  }
  const masterName = read('REDIS_MASTER_NAME') ?? '';
  if (!masterName) problems.push('REDIS_MASTER_NAME is required: the name in "sentinel monitor <name> …"');
  else if (!/^[A-Za-z0-9._-]+$/.test(masterName))
    problems.push(
      `REDIS_MASTER_NAME may contain only letters, digits, ".", "_" and "-", got "${masterName}"`,
    );

  const waitTimeoutMs = milliseconds(
    read('WAIT_TIMEOUT_MS'),
    'WAIT_TIMEOUT_MS',
    HA_DEFAULTS.waitTimeoutMs,
    problems,
  );
  const redisDeadlineMs = milliseconds(
    read('REDIS_DEADLINE_MS'),
    'REDIS_DEADLINE_MS',
    HA_DEFAULTS.redisDeadlineMs,
    problems,
  );
  if (waitTimeoutMs >= redisDeadlineMs)
    problems.push(
      'WAIT_TIMEOUT_MS must be shorter than REDIS_DEADLINE_MS (a WAIT that times out must still be answered)',
    );

  // The rest is lesson 05's, checked by its loadConfig. REDIS_URL is not used here: a placeholder
  // stands in for it, so that lesson 05's check has something to accept.
  let base: Config | undefined;
  try {
    base = loadConfig({ ...env, REDIS_URL: 'redis://sentinel-named-primary' });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !base) throw new ConfigError(problems);
  const { redisUrl: _unused, ...rest } = base;
  return { ...rest, sentinels, masterName, waitTimeoutMs, redisDeadlineMs };
}

function milliseconds(value: string | undefined, name: string, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    problems.push(`${name} must be a positive whole number of milliseconds, got "${value}"`);
    return fallback;
  }
  return Number(value);
}

/**
 * No replica confirmed a cart change within WAIT_TIMEOUT_MS (README Step 2). The change may be on the
 * primary only: if the primary died now, it would be gone. The route answers 503 (status, expose): the
 * visitor was told nothing was saved for sure, and may retry.
 */
export class NotReplicatedError extends Error {
  override readonly name = 'NotReplicatedError';
  readonly status = 503;
  readonly expose = true;

  constructor(timeoutMs: number) {
    super(
      `No replica confirmed this change within ${timeoutMs} ms: it may not survive a failover. Please retry.`,
    );
  }
}

/**
 * The server cannot start with this configuration (README Step 3): no Sentinel answered, or none knows
 * the primary by that name. ./server.ts prints its message — one line — and exits 1.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}
