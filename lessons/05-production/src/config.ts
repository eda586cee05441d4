/**
 * Lesson 05 — Production: configuration from the environment            (edit this file)
 *
 * Until now every setting had a default in the code, and a secret was written in it. In production the
 * same code runs in many places (your laptop, CI, staging, ten servers in production) with different
 * settings: they belong in the environment. ./server.ts (given) calls loadConfig(process.env) before
 * anything else, and exits 1 printing the ConfigError's message if the environment is wrong.
 * Config, DEFAULTS, DEV_SECRET, Env and ConfigError are given, in ./config-shape.ts.
 *
 *   Step 1  loadConfig(env)   read, check and type every setting; report EVERY problem at once
 *
 * Run `npm test lessons/05` after each step: the first failure tells you what to do next.
 */
import { todo } from '../../../kit/todo';
import type { Config, Env } from './config-shape';

export { type Config, ConfigError, DEFAULTS, DEV_SECRET, type Env } from './config-shape';

const lesson = '05-production';
const file = 'src/config.ts';

// Step 1 — read the configuration from the environment.
// TODO: return a Config read from `env` (README step 1 has the table). The rules:
//   - surrounding spaces are trimmed, and a variable that is empty (or only spaces) counts as missing;
//   - REDIS_URL is required, and must be a redis:// or rediss:// URL with a host;
//   - SESSION_SECRET is a comma-separated list → sessionSecrets (trimmed, no empty entries). Missing:
//     [DEV_SECRET] — except when NODE_ENV=production, where it is required and DEV_SECRET is refused;
//   - PORT (0 to 65535, both included), SESSION_TTL_SECONDS and DRAIN_TIMEOUT_MS (1 or more) are whole
//     numbers written in digits only: '30m', '1.5', '1e3', '0x10', '+30' and '-1' are mistakes, not numbers;
//   - SERVER_ID (default `server-${port}`): letters, digits, '.', '_' and '-' only;
//   - ENABLE_CHAOS is '1' or '0' (default '0'), and never '1' when NODE_ENV=production;
//   - SESSION_PREFIX defaults to DEFAULTS.sessionPrefix.
// Collect a problem (one sentence naming the variable) for each broken rule and keep going; at the
// end, if there is any, throw one ConfigError with all of them. Never put a secret's value in a
// problem: neither SESSION_SECRET nor a REDIS_URL (it may hold a password).
// The specs run loadConfig in-process (defaults, each rule and its limits, production, all problems at
// once, no secret shown), then start the real server with a bad environment: exit 1, every problem.
// (ConfigError, DEFAULTS and DEV_SECRET: import them from './config-shape'.)
export function loadConfig(_env: Env): Config {
  return todo({ lesson, file, step: 'Step 1 — read the configuration from the environment' });
}
