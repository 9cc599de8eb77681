/**
 * A byte budget for pixels in flight: a weighted semaphore that every computePixels request
 * acquires (its reply's size) before it is sent and gives back as its pixels reach the disk.
 *
 * The request limiter bounds requests, not bytes: 40 requests of 48 MiB each would hold ~2 GB.
 * One budget per session, shared by all its downloads, keeps memory at the budget whatever
 * the image size, the number of concurrent images, or the limiter's size.
 */
import { DownloadAbortedError, throwIfAborted } from "./errors";

/**
 * 160 MB: about ten 16 MB replies, enough to keep a loopback or fast link busy, and leaves
 * room for Node itself under a 300 MB process.
 */
export const DEFAULT_BYTE_BUDGET = 160 * 1024 * 1024;

export interface ByteBudgetStats {
  capacity: number;
  /** Bytes held now. */
  inUse: number;
  /** Most bytes ever held at once. */
  peak: number;
  /** Acquisitions waiting for room. */
  waiting: number;
}

/** What acquire() hands back: gives back some or all of the bytes; extra calls are no-ops. */
export interface BudgetGrant {
  /** Gives back `bytes` (default: all still held). */
  release(bytes?: number): void;
  /** Bytes still held. */
  readonly held: number;
}

interface Waiter {
  bytes: number;
  grant: () => void;
}

export class ByteBudget {
  readonly capacity: number;
  private inUse = 0;
  private peak = 0;
  private readonly queue: Waiter[] = [];

  constructor(capacity: number = DEFAULT_BYTE_BUDGET) {
    if (!(capacity > 0) || !Number.isFinite(capacity)) {
      throw new TypeError(`A byte budget must be a positive number of bytes, got ${capacity}.`);
    }
    this.capacity = capacity;
  }

  /**
   * Resolves once `bytes` fit in the budget. Waiters are served in order, so a large reply is
   * never starved by a stream of small ones; a request larger than the whole budget runs
   * alone rather than never.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<BudgetGrant> {
    throwIfAborted(signal);
    if (!(bytes >= 0) || !Number.isFinite(bytes)) {
      return Promise.reject(new TypeError(`Cannot reserve ${bytes} bytes.`));
    }
    return new Promise<BudgetGrant>((resolve, reject) => {
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new DownloadAbortedError(signal?.reason));
        this.pump();
      };
      const waiter: Waiter = {
        bytes,
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.grant(bytes));
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
      this.pump();
    });
  }

  stats(): ByteBudgetStats {
    return {
      capacity: this.capacity,
      inUse: this.inUse,
      peak: this.peak,
      waiting: this.queue.length,
    };
  }

  private grant(bytes: number): BudgetGrant {
    this.inUse += bytes;
    this.peak = Math.max(this.peak, this.inUse);
    let held = bytes;
    return {
      release: (n?: number) => {
        const give = Math.min(held, n ?? held);
        if (!(give > 0)) return;
        held -= give;
        this.inUse -= give;
        this.pump();
      },
      get held() {
        return held;
      },
    };
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (this.inUse > 0 && this.inUse + head.bytes > this.capacity) return;
      this.queue.shift();
      head.grant();
    }
  }
}

/** Downloads sharing a request limiter (one per session) share one budget by default. */
const budgets = new WeakMap<object, ByteBudget>();

export function sharedBudget(owner: object): ByteBudget {
  let budget = budgets.get(owner);
  if (!budget) {
    budget = new ByteBudget();
    budgets.set(owner, budget);
  }
  return budget;
}
