/**
 * A streaming tiled GeoTIFF writer. Tiles are compressed and appended to a temporary file in
 * the output's directory as they arrive, in any order; overview tiles are computed from them
 * on the way (overviews.ts) and appended the same way. Memory holds tiles not yet complete,
 * overview tiles waiting for quadrants and, for a file under IN_MEMORY_FILE_BYTES, the file
 * itself until finish() writes it in one go; never a large image.
 *
 * Streamed layout: header | tiles in arrival order | IFDs (full resolution, then overviews).
 * finish() appends the IFDs (whose tile offsets are known only then), patches the header and
 * renames the file into place.
 *
 * Cloud-optimized layout (GDAL's COG rules): header | GDAL structural metadata | IFDs | tiles
 * from the smallest overview to full resolution, each image row by row, every tile between a
 * 4-byte size leader and a repeat of its last 4 bytes. Tiles arrive in any order, so finish()
 * writes the IFDs into a second temporary file and copies the tiles after them in COG order
 * (sequential 8 MiB reads and writes, overlapped, hashed on the way), then deletes the first.
 * That costs one more pass over the compressed bytes, and twice the file's size on disk
 * while it runs; the SHA-256 comes from the copy instead of reading the file back.
 */
import { createHash, type Hash } from "node:crypto";
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
import { encodeHeader, encodeIfd, encodeIfdOffset, headerBytes, type IfdEntry } from "./ifd";
import { OverviewPyramid } from "./overviews";
import { applyPredictor, compressAsync, normalizeTile, sampleBytes, tileExtent } from "./pixels";
import { CLASSIC_TIFF_MAX_BYTES, type GeoTiffSpec, type ResolvedSpec, resolveSpec } from "./spec";
import { imageEntries } from "./tags";
import { recycleTileBuffer } from "./tile-buffers";
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

/**
 * GDAL's COG ghost area, byte for byte as GDAL 3.x's COG driver writes it right after the
 * header: readers (GDAL reports LAYOUT=COG) learn that the IFDs come first and every tile has
 * its size before it and its last 4 bytes repeated after it, so a reader can fetch a tile and
 * the next one's size in one range request and spot a truncated tile. The trailing space is
 * GDAL's room to flip NO to YES when a file is edited in place.
 */
const COG_STRUCTURE =
  "LAYOUT=IFDS_BEFORE_DATA\n" +
  "BLOCK_ORDER=ROW_MAJOR\n" +
  "BLOCK_LEADER=SIZE_AS_UINT4\n" +
  "BLOCK_TRAILER=LAST_4_BYTES_REPEATED\n" +
  "KNOWN_INCOMPATIBLE_EDITION=NO\n ";
export const COG_GHOST_AREA = `GDAL_STRUCTURAL_METADATA_SIZE=${String(COG_STRUCTURE.length).padStart(6, "0")} bytes\n${COG_STRUCTURE}`;

/** Bytes per copy while reordering tiles into the COG layout: two in flight (read, write). */
const COPY_CHUNK_BYTES = 8 * 1024 * 1024;

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

/** One image of the file (full resolution or an overview): its tile grid and tile table. */
interface ImageTiles {
  width: number;
  height: number;
  tilesAcross: number;
  /** File offset and compressed size of each tile (row-major); size 0 = not yet stored. */
  offsets: Float64Array;
  byteCounts: Float64Array;
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
  /** images[0] is the full-resolution image, images[k] overview level k. */
  private readonly images: ImageTiles[];
  private readonly pyramid: OverviewPyramid | undefined;
  /** Tiles of every image, overviews included. */
  private readonly allTileCount: number;
  /** Leader and trailer bytes around each stored tile (COG layout), else 0. */
  private readonly frameBytes: number;
  /** The second temporary file the COG layout is copied into, while it exists. */
  private cogTemp: { tempPath: string; handle: FileHandle } | undefined;
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
    const image = (width: number, height: number): ImageTiles => {
      const across = Math.ceil(width / spec.tileSize);
      const count = across * Math.ceil(height / spec.tileSize);
      return {
        width,
        height,
        tilesAcross: across,
        offsets: new Float64Array(count),
        byteCounts: new Float64Array(count),
      };
    };
    this.images = [image(spec.width, spec.height)];
    if (spec.overviews) {
      this.pyramid = new OverviewPyramid(spec, spec.overviews, (level, index, tile) =>
        this.submitOverview(level, index, tile),
      );
      for (const level of this.pyramid.levels) this.images.push(image(level.width, level.height));
    }
    this.allTileCount = this.images.reduce((n, i) => n + i.offsets.length, 0);
    this.frameBytes = spec.cloudOptimized ? 8 : 0;
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
    const full = this.images[0];
    for (let i = 0; i < this.spec.tileCount; i++) {
      const at: [number, number] = [i % this.tilesAcross, Math.floor(i / this.tilesAcross)];
      if (this.partial.has(i)) partial.push(at);
      else if (full.byteCounts[i] === 0) missing.push(at);
    }
    if (missing.length > 0 || partial.length > 0) {
      throw new GeoTiffIncompleteError(this.path, missing, partial, this.spec.tileCount);
    }
    if (this.pyramid && this.pyramid.pendingTiles > 0) {
      throw new GeoTiffError(
        `${this.path}: ${this.pyramid.pendingTiles} overview tiles are incomplete although every tile was written (a bug in the writer).`,
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
      overviews: this.images.length - 1,
      cloudOptimized: this.spec.cloudOptimized,
    };
  }

