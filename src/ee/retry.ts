/**
 * When to try a failed request again and how long to wait. Transient failures (429, 5xx,
 * resets, timeouts, truncated bodies) are retried with exponential backoff and full jitter
 * (a uniformly random wait up to base*2^attempt), which spreads the retries of many
 * concurrent requests instead of sending them back in lockstep. Size refusals, "User memory
 * limit exceeded." and "Computation timed out." are not retried here (whatever status they
 * came with): the caller splits the window instead.
 */
import { isAbortError, RequestError } from "./errors";
import { systemClock } from "./limiter";

export interface RetryPolicy {
  /** Retries after the first attempt; default 6. */
  retries: number;
  /** First backoff ceiling; default 500 ms. */
  baseDelayMs: number;
  /** Backoff ceiling; default 30 s (six doublings of 500 ms, about Earth Engine's own advice). */
  maxDelayMs: number;
  /** A Retry-After above this is clamped, so a confused server cannot park a run for hours. */
  maxRetryAfterMs: number;
  random: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const defaultRetryPolicy: RetryPolicy = {
  retries: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 300_000,
  random: Math.random,
  sleep: systemClock.sleep,
};

export type FailureKind = "retry" | "split" | "fatal" | "abort";

/** Node/undici error codes of connections that broke or never got an answer. */
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

export function classifyFailure(error: unknown): FailureKind {
  if (isAbortError(error)) return "abort";
  if (error instanceof RequestError) {
    if (error.split) return "split";
    return error.retryable ? "retry" : "fatal";
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TRANSIENT_CODES.has(code)) return "retry";
  return "fatal";
}

/** Whether an HTTP status is worth retrying unchanged. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** The wait before retry number `attempt` (0-based), honouring a server's Retry-After. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  retryAfterSeconds?: number,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = policy.random() * ceiling;
  if (retryAfterSeconds !== undefined && retryAfterSeconds >= 0) {
    // The server's wait is a floor; a little jitter on top keeps retries from colliding.
    const floor = Math.min(retryAfterSeconds * 1000, policy.maxRetryAfterMs);
    return floor + policy.random() * Math.min(policy.baseDelayMs, ceiling);
  }
  return jittered;
}

/** Parses Retry-After (delta seconds or an HTTP date) into seconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - now) / 1000);
}

export interface RetryRun {
  signal?: AbortSignal;
  policy?: Partial<RetryPolicy>;
  /** Called before each wait, with the error that caused it. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * Calls attempt() until it succeeds, a failure is not transient, or retries run out; then
 * rethrows the last error. Split and fatal errors pass through at once.
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  run: RetryRun = {},
): Promise<T> {
  const policy = { ...defaultRetryPolicy, ...run.policy };
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (run.signal?.aborted) throw error;
      if (classifyFailure(error) !== "retry" || n >= policy.retries) throw error;
      const retryAfter = error instanceof RequestError ? error.retryAfterSeconds : undefined;
      const delayMs = backoffDelay(n, policy, retryAfter);
      run.onRetry?.({ attempt: n + 1, delayMs, error });
      await policy.sleep(delayMs, run.signal);
    }
  }
}
