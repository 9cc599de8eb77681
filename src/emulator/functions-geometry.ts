/**
 * Planar lon/lat geometry for filters: bounding boxes and intersection tests. Earth Engine
 * tests geodesically; at the scale of tiles and AOIs the difference is far below a pixel's
 * worth of footprint, so planar tests decide the same scenes.
 */
import { invalidArgument } from "./errors";
import type { Geometry } from "./model";
import type { LonLatBox } from "./scenes";

type Ring = number[][];

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

/** Rectangle from [xmin, ymin, xmax, ymax] or [[xmin, ymin], [xmax, ymax]]. */
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
