/**
 * Rendering images onto request grids: the per-request lattice of exact positions, the
 * memo that lets bands share work, and conversion to pixel types (rasterize.ts draws
 * geometries in the same pixel space).
 */
import { type Crs, crsFromCode, crsFromEpsg } from "../core/crs";
import { INTEGER_RANGES, type SampleType } from "../core/samples";
import { EmulatorInputError } from "./errors";
import type { EmImage } from "./image";
import { mercatorU, mercatorV } from "./landscape/noise";
import type { RenderLattice } from "./landscape/raster";
import type { Grid, RenderedBand } from "./model";

/** One band rendered onto a grid, before conversion to its pixel type. */
export interface Raster {
  /**
   * Values; a Uint8Array/Uint16Array when the producer knows they are integers in that
   * type's range (then renderImage hands the array on without converting it).
   */
  data: Float64Array | Uint8Array | Uint16Array;
  /** 0 masked, 255 valid. */
  mask: Uint8Array;
  /**
   * 255 where the image has data at all (its footprint), 0 outside. unmask fills masked
   * pixels only inside the footprint unless told otherwise, as Earth Engine does.
   */
  footprint: Uint8Array;
}

/**
 * Exact positions every LATTICE_STEP pixels; everything in between is interpolated. The
 * step divides 512, so a request split into 512-aligned tiles evaluates the very same
 * lattice nodes and renders byte-identical pixels.
 */
export const LATTICE_STEP = 8;
const LATTICE_SHIFT = 3;

const METRES_PER_DEGREE = 111320;

export class GridError extends EmulatorInputError {
  constructor(message: string) {
    super(message);
    this.name = "GridError";
  }
}

/** State shared by everything rendered for one request grid. */
export class RenderContext implements RenderLattice {
  readonly grid: Grid;
  readonly crs: Crs;
  readonly width: number;
  readonly height: number;
  readonly step = LATTICE_STEP;
  readonly shift = LATTICE_SHIFT;
  readonly nx: number;
  readonly ny: number;
  readonly nodeSpacingMetres: number;
  private lonLat?: { lon: Float64Array; lat: Float64Array };
  private mercator?: { u: Float64Array; v: Float64Array };
  private readonly projected = new Map<number, { x: Float64Array; y: Float64Array }>();
  private readonly memos = new Map<object, Map<string, unknown>>();
  private readonly disposers: (() => void)[] = [];

