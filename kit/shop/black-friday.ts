/**
 * Black Friday: a scripted crowd fills carts through the shop's own URL (every request a real one,
 * routed by the balancer to a server process), then server-3 crashes, then every shopper reads their
 * cart back. A cart is intact when it comes back with exactly what was put in it; lost otherwise.
 */
import { type Answer, Visitor } from '../spec/browser';
import { airpods, iphone, macbook } from '../spec/shop';

export const CRASHED_SERVER = 'server-3';

export type Phase = 'idle' | 'restarting' | 'filling' | 'crashing' | 'reading' | 'done' | 'failed';

export interface Progress {
  phase: Phase;
  done: number;
  total: number;
}

export interface BlackFridayResult {
  carts: number;
  /** Carts whose last item was added on each server (sticky: where the cart lives). */
  filledOn: Record<string, number>;
  /** Carts that could not be filled at all (a refused or failed request): left out of the rest. */
  notFilled: number;
  crashed: string;
  crashedHow: string;
  intact: number;
  lost: number;
  /** Lost carts, by the server they were filled on. */
  lostFrom: Record<string, number>;
  /** Who answered the read-back (the crashed server's shoppers were sent elsewhere). */
  readBackBy: Record<string, number>;
  ms: number;
  /** Stateless: the session keys in Redis after the run (the shop adds it; null for sticky). */
  sessionsInRedis?: number | null;
}

export interface Crowd {
  /** The shop's URL: the crowd goes through the balancer like any visitor. */
  url: string;
  carts: number;
  /** Shoppers at once. */
  concurrency?: number;
  /** The fleet's part: a full fleet before, server-3 crashed in the middle. */
  restartAllDown(): Promise<void>;
  crash(id: string): Promise<{ how: string }>;
  onProgress(progress: Progress): void;
}

const BASKETS = [
  [macbook, iphone],
  [iphone, airpods],
  [macbook, airpods],
];

export async function blackFriday(crowd: Crowd): Promise<BlackFridayResult> {
  const started = performance.now();
  const concurrency = crowd.concurrency ?? 24;
  crowd.onProgress({ phase: 'restarting', done: 0, total: crowd.carts });
  await crowd.restartAllDown();

  const shoppers = Array.from({ length: crowd.carts }, (_, index) => ({
    visitor: new Visitor(),
    basket: BASKETS[index % BASKETS.length],
    filledOn: undefined as string | undefined,
  }));

  let done = 0;
  crowd.onProgress({ phase: 'filling', done, total: crowd.carts });
  await inParallel(shoppers, concurrency, async (shopper) => {
    let last: Answer | undefined;
    for (const item of shopper.basket) {
      last = await shopper.visitor.post(crowd, '/cart/items', item, 10_000).catch(() => undefined);
      if (last?.status !== 201) return;
    }
    shopper.filledOn = last?.servedBy ?? undefined;
    crowd.onProgress({ phase: 'filling', done: ++done, total: crowd.carts });
  });

  crowd.onProgress({ phase: 'crashing', done: 0, total: crowd.carts });
  const { how } = await crowd.crash(CRASHED_SERVER);

  const filled = shoppers.filter((shopper) => shopper.filledOn);
  const result: BlackFridayResult = {
    carts: filled.length,
    filledOn: {},
    notFilled: shoppers.length - filled.length,
    crashed: CRASHED_SERVER,
    crashedHow: how,
    intact: 0,
    lost: 0,
    lostFrom: {},
    readBackBy: {},
    ms: 0,
  };
  for (const shopper of filled) count(result.filledOn, shopper.filledOn as string);

  done = 0;
  crowd.onProgress({ phase: 'reading', done, total: filled.length });
  await inParallel(filled, concurrency, async (shopper) => {
    const answer = await shopper.visitor.get(crowd, '/cart', 10_000).catch(() => undefined);
    if (answer?.servedBy) count(result.readBackBy, answer.servedBy);
    if (answer?.status === 200 && sameItems(answer.body?.items, shopper.basket)) {
      result.intact += 1;
    } else {
      result.lost += 1;
      count(result.lostFrom, shopper.filledOn as string);
    }
    crowd.onProgress({ phase: 'reading', done: ++done, total: filled.length });
  });

  result.ms = Math.round(performance.now() - started);
  crowd.onProgress({ phase: 'done', done: filled.length, total: filled.length });
  return result;
}

function sameItems(items: unknown, basket: Array<{ name: string; price: number }>): boolean {
  return (
    Array.isArray(items) &&
    items.length === basket.length &&
    basket.every((item, index) => items[index]?.name === item.name && items[index]?.price === item.price)
  );
}

function count(tally: Record<string, number>, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1;
}

/** Runs `work` on every item, at most `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
