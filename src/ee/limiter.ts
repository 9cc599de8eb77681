/**
 * The session's request scheduler: one per session, shared by every image and tile, so that
 * however many downloads run at once the project never exceeds Earth Engine's quotas.
 *
 * Defaults are Earth Engine's documented per-project limits for the REST API: 40 concurrent
 * requests and 100 requests per second; beyond either the service answers 429 and work is
 * wasted. The rate quota counts requests per sliding second and tolerates bursts, so starts
 * are not spaced evenly: up to maxPerSecond may start at once, and start number k+N waits
 * until start number k left the window (a sliding-window log of the last N starts).
 *
 * Adaptive mode, for projects whose concurrency quota is lower than the ceiling and unknown:
 * start low, add one slot per limit-many successes while the slots are all in use, and on a
 * 429 drop to one below the number of requests that were in flight when the server refused
 * (that number is what the server just showed it could not take). All 429s of requests that
 * were already running then belong to the same overload episode and do not back off again.
 * Only a 429 at a level that was already known to be safe (the quota shrank, or another
 * client shares it) backs off multiplicatively. Above the level that last failed, the limit
 * probes upwards slowly, so a steady run costs one refused request every few rounds, not one
 * per round.
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
  /** Most request starts in any sliding second; default 100 (Earth Engine's rate quota). */
  maxPerSecond?: number;
  /**
   * Adaptive concurrency on 429s; `true` = { min: 1, max: maxInFlight, initial: 8 }. See the
   * module comment for the rules.
   */
  adaptive?: boolean | { min?: number; max?: number; initial?: number };
  /** Injected time source, for tests. */
  clock?: LimiterClock;
}

export interface LimiterStats {
  /** Requests holding a slot now. */
  inFlight: number;
  /** Highest inFlight seen since creation. */
  maxInFlight: number;
  /** Requests waiting for a slot or for the rate window. */
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

/** A start: its number, and its entry in the rate window (-1 when the rate is unlimited). */
interface Start {
  seq: number;
  slot: number;
}

interface Waiter {
  resolve: (start: Start) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export const DEFAULT_MAX_IN_FLIGHT = 40;
export const DEFAULT_MAX_PER_SECOND = 100;
/**
 * The rate window is this much longer than a second. The quota is counted where requests
 * arrive; the window already counts each request from when it was sent (not when its slot
 * was granted, which can be tens of ms earlier on a busy event loop), and this margin covers
 * the rest: the server stamping arrivals late after a stall of its own, timers that fire a
 * rounding ms early. Measured against the emulator at 100/s with 1000 tiny downloads: 0 ms
 * gave ~3% 429s, 10 ms 0.3%, 20 ms 0-0.3% on a quiet machine (up to 3% on one with load 3.4
 * on 2 cores, where the server's own stalls are longer). 25 ms costs 2.4% of the rate.
 */
export const RATE_WINDOW_MARGIN_MS = 25;
/** Adaptive mode's first limit: below most projects' quota, so the first burst is not refused. */
const ADAPTIVE_INITIAL_LIMIT = 8;
/** Multiplicative decrease when a level once known to be safe is refused. */
const PERSISTENT_DECREASE = 0.8;
/** Above the level that last failed, grow one slot per this many rounds of the limit. */
const PROBE_ROUNDS = 8;

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
  /** Starts allowed per window; Infinity when the rate is unlimited. */
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly adaptive: boolean;
  private readonly clock: LimiterClock;
  private limit: number;
  private inFlight = 0;
  private peak = 0;
  private started = 0;
  private throttled = 0;
  /**
   * One entry per start the window allows: when it started, or later, when its request was
   * actually sent. A new start takes the entry that left the window.
   */
  private readonly starts: number[] = [];
  /** Bumped when an entry is reused, so a late `sent` cannot move another start's time. */
  private readonly generations: number[] = [];
  private rateTimer = false;
  /** Requests numbered up to this were in flight at the last decrease: the same episode. */
  private episodeEndSeq = 0;
  /** The limit an episode started from, so one episode at most halves it. */
  private episodeFromLimit = 0;
  /** The limit set by the last decrease: a level the server has accepted. */
  private safeLimit = 0;
  /** In-flight count at the last refusal; growth beyond it is slow. */
  private failedLevel = Number.POSITIVE_INFINITY;
  private credit = 0;
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
    if (Number.isFinite(perSecond)) {
      // A fractional rate (0.5/s) becomes whole starts per longer window (1 per 2 s).
      this.burst = Math.max(1, Math.floor(perSecond));
      this.windowMs = (this.burst * 1000) / perSecond + RATE_WINDOW_MARGIN_MS;
    } else {
      this.burst = Number.POSITIVE_INFINITY;
      this.windowMs = 0;
    }
    this.clock = options.clock ?? systemClock;
    const a = options.adaptive;
    this.adaptive = a !== undefined && a !== false;
    const cfg = typeof a === "object" ? a : {};
    this.max = Math.min(cfg.max ?? maxInFlight, maxInFlight);
    this.min = Math.max(1, Math.min(cfg.min ?? 1, this.max));
    this.limit = this.adaptive
      ? Math.min(this.max, Math.max(this.min, Math.floor(cfg.initial ?? ADAPTIVE_INITIAL_LIMIT)))
      : this.max;
  }

