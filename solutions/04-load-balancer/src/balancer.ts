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
import { Agent, type ClientRequest, get, type IncomingMessage, type Server, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
// The given file lives once, in the lesson folder; this path works from solutions/ and from lessons/.
import {
  type BalancerOptions,
  balancerServer,
  bodyTooLarge,
  cookieValue,
  GatewayTimeout,
  type HealthRules,
  PIN_COOKIE,
  type ServerHealth,
  sendJson,
  type Timeouts,
} from '../../../lessons/04-load-balancer/src/plumbing';

export {
  BALANCER_HEALTH_PATH,
  type BalancerOptions,
  GatewayTimeout,
  PIN_COOKIE,
  STRATEGIES,
  type Strategy,
} from '../../../lessons/04-load-balancer/src/plumbing';

/** The balancer as an http.Server, not yet listening: call `.listen(port)` on it, `.close()` when done. */
export function createBalancer(options: BalancerOptions): Server {
  const steps = {
    ...{ roundRobin, createProxy, readBody, forward, readPin, pinCookie, tryInTurn, canRetry },
    ...{ markResult, checkServer, startHealthChecks, serversToTry, limitTime, canRetryTimeout },
  };
  return balancerServer(options, steps);
}

// Step 1 — take turns (round-robin).
export function roundRobin(count: number): () => number {
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

// Step 5 — health checks: passive (the requests) and active (GET /health on a clock of its own).
export function markResult(server: ServerHealth, ok: boolean, rules: HealthRules): void {
  // Only results in a row count: one failure among successes (or the reverse) starts nothing.
  if (ok) {
    server.successesInARow += 1;
    server.failuresInARow = 0;
    if (!server.up && server.successesInARow >= rules.rise) server.up = true;
  } else {
    server.failuresInARow += 1;
    server.successesInARow = 0;
    if (server.up && server.failuresInARow >= rules.fall) server.up = false;
  }
}

function checkServer(target: string, rules: HealthRules): Promise<boolean> {
  return new Promise((resolve) => {
    // Its own connection (no agent): a check must not queue behind visitors' requests, nor keep a
    // connection to a server that may be dying.
    const check = get(`${target}${rules.path}`, { agent: false, timeout: rules.timeoutMs }, (res) => {
      res.resume(); // read the body to its end: nothing in it matters
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    check.on('timeout', () => check.destroy(new Error(`no answer within ${rules.timeoutMs} ms`)));
    check.on('error', () => resolve(false)); // refused, reset, timed out: failed
  });
}

function startHealthChecks(
  servers: ServerHealth[],
  rules: HealthRules,
  check: (server: ServerHealth) => Promise<boolean>,
): () => void {
  const checking = new Set<ServerHealth>();
  const round = () => {
    // Side by side, never one after the other: a server whose check hangs must not delay the others.
    for (const server of servers) {
      if (checking.has(server)) continue; // its last check is still under way
      checking.add(server);
      check(server)
        .then((ok) => markResult(server, ok, rules))
        .finally(() => checking.delete(server));
    }
  };
  round();
  const timer = setInterval(round, rules.intervalMs);
  return () => clearInterval(timer);
}

function serversToTry(order: number[], servers: ServerHealth[]): number[] {
  const up = order.filter((index) => servers[index]?.up);
  // Every server down: try them all anyway. A health check can be wrong (the /health route broke, not
  // the shop); refusing every visitor would make sure of an outage.
  return up.length > 0 ? up : order;
}

// Step 6 — timeouts: a connect timeout and a response timeout for every request sent to a server.
function limitTime(proxyReq: ClientRequest, timeouts: Timeouts): void {
  const socket = proxyReq.socket;
  let connectTimer: NodeJS.Timeout | undefined;
  let responseTimer: NodeJS.Timeout | undefined;
  const startResponseTimer = () => {
    responseTimer = setTimeout(
      () => proxyReq.destroy(new GatewayTimeout('response', timeouts.responseMs)),
      timeouts.responseMs,
    );
  };
  if (socket?.connecting) {
    connectTimer = setTimeout(
      () => proxyReq.destroy(new GatewayTimeout('connect', timeouts.connectMs)),
      timeouts.connectMs,
    );
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      startResponseTimer();
    });
  } else {
    startResponseTimer(); // a kept-alive connection: already connected
  }
  const clear = () => {
    clearTimeout(connectTimer);
    clearTimeout(responseTimer);
  };
  proxyReq.once('response', clear);
  proxyReq.once('close', clear);
}

function canRetryTimeout(error: GatewayTimeout, _method: string): boolean {
  // No connection, so nothing was sent: safe to send anywhere, like a refusal. A request that timed
  // out waiting for its answer is at the server, which may be working on it (and is overloaded or
  // hung): sending it again, even a GET, doubles the load where it hurts and makes the visitor wait
  // twice. So: never.
  return error.phase === 'connect';
}
