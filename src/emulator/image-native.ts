/**
 * Scene bands on output grids finer than their native pixels. Earth Engine computes a band
 * on its own pixel grid and resamples to the requested grid (nearest neighbour unless the
 * image says otherwise), so a 2 m request of a 10 m band costs the 10 m render plus a copy.
 * The emulator does the same: it renders the window of the band's native grid that the
 * output covers, then gives each output pixel the native pixel its centre falls in.
 */
import { interpolateNodeRow } from "./landscape/raster";
import type { Scene } from "./model";
import { RenderContext } from "./render";

/** Side of a Sentinel-2 MGRS tile in metres: 10980 px at 10 m, 5490 at 20 m, 1830 at 60 m. */
const TILE_METRES = 109800;

/**
 * Native windows start a multiple of this many native pixels from the tile's corner, so
 * every window (and so every tile of a split request) evaluates the same lattice nodes as
 * any other: the render lattice is anchored at the grid's origin (render.ts LATTICE_STEP).
 */
const WINDOW_ALIGN = 8;

/**
 * Whether the output grid's pixels are finer than `resolution` metres, so the band is
 * rendered natively and resampled. Equal or coarser grids sample the imagery at their own
 * pixel centres as before (the tiny tolerance keeps a grid built from the native scale in
 * degrees on the sampling side).
 */
export function finerThanNative(ctx: RenderContext, resolution: number): boolean {
  return ctx.nodeSpacingMetres / ctx.step < resolution * (1 - 1e-6);
}

/** The native pixels an output grid needs from one scene at one resolution. */
export interface NativeWindow {
  /** The native grid's window; undefined when the output lies wholly outside the tile. */
  ctx?: RenderContext;
  /** 255 where the output pixel has a native pixel (inside the tile), else 0. */
  footprint: Uint8Array;
  /** out[i] = the native value (row-major over ctx) of output pixel i, `outside` where none. */
  gather<T extends Uint8Array | Uint16Array>(native: T, out: T, outside?: number): void;
}

/** Native pixel columns and rows of the window, from the tile's corner. */
interface Span {
  c0: number;
  r0: number;
  c1: number;
  r1: number;
}

/**
 * The window of `scene`'s native grid at `resolution` m that `ctx` covers, and which of
 * its pixels each output pixel takes: the one its centre falls in.
 */
export function nativeWindow(ctx: RenderContext, scene: Scene, resolution: number): NativeWindow {
  const a = ctx.grid.affine;
  // A north-up grid in the scene's own zone (what a download in the AOI's UTM zone asks
  // for) maps columns to columns and rows to rows: two short lookups instead of a map.
  if (ctx.crs.epsg === scene.epsg && a.shearX === 0 && a.shearY === 0) {
    return separableWindow(ctx, scene, resolution);
  }
  return mappedWindow(ctx, scene, resolution);
}

function windowSpan(
  resolution: number,
  cMin: number,
  cMax: number,
  rMin: number,
  rMax: number,
): Span | undefined {
  const tilePixels = Math.round(TILE_METRES / resolution);
  const align = (v: number) => Math.floor(v / WINDOW_ALIGN) * WINDOW_ALIGN;
  const c0 = align(Math.max(0, Math.floor(cMin)));
  const r0 = align(Math.max(0, Math.floor(rMin)));
  const c1 = Math.min(tilePixels, Math.floor(cMax) + 1);
  const r1 = Math.min(tilePixels, Math.floor(rMax) + 1);
  return c1 > c0 && r1 > r0 ? { c0, r0, c1, r1 } : undefined;
}

function windowContext(scene: Scene, resolution: number, span: Span): RenderContext {
  const { xmin, ymax } = scene.utmBounds;
  return new RenderContext({
    crsCode: `EPSG:${scene.epsg}`,
    affine: {
      scaleX: resolution,
      shearX: 0,
      translateX: xmin + span.c0 * resolution,
      shearY: 0,
      scaleY: -resolution,
      translateY: ymax - span.r0 * resolution,
    },
    width: span.c1 - span.c0,
    height: span.r1 - span.r0,
  });
}

