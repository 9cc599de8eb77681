/**
 * A streaming tiled GeoTIFF writer. Tiles are compressed and appended to a temporary file in
 * the output's directory as they arrive, in any order; finish() appends the IFD (whose tile
 * offsets are known only then), patches the header and renames the file into place. Memory
 * holds tiles not yet complete and, for a file under IN_MEMORY_FILE_BYTES, the file itself
 * until finish() writes it in one go; never a large image.
 *
 * File layout: header | tiles in arrival order | IFD and its values.
 */
import { createHash } from "node:crypto";
import { type FileHandle, statfs, unlink } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { createTemporaryFile, publish } from "./destination";
import {
  GeoTiffAbortedError,
  GeoTiffDiskFullError,
  GeoTiffError,
  GeoTiffExistsError,
  GeoTiffIncompleteError,
  GeoTiffTileError,
  GeoTiffTooLargeError,
} from "./errors";
import { encodeHeader, encodeIfd, encodeIfdOffset, headerBytes } from "./ifd";
import { compressAsync, prepareTile, sampleBytes, tileExtent } from "./pixels";
import { CLASSIC_TIFF_MAX_BYTES, type GeoTiffSpec, type ResolvedSpec, resolveSpec } from "./spec";
import { imageEntries } from "./tags";
import { WindowTiles } from "./windows";

export interface GeoTiffWriterOptions {
  /** Replace an existing file at the path (atomically, at finish). Default false. */
  overwrite?: boolean;
  /** Aborting deletes the temporary file and fails pending and later calls. */
  signal?: AbortSignal;
}

type State = "open" | "finishing" | "finished" | "aborted";

/**
 * Files up to this size are assembled in memory and reach the disk in one write at finish():
 * a small snippet then costs a handful of file operations instead of one per tile plus the
 * header and index, and its checksum comes from memory instead of reading the file back.
 * Larger files spill to the temporary file on the way and stream from then on, so memory per
 * writer stays bounded by this.
 */
export const IN_MEMORY_FILE_BYTES = 2 * 1024 * 1024;

/** What finish() published. */
export interface FinishedFile {
  path: string;
  bytes: number;
  /** SHA-256 (hex) of the file, when it was assembled in memory; undefined for larger files. */
  sha256?: string;
}

export class GeoTiffWriter {
  readonly path: string;
  readonly tilesAcross: number;
  readonly tilesDown: number;
  readonly tileSize: number;
  /** The resolved spec (defaults filled in). */
  readonly spec: Readonly<ResolvedSpec>;

  private readonly tempPath: string;
  private readonly handle: FileHandle;
  private readonly overwrite: boolean;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort: () => void;
  /** File offset and compressed size of each tile (row-major); size 0 = not yet stored. */
  private readonly offsets: Float64Array;
  private readonly byteCounts: Float64Array;
  /** 1 once a tile has been handed to the compressor: a second write is a caller bug. */
  private readonly claimed: Uint8Array;
  /** Tiles writeWindow has filled in part. */
  private readonly partial: WindowTiles;
  private readonly inFlight = new Set<Promise<void>>();
  private fileEnd: number;
  private tilesStored = 0;
  /** Bytes the temporary file really received (memory holds the rest until a spill or finish). */
  private bytesOnDisk = 0;
  private tileBytesStored = 0;
  private state: State = "open";
  private failure: Error | undefined;
  private finishing: Promise<FinishedFile> | undefined;
  /** Appended byte ranges not yet on disk (small files); undefined once spilled to the file. */
  private pending: { position: number; bytes: Uint8Array }[] | undefined = [];
  private spilled: Promise<void> | undefined;
  /** Closing and deleting the temporary file, once the writer failed or was aborted. */
  private cleanup: Promise<void> | undefined;

