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
 * The request handling is given, in ./plumbing.ts (with BalancerOptions, PIN_COOKIE, cookieValue and
 * bodyTooLarge): createBalancer() hands it the functions below. Each `todo(...)` is one step of
 * ../README.md:
 *
 *   Step 1  roundRobin()                      take turns
 *   Step 2  createProxy() readBody() forward() forward the request (http-proxy, keep-alive, 'error')
 *   Step 3  readPin() pinCookie()             pin each visitor with the balancer's own cookie
 *   Step 4  tryInTurn() canRetry()            when a server is down, fail over to the next one
 *   Step 5  markResult() checkServer() startHealthChecks() serversToTry()
 *                                             health checks: send nothing to a server marked down
 *   Step 6  limitTime() canRetryTimeout()     timeouts: never wait for ever on a slow server
 *
 * Run `npm test lessons/04` after each step: the first failure tells you what to do next.
 */
import type { Agent, ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import type httpProxy from 'http-proxy';
import { todo } from '../../../kit/todo';
import {
  type BalancerOptions,
  balancerServer,
  type GatewayTimeout,
  type HealthRules,
  type ServerHealth,
  type Timeouts,
} from './plumbing';

export {
  BALANCER_HEALTH_PATH,
  type BalancerOptions,
  GatewayTimeout,
  PIN_COOKIE,
  STRATEGIES,
  type Strategy,
} from './plumbing';

const lesson = '04-load-balancer';
const file = 'src/balancer.ts';
const STEP_1 = 'Step 1 — take turns (round-robin)';
const STEP_2 = 'Step 2 — forward the request (http-proxy)';
const STEP_3 = 'Step 3 — pin each visitor (sticky cookie)';
const STEP_4 = 'Step 4 — fail over to the next server';
const STEP_5 = 'Step 5 — health checks';
const STEP_6 = 'Step 6 — timeouts';

/** The balancer as an http.Server, not yet listening: call `.listen(port)` on it, `.close()` when done. */
export function createBalancer(options: BalancerOptions): Server {
  const steps = {
    ...{ roundRobin, createProxy, readBody, forward, readPin, pinCookie, tryInTurn, canRetry },
    ...{ markResult, checkServer, startHealthChecks, serversToTry, limitTime, canRetryTimeout },
  };
  return balancerServer(options, steps);
}

// Step 1 — take turns (round-robin). Exported: the Step 1 spec calls it directly.
// TODO: return a function that gives, at each call, the index of the server for the next request:
// 0, 1, …, count − 1, then 0 again. The very first request goes to the first server (index 0).
export function roundRobin(_count: number): () => number {
  return todo({ lesson, file, step: STEP_1 });
}

// Step 2 — forward the request (http-proxy).
// TODO: create ONE http-proxy server for the whole balancer (httpProxy.createProxyServer) and return
// it with the http.Agent it uses:
//   - an agent that keeps connections open: without one, every request opens a new connection to the
//     server and closes it after the answer (the spec counts connections);
//   - the X-Forwarded-* headers, so the servers see who the visitor is (the spec reads them);
//   - an 'error' listener that calls `log`: an EventEmitter that emits 'error' with no listener throws
//     it, and one dead server would take the whole balancer down with it.
// Docs: https://github.com/http-party/node-http-proxy#options — hints: npm run course -- hint 04 2
// (The starter imports httpProxy and Agent as types only: import them as values to call them.)
function createProxy(_log: (line: string) => void): { proxy: httpProxy; agent: Agent } {
  return todo({ lesson, file, step: STEP_2 });
}

// TODO: read the whole request body into one Buffer and resolve with it (an empty Buffer when there is
// none). A body larger than `maxBytes` rejects with bodyTooLarge(maxBytes) (given, in ./plumbing.ts:
// the visitor gets a 413) — and is read on to its end, but not kept. Why a copy: a request is a
// stream, and a stream can be read only once. Step 4 may have to send the same request to a second
// server.
function readBody(_req: IncomingMessage, _maxBytes: number): Promise<Buffer> {
  return todo({ lesson, file, step: STEP_2 });
}

// TODO: send the request to `target` with proxy.web(req, res, options, callback). The request stream
// has been read already (readBody): the server must receive `body` instead — http-proxy's `buffer`
// option takes a stream to send in place of the request's. Resolve once `res` is closed (answered, or
// the visitor went away); reject with the error if http-proxy calls the callback: ./plumbing.ts turns
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
// Cookie header (cookieValue() reads it; both are in ./plumbing.ts); undefined when there is none — or
// when it is not an index this balancer could have set (anything but a whole number from 0 to
// count − 1): it comes from the visitor, and a visitor sends whatever they like.
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

// Step 5 — health checks (only with the `health` option: see ../README.md).
// TODO: count one result (a check, or a request) of `server`, in a row: an up server is marked down
// after rules.fall failures in a row, a down server up again after rules.rise successes in a row. A
// success ends a run of failures, and a failure ends a run of successes (a flapping server, never
// `fall` failures in a row, stays up). Exported: a spec checks it in process.
export function markResult(_server: ServerHealth, _ok: boolean, _rules: HealthRules): void {
  todo({ lesson, file, step: STEP_5 });
}

// TODO: one active check: GET <target><rules.path>. Resolve true for a 2xx answer; false for anything
// else — a 500, a refused connection, and no answer within rules.timeoutMs (a hung server is not a
// healthy one). Never reject, never wait longer than the timeout.
function checkServer(_target: string, _rules: HealthRules): Promise<boolean> {
  return todo({ lesson, file, step: STEP_5 });
}

// TODO: check every server now and then every rules.intervalMs, with check(server), and count each
// result with markResult. On a clock of their own, never on a visitor's request; side by side, so a
// server whose check hangs does not delay the others (and its next check waits until the last one is
// over). Return a function that stops the checks (the given code calls it when the balancer closes).
function startHealthChecks(
  _servers: ServerHealth[],
  _rules: HealthRules,
  _check: (server: ServerHealth) => Promise<boolean>,
): () => void {
  return todo({ lesson, file, step: STEP_5 });
}

// TODO: the servers of `order` to try, in that order: only the ones that are up. When every one is
// down, all of them anyway — the checks may be wrong, and refusing every visitor makes sure of an
// outage.
function serversToTry(_order: number[], _servers: ServerHealth[]): number[] {
  return todo({ lesson, file, step: STEP_5 });
}

// Step 6 — timeouts.
function limitTime(_proxyReq: ClientRequest, _timeouts: Timeouts): void {
  // TODO (Step 6): limit the time of one request to a server. The given code calls this as soon as the
  // request has a socket. While the socket is still connecting, allow timeouts.connectMs to connect;
  // from then on (at once, for a kept-alive connection) timeouts.responseMs until the answer's first
  // line ('response'). When a limit is hit, destroy the request with new GatewayTimeout(phase, ms):
  // the given code answers 504 JSON. Clear the timers once it is answered or closed.
  // Until you do, a server that never answers makes the visitor wait for ever.
}

// TODO: may a request that timed out be sent to the next server? Decide from error.phase: which of
// the two cannot have reached the server? (../README.md, Step 6, says which rule this course takes.)
function canRetryTimeout(_error: GatewayTimeout, _method: string): boolean {
  return todo({ lesson, file, step: STEP_6 });
}
