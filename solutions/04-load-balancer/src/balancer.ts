/**
 * Lesson 04 — reference solution. A load balancer in front of several shop servers (http-proxy):
 *
 *   round-robin  every request goes to the next server in turn: possible only when every server can
 *                serve every visitor (sessions in Redis, lesson 03);
 *   sticky       each visitor is pinned to one server by a cookie of the balancer's own, from the very
 *                first answer on: needed while sessions live in a server's memory (lessons 01–02).
 *
 * When a server is down (its port refuses connections), the request is sent to the next server: it
 * never reached the dead one, so sending it again is safe — the body was kept for that. A sticky
 * visitor whose server died is pinned to the server that answered instead. When no server answers:
 * 502 JSON. The balancer itself never crashes: not on a dead server, a server dying mid-answer, or bad
 * input.
 */
import {
  Agent,
  type ClientRequest,
  createServer,
  type IncomingMessage,
  type Server,
  ServerResponse,
} from 'node:http';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import { describeError } from '../../../kit/http';
import { NotImplementedError } from '../../../kit/todo';

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
function roundRobin(count: number): () => number {
  let next = 0;
  return () => {
    const index = next;
    next = (next + 1) % count;
    return index;
  };
}

// Step 2 — forward the request (http-proxy): one proxy with kept-alive connections and an 'error'
// listener, a copy of the body, and proxy.web.
function createProxy(log: (line: string) => void): { proxy: httpProxy; agent: Agent } {
  // Without an agent, http-proxy opens a new connection to the server for every request and closes
  // it after the answer ("Connection: close"): a TCP handshake per request, and throughput collapses.
  const agent = new Agent({ keepAlive: true });
  const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
  // Every call below passes its own callback, so this should never run. But an 'error' event nobody
  // listens to is thrown, and it would take the whole balancer down for one dead server.
  proxy.on('error', (error, _req, res) => {
    log(`[balancer] proxy error: ${error.message}`);
    if (res instanceof ServerResponse && !res.headersSent) {
      sendJson(res, 502, { error: 'bad_gateway', message: 'No server could answer this request.' });
    } else {
      res.destroy();
    }
  });
  return { proxy, agent };
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
      req.resume(); // discard it: the visitor still gets the 413
      reject(bodyTooLarge(maxBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0; // keep reading (so the 413 can be sent), keep nothing
        reject(bodyTooLarge(maxBytes));
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forward(
  proxy: httpProxy,
  req: IncomingMessage,
  res: ServerResponse,
  target: string,
  body: Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // Answered (or the visitor went away): this attempt is over.
    res.once('close', () => resolve());
    // A fresh stream of the same bytes for every attempt: the request itself was read once, already.
    const buffer = Readable.from(body.length > 0 ? [body] : []);
    proxy.web(req, res, { target, buffer }, (error) => reject(error));
  });
}

// Step 3 — pin each visitor (sticky cookie): the balancer's own cookie, set from the first answer.
function readPin(cookieHeader: string | undefined, count: number): number | undefined {
  const value = cookieValue(cookieHeader, PIN_COOKIE);
  // The visitor sends whatever they like: only a server index this balancer could have set counts.
  if (value === undefined || !/^\d{1,4}$/.test(value)) return undefined;
  const index = Number(value);
  return index < count ? index : undefined;
}

function pinCookie(index: number): string {
  // No Max-Age: a browser-session cookie. HttpOnly: no script needs it. Path=/: every request carries it.
  return `${PIN_COOKIE}=${index}; Path=/; HttpOnly; SameSite=Lax`;
}

// Step 4 — fail over to the next server.
async function tryInTurn(
  order: number[],
  attempt: (index: number) => Promise<void>,
  retryable: (error: unknown) => boolean,
): Promise<void> {
  let lastError: unknown;
  for (const index of order) {
    try {
      await attempt(index);
      return;
    } catch (error) {
      if (!retryable(error)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/** Methods that do the same thing whether they run once or twice (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

function canRetry(error: unknown, request: { method: string; reusedConnection: boolean }): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // Refused: nobody listens on that port. The request never reached a server: safe to send anywhere.
  if (code === 'ECONNREFUSED') return true;
  // A kept-alive connection the server had just closed (it died, or drained): the request most
  // likely never reached it either — but it might have, so only when running it twice does no harm.
  return code === 'ECONNRESET' && request.reusedConnection && IDEMPOTENT.has(request.method);
}

// ── Given: plumbing (the same in the starter) ────────────────────────────────────────────────────

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
