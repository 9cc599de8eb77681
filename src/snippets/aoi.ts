import { readFileSync } from "node:fs";
import type { Ee, EeGeometry } from "../ee/client";

/** GeoJSON polygons in WGS84 lon/lat: what an area of interest can be. */
export type AoiGeometry =
  | { type: "Polygon"; coordinates: number[][][] }
  | { type: "MultiPolygon"; coordinates: number[][][][] };

/** An area of interest: a validated lon/lat polygon and its extent. */
export interface Aoi {
  name: string;
  geometry: AoiGeometry;
  /** [west, south, east, north] in degrees. */
  bounds: [number, number, number, number];
  /** Centre of the bounds, [lon, lat]: picks the UTM zone of the output grid. */
  center: [number, number];
}

export class AoiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AoiError";
  }
}

// Beyond a few degrees a "snippet" is a continental mosaic: one download could reach
// gigabytes even at 10 m, so a typo in the side (9 instead of 0.09) is refused here.
const MAX_SIDE_DEGREES = 5;

/**
 * A square box of `sideDegrees` centred on (lon, lat), as the tutorial builds it with
 * ee.Geometry.Rectangle. 0.09 degrees is about 10 km at the equator.
 */
export function bbox(lon: number, lat: number, sideDegrees: number, name = "bbox"): Aoi {
  checkFinite("lon", lon);
  checkFinite("lat", lat);
  checkFinite("sideDegrees", sideDegrees);
  if (lon < -180 || lon > 180) {
    throw new AoiError(
      `AOI centre longitude ${lon} is outside -180..180: pass (lon, lat) in that order, in degrees.`,
    );
  }
  if (lat < -90 || lat > 90) {
    throw new AoiError(
      `AOI centre latitude ${lat} is outside -90..90: pass (lon, lat) in that order, in degrees.`,
    );
  }
  if (!(sideDegrees > 0)) {
    throw new AoiError(
      `AOI side ${sideDegrees} must be a positive number of degrees (0.09 is about 10 km).`,
    );
  }
  if (sideDegrees > MAX_SIDE_DEGREES) {
    throw new AoiError(
      `AOI side ${sideDegrees} degrees is larger than ${MAX_SIDE_DEGREES}: snippets are for small areas (0.09 degrees is about 10 km).`,
    );
  }
  const half = sideDegrees / 2;
  const west = lon - half;
  const east = lon + half;
  const south = lat - half;
  const north = lat + half;
  if (south < -90 || north > 90) {
    throw new AoiError(
      `AOI box around latitude ${lat} with side ${sideDegrees} crosses a pole: move it or make it smaller.`,
    );
  }
  if (west < -180 || east > 180) {
    throw new AoiError(
      `AOI box around longitude ${lon} with side ${sideDegrees} crosses the antimeridian: split it into two AOIs.`,
    );
  }
  const ring = [
    [west, south],
    [east, south],
    [east, north],
    [west, north],
    [west, south],
  ];
  return {
    name,
    geometry: { type: "Polygon", coordinates: [ring] },
    bounds: [west, south, east, north],
    center: [lon, lat],
  };
}

/**
 * An AOI from GeoJSON: a file path, GeoJSON text (what the map's draw tool writes), or an
 * object holding a Polygon, a MultiPolygon, a Feature of one, or a FeatureCollection of them
 * (merged into one MultiPolygon).
 */
export function aoiFromGeoJSON(source: string | object, name?: string): Aoi {
  let value: unknown = source;
  let label = name ?? "GeoJSON AOI";
  if (typeof source === "string" && source.trimStart().startsWith("{")) {
    label = name ?? "drawn AOI";
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw new AoiError(
        `The AOI text is not valid GeoJSON (${(error as Error).message}): copy the whole line the map's draw tool shows.`,
      );
    }
  } else if (typeof source === "string") {
    label = name ?? source.replace(/^.*[\\/]/, "").replace(/\.(geo)?json$/i, "");
    let text: string;
    try {
      text = readFileSync(source, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new AoiError(
        `Cannot read the AOI file ${source} (${code ?? "unreadable"}): check the path; relative paths start at ${process.cwd()}.`,
      );
    }
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new AoiError(`The AOI file ${source} is not valid JSON (${(error as Error).message}).`);
    }
  }
  const polygons = collectPolygons(value, label);
  if (polygons.length === 0) {
    throw new AoiError(
      `${label} holds no Polygon or MultiPolygon: an AOI must be an area (points and lines are not).`,
    );
  }
  polygons.forEach((polygon, index) => {
    validatePolygon(polygon, `${label}, polygon ${index + 1}`);
  });
  const geometry: AoiGeometry =
    polygons.length === 1
      ? { type: "Polygon", coordinates: polygons[0] }
      : { type: "MultiPolygon", coordinates: polygons };
  const bounds = boundsOf(polygons);
  if (bounds[2] - bounds[0] > MAX_SIDE_DEGREES || bounds[3] - bounds[1] > MAX_SIDE_DEGREES) {
    throw new AoiError(
      `${label} spans more than ${MAX_SIDE_DEGREES} degrees: snippets are for small areas; split it.`,
    );
  }
  return {
    name: label,
    geometry,
    bounds,
    center: [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2],
  };
}

