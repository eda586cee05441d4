/**
 * Global setup for lessons whose specs use Redis (they import kit/spec/redis): one real redis-server
 * for the whole run, its URL handed to every test file through COURSE_REDIS_URL. Jest runs this only
 * when such a lesson is selected, so `npm test lessons/01` never needs Redis.
 *
 * REDIS_URL set by the user means "use my Redis": nothing is started.
 * When no Redis can be had, the run goes on: each Redis spec then fails with COURSE_REDIS_ERROR, the
 * message that lists the fixes, and the lessons that need no Redis still run.
 */
import { type EmbeddedRedis, findRedisBinary, startEmbeddedRedis } from '../redis/embedded';
import { timed } from '../timings';
import { prepareTarget } from './target';

/** Enough databases that each test file gets its own (kit/spec/redis.ts hands them out). */
export const DATABASES = 64;

export default async function globalSetup(): Promise<void> {
  prepareTarget();
  if (process.env.REDIS_URL) {
    process.env.COURSE_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  try {
    const binary = findRedisBinary();
    const redis = await timed('redis-start', "the run's Redis", () =>
      startEmbeddedRedis(binary, ['--databases', String(DATABASES)]),
    );
    (globalThis as { courseRedis?: EmbeddedRedis }).courseRedis = redis;
    process.env.COURSE_REDIS_URL = redis.url;
    if (binary.path) process.env.COURSE_REDIS_BINARY = binary.path;
  } catch (error) {
    process.env.COURSE_REDIS_ERROR = error instanceof Error ? error.message : String(error);
  }
}