  /** Streamed layout: the IFDs after the tiles, the header patched to point at them. */
  private async writeStreamed(): Promise<{ tempPath: string; bytes: number; sha256?: string }> {
    const chain = this.ifdChain(this.fileEnd, (image) => ({
      offsets: image.offsets,
      byteCounts: image.byteCounts,
    }));
    const bytes = this.fileEnd + chain.bytes.length;
    await this.append(chain.bytes, this.fileEnd);
    const patch = encodeIfdOffset(this.spec.bigTiff, chain.firstIfdOffset);
    await this.append(patch.bytes, patch.position);
    let sha256: string | undefined;
    if (this.pending) {
      const file = assemble(this.pending, bytes);
      this.pending = undefined;
      sha256 = createHash("sha256").update(file).digest("hex");
      this.fileEnd = bytes;
      await this.writeAt(file, 0);
    }
    await this.closeFile(this.handle);
    return { tempPath: this.tempPath, bytes, sha256 };
  }

  /**
   * COG layout: header, ghost area and IFDs, then every tile in COG order (smallest overview
   * first, row-major), each with its leader and trailer as stored. A small file is reordered
   * in memory and written to the (still empty) temporary file; a larger one is copied into a
   * second temporary file.
   */
  private async writeCog(): Promise<{ tempPath: string; bytes: number; sha256: string }> {
    const { bigTiff } = this.spec;
    const ghost = Buffer.from(COG_GHOST_AREA, "latin1");
    const chainStart = headerBytes(bigTiff) + ghost.length;
    // Sizes do not depend on the offsets' values: a first pass with zeros places the tiles.
    const zeros = (image: ImageTiles) => ({
      offsets: new Float64Array(image.offsets.length),
      byteCounts: image.byteCounts,
    });
    const dataStart = chainStart + this.ifdChain(chainStart, zeros).bytes.length;
    const order = [...this.images.slice(1).reverse(), this.images[0]];
    const finalOffsets = new Map<ImageTiles, Float64Array>();
    let end = dataStart;
    for (const image of order) {
      const offsets = new Float64Array(image.offsets.length);
      for (let i = 0; i < offsets.length; i++) {
        offsets[i] = end + 4;
        end += image.byteCounts[i] + 8;
      }
      finalOffsets.set(image, offsets);
    }
    if (!bigTiff && end > CLASSIC_TIFF_MAX_BYTES) {
      throw new GeoTiffTooLargeError(this.path, end);
    }
    const chain = this.ifdChain(chainStart, (image) => ({
      offsets: finalOffsets.get(image) as Float64Array,
      byteCounts: image.byteCounts,
    }));
    const prefix = Buffer.concat([encodeHeader(bigTiff, chain.firstIfdOffset), ghost, chain.bytes]);
    if (prefix.length !== dataStart)
      throw new GeoTiffError("COG header size changed between passes.");
    // Stored ranges (leader to trailer) in COG order.
    const ranges: [number, number][] = [];
    for (const image of order) {
      for (let i = 0; i < image.offsets.length; i++) {
        ranges.push([image.offsets[i] - 4, image.offsets[i] + image.byteCounts[i] + 4]);
      }
    }
    if (this.pending) {
      const spool = assemble(this.pending, this.fileEnd);
      this.pending = undefined;
      const file = Buffer.allocUnsafe(end);
      prefix.copy(file, 0);
      let at = dataStart;
      for (const [from, to] of ranges) {
        spool.copy(file, at, from, to);
        at += to - from;
      }
      const sha256 = createHash("sha256").update(file).digest("hex");
      await this.writeAt(file, 0);
      await this.closeFile(this.handle);
      return { tempPath: this.tempPath, bytes: end, sha256 };
    }
    this.cogTemp = await createTemporaryFile(this.path, { overwrite: true, bytesNeeded: end });
    const target = this.cogTemp;
    const hash = createHash("sha256");
    hash.update(prefix);
    await this.writeTo(target.handle, prefix, 0);
    await this.copyRanges(target.handle, ranges, dataStart, hash);
    await this.closeFile(target.handle);
    // The tiles now live in the COG file: the arrival-order copy goes.
    await this.handle.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
    return { tempPath: target.tempPath, bytes: end, sha256: hash.digest("hex") };
  }

