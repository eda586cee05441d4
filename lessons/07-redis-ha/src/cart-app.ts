/**
 * Lesson 07 — the cart's routes (given: you do not need to edit this file).
 *
 * Lesson 06's routes (lessons/06-lost-updates/src/cart-routes.ts: what each answers), on lesson 06's
 * FINISHED cart operations (solutions/06-lost-updates), so that this lesson runs whatever state your
 * lesson 06 is in. The one difference is where a route's Redis work runs: `withConnection` is what
 * your cartConnection (./sentinel.ts, Step 2) gives — a connection of the Sentinel client's pool, and
 * then WAIT for a replica. One more 503: a NotReplicatedError (no replica confirmed the change).
 */
import type { Router } from 'express';
import {
  addToCart,
  emptyCart,
  readCart,
  removeFromCart,
} from '../../../solutions/06-lost-updates/src/cart-store';
import { type CartAppOptions, cartRoutesOn } from '../../06-lost-updates/src/cart-routes';

export type { CartAppOptions, WithConnection } from '../../06-lost-updates/src/cart-routes';

export function cartRoutes(options: CartAppOptions): Router {
  return cartRoutesOn({ readCart, addToCart, removeFromCart, emptyCart }, options);
}
