/**
 * Lesson 01 — The sticky problem                                      (edit this file)
 *
 * This file is one "server": an express app that keeps each visitor's shopping cart in a session.
 * The routes, the JSON errors and the X-Served-By header are written for you, in ./cart.ts (given,
 * with CartItem, AppOptions and LIMITS). createApp() hands them the functions below; each `todo(...)`
 * is one step of ../README.md:
 *
 *   Step 1  sessionMiddleware()               give every visitor a session (express-session)
 *   Step 2  readCart() addToCart() emptyCart() keep a cart in that session
 *   Step 3  parseItem()                       refuse bad input with a 400, change nothing
 *
 * Run `npm test lessons/01` after each step: the first failure tells you what to do next.
 */
import type { Express, Request, RequestHandler } from 'express';
import { todo } from '../../../kit/todo';
import { type AppOptions, type CartItem, cartApp, type Parsed } from './cart';

export { type AppOptions, type CartItem, type CartView, LIMITS } from './cart';

const lesson = '01-sticky-problem';
const file = 'src/app.ts';

export function createApp(options: AppOptions): Express {
  return cartApp(options, { sessionMiddleware, readCart, addToCart, emptyCart, parseItem });
}

// Step 1 — give every visitor a session.
// TODO: return express-session's middleware (import it: `import session from 'express-session'`).
//   - store: options.store (undefined means express-session's MemoryStore, in this process)
//   - secret: options.secret, else process.env.SESSION_SECRET, else a dev-only string
//   - resave / saveUninitialized: README step 1 says which values, and why
//   - cookie: httpOnly, sameSite 'lax', maxAge options.sessionMaxAgeMs (default 30 minutes)
function sessionMiddleware(_options: AppOptions): RequestHandler {
  return todo({ lesson, file, step: 'Step 1 — give every visitor a session' });
}

// Step 2 — keep a cart in the session.
// TODO: a visitor with no cart yet has an empty one.
function readCart(_req: Request): CartItem[] {
  return todo({ lesson, file, step: 'Step 2 — keep a cart in the session' });
}

// TODO: append the item to the visitor's cart, in the session.
function addToCart(_req: Request, _item: CartItem): void {
  todo({ lesson, file, step: 'Step 2 — keep a cart in the session' });
}

// TODO: forget the visitor's session (resolve when it is gone, reject on a store error).
function emptyCart(_req: Request): Promise<void> {
  return todo({ lesson, file, step: 'Step 2 — keep a cart in the session' });
}

// Step 3 — refuse bad input.
// TODO: accept only { name, price } where name is a non-empty string of at most LIMITS.maxNameLength
// characters and price a finite number from 0 to LIMITS.maxPrice (import LIMITS from './cart').
// Anything else: { ok: false, message }.
export function parseItem(_body: unknown): Parsed {
  return todo({ lesson, file, step: 'Step 3 — refuse bad input' });
}