  constructor(grid: Grid) {
    const { width, height, affine } = grid;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new GridError(`Grid dimensions must be positive integers, got ${width}x${height}.`);
    }
    const det = affine.scaleX * affine.scaleY - affine.shearX * affine.shearY;
    if (!Number.isFinite(det) || det === 0) {
      throw new GridError(
        "Grid affineTransform is singular: scaleX*scaleY - shearX*shearY must not be 0.",
      );
    }
    this.grid = grid;
    this.crs = crsFromCode(grid.crsCode);
    this.width = width;
    this.height = height;
    this.nx = ((width - 1) >> LATTICE_SHIFT) + 2;
    this.ny = ((height - 1) >> LATTICE_SHIFT) + 2;
    const pixel = Math.sqrt(Math.abs(det)) * (this.crs.units === "degree" ? METRES_PER_DEGREE : 1);
    this.nodeSpacingMetres = pixel * LATTICE_STEP;
  }

  /** Grid CRS coordinates of pixel position (col, row) (pixel centres are at +0.5). */
  gridToCrs(col: number, row: number): [number, number] {
    const a = this.grid.affine;
    return [
      a.translateX + a.scaleX * col + a.shearX * row,
      a.translateY + a.shearY * col + a.scaleY * row,
    ];
  }

  /** Pixel position (col, row) of grid CRS coordinates. */
  crsToGrid(x: number, y: number): [number, number] {
    const a = this.grid.affine;
    const det = a.scaleX * a.scaleY - a.shearX * a.shearY;
    const dx = x - a.translateX;
    const dy = y - a.translateY;
    return [(a.scaleY * dx - a.shearX * dy) / det, (-a.shearY * dx + a.scaleX * dy) / det];
  }

  /** Node coordinates in the grid's CRS. */
  private nodeCrs(): { x: Float64Array; y: Float64Array } {
    const own = this.projected.get(this.crs.epsg);
    if (own) return own;
    const count = this.nx * this.ny;
    const x = new Float64Array(count);
    const y = new Float64Array(count);
    for (let j = 0; j < this.ny; j++) {
      for (let i = 0; i < this.nx; i++) {
        const [cx, cy] = this.gridToCrs(i * LATTICE_STEP + 0.5, j * LATTICE_STEP + 0.5);
        x[j * this.nx + i] = cx;
        y[j * this.nx + i] = cy;
      }
    }
    const nodes = { x, y };
    this.projected.set(this.crs.epsg, nodes);
    return nodes;
  }

  /** Node lon/lat (exact, via proj4 once per node). */
  nodeLonLat(): { lon: Float64Array; lat: Float64Array } {
    if (this.lonLat) return this.lonLat;
    const { x, y } = this.nodeCrs();
    const count = x.length;
    const lon = new Float64Array(count);
    const lat = new Float64Array(count);
    for (let n = 0; n < count; n++) {
      const [lo, la] = this.crs.inverse(x[n], y[n]);
      lon[n] = lo;
      lat[n] = la;
    }
    this.lonLat = { lon, lat };
    return this.lonLat;
  }

  private mercatorNodes(): { u: Float64Array; v: Float64Array } {
    if (this.mercator) return this.mercator;
    const { lon, lat } = this.nodeLonLat();
    const u = new Float64Array(lon.length);
    const v = new Float64Array(lon.length);
    for (let n = 0; n < lon.length; n++) {
      u[n] = mercatorU(lon[n]);
      v[n] = mercatorV(lat[n]);
    }
    this.mercator = { u, v };
    return this.mercator;
  }

  get nodeU(): Float64Array {
    return this.mercatorNodes().u;
  }

  get nodeV(): Float64Array {
    return this.mercatorNodes().v;
  }

  nodesInEpsg(epsg: number): { x: Float64Array; y: Float64Array } {
    if (epsg === this.crs.epsg) return this.nodeCrs();
    const cached = this.projected.get(epsg);
    if (cached) return cached;
    const target = crsFromEpsg(epsg);
    const { lon, lat } = this.nodeLonLat();
    const x = new Float64Array(lon.length);
    const y = new Float64Array(lon.length);
    for (let n = 0; n < lon.length; n++) {
      const [px, py] = target.forward(lon[n], lat[n]);
      // Far outside a UTM zone proj4 may give non-finite values: such nodes are outside
      // any tile of that zone anyway.
      x[n] = Number.isFinite(px) ? px : Number.NaN;
      y[n] = Number.isFinite(py) ? py : Number.NaN;
    }
    const nodes = { x, y };
    this.projected.set(epsg, nodes);
    return nodes;
  }

  /**
   * The lattice of rows row0 .. row0 + rows - 1 alone (row0 a multiple of the step): the
   * same nodes, so a strip renders exactly like those rows of the whole grid.
   */
  strip(row0: number, rows: number): RenderLattice {
    if (row0 % LATTICE_STEP !== 0 || rows < 1 || row0 + rows > this.height) {
      throw new GridError(`Strip ${row0}+${rows} does not fit the lattice of ${this.height} rows.`);
    }
    const nx = this.nx;
    const ny = ((rows - 1) >> LATTICE_SHIFT) + 2;
    const from = (row0 >> LATTICE_SHIFT) * nx;
    const to = from + ny * nx;
    const nodeU = this.nodeU.subarray(from, to);
    const nodeV = this.nodeV.subarray(from, to);
    return {
      width: this.width,
      height: rows,
      step: LATTICE_STEP,
      shift: LATTICE_SHIFT,
      nx,
      ny,
      nodeU,
      nodeV,
      nodeSpacingMetres: this.nodeSpacingMetres,
      nodesInEpsg: (epsg) => {
        const { x, y } = this.nodesInEpsg(epsg);
        return { x: x.subarray(from, to), y: y.subarray(from, to) };
      },
    };
  }

  /** Computes once per (owner, key) and request; owners are images or geometries. */
  memo<T>(owner: object, key: string, compute: () => T): T {
    let byKey = this.memos.get(owner);
    if (!byKey) {
      byKey = new Map();
      this.memos.set(owner, byKey);
    }
    if (byKey.has(key)) return byKey.get(key) as T;
    const value = compute();
    byKey.set(key, value);
    return value;
  }

  /** Like memo, keyed by two objects (e.g. a source mask and a clip area). */
  memoPair<T>(first: object, second: object, key: string, compute: () => T): T {
    const inner = this.memo(first, `pair:${key}`, () => new Map<object, T>());
    const hit = inner.get(second);
    if (hit !== undefined || inner.has(second)) return hit as T;
    const value = compute();
    inner.set(second, value);
    return value;
  }

  /** Registers work for dispose(), e.g. returning scratch memory for the next request. */
  onDispose(release: () => void): void {
    this.disposers.push(release);
  }

  /** Ends the request: memoized values may no longer be used. */
  dispose(): void {
    for (const release of this.disposers.splice(0)) release();
    this.memos.clear();
  }

  /** Band `index` of `image` rendered once per request however often it is used. */
  band(image: EmImage, index: number): Raster {
    return this.memo(image, `band:${index}`, () => image.renderBand(this, index));
  }

  /**
   * Bands `indices` of `image`, memoized like band(); rendered in one go when the image can
   * share work between them (e.g. one pass over a scene's land cover for three bands).
   */
  bands(image: EmImage, indices: number[]): Raster[] {
    const known = this.memos.get(image);
    const missing = indices.filter(
      (index, k) => indices.indexOf(index) === k && !known?.has(`band:${index}`),
    );
    if (missing.length > 1 && image.renderBands) {
      const rendered = image.renderBands(this, missing);
      for (let k = 0; k < missing.length; k++) {
        this.memo(image, `band:${missing[k]}`, () => rendered[k]);
      }
    }
    return indices.map((index) => this.band(image, index));
  }
}

