/**
 * For the in-process tasks of lost-updates.spec.ts: a race, made to happen every time. Your cart
 * operation gets a real connection to Redis, wrapped so that the spec can act between two of its
 * commands — as another request would, once in a while, on a busy server. Not a spec itself; you do
 * not need to read it to do the lesson.
 */
import { createClient, type RedisClientType } from 'redis';

/**
 * A connection of the task's own (WATCH belongs to a connection), to hand to a cart operation; it is
 * closed after the task, whatever the operation left on it (a WATCH, a transaction half-queued).
 */
export function useConnections(url: () => string): () => Promise<RedisClientType> {
  const opened: RedisClientType[] = [];
  afterEach(() => {
    for (const client of opened.splice(0)) if (client.isOpen) client.destroy();
  });
  return async () => {
    const client: RedisClientType = createClient({ url: url(), disableOfflineQueue: true });
    client.on('error', () => undefined);
    await client.connect();
    opened.push(client);
    return client;
  };
}

/**
 * `client`, except that each command (each method call that returns a promise) is followed, once its
 * reply is in, by `after(name)` — before the operation hears the reply. A transaction (`multi()` …
 * `exec()`) goes to Redis as one step, and nothing can land inside it: `after('exec')` runs once its
 * replies are in.
 */
export function interleaved(
  client: RedisClientType,
  after: (name: string) => Promise<void>,
): RedisClientType {
  return hooked(client, after);
}

function hooked<T extends object>(object: T, after: (name: string) => Promise<void>): T {
  const proxy: T = new Proxy(object, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        // A chained transaction method (multi().hGetAll(…)) gives back the transaction: keep it hooked.
        if (result === target) return proxy;
        if (/^multi$/i.test(property) && result && typeof result === 'object') return hooked(result, after);
        if (!(result instanceof Promise)) return result;
        return result.then(async (reply) => {
          await after(property);
          return reply;
        });
      };
    },
  });
  return proxy;
}

/**
 * `client`, with `act()` run once: right after the operation's first command other than a WATCH (its
 * read, for an operation that reads first), before the operation hears the reply.
 */
export function onceAfterFirstCommand(client: RedisClientType, act: () => Promise<void>): RedisClientType {
  let acted = false;
  return interleaved(client, async (name) => {
    if (acted || isWatch(name)) return;
    acted = true;
    await act();
  });
}

/** WATCH / UNWATCH, in either spelling node-redis offers. */
export const isWatch = (name: string) => /^(un)?watch$/i.test(name);
