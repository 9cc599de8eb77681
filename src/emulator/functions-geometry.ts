/**
 * Planar lon/lat geometry for filters: bounding boxes and intersection tests. Earth Engine
 * tests geodesically; at the scale of tiles and AOIs the difference is far below a pixel's
 * worth of footprint, so planar tests decide the same scenes.
 */
import { crsFromCode } from "../core/crs";
import { invalidArgument } from "./errors";
import { type EeValue, ProjectionValue } from "./functions-values";
import type { Geometry } from "./model";
import type { LonLatBox } from "./scenes";

type Ring = number[][];

/**
 * GeometryConstructors' optional arguments. `crs` and `transform` say what the coordinates
 * are in (default lon/lat); `geodesic` whether edges are great circles (true) or straight in
 * that CRS (false); `evenOdd` the inside rule; `maxError` the tolerance of reprojection.
 */
export interface GeometryOptions {
  crs?: string | null;
  /** The projection's affine transform from its coordinates to the CRS's. */
  transform?: number[] | null;
  geodesic?: boolean | null;
  evenOdd?: boolean | null;
  maxError?: number | null;
}

/** GeometryOptions from a constructor's arguments, each checked for its type. */
export function geometryOptions(fn: string, a: Record<string, EeValue>): GeometryOptions {
  const flag = (name: string): boolean | null => {
    const v = a[name];
    if (v === null || v === undefined) return null;
    if (typeof v === "boolean") return v;
    throw invalidArgument(`${fn}, argument '${name}': Invalid type. Expected type: Boolean.`);
  };
  const crs = a.crs;
  let code: string | null = null;
  let transform: number[] | null = null;
  if (crs instanceof ProjectionValue) {
    code = crs.crs;
    transform = crs.transform;
  } else if (typeof crs === "string") {
    code = crs;
  } else if (crs !== null && crs !== undefined) {
    throw invalidArgument(`${fn}, argument 'crs': Invalid type. Expected type: Projection.`);
  }
  const maxError = a.maxError;
  if (maxError !== null && maxError !== undefined && typeof maxError !== "number") {
    throw invalidArgument(`${fn}, argument 'maxError': Invalid type. Expected type: Float.`);
  }
  return {
    crs: code,
    transform,
    geodesic: flag("geodesic"),
    evenOdd: flag("evenOdd"),
    maxError: (maxError ?? null) as number | null,
  };
}

/** Points per edge when an edge is followed through another projection or a great circle. */
const EDGE_STEPS = 16;

/**
 * Converts constructor coordinates to the model's planar lon/lat, honouring `crs`,
 * `transform` and `geodesic`: an edge straight in a projected CRS, or a great circle, is
 * densified so that it stays in place through any output grid. Unsupported values are a
 * 400 naming the argument, never silently read as degrees.
 */
export function toLonLatGeometry(
  fn: string,
  geometry: Geometry,
  options: GeometryOptions,
  defaultGeodesic: boolean,
): Geometry {
  let crs: ReturnType<typeof crsFromCode>;
  try {
    crs = crsFromCode(options.crs ?? "EPSG:4326");
  } catch (error) {
    throw invalidArgument(
      `${fn}: argument 'crs': ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const t = options.transform;
  if (t && (t.length !== 6 || !t.every(Number.isFinite))) {
    throw invalidArgument(`${fn}: argument 'crs': a projection's transform has 6 numbers.`);
  }
  if (options.maxError !== null && options.maxError !== undefined) {
    if (!(Number.isFinite(options.maxError) && options.maxError >= 0)) {
      throw invalidArgument(
        `${fn}: argument 'maxError': expected a non-negative number of metres, got ${options.maxError}.`,
      );
    }
  }
  if (options.evenOdd === false && !simpleRings(geometry)) {
    throw invalidArgument(
      `${fn}: evenOdd=false (the non-zero winding rule) is not implemented by the emulator for polygons with holes or several rings; pass evenOdd: true (the default).`,
    );
  }
  const geodesic = options.geodesic ?? defaultGeodesic;
  const identity =
    !t || (t[0] === 1 && t[1] === 0 && t[2] === 0 && t[3] === 0 && t[4] === 1 && t[5] === 0);
  const toCrs = (p: number[]): number[] =>
    identity || !t ? p : [t[0] * p[0] + t[1] * p[1] + t[2], t[3] * p[0] + t[4] * p[1] + t[5]];
  const toLonLat = (p: number[]): number[] => {
    const [lon, lat] = crs.inverse(p[0], p[1]);
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) {
      throw invalidArgument(
        `${fn}: coordinates (${p[0]}, ${p[1]}) are not a place in ${crs.code}: check the coordinates and the 'crs' argument.`,
      );
    }
    return [lon, lat];
  };
  if (crs.units === "degree" && identity && !geodesic) return geometry;
  const path = (points: number[][], closed: boolean): number[][] => {
    const inCrs = points.map(toCrs);
    const out: number[][] = [];
    for (let k = 0; k < inCrs.length; k++) {
      const a = inCrs[k];
      if (k === inCrs.length - 1) {
        out.push(toLonLat(a));
        break;
      }
      const b = inCrs[k + 1];
      if (geodesic) {
        const [pa, pb] = [toLonLat(a), toLonLat(b)];
        for (let s = 0; s < EDGE_STEPS; s++) out.push(greatCircle(pa, pb, s / EDGE_STEPS));
      } else {
        for (let s = 0; s < EDGE_STEPS; s++) {
          const f = s / EDGE_STEPS;
          out.push(toLonLat([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]));
        }
      }
    }
    if (closed) out[out.length - 1] = [...out[0]];
    return out;
  };
  switch (geometry.type) {
    case "Point":
      return {
        type: "Point",
        coordinates: toLonLat(toCrs(geometry.coordinates)) as [number, number],
      };
    case "LineString":
      return { type: "LineString", coordinates: path(geometry.coordinates, false) };
    case "Polygon":
      return { type: "Polygon", coordinates: geometry.coordinates.map((r) => path(r, true)) };
    case "MultiPolygon":
      return {
        type: "MultiPolygon",
        coordinates: geometry.coordinates.map((p) => p.map((r) => path(r, true))),
      };
  }
}

