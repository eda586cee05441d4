/**
 * The course's own harness, checked on every `npm run verify`: how the Redis binary is found, and that
 * each spec file gets an isolated database of the run's Redis.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usePrivateRedis, useRedis } from '../spec/redis';
import { findRedisBinary, RedisUnavailableError, startEmbeddedRedis } from './embedded';
import { sendCommand } from './launch';

describe('finding a redis-server binary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'course-bin-'));
  const fake = join(dir, 'redis-server');
  writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });

  test('REDISMS_SYSTEM_BINARY wins over PATH', () => {
    expect(findRedisBinary({ REDISMS_SYSTEM_BINARY: fake, PATH: '/usr/bin' })).toEqual({
      source: 'REDISMS_SYSTEM_BINARY',
      path: fake,
    });
  });

  test('a redis-server on PATH comes next', () => {
    expect(findRedisBinary({ PATH: `/nonexistent:${dir}` })).toEqual({ source: 'PATH', path: fake });
  });

  test('with neither, redis-memory-server builds one', () => {
    expect(findRedisBinary({ PATH: '/nonexistent' })).toEqual({ source: 'download-and-build' });
  });

  test('a REDISMS_SYSTEM_BINARY that is not there fails with the three fixes', () => {
    expect(() => findRedisBinary({ REDISMS_SYSTEM_BINARY: join(dir, 'missing') })).toThrow(
      RedisUnavailableError,
    );
    expect(() => findRedisBinary({ REDISMS_SYSTEM_BINARY: join(dir, 'missing') })).toThrow(
      /apt-get install redis-server.*\n.*REDISMS_SYSTEM_BINARY=.*\n.*REDIS_URL=/,
    );
  });
});

describe('a spec file’s Redis', () => {
  const redis = useRedis();

  test('is a database of its own, not database 0, and starts empty', async () => {
    expect(new URL(redis.url).pathname).not.toBe('/0');
    expect(await redis.client.dbSize()).toBe(0);
  });

  test('is a real Redis that keeps TTLs', async () => {
    await redis.client.set('probe', 'value', { PX: 60_000 });
    expect(await redis.client.get('probe')).toBe('value');
    expect(await redis.client.pTTL('probe')).toBeGreaterThan(59_000);
  });
});

describe('a private Redis', () => {
  const redis = usePrivateRedis();

  test('can go away and come back on the same port, empty', async () => {
    const url = redis.url;
    const port = Number(new URL(url).port);
    await sendCommand(port, ['SET', 'probe', 'value']);

    await redis.stop();
    const whileStopped = await sendCommand(port, ['PING']).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    await redis.restart();

    expect({ whileStopped, url: redis.url }).toEqual({ whileStopped: 'ECONNREFUSED', url });
    expect(await sendCommand(port, ['EXISTS', 'probe'])).toBe(':0\r\n');
  });
});

describe('a redis-server that cannot start', () => {
  test('fails at once, with what redis-server said', async () => {
    const started = performance.now();
    const failure = await startEmbeddedRedis(findRedisBinary(), ['--no-such-directive', 'x']).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(RedisUnavailableError);
    expect(String(failure)).toMatch(/no-such-directive/);
    // Well under the 10 s it would wait for an answer to PING: it saw the process end.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
