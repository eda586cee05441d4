/**
 * Lesson 01 — the cart app's wiring (given: you do not need to edit this file).
 *
 * What a cart is, how it is shown, and the express app that serves it: routes, JSON errors, the
 * X-Served-By header. The app calls the functions you write in ./app.ts — they arrive here as
 * `steps` — and turns their results into HTTP answers:
 *
 *   GET    /health       { status: 'ok', serverId }                 (before the session: no cookie)
 *   GET    /cart         steps.readCart                              → 200 { serverId, items, total }
 *   POST   /cart/items   steps.parseItem, then steps.addToCart       → 201 the cart, or 400 invalid_item
 *   DELETE /cart         steps.emptyCart                             → 200 the empty cart
 *
 * Every request but /health goes through steps.sessionMiddleware (or options.session) first. A
 * failure anywhere (a store that cannot destroy a session, say) becomes a JSON error, never a crash.
 */
import express, { type Express, type Request, type RequestHandler } from 'express';
import type session from 'express-session';
import { jsonErrors, notFound, servedBy } from '../../../kit/http';

export interface CartItem {
  name: string;
  price: number;
}

export interface CartView {
  serverId: string;
  items: CartItem[];
  total: number;
}

// Tells TypeScript what may be kept in `req.session`.
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
  /**
   * A session middleware to use instead of the one sessionMiddleware() builds from the options above
   * (lesson 05 brings its own, with sliding expiry). express-session keeps its cookie settings on the
   * store object, so two session middlewares on one store would overwrite each other's: one only.
   */
  session?: RequestHandler;
}

export const LIMITS = { maxNameLength: 100, maxPrice: 1_000_000, maxBody: '10kb' } as const;

/** What parseItem() answers: the item to add, or why the body is refused (the 400's message). */
export type Parsed = { ok: true; item: CartItem } | { ok: false; message: string };

/** The functions of ./app.ts that the routes call (README step in brackets). */
export interface CartSteps {
  /** [Step 1] The session middleware built from the options. */
  sessionMiddleware(options: AppOptions): RequestHandler;
  /** [Step 2] Whatever JSON the client sent (or undefined: no JSON body) → the item, or why not. */
  parseItem(body: unknown): Parsed;
  /** [Step 3] The visitor's cart; an empty one when there is none. */
  readCart(req: Request): CartItem[];
  /** [Step 3] Adds an item parseItem() accepted to the visitor's cart. */
  addToCart(req: Request, item: CartItem): void;
  /** [Step 3] Forgets the visitor's session: resolves once the store has destroyed it. */
  emptyCart(req: Request): Promise<void>;
}

/** The shop server's express app, built on `steps`. */
export function cartApp(options: AppOptions, steps: CartSteps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(servedBy(options.serverId));
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', serverId: options.serverId });
  });
  app.use(express.json({ limit: LIMITS.maxBody }));
  app.use(options.session ?? steps.sessionMiddleware(options));

  app.get('/cart', (req, res) => {
    res.json(cartView(options.serverId, steps.readCart(req)));
  });
  app.post('/cart/items', (req, res) => {
    const parsed = steps.parseItem(req.body);
    if (!parsed.ok) {
      res.status(400).json({ error: 'invalid_item', message: parsed.message });
      return;
    }
    steps.addToCart(req, parsed.item);
    res.status(201).json(cartView(options.serverId, steps.readCart(req)));
  });
  app.delete('/cart', async (req, res) => {
    await steps.emptyCart(req);
    res.json(cartView(options.serverId, []));
  });

  app.use(notFound);
  app.use(jsonErrors);
  return app;
}

export function cartView(serverId: string, items: CartItem[]): CartView {
  // Sum in cents: 0.1 + 0.2 is not 0.3 in floating point.
  const cents = items.reduce((sum, item) => sum + Math.round(item.price * 100), 0);
  return { serverId, items, total: cents / 100 };
}
