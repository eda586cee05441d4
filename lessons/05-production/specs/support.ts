/**
 * What the lesson-05 specs share beyond the kit (browser, items, processes, waits: kit/spec/): the
 * server's environment, cookie arithmetic, and a run of a server that is expected to refuse to start.
 * Not a spec itself (Jest runs *.spec.ts only).
 */
import { createHmac } from 'node:crypto';
import { type Answer, fetchAnswer } from '../../../kit/spec/browser';
import {
  type Run,
  type ServerProcess,
  throwIfNotImplemented,
  type useServerProcesses,
} from '../../../kit/spec/processes';

import { NotImplementedError } from '../../../kit/todo';
import { type Env, loadConfig } from '../src/config';

export const LESSON = '05-production';

/** Every variable lesson 05's server reads (README step 1). */
const CONFIG_VARIABLES = [
  'NODE_ENV',
  'PORT',
  'SERVER_ID',
  'REDIS_URL',
  'SESSION_SECRET',
  'SESSION_TTL_SECONDS',
  'SESSION_PREFIX',
  'DRAIN_TIMEOUT_MS',
  'ENABLE_CHAOS',
] as const;

/**
 * A complete environment for src/server.ts: every setting explicit, so that a variable exported in
 * your shell (NODE_ENV, SESSION_SECRET…) changes nothing in a spec.
 */
export function serverEnv(settings: { REDIS_URL: string } & Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'development',
    SESSION_SECRET: 'spec-secret-0123456789abcdef',
    SESSION_TTL_SECONDS: '1800',
    SESSION_PREFIX: 'sess:',
    DRAIN_TIMEOUT_MS: '10000',
    ENABLE_CHAOS: '0',
    ...settings,
  };
}

// ── Cookies ──────────────────────────────────────────────────────────────────────────────────────

/** The connect.sid cookie a response sets, if it sets one (the whole Set-Cookie line). */
export function sessionSetCookie(answer: Answer): string | undefined {
  return answer.headers.getSetCookie().find((cookie) => cookie.startsWith('connect.sid='));
}

/** How long the cookie a response sets will live, in seconds: its Expires minus the response's Date. */
export function cookieLifetimeSeconds(answer: Answer): number | undefined {
  const cookie = sessionSetCookie(answer);
  const expires = cookie && /;\s*Expires=([^;]+)/i.exec(cookie)?.[1];
  const date = answer.headers.get('date');
  if (!expires || !date) return undefined;
  return (Date.parse(expires) - Date.parse(date)) / 1000;
}

/** The signature express-session puts after the session id: HMAC-SHA256 of the id, base64, no padding. */
export function signature(sessionId: string, secret: string): string {
  return createHmac('sha256', secret).update(sessionId).digest('base64').replace(/=+$/, '');
}

/** The Cookie header a browser sends for `sessionId` signed with `secret`. */
export function signedCookie(sessionId: string, secret: string): string {
  return `connect.sid=${encodeURIComponent(`s:${sessionId}.${signature(sessionId, secret)}`)}`;
}

/** The signature part of a Set-Cookie line (or a Cookie header) for connect.sid. */
export function signatureIn(cookie: string): string | undefined {
  const value = decodeURIComponent(/connect\.sid=([^;]+)/.exec(cookie)?.[1] ?? '');
  return /^s:[^.]+\.(.+)$/.exec(value)?.[1];
}

/** One request with exactly this Cookie header (a browser holding that cookie, or a forged one). */
export function getWithCookie(server: { url: string }, path: string, cookie: string): Promise<Answer> {
  return fetchAnswer(server, 'GET', path, { headers: { cookie } });
}

// ── A server that must refuse to start ───────────────────────────────────────────────────────────

/**
 * Runs src/server.ts with exactly `settings` as its configuration (nothing from your shell's
 * NODE_ENV, REDIS_URL…) until it exits, for at most `withinMs`; then SIGKILLs it. For a start that is
 * meant to fail, which never answers the /health a normal start waits for.
 */
export function runUntilExit(
  servers: Pick<ReturnType<typeof useServerProcesses>, 'runToExit'>,
  settings: Record<string, string>,
  withinMs: number,
): Promise<Run> {
  return servers.runToExit({
    lesson: LESSON,
    entry: 'server.ts',
    unset: CONFIG_VARIABLES,
    env: settings,
    withinMs,
    // It runs beside in-process tasks: the task that reads its output names any unfinished step.
    recordTodos: false,
  });
}

// ── A server running every step you wrote ────────────────────────────────────────────────────────

/**
 * Until Step 4 is done, src/shop.ts (given) runs the server on lesson 03's sessions and says so with
 * the step's "Not implemented yet" line (so that Steps 2 and 3 can be tried on a real server). A task
 * that checks Step 4 or later starts with this: on a stand-in, it fails naming the step to do.
 */
export function expectEveryStepDone(...servers: ServerProcess[]): void {
  for (const server of servers) throwIfNotImplemented(server.output());
}

/** Fails with `message` (what went wrong, in the lesson's words) unless `condition` holds. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/**
 * Before a server process is spawned for tasks of Step 2 or later: while Step 1 is not done, the
 * process would only stop at loadConfig's todo(); say so at once, without spawning it. Any other
 * outcome (a config, or a ConfigError) is left to the real process to show.
 */
export function failFastBeforeStep1(env: Env): void {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof NotImplementedError) throw error;
  }
}
