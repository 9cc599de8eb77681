/**
 * Thumbnail grids: Image.clipToBoundsAndScale and the grid a thumbnail request gets from
 * its region, dimensions and CRS when it does not give one.
 */
import { crsFromCode } from "../core/crs";
import { ImageOperationError } from "./errors";
import { allPositions, geometryBox } from "./functions-geometry";
import { clip, derive, type EmImage, type ThumbnailHint } from "./image";
import type { Geometry, Grid } from "./model";

function lonLatBounds(geometry: Geometry): [number, number, number, number] {
  if (allPositions(geometry).length === 0) {
    throw new ImageOperationError("The geometry has no coordinates.");
  }
  const { west, south, east, north } = geometryBox(geometry);
  return [west, south, east, north];
}

function rectangle(west: number, south: number, east: number, north: number): Geometry {
  return {
    type: "Polygon",
    coordinates: [
      [
        [west, south],
        [east, south],
        [east, north],
        [west, north],
        [west, south],
      ],
    ],
  };
}

/**
 * The projection Earth Engine keeps for an image when a request names none: its bands' own
 * (a Sentinel-2 image's UTM zone, at its first band's scale), when they share one CRS in
 * metres. Constants and mixed CRSs have none here (EPSG:4326 is used, as before).
 */
function nativeProjection(
  img: EmImage,
): { crs: string; scale: number; origin: [number, number] } | undefined {
  const [first] = img.bands;
  if (!first || !img.bands.every((band) => band.crsCode === first.crsCode)) return undefined;
  const crs = crsFromCode(first.crsCode);
  if (crs.units !== "metre") return undefined;
  const [a, b, , d, e] = first.crsTransform;
  const scale = Math.sqrt(Math.abs(a * e - b * d));
  return scale > 0
    ? { crs: crs.code, scale, origin: [first.crsTransform[2], first.crsTransform[5]] }
    : undefined;
}

/**
 * Image.clipToBoundsAndScale: clips to the bounding box of `geometry` (default: the image's
 * footprint) and remembers the requested size for the thumbnail grid, in the image's
 * default projection when one was set (getDownloadURL's `crs`), else in its bands' own
 * projection (at their scale when no size is given), as Earth Engine keeps it; EPSG:4326
 * only for images without one (constants).
 */
export function clipToBoundsAndScale(
  img: EmImage,
  opts: {
    geometry?: Geometry;
    width?: number;
    height?: number;
    maxDimension?: number;
    scale?: number;
  },
): EmImage {
  const geometry = opts.geometry ?? img.footprintGeometry;
  if (!geometry) {
    throw new ImageOperationError(
      "Image.clipToBoundsAndScale: The image is unbounded; pass a geometry to clip it to.",
    );
  }
  const [west, south, east, north] = lonLatBounds(geometry);
  const box = rectangle(west, south, east, north);
  const clipped = clip(img, box);
  const own = img.defaultCrs === undefined ? nativeProjection(img) : undefined;
  const sized =
    opts.width !== undefined ||
    opts.height !== undefined ||
    opts.maxDimension !== undefined ||
    opts.scale !== undefined;
  const hint: ThumbnailHint = {
    region: box,
    width: opts.width,
    height: opts.height,
    maxDimension: opts.maxDimension,
    scale: opts.scale ?? (sized ? undefined : own?.scale),
    crs: img.defaultCrs ?? own?.crs,
    origin: sized ? undefined : own?.origin,
  };
  const grid = defaultThumbnailGrid({ ...clipped, thumbnailHint: hint }, {});
  const a = grid.affine;
  return derive(clipped, {
    thumbnailHint: hint,
    bands: clipped.bands.map((band) => ({
      ...band,
      crsCode: grid.crsCode,
      crsTransform: [a.scaleX, a.shearX, a.translateX, a.shearY, a.scaleY, a.translateY],
      dimensions: [grid.width, grid.height],
    })),
  });
}

/** Default longer side of a thumbnail when nothing sets its size. */
const DEFAULT_THUMBNAIL_DIMENSION = 512;

function parseDimensions(dimensions: number | [number, number] | string | undefined): {
  width?: number;
  height?: number;
  maxDimension?: number;
} {
  if (dimensions === undefined || dimensions === null) return {};
  if (typeof dimensions === "number") return { maxDimension: dimensions };
  if (Array.isArray(dimensions)) return { width: dimensions[0], height: dimensions[1] };
  const match = /^\s*(\d+)\s*(?:x\s*(\d+)\s*)?$/i.exec(dimensions);
  if (!match) {
    throw new ImageOperationError(
      `Invalid dimensions '${dimensions}': use a number or "WIDTHxHEIGHT".`,
    );
  }
  return match[2]
    ? { width: Number(match[1]), height: Number(match[2]) }
    : { maxDimension: Number(match[1]) };
}