function separableWindow(ctx: RenderContext, scene: Scene, resolution: number): NativeWindow {
  const { width, height } = ctx;
  const a = ctx.grid.affine;
  const { xmin, ymax } = scene.utmBounds;
  const colAt = (c: number) =>
    Math.floor((a.translateX + a.scaleX * (c + 0.5) - xmin) / resolution);
  const rowAt = (r: number) =>
    Math.floor((ymax - (a.translateY + a.scaleY * (r + 0.5))) / resolution);
  const ends = [colAt(0), colAt(width - 1)];
  const rowEnds = [rowAt(0), rowAt(height - 1)];
  const span = windowSpan(
    resolution,
    Math.min(...ends),
    Math.max(...ends),
    Math.min(...rowEnds),
    Math.max(...rowEnds),
  );
  const footprint = new Uint8Array(width * height);
  if (!span) return { footprint, gather: (_, out, outside = 0) => out.fill(outside) };
  const w = span.c1 - span.c0;
  const h = span.r1 - span.r0;
  const cols = new Int32Array(width);
  const rows = new Int32Array(height);
  for (let c = 0; c < width; c++) {
    const col = colAt(c) - span.c0;
    cols[c] = col >= 0 && col < w ? col : -1;
  }
  for (let r = 0; r < height; r++) {
    const row = rowAt(r) - span.r0;
    rows[r] = row >= 0 && row < h ? row * w : -1;
  }
  const footprintRow = new Uint8Array(width);
  for (let c = 0; c < width; c++) if (cols[c] >= 0) footprintRow[c] = 255;
  for (let r = 0; r < height; r++) if (rows[r] >= 0) footprint.set(footprintRow, r * width);
  return {
    ctx: windowContext(scene, resolution, span),
    footprint,
    gather(native, out, outside = 0) {
      for (let r = 0; r < height; r++) {
        const base = rows[r];
        const o = r * width;
        if (base < 0) {
          out.fill(outside, o, o + width);
        } else if (r > 0 && base === rows[r - 1]) {
          // Upsampled: consecutive rows take the same native row.
          out.copyWithin(o, o - width, o);
        } else if (out instanceof Uint8Array) {
          gatherRow8(native as Uint8Array, base, cols, out, o, outside);
        } else {
          gatherRow16(native as Uint16Array, base, cols, out as Uint16Array, o, outside);
        }
      }
    },
  };
}

// One row of the separable gather per array type: a loop that sees both Uint8Array and
// Uint16Array reads and writes through V8's slow generic element access, ~3x the time.
function gatherRow8(
  native: Uint8Array,
  base: number,
  cols: Int32Array,
  out: Uint8Array,
  o: number,
  outside: number,
): void {
  for (let c = 0; c < cols.length; c++) {
    const j = cols[c];
    out[o + c] = j >= 0 ? native[base + j] : outside;
  }
}

function gatherRow16(
  native: Uint16Array,
  base: number,
  cols: Int32Array,
  out: Uint16Array,
  o: number,
  outside: number,
): void {
  for (let c = 0; c < cols.length; c++) {
    const j = cols[c];
    out[o + c] = j >= 0 ? native[base + j] : outside;
  }
}

/**
 * Any other grid: output pixel centres are found in the scene's UTM zone like the
 * footprint's (exact at lattice nodes, linear between).
 */
function mappedWindow(ctx: RenderContext, scene: Scene, resolution: number): NativeWindow {
  const { width, height, nx, ny, shift, step } = ctx;
  const { xmin, ymax } = scene.utmBounds;
  const nodes = ctx.nodesInEpsg(scene.epsg);
  const count = nx * ny;
  // Node positions in native pixel units (column, row from the tile's corner).
  const colOf = new Float64Array(count);
  const rowOf = new Float64Array(count);
  let cMin = Number.POSITIVE_INFINITY;
  let cMax = Number.NEGATIVE_INFINITY;
  let rMin = Number.POSITIVE_INFINITY;
  let rMax = Number.NEGATIVE_INFINITY;
  for (let n = 0; n < count; n++) {
    const c = (nodes.x[n] - xmin) / resolution;
    const r = (ymax - nodes.y[n]) / resolution;
    colOf[n] = c;
    rowOf[n] = r;
    if (!Number.isFinite(c) || !Number.isFinite(r)) continue;
    cMin = Math.min(cMin, c);
    cMax = Math.max(cMax, c);
    rMin = Math.min(rMin, r);
    rMax = Math.max(rMax, r);
  }
  const size = width * height;
  const footprint = new Uint8Array(size);
  const span = windowSpan(resolution, cMin, cMax, rMin, rMax);
  if (!span) return { footprint, gather: (_, out, outside = 0) => out.fill(outside) };
  const index = new Int32Array(size).fill(-1);
  const w = span.c1 - span.c0;
  const h = span.r1 - span.r0;
  const invStep = 1 / step;
  const rowC = new Float64Array(nx);
  const rowR = new Float64Array(nx);
  for (let r = 0; r < height; r++) {
    interpolateNodeRow(ctx, colOf, r, rowC);
    interpolateNodeRow(ctx, rowOf, r, rowR);
    const rowStart = r * width;
    for (let c = 0; c < width; c++) {
      const i = c >> shift;
      const tx = (c & (step - 1)) * invStep;
      const col = Math.floor(rowC[i] + (rowC[i + 1] - rowC[i]) * tx) - span.c0;
      const row = Math.floor(rowR[i] + (rowR[i + 1] - rowR[i]) * tx) - span.r0;
      // NaN (far outside the zone) fails both tests.
      if (col >= 0 && col < w && row >= 0 && row < h) {
        index[rowStart + c] = row * w + col;
        footprint[rowStart + c] = 255;
      }
    }
  }
  return {
    ctx: windowContext(scene, resolution, span),
    footprint,
    gather(native, out, outside = 0) {
      for (let i = 0; i < index.length; i++) {
        const j = index[i];
        out[i] = j >= 0 ? native[j] : outside;
      }
    },
  };
}
