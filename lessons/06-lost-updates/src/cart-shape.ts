/**
 * Lesson 06 — what a cart is, now that it has a key of its own (given: you do not need to edit this file).
 *
 * The cart is one Redis hash per session, `cart:<session id>`: one field per line, the line's id, whose
 * value is the quantity. A line id names the item itself (its name and price, encoded), so adding the
 * same item again finds the same field, and removing one needs nothing but the id from the URL.
 *
 *   HGETALL cart:abc  →  { "WyJTb2NrcyIsNV0": "2", "WyJIYXQiLDEyXQ": "1" }
 *                     →  [{ id, name: 'Hat', price: 12, quantity: 1 }, { id, name: 'Socks', price: 5, quantity: 2 }]
 *
 * The functions you write in ./cart-store.ts take a CartRef (which key, how long it lives) and give
 * back CartLine[]: linesOf() turns an HGETALL reply into them.
 */
import { type CartItem, LIMITS } from '../../../lessons/01-sticky-problem/src/cart';

export type { CartItem };
export { LIMITS };

/** Every cart key starts with this: `cart:<session id>`, beside the session's `sess:<session id>`. */
export const CART_PREFIX = 'cart:';

/** The key of the cart of the session `sessionId`. */
export function cartKey(sessionId: string): string {
  return `${CART_PREFIX}${sessionId}`;
}

/** Which cart, and how long it lives without a request: the session's TTL, in milliseconds. */
export interface CartRef {
  key: string;
  ttlMs: number;
}

/** One line of a cart: an item and how many of it. */
export interface CartLine extends CartItem {
  /** The line's id: its field in the cart's hash, and the :id of DELETE /cart/items/:id. */
  id: string;
  quantity: number;
}

/**
 * A remove that lost the race MAX_REMOVE_ATTEMPTS times in a row (WATCH saw the cart change under it
 * each time) gives up with this: the route answers 409, and the cart is as it was.
 */
export const MAX_REMOVE_ATTEMPTS = 25;

export class CartBusyError extends Error {
  override readonly name = 'CartBusyError';
  readonly status = 409;
  readonly expose = true;

  constructor(attempts: number) {
    super(`The cart changed under this request ${attempts} times in a row: nothing was removed. Try again.`);
  }
}

/** The line id of an item: its name and price as JSON, base64url-encoded (safe in a URL and a field). */
export function lineId(item: CartItem): string {
  return Buffer.from(JSON.stringify([item.name, item.price])).toString('base64url');
}

/** The item a line id names, or undefined when it names none (a forged or garbled id). */
export function itemOf(id: string): CartItem | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(id)) return undefined;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(id, 'base64url').toString('utf8'));
    if (!Array.isArray(decoded) || decoded.length !== 2) return undefined;
    const [name, price] = decoded as unknown[];
    if (typeof name !== 'string' || name.trim() !== name || name === '' || name.length > LIMITS.maxNameLength)
      return undefined;
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0 || price > LIMITS.maxPrice)
      return undefined;
    const item = { name, price };
    // Only the one canonical spelling of an item is its id (no second field for the same item).
    return lineId(item) === id ? item : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The lines of an HGETALL reply (field → quantity), sorted by name then price. A field that names no
 * item is left out; a quantity is shown as it is stored, so a line at 0 (or below) is there to see.
 */
export function linesOf(hash: Record<string, string>): CartLine[] {
  const lines: CartLine[] = [];
  for (const [id, quantity] of Object.entries(hash)) {
    const item = itemOf(id);
    if (item) lines.push({ id, ...item, quantity: Number(quantity) });
  }
  return lines.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.price - b.price));
}

/** What GET /cart and every change answer: the lines, how many items, and the total. */
export interface CartView {
  serverId: string;
  items: CartLine[];
  /** How many items: the sum of the quantities. */
  count: number;
  total: number;
}

export function cartView(serverId: string, lines: CartLine[]): CartView {
  // In cents: 0.1 + 0.2 is not 0.3 in floating point, and 0.1 × 3 is not 0.3 either.
  const cents = lines.reduce((sum, line) => sum + Math.round(line.price * 100) * line.quantity, 0);
  const count = lines.reduce((sum, line) => sum + line.quantity, 0);
  return { serverId, items: lines, count, total: cents / 100 };
}
