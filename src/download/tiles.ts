/**
 * Request planning: which windows of the output grid are fetched with one computePixels call
 * each. Windows are unions of whole output tiles, so every request fills complete internal
 * GeoTIFF tiles and the writer never has to hold a partial tile for long.
 */
import { DownloadParameterError } from "./errors";

/** A window of the output grid, in output pixels. */
export interface RequestTile {
  x0: number;
  y0: number;
  width: number;
  height: number;
}

/**
 * computePixels refuses a request whose size is over 48 MiB ("Total request size (N bytes)
 * must be less than or equal to 50331648 bytes"), so a window may use exactly this much; how
 * the size is counted is requestBytes' business.
 */
export const MAX_REQUEST_BYTES = 50331648;
/** Sub-tile splits fall on multiples of this many pixels (a divisor of every TIFF tile size). */
const SUB_TILE_ALIGN = 16;
/** computePixels refuses grids wider or taller than this. */
export const MAX_REQUEST_SIDE = 32768;

export interface TilePlanOptions {
  /** Bytes per pixel of each band (1 for uint8, 2 for int16, ...). */
  bandBytes: number[];
  /**
   * Bytes per sample of the one type the bands are sent as (their common type, which may be
   * wider than every band's: uint16 with int16 is int32); default the widest band's.
   */
  sampleBytes?: number;
  /** Hard cap on requestBytes of every window; default MAX_REQUEST_BYTES. */
  maxRequestBytes?: number;
  /** The output's internal tile size; windows are aligned to it. Default 512. */
  tileSize?: number;
  /**
   * Plan at least this many windows when the grid has enough tiles: smaller parallel
   * requests finish sooner than one large one, because server time grows with pixels.
   */
  minWindows?: number;
}

/**
 * Bytes computePixels may charge a window against MAX_REQUEST_BYTES. Three counts are known
 * and they disagree, so windows are planned under the largest:
 * - Earth Engine's REST reference: width * height * bands * bytes per sample;
 * - a captured refusal, "Total request size (57353670 bytes)" for 1845 x 1727 px of 8 int16
 *   bands, fits width * height * bytes * (bands + 1): the mask counted as one more band of
 *   the same type (3186315 px * 2 * 9 = 57353670). The emulator enforces this one;
 * - this engine's earlier count, width * height * (sum of band bytes + 1 mask byte).
 * With bytes the common type's, the second is never below the others; all three stay here
 * so that a correction to any one of them cannot make the plan larger than another allows.
 */
export function requestBytes(
  width: number,
  height: number,
  bandBytes: number[],
  sampleBytes?: number,
): number {
  return width * height * requestBytesPerPixel(bandBytes, sampleBytes);
}

/** requestBytes of one pixel. */
export function requestBytesPerPixel(bandBytes: number[], sampleBytes?: number): number {
  const bands = bandBytes.length;
  const sum = bandBytes.reduce((s, b) => s + b, 0);
  const bytes = sampleBytes ?? Math.max(...bandBytes);
  return Math.max(bands * bytes, bytes * (bands + 1), sum + 1);
}

/**
 * Splits a width x height grid into request windows: every window under the byte and side
 * limits, tile-aligned, balanced (counts per axis spread evenly, shapes roughly square),
 * covering the grid exactly once, in row-major order.
 */
