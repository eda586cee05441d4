/**
 * The embedded Redis: a real `redis-server` process started by redis-memory-server, for the specs and
 * the live demo. Which binary it runs, in order:
 *   1. REDISMS_SYSTEM_BINARY, when set (it must point at a redis-server);
 *   2. a `redis-server` on PATH (apt-get install redis-server, brew install redis);
 *   3. redis-memory-server's own download-and-build (needs internet, make and a C compiler; once).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExecutable, onPath } from '../executables';

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
  if (binary.source === 'download-and-build') {
    console.warn(
      '\nNo redis-server found: redis-memory-server will download and build Redis from source.\n' +
        'That needs internet access, make and a C compiler, and takes a minute or two (once).\n',
    );
  }
  // A folder of its own: redis-server loads any dump.rdb in its working folder at start (a replica
  // writes one there when it syncs), and a Redis that starts with someone else's keys is no fresh Redis.
  const dir = mkdtempSync(join(tmpdir(), 'course-redis-'));
  // Loaded here, not at the top: a spec file that imports the kit's Redis helpers but never starts a
  // Redis of its own need not load it (≈50 ms a spec file).
  const { RedisMemoryServer } = await import('redis-memory-server');
  const server = new RedisMemoryServer({
    autoStart: false,
    binary: binary.path ? { systemBinary: binary.path } : {},
    instance: { ip: '127.0.0.1', args: ['--dir', dir, ...args] },
  });
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new RedisUnavailableError(`Could not start Redis (${binary.source}): ${reason}\n  ${FIXES}`);
  }
  const port = await server.getPort();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      mkdirSync(dir, { recursive: true });
      await server.start();
    },
  };
}
