/**
 * Failures of requests to an Earth Engine backend (the transport, limiter and retry loop throw
 * these). They are DownloadErrors: every error a download throws on purpose, its requests'
 * included, is one. None carries a token or a request body, so they are safe to print.
 */

/** Base class: every error downloadImage throws on purpose is a DownloadError,
 * whether its requests or the download itself failed. */
export class DownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DownloadError";
  }
}

/**
 * A request failed. `retryable` decides whether the retry loop tries again; `split` means the
 * server refused what the window costs (its size, its memory, its compute time): retrying it
 * unchanged is useless, its halves may pass.
 */
export class RequestError extends DownloadError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly split: boolean;
  /** Seconds the server asked us to wait (Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    message: string,
    o: {
      status?: number;
      retryable: boolean;
      split?: boolean;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: o.cause });
    this.name = "RequestError";
    this.status = o.status;
    this.retryable = o.retryable;
    this.split = o.split ?? false;
    this.retryAfterSeconds = o.retryAfterSeconds;
  }
}

/** 401/403: the backend refused the credentials. Never retried. */
export class AuthorizationError extends RequestError {
  /** `fix` replaces the general advice when the cause is known (e.g. a raw token's end). */
  constructor(status: number, serverMessage: string, fix?: string) {
    super(
      `Earth Engine refused the token (HTTP ${status}: ${serverMessage}). ${fix ?? "Check EE_PROJECT and the credentials in .env (service-account key, ADC, or EE_ACCESS_TOKEN), that the project is registered for Earth Engine, and that the account has the Earth Engine Resource Viewer role; then reconnect."}`,
      { status, retryable: false },
    );
    this.name = "AuthorizationError";
  }
}

/** Thrown when an AbortSignal fires; keeps the signal's reason as cause. */
export class DownloadAbortedError extends DownloadError {
  constructor(reason?: unknown) {
    super("The download was aborted.", { cause: reason });
    this.name = "AbortError";
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DownloadAbortedError(signal.reason);
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}