/** The AOI as a client geometry (planar lon/lat edges, like the tutorial's Rectangle). */
export function aoiToEe(ee: Ee, aoi: Aoi): EeGeometry {
  return aoi.geometry.type === "Polygon"
    ? ee.Geometry.Polygon(aoi.geometry.coordinates, undefined, false)
    : ee.Geometry.MultiPolygon(aoi.geometry.coordinates, undefined, false);
}

function collectPolygons(value: unknown, label: string): number[][][][] {
  if (!value || typeof value !== "object") {
    throw new AoiError(`${label} is not a GeoJSON object.`);
  }
  const object = value as {
    type?: unknown;
    coordinates?: unknown;
    geometry?: unknown;
    features?: unknown;
  };
  switch (object.type) {
    case "Polygon":
      return [object.coordinates as number[][][]];
    case "MultiPolygon":
      return object.coordinates as number[][][][];
    case "Feature":
      return collectPolygons(object.geometry, label);
    case "FeatureCollection":
      if (!Array.isArray(object.features))
        throw new AoiError(`${label}: a FeatureCollection needs a "features" array.`);
      return object.features.flatMap((feature) => collectPolygons(feature, label));
    case "Point":
    case "MultiPoint":
    case "LineString":
    case "MultiLineString":
      return [];
    default:
      throw new AoiError(
        `${label}: unknown GeoJSON type ${JSON.stringify(object.type)}; expected Polygon, MultiPolygon, Feature or FeatureCollection.`,
      );
  }
}

function validatePolygon(polygon: unknown, label: string): void {
  if (!Array.isArray(polygon) || polygon.length === 0)
    throw new AoiError(`${label}: a Polygon needs at least one ring.`);
  for (const ring of polygon) {
    if (!Array.isArray(ring) || ring.length < 4) {
      throw new AoiError(
        `${label}: each ring needs at least 4 positions (3 corners and the first repeated to close it).`,
      );
    }
    for (const position of ring) {
      if (
        !Array.isArray(position) ||
        position.length < 2 ||
        !Number.isFinite(position[0]) ||
        !Number.isFinite(position[1])
      ) {
        throw new AoiError(
          `${label}: position ${JSON.stringify(position)} is not [lon, lat] numbers.`,
        );
      }
      const [lon, lat] = position as number[];
      if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
        throw new AoiError(
          `${label}: position [${lon}, ${lat}] is out of range; GeoJSON is [lon, lat] in degrees (lon -180..180, lat -90..90). Swapped axes?`,
        );
      }
    }
    const first = ring[0] as number[];
    const last = ring[ring.length - 1] as number[];
    if (first[0] !== last[0] || first[1] !== last[1]) {
      throw new AoiError(`${label}: a ring is not closed; repeat its first position at the end.`);
    }
  }
  if (Math.abs(ringArea(polygon[0] as number[][])) < 1e-12) {
    throw new AoiError(
      `${label}: the outer ring has no area (all points on a line or the same point).`,
    );
  }
}

function ringArea(ring: number[][]): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++)
    sum += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return sum / 2;
}

function boundsOf(polygons: number[][][][]): [number, number, number, number] {
  let west = Infinity;
  let south = Infinity;
  let east = -Infinity;
  let north = -Infinity;
  for (const polygon of polygons) {
    for (const [lon, lat] of polygon[0]) {
      west = Math.min(west, lon);
      east = Math.max(east, lon);
      south = Math.min(south, lat);
      north = Math.max(north, lat);
    }
  }
  return [west, south, east, north];
}

function checkFinite(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new AoiError(`AOI ${name} must be a finite number, got ${JSON.stringify(value)}.`);
  }
}
