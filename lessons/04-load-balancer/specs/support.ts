/**
 * Lesson 04 — what the specs share beyond the kit (browser, items, processes: kit/spec/): balancers
 * run in this process on free ports, and the fleet of real server processes behind them, each with the
 * name the balancer's answers report. Not a spec itself (Jest runs *.spec.ts only).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type StartOptions, sharedServer, type useServerProcesses } from '../../../kit/spec/processes';
import { type BalancerOptions, createBalancer } from '../src/balancer';

export const LESSON = '04-load-balancer';
export const STEP_1 = 'Step 1 — take turns (round-robin)';
export const STEP_2 = 'Step 2 — forward the request (http-proxy)';
export const STEP_3 = 'Step 3 — pin each visitor (sticky cookie)';
export const STEP_4 = 'Step 4 — fail over to the next server';
export const STEP_5 = 'Step 5 — health checks';
export const STEP_6 = 'Step 6 — timeouts';

export interface RunningBalancer {
  url: string;
  port: number;
}

/**
 * Balancers made by the learner's createBalancer, listening on free ports of this process. Each task
 * makes its own (a fresh round-robin starts at the first server); all are closed after the file.
 */
export function useBalancers() {
  const running = new Set<ReturnType<typeof createBalancer>>();

  afterAll(async () => {
    await Promise.all(
      [...running].map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  });

  return {
    /**
     * Builds (and drops) a balancer over a placeholder target, never listening: an unfinished step
     * that createBalancer runs (Steps 1–2) fails the task at once, before it waits for any server.
     */
    preflight(strategy: BalancerOptions['strategy'] = 'round-robin'): void {
      createBalancer({ targets: ['http://127.0.0.1:9'], strategy });
    },
    async start(options: BalancerOptions): Promise<RunningBalancer> {
      const server = createBalancer(options);
      running.add(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}`, port };
    },
  };
}

/**
 * One server of the fleet behind the balancers, named `name` (its X-Served-By): a real process, shared
 * by the file's tests. `alive()` gives it running, `dead()` gives it killed (its port then refuses
 * connections); see sharedServer in kit/spec/processes.ts.
 */
export function fleetServer(
  servers: ReturnType<typeof useServerProcesses>,
  name: string,
  options: () => StartOptions,
) {
  const server = sharedServer(servers, () => ({ ...options(), env: { ...options().env, SERVER_ID: name } }));
  return { name, alive: server.get, warm: server.warm, dead: server.dead };
}

/** What a probe does with a request (its /health path has a behaviour of its own). */
export type ProbeBehaviour =
  | 'answers'
  | 'answers slowly'
  | 'dies before answering'
  | 'dies on a reused connection'
  | 'hangs';
export type HealthBehaviour = 'ok' | '500' | 'hangs';

export interface ProbeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

/**
 * A plain HTTP server in this process, an instrument rather than a shop: it records the connections
 * and requests it gets (GET /health apart), and answers 200 with X-Served-By: <name>, or dies the moment
 * a request arrives (its connection is destroyed before any answer, as when a process crashes halfway
 * through a request), or only does so on a connection it has already answered on, or never answers,
 * or sends its status and headers at once and the body 400 ms later ('answers slowly').
 * `stop()` closes its port (connections are then refused, as for a killed process); `start()` listens
 * again on the same port.
 */
export async function probeServer(name: string, behaviour: ProbeBehaviour = 'answers') {
  const state = {
    behaviour,
    health: 'ok' as HealthBehaviour,
    connections: 0,
    healthChecks: 0,
    openHealthChecks: 0,
    requests: [] as ProbeRequest[],
  };
  const answered = new WeakSet<Socket>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    if (req.url === '/health') {
      state.healthChecks += 1;
      if (state.health === 'hangs') {
        state.openHealthChecks += 1;
        res.once('close', () => {
          state.openHealthChecks -= 1;
        });
        return;
      }
      res.statusCode = state.health === 'ok' ? 200 : 500;
      res.end(state.health === 'ok' ? 'ok' : 'unhealthy');
      return;
    }
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('end', () => {
      state.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, bodyBytes });
      const dies =
        state.behaviour === 'dies before answering' ||
        (state.behaviour === 'dies on a reused connection' && answered.has(req.socket));
      if (dies) {
        req.socket.destroy();
        return;
      }
      if (state.behaviour === 'hangs') return;
      answered.add(req.socket);
      res.setHeader('X-Served-By', name);
      res.setHeader('Content-Type', 'application/json');
      const body = JSON.stringify({ servedBy: name, bodyBytes });
      if (state.behaviour === 'answers slowly') {
        res.flushHeaders();
        setTimeout(() => res.end(body), 400);
        return;
      }
      res.end(body);
    });
  });
  server.on('connection', (socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  probes.add(stop);
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    state,
    /** Requests other than GET /health. */
    requests: () => state.requests.length,
    connections: () => state.connections,
    /** Its port refuses connections from now on (what a killed process leaves). */
    stop,
    /** Listens again on its port. */
    start: () => listen(port),
  };
}
const probes = new Set<() => Promise<void>>();
afterAll(async () => {
  await Promise.all([...probes].map((stop) => stop()));
});
