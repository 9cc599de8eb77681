/**
 * The session's request scheduler: one per session, shared by every image and tile, so that
 * however many downloads run at once the project never exceeds Earth Engine's quotas.
 *
 * Defaults are Earth Engine's documented per-project limits for the REST API: 40 concurrent
 * requests and 100 requests per second; beyond either the service answers 429 and work is
 * wasted. Starts are spaced evenly (1000/maxPerSecond ms apart) rather than let through in
 * bursts, because a burst of 100 in one millisecond is exactly what a rate limiter punishes.
 *
 * Adaptive mode (AIMD, as TCP does for the same reason): start below the maximum, add about
 * one slot per window of successful requests, halve on a 429. At most one halving per window
 * of requests, so a single overload that fails many concurrent requests backs off once.
 */
import { DownloadAbortedError, throwIfAborted } from "./errors";

export interface LimiterClock {
  now(): number;
  /** Resolves after ms; rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface RequestLimiterOptions {
  /** Most requests in flight at once; default 40 (Earth Engine's concurrent-request quota). */
  maxInFlight?: number;
  /** Most request starts per second; default 100 (Earth Engine's request-rate quota). */
  maxPerSecond?: number;
  /** AIMD on 429s; `true` = { min: 1, max: maxInFlight, initial: half of max }. */
  adaptive?: boolean | { min?: number; max?: number; initial?: number };
  /** Injected time source, for tests. */
  clock?: LimiterClock;
}

export interface LimiterStats {
  /** Requests holding a slot now. */
  inFlight: number;
  /** Highest inFlight seen since creation. */
  maxInFlight: number;
  /** Requests waiting for a slot. */
  queued: number;
  /** Requests started since creation. */
  started: number;
  /** 429 replies seen. */
  throttled429: number;
  /** The concurrency limit in force (moves in adaptive mode). */
  currentLimit: number;
  /** The configured ceiling. */
  limit: number;
  maxPerSecond: number;
}

interface Waiter {
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export const DEFAULT_MAX_IN_FLIGHT = 40;
export const DEFAULT_MAX_PER_SECOND = 100;

export const systemClock: LimiterClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new DownloadAbortedError(signal.reason));
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(new DownloadAbortedError(signal?.reason));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

export class RequestLimiter {
  private readonly max: number;
  private readonly min: number;
  private readonly perSecond: number;
  private readonly interval: number;
  private readonly adaptive: boolean;
  private readonly clock: LimiterClock;
  private limit: number;
  private inFlight = 0;
  private peak = 0;
  private started = 0;
  private throttled = 0;
  private lastDecreaseSeq = -1;
  private nextStartAt = Number.NEGATIVE_INFINITY;
  private readonly queue: Waiter[] = [];

  constructor(options: RequestLimiterOptions = {}) {
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    const perSecond = options.maxPerSecond ?? DEFAULT_MAX_PER_SECOND;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new TypeError(`maxInFlight must be a positive integer, got ${maxInFlight}.`);
    }
    if (!(perSecond > 0)) {
      throw new TypeError(`maxPerSecond must be a positive number, got ${perSecond}.`);
    }
    this.perSecond = perSecond;
    this.interval = Number.isFinite(perSecond) ? 1000 / perSecond : 0;
    this.clock = options.clock ?? systemClock;
    const a = options.adaptive;
    this.adaptive = a !== undefined && a !== false;
    const cfg = typeof a === "object" ? a : {};
    this.max = Math.min(cfg.max ?? maxInFlight, maxInFlight);
    this.min = Math.max(1, Math.min(cfg.min ?? 1, this.max));
    this.limit = this.adaptive
      ? Math.min(this.max, Math.max(this.min, cfg.initial ?? Math.ceil(this.max / 2)))
      : this.max;
  }

  /**
   * Runs fn when a slot is free and the rate allows; the slot is held until fn settles. A
   * rejection with `status === 429` counts as throttling (adaptive mode backs off).
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    throwIfAborted(signal);
    const seq = await this.acquire(signal);
    try {
      const result = await fn();
      this.onSuccess();
      return result;
    } catch (error) {
      if ((error as { status?: unknown } | null)?.status === 429) this.noteThrottled(seq);
      throw error;
    } finally {
      this.release();
    }
  }

  /** Records a 429 for a request started as number `seq` (default: the latest). */
  noteThrottled(seq = this.started): void {
    this.throttled++;
    if (!this.adaptive || seq <= this.lastDecreaseSeq) return;
    this.limit = Math.max(this.min, this.limit / 2);
    this.lastDecreaseSeq = this.started;
  }

  stats(): LimiterStats {
    return {
      inFlight: this.inFlight,
      maxInFlight: this.peak,
      queued: this.queue.length,
      started: this.started,
      throttled429: this.throttled,
      currentLimit: Math.floor(this.limit),
      limit: this.max,
      maxPerSecond: this.perSecond,
    };
  }

  private onSuccess(): void {
    if (this.adaptive && this.limit < this.max) {
      this.limit = Math.min(this.max, this.limit + 1 / Math.floor(this.limit));
    }
  }

  private acquire(signal?: AbortSignal): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new DownloadAbortedError(signal.reason));
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < Math.floor(this.limit)) {
      const waiter = this.queue.shift() as Waiter;
      if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      this.inFlight++;
      const now = this.clock.now();
      const startAt = Math.max(now, this.nextStartAt);
      this.nextStartAt = startAt + this.interval;
      const begin = () => {
        this.started++;
        this.peak = Math.max(this.peak, this.inFlight);
        waiter.resolve(this.started);
      };
      if (startAt <= now) {
        begin();
        continue;
      }
      this.clock.sleep(startAt - now, waiter.signal).then(begin, (error: unknown) => {
        this.release();
        waiter.reject(error);
      });
    }
  }

  private release(): void {
    this.inFlight--;
    this.pump();
  }
}
