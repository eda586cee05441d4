/**
 * The Black Friday drill, one design at a time (issue 13). Every request is real: a crowd of visitors
 * with cookie jars, through lesson 04's balancer, to shop servers that are real processes.
 *
 *   1 fill       N visitors each fill a cart with 1–5 items, at most `concurrency` requests at once
 *   2 crash      server #3 (the last one in a smaller fleet) is SIGKILLed, then restarted on its port
 *   3 read back  every visitor reads their cart with their cookie: lost unless exactly what was put in
 *   4 rolling    every server in turn: SIGTERM (it drains), restarted, healthy, next (lesson 05's
 *                rules), while other visitors keep adding items; then lost items and failed requests
 *   5 imbalance  a crowd with heavy-tailed session lengths (./sessions.ts): per server, requests and
 *                concurrent sessions, as max/mean
 */
import type { EmbeddedRedis } from '../redis/embedded';
import type { serverProcesses } from '../spec/processes';
import { airpods, iphone, macbook } from '../spec/shop';
import { Crowd, inParallel, type Reply, Shopper } from './client';
import { DESIGN_LABEL, type Design, startFleet } from './fleet';
import { round, seededRandom, sessionLengths } from './sessions';

export interface DrillOptions {
  carts: number;
  servers: number;
  concurrency: number;
  mine: boolean;
  seed: number;
}

export type PhaseName = 'start' | 'fill' | 'crash' | 'read back' | 'rolling restart' | 'imbalance';
export const PHASES: readonly PhaseName[] = [
  'start',
  'fill',
  'crash',
  'read back',
  'rolling restart',
  'imbalance',
];

export interface Progress {
  design: Design;
  phase: PhaseName;
  done: number;
  total: number;
}

export interface PhaseEnd {
  design: Design;
  phase: PhaseName;
  ms: number;
  summary: string;
}

export interface Hooks {
  progress(progress: Progress): void;
  phaseDone(end: PhaseEnd): void;
  aborted(): boolean;
}

export interface DesignResult {
  design: Design;
  label: string;
  servers: string[];
  fill: {
    carts: number;
    filled: number;
    notFilled: number;
    items: number;
    requests: number;
    failedRequests: number;
    failedBy: Record<string, number>;
    /** Carts by the server that answered their last add (sticky: where the cart lives). */
    filledOn: Record<string, number>;
    /**
     * Carts whose adds were answered by more than one server: the balancer sent the visitor
     * elsewhere mid-fill (a health check that timed out on a busy machine). Under sticky + memory
     * sessions such a cart is split between servers, and reads back changed from any of them.
     */
    moved: number;
    ms: number;
  };
  crash: { server: string; signal: 'SIGKILL'; restartMs: number };
  readBack: {
    read: number;
    intact: number;
    lost: number;
    lostPercent: number;
    lostFrom: Record<string, number>;
    /** Carts filled on the crashed server: what sticky routing puts at risk. */
    onCrashedServer: number;
    failedRequests: number;
    failedBy: Record<string, number>;
    ms: number;
  };
  rolling: {
    visitors: number;
    /** Adds sent while the servers restarted one after the other. */
    requests: number;
    failedRequests: number;
    failedBy: Record<string, number>;
    /** The balancer's own words for each attempt that failed (e.g. "POST ECONNRESET"): why the adds failed. */
    balancerSaw: Record<string, number>;
    /** Items that were answered 201 (before or during the restart). */
    itemsAcknowledged: number;
    lostItems: number;
    lostItemsPercent: number;
    restarts: Array<{ server: string; exit: string; ms: number }>;
    ms: number;
  };
  imbalance: {
    sessions: number;
    requests: number;
    failedRequests: number;
    requestsPerServer: Record<string, number>;
    /** Time-averaged visitor sessions in progress whose latest request each server answered. */
    concurrentSessionsPerServer: Record<string, number>;
    requestsMaxOverMean: number;
    concurrentMaxOverMean: number;
    ms: number;
  };
  wallMs: number;
}

const ITEMS = [macbook, iphone, airpods];

interface Cart {
  shopper: Shopper;
  items: Array<{ name: string; price: number }>;
  filledOn: string;
  /** Answered its adds from more than one server. */
  moved: boolean;
  failed: boolean;
}

