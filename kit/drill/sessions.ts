/**
 * Heavy-tailed session lengths for problem #3 (long sessions make hot servers under sticky routing).
 *
 * Distribution: a discrete Pareto (power law). A session makes L = floor(X) requests, X Pareto with
 * x_m = 1 and shape ALPHA = 1.2, capped at CAP requests: P(L ≥ n) = n^-1.2. So 56 % of visitors make
 * one request (they buy and leave), the median is 1, the mean about 4, and one visitor in a hundred
 * makes 46 or more (a few browse for a long time).
 *
 * Why Pareto, and why α = 1.2: measured web workloads have power-law tails in session length and
 * request counts (Crovella & Bestavros 1997, "Self-similarity in World Wide Web traffic": α between
 * 1.0 and 1.5 for ON times; Arlitt & Williamson 1996 for requests per session). With 1 < α < 2 the
 * mean exists but the variance does not: a sum of many sessions does not average out, so the servers
 * a few long sessions stick to stay hot however many visitors there are. A lognormal has every moment
 * and, with as many visitors as the drill has, would even out. The cap only bounds the drill's time.
 *
 * A seeded generator (mulberry32): the same --seed, the same crowd, run after run.
 */
export const ALPHA = 1.2;
export const CAP = 1000;

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `count` session lengths (requests per visitor), at least 1 each. */
export function sessionLengths(count: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const u = 1 - random(); // (0, 1]
    return Math.min(CAP, Math.max(1, Math.floor(u ** (-1 / ALPHA))));
  });
}

export interface LengthSummary {
  distribution: string;
  sessions: number;
  requests: number;
  mean: number;
  median: number;
  p99: number;
  max: number;
  /** Share of the requests made by the longest 1 % of sessions. */
  top1PercentShare: number;
}

export function summarize(lengths: number[]): LengthSummary {
  const sorted = [...lengths].sort((a, b) => a - b);
  const requests = sorted.reduce((sum, n) => sum + n, 0);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const top = sorted.slice(Math.floor(sorted.length * 0.99)).reduce((sum, n) => sum + n, 0);
  return {
    distribution: `discrete Pareto: floor(X), X ~ Pareto(x_m = 1, α = ${ALPHA}), capped at ${CAP} requests`,
    sessions: sorted.length,
    requests,
    mean: round(requests / Math.max(1, sorted.length)),
    median: at(0.5),
    p99: at(0.99),
    max: sorted.at(-1) ?? 0,
    top1PercentShare: round(top / Math.max(1, requests)),
  };
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
