/**
 * Images of the emulator: lazy band lists that render onto any request grid. Operations
 * follow Earth Engine's semantics for band metadata, masks and footprints. Here: what an image
 * is, band bookkeeping (rename, select, reproject), clip, unmask and paint. Pixels come from
 * scenes (image-scene.ts) and constants (image-constant.ts); band types of results are
 * worked out in band-types.ts.
 */
import { crsFromCode } from "../core/crs";
import { unionType } from "./band-types";
import { ImageOperationError } from "./errors";
import { constantBandInfo, constantImage } from "./image-constant";
import type { BandInfo, Geometry } from "./model";
import { rasterizeArea, rasterizeGeometries } from "./rasterize";
import type { Raster, RenderContext } from "./render";

// The function table (functions-*.ts) reaches these through this module as images.*.
export { constantImage } from "./image-constant";

/** Where a thumbnail of this image should look when the request does not say. */
export interface ThumbnailHint {
  region: Geometry;
  width?: number;
  height?: number;
  maxDimension?: number;
  scale?: number;
  /** CRS of the grid; undefined means EPSG:4326. */
  crs?: string;
  /** A corner of the image's own pixel grid in `crs`, which a grid at its scale snaps to. */
  origin?: [number, number];
}

export interface EmImage {
  readonly bands: BandInfo[];
  readonly properties: Record<string, unknown>;
  /**
   * Renders band `index` onto the context's grid. The returned arrays may be shared with
   * other images: never modify them. Call through ctx.band(image, index), which memoizes.
   */
  readonly renderBand: (ctx: RenderContext, index: number) => Raster;
  /**
   * Optional: renders several bands at once, each exactly as renderBand would. Call through
   * ctx.bands(image, indices).
   */
  readonly renderBands?: (ctx: RenderContext, indices: number[]) => Raster[];
  /**
   * Optional: uint16 bands `indices` mapped through 65536-entry lookup tables into uint8
   * rasters, as renderBand then luts[k][value] would give, without the uint16 arrays
   * (visualize's fast path). Undefined when the image cannot.
   */
  readonly renderMapped?: (
    ctx: RenderContext,
    indices: number[],
    luts: Uint8Array[],
  ) => Raster[] | undefined;
  /** Lon/lat outline of where the image has data; undefined when unbounded (constants). */
  readonly footprintGeometry?: Geometry;
  readonly thumbnailHint?: ThumbnailHint;
  /**
   * CRS set by Image.setDefaultProjection or Image.reproject. The client's
   * getDownloadURL({crs}) sets it before clipToBoundsAndScale, whose grid then uses it.
   */
  readonly defaultCrs?: string;
}

// ---------------------------------------------------------------------------------------
// Band bookkeeping

export function derive(img: EmImage, changes: Partial<EmImage>): EmImage {
  return {
    bands: img.bands,
    properties: img.properties,
    renderBand: img.renderBand,
    // A new renderBand makes the old renderBands wrong: it goes unless replaced too.
    renderBands: changes.renderBand ? undefined : img.renderBands,
    renderMapped: changes.renderBand ? undefined : img.renderMapped,
    footprintGeometry: img.footprintGeometry,
    thumbnailHint: img.thumbnailHint,
    defaultCrs: img.defaultCrs,
    ...changes,
  };
}

export function setProperties(img: EmImage, props: Record<string, unknown>): EmImage {
  return derive(img, { properties: { ...img.properties, ...props } });
}

export function rename(img: EmImage, names: string[]): EmImage {
  if (names.length !== img.bands.length) {
    throw new ImageOperationError(
      `Image.rename: The number of names (${names.length}) must match the number of bands (${img.bands.length}).`,
    );
  }
  return derive(img, { bands: img.bands.map((band, i) => ({ ...band, id: names[i] })) });
}

