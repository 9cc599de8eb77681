/**
 * Tile compression and storage. Full-resolution tiles, and the overview tiles the pyramid
 * computes from them, are predicted and compressed in parallel and appended to the spooled
 * file as each finishes (framed, for the COG layout); each image's tile table records where
 * its tiles went.
 */
import { COG_GHOST_AREA, framed } from "./cog-layout";
import { GeoTiffTileError, GeoTiffTooLargeError } from "./errors";
import { headerBytes } from "./ifd";
import { type ImageTiles, imageTiles } from "./image-tiles";
import { OverviewPyramid } from "./overviews";
import { applyPredictor, compressAsync, normalizeTile, tileExtent } from "./pixels";
import { CLASSIC_TIFF_MAX_BYTES, type ResolvedSpec } from "./spec";
import type { SpooledFile } from "./spooled-file";
import { recycleTileBuffer } from "./tile-buffers";

/** The writer's terminal failure: the current one, and entering it. */
export interface WriterFailure {
  failure: () => Error | undefined;
  failWith: (failure: Error) => Promise<Error>;
}

export class TileStore {
  /** images[0] is the full-resolution image, images[k] overview level k. */
  readonly images: ImageTiles[];
  readonly pyramid: OverviewPyramid | undefined;
  /** 1 once a tile has been handed to the compressor: a second write is a caller bug. */
  readonly claimed: Uint8Array;
  /** Full-resolution tiles stored so far. */
  tilesStored = 0;
  private tileBytesStored = 0;
  /** Tiles of every image, overviews included. */
  private readonly allTileCount: number;
  /** Leader and trailer bytes around each stored tile (COG layout), else 0. */
  private readonly frameBytes: number;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly spec: ResolvedSpec,
    private readonly path: string,
    private readonly file: SpooledFile,
    private readonly writer: WriterFailure,
  ) {
    const image = (width: number, height: number) => imageTiles(width, height, spec.tileSize);
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
  }

  /**
   * Compresses full-resolution tile `index` and appends it; `owned` lets preparation reuse
   * `bytes`. Its overview quadrants are computed first, from the raw samples.
   */
  submit(index: number, bytes: Uint8Array, owned: boolean): Promise<void> {
    const col = index % this.spec.tilesAcross;
    const row = Math.floor(index / this.spec.tilesAcross);
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

  /** Waits until no tile is being compressed or appended (failed ones included). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** The finished file's likely size, extrapolated from the tiles compressed so far. */
  estimatedFileBytes(): number {
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
      const failure = this.writer.failure();
      if (failure) throw failure;
      const block = this.frameBytes > 0 ? framed(compressed) : compressed;
      // Reserve the range synchronously: positional writes can then overlap safely.
      const offset = this.file.end;
      const end = offset + block.byteLength;
      if (!this.spec.bigTiff && end + this.ifdReserve() > CLASSIC_TIFF_MAX_BYTES) {
        throw await this.writer.failWith(new GeoTiffTooLargeError(this.path, end));
      }
      this.file.end = end;
      await this.file.append(block, offset);
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
}
