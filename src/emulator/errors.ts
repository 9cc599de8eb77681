/**
 * Errors the emulator answers with, in Earth Engine's REST shape
 * `{"error": {"code", "message", "status"}}`: the official client surfaces `message` only, so
 * messages carry everything a user needs (what failed and what to change).
 */
import { UnsupportedCrsError } from "../core/crs";

export type EeStatus =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DEADLINE_EXCEEDED";

export class EeApiError extends Error {
  readonly httpStatus: number;
  readonly status: EeStatus;

  constructor(httpStatus: number, status: EeStatus, message: string) {
    super(message);
    this.name = "EeApiError";
    this.httpStatus = httpStatus;
    this.status = status;
  }

  toJSON(): { error: { code: number; message: string; status: EeStatus } } {
    return { error: { code: this.httpStatus, message: this.message, status: this.status } };
  }
}

/**
 * The base of every error that means "the request is wrong" (a bad band, grid, CRS, format):
 * the server answers these 400 INVALID_ARGUMENT with the error's message, by class, whatever
 * thread threw it. Subclasses keep their own names for logs and tests.
 */
export class EmulatorInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EmulatorInputError";
  }
}

/** An image operation's arguments do not fit the image; the message is Earth Engine-like. */
export class ImageOperationError extends EmulatorInputError {
  constructor(message: string) {
    super(message);
    this.name = "ImageOperationError";
  }
}

/**
 * The request's fault as an EmulatorInputError, or undefined when `error` is not about input.
 * Core's UnsupportedCrsError is shared with the product and cannot extend an emulator class,
 * so it is adopted here: a CRS the emulator cannot project is a bad request too.
 */
export function asInputError(error: unknown): EmulatorInputError | undefined {
  if (error instanceof EmulatorInputError) return error;
  if (error instanceof UnsupportedCrsError) {
    const adopted = new EmulatorInputError(error.message);
    adopted.name = error.name;
    return adopted;
  }
  return undefined;
}

/** A 400 for anything wrong with the request itself (Earth Engine's most common error). */
export function invalidArgument(message: string): EeApiError {
  return new EeApiError(400, "INVALID_ARGUMENT", message);
}

export function notFound(message: string): EeApiError {
  return new EeApiError(404, "NOT_FOUND", message);
}

export function resourceExhausted(message: string): EeApiError {
  return new EeApiError(429, "RESOURCE_EXHAUSTED", message);
}

/**
 * A function Earth Engine has (it is in the catalog, so every client offers it) that the
 * emulator cannot evaluate: the message names it, so the user knows what to avoid.
 */
export function notImplemented(functionName: string): EeApiError {
  return invalidArgument(
    `${functionName} is not implemented by the ee-snippets emulator (Earth Engine has it; the emulator evaluates only the functions listed in src/emulator/README.md). Run this against Earth Engine itself, or express it with implemented functions.`,
  );
}

/** A function Earth Engine does not have at all: the official clients' own wording. */
export function unknownAlgorithm(functionName: string): EeApiError {
  return invalidArgument(`Unknown algorithm: ${functionName}.`);
}

/** Earth Engine's wording for missing assets; it answers 400 (not 404) for these in computations. */
export function assetNotFound(
  caller: "Image.load" | "ImageCollection.load",
  kind: "Image" | "ImageCollection",
  id: string,
): EeApiError {
  return invalidArgument(
    `${caller}: ${kind} asset '${id}' not found (does not exist or caller does not have access).`,
  );
}
