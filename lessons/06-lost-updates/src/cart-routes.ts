/**
 * Lesson 06 — the cart's routes on any four cart operations (given: you do not need to edit this file).
 * ./app.ts serves them on yours (./cart-store.ts); lesson 07 serves them on the finished lesson 06's.
 * Only types come from ./cart-store.ts here, so a lesson that imports this file does not load yours.
 *
 *   GET    /cart              readCart        → 200 { serverId, items, count, total }
 *   POST   /cart/items        addToCart       → 201 the cart right after the add, or 400 invalid_item
 *   DELETE /cart/items/:id    removeFromCart  → 200 the cart right after, 400 invalid_line_id,
 *                                                404 not_in_cart, or 409 conflict (it gave up)
 *   DELETE /cart              emptyCart       → 200 the empty cart (the session stays)
 *
 * An item is lesson 01's `{ name, price }`, checked by lesson 01's parseItem; a line id is given by
 * every answer (items[].id). Redis unreachable: 503, as in lesson 03.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Router } from 'express';
import type { RedisClientType } from 'redis';
import { jsonErrors } from '../../../kit/http';
import { parseItem } from '../../../solutions/01-sticky-problem/src/app';
import { CartBusyError, type CartRef, cartKey, cartView, itemOf, LIMITS } from './cart-shape';
import type * as CartStore from './cart-store';

// The session keeps identity only: when it began. Nothing a request could overwrite with an older copy.
declare module 'express-session' {
  interface SessionData {
    since: string;
  }
}

/** Runs `work` on a Redis connection that nothing else uses until it resolves (a pool's execute). */
export type WithConnection = <T>(work: (client: RedisClientType) => Promise<T>) => Promise<T>;

/** The four cart operations of ./cart-store.ts (yours in lesson 06; lesson 07 passes the finished ones). */
export type CartOperations = Pick<
  typeof CartStore,
  'readCart' | 'addToCart' | 'removeFromCart' | 'emptyCart'
>;

export interface CartAppOptions {
  serverId: string;
  /** Lesson 05's session middleware (TTL, sliding, rotating secrets): the only one on its store. */
  session: RequestHandler;
  withConnection: WithConnection;
  /** How long a cart lives without a request: the session's TTL (SESSION_TTL_SECONDS), in ms. */
  ttlMs: number;
}

export function cartRoutesOn(operations: CartOperations, options: CartAppOptions): Router {
  const { serverId, withConnection, ttlMs } = options;
  const { readCart, addToCart, removeFromCart, emptyCart } = operations;
  const cartOf = (req: Request): CartRef => ({ key: cartKey(req.sessionID), ttlMs });
  const router = express.Router();
  router.use('/cart', express.json({ limit: LIMITS.maxBody }), options.session);

  router.get('/cart', async (req, res) => {
    const lines = await withConnection((client) => readCart(client, cartOf(req)));
    res.json(cartView(serverId, lines));
  });

  router.post('/cart/items', async (req, res) => {
    const parsed = parseItem(req.body);
    if (!parsed.ok) {
      res.status(400).json({ error: 'invalid_item', message: parsed.message });
      return;
    }
    // The first add starts the session (saveUninitialized: false): the visitor gets a cookie. Later
    // adds leave the session as it is, so express-session only touches it (EXPIRE), never rewrites it.
    req.session.since ??= new Date().toISOString();
    const lines = await withConnection((client) => addToCart(client, cartOf(req), parsed.item));
    res.status(201).json(cartView(serverId, lines));
  });

  router.delete('/cart/items/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!itemOf(id)) {
      res.status(400).json({ error: 'invalid_line_id', message: 'No item has this line id.' });
      return;
    }
    const result = await withConnection((client) => removeFromCart(client, cartOf(req), id));
    if (result === 'not-in-cart') {
      res.status(404).json({ error: 'not_in_cart', message: 'This item is not in the cart.' });
      return;
    }
    res.json(cartView(serverId, result));
  });

  router.delete('/cart', async (req, res) => {
    await withConnection((client) => emptyCart(client, cartOf(req)));
    res.json(cartView(serverId, []));
  });

  router.use('/cart', cartErrors, jsonErrors);
  return router;
}

/** A remove that gave up: 409, try again. Redis gone in the middle of a request: 503, as the guard says. */
const cartErrors: ErrorRequestHandler = (error: unknown, _req, res, next) => {
  if (res.headersSent) return next(error);
  // By name too: lesson 07 runs these routes on the finished lesson 06, whose CartBusyError may come
  // from another copy of cart-shape.ts (solutions/ and lessons/ are two modules).
  if (error instanceof CartBusyError || (error instanceof Error && error.name === 'CartBusyError')) {
    res.status(409).json({ error: 'conflict', message: error.message });
    return;
  }
  const name = error instanceof Error ? error.name : '';
  if (/^(ClientOffline|ClientClosed|SocketClosedUnexpectedly|Connection|Timeout)Error$/.test(name)) {
    res.set('Retry-After', '1');
    res.status(503).json({
      error: 'service_unavailable',
      message: 'Carts are unavailable for a moment (Redis cannot be reached). Please retry.',
    });
    return;
  }
  next(error);
};
