/**
 * Lesson 06 — Lost updates: the cart's Redis operations                 (edit this file)
 *
 * Until now the cart lived inside the session: every request loaded the whole session, changed the
 * cart in this process's memory, and saved the whole session back — and of two requests that overlap,
 * the last save wins (README, "The race"). From this lesson on the session only says who the visitor
 * is; the cart has a key of its own, `cart:<session id>`, a Redis hash (line id → quantity), and every
 * change is ONE atomic step in Redis. ./app.ts (given) calls these four functions, each on a
 * connection lent to it alone for the call (./shop.ts takes it from a pool: README Step 2 says why).
 *
 *   Step 1  readCart(client, cart)            the lines; every read pushes the key's expiry forward
 *           addToCart(client, cart, item)     one more of the item, atomically, with the expiry
 *   Step 2  removeFromCart(client, cart, id)  one less — and the line goes at zero: WATCH, bounded retry
 *   Step 3  emptyCart(client, cart)           the whole cart, at one instant
 *
 * CartRef, CartLine, lineId, linesOf, MAX_REMOVE_ATTEMPTS and CartBusyError are given, in
 * ./cart-shape.ts. Run `npm test lessons/06` after each step: the first failure tells you what to do
 * next. Stuck? `npm run course -- hint 06` (one level of hint per call), or ../hints.md.
 */
import type { RedisClientType } from 'redis';
import { todo } from '../../../kit/todo';
import type { CartItem, CartLine, CartRef } from './cart-shape';

const lesson = '06-lost-updates';
const file = 'src/cart-store.ts';

// Step 1 — a cart of its own, changed atomically.
// TODO: the lines of the hash at cart.key (linesOf, given, turns Redis's reply into CartLine[]; no key:
// no lines). A read is a request too: push the key's expiry back to cart.ttlMs, as express-session does
// for the session's key — but never create the key: a visitor who only looks gets no key, no cookie.
// The specs age both keys with their own client, then check that a GET /cart gave both the full TTL.
// Docs: https://redis.io/docs/latest/develop/data-types/hashes/ · https://redis.io/docs/latest/commands/?group=generic
export async function readCart(_client: RedisClientType, _cart: CartRef): Promise<CartLine[]> {
  return todo({ lesson, file, step: 'Step 1 — a cart of its own, changed atomically' });
}

// TODO: one more of `item` in the cart (its field: lineId(item)) — without reading the quantity into
// this process first: Redis must do the arithmetic, or two adds that overlap write the same number.
// In the same atomic step: the key's expiry (cart.ttlMs, in ms: a key must never exist without one,
// even if this process dies a microsecond later), and the cart as it is right after this add (the 201
// shows it). The specs send 20, then 50 adds at once through several servers and count what is kept,
// to the cent; check that the 50 answers show 50 different counts; compare the key's PTTL with the
// session's; and SIGKILL a server in the middle of a burst. In this process, on a connection of their
// own, they look at the key after each of your commands (never without an expiry) and count the
// connections Redis accepts while you work: use `client`, the one you are lent, and open none.
// Docs: https://redis.io/docs/latest/develop/data-types/hashes/ ·
// https://redis.io/docs/latest/develop/interact/transactions/ · https://github.com/redis/node-redis#transactions-multiexec
export async function addToCart(
  _client: RedisClientType,
  _cart: CartRef,
  _item: CartItem,
): Promise<CartLine[]> {
  return todo({ lesson, file, step: 'Step 1 — a cart of its own, changed atomically' });
}

// Step 2 — take one off, with WATCH.
// TODO: one less of the line `id`; at zero the line goes (no line at 0, none below). No such line:
// 'not-in-cart' (the route answers 404), and nothing changes. This one must read before it writes —
// what to do depends on the quantity — so make the read and the write one *optimistic* transaction:
// watch the key, read, then queue the change; Redis refuses the whole change if the key changed since
// the watch began (node-redis then throws a WatchError), and you read and decide again — at most
// MAX_REMOVE_ATTEMPTS times in all, then throw a CartBusyError (the route answers 409), having changed
// nothing. Slide the expiry and give back the cart right after the change, in the same transaction.
// A return with no transaction ('not-in-cart') ends its watch first: the connection goes back to the
// pool, and the next request must not inherit your WATCH.
// The specs fire removes and adds at once through three servers, and — in this process, on a connection
// of their own — change the cart right after your read, or after every one of your watches.
// Docs: https://redis.io/docs/latest/develop/interact/transactions/#optimistic-locking-using-check-and-set
export async function removeFromCart(
  _client: RedisClientType,
  _cart: CartRef,
  _id: string,
): Promise<CartLine[] | 'not-in-cart'> {
  return todo({ lesson, file, step: 'Step 2 — take one off, with WATCH' });
}

// Step 3 — empty the cart.
// TODO: the whole cart gone at one instant: an add just before goes with it, an add just after starts a
// new cart, and nothing in between (no line of the old cart left, no add that came before it kept). The
// session stays: the visitor is still the visitor. The specs send DELETE /cart among adds, and tell from
// each add's 201 which side of it that add landed on; in this process, an add lands right after your
// first command. Docs: https://redis.io/docs/latest/commands/?group=generic
export async function emptyCart(_client: RedisClientType, _cart: CartRef): Promise<void> {
  todo({ lesson, file, step: 'Step 3 — empty the cart' });
}
