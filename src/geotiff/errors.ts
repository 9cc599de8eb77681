/**
 * Typed GeoTIFF writing failures. Each names the file or tile concerned and says what to do
 * next, so a notebook user can act on the message alone.
 */

/** Base class: every error the geotiff module throws on purpose is a GeoTiffError. */
export class GeoTiffError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GeoTiffError";
  }
}

/** The GeoTiffSpec cannot describe a valid file (bad size, CRS, tile size, ...). */
export class GeoTiffSpecError extends GeoTiffError {
  constructor(message: string) {
    super(message);
    this.name = "GeoTiffSpecError";
  }
}

/** A tile or window does not fit the image, has the wrong size or type, or was written twice. */
export class GeoTiffTileError extends GeoTiffError {
  constructor(message: string) {
    super(message);
    this.name = "GeoTiffTileError";
  }
}

/** The output path exists and overwrite was not requested. */
export class GeoTiffExistsError extends GeoTiffError {
  readonly path: string;
  readonly code = "EEXIST";
  constructor(path: string, detail?: string) {
    super(
      `${path} already exists. Delete it, choose another path, or pass { overwrite: true } to replace it.${
        detail ? ` ${detail}` : ""
      }`,
    );
    this.name = "GeoTiffExistsError";
    this.path = path;
  }
}

/** The output directory is missing, not a directory, or not writable. */
export class GeoTiffDirectoryError extends GeoTiffError {
  readonly directory: string;
  constructor(directory: string, reason: string, cause?: unknown) {
    super(`Cannot write GeoTIFFs into ${directory}: ${reason}.`, { cause });
    this.name = "GeoTiffDirectoryError";
    this.directory = directory;
  }
}

/** The disk filled up while writing; the temporary file has been deleted. */
export class GeoTiffDiskFullError extends GeoTiffError {
  readonly path: string;
  /** Bytes already in the temporary file when the write failed. */
  readonly bytesWritten: number;
  /** Estimated size of the finished file, extrapolated from the tiles compressed so far. */
  readonly bytesNeeded: number;
  /** Free bytes on the device when the write failed, when the OS said. */
  readonly bytesFree: number | undefined;
  constructor(
    path: string,
    o: { bytesWritten: number; bytesNeeded: number; bytesFree?: number; cause?: unknown },
  ) {
    const free = o.bytesFree === undefined ? "" : `, ${formatBytes(o.bytesFree)} free`;
    super(
      `The disk is full: writing ${path} needs about ${formatBytes(o.bytesNeeded)} (${formatBytes(
        o.bytesWritten,
      )} written before the failure${free}). The partial file was deleted; free some space or choose another directory, then retry.`,
      { cause: o.cause },
    );
    this.name = "GeoTiffDiskFullError";
    this.path = path;
    this.bytesWritten = o.bytesWritten;
    this.bytesNeeded = o.bytesNeeded;
    this.bytesFree = o.bytesFree;
  }
}

/** finish() was called before every tile was written. */
export class GeoTiffIncompleteError extends GeoTiffError {
  /** [col, row] of each tile with no data at all. */
  readonly missing: [number, number][];
  /** [col, row] of each tile that writeWindow filled only in part. */
  readonly partial: [number, number][];
  constructor(
    path: string,
    missing: [number, number][],
    partial: [number, number][],
    total: number,
  ) {
    const list = (tiles: [number, number][]) =>
      tiles
        .slice(0, 8)
        .map(([c, r]) => `(${c},${r})`)
        .join(", ") + (tiles.length > 8 ? `, ... (${tiles.length} in all)` : "");
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing tiles (col,row) ${list(missing)}`);
    if (partial.length > 0) parts.push(`partly written tiles ${list(partial)}`);
    super(
      `${path} is incomplete: ${parts.join("; ")} of ${total}. Write them (writeTile/writeWindow) and call finish() again, or abort().`,
    );
    this.name = "GeoTiffIncompleteError";
    this.missing = missing;
    this.partial = partial;
  }
}

/** A classic TIFF cannot hold offsets past 4 GiB. */
export class GeoTiffTooLargeError extends GeoTiffError {
  constructor(path: string, bytes: number) {
    super(
      `${path} would pass 4 GiB (${formatBytes(bytes)} so far), the limit of classic TIFF. Open it with bigTiff: true or "auto".`,
    );
    this.name = "GeoTiffTooLargeError";
  }
}

/** The writer was aborted (AbortSignal or abort()); its temporary file is gone. */
export class GeoTiffAbortedError extends GeoTiffError {
  constructor(path: string, reason?: unknown) {
    super(`Writing ${path} was aborted; the partial file was deleted.`, { cause: reason });
    this.name = "AbortError";
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