  /**
   * Runs fn when a slot is free and the rate allows; the slot is held until fn settles. A
   * rejection with `status === 429` counts as throttling (adaptive mode backs off).
   */
  async run<T>(fn: (sent: () => void) => Promise<T>, signal?: AbortSignal): Promise<T> {
    throwIfAborted(signal);
    const { seq, slot } = await this.acquire(signal);
    const generation = slot >= 0 ? this.generations[slot] : 0;
    // The server counts a request when it arrives, and a request can leave well after its
    // start when the event loop is busy: the window then counts it from when it was sent.
    const sent = () => {
      if (slot < 0 || this.generations[slot] !== generation) return;
      this.starts[slot] = Math.max(this.starts[slot], this.clock.now());
    };
    try {
      const result = await fn(sent);
      this.onSuccess();
      return result;
    } catch (error) {
      if ((error as { status?: unknown } | null)?.status === 429) this.noteThrottled(seq);
      throw error;
    } finally {
      this.release();
    }
  }

  /**
   * Records a 429 for the request started as number `seq` (default: the latest), answered
   * while `inFlight` requests (itself included) were running (default: now).
   */
  noteThrottled(seq = this.started, inFlight = this.inFlight): void {
    this.throttled++;
    if (!this.adaptive) return;
    const shown = Math.max(this.min, inFlight - 1);
    if (seq <= this.episodeEndSeq) {
      // A request that was already running when we backed off: its refusal is the same
      // overload, so only tighten to what it shows, never below half the episode's start.
      const floor = Math.max(this.min, Math.floor(this.episodeFromLimit / 2));
      this.setLimit(Math.max(floor, Math.min(this.limit, shown)));
      return;
    }
    this.episodeEndSeq = this.started;
    this.episodeFromLimit = this.limit;
    this.failedLevel = inFlight;
    // Refused at a level the server accepted before: the quota shrank or is shared, and the
    // in-flight count no longer tells the quota, so back off multiplicatively.
    const next =
      inFlight <= this.safeLimit
        ? Math.min(shown, Math.floor(this.limit * PERSISTENT_DECREASE))
        : Math.min(this.limit, shown);
    this.setLimit(next);
    this.safeLimit = this.limit;
  }

  stats(): LimiterStats {
    return {
      inFlight: this.inFlight,
      maxInFlight: this.peak,
      queued: this.queue.length,
      started: this.started,
      throttled429: this.throttled,
      currentLimit: this.limit,
      limit: this.max,
      maxPerSecond: this.perSecond,
    };
  }

  private setLimit(limit: number): void {
    this.limit = Math.max(this.min, Math.min(this.max, Math.floor(limit)));
    this.credit = 0;
  }

  private onSuccess(): void {
    // Grow only when every slot was in use: a limit that was never reached proves nothing.
    if (!this.adaptive || this.limit >= this.max || this.inFlight < this.limit) return;
    this.credit++;
    const rounds = this.limit + 1 >= this.failedLevel ? PROBE_ROUNDS : 1;
    if (this.credit >= rounds * this.limit) {
      this.setLimit(this.limit + 1);
      this.pump();
    }
  }

  private acquire(signal?: AbortSignal): Promise<Start> {
    return new Promise<Start>((resolve, reject) => {
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

  /** The entry that leaves the window first, or -1 while the window has room to spare. */
  private oldestSlot(): number {
    if (this.starts.length < this.burst) return -1;
    let oldest = 0;
    for (let i = 1; i < this.starts.length; i++) {
      if (this.starts[i] < this.starts[oldest]) oldest = i;
    }
    return oldest;
  }

  /** Takes a window entry for a start now and returns its index. */
  private recordStart(now: number, oldest: number): number {
    if (!Number.isFinite(this.burst)) return -1;
    if (oldest < 0) {
      this.starts.push(now);
      this.generations.push(0);
      return this.starts.length - 1;
    }
    this.starts[oldest] = now;
    this.generations[oldest]++;
    return oldest;
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.limit) {
      const now = this.clock.now();
      const oldest = this.oldestSlot();
      const at = oldest < 0 ? now : Math.max(now, this.starts[oldest] + this.windowMs);
      if (at > now) {
        // Waiters stay queued (and abortable) while the window is full; one timer re-pumps.
        if (!this.rateTimer) {
          this.rateTimer = true;
          this.clock.sleep(at - now).then(() => {
            this.rateTimer = false;
            this.pump();
          });
        }
        return;
      }
      const waiter = this.queue.shift() as Waiter;
      if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      const slot = this.recordStart(now, oldest);
      this.inFlight++;
      this.started++;
      this.peak = Math.max(this.peak, this.inFlight);
      waiter.resolve({ seq: this.started, slot });
    }
  }

  private release(): void {
    this.inFlight--;
    this.pump();
  }
}
