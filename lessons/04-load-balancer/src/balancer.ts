/**
 * Lesson 04 — the load balancer                                        (edit this file)
 *
 * One address for the whole shop: visitors talk to the balancer, the balancer hands each request to
 * one of several shop servers (lesson 02's or lesson 03's, as real processes) and passes the answer
 * back. How it picks the server is its *strategy*:
 *
 *   round-robin  every request to the next server in turn — fine once sessions live in Redis;
 *   sticky       each visitor pinned to one server — forced on you while sessions live in memory.
 *
 * createBalancer() and the plumbing at the bottom are given. Each `todo(...)` is one step of
 * ../README.md:
 *
 *   Step 1  roundRobin()                      take turns
 *   Step 2  createProxy() readBody() forward() forward the request (http-proxy, keep-alive, 'error')
 *   Step 3  readPin() pinCookie()             pin each visitor with the balancer's own cookie
 *   Step 4  tryInTurn() canRetry()            when a server is down, fail over to the next one
 *
 * Run `npm test lessons/04` after each step: the first failure tells you what to do next.
 */
import {
  type Agent,
  type ClientRequest,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type httpProxy from 'http-proxy';
import { describeError } from '../../../kit/http';
import { NotImplementedError, todo } from '../../../kit/todo';

export type Strategy = 'round-robin' | 'sticky';
export const STRATEGIES: readonly Strategy[] = ['round-robin', 'sticky'];

export interface BalancerOptions {
  /** The servers' base URLs, e.g. ['http://127.0.0.1:3001', 'http://127.0.0.1:3002']. */
  targets: string[];
  strategy: Strategy;
  /** The largest request body the balancer keeps a copy of (to send it again on failover); 413 above. */
  maxBodyBytes?: number;
  /** Where the balancer reports a server that failed (lb.ts passes console.error). Default: silent. */
  log?: (line: string) => void;
}

/** The balancer's own cookie: which server (its index in `targets`) a sticky visitor is pinned to. */
export const PIN_COOKIE = 'lb';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const lesson = '04-load-balancer';
const file = 'src/balancer.ts';
const STEP_1 = 'Step 1 — take turns (round-robin)';
const STEP_2 = 'Step 2 — forward the request (http-proxy)';
const STEP_3 = 'Step 3 — pin each visitor (sticky cookie)';
const STEP_4 = 'Step 4 — fail over to the next server';

/** The balancer as an http.Server, not yet listening: call `.listen(port)` on it, `.close()` when done. */
export function createBalancer(options: BalancerOptions): Server {
  const targets = checkTargets(options.targets);
  const strategy = checkStrategy(options.strategy);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => {});

  const nextInTurn = roundRobin(targets.length);
  const { proxy, agent } = createProxy(log);
  /** For a sticky visitor being pinned (again): the cookie to add to this request's answer. */
  const newPins = new WeakMap<IncomingMessage, string>();
  /** Each forwarded request's latest attempt: did it go out on a kept-alive connection? */
  const outgoing = new WeakMap<IncomingMessage, ClientRequest>();

  proxy.on('proxyReq', (proxyReq, req) => {
    outgoing.set(req, proxyReq);
  });
  proxy.on('proxyRes', (proxyRes, req, res) => {
    // The server's own Set-Cookie (connect.sid) passes through; the pin is added beside it.
    const pin = newPins.get(req);
    if (pin) proxyRes.headers['set-cookie'] = [...(proxyRes.headers['set-cookie'] ?? []), pin];
    passHeadersOnAtOnce(res);
    cutOffIfServerDies(proxyRes, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Balancer-Strategy', strategy);
    // Hop-by-hop: `Connection` is about the visitor's connection to the balancer. Forwarded, a
    // "Connection: close" would also close the balancer's kept-alive connection to the server.
    delete req.headers.connection;

    const pinned = strategy === 'sticky' ? readPin(req.headers.cookie, targets.length) : undefined;
    const first = pinned ?? nextInTurn();
    const body = await readBody(req, maxBodyBytes);
    const method = req.method ?? 'GET';
    try {
      await tryInTurn(
        inTurnFrom(first, targets.length),
        (index) => {
          if (strategy === 'sticky' && index !== pinned) newPins.set(req, pinCookie(index));
          return forward(proxy, req, res, targets[index], body).catch((error: unknown) => {
            log(`[balancer] ${method} ${req.url} → ${targets[index]}: ${describeFailure(error)}`);
            throw error;
          });
        },
        (error) => canRetry(error, { method, reusedConnection: outgoing.get(req)?.reusedSocket === true }),
      );
    } catch (error) {
      throw error instanceof NotImplementedError ? error : new BadGateway(error);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => answerError(res, error));
  });
  // Idle kept-alive connections to the servers would keep this process (or a test run) alive.
  server.on('close', () => {
    proxy.close();
    agent.destroy();
  });
  return server;
}

// Step 1 — take turns (round-robin).
// TODO: return a function that gives, at each call, the index of the server for the next request:
// 0, 1, …, count − 1, then 0 again. The very first request goes to the first server (index 0).
function roundRobin(_count: number): () => number {
  return todo({ lesson, file, step: STEP_1 });
}

// Step 2 — forward the request (http-proxy).
// TODO: create ONE http-proxy server for the whole balancer (httpProxy.createProxyServer) and return
// it with the http.Agent it uses:
//   - an Agent with keepAlive: true, passed as the proxy's `agent` option: without one, every request
//     opens a new connection to the server and closes it after the answer;
//   - xfwd: true, so the servers see who the visitor is (X-Forwarded-For, -Proto…);
//   - an 'error' listener that calls `log`: an EventEmitter that emits 'error' with no listener throws
//     it, and one dead server would take the whole balancer down with it.
// (The starter imports httpProxy and Agent as types only: import them as values to call them.)
function createProxy(_log: (line: string) => void): { proxy: httpProxy; agent: Agent } {
  return todo({ lesson, file, step: STEP_2 });
}

// TODO: read the whole request body into one Buffer and resolve with it (an empty Buffer when there is
// none). A body larger than `maxBytes` rejects with bodyTooLarge(maxBytes) (given: the visitor gets a
// 413) — and is read on to its end, but not kept. Why a copy: a request is a stream, and a stream can be
// read only once. Step 4 may have to send the same request to a second server.
function readBody(_req: IncomingMessage, _maxBytes: number): Promise<Buffer> {
  return todo({ lesson, file, step: STEP_2 });
}

// TODO: send the request to `target` with proxy.web(req, res, options, callback). The request stream
// has been read already (readBody): the server must receive `body` instead — http-proxy's `buffer`
// option takes a stream to send in place of the request's. Resolve once `res` is closed (answered, or
// the visitor went away); reject with the error if http-proxy calls the callback: the given code turns
// that into a 502 (and Step 4 into a try on the next server).
function forward(
  _proxy: httpProxy,
  _req: IncomingMessage,
  _res: ServerResponse,
  _target: string,
  _body: Buffer,
): Promise<void> {
  return todo({ lesson, file, step: STEP_2 });
}

// Step 3 — pin each visitor (sticky cookie).
// TODO: the index of the server this visitor is pinned to, from the PIN_COOKIE cookie in the request's
// Cookie header (cookieValue() below reads it); undefined when there is none — or when it is not an
// index this balancer could have set (anything but a whole number from 0 to count − 1): it comes from
// the visitor, and a visitor sends whatever they like.
function readPin(_cookieHeader: string | undefined, _count: number): number | undefined {
  return todo({ lesson, file, step: STEP_3 });
}

// TODO: the Set-Cookie value that pins a visitor to server `index`: PIN_COOKIE=<index>, for every path
// of the site, out of reach of scripts.
function pinCookie(_index: number): string {
  return todo({ lesson, file, step: STEP_3 });
}

// Step 4 — fail over to the next server.
// TODO: call attempt(index) for each index of `order`, one after the other, until one succeeds. When
// an attempt fails with an error retryable(error) accepts, go on with the next index; any other error
// is thrown at once. When every server has failed, throw the last error (the visitor gets a 502).
// Until you do, only the first server is tried.
async function tryInTurn(
  order: number[],
  attempt: (index: number) => Promise<void>,
  _retryable: (error: unknown) => boolean,
): Promise<void> {
  try {
    await attempt(order[0]);
  } catch (error) {
    if (order.length > 1) todo({ lesson, file, step: STEP_4 });
    throw error;
  }
}

// TODO: may this failed request be sent to another server? Always when the connection was refused
// (error code ECONNREFUSED): nobody listens there, so the request never reached a server. Any other
// failure (a reset, a timeout) may come after the server received the request, and a POST sent twice
// adds the item twice: no. (`request` is for the one exception the README discusses: a kept-alive
// connection reset under a GET.)
function canRetry(_error: unknown, _request: { method: string; reusedConnection: boolean }): boolean {
  return todo({ lesson, file, step: STEP_4 });
}

// ── Given: plumbing (you do not need to change anything below) ─────────────────────────────────

/** The order in which to try the servers: `first`, then the ones after it, wrapping around. */
function inTurnFrom(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, offset) => (first + offset) % count);
}