function patternFor(selector: string): RegExp {
  try {
    return new RegExp(`^(?:${selector})$`);
  } catch {
    return new RegExp(`^${selector.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  }
}

/** Image.select: selectors are band indices or regular expressions matched against whole names. */
export function select(img: EmImage, selectors: (string | number)[], names?: string[]): EmImage {
  const picked: number[] = [];
  for (const selector of selectors) {
    if (typeof selector === "number") {
      if (!Number.isInteger(selector) || selector < 0 || selector >= img.bands.length) {
        throw new ImageOperationError(
          `Image.select: Band index ${selector} out of bounds; the image has ${img.bands.length} bands.`,
        );
      }
      picked.push(selector);
      continue;
    }
    const pattern = patternFor(selector);
    const matches = img.bands.flatMap((band, i) => (pattern.test(band.id) ? [i] : []));
    if (matches.length === 0) {
      throw new ImageOperationError(
        `Image.select: Pattern '${selector}' did not match any bands. Available bands: [${img.bands.map((b) => b.id).join(", ")}].`,
      );
    }
    picked.push(...matches);
  }
  const selected: EmImage = derive(img, {
    bands: picked.map((i) => img.bands[i]),
    renderBand: (ctx, index) => ctx.band(img, picked[index]),
    renderBands: (ctx, indices) =>
      ctx.bands(
        img,
        indices.map((index) => picked[index]),
      ),
    renderMapped: (ctx, indices, luts) =>
      img.renderMapped?.(
        ctx,
        indices.map((index) => picked[index]),
        luts,
      ),
  });
  return names ? rename(selected, names) : selected;
}

/**
 * Image.reproject. Metadata changes as in Earth Engine; pixels are unchanged because the
 * emulator's imagery is continuous: it is sampled at the output grid's pixel centres in
 * any projection, so there is no intermediate resampling to emulate.
 */
export function reproject(
  img: EmImage,
  crsCode: string,
  crsTransform?: number[] | null,
  scale?: number | null,
): EmImage {
  const crs = crsFromCode(crsCode);
  let transform: number[];
  if (crsTransform && crsTransform.length === 6) {
    transform = [...crsTransform];
  } else if (crsTransform) {
    throw new ImageOperationError("Image.reproject: crsTransform must have 6 numbers.");
  } else {
    const s = scale ?? 1;
    // A scale is in metres; Earth Engine expresses it in degrees for geographic CRSs.
    const unit = crs.units === "degree" ? s / 111319.49079327357 : s;
    transform = [unit, 0, 0, 0, -unit, 0];
  }
  return derive(img, {
    defaultCrs: crs.code,
    bands: img.bands.map((band) => {
      const { dimensions: _dropped, ...rest } = band;
      return { ...rest, crsCode: crs.code, crsTransform: transform };
    }),
  });
}

// ---------------------------------------------------------------------------------------
// Masking

function andMasks(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  let start = 0;
  // Four pixels per step where both inputs are word-aligned (fresh arrays are).
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const words = a.length >> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset, words);
    const wo = new Uint32Array(out.buffer, 0, words);
    for (let i = 0; i < words; i++) wo[i] = wa[i] & wb[i];
    start = words << 2;
  }
  for (let i = start; i < a.length; i++) out[i] = a[i] & b[i];
  return out;
}

function allSet(mask: Uint8Array): boolean {
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0) return false;
  return true;
}

function clipRaster(ctx: RenderContext, geometry: Geometry, source: Raster): Raster {
  const area = ctx.memo(geometry, "area", () => {
    const mask = rasterizeArea(ctx, [geometry]);
    return { mask, full: allSet(mask) };
  });
  if (area.full) return source;
  return {
    data: source.data,
    mask: ctx.memoPair(source.mask, area.mask, "and", () => andMasks(source.mask, area.mask)),
    footprint: ctx.memoPair(source.footprint, area.mask, "and", () =>
      andMasks(source.footprint, area.mask),
    ),
  };
}

/** Image.clip: masks pixels whose centre lies outside the geometry's polygons. */
export function clip(img: EmImage, geometry: Geometry): EmImage {
  return derive(img, {
    footprintGeometry: geometry,
    renderBand: (ctx, index) => clipRaster(ctx, geometry, ctx.band(img, index)),
    renderBands: (ctx, indices) =>
      ctx.bands(img, indices).map((source) => clipRaster(ctx, geometry, source)),
    renderMapped: (ctx, indices, luts) =>
      img.renderMapped?.(ctx, indices, luts)?.map((source) => clipRaster(ctx, geometry, source)),
  });
}

/**
 * Image.unmask: where the input is masked (inside its footprint, unless sameFootprint is
 * false) take the value and mask of `value` (an image with one band or as many bands as
 * the input, or a number; null means 0). Band types widen to hold both.
 */
export function unmask(
  img: EmImage,
  value: EmImage | number | null,
  sameFootprint = true,
): EmImage {
  const fill =
    typeof value === "number" ? constantImage(value) : value === null ? constantImage(0) : value;
  if (fill.bands.length !== 1 && fill.bands.length !== img.bands.length) {
    throw new ImageOperationError(
      `Image.unmask: The value image must have 1 band or as many bands as the input (${img.bands.length}), got ${fill.bands.length}.`,
    );
  }
  const fillIndex = (i: number) => (fill.bands.length === 1 ? 0 : i);
  return derive(img, {
    bands: img.bands.map((band, i) => ({ ...band, ...unionType(band, fill.bands[fillIndex(i)]) })),
    renderBand(ctx, index) {
      const source = ctx.band(img, index);
      const other = ctx.band(fill, fillIndex(index));
      const size = source.data.length;
      const data = new Float64Array(source.data);
      const mask = new Uint8Array(source.mask);
      let footprint = source.footprint;
      if (!sameFootprint) {
        footprint = new Uint8Array(size);
        for (let i = 0; i < size; i++) footprint[i] = source.footprint[i] | other.footprint[i];
      }
      for (let i = 0; i < size; i++) {
        if (mask[i] === 0 && (!sameFootprint || source.footprint[i] !== 0)) {
          data[i] = other.data[i];
          mask[i] = other.mask[i];
        }
      }
      return { data, mask, footprint };
    },
  });
}

// ---------------------------------------------------------------------------------------
// Painting

/**
 * A copy of `data` to paint `values` into: in its own integer array when they fit it (an
 * outline on a visualized uint8 image stays uint8, 8x less to copy and convert), else as
 * float64.
 */
function nonZeroIndices(cover: Uint8Array): Int32Array {
  let count = 0;
  for (let i = 0; i < cover.length; i++) if (cover[i] !== 0) count++;
  const out = new Int32Array(count);
  for (let i = 0, n = 0; i < cover.length; i++) if (cover[i] !== 0) out[n++] = i;
  return out;
}

function paintedCopy(data: Raster["data"], values: number[]): Raster["data"] {
  const fits = (range: readonly [number, number]) =>
    values.every((v) => Number.isInteger(v) && v >= range[0] && v <= range[1]);
  if (data instanceof Uint8Array && fits([0, 255])) return data.slice();
  if (data instanceof Uint16Array && fits([0, 65535])) return data.slice();
  return new Float64Array(data);
}

/**
 * Image.paint. Earth Engine documents `color` as a number or the name of a numeric
 * property of each feature (`featureProperties`, parallel to `geometries`). The tutorial
 * passes '0000ffff', a CSS-like colour that is no property: Earth Engine still paints such
 * features (the common idiom ee.Image(0).mask(0).paint(fc, 'AA0000', 2) shows an outline),
 * but which value it writes is not documented; the emulator paints 0 in every band. A
 * feature whose property is missing or not numeric is painted 0 likewise.
 */
export function paint(
  img: EmImage,
  geometries: Geometry[],
  color: number | string,
  width?: number,
  featureProperties?: Record<string, unknown>[],
): EmImage {
  if (width !== undefined && (!Number.isFinite(width) || width < 0)) {
    throw new ImageOperationError(
      `Image.paint: width must be a non-negative number, got ${width}.`,
    );
  }
  const values = geometries.map((_, k) => {
    if (typeof color === "number") return color;
    const property = featureProperties?.[k]?.[color];
    return typeof property === "number" && Number.isFinite(property) ? property : 0;
  });
  const painted = values.map((v) => constantBandInfo("paint", v));
  return derive(img, {
    bands: img.bands.map((band) => {
      let widened = band;
      for (const p of painted) widened = { ...widened, ...unionType(widened, p) };
      return widened;
    }),
    renderBand(ctx, index) {
      const source = ctx.band(img, index);
      const data = paintedCopy(source.data, values);
      const mask = new Uint8Array(source.mask);
      const footprint = new Uint8Array(source.footprint);
      geometries.forEach((geometry, k) => {
        // The covered pixels' indices, found once per request: an outline covers a thin
        // ring, and every band then touches only it.
        const covered = ctx.memo(geometry, `paint:${width ?? "fill"}`, () =>
          nonZeroIndices(rasterizeGeometries(ctx, [geometry], width)),
        );
        const v = values[k];
        for (let n = 0; n < covered.length; n++) {
          const i = covered[n];
          data[i] = v;
          mask[i] = 255;
          footprint[i] = 255;
        }
      });
      return { data, mask, footprint };
    },
  });
}