export function planTiles(
  grid: { width: number; height: number },
  options: TilePlanOptions,
): RequestTile[] {
  const tileSize = options.tileSize ?? 512;
  const maxBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const { width, height } = grid;
  const pixelBytes = requestBytesPerPixel(options.bandBytes, options.sampleBytes);
  if (!Number.isInteger(tileSize) || tileSize < 16 || tileSize % 16 !== 0) {
    throw new DownloadParameterError(
      `tileSize must be a multiple of 16 (TIFF requires it), got ${tileSize}.`,
    );
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new DownloadParameterError(
      `The grid must be at least 1x1 pixel, got ${width}x${height}.`,
    );
  }
  if (!(maxBytes >= pixelBytes)) {
    throw new DownloadParameterError(
      `maxRequestBytes (${maxBytes}) is smaller than one pixel (${pixelBytes} bytes as computePixels counts it, the mask included).`,
    );
  }
  const tilesX = Math.ceil(width / tileSize);
  const tilesY = Math.ceil(height / tileSize);
  const fits = (w: number, h: number) =>
    w <= MAX_REQUEST_SIDE && h <= MAX_REQUEST_SIDE && w * h * pixelBytes <= maxBytes;

  if (!fits(Math.min(tileSize, width), Math.min(tileSize, height))) {
    // Even one tile is too large (many or wide bands): split each tile into sub-tile windows.
    const sub: RequestTile[] = [];
    for (let ty = 0; ty < tilesY; ty++) {
      for (let tx = 0; tx < tilesX; tx++) {
        const tile = clipWindow(tx * tileSize, ty * tileSize, tileSize, tileSize, width, height);
        sub.push(...splitUntil(tile, (w) => fits(w.width, w.height)));
      }
    }
    return sub;
  }

  // Choose how many windows along each axis. Candidates are every (nx, ny) that fits; the
  // fewest windows win, except that up to a quarter more windows are accepted for squarer
  // shapes (long thin strips gain nothing and cost Earth Engine more edge work per pixel),
  // and at least minWindows are planned when the grid has that many tiles.
  const minWindows = Math.min(options.minWindows ?? 1, tilesX * tilesY);
  const candidates: { nx: number; ny: number; count: number; aspect: number }[] = [];
  for (let nx = 1; nx <= tilesX; nx++) {
    const bx = Math.ceil(tilesX / nx);
    if (Math.ceil(tilesX / bx) !== nx) continue; // same window width as a smaller nx
    for (let ny = 1; ny <= tilesY; ny++) {
      const by = Math.ceil(tilesY / ny);
      if (Math.ceil(tilesY / by) !== ny) continue;
      const w = Math.min(bx * tileSize, width);
      const h = Math.min(by * tileSize, height);
      if (!fits(w, h)) continue;
      candidates.push({ nx, ny, count: nx * ny, aspect: Math.max(w, h) / Math.min(w, h) });
    }
  }
  const enough = candidates.filter((c) => c.count >= minWindows);
  const pool = enough.length > 0 ? enough : candidates;
  const fewest = Math.min(...pool.map((c) => c.count));
  const allowed = Math.ceil(fewest * 1.25);
  let best: (typeof candidates)[number] | undefined;
  for (const c of pool) {
    if (c.count > allowed) continue;
    if (!best || lexLess([c.aspect, c.count, c.ny], [best.aspect, best.count, best.ny])) best = c;
  }
  if (!best) throw new Error("unreachable: a single tile fits, so some plan exists");
  const xs = spread(tilesX, best.nx);
  const ys = spread(tilesY, best.ny);
  const windows: RequestTile[] = [];
  let ty = 0;
  for (const rowTiles of ys) {
    let tx = 0;
    for (const colTiles of xs) {
      windows.push(
        clipWindow(
          tx * tileSize,
          ty * tileSize,
          colTiles * tileSize,
          rowTiles * tileSize,
          width,
          height,
        ),
      );
      tx += colTiles;
    }
    ty += rowTiles;
  }
  return windows;
}

/**
 * Halves a window along its longer side: at a tile boundary when it spans several tiles
 * (keeping both halves tile-aligned), else at the middle pixel. Undefined for a 1x1 window.
 */
export function splitWindow(
  window: RequestTile,
  tileSize: number,
): [RequestTile, RequestTile] | undefined {
  const { x0, y0, width, height } = window;
  const alongX = width >= height;
  const length = alongX ? width : height;
  if (length < 2) return undefined;
  const start = alongX ? x0 : y0;
  // Tile boundaries strictly inside the window.
  const firstBoundary = Math.floor(start / tileSize) * tileSize + tileSize;
  const lastBoundary = Math.ceil((start + length) / tileSize) * tileSize - tileSize;
  let cut: number;
  if (firstBoundary <= lastBoundary) {
    // The tile boundary nearest the middle, kept strictly inside the window.
    cut = Math.round((start + length / 2) / tileSize) * tileSize;
    cut = Math.min(Math.max(cut, firstBoundary), lastBoundary);
  } else if (length >= 2 * SUB_TILE_ALIGN) {
    // Below one tile, cut on a multiple of SUB_TILE_ALIGN from the grid origin: halves stay
    // block-aligned, so a server that evaluates on a coarse lattice (the emulator does, every
    // 8 px) gives the same pixels however often a window was split.
    cut = Math.round((start + length / 2) / SUB_TILE_ALIGN) * SUB_TILE_ALIGN;
    cut = Math.min(Math.max(cut, start + SUB_TILE_ALIGN), start + length - 1);
  } else {
    cut = start + Math.floor(length / 2);
  }
  const first = cut - start;
  return alongX
    ? [
        { x0, y0, width: first, height },
        { x0: cut, y0, width: width - first, height },
      ]
    : [
        { x0, y0, width, height: first },
        { x0, y0: cut, width, height: height - first },
      ];
}

function splitUntil(window: RequestTile, ok: (w: RequestTile) => boolean): RequestTile[] {
  if (ok(window)) return [window];
  const halves = splitWindow(window, Number.MAX_SAFE_INTEGER);
  if (!halves) return [window];
  return [...splitUntil(halves[0], ok), ...splitUntil(halves[1], ok)];
}

function clipWindow(
  x0: number,
  y0: number,
  w: number,
  h: number,
  width: number,
  height: number,
): RequestTile {
  return { x0, y0, width: Math.min(w, width - x0), height: Math.min(h, height - y0) };
}

/** n items into k groups whose sizes differ by at most one, larger groups first. */
function spread(n: number, k: number): number[] {
  const base = Math.floor(n / k);
  const extra = n % k;
  return Array.from({ length: k }, (_, i) => base + (i < extra ? 1 : 0));
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i];
  }
  return false;
}