/** The value of cookie `name` in a Cookie header ("a=1; lb=0"), if it is there. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

/**
 * The server's status and headers go to the visitor as soon as they arrive (http-proxy would wait for
 * the first bytes of the body), so a long answer is visibly under way.
 */
function passHeadersOnAtOnce(res: ServerResponse): void {
  // http-proxy copies the headers right after the 'proxyRes' event, and the body flows later.
  process.nextTick(() => {
    if (!res.headersSent && !res.destroyed) res.flushHeaders();
  });
}

/**
 * A server that dies halfway through its answer: the headers have gone to the visitor, so a 502 is
 * no longer possible. Cut the visitor's connection too — left open, it would wait for ever.
 */
function cutOffIfServerDies(proxyRes: IncomingMessage, res: ServerResponse): void {
  proxyRes.once('close', () => {
    if (!proxyRes.complete) res.destroy();
  });
}

/** No server could answer: the error the visitor gets is a 502. */
class BadGateway extends Error {
  constructor(cause: unknown) {
    super(`No server could answer this request (${describeFailure(cause)}).`, { cause });
  }
}

function describeFailure(error: unknown): string {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code ?? e?.message ?? String(error);
}

export function bodyTooLarge(maxBytes: number): Error {
  // The shape express's body parser gives this error: kit/http turns it into a 413 JSON.
  return Object.assign(new Error(`The request body is larger than ${maxBytes} bytes.`), {
    status: 413,
    type: 'entity.too.large',
  });
}

function answerError(res: ServerResponse, error: unknown): void {
  if (res.destroyed) return; // the visitor is gone
  if (res.headersSent) {
    res.destroy(); // half an answer is out: the only honest thing left is to cut it
    return;
  }
  if (error instanceof BadGateway) {
    sendJson(res, 502, { error: 'bad_gateway', message: error.message });
    return;
  }
  const { status, body } = describeError(error); // 413, 501 (an unfinished step), 500
  sendJson(res, status, body);
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

function checkTargets(targets: string[]): string[] {
  if (!Array.isArray(targets) || targets.length === 0) {
    throw new TypeError('createBalancer: give at least one target URL, e.g. http://127.0.0.1:3001');
  }
  for (const target of targets) {
    if (!URL.canParse(target) || new URL(target).protocol !== 'http:') {
      throw new TypeError(`createBalancer: "${target}" is not an http:// URL`);
    }
  }
  return [...targets];
}

function checkStrategy(strategy: string): Strategy {
  const known = STRATEGIES.find((name) => name === strategy);
  if (!known) {
    throw new TypeError(`createBalancer: strategy must be ${STRATEGIES.join(' or ')}, got "${strategy}"`);
  }
  return known;
}
