/**
 * Lesson 01 — The sticky problem                                      (edit this file)
 *
 * This file is one "server": an express app that keeps each visitor's shopping cart in a session.
 * The routes, the JSON errors and the X-Served-By header are written for you, in ./cart.ts (given,
 * with CartItem, AppOptions and LIMITS). createApp() hands them the functions below; each `todo(...)`
 * is one step of ../README.md:
 *
 *   Step 1  sessionMiddleware()                 give every visitor a session (express-session)
 *   Step 2  parseItem()                         refuse bad input: a 400, and nothing changes
 *   Step 3  readCart() addToCart() emptyCart()  keep a cart in that session
 *
 * Run `npm test lessons/01` after each step: the first failure tells you what to do next.
 * Stuck? `npm run course -- hint 01` (one level of hint per call), or ../hints.md.
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

// Step 1 — give every visitor a session: express-session's middleware, built from `options`.
// TODO: keep sessions in options.store when there is one (else this process's memory); sign the
//   cookie with options.secret, else the SESSION_SECRET environment variable, else a dev-only
//   secret; give no session to a visitor who stored nothing; never write back a session that a
//   request did not change; a cookie scripts cannot read, that other sites' requests do not carry,
//   and that expires after options.sessionMaxAgeMs (30 minutes when not given). README Step 1 says why.
export function sessionMiddleware(_options: AppOptions): RequestHandler {
  return todo({ lesson, file, step: 'Step 1 — give every visitor a session' });
}

// Step 2 — refuse bad input. `body` is whatever JSON the client sent (undefined when it sent none).
// TODO: accept only an object with a `name` (a string; without the spaces around it, 1 to
//   LIMITS.maxNameLength characters) and a `price` (a finite number from 0 to LIMITS.maxPrice), and
//   give back just those two, the name trimmed. Anything else: { ok: false, message }; never throw.
export function parseItem(_body: unknown): Parsed {
  return todo({ lesson, file, step: 'Step 2 — refuse bad input' });
}

// Step 3 — keep a cart in the session.
// TODO: the visitor's cart; a visitor with no cart yet has an empty one (and still no session).
function readCart(_req: Request): CartItem[] {
  return todo({ lesson, file, step: 'Step 3 — keep a cart in the session' });
}

// TODO: the visitor's cart with `item` added at the end, kept in their session.
function addToCart(_req: Request, _item: CartItem): void {
  todo({ lesson, file, step: 'Step 3 — keep a cart in the session' });
}

// TODO: forget the visitor's whole session: resolve once the store has destroyed it, reject when the
//   store fails (the route then answers 500, and the cart is still there).
function emptyCart(_req: Request): Promise<void> {
  return todo({ lesson, file, step: 'Step 3 — keep a cart in the session' });
}
