/**
 * Lesson 05 — the shape of the configuration (given: you do not need to edit this file).
 *
 * What loadConfig() in ./config.ts returns (Config), the defaults and the development secret it
 * falls back on, and the error it throws (ConfigError) — whose message ./server.ts prints before
 * exiting 1.
 */

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
