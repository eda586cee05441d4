/**
 * Lesson 04 — the balancer's plumbing (given: you do not need to edit this file).
 *
 * The options, the pin cookie's name, and the request handling around the functions you write in
 * ./balancer.ts (they arrive here as `steps`): pick a server (Step 1, or the visitor's pin: Step 3),
 * keep a copy of the body and forward the request (Step 2), on failure try the next server (Step 4),
 * and turn what is left into a JSON error — 502 when no server answered, 413 for a body too large,
 * 504 when a server took too long (Step 6). With the `health` option it keeps each server's health
 * (Step 5: passive, from the requests; active, from GET /health checks on a clock of their own), sends
 * nothing to a server marked down, and lists the servers' states at GET /_balancer/health.
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
  /** Health checks (Step 5). Off unless given; each missing field takes its default (DEFAULT_HEALTH). */
  health?: Partial<HealthRules>;
  /** Time limits per request (Step 6); each missing field takes its default (DEFAULT_TIMEOUTS). */
  timeouts?: Partial<Timeouts>;
}

/** When a server counts as down or up again (HAProxy: `check inter 2s fall 3 rise 2`). */
export interface HealthRules {
  /** How often each server's health endpoint is asked. */
  intervalMs: number;
  /** A check that has no answer after this long has failed. */
  timeoutMs: number;
  /** Failures in a row (checks, or requests) after which an up server is marked down. */
  fall: number;
  /** Successful checks in a row after which a down server is marked up again. */
  rise: number;
  /** The servers' health endpoint. */
  path: string;
}
export const DEFAULT_HEALTH: HealthRules = {
  intervalMs: 2000,
  timeoutMs: 1000,
  fall: 3,
  rise: 2,
  path: '/health',
};

/** What the balancer knows about one server's health. */
export interface ServerHealth {
  target: string;
  up: boolean;
  failuresInARow: number;
  successesInARow: number;
}

export interface Timeouts {
  /** From asking for a connection to having one (a reused kept-alive connection needs none). */
  connectMs: number;
  /** From the request sent to the first line of the answer (status and headers). */
  responseMs: number;
}
export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 3000, responseMs: 30_000 };

/** A server took too long (Step 6): the visitor gets a 504. `phase` says which limit was hit. */
export class GatewayTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly phase: 'connect' | 'response',
    readonly ms: number,
  ) {
    super(
      phase === 'connect'
        ? `The server did not accept a connection within ${ms} ms.`
        : `The server did not answer within ${ms} ms.`,
    );
  }
}

/** The balancer's own cookie: which server (its index in `targets`) a sticky visitor is pinned to. */
export const PIN_COOKIE = 'lb';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** The functions of ./balancer.ts that the request handling calls. */
export interface BalancerSteps {
  roundRobin(count: number): () => number;
  createProxy(log: (line: string) => void): { proxy: httpProxy; agent: Agent };
  readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer>;
  forward(
    proxy: httpProxy,
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    body: Buffer,
  ): Promise<void>;
  readPin(cookieHeader: string | undefined, count: number): number | undefined;
  pinCookie(index: number): string;
  tryInTurn(
    order: number[],
    attempt: (index: number) => Promise<void>,
    retryable: (error: unknown) => boolean,
  ): Promise<void>;
  canRetry(error: unknown, request: { method: string; reusedConnection: boolean }): boolean;
  markResult(server: ServerHealth, ok: boolean, rules: HealthRules): void;
  checkServer(target: string, rules: HealthRules): Promise<boolean>;
  startHealthChecks(
    servers: ServerHealth[],
    rules: HealthRules,
    check: (server: ServerHealth) => Promise<boolean>,
  ): () => void;
  serversToTry(order: number[], servers: ServerHealth[]): number[];
  limitTime(proxyReq: ClientRequest, timeouts: Timeouts): void;
  canRetryTimeout(error: GatewayTimeout, method: string): boolean;
}

/** The path of the balancer's own health page: every server's state, as JSON. */
export const BALANCER_HEALTH_PATH = '/_balancer/health';