export async function runDesign(
  design: Design,
  options: DrillOptions,
  processes: ReturnType<typeof serverProcesses>,
  redis: EmbeddedRedis | undefined,
  hooks: Hooks,
): Promise<DesignResult> {
  const started = performance.now();
  const { carts, concurrency, seed } = options;
  let phaseStarted = performance.now();
  const end = (phase: PhaseName, summary: string) => {
    const now = performance.now();
    hooks.phaseDone({ design, phase, ms: Math.round(now - phaseStarted), summary });
    phaseStarted = now;
  };
  const progress = (phase: PhaseName, done: number, total: number) =>
    hooks.progress({ design, phase, done, total });
  const stop = () => hooks.aborted();

  progress('start', 0, options.servers + 1);
  const fleet = await startFleet({ design, servers: options.servers, mine: options.mine, redis, processes });
  const crashedIndex = Math.min(2, options.servers - 1);
  const crashed = fleet.ids[crashedIndex] as string;
  end('start', `${options.servers} servers and the balancer up`);
  const crowd = new Crowd(fleet.url, concurrency);
  try {
    // ── 1. fill ───────────────────────────────────────────────────────────────────────────────────
    // The same carts for both designs, whatever order they run in.
    const random = seededRandom(seed + 1);
    const cartsToFill: Cart[] = Array.from({ length: carts }, (_, index) => {
      const size = 1 + Math.floor(random() * 5);
      return {
        shopper: new Shopper(),
        items: Array.from({ length: size }, (_, i) => ({
          ...(ITEMS[(index + i) % ITEMS.length] as { name: string; price: number }),
          price: 1 + ((index * 7 + i) % 2000),
        })),
        filledOn: '',
        moved: false,
        failed: false,
      };
    });
    let done = 0;
    let fillRequests = 0;
    const fillFailures: string[] = [];
    progress('fill', 0, carts);
    await inParallel(
      cartsToFill,
      concurrency,
      async (cart) => {
        for (const item of cart.items) {
          fillRequests += 1;
          const reply = await crowd.send(cart.shopper, 'POST', '/cart/items', item);
          if (reply.status !== 201) {
            fillFailures.push(reply.status === 0 ? (reply.error ?? 'no answer') : String(reply.status));
            cart.failed = true;
            break;
          }
          if (cart.filledOn && reply.servedBy !== cart.filledOn) cart.moved = true;
          cart.filledOn = reply.servedBy;
        }
        done += 1;
        if (done % 25 === 0) progress('fill', done, carts);
      },
      stop,
    );
    const filled = cartsToFill.filter((cart) => !cart.failed && cart.filledOn);
    const fill: DesignResult['fill'] = {
      carts,
      filled: filled.length,
      notFilled: carts - filled.length,
      items: filled.reduce((sum, cart) => sum + cart.items.length, 0),
      requests: fillRequests,
      failedRequests: fillFailures.length,
      failedBy: tally(fillFailures),
      filledOn: tally(filled.map((cart) => cart.filledOn)),
      moved: filled.filter((cart) => cart.moved).length,
      ms: 0,
    };
    fill.ms = Math.round(performance.now() - phaseStarted);
    end(
      'fill',
      `${fill.filled} carts filled (${fill.items} items, ${fill.requests} requests, ${fill.failedRequests} failed)` +
        (fill.moved ? `; ${fill.moved} moved to another server mid-fill by the balancer` : ''),
    );
    aborting(stop);

    // ── 2. crash ──────────────────────────────────────────────────────────────────────────────────
    progress('crash', 0, 2);
    await fleet.kill(crashedIndex);
    progress('crash', 1, 2);
    const restartStarted = performance.now();
    await fleet.restart(crashedIndex);
    const crash: DesignResult['crash'] = {
      server: crashed,
      signal: 'SIGKILL',
      restartMs: Math.round(performance.now() - restartStarted),
    };
    end('crash', `${crashed} SIGKILLed, restarted on its port in ${crash.restartMs} ms`);
    aborting(stop);

    // ── 3. read back ──────────────────────────────────────────────────────────────────────────────
    done = 0;
    let intact = 0;
    const readFailures: string[] = [];
    const lostFrom: string[] = [];
    progress('read back', 0, filled.length);
    await inParallel(
      filled,
      concurrency,
      async (cart) => {
        const reply = await crowd.send(cart.shopper, 'GET', '/cart');
        if (reply.status !== 200)
          readFailures.push(reply.status === 0 ? (reply.error ?? 'no answer') : String(reply.status));
        if (reply.status === 200 && sameItems(reply, cart.items)) intact += 1;
        else lostFrom.push(cart.filledOn);
        done += 1;
        if (done % 25 === 0) progress('read back', done, filled.length);
      },
      stop,
    );
    aborting(stop);
    const readBack: DesignResult['readBack'] = {
      read: filled.length,
      intact,
      lost: filled.length - intact,
      lostPercent: round((100 * (filled.length - intact)) / Math.max(1, filled.length), 1),
      lostFrom: tally(lostFrom),
      onCrashedServer: fill.filledOn[crashed] ?? 0,
      failedRequests: readFailures.length,
      failedBy: tally(readFailures),
      ms: Math.round(performance.now() - phaseStarted),
    };
    end(
      'read back',
      `${readBack.lost} of ${readBack.read} carts lost (${readBack.lostPercent} %); ${readBack.onCrashedServer} had been filled on ${crashed}`,
    );

    // ── 4. rolling restart ────────────────────────────────────────────────────────────────────────
    const rolling = await rollingRestart(fleet, crowd, Math.min(carts, 1000), concurrency, hooks, design);
    end(
      'rolling restart',
      `${rolling.lostItems} of ${rolling.itemsAcknowledged} items lost, ${rolling.failedRequests} of ${rolling.requests} adds failed`,
    );
    aborting(stop);

    // ── 5. imbalance ──────────────────────────────────────────────────────────────────────────────
    const imbalance = await crowdImbalance(
      fleet.ids,
      crowd,
      Math.min(carts, 2000),
      concurrency,
      seed,
      hooks,
      design,
    );
    end(
      'imbalance',
      `max/mean: requests ${imbalance.requestsMaxOverMean}, concurrent sessions ${imbalance.concurrentMaxOverMean}`,
    );
    aborting(stop);

    return {
      design,
      label: DESIGN_LABEL[design],
      servers: fleet.ids,
      fill,
      crash,
      readBack,
      rolling,
      imbalance,
      wallMs: Math.round(performance.now() - started),
    };
  } finally {
    crowd.close();
  }
}

