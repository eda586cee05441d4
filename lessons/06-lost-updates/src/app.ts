/**
 * Lesson 06 — the cart's routes (given: you do not need to edit this file).
 *
 * The same shop as before, with the cart out of the session: the session (lesson 05's middleware) says
 * who the visitor is, the cart lives at `cart:<session id>` and changes only through the functions you
 * write in ./cart-store.ts — each run on a connection lent to it alone (`withConnection`). The routes
 * themselves (what each answers): ./cart-routes.ts.
 */
import type { Router } from 'express';
import { type CartAppOptions, cartRoutesOn } from './cart-routes';
import { addToCart, emptyCart, readCart, removeFromCart } from './cart-store';

export type { CartAppOptions, WithConnection } from './cart-routes';

export function cartRoutes(options: CartAppOptions): Router {
  return cartRoutesOn({ readCart, addToCart, removeFromCart, emptyCart }, options);
}