  /**
   * Copies stored ranges of the temporary file, in order, to `target` from `at`: adjacent
   * ranges (tiles that arrived in COG order) merge into reads of up to COPY_CHUNK_BYTES, and
   * each chunk is written while the next is read.
   */
  private async copyRanges(
    target: FileHandle,
    ranges: [number, number][],
    at: number,
    hash: Hash,
  ): Promise<void> {
    let writing: Promise<void> = Promise.resolve();
    let position = at;
    const flush = async (from: number, to: number) => {
      const chunk = Buffer.allocUnsafe(to - from);
      await this.readFrom(chunk, from);
      await writing;
      hash.update(chunk);
      writing = this.writeTo(target, chunk, position);
      // Awaited by the next flush or at the end; never an unhandled rejection meanwhile.
      writing.catch(() => undefined);
      position += chunk.length;
    };
    let run: [number, number] | undefined;
    for (const [from, to] of ranges) {
      if (run && from === run[1] && to - run[0] <= COPY_CHUNK_BYTES) {
        run[1] = to;
        continue;
      }
      if (run) await flush(run[0], run[1]);
      run = [from, to];
    }
    if (run) await flush(run[0], run[1]);
    await writing;
  }

  private async readFrom(into: Buffer, position: number): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      let done = 0;
      while (done < into.length) {
        const { bytesRead } = await this.handle.read(
          into,
          done,
          into.length - done,
          position + done,
        );
        if (bytesRead === 0) throw new Error(`unexpected end of ${this.tempPath}`);
        done += bytesRead;
      }
    } catch (error) {
      throw await this.ioFailure(error);
    }
  }

  /**
   * Every image's IFD, chained (full resolution first, then overviews by decreasing size), as
   * they lie from file offset `at`; `tables` gives each image's tile offsets and sizes.
   */
  private ifdChain(
    at: number,
    tables: (image: ImageTiles) => { offsets: ArrayLike<number>; byteCounts: ArrayLike<number> },
  ): { bytes: Buffer; firstIfdOffset: number } {
    const entries: IfdEntry[][] = this.images.map((image, k) =>
      imageEntries(
        this.spec,
        { kind: "tiles", ...tables(image) },
        k === 0 ? undefined : { width: image.width, height: image.height },
      ),
    );
    // Pass one finds where each IFD starts; pass two links each to the next.
    const starts: number[] = [];
    let position = at;
    for (const e of entries) {
      const ifd = encodeIfd(e, position, this.spec.bigTiff);
      starts.push(ifd.ifdOffset);
      position += ifd.bytes.length;
    }
    const parts: Buffer[] = [];
    position = at;
    entries.forEach((e, k) => {
      const ifd = encodeIfd(e, position, this.spec.bigTiff, starts[k + 1] ?? 0);
      parts.push(ifd.bytes);
      position += ifd.bytes.length;
    });
    return { bytes: Buffer.concat(parts), firstIfdOffset: starts[0] };
  }

  private async closeFile(handle: FileHandle): Promise<void> {
    try {
      await handle.sync();
      await handle.close();
    } catch (error) {
      throw await this.ioFailure(error);
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

  /**
   * Compresses full-resolution tile `index` and appends it; `owned` lets preparation reuse
   * `bytes`. Its overview quadrants are computed first, from the raw samples.
   */
  private submit(index: number, bytes: Uint8Array, owned: boolean): Promise<void> {
    const col = index % this.tilesAcross;
    const row = Math.floor(index / this.tilesAcross);
    if (this.claimed[index])
      throw new GeoTiffTileError(`Tile (${col},${row}) was already written.`);
    this.claimed[index] = 1;
    const { w, h } = tileExtent(this.spec, col, row);
    let tile = normalizeTile(bytes, w, h, this.spec, owned);
    if (this.pyramid) {
      // Typed views need aligned samples; a caller's odd-offset bytes are copied once.
      if (tile.byteOffset % this.spec.bytesPerSample !== 0) tile = new Uint8Array(tile);
      this.pyramid.addTile(col, row, tile, w, h);
    }
    // Given up by the caller, or a copy made here: reusable once compressed.
    return this.store(this.images[0], index, tile, h, owned || tile !== bytes);
  }

  /** An overview tile the pyramid completed: a full, raw tile the writer owns. */
  private submitOverview(level: number, index: number, tile: Uint8Array): void {
    const image = this.images[level];
    const row = Math.floor(index / image.tilesAcross);
    const h = Math.min(this.spec.tileSize, image.height - row * this.spec.tileSize);
    // Failures surface through inFlight (finish) like any tile's.
    this.store(image, index, tile, h, true).catch(() => undefined);
  }

  /**
   * Applies the predictor, compresses and appends a full tile (h rows inside the image).
   * `recyclable`: the writer owns `tile`, which goes back to the tile buffers once compressed
   * (uncompressed, it is what gets written, so it is kept).
   */
  private store(
    image: ImageTiles,
    index: number,
    tile: Uint8Array,
    h: number,
    recyclable: boolean,
  ): Promise<void> {
    const task = (async () => {
      if (this.spec.predictor) applyPredictor(tile, h, this.spec.tileSize, this.spec);
      const compressed = await compressAsync(tile, this.spec);
      if (recyclable && compressed !== tile) recycleTileBuffer(tile);
      if (this.failure) throw this.failure;
      const block = this.frameBytes > 0 ? framed(compressed) : compressed;
      // Reserve the range synchronously: positional writes can then overlap safely.
      const offset = this.fileEnd;
      const end = offset + block.byteLength;
      if (!this.spec.bigTiff && end + this.ifdReserve() > CLASSIC_TIFF_MAX_BYTES) {
        throw await this.failWith(new GeoTiffTooLargeError(this.path, end));
      }
      this.fileEnd = end;
      await this.append(block, offset);
      image.offsets[index] = offset + this.frameBytes / 2;
      image.byteCounts[index] = compressed.byteLength;
      if (image === this.images[0]) this.tilesStored++;
      this.tileBytesStored += compressed.byteLength;
    })();
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return tracked;
  }

  /** Room the IFDs need besides the tiles: two offsets per tile plus the other tags, per image. */
  private ifdReserve(): number {
    return (
      this.allTileCount * 16 +
      this.images.length * (65536 + this.spec.bands * 512) +
      COG_GHOST_AREA.length +
      this.spec.metadata.reduce((n, [k, v]) => n + 2 * (k.length + v.length) + 64, 0)
    );
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

  private writeAt(bytes: Uint8Array, position: number): Promise<void> {
    return this.writeTo(this.handle, bytes, position);
  }

  private async writeTo(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await handle.write(
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
    const stored = this.images.reduce(
      (n, image) => n + image.byteCounts.reduce((m, b) => m + (b > 0 ? 1 : 0), 0),
      0,
    );
    const perTile = stored > 0 ? this.tileBytesStored / stored : this.spec.tileBytes;
    const copies = this.spec.cloudOptimized ? 2 : 1;
    return Math.round(
      copies *
        (headerBytes(this.spec.bigTiff) +
          (perTile + this.frameBytes) * this.allTileCount +
          this.ifdReserve()),
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
    this.pyramid?.clear();
    this.pending = undefined;
    this.signal?.removeEventListener("abort", this.onAbort);
    const cogTemp = this.cogTemp;
    this.cleanup = (async () => {
      await this.handle.close().catch(() => undefined);
      await unlink(this.tempPath).catch(() => undefined);
      if (cogTemp) {
        await cogTemp.handle.close().catch(() => undefined);
        await unlink(cogTemp.tempPath).catch(() => undefined);
      }
    })();
    return this.cleanup;
  }
}

/** A tile between its COG leader (its size, uint32) and trailer (its last 4 bytes again). */
function framed(tile: Uint8Array): Buffer {
  const n = tile.byteLength;
  const out = Buffer.allocUnsafe(n + 8);
  out.writeUInt32LE(n, 0);
  out.set(tile, 4);
  // Deflate output is never under 4 bytes (zlib's header alone is 2, its checksum 4); a
  // shorter raw tile repeats what it has, zero-padded.
  out.fill(0, n + 4);
  out.set(tile.subarray(Math.max(0, n - 4)), n + 4);
  return out;
}

/** The file from its byte ranges, later ranges over earlier ones (the header's patched offset). */
function assemble(parts: { position: number; bytes: Uint8Array }[], size: number): Buffer {
  const file = Buffer.alloc(size);
  for (const part of parts) file.set(part.bytes, part.position);
  return file;
}
