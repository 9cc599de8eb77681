/**
 * Geometry rasterization in the pixel space of a request grid: polygon fills (even-odd, at
 * pixel centres) and strokes of a given width, for Image.clip and Image.paint.
 */
import type { Geometry } from "./model";
import type { RenderContext } from "./render";

/** Edges longer than this many pixels are densified so they bend like the CRS bends them. */
const DENSIFY_PIXELS = 4;
const DENSIFY_MAX_STEPS = 4096;

/**
 * Projects a lon/lat path into pixel space. Edges are straight in lon/lat (Earth Engine's
 * planar EPSG:4326 geometries, e.g. Geometry.Rectangle); in other CRSs they are curves,
 * followed by densifying every DENSIFY_PIXELS pixels.
 */
function pathToPixels(ctx: RenderContext, path: number[][], closed: boolean): Float64Array {
  const points: number[] = [];
  const project = (lon: number, lat: number): [number, number] => {
    const [x, y] = ctx.crs.forward(lon, lat);
    return ctx.crsToGrid(x, y);
  };
  const count = path.length;
  if (count === 0) return new Float64Array(0);
  const last = closed ? count : count - 1;
  let previous = project(path[0][0], path[0][1]);
  points.push(previous[0], previous[1]);
  for (let k = 1; k <= last; k++) {
    const a = path[k - 1];
    const b = path[k % count];
    const end = project(b[0], b[1]);
    if (ctx.crs.units === "metre") {
      const length = Math.hypot(end[0] - previous[0], end[1] - previous[1]);
      const steps = Math.min(DENSIFY_MAX_STEPS, Math.ceil(length / DENSIFY_PIXELS));
      for (let s = 1; s < steps; s++) {
        const t = s / steps;
        const p = project(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t);
        points.push(p[0], p[1]);
      }
    }
    points.push(end[0], end[1]);
    previous = end;
  }
  return Float64Array.from(points);
}

interface Shapes {
  /** Each polygon: its rings (outer first), as lon/lat paths. */
  polygons: number[][][][];
  lines: number[][][];
  points: number[][];
}

function collectShapes(geometries: Geometry[]): Shapes {
  const shapes: Shapes = { polygons: [], lines: [], points: [] };
  for (const g of geometries) {
    switch (g.type) {
      case "Polygon":
        shapes.polygons.push(g.coordinates);
        break;
      case "MultiPolygon":
        shapes.polygons.push(...g.coordinates);
        break;
      case "LineString":
        shapes.lines.push(g.coordinates);
        break;
      case "Point":
        shapes.points.push(g.coordinates);
        break;
    }
  }
  return shapes;
}

/** Drops a ring's closing vertex (GeoJSON repeats the first one). */
function openRing(ring: number[][]): number[][] {
  if (ring.length > 1) {
    const first = ring[0];
    const last = ring[ring.length - 1];
    if (first[0] === last[0] && first[1] === last[1]) return ring.slice(0, -1);
  }
  return ring;
}

/**
 * Scanline fill (even-odd, so holes work) of each polygon, OR-ed together: 255 where a
 * pixel centre lies inside.
 */
function fillPolygons(ctx: RenderContext, polygons: number[][][][], out: Uint8Array): void {
  const { width, height } = ctx;
  for (const rings of polygons) {
    // Edges as [yTop, yBottom, xAtTop, dxPerY], sorted by top.
    const edges: number[][] = [];
    for (const ring of rings) {
      const open = openRing(ring);
      if (open.length < 3) continue;
      const pts = pathToPixels(ctx, open, true);
      const n = pts.length / 2;
      for (let k = 0; k < n; k++) {
        const x0 = pts[2 * k];
        const y0 = pts[2 * k + 1];
        const x1 = pts[2 * ((k + 1) % n)];
        const y1 = pts[2 * ((k + 1) % n) + 1];
        if (y0 === y1 || !Number.isFinite(x0 + y0 + x1 + y1)) continue;
        const top = y0 < y1 ? [x0, y0] : [x1, y1];
        const bottom = y0 < y1 ? [x1, y1] : [x0, y0];
        edges.push([top[1], bottom[1], top[0], (bottom[0] - top[0]) / (bottom[1] - top[1])]);
      }
    }
    if (edges.length === 0) continue;
    edges.sort((a, b) => a[0] - b[0]);
    let next = 0;
    let active: number[][] = [];
    const crossings: number[] = [];
    for (let row = 0; row < height; row++) {
      const y = row + 0.5;
      while (next < edges.length && edges[next][0] <= y) active.push(edges[next++]);
      active = active.filter((e) => e[1] > y);
      if (active.length === 0) {
        if (next >= edges.length) break;
        continue;
      }
      crossings.length = 0;
      for (const e of active) crossings.push(e[2] + (y - e[0]) * e[3]);
      crossings.sort((a, b) => a - b);
      const rowStart = row * width;
      for (let k = 0; k + 1 < crossings.length; k += 2) {
        // Pixel centres c + 0.5 in [x0, x1).
        const from = Math.max(0, Math.ceil(crossings[k] - 0.5));
        const to = Math.min(width, Math.ceil(crossings[k + 1] - 0.5));
        if (to > from) out.fill(255, rowStart + from, rowStart + to);
      }
    }
  }
}

