/**
 * Overviews (reduced-resolution copies of the image, each half the size of the one before),
 * computed from full-resolution tiles as they reach the writer, never by reading the file
 * back. A full-resolution tile, downsampled 2x, is one quadrant of a level-1 tile; a level-1
 * tile is emitted (to be compressed and stored) as soon as its last quadrant arrives, and is
 * itself one quadrant of a level-2 tile, and so on.
 *
 * Memory: only overview tiles still missing a quadrant are held. Tiles arrive in bands of
 * rows (request windows), so that is about one row of tiles per level plus the windows in
 * flight, whatever the image size: at 20000 px and 512 px RGB tiles, at most 20 level-1
 * tiles (15 MiB) plus 10 level-2 tiles and so on, ~30 MiB in all.
 */
import { SAMPLE_ARRAYS, type SampleArray } from "../core/samples";
import type { ResolvedSpec } from "./spec";
import { takeTileBuffer } from "./tile-buffers";

/**
 * average: the mean of the 2x2 block, pixels equal to nodata (or NaN) left out; for
 * continuous data and visualized RGB (what GDAL's COG driver does for RGB imagery, and what
 * keeps a downsized true-colour snippet from sparkling).
 * nearest: the block's top-left pixel; for classified bands (Sentinel-2's SCL, masks), whose
 * codes must not be averaged into other codes.
 */
export type OverviewResampling = "average" | "nearest";

/** One overview level: its size and tile grid. */
export interface OverviewLevel {
  width: number;
  height: number;
  tilesAcross: number;
  tilesDown: number;
}

/**
 * Levels in 2x steps until the image fits in one tile, GDAL's rule for COG overviews: a
 * 5000 px image at 512 px tiles gets 2500, 1250, 625 and 313 px levels; one that fits in a
 * tile gets none (it is one read already).
 */
export function overviewLevels(width: number, height: number, tileSize: number): OverviewLevel[] {
  const levels: OverviewLevel[] = [];
  let w = width;
  let h = height;
  while (w > tileSize || h > tileSize) {
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
    levels.push({
      width: w,
      height: h,
      tilesAcross: Math.ceil(w / tileSize),
      tilesDown: Math.ceil(h / tileSize),
    });
  }
  return levels;
}

/** An overview tile still waiting for some of its (up to four) quadrants. */
interface PendingTile {
  data: Uint8Array;
  remaining: number;
}

/** Receives full-resolution tiles; emits each overview tile once it is complete. */
export class OverviewPyramid {
  readonly levels: OverviewLevel[];
  /** Per level (index 0 = level 1), tiles with some quadrants filled. */
  private readonly pending: Map<number, PendingTile>[];
  private readonly spec: ResolvedSpec;
  private readonly resampling: OverviewResampling;

  /** `emit(level, index, tile)`: level 1 = half size; `tile` is a full, padded, raw tile. */
  constructor(
    spec: ResolvedSpec,
    resampling: OverviewResampling,
    private readonly emit: (level: number, index: number, tile: Uint8Array) => void,
  ) {
    this.spec = spec;
    this.resampling = resampling;
    this.levels = overviewLevels(spec.width, spec.height, spec.tileSize);
    this.pending = this.levels.map(() => new Map());
  }

  /** Tiles held in memory waiting for quadrants. */
  get pendingTiles(): number {
    return this.pending.reduce((n, m) => n + m.size, 0);
  }

  /**
   * Adds full-resolution tile (col,row): `tile` is a full tile (tileSize^2 pixels, chunky,
   * raw samples before any predictor) of which w x h pixels are inside the image. Read
   * synchronously; the caller may modify it afterwards.
   */
  addTile(col: number, row: number, tile: Uint8Array, w: number, h: number): void {
    this.addQuadrant(1, col, row, tile, w, h);
  }

  /** Drops every pending tile (the writer failed). */
  clear(): void {
    for (const level of this.pending) level.clear();
  }

