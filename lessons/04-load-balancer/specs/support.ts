/**
 * Lesson 04 — what the specs share beyond the kit (browser, items, processes: kit/spec/): balancers
 * run in this process on free ports, and the fleet of real server processes behind them, each with the
 * name the balancer's answers report. Not a spec itself (Jest runs *.spec.ts only).
 */
import type { AddressInfo } from 'node:net';
import { type StartOptions, sharedServer, type useServerProcesses } from '../../../kit/spec/processes';
import { type BalancerOptions, createBalancer } from '../src/balancer';

export const LESSON = '04-load-balancer';
export const STEP_1 = 'Step 1 — take turns (round-robin)';
export const STEP_2 = 'Step 2 — forward the request (http-proxy)';
export const STEP_3 = 'Step 3 — pin each visitor (sticky cookie)';
export const STEP_4 = 'Step 4 — fail over to the next server';

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
  return { name, alive: server.get, dead: server.dead };
}
