/**
 * A streaming tiled GeoTIFF writer. Tiles are compressed and appended to a temporary file in
 * the output's directory as they arrive, in any order; finish() appends the IFD (whose tile
 * offsets are known only then), patches the header and renames the file into place. Memory
 * holds only tiles not yet complete, never the image.
 *
 * File layout: header | tiles in arrival order | IFD and its values.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import {
  access,
  type FileHandle,
  link,
  lstat,
  open,
  rename,
  stat,
  statfs,
  unlink,
} from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import {
  GeoTiffAbortedError,
  GeoTiffDirectoryError,
  GeoTiffDiskFullError,
  GeoTiffError,
  GeoTiffExistsError,
  GeoTiffIncompleteError,
  GeoTiffTileError,
  GeoTiffTooLargeError,
} from "./errors";
import { encodeHeader, encodeIfd, encodeIfdOffset, headerBytes } from "./ifd";
import { compressAsync, copyRect, prepareTile, sampleBytes, tileExtent } from "./pixels";
import { CLASSIC_TIFF_MAX_BYTES, type GeoTiffSpec, type ResolvedSpec, resolveSpec } from "./spec";
import { imageEntries } from "./tags";

export interface GeoTiffWriterOptions {
  /** Replace an existing file at the path (atomically, at finish). Default false. */
  overwrite?: boolean;
  /** Aborting deletes the temporary file and fails pending and later calls. */
  signal?: AbortSignal;
}

/** A tile writeWindow has filled in part: its pixels so far and which ones are set. */
interface PartialTile {
  data: Uint8Array;
  /** One byte per valid pixel (w x h), 1 once written. */
  covered: Uint8Array;
  remaining: number;
}

