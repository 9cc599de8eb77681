/**
 * The ideal makespan: how long a batch of requests takes when the client adds nothing, only
 * the emulator's cost model and quotas (src/emulator/costs.ts, server.ts). Benchmarks divide
 * it by what they measured, so a ratio of 1 means the client spent no time of its own on the
 * critical path.
 *
 * Cost of one request, as the emulator applies it (compute overlaps the latency; the body is
 * then written at the bandwidth):
 *
 *     T = latencyMs + msPerMegapixel * (width * height / 1e6) + bodyBytes / (bandwidthMBps * 1e6) s
 *
 * Scheduling constraints on N requests:
 *   - concurrency: at most p = min(k, q) in flight, k the client's limit, q the server's
 *     concurrent-request quota (a request beyond q is answered 429 at once, so an ideal
 *     client never sends it);
 *   - rate: at most r requests admitted in any sliding window of W = 1000 ms (the emulator's
 *     SlidingWindow): request i can start no earlier than W after request i - r started.
 *
 * Starting each request as early as both constraints allow (the greedy schedule,
 * `simulateMakespan`) is optimal for equal requests: any schedule can be rearranged so that
 * starts are sorted, and then no start can be earlier than greedy's. It is at least both
 *
 *     concurrency bound:  ceil(N / p) * T
 *     rate bound:         floor((N - 1) / r) * W + T
 *
 * and equals the larger of the two whenever one constraint never binds (e.g. N <= r, or
 * p * W / T <= r, as in every concurrency scenario here). For unequal requests the greedy
 * schedule in the given order is a lower bound within one request's time of the optimum.
 */

export interface CostModel {
  /** Fixed time per request, ms (round trip, queueing at the server). */
  latencyMs: number;
  /** Server compute per megapixel of the requested grid, ms. */
  msPerMegapixel: number;
  /** Reply bandwidth per request, MB/s (1 MB = 1e6 bytes); 0 or Infinity for unlimited. */
  bandwidthMBps: number;
  /** Server's concurrent-request quota; Infinity for none. */
  maxConcurrent: number;
  /** Server's request-rate quota, per second; Infinity for none. */
  maxRequestsPerSecond: number;
}

export interface RequestShape {
  width: number;
  height: number;
  /** Bytes of the reply body. */
  bytes: number;
}

/** Service time of one request under the model, ms. */
export function requestMs(model: CostModel, request: RequestShape): number {
  const megapixels = (request.width * request.height) / 1e6;
  const transferMs =
    Number.isFinite(model.bandwidthMBps) && model.bandwidthMBps > 0
      ? (request.bytes / (model.bandwidthMBps * 1e6)) * 1000
      : 0;
  return model.latencyMs + model.msPerMegapixel * megapixels + transferMs;
}

export interface Limits {
  /** Client's concurrency limit k. */
  concurrency: number;
  /** Server's concurrency quota q (Infinity if none). */
  quota: number;
  /** Rate quota r: requests admitted per sliding second (Infinity if none). */
  perSecond: number;
}

/** The emulator's rate window. */
export const RATE_WINDOW_MS = 1000;

/** Effective parallelism p = min(k, q). */
export function parallelism(limits: Limits): number {
  const p = Math.min(limits.concurrency, limits.quota);
  if (!(p >= 1)) throw new RangeError(`Parallelism must be at least 1, got ${p}.`);
  return Math.floor(p);
}

/** The two lower bounds above, for `count` equal requests of `serviceMs` each. */
export function makespanBounds(count: number, serviceMs: number, limits: Limits) {
  const p = parallelism(limits);
  const r = limits.perSecond;
  return {
    concurrency: Math.ceil(count / p) * serviceMs,
    rate: Number.isFinite(r) ? Math.floor((count - 1) / r) * RATE_WINDOW_MS + serviceMs : serviceMs,
  };
}

/** The ideal makespan of `count` equal requests of `serviceMs` each, ms. */
export function idealMakespanMs(count: number, serviceMs: number, limits: Limits): number {
  if (count <= 0) return 0;
  return simulateMakespan(new Array<number>(count).fill(serviceMs), limits);
}

/**
 * Greedy schedule of requests in order: each starts when a slot is free and, once r requests
 * have started, no earlier than W after the request r places before it. Returns the
 * makespan, ms.
 */
export function simulateMakespan(servicesMs: readonly number[], limits: Limits): number {
  const p = parallelism(limits);
  const r = Number.isFinite(limits.perSecond)
    ? Math.floor(limits.perSecond)
    : Number.POSITIVE_INFINITY;
  if (!(r >= 1))
    throw new RangeError(`The rate quota must be at least 1/s, got ${limits.perSecond}.`);
  // p is small (<= 40), so a linear scan for the earliest free slot is clearer than a heap.
  const freeAt = new Array<number>(Math.min(p, Math.max(1, servicesMs.length))).fill(0);
  const starts: number[] = [];
  let makespan = 0;
  for (const service of servicesMs) {
    let slot = 0;
    for (let i = 1; i < freeAt.length; i++) if (freeAt[i] < freeAt[slot]) slot = i;
    const i = starts.length;
    const rateReady = i >= r ? starts[i - r] + RATE_WINDOW_MS : 0;
    const start = Math.max(freeAt[slot], rateReady);
    starts.push(start);
    freeAt[slot] = start + service;
    makespan = Math.max(makespan, start + service);
  }
  return makespan;
}

/** Highest sustainable request rate, per second, for requests of `serviceMs` each. */
export function idealRequestRate(serviceMs: number, limits: Limits): number {
  const p = parallelism(limits);
  const byConcurrency = serviceMs > 0 ? (p * 1000) / serviceMs : Number.POSITIVE_INFINITY;
  return Math.min(byConcurrency, limits.perSecond);
}