/** The balancer as an http.Server, not yet listening, built on `steps`. */
export function balancerServer(options: BalancerOptions, steps: BalancerSteps): Server {
  const targets = checkTargets(options.targets);
  const strategy = checkStrategy(options.strategy);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => {});
  const health: HealthRules | undefined = options.health
    ? { ...DEFAULT_HEALTH, ...options.health }
    : undefined;
  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const servers: ServerHealth[] = targets.map((target) => ({
    target,
    up: true,
    failuresInARow: 0,
    successesInARow: 0,
  }));

  const nextInTurn = steps.roundRobin(targets.length);
  const { proxy, agent } = steps.createProxy(log);
  /** For a sticky visitor being pinned (again): the cookie to add to this request's answer. */
  const newPins = new WeakMap<IncomingMessage, string>();
  /** Each forwarded request's latest attempt: did it go out on a kept-alive connection? */
  const outgoing = new WeakMap<IncomingMessage, ClientRequest>();

  proxy.on('proxyReq', (proxyReq, req) => {
    outgoing.set(req, proxyReq);
    steps.limitTime(proxyReq, timeouts);
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
    if (req.method === 'GET' && req.url === BALANCER_HEALTH_PATH) {
      if (checksFailed !== undefined) throw checksFailed; // e.g. Step 5 unfinished: a 501 that says so
      sendJson(res, 200, healthReport(servers, health));
      return;
    }
    // Hop-by-hop: `Connection` is about the visitor's connection to the balancer. Forwarded, a
    // "Connection: close" would also close the balancer's kept-alive connection to the server.
    delete req.headers.connection;

    const pinned = strategy === 'sticky' ? steps.readPin(req.headers.cookie, targets.length) : undefined;
    const first = pinned ?? nextInTurn();
    const body = await steps.readBody(req, maxBodyBytes);
    const method = req.method ?? 'GET';
    try {
      const inTurn = inTurnFrom(first, targets.length);
      await steps.tryInTurn(
        health ? steps.serversToTry(inTurn, servers) : inTurn,
        (index) => {
          if (strategy === 'sticky' && index !== pinned) newPins.set(req, steps.pinCookie(index));
          return steps.forward(proxy, req, res, targets[index], body).then(
            () => {
              if (health) steps.markResult(servers[index], true, health); // passive: it answered
            },
            (error: unknown) => {
              log(`[balancer] ${method} ${req.url} → ${targets[index]}: ${describeFailure(error)}`);
              if (health) steps.markResult(servers[index], false, health); // passive: it failed
              throw error;
            },
          );
        },
        (error) =>
          error instanceof GatewayTimeout
            ? steps.canRetryTimeout(error, method)
            : steps.canRetry(error, { method, reusedConnection: outgoing.get(req)?.reusedSocket === true }),
      );
    } catch (error) {
      if (error instanceof NotImplementedError || error instanceof GatewayTimeout) throw error;
      throw new BadGateway(error);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => answerError(res, error));
  });
  // Active checks run while the balancer listens, on a clock of their own.
  let stopChecks: (() => void) | undefined;
  /** Why the checks could not start: GET /_balancer/health answers it (thrown here, it would crash). */
  let checksFailed: unknown;
  server.on('listening', () => {
    if (health && !stopChecks) {
      try {
        stopChecks = steps.startHealthChecks(servers, health, (one) => steps.checkServer(one.target, health));
      } catch (error) {
        checksFailed = error;
        log(
          `[balancer] health checks not started: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  });
  // Idle kept-alive connections to the servers would keep this process (or a test run) alive.
  server.on('close', () => {
    stopChecks?.();
    stopChecks = undefined;
    proxy.close();
    agent.destroy();
  });
  return server;
}

/** GET /_balancer/health: each server's state, for an operator (and the specs). */
function healthReport(servers: ServerHealth[], health: HealthRules | undefined) {
  return {
    checks: health ? 'on' : 'off',
    servers: servers.map((one) => ({
      target: one.target,
      state: one.up ? 'up' : 'down',
      failuresInARow: one.failuresInARow,
      successesInARow: one.successesInARow,
    })),
  };
}

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

/** The error for a request body over `maxBytes`: the visitor gets a 413. */
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
  if (error instanceof GatewayTimeout) {
    sendJson(res, 504, { error: 'gateway_timeout', message: error.message });
    return;
  }
  const { status, body } = describeError(error); // 413, 501 (an unfinished step), 500
  sendJson(res, status, body);
}

/** Answers `status` with `body` as JSON. */
export function sendJson(res: ServerResponse, status: number, body: object): void {
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
