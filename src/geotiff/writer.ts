/**
 * A streaming tiled GeoTIFF writer. Tiles are compressed and appended to a temporary file in
 * the output's directory as they arrive, in any order; overview tiles are computed from them
 * on the way (overviews.ts) and appended the same way. Memory holds tiles not yet complete,
 * overview tiles waiting for quadrants and, for a file under IN_MEMORY_FILE_BYTES, the file
 * itself until finish() writes it in one go (spooled-file.ts); never a large image.
 *
 * Streamed layout: header | tiles in arrival order | IFDs (full resolution, then overviews).
 * finish() appends the IFDs (whose tile offsets are known only then), patches the header and
 * renames the file into place.
 *
 * Cloud-optimized layout (cog-layout.ts): tiles are stored framed as they arrive, and finish()
 * reorders them after the IFDs, into a second temporary file unless the file is small. That
 * costs one more pass over the compressed bytes, and twice the file's size on disk while it
 * runs; the SHA-256 comes from the copy instead of reading the file back.
 */
import { createHash } from "node:crypto";
import { type FileHandle, statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { cogLayout, copyRanges, reorderInMemory } from "./cog-layout";
import {
  createTemporaryFile,
  discardTemporaryFile,
  publish,
  type TemporaryFile,
} from "./destination";
import {
  GeoTiffAbortedError,
  GeoTiffDiskFullError,
  GeoTiffError,
  GeoTiffExistsError,
  GeoTiffIncompleteError,
  GeoTiffTileError,
} from "./errors";
import { encodeHeader, encodeIfdOffset, headerBytes } from "./ifd";
import { ifdChain } from "./image-tiles";
import { sampleBytes, tileExtent } from "./pixels";
import { type GeoTiffSpec, type ResolvedSpec, resolveSpec } from "./spec";
import { SpooledFile } from "./spooled-file";
import { TileStore } from "./tile-store";
import { WindowTiles } from "./windows";

export interface GeoTiffWriterOptions {
  /** Replace an existing file at the path (atomically, at finish). Default false. */
  overwrite?: boolean;
  /** Aborting deletes the temporary file and fails pending and later calls. */
  signal?: AbortSignal;
}

type State = "open" | "finishing" | "finished" | "aborted";

/** What finish() published. */
export interface FinishedFile {
  path: string;
  bytes: number;
  /**
   * SHA-256 (hex) of the file, when it was assembled in memory or copied into the COG layout;
   * undefined for larger streamed files.
   */
  sha256?: string;
  /** Overview levels in the file. */
  overviews: number;
  cloudOptimized: boolean;
}

export class GeoTiffWriter {
  readonly path: string;
  readonly tilesAcross: number;
  readonly tilesDown: number;
  readonly tileSize: number;
  /** The resolved spec (defaults filled in). */
  readonly spec: Readonly<ResolvedSpec>;

  /** The temporary file, held in memory while small. */
  private readonly file: SpooledFile;
  private readonly overwrite: boolean;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort: () => void;
  /** Compresses and stores the tiles; holds every image's tile table. */
  private readonly tiles: TileStore;
  /** The second temporary file the COG layout is copied into, while it exists. */
  private cogTemp: TemporaryFile | undefined;
  /** Tiles writeWindow has filled in part. */
  private readonly partial: WindowTiles;
  private state: State = "open";
  private failure: Error | undefined;
  private finishing: Promise<FinishedFile> | undefined;
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
    this.file = new SpooledFile(
      tempPath,
      handle,
      headerBytes(spec.bigTiff),
      () => this.failure,
      (error) => this.ioFailure(error),
    );
    this.spec = spec;
    this.tilesAcross = spec.tilesAcross;
    this.tilesDown = spec.tilesDown;
    this.tileSize = spec.tileSize;
    this.overwrite = options.overwrite === true;
    this.tiles = new TileStore(spec, path, this.file, {
      failure: () => this.failure,
      failWith: (failure) => this.failWith(failure),
    });
    this.partial = new WindowTiles(spec);
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
    await writer.file.append(encodeHeader(resolved.bigTiff, 0), 0);
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
      return this.tiles.submit(index, bytes, options.transfer === true);
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
      this.partial.add(x0, y0, width, height, bytes, this.tiles.claimed, (index, tile) =>
        writes.push(this.tiles.submit(index, tile, true)),
      );
      return Promise.all(writes).then(() => undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Tiles on disk so far, and their compressed bytes: for progress reports. */
  progress(): { tilesWritten: number; tiles: number; bytes: number; partialTiles: number } {
    return {
      tilesWritten: this.tiles.tilesStored,
      tiles: this.spec.tileCount,
      bytes: this.file.end,
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
    await this.tiles.settle();
    if (this.failure) throw this.failure;
    const missing: [number, number][] = [];
    const partial: [number, number][] = [];
    const full = this.tiles.images[0];
    for (let i = 0; i < this.spec.tileCount; i++) {
      const at: [number, number] = [i % this.tilesAcross, Math.floor(i / this.tilesAcross)];
      if (this.partial.has(i)) partial.push(at);
      else if (full.byteCounts[i] === 0) missing.push(at);
    }
    if (missing.length > 0 || partial.length > 0) {
      throw new GeoTiffIncompleteError(this.path, missing, partial, this.spec.tileCount);
    }
    const pyramid = this.tiles.pyramid;
    if (pyramid && pyramid.pendingTiles > 0) {
      throw new GeoTiffError(
        `${this.path}: ${pyramid.pendingTiles} overview tiles are incomplete although every tile was written (a bug in the writer).`,
      );
    }
    const written = this.spec.cloudOptimized ? await this.writeCog() : await this.writeStreamed();
    const { tempPath, bytes, sha256 } = written;
    await publish(tempPath, this.path, this.overwrite);
    this.state = "finished";
    this.signal?.removeEventListener("abort", this.onAbort);
    return {
      path: this.path,
      bytes,
      sha256,
      overviews: this.tiles.images.length - 1,
      cloudOptimized: this.spec.cloudOptimized,
    };
  }

  /** Streamed layout: the IFDs after the tiles, the header patched to point at them. */
  private async writeStreamed(): Promise<{ tempPath: string; bytes: number; sha256?: string }> {
    const chain = ifdChain(this.spec, this.tiles.images, this.file.end, (image) => ({
      offsets: image.offsets,
      byteCounts: image.byteCounts,
    }));
    const bytes = this.file.end + chain.bytes.length;
    await this.file.append(chain.bytes, this.file.end);
    const patch = encodeIfdOffset(this.spec.bigTiff, chain.firstIfdOffset);
    await this.file.append(patch.bytes, patch.position);
    let sha256: string | undefined;
    const file = this.file.takeHeld(bytes);
    if (file) {
      sha256 = createHash("sha256").update(file).digest("hex");
      this.file.end = bytes;
      await this.file.writeAt(file, 0);
    }
    await this.file.syncAndClose(this.file.handle);
    return { tempPath: this.file.tempPath, bytes, sha256 };
  }

  /**
   * COG layout: header, ghost area and IFDs, then every tile in COG order (smallest overview
   * first, row-major), each with its leader and trailer as stored. A small file is reordered
   * in memory and written to the (still empty) temporary file; a larger one is copied into a
   * second temporary file.
   */
  private async writeCog(): Promise<{ tempPath: string; bytes: number; sha256: string }> {
    const layout = cogLayout(this.spec, this.tiles.images, this.path);
    const spool = this.file.takeHeld(this.file.end);
    if (spool) {
      const file = reorderInMemory(layout, spool);
      const sha256 = createHash("sha256").update(file).digest("hex");
      await this.file.writeAt(file, 0);
      await this.file.syncAndClose(this.file.handle);
      return { tempPath: this.file.tempPath, bytes: layout.end, sha256 };
    }
    this.cogTemp = await createTemporaryFile(this.path, {
      overwrite: true,
      bytesNeeded: layout.end,
    });
    const target = this.cogTemp;
    const hash = createHash("sha256");
    hash.update(layout.prefix);
    await this.file.writeTo(target.handle, layout.prefix, 0);
    await copyRanges(this.file, target.handle, layout.ranges, layout.dataStart, hash);
    await this.file.syncAndClose(target.handle);
    // The tiles now live in the COG file: the arrival-order copy goes.
    await this.file.discard();
    return { tempPath: target.tempPath, bytes: layout.end, sha256: hash.digest("hex") };
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

  /** Turns a write error into the writer's terminal failure (deleting the temp file). */
  private async ioFailure(error: unknown): Promise<Error> {
    if (this.failure) return this.failure;
    const code = (error as NodeJS.ErrnoException).code;
    let failure: Error;
    if (code === "ENOSPC" || code === "EDQUOT") {
      const free = await statfs(dirname(this.file.tempPath)).then(
        (s) => s.bavail * s.bsize,
        () => undefined,
      );
      failure = new GeoTiffDiskFullError(this.path, {
        bytesWritten: this.file.bytesOnDisk,
        bytesNeeded: this.tiles.estimatedFileBytes(),
        bytesFree: free,
        cause: error,
      });
    } else {
      failure = new GeoTiffError(
        `Writing ${this.file.tempPath} failed (${code ?? String(error)}); the partial file was deleted.`,
        {
          cause: error,
        },
      );
    }
    return this.failWith(failure);
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
    this.tiles.pyramid?.clear();
    this.file.dropHeld();
    this.signal?.removeEventListener("abort", this.onAbort);
    const cogTemp = this.cogTemp;
    this.cleanup = (async () => {
      await this.file.discard();
      if (cogTemp) await discardTemporaryFile(cogTemp);
    })();
    return this.cleanup;
  }
}
