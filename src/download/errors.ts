/**
 * Typed download failures. Each says what went wrong and what to do about it; none carries
 * a token or a request body, so they are safe to print in notebooks and logs.
 */

/** Base class: every error downloadImage throws on purpose is a DownloadError. */
export class DownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DownloadError";
  }
}

/** The parameters cannot give a download (bad scale, empty region, ...): fix them and rerun. */
export class DownloadParameterError extends DownloadError {
  constructor(message: string) {
    super(message);
    this.name = "DownloadParameterError";
  }
}

/** The planned output is over the size cap; pass allowLarge: true to consent. */
export class OutputTooLargeError extends DownloadError {
  readonly estimatedBytes: number;
  readonly capBytes: number;
  constructor(estimatedBytes: number, capBytes: number, detail: string) {
    super(
      `The output would be about ${formatBytes(estimatedBytes)} (${detail}), over the ${formatBytes(
        capBytes,
      )} cap. Use a coarser scale or a smaller region, or pass { allowLarge: true } (or a larger maxOutputBytes) to download it anyway.`,
    );
    this.name = "OutputTooLargeError";
    this.estimatedBytes = estimatedBytes;
    this.capBytes = capBytes;
  }
}

/** An existing file at the output path does not match the planned grid. */
export class OutputExistsError extends DownloadError {
  constructor(path: string, reason: string) {
    super(
      `${path} already exists but is not the file this download would write (${reason}). Delete it or pass { overwrite: true }.`,
    );
    this.name = "OutputExistsError";
  }
}

/**
 * A request failed. `retryable` decides whether the retry loop tries again; `split` means the
 * server refused the window's size (retrying it unchanged is useless, its halves may pass).
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
  constructor(status: number, serverMessage: string) {
    super(
      `Earth Engine refused the token (HTTP ${status}: ${serverMessage}). Check EE_PROJECT and the credentials in .env (service-account key, ADC, or EE_ACCESS_TOKEN), that the project is registered for Earth Engine, and that the account has the Earth Engine Resource Viewer role; then reconnect.`,
      { status, retryable: false },
    );
    this.name = "AuthorizationError";
  }
}

/** The reply's bytes did not decode as the NPY array we asked for. */
export class ResponseFormatError extends DownloadError {
  constructor(message: string) {
    super(message);
    this.name = "ResponseFormatError";
  }
}

/**
 * A computePixels reply whose bands differ from the caller's `bands` hint. downloadImage
 * recovers by reading the image's metadata; the message says what to correct.
 */
export class BandsHintError extends ResponseFormatError {
  constructor(hint: string, reply: string) {
    super(
      `The bands hint (${hint}) does not match the image: computePixels answered ${reply}. Correct the hint or leave it out so the bands are read from the image's metadata (one more request per image).`,
    );
    this.name = "BandsHintError";
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

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