// ---------------------------------------------------------------------------------------
// Type conversion

function typedArrayFor(type: SampleType, size: number): RenderedBand["data"] {
  switch (type) {
    case "uint8":
      return new Uint8Array(size);
    case "uint16":
      return new Uint16Array(size);
    case "int16":
      return new Int16Array(size);
    case "int32":
      return new Int32Array(size);
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    // RenderedBand has no int8/uint32 arrays: widen to the next type that holds them.
    case "int8":
      return new Int16Array(size);
    case "uint32":
      return new Float64Array(size);
  }
}

/** Converts with rounding and clamping (typed-array assignment would wrap around). */
export function toPixelType(data: Raster["data"], type: SampleType): RenderedBand["data"] {
  if (
    (type === "uint8" && data instanceof Uint8Array) ||
    (type === "uint16" && data instanceof Uint16Array)
  ) {
    return data;
  }
  const out = typedArrayFor(type, data.length);
  if (!(data instanceof Float64Array)) {
    // Integers that fit any wider type as they are.
    out.set(data);
    return out;
  }
  const range = INTEGER_RANGES[type];
  if (!range) {
    out.set(data);
    return out;
  }
  const [lo, hi] = range;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    out[i] = v < lo ? lo : v > hi ? hi : Number.isNaN(v) ? 0 : Math.floor(v + 0.5);
  }
  return out;
}

/** Renders every band of `img` onto `grid`. */
export function renderImage(img: EmImage, grid: Grid): RenderedBand[] {
  const ctx = new RenderContext(grid);
  try {
    return img.bands.map((band, index) => {
      const raster = ctx.band(img, index);
      return {
        id: band.id,
        dataType: band.dataType,
        data: toPixelType(raster.data, band.dataType),
        mask: raster.mask,
      };
    });
  } finally {
    ctx.dispose();
  }
}
