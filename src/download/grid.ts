/**
 * The output pixel grid of a download: the region's bounds in the output CRS, snapped outward
 * to whole multiples of the scale. Snapping to the CRS origin (not to the region's corner)
 * makes grids of different regions at the same scale share pixel edges, as Earth Engine's
 * own exports do, so mosaics of neighbouring snippets line up.
 */

import { type Crs, crsFromCode, utmEpsgFor } from "../core/crs";
import type { Geometry } from "../core/geometry";
import { DownloadParameterError } from "./errors";

/** A GeoJSON Polygon/MultiPolygon in lon/lat, or anything carrying one as `.geometry`. */
export type RegionLike =
  | Geometry
  | { geometry: Geometry }
  | { type: "Feature"; geometry: Geometry };

export interface OutputGrid {
  /** "EPSG:32617" etc., as Earth Engine spells it. */
  crsCode: string;
  epsg: number;
  /** GDAL order: [scaleX, shearX, translateX, shearY, scaleY, translateY]; scaleY < 0 (north up). */
  transform: [number, number, number, number, number, number];
  width: number;
  height: number;
}

export interface GridOptions {
  /** Pixel size in CRS units: metres for UTM, degrees for EPSG:4326. */
  scale: number;
  /** "EPSG:4326" or "EPSG:326NN"/"EPSG:327NN"; default the UTM zone of the region's centre. */
  crs?: string;
}

/** Ring vertices are interpolated so that straight lon/lat edges bend correctly in UTM. */
const DENSIFY_STEPS_PER_EDGE = 32;
/** Floating noise below this fraction of a pixel must not add a whole pixel when snapping. */
const SNAP_EPSILON = 1e-7;

/** Extracts the lon/lat rings of a region, validating coordinates on the way. */
export function regionRings(region: RegionLike): number[][][] {
  const geometry = geometryOf(region);
  let rings: number[][][];
  if (geometry.type === "Polygon") rings = geometry.coordinates;
  else if (geometry.type === "MultiPolygon") rings = geometry.coordinates.flat();
  else {
    throw new DownloadParameterError(
      `The download region must be a Polygon or MultiPolygon, not a ${geometry.type}: pass the AOI (e.g. bbox(lon, lat, side)).`,
    );
  }
  const points = rings.flat();
  if (points.length < 3) {
    throw new DownloadParameterError("The download region has fewer than 3 vertices.");
  }
  for (const p of points) {
    const [lon, lat] = p;
    if (
      !Number.isFinite(lon) ||
      !Number.isFinite(lat) ||
      Math.abs(lon) > 180 ||
      Math.abs(lat) > 90
    ) {
      throw new DownloadParameterError(
        `The download region has a vertex at [${lon}, ${lat}], outside lon -180..180 / lat -90..90 (coordinates are [lon, lat]).`,
      );
    }
  }
  return rings;
}

function geometryOf(region: RegionLike): Geometry {
  if (region && typeof region === "object" && "geometry" in region && region.geometry) {
    return region.geometry;
  }
  if (region && typeof region === "object" && "type" in region && "coordinates" in region) {
    return region as Geometry;
  }
  throw new DownloadParameterError(
    "The download region must be a GeoJSON Polygon/MultiPolygon (lon/lat) or an object with a .geometry.",
  );
}

/** The lon/lat bounding box of a region: [west, south, east, north]. */
export function regionBounds(region: RegionLike): [number, number, number, number] {
  let west = Infinity;
  let south = Infinity;
  let east = -Infinity;
  let north = -Infinity;
  for (const ring of regionRings(region)) {
    for (const [lon, lat] of ring) {
      west = Math.min(west, lon);
      east = Math.max(east, lon);
      south = Math.min(south, lat);
      north = Math.max(north, lat);
    }
  }
  return [west, south, east, north];
}

/** Plans the output grid for a region at a scale, in an explicit CRS or the region's UTM zone. */
export function planGrid(region: RegionLike, options: GridOptions): OutputGrid {
  const { scale } = options;
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new DownloadParameterError(
      `scale must be a positive number of metres per pixel (degrees for EPSG:4326), got ${scale}.`,
    );
  }
  const rings = regionRings(region);
  const [west, south, east, north] = regionBounds(region);
  const crsCode = options.crs ?? `EPSG:${utmEpsgFor((west + east) / 2, (south + north) / 2)}`;
  const crs = crsFromCode(crsCode);

  const [xmin, ymin, xmax, ymax] = projectedExtent(rings, crs);
  const col0 = Math.floor(xmin / scale + SNAP_EPSILON);
  const col1 = Math.ceil(xmax / scale - SNAP_EPSILON);
  const row0 = Math.floor(ymin / scale + SNAP_EPSILON);
  const row1 = Math.ceil(ymax / scale - SNAP_EPSILON);
  const width = col1 - col0;
  const height = row1 - row0;
  if (width < 1 || height < 1) {
    throw new DownloadParameterError(
      `The region is degenerate at scale ${scale}: it spans ${width}x${height} pixels. Give it an area, or use a finer scale.`,
    );
  }
  return {
    crsCode: crs.code,
    epsg: crs.epsg,
    transform: [scale, 0, col0 * scale, 0, -scale, row1 * scale],
    width,
    height,
  };
}

/**
 * Projected extents of recent regions. Every image of a batch plans the same grid, and
 * projecting the densified rings is most of planGrid's cost, paid before each first request.
 * Keyed by the coordinates, not the object, so a region changed in place is projected again.
 */
const extents = new Map<string, [number, number, number, number]>();
const MAX_CACHED_EXTENTS = 64;

function projectedExtent(rings: number[][][], crs: Crs): [number, number, number, number] {
  const key = `${crs.code} ${JSON.stringify(rings)}`;
  const cached = extents.get(key);
  if (cached) return cached;
  let xmin = Infinity;
  let ymin = Infinity;
  let xmax = -Infinity;
  let ymax = -Infinity;
  for (const ring of rings) {
    for (let i = 0; i < ring.length; i++) {
      const [lon0, lat0] = ring[i];
      const [lon1, lat1] = ring[(i + 1) % ring.length];
      for (let s = 0; s < DENSIFY_STEPS_PER_EDGE; s++) {
        const t = s / DENSIFY_STEPS_PER_EDGE;
        const [x, y] = crs.forward(lon0 + (lon1 - lon0) * t, lat0 + (lat1 - lat0) * t);
        if (!Number.isFinite(x) || !Number.isFinite(y)) {
          throw new DownloadParameterError(
            `The region does not project into ${crs.code}; pick a CRS that covers it (or omit crs for its UTM zone).`,
          );
        }
        xmin = Math.min(xmin, x);
        xmax = Math.max(xmax, x);
        ymin = Math.min(ymin, y);
        ymax = Math.max(ymax, y);
      }
    }
  }
  const extent: [number, number, number, number] = [xmin, ymin, xmax, ymax];
  if (extents.size >= MAX_CACHED_EXTENTS) extents.delete(extents.keys().next().value as string);
  extents.set(key, extent);
  return extent;
}

/** The CRS coordinates of a pixel corner (col,row may be fractional or at the far edge). */
export function gridPoint(grid: OutputGrid, col: number, row: number): [number, number] {
  const [a, b, c, d, e, f] = grid.transform;
  return [c + a * col + b * row, f + d * col + e * row];
}