/** Whether every polygon is one ring that does not cross itself (both inside rules agree). */
function simpleRings(geometry: Geometry): boolean {
  const polygons =
    geometry.type === "Polygon"
      ? [geometry.coordinates]
      : geometry.type === "MultiPolygon"
        ? geometry.coordinates
        : [];
  if (polygons.length > 1) return false;
  for (const rings of polygons) {
    if (rings.length !== 1) return false;
    const ring = rings[0];
    for (let i = 0; i + 1 < ring.length; i++) {
      for (let j = i + 2; j + 1 < ring.length; j++) {
        if (i === 0 && j + 2 === ring.length) continue; // the closing edge meets the first
        if (segmentsIntersect(ring[i], ring[i + 1], ring[j], ring[j + 1])) return false;
      }
    }
  }
  return true;
}

/** The point a fraction `f` along the great circle from lon/lat `a` to `b`. */
function greatCircle(a: number[], b: number[], f: number): number[] {
  if (f === 0) return [...a];
  const rad = Math.PI / 180;
  const v = (p: number[]) => [
    Math.cos(p[1] * rad) * Math.cos(p[0] * rad),
    Math.cos(p[1] * rad) * Math.sin(p[0] * rad),
    Math.sin(p[1] * rad),
  ];
  const [va, vb] = [v(a), v(b)];
  const dot = Math.min(1, Math.max(-1, va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2]));
  const omega = Math.acos(dot);
  if (omega < 1e-12) return [...a];
  const wa = Math.sin((1 - f) * omega) / Math.sin(omega);
  const wb = Math.sin(f * omega) / Math.sin(omega);
  const [x, y, z] = [0, 1, 2].map((i) => wa * va[i] + wb * vb[i]);
  let lon = Math.atan2(y, x) / rad;
  // Keep longitudes continuous with the edge's start (no jump across the antimeridian).
  while (lon - a[0] > 180) lon -= 360;
  while (lon - a[0] < -180) lon += 360;
  return [lon, Math.atan2(z, Math.hypot(x, y)) / rad];
}

/** Builds a model Geometry from GeometryConstructors' arguments, validating coordinates. */
export function makeGeometry(type: Geometry["type"], coordinates: unknown): Geometry {
  const fail = (what: string) =>
    invalidArgument(`GeometryConstructors.${type}: Invalid coordinates: ${what}.`);
  const position = (p: unknown): number[] => {
    if (
      !Array.isArray(p) ||
      p.length < 2 ||
      !p.every((n) => typeof n === "number" && Number.isFinite(n))
    ) {
      throw fail("expected [longitude, latitude] number pairs");
    }
    return [p[0], p[1]];
  };
  const ring = (r: unknown): Ring => {
    if (!Array.isArray(r) || r.length < 3) throw fail("a ring needs at least 3 points");
    const points = r.map(position);
    const [first, last] = [points[0], points[points.length - 1]];
    if (first[0] !== last[0] || first[1] !== last[1]) points.push([...first]);
    return points;
  };
  switch (type) {
    case "Point":
      return { type, coordinates: position(coordinates) as [number, number] };
    case "LineString":
      if (!Array.isArray(coordinates) || coordinates.length < 2)
        throw fail("a line needs 2 points");
      return { type, coordinates: coordinates.map(position) };
    case "Polygon": {
      // The client sends a bare ring for single-ring polygons in some versions: accept both.
      const rings = isRing(coordinates) ? [coordinates] : coordinates;
      if (!Array.isArray(rings) || rings.length === 0) throw fail("expected a list of rings");
      return { type, coordinates: rings.map(ring) };
    }
    case "MultiPolygon": {
      if (!Array.isArray(coordinates)) throw fail("expected a list of polygons");
      return {
        type,
        coordinates: coordinates.map((polygon) => {
          const rings = isRing(polygon) ? [polygon] : polygon;
          if (!Array.isArray(rings)) throw fail("expected a list of rings");
          return rings.map(ring);
        }),
      };
    }
  }
}

