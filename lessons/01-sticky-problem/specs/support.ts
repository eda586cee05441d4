/**
 * Lesson 01 — what the specs share (not a spec file). You do not need to read this to do the lesson.
 *
 * - WatchedStore: a session store that keeps sessions in a Map and writes down every call express-session
 *   makes (get, set, touch, destroy): what an operator sees in a real store. The specs hand it to your
 *   code as `options.store`, and put sessions in it directly (a visitor who already has a cart).
 * - signed cookies, as express-session makes them (`connect.sid=s:<id>.<HMAC-SHA256 of id>`), to send a
 *   stored session's cookie and to check which secret signed the cookie a server sent.
 * - specApp(): your session middleware alone in a tiny express app, whose routes write to and read
 *   from req.session: Step 1's tasks check the middleware before any cart exists.
 * - shopWithAlice(): your createApp() with a WatchedStore that already holds Alice's session (a MacBook
 *   in her cart) and her signed cookie: Step 2's tasks send bad items as a visitor with a cart, and
 *   nothingChanged() checks that her session is exactly as it was.
 */
import { createHmac } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import express, { type Express, type RequestHandler } from 'express';
import session, { type SessionData } from 'express-session';
import type { Response } from 'supertest';
import { jsonErrors } from '../../../kit/http';
import { macbook } from '../../../kit/spec/shop';
import { type CartItem, createApp } from '../src/app';

export const SESSION_COOKIE = 'connect.sid';
/** The secret the specs pass as options.secret when they need to sign a cookie themselves. */
export const SPEC_SECRET = 'secret-given-as-an-option';

/** A failed check, said as a sentence a learner can act on (it is the first line of the failure). */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

export type StoreCall = { op: 'get' | 'set' | 'touch' | 'destroy'; sid: string };

/** A session store that writes down what it is asked to do. */
export class WatchedStore extends session.Store {
  readonly calls: StoreCall[] = [];
  /** A shared log of events, for the order of "destroyed" and "answered" (see logAnswers()). */
  log: string[] = [];
  /** When set, destroy() fails with this error and keeps the session. */
  destroyFails: Error | undefined;
  private readonly sessions = new Map<string, string>();

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.calls.push({ op: 'get', sid });
    const raw = this.sessions.get(sid);
    setImmediate(() => callback(null, raw === undefined ? null : (JSON.parse(raw) as SessionData)));
  }

  override set(sid: string, data: SessionData, callback?: (err?: unknown) => void): void {
    this.calls.push({ op: 'set', sid });
    this.sessions.set(sid, JSON.stringify(data));
    setImmediate(() => callback?.());
  }

  override touch(sid: string, data: SessionData, callback?: () => void): void {
    this.calls.push({ op: 'touch', sid });
    const raw = this.sessions.get(sid);
    if (raw !== undefined)
      this.sessions.set(sid, JSON.stringify({ ...JSON.parse(raw), cookie: data.cookie }));
    setImmediate(() => callback?.());
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.calls.push({ op: 'destroy', sid });
    this.log.push('the store was asked to destroy the session');
    // Asynchronous, as every real store is: the session is gone only when the callback runs.
    setImmediate(() => {
      if (this.destroyFails) {
        callback?.(this.destroyFails);
        return;
      }
      this.sessions.delete(sid);
      this.log.push('the store destroyed the session');
      callback?.();
    });
  }

  /** What the store holds for `sid` (a copy), as `redis-cli GET` would show it. */
  peek(sid: string): (SessionData & { cart?: CartItem[] }) | undefined {
    const raw = this.sessions.get(sid);
    return raw === undefined ? undefined : JSON.parse(raw);
  }

  /** Puts a session in the store, as if a server had saved it: a visitor who already has `cart`. */
  put(sid: string, cart: CartItem[]): void {
    const cookie = {
      originalMaxAge: 30 * 60_000,
      expires: new Date(Date.now() + 30 * 60_000).toISOString(),
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    };
    this.sessions.set(sid, JSON.stringify({ cookie, cart }));
  }

  ids(): string[] {
    return [...this.sessions.keys()];
  }

  count(op: StoreCall['op'], sid?: string): number {
    return this.calls.filter((call) => call.op === op && (sid === undefined || call.sid === sid)).length;
  }

  /** The calls as one line, for failure messages: "get alice, touch alice". */
  describeCalls(): string {
    return this.calls.length ? this.calls.map((call) => `${call.op} ${call.sid}`).join(', ') : 'nothing';
  }
}

/** The HMAC express-session (through cookie-signature) puts after the session id. */
function signature(sid: string, secret: string): string {
  return createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
}

