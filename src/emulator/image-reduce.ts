/**
 * Image.reduceRegion: an image's bands reduced over a region at a scale, as Earth Engine
 * does it: the region is rasterized onto a grid in the image's projection (or the one
 * asked for) at `scale`, and every band is reduced over the pixels whose centre lies in the
 * region, each pixel weighted by its mask (Earth Engine's weighted mean; the emulator's
 * masks are 0 or 1, so this is the plain mean of the unmasked pixels).
 */
import { crsFromCode } from "../core/crs";
import { invalidArgument } from "./errors";
import { allPositions } from "./functions-geometry";
import type { EmImage } from "./image";
import type { Geometry, Grid } from "./model";
import { rasterizeArea } from "./rasterize";
import { RenderContext } from "./render";

export type RegionReducer = "mean";

export interface ReduceRegionOptions {
  geometry: Geometry | null;
  scale: number | null;
  crs: string | null;
  crsTransform: number[] | null;
  bestEffort: boolean;
  maxPixels: number;
}

const FN = "Image.reduceRegion";
/** Metres per degree at the equator: how Earth Engine turns a scale into degrees. */
const METRES_PER_DEGREE = 111319.49079327357;

/**
 * The grid reduceRegion samples: pixel edges on multiples of the scale in the projection
 * (as Earth Engine aligns its pixels to the projection's origin), covering the region.
 */
export function reductionGrid(
  region: Geometry,
  crsCode: string,
  transform: number[] | null,
  scale: number,
): Grid {
  const crs = crsFromCode(crsCode);
  const size =
    transform !== null
      ? Math.abs(transform[0])
      : crs.units === "degree"
        ? scale / METRES_PER_DEGREE
        : scale;
  const originX = transform !== null ? transform[2] : 0;
  const originY = transform !== null ? transform[5] : 0;
  let xmin = Number.POSITIVE_INFINITY;
  let ymin = Number.POSITIVE_INFINITY;
  let xmax = Number.NEGATIVE_INFINITY;
  let ymax = Number.NEGATIVE_INFINITY;
  const positions = allPositions(region);
  // Edges bow in a projected CRS: densify them so the box holds the whole region.
  for (let k = 0; k < positions.length; k++) {
    const [lon0, lat0] = positions[k];
    const [lon1, lat1] = positions[(k + 1) % positions.length];
    for (let t = 0; t <= 8; t++) {
      const [x, y] = crs.forward(lon0 + ((lon1 - lon0) * t) / 8, lat0 + ((lat1 - lat0) * t) / 8);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      xmin = Math.min(xmin, x);
      xmax = Math.max(xmax, x);
      ymin = Math.min(ymin, y);
      ymax = Math.max(ymax, y);
    }
  }
  if (!Number.isFinite(xmin)) {
    throw invalidArgument(`${FN}: The region lies outside the projection ${crsCode}.`);
  }
  const col0 = Math.floor((xmin - originX) / size);
  const col1 = Math.ceil((xmax - originX) / size);
  const row0 = Math.floor((originY - ymax) / size);
  const row1 = Math.ceil((originY - ymin) / size);
  return {
    crsCode: crs.code,
    affine: {
      scaleX: size,
      shearX: 0,
      translateX: originX + col0 * size,
      shearY: 0,
      scaleY: -size,
      translateY: originY - row0 * size,
    },
    width: Math.max(1, col1 - col0),
    height: Math.max(1, row1 - row0),
  };
}

function nominalScale(crsCode: string, transform: number[]): number {
  const units = Math.sqrt(Math.abs(transform[0] * transform[4] - transform[1] * transform[3]));
  return crsFromCode(crsCode).units === "degree" ? units * METRES_PER_DEGREE : units;
}

/** Image.reduceRegion with a per-band reducer: a dictionary from band name to its value. */
export function reduceRegion(
  img: EmImage,
  reducer: RegionReducer,
  options: ReduceRegionOptions,
): Record<string, number | null> {
  if (img.bands.length === 0) return {};
  const region = options.geometry ?? img.footprintGeometry;
  if (!region) {
    throw invalidArgument(
      `${FN}: Provide 'geometry' parameter when aggregating over an unbounded image.`,
    );
  }
  if (options.scale !== null && !(options.scale > 0)) {
    throw invalidArgument(`${FN}: scale must be positive, got ${options.scale}.`);
  }
  if (options.crsTransform !== null && options.scale !== null) {
    throw invalidArgument(`${FN}: Cannot specify both crsTransform and scale.`);
  }
  const first = img.bands[0];
  const crsCode = options.crs ?? first.crsCode;
  const transform = options.crsTransform;
  let scale =
    options.scale ??
    (transform !== null
      ? nominalScale(crsCode, transform)
      : nominalScale(first.crsCode, first.crsTransform));
  let grid = reductionGrid(region, crsCode, transform, scale);
  let pixels = grid.width * grid.height;
  if (pixels > options.maxPixels) {
    if (!options.bestEffort || transform !== null) {
      throw invalidArgument(
        `${FN}: Too many pixels in the region. Found ${pixels}, but maxPixels allows only ${options.maxPixels}.`,
      );
    }
    // bestEffort: the smallest coarser scale that fits, as Earth Engine documents.
    while (pixels > options.maxPixels) {
      scale *= Math.sqrt(pixels / options.maxPixels) * 1.01;
      grid = reductionGrid(region, crsCode, null, scale);
      pixels = grid.width * grid.height;
    }
  }
  const ctx = new RenderContext(grid);
  try {
    const inside = rasterizeArea(ctx, [region]);
    const out: Record<string, number | null> = {};
    img.bands.forEach((band, index) => {
      const raster = ctx.band(img, index);
      let sum = 0;
      let weight = 0;
      for (let p = 0; p < pixels; p++) {
        if (inside[p] === 0 || raster.mask[p] === 0) continue;
        const w = raster.mask[p] / 255;
        sum += raster.data[p] * w;
        weight += w;
      }
      switch (reducer) {
        case "mean":
          out[band.id] = weight > 0 ? sum / weight : null;
          break;
      }
    });
    return out;
  } finally {
    ctx.dispose();
  }
}