async function rollingRestart(
  fleet: Awaited<ReturnType<typeof startFleet>>,
  crowd: Crowd,
  visitors: number,
  concurrency: number,
  hooks: Hooks,
  design: Design,
): Promise<DesignResult['rolling']> {
  const started = performance.now();
  const shoppers = Array.from({ length: visitors }, () => ({
    shopper: new Shopper(),
    acknowledged: [] as string[],
  }));
  let n = 0;
  const add = async (one: (typeof shoppers)[number]): Promise<Reply> => {
    n += 1;
    const item = { name: `rolling item ${n}`, price: 1 + (n % 1000) };
    const reply = await crowd.send(one.shopper, 'POST', '/cart/items', item);
    if (reply.status === 201) one.acknowledged.push(item.name);
    return reply;
  };
  // Everyone has a cart before the deploy starts.
  await inParallel(shoppers, concurrency, async (one) => void (await add(one)), hooks.aborted);

  const logFrom = fleet.balancerOutput().length;
  let deploying = true;
  let requests = 0;
  const failedBy: string[] = [];
  const restarts: DesignResult['rolling']['restarts'] = [];
  const deploy = (async () => {
    try {
      for (let index = 0; index < fleet.ids.length && !hooks.aborted(); index++) {
        hooks.progress({ design, phase: 'rolling restart', done: index, total: fleet.ids.length });
        const stepStarted = performance.now();
        const exit = await fleet.stopGracefully(index);
        await fleet.restart(index);
        restarts.push({
          server: fleet.ids[index] as string,
          exit: exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`,
          ms: Math.round(performance.now() - stepStarted),
        });
      }
      hooks.progress({ design, phase: 'rolling restart', done: fleet.ids.length, total: fleet.ids.length });
    } finally {
      deploying = false;
    }
  })();
  // The shoppers keep adding, in turn, for as long as the deploy lasts. Each worker has shoppers of
  // its own (every `workers`-th one): a shopper is one tab, one add at a time. Shared, a request held
  // up by a draining server would meet the same shopper's next add from another worker, and lesson
  // 06's lost update (two read-modify-writes of one session) would be counted as the restart's loss.
  const workers = Math.min(concurrency, shoppers.length);
  const shopping = Array.from({ length: workers }, async (_, worker) => {
    const mine = shoppers.filter((_, i) => i % workers === worker);
    for (let turn = 0; deploying && !hooks.aborted(); turn++) {
      const one = mine[turn % mine.length] as (typeof shoppers)[number];
      requests += 1;
      const reply = await add(one);
      if (reply.status !== 201)
        failedBy.push(reply.status === 0 ? (reply.error ?? 'no answer') : String(reply.status));
    }
  });
  await Promise.all([deploy, ...shopping]);

  const balancerSaw = [
    ...fleet
      .balancerOutput()
      .slice(logFrom)
      .matchAll(/\] (\w+) \S+ → \S+: (\S+)/g),
  ].map((match) => `${match[1]} ${match[2]}`);
  let lostItems = 0;
  let acknowledged = 0;
  await inParallel(
    shoppers,
    concurrency,
    async (one) => {
      acknowledged += one.acknowledged.length;
      const reply = await crowd.send(one.shopper, 'GET', '/cart');
      const names = new Set(reply.status === 200 ? cartItems(reply).map((item) => item.name) : []);
      lostItems += one.acknowledged.filter((name) => !names.has(name)).length;
    },
    hooks.aborted,
  );
  return {
    visitors,
    requests,
    failedRequests: failedBy.length,
    failedBy: tally(failedBy),
    balancerSaw: tally(balancerSaw),
    itemsAcknowledged: acknowledged,
    lostItems,
    lostItemsPercent: round((100 * lostItems) / Math.max(1, acknowledged), 1),
    restarts,
    ms: Math.round(performance.now() - started),
  };
}

async function crowdImbalance(
  ids: string[],
  crowd: Crowd,
  sessions: number,
  concurrency: number,
  seed: number,
  hooks: Hooks,
  design: Design,
): Promise<DesignResult['imbalance']> {
  const started = performance.now();
  const lengths = sessionLengths(sessions, seed);
  const total = lengths.reduce((sum, n) => sum + n, 0);
  const requestsPer = Object.fromEntries(ids.map((id) => [id, 0])) as Record<string, number>;
  const sessionSums = Object.fromEntries(ids.map((id) => [id, 0])) as Record<string, number>;
  /** Each session in progress: the server that answered its latest request. */
  const inProgress = new Map<number, string>();
  let samples = 0;
  const sample = setInterval(() => {
    samples += 1;
    for (const server of inProgress.values()) sessionSums[server] = (sessionSums[server] ?? 0) + 1;
  }, 10);
  let done = 0;
  let failed = 0;
  try {
    await inParallel(
      lengths,
      concurrency,
      async (length, index) => {
        const shopper = new Shopper();
        for (let i = 0; i < length && !hooks.aborted(); i++) {
          // The first request puts something in the cart (a session begins); then they browse, and
          // every fifth request buys one more thing.
          const reply =
            i === 0 || i % 5 === 4
              ? await crowd.send(shopper, 'POST', '/cart/items', { name: `crowd ${index}.${i}`, price: 10 })
              : await crowd.send(shopper, 'GET', '/cart');
          if (reply.status >= 200 && reply.status < 300 && reply.servedBy) {
            requestsPer[reply.servedBy] = (requestsPer[reply.servedBy] ?? 0) + 1;
            inProgress.set(index, reply.servedBy);
          } else {
            failed += 1;
          }
          done += 1;
          if (done % 50 === 0) hooks.progress({ design, phase: 'imbalance', done, total });
        }
        inProgress.delete(index);
      },
      hooks.aborted,
    );
  } finally {
    clearInterval(sample);
  }
  const concurrent = Object.fromEntries(
    Object.entries(sessionSums).map(([id, sum]) => [id, round(sum / Math.max(1, samples), 2)]),
  );
  return {
    sessions,
    requests: done,
    failedRequests: failed,
    requestsPerServer: requestsPer,
    concurrentSessionsPerServer: concurrent,
    requestsMaxOverMean: maxOverMean(Object.values(requestsPer)),
    concurrentMaxOverMean: maxOverMean(Object.values(concurrent)),
    ms: Math.round(performance.now() - started),
  };
}

export function maxOverMean(values: number[]): number {
  const mean = values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
  return mean > 0 ? round(Math.max(...values) / mean, 2) : 0;
}

function cartItems(reply: Reply): Array<{ name: string; price: number }> {
  try {
    const body = JSON.parse(reply.body) as { items?: Array<{ name: string; price: number }> };
    return Array.isArray(body.items) ? body.items : [];
  } catch {
    return [];
  }
}

function sameItems(reply: Reply, expected: Array<{ name: string; price: number }>): boolean {
  const items = cartItems(reply);
  return (
    items.length === expected.length &&
    expected.every((item, i) => items[i]?.name === item.name && items[i]?.price === item.price)
  );
}

function tally(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

export class DrillAborted extends Error {
  constructor() {
    super('the drill was interrupted');
  }
}

function aborting(stop: () => boolean): void {
  if (stop()) throw new DrillAborted();
}