/** The Cookie header of a visitor whose session id is `sid`, signed with `secret`. */
export function cookieFor(sid: string, secret: string): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(`s:${sid}.${signature(sid, secret)}`)}`;
}

export interface SetCookie {
  /** The whole Set-Cookie line, for messages. */
  line: string;
  /** The session id inside the signed value. */
  sid: string;
  /** The value's signature (after the last dot). */
  signature: string;
  /** Attributes by lower-case name: 'httponly' → true, 'samesite' → 'Lax', 'expires' → '…'. */
  attributes: Map<string, string | true>;
  /** The header as the visitor sends it back. */
  cookie: string;
}

/** The connect.sid cookie a response sets, if it sets one. */
export function sessionCookieOf(res: Response): SetCookie | undefined {
  const header = res.headers['set-cookie'] as string[] | string | undefined;
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const line = lines.find((one) => one.startsWith(`${SESSION_COOKIE}=`));
  if (!line) return undefined;
  const [pair = '', ...rest] = line.split(';');
  const value = decodeURIComponent(pair.slice(SESSION_COOKIE.length + 1));
  const match = /^s:(.+)\.([^.]+)$/.exec(value);
  const attributes = new Map<string, string | true>();
  for (const part of rest) {
    const at = part.indexOf('=');
    if (at < 0) attributes.set(part.trim().toLowerCase(), true);
    else attributes.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return { line, sid: match?.[1] ?? '', signature: match?.[2] ?? '', attributes, cookie: pair };
}

/** The session cookie a response must set (a clear failure when it sets none). */
export function mustSetSessionCookie(res: Response, what: string): SetCookie {
  const cookie = sessionCookieOf(res);
  check(
    cookie !== undefined,
    `${what} answered ${res.status} without a ${SESSION_COOKIE} cookie (Set-Cookie: ${
      res.headers['set-cookie'] ?? 'none'
    }).`,
  );
  check(
    cookie.sid !== '',
    `The ${SESSION_COOKIE} cookie is not signed (s:<session id>.<signature>): ${cookie.line}`,
  );
  return cookie;
}

/** Whether `cookie` was signed with `secret`. */
export function signedWith(cookie: SetCookie, secret: string): boolean {
  return cookie.signature === signature(cookie.sid, secret);
}

/**
 * Your session middleware alone, in an express app of the specs:
 *   POST /fill   puts a cart in req.session (as Step 3 will)        → 201 { sessionId }
 *   GET  /look   only reads req.session                            → 200 { cart, sessionId }
 */
export function specApp(sessionMiddleware: RequestHandler): Express {
  const app = express();
  app.use(sessionMiddleware);
  app.post('/fill', (req, res) => {
    req.session.cart = [macbook];
    res.status(201).json({ sessionId: req.sessionID });
  });
  app.get('/look', (req, res) => {
    res.json({ cart: req.session.cart ?? null, sessionId: req.sessionID });
  });
  app.use(jsonErrors);
  return app;
}

/**
 * `app` inside an app that writes "answered" in `log` the moment a response's head is written: with
 * the store's own entries in the same log, it shows whether a route answered before the store was done.
 */
export function logAnswers(app: Express, log: string[]): Express {
  const outer = express();
  outer.use((req, res, next) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
      log.push(`${req.method} ${req.originalUrl} answered`);
      return writeHead.apply(this, args);
    } as typeof writeHead;
    next();
  });
  outer.use(app);
  return outer;
}

/** A failure of the server's own, for the tasks that provoke one: it prints it; the spec need not. */
export async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    return await run();
  } finally {
    spy.mockRestore();
  }
}

/** A server whose store already holds Alice's session, and her cookie. */
export function shopWithAlice() {
  const store = new WatchedStore();
  store.put('alice', [macbook]);
  const app = createApp({ serverId: 'server-1', store, secret: SPEC_SECRET });
  return { store, app, alice: cookieFor('alice', SPEC_SECRET) };
}

export function nothingChanged(store: WatchedStore, res: Response, what: string): void {
  check(
    sessionCookieOf(res) === undefined,
    `After ${what}, the answer set a session cookie: a refused request must change nothing.`,
  );
  check(
    store.count('set') === 0,
    `After ${what}, the store was asked to save a session (${store.describeCalls()}): a refused request must change nothing.`,
  );
  check(
    isDeepStrictEqual(store.peek('alice')?.cart, [macbook]),
    `After ${what}, Alice's cart in the store is ${JSON.stringify(store.peek('alice')?.cart)}, not [MacBook Pro] as before.`,
  );
}