type State = "open" | "finishing" | "finished" | "aborted";

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
  /** File offset and compressed size of each tile (row-major); size 0 = not yet on disk. */
  private readonly offsets: Float64Array;
  private readonly byteCounts: Float64Array;
  /** 1 once a tile has been handed to the compressor: a second write is a caller bug. */
  private readonly claimed: Uint8Array;
  private readonly partial = new Map<number, PartialTile>();
  private readonly inFlight = new Set<Promise<void>>();
  private fileEnd: number;
  private tilesOnDisk = 0;
  private tileBytesOnDisk = 0;
  private state: State = "open";
  private failure: Error | undefined;
  private finishing: Promise<{ path: string; bytes: number }> | undefined;
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
    const directory = dirname(target);
    if (options.signal?.aborted) throw new GeoTiffAbortedError(target, options.signal.reason);
    await checkDirectory(directory);
    const existing = await lstat(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw new GeoTiffDirectoryError(directory, `cannot check ${target} (${error.code})`, error);
    });
    if (existing?.isDirectory()) {
      throw new GeoTiffDirectoryError(
        directory,
        `${target} is a directory; give a file name ending in .tif`,
      );
    }
    if (existing && options.overwrite !== true) throw new GeoTiffExistsError(target);

    // Hidden, same directory, random suffix: concurrent writers never collide and a crash
    // leaves an obviously partial file, never one under the final name.
    const tempPath = join(
      directory,
      `.${basename(target)}.partial-${randomBytes(6).toString("hex")}`,
    );
    let handle: FileHandle;
    try {
      handle = await open(tempPath, "wx");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOSPC") {
        throw new GeoTiffDiskFullError(target, {
          bytesWritten: 0,
          bytesNeeded: resolved.maxFileBytes,
          cause: error,
        });
      }
      throw new GeoTiffDirectoryError(directory, `cannot create a file there (${code})`, error);
    }
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
      const pixelBytes = s.bands * s.bytesPerSample;
      const ts = s.tileSize;
      const c0 = Math.floor(x0 / ts);
      const c1 = Math.floor((x0 + width - 1) / ts);
      const r0 = Math.floor(y0 / ts);
      const r1 = Math.floor((y0 + height - 1) / ts);
      for (let row = r0; row <= r1; row++) {
        for (let col = c0; col <= c1; col++) {
          if (this.claimed[row * s.tilesAcross + col]) {
            throw new GeoTiffTileError(
              `Window (${x0},${y0} ${width}x${height}) overlaps tile (${col},${row}), which was already written.`,
            );
          }
        }
      }
      const writes: Promise<void>[] = [];
      for (let row = r0; row <= r1; row++) {
        for (let col = c0; col <= c1; col++) {
          const index = row * s.tilesAcross + col;
          const { w, h } = tileExtent(s, col, row);
          const tx = col * ts;
          const ty = row * ts;
          // The window's part of this tile, in tile coordinates.
          const ix0 = Math.max(x0, tx) - tx;
          const iy0 = Math.max(y0, ty) - ty;
          const ix1 = Math.min(x0 + width, tx + w) - tx;
          const iy1 = Math.min(y0 + height, ty + h) - ty;
          const copy = (target: Uint8Array) =>
            copyRect(
              bytes,
              width,
              tx + ix0 - x0,
              ty + iy0 - y0,
              target,
              ts,
              ix0,
              iy0,
              ix1 - ix0,
              iy1 - iy0,
              pixelBytes,
            );
          let part = this.partial.get(index);
          if (!part && ix0 === 0 && iy0 === 0 && ix1 === w && iy1 === h) {
            const tile = new Uint8Array(s.tileBytes);
            copy(tile);
            writes.push(this.submit(index, tile, true));
            continue;
          }
          if (!part) {
            part = {
              data: new Uint8Array(s.tileBytes),
              covered: new Uint8Array(w * h),
              remaining: w * h,
            };
            this.partial.set(index, part);
          }
          copy(part.data);
          for (let y = iy0; y < iy1; y++) {
            const covered = part.covered;
            for (let i = y * w + ix0, end = y * w + ix1; i < end; i++) {
              if (covered[i] === 0) {
                covered[i] = 1;
                part.remaining--;
              }
            }
          }
          if (part.remaining === 0) {
            this.partial.delete(index);
            writes.push(this.submit(index, part.data, true));
          }
        }
      }
      return Promise.all(writes).then(() => undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Tiles on disk so far, and their compressed bytes: for progress reports. */
  progress(): { tilesWritten: number; tiles: number; bytes: number; partialTiles: number } {
    return {
      tilesWritten: this.tilesOnDisk,
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
  finish(): Promise<{ path: string; bytes: number }> {
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

  private async complete(): Promise<{ path: string; bytes: number }> {
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
    try {
      await this.handle.sync();
      await this.handle.close();
    } catch (error) {
      throw await this.ioFailure(error, 0);
    }
    await this.publish();
    this.state = "finished";
    this.signal?.removeEventListener("abort", this.onAbort);
    return { path: this.path, bytes };
  }

  /** Moves the finished temp file to the final path, atomically and without clobbering. */
  private async publish(): Promise<void> {
    if (this.overwrite) {
      await rename(this.tempPath, this.path);
    } else {
      // link() fails with EEXIST if the name appeared meanwhile, where rename() would replace it.
      try {
        await link(this.tempPath, this.path);
        await unlink(this.tempPath);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") {
          // Keep the finished file: abort() deletes it, or the caller moves it by hand.
          throw new GeoTiffExistsError(
            this.path,
            `Another process created it while this one was written; the finished file is at ${this.tempPath}.`,
          );
        }
        // Filesystems without hard links (some network and FUSE mounts): check, then rename.
        if (
          await lstat(this.path).then(
            () => true,
            () => false,
          )
        )
          throw new GeoTiffExistsError(this.path);
        await rename(this.tempPath, this.path);
      }
    }
    // Persist the directory entry too, so a crash right after finish() keeps the file.
    try {
      const dir = await open(dirname(this.path), "r");
      await dir.sync().finally(() => dir.close());
    } catch {
      // Best effort: some platforms cannot fsync a directory; the data itself is synced.
    }
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
      this.tilesOnDisk++;
      this.tileBytesOnDisk += compressed.byteLength;
    })();
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return tracked;
  }

  /** Room the IFD needs after the last tile: two offsets per tile plus the other tags. */
  private ifdReserve(): number {
    return this.spec.tileCount * 8 + 65536 + this.spec.bands * 512;
  }

  private async append(bytes: Uint8Array, position: number): Promise<void> {
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
      }
    } catch (error) {
      throw await this.ioFailure(error, bytes.byteLength);
    }
  }

  /** Turns a write error into the writer's terminal failure (deleting the temp file). */
  private async ioFailure(error: unknown, pendingBytes: number): Promise<Error> {
    if (this.failure) return this.failure;
    const code = (error as NodeJS.ErrnoException).code;
    let failure: Error;
    if (code === "ENOSPC" || code === "EDQUOT") {
      const free = await statfs(dirname(this.tempPath)).then(
        (s) => s.bavail * s.bsize,
        () => undefined,
      );
      failure = new GeoTiffDiskFullError(this.path, {
        bytesWritten: this.fileEnd - pendingBytes,
        bytesNeeded: this.estimatedFileBytes(pendingBytes),
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
  private estimatedFileBytes(lastTileBytes: number): number {
    const tiles = this.tilesOnDisk + (lastTileBytes > 0 ? 1 : 0);
    const perTile =
      tiles > 0 ? (this.tileBytesOnDisk + lastTileBytes) / tiles : this.spec.tileBytes;
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
    this.signal?.removeEventListener("abort", this.onAbort);
    this.cleanup = (async () => {
      await this.handle.close().catch(() => undefined);
      await unlink(this.tempPath).catch(() => undefined);
    })();
    return this.cleanup;
  }
}

async function checkDirectory(directory: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(directory);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GeoTiffDirectoryError(
      directory,
      code === "ENOENT"
        ? "it does not exist; create it first (mkdir -p)"
        : `cannot read it (${code})`,
      error,
    );
  }
  if (!info.isDirectory()) throw new GeoTiffDirectoryError(directory, "it is not a directory");
  try {
    await access(directory, fsConstants.W_OK | fsConstants.X_OK);
  } catch (error) {
    throw new GeoTiffDirectoryError(
      directory,
      "it is not writable; fix its permissions or choose another directory",
      error,
    );
  }
}