  private addQuadrant(
    level: number,
    childCol: number,
    childRow: number,
    child: Uint8Array,
    w: number,
    h: number,
  ): void {
    if (level > this.levels.length) return;
    const info = this.levels[level - 1];
    const ts = this.spec.tileSize;
    const col = childCol >> 1;
    const row = childRow >> 1;
    const index = row * info.tilesAcross + col;
    const pending = this.pending[level - 1];
    let parent = pending.get(index);
    if (!parent) {
      const childLevel = level === 1 ? undefined : this.levels[level - 2];
      const childAcross = childLevel?.tilesAcross ?? this.spec.tilesAcross;
      const childDown = childLevel?.tilesDown ?? this.spec.tilesDown;
      const quadrants =
        (Math.min(childAcross, 2 * col + 2) - 2 * col) *
        (Math.min(childDown, 2 * row + 2) - 2 * row);
      // Zeroed: quadrants fill only their valid pixels, the padding must stay 0.
      parent = { data: takeTileBuffer(this.spec.tileBytes, true), remaining: quadrants };
      pending.set(index, parent);
    }
    downsample(
      this.view(child),
      w,
      h,
      this.view(parent.data),
      (childCol & 1) * (ts >> 1),
      (childRow & 1) * (ts >> 1),
      this.spec,
      this.resampling,
    );
    if (--parent.remaining > 0) return;
    pending.delete(index);
    const pw = Math.min(ts, info.width - col * ts);
    const ph = Math.min(ts, info.height - row * ts);
    // Next level first: the tile is handed to emit, which may modify it (predictor).
    this.addQuadrant(level + 1, col, row, parent.data, pw, ph);
    this.emit(level, index, parent.data);
  }

  private view(bytes: Uint8Array): SampleArray {
    const View = SAMPLE_ARRAYS[this.spec.sampleType] as unknown as new (
      buffer: ArrayBufferLike,
      byteOffset: number,
      length: number,
    ) => SampleArray;
    return new View(bytes.buffer, bytes.byteOffset, bytes.byteLength / this.spec.bytesPerSample);
  }
}

/**
 * Halves the w x h valid pixels of `src` (a full tile) into `dst` (a full tile) at (dx, dy):
 * ceil(w/2) x ceil(h/2) pixels, an odd last column or row from its one or two pixels.
 */
function downsample(
  src: SampleArray,
  w: number,
  h: number,
  dst: SampleArray,
  dx: number,
  dy: number,
  spec: ResolvedSpec,
  resampling: OverviewResampling,
): void {
  const ts = spec.tileSize;
  const bands = spec.bands;
  const ow = Math.ceil(w / 2);
  const oh = Math.ceil(h / 2);
  const rowSamples = ts * bands;
  if (resampling === "nearest") {
    for (let y = 0; y < oh; y++) {
      const s = 2 * y * rowSamples;
      const d = (dy + y) * rowSamples + dx * bands;
      for (let x = 0; x < ow; x++) {
        for (let b = 0; b < bands; b++) dst[d + x * bands + b] = src[s + 2 * x * bands + b];
      }
    }
    return;
  }
  const nodata = spec.nodata;
  const integer = spec.sampleFormat !== 3;
  if (src instanceof Uint8Array && dst instanceof Uint8Array && nodata === 0) {
    averageBytesNodataZero(src, w, h, dst, dx, dy, ts, bands);
    return;
  }
  for (let y = 0; y < oh; y++) {
    const y1 = Math.min(2 * y + 1, h - 1);
    const r0 = 2 * y * rowSamples;
    const r1 = y1 * rowSamples;
    const d = (dy + y) * rowSamples + dx * bands;
    for (let x = 0; x < ow; x++) {
      const x0 = 2 * x * bands;
      const x1 = Math.min(2 * x + 1, w - 1) * bands;
      for (let b = 0; b < bands; b++) {
        // At an odd last column or row the clamped positions coincide: count each pixel once.
        let sum = 0;
        let count = 0;
        const take = (v: number) => {
          if (Number.isNaN(v) || v === nodata) return;
          sum += v;
          count++;
        };
        take(src[r0 + x0 + b]);
        if (x1 !== x0) take(src[r0 + x1 + b]);
        if (r1 !== r0) {
          take(src[r1 + x0 + b]);
          if (x1 !== x0) take(src[r1 + x1 + b]);
        }
        dst[d + x * bands + b] =
          count === 0 ? (nodata ?? Number.NaN) : integer ? Math.round(sum / count) : sum / count;
      }
    }
  }
}

/**
 * ROUNDED_MEAN[(sum << 3) | count]: Math.round(sum / count) (half up) for `count` (1 to 4)
 * samples of 0-255 adding up to `sum`, and 0 for none. A table lookup instead of a division
 * per output sample.
 */
