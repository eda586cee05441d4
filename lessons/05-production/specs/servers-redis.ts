/**
 * A redis-server for a lesson-05 spec file's server processes only (the rolling restart's): not a
 * spec itself (Jest runs *.spec.ts only).
 */
import {
  type EmbeddedRedis,
  findRedisBinary,
  type RedisBinary,
  startEmbeddedRedis,
} from '../../../kit/redis/embedded';

/**
 * A redis-server for this file's server processes only, started before its tests and stopped after
 * them: for a spec that never looks into Redis itself. kit/spec/redis's usePrivateRedis gives the same
 * and more, but it loads node-redis into the Jest worker (about 0.2 s), which such a spec never uses.
 */
export function useRedisForServers(): { readonly url: string } {
  let redis: EmbeddedRedis | undefined;
  beforeAll(async () => {
    const binary: RedisBinary = process.env.COURSE_REDIS_BINARY
      ? { source: 'REDISMS_SYSTEM_BINARY', path: process.env.COURSE_REDIS_BINARY }
      : findRedisBinary();
    redis = await startEmbeddedRedis(binary);
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get url() {
      if (!redis)
        throw new Error('useRedisForServers(): Redis is started in beforeAll; use it inside a test.');
      return redis.url;
    },
  };
}
