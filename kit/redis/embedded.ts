/**
 * The embedded Redis: a real `redis-server` process for the specs and the live demo, started by the
 * course itself (./launch.ts), or by redis-memory-server when it has to download and build Redis
 * first. Which binary it runs, in order:
 *   1. REDISMS_SYSTEM_BINARY, when set (it must point at a redis-server);
 *   2. a `redis-server` on PATH (apt-get install redis-server, brew install redis);
 *   3. redis-memory-server's own download-and-build (needs internet, make and a C compiler; once).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExecutable, onPath } from '../executables';
import { type LaunchedRedis, launchRedis, untilPong, untilRefused } from './launch';

export type RedisBinary =
  | { source: 'REDISMS_SYSTEM_BINARY' | 'PATH'; path: string }
  | { source: 'download-and-build'; path?: undefined };

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

const FIXES = [
  'Install Redis so `redis-server` is on your PATH:  apt-get install redis-server  |  brew install redis',
  'or point at a redis-server binary:                REDISMS_SYSTEM_BINARY=/path/to/redis-server npm test …',
  'or use a Redis you already run (it will be used): REDIS_URL=redis://127.0.0.1:6379 npm test …',
].join('\n  ');

export function findRedisBinary(env: NodeJS.ProcessEnv = process.env): RedisBinary {
  const pinned = env.REDISMS_SYSTEM_BINARY;
  if (pinned) {
    if (!isExecutable(pinned)) {
      throw new RedisUnavailableError(
        `REDISMS_SYSTEM_BINARY=${pinned} is not an executable file.\n  ${FIXES}`,
      );
    }
    return { source: 'REDISMS_SYSTEM_BINARY', path: pinned };
  }
  const found = onPath('redis-server', env);
  if (found) return { source: 'PATH', path: found };
  return { source: 'download-and-build' };
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** After stop(): the same port again, with no data (an outage, then recovery). */
  restart(): Promise<void>;
}

/** Starts one redis-server on a free loopback port. Extra args go to redis-server as they are. */
export async function startEmbeddedRedis(binary: RedisBinary, args: string[] = []): Promise<EmbeddedRedis> {
  // A folder of its own: redis-server loads any dump.rdb in its working folder at start (a replica
  // writes one there when it syncs), and a Redis that starts with someone else's keys is no fresh Redis.
  const dir = mkdtempSync(join(tmpdir(), 'course-redis-'));
  try {
    const server = binary.path ? await startBinary(binary.path, dir, args) : await startDownloaded(dir, args);
    return {
      port: server.port,
      url: `redis://127.0.0.1:${server.port}`,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
      restart: async () => {
        mkdirSync(dir, { recursive: true });
        await server.start();
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new RedisUnavailableError(`Could not start Redis (${binary.source}): ${reason}\n  ${FIXES}`);
  }
}

/** The same settings redis-memory-server starts its servers with: in memory only, loopback only. */
const SETTINGS = ['--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];

/** A running redis-server, on its port: stop() it, start() it again there. */
interface RunningRedis {
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server that is already installed, started as a process of our own (./launch.ts says why). */
async function startBinary(path: string, dir: string, args: string[]): Promise<RunningRedis> {
  // (Loaded here: the demo and the shop, which also start Redis, need not load the spec helpers.)
  const { freePort } = await import('../spec/processes');
  let port = await freePort();
  let running: LaunchedRedis | undefined;
  const start = async () => {
    const launched = await launchRedis(path, ['--port', String(port), ...SETTINGS, '--dir', dir, ...args]);
    running = launched;
    const exited = new Promise<never>((_, reject) =>
      launched.child.once('exit', () =>
        reject(new Error(`redis-server exited: ${launched.output().trim() || 'no output'}`)),
      ),
    );
    await Promise.race([untilPong(port, 10_000), exited]);
  };
  const stop = async () => {
    const child = running?.child;
    running = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin?.end(); // the shell SIGKILLs the server: nothing is saved, a restart starts empty
    await exited;
    await untilRefused(port, 5_000);
  };
  // A port found free can be taken before redis-server binds it (another process's pick): then a
  // few other ports, before giving up.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (error) {
      await stop();
      if (attempt === 3 || !/already in use/i.test(String(error))) throw error;
      port = await freePort();
    }
  }
  return { port, start, stop };
}

/** No redis-server installed: redis-memory-server downloads and builds one (once), and runs it. */
async function startDownloaded(dir: string, args: string[]): Promise<RunningRedis> {
  console.warn(
    '\nNo redis-server found: redis-memory-server will download and build Redis from source.\n' +
      'That needs internet access, make and a C compiler, and takes a minute or two (once).\n',
  );
  const { RedisMemoryServer } = await import('redis-memory-server');
  const server = new RedisMemoryServer({
    autoStart: false,
    binary: {},
    instance: { ip: '127.0.0.1', args: ['--dir', dir, ...args] },
  });
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return {
    port: await server.getPort(),
    start: async () => {
      await server.start();
    },
    stop: async () => {
      await server.stop();
    },
  };
}