/**
 * Marks pixels whose centre lies in the band `width` pixels wide centred on the segment,
 * extended by half the width past both ends so that corners are closed. Half-open bounds
 * make an axis-aligned line exactly `width` pixels wide wherever it falls.
 */
function strokeSegment(
  out: Uint8Array,
  gridWidth: number,
  gridHeight: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  width: number,
): void {
  const half = width / 2;
  const length = Math.hypot(x1 - x0, y1 - y0);
  const dx = length > 0 ? (x1 - x0) / length : 1;
  const dy = length > 0 ? (y1 - y0) / length : 0;
  const pad = half * Math.SQRT2 + 1;
  const cMin = Math.max(0, Math.floor(Math.min(x0, x1) - pad));
  const cMax = Math.min(gridWidth - 1, Math.ceil(Math.max(x0, x1) + pad));
  const rMin = Math.max(0, Math.floor(Math.min(y0, y1) - pad));
  const rMax = Math.min(gridHeight - 1, Math.ceil(Math.max(y0, y1) + pad));
  for (let r = rMin; r <= rMax; r++) {
    const py = r + 0.5 - y0;
    for (let c = cMin; c <= cMax; c++) {
      const px = c + 0.5 - x0;
      const along = px * dx + py * dy;
      const across = -px * dy + py * dx;
      if (along >= -half && along < length + half && across >= -half && across < half) {
        out[r * gridWidth + c] = 255;
      }
    }
  }
}

function strokePath(
  ctx: RenderContext,
  path: number[][],
  closed: boolean,
  width: number,
  out: Uint8Array,
): void {
  const pts = pathToPixels(ctx, path, closed);
  for (let k = 0; k + 3 < pts.length; k += 2) {
    if (!Number.isFinite(pts[k] + pts[k + 1] + pts[k + 2] + pts[k + 3])) continue;
    strokeSegment(out, ctx.width, ctx.height, pts[k], pts[k + 1], pts[k + 2], pts[k + 3], width);
  }
}

/**
 * 255 where `geometries` cover a pixel: filled when `width` is undefined (lines and points
 * are then drawn 1 pixel wide), else outlines `width` pixels wide centred on the edges.
 */
export function rasterizeGeometries(
  ctx: RenderContext,
  geometries: Geometry[],
  width?: number,
): Uint8Array {
  const out = new Uint8Array(ctx.width * ctx.height);
  const shapes = collectShapes(geometries);
  if (width === undefined) {
    fillPolygons(ctx, shapes.polygons, out);
  } else if (width > 0) {
    for (const rings of shapes.polygons) {
      for (const ring of rings) strokePath(ctx, openRing(ring), true, width, out);
    }
  }
  const lineWidth = width === undefined ? 1 : width;
  if (lineWidth > 0) {
    for (const line of shapes.lines) strokePath(ctx, line, false, lineWidth, out);
    for (const point of shapes.points) strokePath(ctx, [point, point], false, lineWidth, out);
  }
  return out;
}

/** 255 inside the polygons of `geometries` (clip semantics: lines and points cover nothing). */
export function rasterizeArea(ctx: RenderContext, geometries: Geometry[]): Uint8Array {
  const out = new Uint8Array(ctx.width * ctx.height);
  fillPolygons(ctx, collectShapes(geometries).polygons, out);
  return out;
}