/**
 * The grid a thumbnail (getThumbURL / getPixels) renders on: the region's bounds in `crs`
 * (default: the CRS clipToBoundsAndScale recorded, else EPSG:4326; Earth Engine's own
 * thumbnail default, Web Mercator, is not among the CRSs the emulator writes), sized by `dimensions`, else `scale` (metres), else 512 on the longer side.
 */
export function defaultThumbnailGrid(
  img: EmImage,
  params: {
    dimensions?: number | [number, number] | string;
    region?: Geometry;
    crs?: string;
    scale?: number;
  },
): Grid {
  const hint = img.thumbnailHint;
  const region = params.region ?? hint?.region ?? img.footprintGeometry;
  if (!region) {
    throw new ImageOperationError(
      "Unable to compute the bounds of an unbounded image (e.g. a constant): pass a region.",
    );
  }
  const crs = crsFromCode(params.crs ?? hint?.crs ?? "EPSG:4326");
  // Bounds in the target CRS from densified edges, so curved UTM edges are covered.
  let xmin = Infinity;
  let ymin = Infinity;
  let xmax = -Infinity;
  let ymax = -Infinity;
  const add = (lon: number, lat: number) => {
    const [x, y] = crs.forward(lon, lat);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    xmin = Math.min(xmin, x);
    xmax = Math.max(xmax, x);
    ymin = Math.min(ymin, y);
    ymax = Math.max(ymax, y);
  };
  const paths =
    region.type === "Polygon"
      ? region.coordinates
      : region.type === "MultiPolygon"
        ? region.coordinates.flat()
        : [allPositions(region)];
  for (const path of paths) {
    for (let k = 0; k < path.length; k++) {
      const a = path[k];
      const b = path[(k + 1) % path.length];
      for (let s = 0; s < 16; s++)
        add(a[0] + ((b[0] - a[0]) * s) / 16, a[1] + ((b[1] - a[1]) * s) / 16);
    }
  }
  const extentX = xmax - xmin;
  const extentY = ymax - ymin;
  if (!(extentX > 0) || !(extentY > 0)) {
    throw new ImageOperationError("The thumbnail region has no area in the requested CRS.");
  }
  const fromParams = parseDimensions(params.dimensions);
  const size =
    fromParams.width !== undefined || fromParams.maxDimension !== undefined
      ? fromParams
      : params.scale !== undefined
        ? {}
        : { width: hint?.width, height: hint?.height, maxDimension: hint?.maxDimension };
  const scaleMetres =
    fromParams.width !== undefined || fromParams.maxDimension !== undefined
      ? undefined
      : (params.scale ?? hint?.scale);
  let width: number;
  let height: number;
  let pixelX: number | undefined;
  if (
    size.width === undefined &&
    size.height === undefined &&
    size.maxDimension === undefined &&
    scaleMetres !== undefined
  ) {
    // A scale is kept exactly (the extent grows to whole pixels), on the image's own pixel
    // grid when the scale is its native one, as Earth Engine keeps it.
    pixelX = crs.units === "degree" ? scaleMetres / 111319.49079327357 : scaleMetres;
    const origin = params.scale === undefined ? hint?.origin : undefined;
    if (origin && crs.code === hint?.crs) {
      xmin = origin[0] + Math.floor((xmin - origin[0]) / pixelX) * pixelX;
      ymax = origin[1] - Math.floor((origin[1] - ymax) / pixelX) * pixelX;
    }
    width = Math.max(1, Math.ceil((xmax - xmin) / pixelX - 1e-9));
    height = Math.max(1, Math.ceil((ymax - ymin) / pixelX - 1e-9));
  } else if (size.width !== undefined && size.height !== undefined) {
    width = size.width;
    height = size.height;
  } else {
    let pixel: number;
    if (size.width !== undefined) pixel = extentX / size.width;
    else if (size.height !== undefined) pixel = extentY / size.height;
    else if (size.maxDimension !== undefined)
      pixel = Math.max(extentX, extentY) / size.maxDimension;
    else if (scaleMetres !== undefined)
      pixel = crs.units === "degree" ? scaleMetres / 111319.49079327357 : scaleMetres;
    else pixel = Math.max(extentX, extentY) / DEFAULT_THUMBNAIL_DIMENSION;
    width = Math.max(1, Math.round(extentX / pixel));
    height = Math.max(1, Math.round(extentY / pixel));
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageOperationError(`Invalid thumbnail dimensions ${width}x${height}.`);
  }
  return {
    crsCode: crs.code,
    affine: {
      scaleX: pixelX ?? extentX / width,
      shearX: 0,
      translateX: xmin,
      shearY: 0,
      scaleY: -(pixelX ?? extentY / height),
      translateY: ymax,
    },
    width,
    height,
  };
}