function isRing(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    Array.isArray(value[0]) &&
    typeof value[0][0] === "number"
  );
}

/**
 * Rectangle from [xmin, ymin, xmax, ymax] or [[xmin, ymin], [xmax, ymax]], in whatever
 * coordinates they are (toLonLatGeometry converts them).
 */
export function makeRectangle(coordinates: unknown): Geometry {
  const flat = Array.isArray(coordinates) ? coordinates.flat() : [];
  if (flat.length !== 4 || !flat.every((n) => typeof n === "number" && Number.isFinite(n))) {
    throw invalidArgument(
      "GeometryConstructors.Rectangle: Invalid coordinates: expected [xMin, yMin, xMax, yMax].",
    );
  }
  const [x0, y0, x1, y1] = flat as number[];
  return boxPolygon({
    west: Math.min(x0, x1),
    south: Math.min(y0, y1),
    east: Math.max(x0, x1),
    north: Math.max(y0, y1),
  });
}

export function boxPolygon(box: LonLatBox): Geometry {
  const { west, south, east, north } = box;
  return {
    type: "Polygon",
    coordinates: [
      [
        [west, north],
        [west, south],
        [east, south],
        [east, north],
        [west, north],
      ],
    ],
  };
}

/** Every position of a geometry, rings flattened. */
export function allPositions(geometry: Geometry): number[][] {
  switch (geometry.type) {
    case "Point":
      return [geometry.coordinates];
    case "LineString":
      return geometry.coordinates;
    case "Polygon":
      return geometry.coordinates.flat();
    case "MultiPolygon":
      return geometry.coordinates.flat(2);
  }
}

export function geometryBox(geometry: Geometry): LonLatBox {
  let west = Number.POSITIVE_INFINITY;
  let south = Number.POSITIVE_INFINITY;
  let east = Number.NEGATIVE_INFINITY;
  let north = Number.NEGATIVE_INFINITY;
  for (const [x, y] of allPositions(geometry)) {
    west = Math.min(west, x);
    east = Math.max(east, x);
    south = Math.min(south, y);
    north = Math.max(north, y);
  }
  return { west, south, east, north };
}

function polygonsOf(geometry: Geometry): Ring[][] {
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

function segmentsOf(geometry: Geometry): [number[], number[]][] {
  const lines: Ring[] =
    geometry.type === "LineString"
      ? [geometry.coordinates]
      : geometry.type === "Point"
        ? []
        : polygonsOf(geometry).flat();
  const segments: [number[], number[]][] = [];
  for (const line of lines) {
    for (let i = 0; i + 1 < line.length; i++) segments.push([line[i], line[i + 1]]);
  }
  return segments;
}

/** Even-odd point in polygon (holes count), as GeometryConstructors' evenOdd default. */
function inPolygon(point: number[], rings: Ring[]): boolean {
  let inside = false;
  const [x, y] = point;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

function cross(o: number[], a: number[], b: number[]): number {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

function segmentsIntersect(p1: number[], p2: number[], q1: number[], q2: number[]): boolean {
  const d1 = cross(q1, q2, p1);
  const d2 = cross(q1, q2, p2);
  const d3 = cross(p1, p2, q1);
  const d4 = cross(p1, p2, q2);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
    return true;
  const onSegment = (a: number[], b: number[], c: number[]) =>
    Math.min(a[0], b[0]) <= c[0] &&
    c[0] <= Math.max(a[0], b[0]) &&
    Math.min(a[1], b[1]) <= c[1] &&
    c[1] <= Math.max(a[1], b[1]);
  return (
    (d1 === 0 && onSegment(q1, q2, p1)) ||
    (d2 === 0 && onSegment(q1, q2, p2)) ||
    (d3 === 0 && onSegment(p1, p2, q1)) ||
    (d4 === 0 && onSegment(p1, p2, q2))
  );
}

function boxesOverlap(a: LonLatBox, b: LonLatBox): boolean {
  return a.west <= b.east && b.west <= a.east && a.south <= b.north && b.south <= a.north;
}

/** Whether two geometries share any point (boundaries count). */
export function intersects(a: Geometry, b: Geometry): boolean {
  if (!boxesOverlap(geometryBox(a), geometryBox(b))) return false;
  for (const polygon of polygonsOf(b)) {
    if (allPositions(a).some((p) => inPolygon(p, polygon))) return true;
  }
  for (const polygon of polygonsOf(a)) {
    if (allPositions(b).some((p) => inPolygon(p, polygon))) return true;
  }
  const segA = segmentsOf(a);
  const segB = segmentsOf(b);
  for (const [p1, p2] of segA) {
    for (const [q1, q2] of segB) if (segmentsIntersect(p1, p2, q1, q2)) return true;
  }
  if (a.type === "Point" && b.type === "Point") {
    return a.coordinates[0] === b.coordinates[0] && a.coordinates[1] === b.coordinates[1];
  }
  return false;
}

/** A footprint ring (system:footprint's LinearRing) as a polygon. */
export function ringToPolygon(ring: number[][]): Geometry {
  return { type: "Polygon", coordinates: [ring] };
}
