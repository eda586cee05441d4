/**
 * Lesson 01 — The sticky problem                                      (edit this file)
 *
 * This file is one "server": an express app that keeps each visitor's shopping cart in a session.
 * The routes, the JSON errors and the X-Served-By header are written for you. Three small functions
 * are not — each `todo(...)` below is one step of ../README.md:
 *
 *   Step 1  sessionMiddleware()               give every visitor a session (express-session)
 *   Step 2  readCart() addToCart() emptyCart() keep a cart in that session
 *   Step 3  parseItem()                       refuse bad input with a 400, change nothing
 *
 * Run `npm test lessons/01` after each step: the first failure tells you what to do next.
 */
import express, { type Express, type Request } from 'express';
import type session from 'express-session';
import { jsonErrors, notFound, servedBy } from '../../../kit/http';
import { todo } from '../../../kit/todo';

export interface CartItem {
  name: string;
  price: number;
}

export interface CartView {
  serverId: string;
  items: CartItem[];
  total: number;
}

// Tells TypeScript what you may keep in `req.session`.
declare module 'express-session' {
  interface SessionData {
    cart: CartItem[];
  }
}

export interface AppOptions {
  /** Shown in X-Served-By and /health, so you can see which server answered. */
  serverId: string;
  /** Where sessions live. Omitted: this process's memory (lessons 01–02). Lesson 03 passes Redis. */
  store?: session.Store;
  /** Signs the session cookie. An array rotates secrets: the first signs, all verify. */
  secret?: string | string[];
  /** How long a session lives without activity. */
  sessionMaxAgeMs?: number;
}

export const LIMITS = { maxNameLength: 100, maxPrice: 1_000_000, maxBody: '10kb' } as const;

const lesson = '01-sticky-problem';
const file = 'src/app.ts';

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(servedBy(options.serverId));
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', serverId: options.serverId });
  });
  app.use(express.json({ limit: LIMITS.maxBody }));
  app.use(sessionMiddleware(options));

  app.get('/cart', (req, res) => {
    res.json(cartView(options.serverId, readCart(req)));
  });
  app.post('/cart/items', (req, res) => {
    const parsed = parseItem(req.body);
    if (!parsed.ok) {
      res.status(400).json({ error: 'invalid_item', message: parsed.message });
      return;
    }
    addToCart(req, parsed.item);
    res.status(201).json(cartView(options.serverId, readCart(req)));
  });
  app.delete('/cart', async (req, res) => {
    await emptyCart(req);
    res.json(cartView(options.serverId, []));
  });

  app.use(notFound);
  app.use(jsonErrors);
  return app;
}

// Step 1 — give every visitor a session.
// TODO: return express-session's middleware (import it: `import session from 'express-session'`).
//   - store: options.store (undefined means express-session's MemoryStore, in this process)
//   - secret: options.secret, else process.env.SESSION_SECRET, else a dev-only string
//   - resave / saveUninitialized: README step 1 says which values, and why
//   - cookie: httpOnly, sameSite 'lax', maxAge options.sessionMaxAgeMs (default 30 minutes)
function sessionMiddleware(_options: AppOptions): express.RequestHandler {
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

function cartView(serverId: string, items: CartItem[]): CartView {
  // Sum in cents: 0.1 + 0.2 is not 0.3 in floating point.
  const cents = items.reduce((sum, item) => sum + Math.round(item.price * 100), 0);
  return { serverId, items, total: cents / 100 };
}

// Step 3 — refuse bad input.
type Parsed = { ok: true; item: CartItem } | { ok: false; message: string };

// TODO: accept only { name, price } where name is a non-empty string of at most LIMITS.maxNameLength
// characters and price a finite number from 0 to LIMITS.maxPrice. Anything else: { ok: false, message }.
export function parseItem(_body: unknown): Parsed {
  return todo({ lesson, file, step: 'Step 3 — refuse bad input' });
}