  private constructor(
    path: string,
    tempPath: string,
    handle: FileHandle,
    spec: ResolvedSpec,
    options: GeoTiffWriterOptions,
  ) {
    this.path = path;
    this.tempPath = tempPath;
    this.handle = handle;
    this.spec = spec;
    this.tilesAcross = spec.tilesAcross;
    this.tilesDown = spec.tilesDown;
    this.tileSize = spec.tileSize;
    this.overwrite = options.overwrite === true;
    this.offsets = new Float64Array(spec.tileCount);
    this.byteCounts = new Float64Array(spec.tileCount);
    this.claimed = new Uint8Array(spec.tileCount);
    this.partial = new WindowTiles(spec);
    this.fileEnd = headerBytes(spec.bigTiff);
    this.signal = options.signal;
    this.onAbort = () => {
      void this.fail(new GeoTiffAbortedError(this.path, this.signal?.reason));
    };
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /**
   * Checks the destination (directory exists and is writable; path free unless overwrite) and
   * creates the temporary file next to it, so the final rename stays on one filesystem.
   */
  static async open(
    path: string,
    spec: GeoTiffSpec,
    options: GeoTiffWriterOptions = {},
  ): Promise<GeoTiffWriter> {
    const resolved = resolveSpec(spec, "deflate");
    const target = resolve(path);
    if (options.signal?.aborted) throw new GeoTiffAbortedError(target, options.signal.reason);
    const { tempPath, handle } = await createTemporaryFile(target, {
      overwrite: options.overwrite === true,
      bytesNeeded: resolved.maxFileBytes,
    });
    const writer = new GeoTiffWriter(target, tempPath, handle, resolved, options);
    // The first-IFD offset is a placeholder until finish() knows where the IFD goes.
    await writer.append(encodeHeader(resolved.bigTiff, 0), 0);
    // An abort during open() fired before the writer listened for it.
    if (options.signal?.aborted)
      throw await writer.failWith(new GeoTiffAbortedError(target, options.signal.reason));
    return writer;
  }

  /**
   * Writes tile (col,row): a full tile (tileSize^2 * bands samples, chunky; edge tiles padded,
   * padding ignored) or, for edge tiles, exactly the pixels inside the image. Any order, and
   * concurrently: compression runs in parallel, appends are serialized. With `transfer` the
   * caller gives `data` up: the writer may modify it in place and saves a tile-sized copy.
   */
  writeTile(
    col: number,
    row: number,
    data: ArrayBufferView,
    options: { transfer?: boolean } = {},
  ): Promise<void> {
    try {
      this.checkOpen();
      const index = this.tileIndex(col, row);
      const { w, h } = tileExtent(this.spec, col, row);
      const counts = [
        this.spec.tileSize * this.spec.tileSize * this.spec.bands,
        w * h * this.spec.bands,
      ];
      const bytes = sampleBytes(data, this.spec, counts, `Tile (${col},${row})`);
      if (this.partial.has(index)) {
        throw new GeoTiffTileError(
          `Tile (${col},${row}) was already written in part by writeWindow.`,
        );
      }
      return this.submit(index, bytes, options.transfer === true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Copies a window (x0, y0, width x height pixels, chunky) into the tiles it covers. Tiles it
   * completes are written at once; tiles it covers in part wait in memory until other windows
   * fill them. Windows need not align with tiles; a pixel written twice keeps the last value
   * while its tile is still partial.
   */
  writeWindow(
    x0: number,
    y0: number,
    width: number,
    height: number,
    data: ArrayBufferView,
  ): Promise<void> {
    try {
      this.checkOpen();
      const s = this.spec;
      for (const [name, v] of [
        ["x0", x0],
        ["y0", y0],
        ["width", width],
        ["height", height],
      ] as const) {
        if (!Number.isInteger(v))
          throw new GeoTiffTileError(`writeWindow: ${name} must be an integer, got ${v}.`);
      }
      if (
        x0 < 0 ||
        y0 < 0 ||
        width < 1 ||
        height < 1 ||
        x0 + width > s.width ||
        y0 + height > s.height
      ) {
        throw new GeoTiffTileError(
          `Window x ${x0}..${x0 + width}, y ${y0}..${y0 + height} is not inside the ${s.width}x${s.height} image.`,
        );
      }
      const bytes = sampleBytes(
        data,
        s,
        [width * height * s.bands],
        `Window (${x0},${y0} ${width}x${height})`,
      );
      const writes: Promise<void>[] = [];
      this.partial.add(x0, y0, width, height, bytes, this.claimed, (index, tile) =>
        writes.push(this.submit(index, tile, true)),
      );
      return Promise.all(writes).then(() => undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Tiles on disk so far, and their compressed bytes: for progress reports. */
  progress(): { tilesWritten: number; tiles: number; bytes: number; partialTiles: number } {
    return {
      tilesWritten: this.tilesStored,
      tiles: this.spec.tileCount,
      bytes: this.fileEnd,
      partialTiles: this.partial.size,
    };
  }

  /**
   * Waits for pending writes, appends the IFD, patches the header, fsyncs and renames the file
   * to its path (never replacing a file unless opened with overwrite). Throws
   * GeoTiffIncompleteError, naming the tiles, if any is missing; the writer then stays open.
   */
  finish(): Promise<FinishedFile> {
    if (this.finishing) return this.finishing;
    if (this.failure) return Promise.reject(this.failure);
    this.finishing = this.complete().catch(async (error: unknown) => {
      if (error instanceof GeoTiffIncompleteError) {
        // The missing tiles can still be written.
        this.state = "open";
        this.finishing = undefined;
      } else if (error instanceof GeoTiffExistsError) {
        // The file is complete: keep it for the caller (abort() deletes it).
        this.failure = error;
      } else {
        await this.fail(error instanceof Error ? error : new Error(String(error)));
      }
      throw error;
    });
    return this.finishing;
  }

  /** Closes and deletes the temporary file. Safe to call twice, and after finish failed. */
  async abort(): Promise<void> {
    await this.fail(new GeoTiffAbortedError(this.path));
  }

  private async complete(): Promise<FinishedFile> {
    this.state = "finishing";
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    if (this.failure) throw this.failure;
    const missing: [number, number][] = [];
    const partial: [number, number][] = [];
    for (let i = 0; i < this.spec.tileCount; i++) {
      const at: [number, number] = [i % this.tilesAcross, Math.floor(i / this.tilesAcross)];
      if (this.partial.has(i)) partial.push(at);
      else if (this.byteCounts[i] === 0) missing.push(at);
    }
    if (missing.length > 0 || partial.length > 0) {
      throw new GeoTiffIncompleteError(this.path, missing, partial, this.spec.tileCount);
    }

    const ifd = encodeIfd(
      imageEntries(this.spec, {
        kind: "tiles",
        offsets: this.offsets,
        byteCounts: this.byteCounts,
      }),
      this.fileEnd,
      this.spec.bigTiff,
    );
    const bytes = this.fileEnd + ifd.bytes.length;
    await this.append(ifd.bytes, this.fileEnd);
    const patch = encodeIfdOffset(this.spec.bigTiff, ifd.ifdOffset);
    await this.append(patch.bytes, patch.position);
    let sha256: string | undefined;
    if (this.pending) {
      const file = assemble(this.pending, bytes);
      this.pending = undefined;
      sha256 = createHash("sha256").update(file).digest("hex");
      this.fileEnd = bytes;
      await this.writeAt(file, 0);
    }
    try {
      await this.handle.sync();
      await this.handle.close();
    } catch (error) {
      throw await this.ioFailure(error);
    }
    await publish(this.tempPath, this.path, this.overwrite);
    this.state = "finished";
    this.signal?.removeEventListener("abort", this.onAbort);
    return { path: this.path, bytes, sha256 };
  }

  private checkOpen(): void {
    if (this.failure) throw this.failure;
    if (this.state !== "open") {
      throw new GeoTiffTileError(`${this.path}: cannot write tiles after finish() was called.`);
    }
  }

  private tileIndex(col: number, row: number): number {
    if (
      !Number.isInteger(col) ||
      !Number.isInteger(row) ||
      col < 0 ||
      row < 0 ||
      col >= this.tilesAcross ||
      row >= this.tilesDown
    ) {
      throw new GeoTiffTileError(
        `Tile (${col},${row}) is outside the ${this.tilesAcross}x${this.tilesDown} tile grid (columns 0-${this.tilesAcross - 1}, rows 0-${this.tilesDown - 1}).`,
      );
    }
    return row * this.tilesAcross + col;
  }

  /** Compresses tile `index` and appends it; `owned` lets preparation reuse `bytes`. */
  private submit(index: number, bytes: Uint8Array, owned: boolean): Promise<void> {
    const col = index % this.tilesAcross;
    const row = Math.floor(index / this.tilesAcross);
    if (this.claimed[index])
      throw new GeoTiffTileError(`Tile (${col},${row}) was already written.`);
    this.claimed[index] = 1;
    const { w, h } = tileExtent(this.spec, col, row);
    const task = (async () => {
      const tile = prepareTile(bytes, w, h, this.spec, owned);
      const compressed = await compressAsync(tile, this.spec);
      if (this.failure) throw this.failure;
      // Reserve the range synchronously: positional writes can then overlap safely.
      const offset = this.fileEnd;
      const end = offset + compressed.byteLength;
      if (!this.spec.bigTiff && end + this.ifdReserve() > CLASSIC_TIFF_MAX_BYTES) {
        throw await this.failWith(new GeoTiffTooLargeError(this.path, end));
      }
      this.fileEnd = end;
      await this.append(compressed, offset);
      this.offsets[index] = offset;
      this.byteCounts[index] = compressed.byteLength;
      this.tilesStored++;
      this.tileBytesStored += compressed.byteLength;
    })();
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return tracked;
  }

  /** Room the IFD needs after the last tile: two offsets per tile plus the other tags. */
  private ifdReserve(): number {
    return this.spec.tileCount * 8 + 65536 + this.spec.bands * 512;
  }

  /** Stores bytes at a position of the file: in memory while the file is small, else on disk. */
  private async append(bytes: Uint8Array, position: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (
      this.pending &&
      this.fileEnd <= IN_MEMORY_FILE_BYTES &&
      position + bytes.byteLength <= IN_MEMORY_FILE_BYTES
    ) {
      this.pending.push({ position, bytes });
      return;
    }
    await this.spill();
    await this.writeAt(bytes, position);
  }

  /** Writes what memory holds to the temporary file, once; later appends go straight to it. */
  private spill(): Promise<void> {
    if (!this.spilled) {
      const held = this.pending ?? [];
      this.pending = undefined;
      this.spilled = (async () => {
        for (const part of held) await this.writeAt(part.bytes, part.position);
      })();
    }
    return this.spilled;
  }

  private async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await this.handle.write(
          bytes,
          done,
          bytes.byteLength - done,
          position + done,
        );
        done += bytesWritten;
        this.bytesOnDisk += bytesWritten;
      }
    } catch (error) {
      throw await this.ioFailure(error);
    }
  }

  /** Turns a write error into the writer's terminal failure (deleting the temp file). */
  private async ioFailure(error: unknown): Promise<Error> {
    if (this.failure) return this.failure;
    const code = (error as NodeJS.ErrnoException).code;
    let failure: Error;
    if (code === "ENOSPC" || code === "EDQUOT") {
      const free = await statfs(dirname(this.tempPath)).then(
        (s) => s.bavail * s.bsize,
        () => undefined,
      );
      failure = new GeoTiffDiskFullError(this.path, {
        bytesWritten: this.bytesOnDisk,
        bytesNeeded: this.estimatedFileBytes(),
        bytesFree: free,
        cause: error,
      });
    } else {
      failure = new GeoTiffError(
        `Writing ${this.tempPath} failed (${code ?? String(error)}); the partial file was deleted.`,
        {
          cause: error,
        },
      );
    }
    return this.failWith(failure);
  }

  /** The finished file's likely size, extrapolated from the tiles compressed so far. */
  private estimatedFileBytes(): number {
    const perTile =
      this.tilesStored > 0 ? this.tileBytesStored / this.tilesStored : this.spec.tileBytes;
    return Math.round(
      headerBytes(this.spec.bigTiff) + perTile * this.spec.tileCount + this.ifdReserve(),
    );
  }

  private async failWith(failure: Error): Promise<Error> {
    await this.fail(failure);
    return this.failure ?? failure;
  }

  /**
   * Enters the terminal aborted state once: closes and deletes the temp file. Every caller,
   * the first or a later one (an abort() after the signal fired), waits for that cleanup, so
   * the temporary file is gone whenever any of them returns.
   */
  private fail(failure: Error): Promise<void> {
    if (this.cleanup) return this.cleanup;
    if (this.state === "finished") return Promise.resolve();
    this.state = "aborted";
    this.failure = failure;
    this.partial.clear();
    this.pending = undefined;
    this.signal?.removeEventListener("abort", this.onAbort);
    this.cleanup = (async () => {
      await this.handle.close().catch(() => undefined);
      await unlink(this.tempPath).catch(() => undefined);
    })();
    return this.cleanup;
  }
}

/** The file from its byte ranges, later ranges over earlier ones (the header's patched offset). */
function assemble(parts: { position: number; bytes: Uint8Array }[], size: number): Buffer {
  const file = Buffer.alloc(size);
  for (const part of parts) file.set(part.bytes, part.position);
  return file;
}
