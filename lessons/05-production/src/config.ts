/**
 * Lesson 05 — Production: configuration from the environment            (edit this file)
 *
 * Until now every setting had a default in the code, and a secret was written in it. In production the
 * same code runs in many places (your laptop, CI, staging, ten servers in production) with different
 * settings: they belong in the environment. ./server.ts (given) calls loadConfig(process.env) before
 * anything else, and exits 1 printing the ConfigError's message if the environment is wrong.
 *
 *   Step 1  loadConfig(env)   read, check and type every setting; report EVERY problem at once
 *
 * Run `npm test lessons/05` after each step: the first failure tells you what to do next.
 */
import { todo } from '../../../kit/todo';

/** Everything a server process needs to know, typed and checked. */
export interface Config {
  /** NODE_ENV=production: stricter rules (a real secret, no chaos routes). */
  production: boolean;
  port: number;
  /** Names this server in X-Served-By, in its logs and on its Redis connection (CLIENT LIST). */
  serverId: string;
  redisUrl: string;
  /** SESSION_SECRET split on commas: the first signs new cookies, every one verifies (rotation). */
  sessionSecrets: string[];
  /** How long a session lives without a request: the Redis key's TTL and the cookie's max age. */
  sessionTtlSeconds: number;
  sessionPrefix: string;
  drainTimeoutMs: number;
  enableChaos: boolean;
}

export const DEFAULTS = {
  port: 3000,
  sessionTtlSeconds: 1800,
  sessionPrefix: 'sess:',
  drainTimeoutMs: 10_000,
} as const;

/** Good enough on a laptop, refused in production: everybody who read this file knows it. */
export const DEV_SECRET = 'dev-only-secret-change-me';

/** The environment, as process.env gives it: every value a string, or missing. */
export type Env = Record<string, string | undefined>;

/** Every problem with the environment, in one error. Its message is what the server prints before exiting 1. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
  }
}

const lesson = '05-production';
const file = 'src/config.ts';

// Step 1 — read the configuration from the environment.
// TODO: return a Config read from `env` (README step 1 has the table). The rules:
//   - an empty variable counts as a missing one; surrounding spaces do not count;
//   - REDIS_URL is required, and must be a redis:// or rediss:// URL;
//   - SESSION_SECRET is a comma-separated list → sessionSecrets (trimmed, no empty entries). Missing:
//     [DEV_SECRET] — except when NODE_ENV=production, where it is required and DEV_SECRET is refused;
//   - PORT (0–65535), SESSION_TTL_SECONDS and DRAIN_TIMEOUT_MS (positive) are whole numbers written
//     in digits only: '30m', '1.5', '1e3' and '-1' are mistakes, not numbers;
//   - SERVER_ID (default `server-${port}`): letters, digits, '.', '_' and '-' only;
//   - ENABLE_CHAOS is '1' or '0' (default '0'), and never '1' when NODE_ENV=production;
//   - SESSION_PREFIX defaults to DEFAULTS.sessionPrefix.
// Collect a problem (one sentence naming the variable) for each broken rule and keep going; at the
// end, if there is any, throw new ConfigError(problems). Never put a secret's value in a problem:
// neither SESSION_SECRET nor a REDIS_URL (it may hold a password).
export function loadConfig(_env: Env): Config {
  return todo({ lesson, file, step: 'Step 1 — read the configuration from the environment' });
}
