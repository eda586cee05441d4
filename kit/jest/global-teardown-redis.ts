import type { EmbeddedRedis } from '../redis/embedded';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { courseRedis?: EmbeddedRedis }).courseRedis?.stop();
}
