/**
 * What the lesson-05 specs share: the items, the server's environment, processes started once per
 * file, bounded waits, cookie arithmetic, and a way to run a server that is expected to refuse to
 * start. Not a spec itself (Jest runs *.spec.ts only). The browser (Shopper) is lesson 03's.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { lessonSrcDir, ROOT } from '../../../kit/jest/target';
import { type Exit, within } from '../../../kit/spec/processes';
import type { Answer } from '../../03-redis-store/specs/support';

export { type Answer, failIfExited, iphone, macbook, Shopper } from '../../03-redis-store/specs/support';

export const LESSON = '05-production';

/** Process tasks start real servers, each taking a moment: they get more than Jest's default 5 s. */
export const PROCESS_TIMEOUT_MS = 30_000;

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

/**
 * Something slow (a server process) started at most once per file, as early as `begin()` is called
 * (a beforeAll, so that a file's processes boot side by side); every `get()` awaits that one start.
 * A start that failed fails every task that needs it, each with the same error (an unfinished step
 * names the same README step).
 */
export function startedOnce<T>(start: () => Promise<T>) {
  let started: Promise<T> | undefined;
  const get = (): Promise<T> => {
    if (!started) {
      started = start();
      // Handled here, rethrown to every get(): no unhandled rejection while no task is awaiting it.
      started.catch(() => undefined);
    }
    return started;
  };
  return {
    begin: (): void => void get(),
    get,
  };
}

/**
 * Asks until `done(answer)`, for at most `withinMs`; gives the last answer either way. A bounded wait
 * on a real condition (never a sleep standing in for one).
 */
export async function pollUntil<T>(
  attempt: () => Promise<T>,
  done: (answer: T) => boolean,
  withinMs: number,
  everyMs = 25,
): Promise<{ ok: boolean; last: T }> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const last = await attempt();
    if (done(last)) return { ok: true, last };
    if (Date.now() >= deadline) return { ok: false, last };
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
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
export async function getWithCookie(server: { url: string }, path: string, cookie: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, {
    headers: { cookie },
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started };
}

// ── A server that must refuse to start ───────────────────────────────────────────────────────────

/** As in kit/spec/processes.ts: the child kills itself when this process dies (its stdin pipe ends). */
const WATCH_PARENT =
  "data:text/javascript,process.stdin.on('end',()=>process.kill(process.pid,'SIGKILL')).on('error',()=>{}).resume().unref()";

/**
 * Runs src/server.ts with exactly `settings` as its configuration (nothing from your shell's
 * NODE_ENV, REDIS_URL…) until it exits, for at most `withinMs`; then SIGKILLs it. For a start that is
 * meant to fail: kit/spec/processes.ts waits for /health, which such a server never answers.
 */
export async function runUntilExit(
  settings: Record<string, string>,
  withinMs: number,
): Promise<{ exit: Exit | undefined; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CONFIG_VARIABLES) delete env[name];
  const entry = join(lessonSrcDir(LESSON), 'server.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', WATCH_PARENT, entry], {
    cwd: ROOT,
    env: { ...env, ...settings },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.stdin.on('error', () => undefined);
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      child.stdin.destroy();
      resolve({ code, signal });
    });
  });
  const exit = await within(exited, withinMs);
  if (!exit) {
    child.kill('SIGKILL');
    await exited;
  }
  return { exit, output };
}
