/**
 * Typed download failures. Each says what went wrong and what to do about it; none carries
 * a token or a request body, so they are safe to print in notebooks and logs. The base class
 * and the request failures are src/ee/errors.ts's, re-exported here: a download's caller
 * catches them all from one place.
 */
import { DownloadError } from "../ee/errors";

export {
  AuthorizationError,
  DownloadAbortedError,
  DownloadError,
  isAbortError,
  RequestError,
  throwIfAborted,
} from "../ee/errors";

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