const ROUNDED_MEAN = (() => {
  const table = new Uint8Array(((4 * 255) << 3) | 8);
  for (let count = 1; count <= 4; count++) {
    for (let sum = 0; sum <= 255 * count; sum++) {
      table[(sum << 3) | count] = Math.floor((2 * sum + count) / (2 * count));
    }
  }
  return table;
})();

/**
 * The common case, visualized RGB snippets (uint8, nodata 0), as a loop V8 sees only
 * Uint8Arrays and integers in, with neither branches nor divisions: a sample outside the
 * image (an odd last column or row) counts as 0, which nodata 0 leaves out of the mean like
 * any masked pixel; (v + 255) >> 8 is 1 for a valid sample and 0 for nodata; the table gives
 * the rounded mean. The generic loop above costs ~4x more main-thread time, and this runs
 * over every full-resolution pixel.
 */
function averageBytesNodataZero(
  src: Uint8Array,
  w: number,
  h: number,
  dst: Uint8Array,
  dx: number,
  dy: number,
  ts: number,
  bands: number,
): void {
  const ow = Math.ceil(w / 2);
  const oh = Math.ceil(h / 2);
  const rowSamples = ts * bands;
  const pairs = w >> 1;
  const mean = ROUNDED_MEAN;
  for (let y = 0; y < oh; y++) {
    const r0 = 2 * y * rowSamples;
    const twoRows = 2 * y + 1 < h;
    const r1 = twoRows ? r0 + rowSamples : r0;
    const d0 = (dy + y) * rowSamples + dx * bands;
    if (twoRows && bands === 3) {
      // Whole 2x2 blocks of RGB, unrolled: most of the tile, and ~1.5x faster than the loop below.
      for (let s0 = r0, s1 = r1, d = d0, end = d0 + 3 * pairs; d < end; s0 += 6, s1 += 6, d += 3) {
        let a = src[s0];
        let c = src[s0 + 3];
        let e = src[s1];
        let f = src[s1 + 3];
        dst[d] =
          mean[
            ((a + c + e + f) << 3) |
              (((a + 255) >> 8) + ((c + 255) >> 8) + ((e + 255) >> 8) + ((f + 255) >> 8))
          ];
        a = src[s0 + 1];
        c = src[s0 + 4];
        e = src[s1 + 1];
        f = src[s1 + 4];
        dst[d + 1] =
          mean[
            ((a + c + e + f) << 3) |
              (((a + 255) >> 8) + ((c + 255) >> 8) + ((e + 255) >> 8) + ((f + 255) >> 8))
          ];
        a = src[s0 + 2];
        c = src[s0 + 5];
        e = src[s1 + 2];
        f = src[s1 + 5];
        dst[d + 2] =
          mean[
            ((a + c + e + f) << 3) |
              (((a + 255) >> 8) + ((c + 255) >> 8) + ((e + 255) >> 8) + ((f + 255) >> 8))
          ];
      }
    } else if (twoRows) {
      // Whole 2x2 blocks: most of the tile.
      for (let x = 0, s0 = r0, s1 = r1, d = d0; x < pairs; x++, s0 += 2 * bands, s1 += 2 * bands) {
        for (let b = 0; b < bands; b++, d++) {
          const a = src[s0 + b];
          const c = src[s0 + bands + b];
          const e = src[s1 + b];
          const f = src[s1 + bands + b];
          const count = ((a + 255) >> 8) + ((c + 255) >> 8) + ((e + 255) >> 8) + ((f + 255) >> 8);
          dst[d] = mean[((a + c + e + f) << 3) | count];
        }
      }
    }
    // Blocks clipped by the tile's valid edge: the last column when w is odd, the last row
    // when h is odd (every column of it).
    for (let x = twoRows ? pairs : 0; x < ow; x++) {
      const x0 = 2 * x * bands;
      const twoCols = 2 * x + 1 < w;
      for (let b = 0; b < bands; b++) {
        const a = src[r0 + x0 + b];
        const c = twoCols ? src[r0 + x0 + bands + b] : 0;
        const e = twoRows ? src[r1 + x0 + b] : 0;
        const f = twoRows && twoCols ? src[r1 + x0 + bands + b] : 0;
        const count = ((a + 255) >> 8) + ((c + 255) >> 8) + ((e + 255) >> 8) + ((f + 255) >> 8);
        dst[d0 + x * bands + b] = mean[((a + c + e + f) << 3) | count];
      }
    }
  }
}
