/**
 * Lesson 05 — reference solution. The server's whole configuration, read once at startup from the
 * environment (config lives in the environment, not in the code), and checked all at once: a deploy
 * with three mistakes hears about all three in one failed start, not in three.
 */

// The given file lives once, in the lesson folder; this path works from solutions/ and from lessons/.
import {
  type Config,
  ConfigError,
  DEFAULTS,
  DEV_SECRET,
  type Env,
} from '../../../lessons/05-production/src/config-shape';

export { type Config, ConfigError, DEFAULTS, DEV_SECRET, type Env };

// Step 1 — read the configuration from the environment.
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  // An empty variable (`REDIS_URL=` in a compose file) means the same as a missing one.
  const read = (name: string): string | undefined => (env[name]?.trim() ? env[name]?.trim() : undefined);
  const production = read('NODE_ENV') === 'production';

  const port = wholeNumber(
    read('PORT'),
    'PORT',
    { fallback: DEFAULTS.port, min: 0, max: 65_535, expected: 'a whole number from 0 to 65535' },
    problems,
  );

  const serverId = read('SERVER_ID') ?? `server-${port}`;
  if (!/^[A-Za-z0-9._-]+$/.test(serverId)) {
    problems.push(
      `SERVER_ID may contain only letters, digits, ".", "_" and "-" (it names the Redis connection), got "${serverId}"`,
    );
  }

  const redisUrl = read('REDIS_URL') ?? '';
  if (!redisUrl) {
    problems.push('REDIS_URL is required, e.g. redis://127.0.0.1:6379');
  } else if (!isRedisUrl(redisUrl)) {
    // Not echoed: a Redis URL may carry a password, and this message ends up in logs.
    problems.push(
      'REDIS_URL must be a redis:// or rediss:// URL (its value is not shown: it may hold a password)',
    );
  }

  const sessionSecrets = secrets(read('SESSION_SECRET'), production, problems);

  const sessionTtlSeconds = wholeNumber(
    read('SESSION_TTL_SECONDS'),
    'SESSION_TTL_SECONDS',
    { fallback: DEFAULTS.sessionTtlSeconds, min: 1, expected: 'a positive whole number of seconds' },
    problems,
  );
  const drainTimeoutMs = wholeNumber(
    read('DRAIN_TIMEOUT_MS'),
    'DRAIN_TIMEOUT_MS',
    { fallback: DEFAULTS.drainTimeoutMs, min: 1, expected: 'a positive whole number of milliseconds' },
    problems,
  );

  const chaos = read('ENABLE_CHAOS') ?? '0';
  if (chaos !== '0' && chaos !== '1') problems.push(`ENABLE_CHAOS must be 1 or 0, got "${chaos}"`);
  const enableChaos = chaos === '1';
  if (enableChaos && production) {
    problems.push('ENABLE_CHAOS=1 is not allowed when NODE_ENV=production (anyone could crash the server)');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    production,
    port,
    serverId,
    redisUrl,
    sessionSecrets,
    sessionTtlSeconds,
    sessionPrefix: read('SESSION_PREFIX') ?? DEFAULTS.sessionPrefix,
    drainTimeoutMs,
    enableChaos,
  };
}

/** The accepted range of a whole-number variable, and how a problem describes it. */
interface WholeNumberRule {
  fallback: number;
  min: number;
  max?: number;
  /** e.g. 'a positive whole number of seconds' */
  expected: string;
}

/** A whole number within the rule's range; the fallback when unset. A problem otherwise. */
function wholeNumber(
  raw: string | undefined,
  name: string,
  rule: WholeNumberRule,
  problems: string[],
): number {
  if (raw === undefined) return rule.fallback;
  const value = Number(raw);
  // /^\d+$/ first: Number('1e3') is 1000, Number('0x10') is 16, Number('1.0') is 1: none is what was written.
  const valid = /^\d+$/.test(raw) && Number.isSafeInteger(value);
  if (valid && value >= rule.min && (rule.max === undefined || value <= rule.max)) return value;
  problems.push(`${name} must be ${rule.expected}, got "${raw}"`);
  return rule.fallback;
}

function isRedisUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** SESSION_SECRET as a list. Secrets are never echoed in a problem: logs are read by many. */
function secrets(raw: string | undefined, production: boolean, problems: string[]): string[] {
  if (raw === undefined) {
    if (production) {
      problems.push(
        'SESSION_SECRET is required when NODE_ENV=production (a comma-separated list: the first signs, all verify)',
      );
    }
    return [DEV_SECRET];
  }
  const list = raw
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret !== '');
  if (list.length === 0) problems.push('SESSION_SECRET must list at least one non-empty secret');
  if (production && list.includes(DEV_SECRET)) {
    problems.push('SESSION_SECRET must not contain the development secret when NODE_ENV=production');
  }
  return list;
}
