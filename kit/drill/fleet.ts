/**
 * The drill's fleet for one design: N shop servers as real processes behind lesson 04's balancer (a
 * real process too), and for the stateless design the Redis they share.
 *
 *   sticky     lesson 02's server (sessions in its memory), balancer STRATEGY=sticky
 *   stateless  lesson 03's server (sessions in Redis),      balancer STRATEGY=round-robin
 *
 * The finished lessons by default (.solved/), the learner's own code with `mine`.
 */
import type { EmbeddedRedis } from '../redis/embedded';
import type { Exit, ServerProcess, serverProcesses } from '../spec/processes';

export type Design = 'sticky' | 'stateless';
export const DESIGNS: readonly Design[] = ['sticky', 'stateless'];

export const DESIGN_LABEL: Record<Design, string> = {
  sticky: 'sticky + memory sessions',
  stateless: 'round-robin + Redis sessions',
};

export interface FleetOptions {
  design: Design;
  servers: number;
  mine: boolean;
  redis?: EmbeddedRedis;
  processes: ReturnType<typeof serverProcesses>;
}

export interface Fleet {
  design: Design;
  url: string;
  ids: string[];
  /** SIGKILL, as the out-of-memory killer would: the process and everything in its memory are gone. */
  kill(index: number): Promise<Exit>;
  /** A new process on the same port, once its /health answers. */
  restart(index: number): Promise<void>;
  /** SIGTERM (it drains and exits), then restart(): one step of a rolling deploy. */
  stopGracefully(index: number): Promise<Exit>;
  /** What the balancer printed so far: a line per request it could not send to a server, and why. */
  balancerOutput(): string;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const { design, mine, processes } = options;
  const lesson = design === 'sticky' ? '02-crash' : '03-redis-store';
  const ids = Array.from({ length: options.servers }, (_, i) => `server-${i + 1}`);
  const env = (id: string): Record<string, string> => ({
    SERVER_ID: id,
    ...(options.redis ? { REDIS_URL: options.redis.url } : {}),
    // Different prefixes: a --only run and a full run never share a session key by accident.
    SESSION_PREFIX: `drill-${design}:`,
  });
  const start = (id: string, port?: number) =>
    processes.start({
      lesson,
      entry: 'server.ts',
      finished: !mine,
      env: env(id),
      port,
      readyTimeoutMs: 20_000,
    });

  const running: ServerProcess[] = await Promise.all(ids.map((id) => start(id)));
  const balancer = await processes.start({
    lesson: '04-load-balancer',
    entry: 'lb.ts',
    finished: !mine,
    env: {
      TARGETS: running.map((server) => server.url).join(','),
      STRATEGY: design === 'sticky' ? 'sticky' : 'round-robin',
    },
    readyTimeoutMs: 20_000,
  });

  const at = (index: number): ServerProcess => {
    const server = running[index];
    if (!server) throw new Error(`no server #${index + 1} in a fleet of ${running.length}`);
    return server;
  };
  return {
    design,
    url: balancer.url,
    ids,
    kill: (index) => at(index).kill('SIGKILL'),
    async restart(index) {
      running[index] = await startOnPort(() => start(ids[index] as string, at(index).port));
    },
    stopGracefully: (index) => at(index).kill('SIGTERM'),
    balancerOutput: () => balancer.output(),
  };
}

/**
 * A restart on the port of a process that has just exited. On a busy machine the port can be held a
 * moment longer (an outgoing connection may have been given it as its ephemeral port): wait for it,
 * bounded, rather than fail the drill.
 */
async function startOnPort(start: () => Promise<ServerProcess>, withinMs = 10_000): Promise<ServerProcess> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await start();
    } catch (error) {
      const busy = error instanceof Error && /is still in use/.test(error.message);
      if (!busy || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
