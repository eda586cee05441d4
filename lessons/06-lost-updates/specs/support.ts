/**
 * What the lesson-06 specs share beyond the kit (browser, processes, Redis, waits: kit/spec/): the
 * servers' environment, the items, and a few ways to fire requests at once. Not a spec itself (Jest
 * runs *.spec.ts only); you do not need to read it to do the lesson.
 */
import type { Answer, Visitor } from '../../../kit/spec/browser';
import { sharedServer, type useServerProcesses } from '../../../kit/spec/processes';
import { type CartItem, type CartLine, lineId } from '../src/cart-shape';

export const LESSON = '06-lost-updates';

/** SESSION_TTL_SECONDS of the spec servers: the session's TTL, and the cart's. */
export const TTL_SECONDS = 60;
export const TTL_MS = TTL_SECONDS * 1000;

/** Every variable the lesson's server reads (lesson 05's configuration). */
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

/** One server process of the lesson (src/server.ts), shared by the file's tasks; it boots in the background. */
export function shopServer(
  servers: Pick<ReturnType<typeof useServerProcesses>, 'start'>,
  serverId: string,
  redisUrl: () => string,
) {
  return sharedServer(servers, () => ({
    lesson: LESSON,
    entry: 'server.ts',
    unset: CONFIG_VARIABLES,
    env: {
      NODE_ENV: 'development',
      REDIS_URL: redisUrl(),
      SERVER_ID: serverId,
      // One secret for the whole fleet: a cookie signed by one server is good on every other.
      SESSION_SECRET: 'lesson-06-spec-secret-5d1e',
      SESSION_TTL_SECONDS: String(TTL_SECONDS),
      SESSION_PREFIX: 'sess:',
      DRAIN_TIMEOUT_MS: '3000',
      ENABLE_CHAOS: '0',
    },
    // Started in the background and shared: a 501's body names the step, never the process's output.
    recordTodos: false,
    // Three servers boot at once on two cores, beside whatever else runs: a generous bound (each task
    // has PROCESS_TIMEOUT_MS), never a wait — /health answers as soon as a server is up.
    readyTimeoutMs: 25_000,
  }));
}

export const sessionKey = (visitor: Visitor) => `sess:${visitor.sessionId()}`;
export const cartKeyOf = (visitor: Visitor) => `cart:${visitor.sessionId()}`;

/** `count` distinct items, named `${prefix} 1`, `${prefix} 2`…, priced with cents. */
export function items(prefix: string, count: number): CartItem[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix} ${i + 1}`, price: (i + 1) * 1.01 }));
}

/** The line of `item` in an answer's (or a cart's) items, if there is one. */
export function lineOf(lines: CartLine[] | undefined, item: CartItem): CartLine | undefined {
  return lines?.find((line) => line.id === lineId(item));
}

/** "Socks ×2, Hat ×1": a cart, said in a failure message. */
export function said(lines: CartLine[] | undefined): string {
  if (!Array.isArray(lines)) return JSON.stringify(lines);
  return lines.length === 0 ? '(empty)' : lines.map((line) => `${line.name} ×${line.quantity}`).join(', ');
}

/** All of `requests` sent at once (none waits for another); their answers, in the same order. */
export function atOnce(requests: Array<() => Promise<Answer>>): Promise<Answer[]> {
  return Promise.all(requests.map((request) => request()));
}

/** Statuses that are not `expected`, said with their bodies (a 501 names the step; a 500, the error). */
export function unexpected(answers: Answer[], expected: number): string[] {
  return answers
    .filter((answer) => answer.status !== expected)
    .map((answer) => `${answer.status} ${JSON.stringify(answer.body)}`);
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/**
 * A visitor whose requests the spec helper does not watch: a 501 from an unfinished step is not
 * recorded, so a failing task keeps its own message (the first task's "before" numbers) under the
 * "do README Step N" line, instead of only that line.
 */
export function plainVisitor() {
  let cookie: string | undefined;
  const send = async (to: { url: string }, method: string, path: string, item?: object) => {
    const res = await fetch(`${to.url}${path}`, {
      method,
      headers: { ...(cookie ? { cookie } : {}), ...(item ? { 'content-type': 'application/json' } : {}) },
      body: item ? JSON.stringify(item) : undefined,
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    const set = res.headers.getSetCookie().find((line) => line.startsWith('connect.sid='));
    if (set) cookie = set.split(';')[0];
    let body: { items?: Array<{ quantity?: number; name?: string }>; message?: string } | string;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body };
  };
  return {
    post: (to: { url: string }, path: string, item: object) => send(to, 'POST', path, item),
    get: (to: { url: string }, path: string) => send(to, 'GET', path),
    /** The session id in the signed cookie (`connect.sid=s%3A<id>.<signature>`), once there is one. */
    sessionId: (): string | undefined =>
      /^connect\.sid=s:([^.]+)\./.exec(decodeURIComponent(cookie ?? ''))?.[1],
  };
}
