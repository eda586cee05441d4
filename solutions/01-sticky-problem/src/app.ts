/**
 * Lesson 01 — reference solution. One "server": an express app that keeps each visitor's cart in a
 * session. With no `store`, express-session keeps sessions in this process's memory (MemoryStore):
 * that is the sticky problem this lesson demonstrates. The routes are given (lessons/…/src/cart.ts).
 */
import type { Express, Request, RequestHandler } from 'express';
import session from 'express-session';
// The given file lives once, in the lesson folder; this path works from solutions/ and from lessons/.
import {
  type AppOptions,
  type CartItem,
  cartApp,
  LIMITS,
  type Parsed,
} from '../../../lessons/01-sticky-problem/src/cart';

export {
  type AppOptions,
  type CartItem,
  type CartView,
  LIMITS,
} from '../../../lessons/01-sticky-problem/src/cart';

export function createApp(options: AppOptions): Express {
  return cartApp(options, { sessionMiddleware, readCart, addToCart, emptyCart, parseItem });
}

// Step 1 — give every visitor a session.
export function sessionMiddleware(options: AppOptions): RequestHandler {
  return session({
    store: options.store,
    secret: options.secret ?? process.env.SESSION_SECRET ?? 'dev-only-secret-change-me',
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: options.sessionMaxAgeMs ?? 30 * 60_000 },
  });
}

// Step 2 — refuse bad input.
export function parseItem(body: unknown): Parsed {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'Send a JSON object: { "name": string, "price": number }.' };
  }
  const { name, price } = body as Record<string, unknown>;
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed === '' || trimmed.length > LIMITS.maxNameLength) {
    return {
      ok: false,
      message: `name must be a non-empty string of at most ${LIMITS.maxNameLength} characters.`,
    };
  }
  if (typeof price !== 'number' || !Number.isFinite(price) || price < 0 || price > LIMITS.maxPrice) {
    return { ok: false, message: `price must be a number from 0 to ${LIMITS.maxPrice}.` };
  }
  return { ok: true, item: { name: trimmed, price } };
}

// Step 3 — keep a cart in the session.
function readCart(req: Request): CartItem[] {
  return req.session.cart ?? [];
}

function addToCart(req: Request, item: CartItem): void {
  req.session.cart = [...readCart(req), item];
}

function emptyCart(req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.destroy((error) => (error ? reject(error) : resolve()));
  });
}
