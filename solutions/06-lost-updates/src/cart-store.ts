/**
 * Lesson 06 — reference solution. The cart's Redis operations, all of them: each change is one atomic
 * step in Redis, so two requests of one visitor — on one server or on two — can never undo each other.
 * Each function runs on a connection lent to it alone for the call (the shop takes one from a pool):
 * WATCH belongs to a connection, and so will lesson 07's WAIT.
 */
import type { RedisClientType } from 'redis';
import { WatchError } from 'redis';
import {
  CartBusyError,
  type CartItem,
  type CartLine,
  type CartRef,
  lineId,
  linesOf,
  MAX_REMOVE_ATTEMPTS,
} from '../../../lessons/06-lost-updates/src/cart-shape';

// Step 1 — a cart of its own, changed atomically.
export async function readCart(client: RedisClientType, cart: CartRef): Promise<CartLine[]> {
  // Reading is a request too: it slides the cart's expiry, as express-session slides the session's.
  // PEXPIRE on a key that does not exist does nothing: a visitor who only looks gets no key.
  const [hash] = await client.multi().hGetAll(cart.key).pExpire(cart.key, cart.ttlMs).exec();
  return linesOf(hash as unknown as Record<string, string>);
}

export async function addToCart(client: RedisClientType, cart: CartRef, item: CartItem): Promise<CartLine[]> {
  // One transaction: the increment (atomic in Redis: no read in this process, nothing to overwrite),
  // the expiry (the key never exists without one, even if this process dies right now), and the cart
  // as it is right after this add.
  const [, , hash] = await client
    .multi()
    .hIncrBy(cart.key, lineId(item), 1)
    .pExpire(cart.key, cart.ttlMs)
    .hGetAll(cart.key)
    .exec();
  return linesOf(hash as unknown as Record<string, string>);
}

// Step 2 — take one off, with WATCH.
export async function removeFromCart(
  client: RedisClientType,
  cart: CartRef,
  id: string,
): Promise<CartLine[] | 'not-in-cart'> {
  for (let attempt = 1; attempt <= MAX_REMOVE_ATTEMPTS; attempt++) {
    // Read, decide, write: if the cart changes between WATCH and EXEC, EXEC does nothing at all, and
    // node-redis throws a WatchError — then read again and decide again.
    await client.watch(cart.key);
    const quantity = Number((await client.hGet(cart.key, id)) ?? 0);
    if (quantity <= 0) {
      await client.unwatch();
      return 'not-in-cart';
    }
    const change = client.multi();
    if (quantity > 1) change.hIncrBy(cart.key, id, -1);
    else change.hDel(cart.key, id);
    try {
      const replies = await change.pExpire(cart.key, cart.ttlMs).hGetAll(cart.key).exec();
      return linesOf(replies[2] as unknown as Record<string, string>);
    } catch (error) {
      if (!(error instanceof WatchError)) throw error;
    }
  }
  throw new CartBusyError(MAX_REMOVE_ATTEMPTS);
}

// Step 3 — empty the cart.
export async function emptyCart(client: RedisClientType, cart: CartRef): Promise<void> {
  // One key, one command: every line goes at the same instant. An add just before is gone with it, an
  // add just after starts a new cart; nothing in between is possible.
  await client.del(cart.key);
}
