/**
 * Lesson 01 — reference solution. One "server": an express app that keeps each visitor's cart in a
 * session. With no `store`, express-session keeps sessions in this process's memory (MemoryStore):
 * that is the sticky problem this lesson demonstrates.
 */
import express, { type Express, type Request } from 'express';
import session from 'express-session';
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
function sessionMiddleware(options: AppOptions) {
  return session({
    store: options.store,
    secret: options.secret ?? process.env.SESSION_SECRET ?? 'dev-only-secret-change-me',
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: options.sessionMaxAgeMs ?? 30 * 60_000 },
  });
}

// Step 2 — keep a cart in the session.
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

function cartView(serverId: string, items: CartItem[]): CartView {
  const cents = items.reduce((sum, item) => sum + Math.round(item.price * 100), 0);
  return { serverId, items, total: cents / 100 };
}

// Step 3 — refuse bad input.
type Parsed = { ok: true; item: CartItem } | { ok: false; message: string };

export function parseItem(body: unknown): Parsed {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'Send a JSON object: { "name": string, "price": number }.' };
  }
  const { name, price } = body as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '' || name.length > LIMITS.maxNameLength) {
    return {
      ok: false,
      message: `name must be a non-empty string of at most ${LIMITS.maxNameLength} characters.`,
    };
  }
  if (typeof price !== 'number' || !Number.isFinite(price) || price < 0 || price > LIMITS.maxPrice) {
    return { ok: false, message: `price must be a number from 0 to ${LIMITS.maxPrice}.` };
  }
  return { ok: true, item: { name: name.trim(), price } };
}
