/**
 * Images of the emulator: lazy band lists that render onto any request grid. Operations
 * follow Earth Engine's semantics for band metadata, masks and footprints; pixels come from
 * synthetic Sentinel-2 scenes (landscape/) and constants.
 */
import { crsFromCode } from "../core/crs";
import { INTEGER_RANGES, isFloatType, type SampleType } from "../core/samples";
import { EmulatorInputError } from "./errors";
import { finerThanNative, nativeWindow } from "./image-native";
import {
  bandResolution,
  isSpectralBand,
  sceneBandIds,
  sceneBandsMapped,
  sceneBandsValues,
} from "./landscape/bands";
import { productKind } from "./landscape/cover";
import { releaseSceneRaster, type SceneRaster } from "./landscape/raster";
import { renderScene } from "./landscape/render";
import type { BandInfo, Geometry, Scene } from "./model";
import { rasterizeArea, rasterizeGeometries } from "./rasterize";
import { LATTICE_STEP, type Raster, type RenderContext } from "./render";

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

/** An operation's arguments do not fit the image; the message is Earth Engine-like. */
export class ImageOperationError extends EmulatorInputError {
  constructor(message: string) {
    super(message);
    this.name = "ImageOperationError";
  }
}

// ---------------------------------------------------------------------------------------
// Pixel types

function smallestIntegerType(lo: number, hi: number): SampleType {
  // int32 before uint32, unlike core's integerTypeFor (uint32 first): the emulator's order
  // for operation results, kept as it is so band types in getInfo answers do not change.
  const candidates: SampleType[] = ["uint8", "int8", "uint16", "int16", "int32", "uint32"];
  for (const type of candidates) {
    const range = INTEGER_RANGES[type];
    if (range && lo >= range[0] && hi <= range[1]) return type;
  }
  return "float64";
}

export function bandRange(band: BandInfo): readonly [number, number] | null {
  return band.range ?? INTEGER_RANGES[band.dataType];
}

/** The type Earth Engine gives a pixel-wise mix of two bands: wide enough for both. */
function unionType(a: BandInfo, b: BandInfo): { dataType: SampleType; range?: [number, number] } {
  if (isFloatType(a.dataType) || isFloatType(b.dataType)) {
    return {
      dataType: a.dataType === "float64" || b.dataType === "float64" ? "float64" : "float32",
    };
  }
  const ra = bandRange(a);
  const rb = bandRange(b);
  if (!ra || !rb) return { dataType: "float64" };
  const range: [number, number] = [Math.min(ra[0], rb[0]), Math.max(ra[1], rb[1])];
  return { dataType: smallestIntegerType(range[0], range[1]), range };
}

function constantBandInfo(id: string, value: number): BandInfo {
  const integer = Number.isInteger(value);
  return {
    id,
    dataType: integer ? smallestIntegerType(value, value) : "float64",
    ...(integer ? { range: [value, value] as [number, number] } : {}),
    crsCode: "EPSG:4326",
    crsTransform: [1, 0, 0, 0, 1, 0],
  };
}

export function filled(size: number, value: number): Uint8Array {
  return new Uint8Array(size).fill(value);
}

// ---------------------------------------------------------------------------------------
// Sources

const SCENE_TILE_METRES = 109800;
/** Pixels per strip of visualize's fast path: the strip's land cover (14 B/px) fits in L2/L3. */
const STRIP_PIXELS = 1 << 16;

/** A Sentinel-2 scene as Earth Engine serves it (L2A for *_SR* collections, else L1C). */
export function sceneImage(scene: Scene): EmImage {
  const kind = productKind(scene.collection, scene.timeStart);
  const ids = sceneBandIds(kind.level);
  const crsCode = `EPSG:${scene.epsg}`;
  const { xmin, ymax } = scene.utmBounds;
  const bands: BandInfo[] = ids.map((id) => {
    const resolution = bandResolution(id);
    const byte = id === "SCL" || id === "MSK_CLDPRB";
    const size = Math.round(SCENE_TILE_METRES / resolution);
    return {
      id,
      dataType: byte ? "uint8" : "uint16",
      range: byte ? [0, 255] : [0, 65535],
      crsCode,
      crsTransform: [resolution, 0, xmin, 0, -resolution, ymax],
      dimensions: [size, size],
    };
  });
  const toLonLat = crsFromCode(crsCode).inverse;
  const newBandArray = (index: number, size: number): Uint8Array | Uint16Array =>
    bands[index].dataType === "uint8" ? new Uint8Array(size) : new Uint16Array(size);
  const sceneKey = `scene:${scene.collection}/${scene.index}`;
  const raster = (ctx: RenderContext): SceneRaster =>
    ctx.memo(ctx, sceneKey, () => {
      const rendered = renderScene(scene, ctx, toLonLat);
      ctx.onDispose(() => releaseSceneRaster(rendered));
      return rendered;
    });
  // Where the grid is finer than a band's native pixels, the band is rendered on its native
  // grid and resampled (image-native.ts); 0 stands for "render on the output grid itself".
  const nativeResolution = (ctx: RenderContext, index: number): number => {
    const resolution = bandResolution(ids[index]);
    return finerThanNative(ctx, resolution) ? resolution : 0;
  };
  const native = (ctx: RenderContext, resolution: number) => {
    const { xmin: tx, ymax: ty } = scene.utmBounds;
    const window = ctx.memo(ctx, `native:${scene.epsg}:${tx}:${ty}:${resolution}`, () =>
      nativeWindow(ctx, scene, resolution),
    );
    const rendered = ctx.memo(ctx, `${sceneKey}:native:${resolution}`, () => {
      if (!window.ctx) return undefined;
      const part = renderScene(scene, window.ctx, toLonLat);
      ctx.onDispose(() => releaseSceneRaster(part));
      return part;
    });
    return { window, rendered };
  };
  /** Positions in `indices` grouped by how their bands render (see nativeResolution). */
  const byResolution = (ctx: RenderContext, indices: number[]): Map<number, number[]> => {
    const groups = new Map<number, number[]>();
    indices.forEach((index, k) => {
      const key = nativeResolution(ctx, index);
      groups.set(key, [...(groups.get(key) ?? []), k]);
    });
    return groups;
  };
  const valuesOnGrid = (ctx: RenderContext, indices: number[]): Raster[] => {
    const scene_ = raster(ctx);
    const data = indices.map((index) => newBandArray(index, ctx.width * ctx.height));
    sceneBandsValues(
      scene,
      scene_,
      indices.map((index) => ids[index]),
      data,
    );
    return data.map((values) => ({
      data: values,
      mask: scene_.footprint,
      footprint: scene_.footprint,
    }));
  };
  const valuesNative = (ctx: RenderContext, indices: number[], resolution: number): Raster[] => {
    const { window, rendered } = native(ctx, resolution);
    const size = ctx.width * ctx.height;
    const outs = indices.map((index) => newBandArray(index, size));
    if (rendered && window.ctx) {
      const windowSize = window.ctx.width * window.ctx.height;
      const values = indices.map((index) => newBandArray(index, windowSize));
      sceneBandsValues(
        scene,
        rendered,
        indices.map((index) => ids[index]),
        values,
      );
      for (let k = 0; k < values.length; k++) window.gather(values[k], outs[k]);
    }
    return outs.map((data) => ({ data, mask: window.footprint, footprint: window.footprint }));
  };
  const renderValues = (ctx: RenderContext, indices: number[]): Raster[] => {
    const out: Raster[] = new Array(indices.length);
    for (const [resolution, positions] of byResolution(ctx, indices)) {
      const group = positions.map((k) => indices[k]);
      const rasters =
        resolution === 0 ? valuesOnGrid(ctx, group) : valuesNative(ctx, group, resolution);
      positions.forEach((k, g) => {
        out[k] = rasters[g];
      });
    }
    return out;
  };
  const mappedOnGrid = (ctx: RenderContext, names: string[], luts: Uint8Array[]): Raster[] => {
    const size = ctx.width * ctx.height;
    const outs = names.map(() => new Uint8Array(size));
    const footprint = new Uint8Array(size);
    // Strip by strip, so that the land cover between classifying and mixing stays in the
    // CPU cache instead of making a round trip through memory (59 MB at 2048x2048).
    const stripRows = Math.max(
      LATTICE_STEP,
      Math.floor(STRIP_PIXELS / ctx.width / LATTICE_STEP) * LATTICE_STEP,
    );
    for (let row0 = 0; row0 < ctx.height; row0 += stripRows) {
      const rows = Math.min(stripRows, ctx.height - row0);
      const part = renderScene(scene, ctx.strip(row0, rows), toLonLat);
      footprint.set(part.footprint, row0 * ctx.width);
      sceneBandsMapped(scene, part, names, luts, outs, row0 * ctx.width);
      releaseSceneRaster(part);
    }
    return outs.map((data) => ({ data, mask: footprint, footprint }));
  };
  const mappedNative = (
    ctx: RenderContext,
    names: string[],
    luts: Uint8Array[],
    resolution: number,
  ): Raster[] => {
    const { window, rendered } = native(ctx, resolution);
    const size = ctx.width * ctx.height;
    const outs = luts.map((lut) => new Uint8Array(size).fill(lut[0]));
    if (rendered && window.ctx) {
      const windowSize = window.ctx.width * window.ctx.height;
      const values = names.map(() => new Uint8Array(windowSize));
      sceneBandsMapped(scene, rendered, names, luts, values);
      for (let k = 0; k < values.length; k++) window.gather(values[k], outs[k], luts[k][0]);
    }
    return outs.map((data) => ({ data, mask: window.footprint, footprint: window.footprint }));
  };
  return {
    bands,
    properties: { ...scene.properties },
    footprintGeometry: { type: "Polygon", coordinates: [scene.footprint] },
    renderBand: (ctx, index) => renderValues(ctx, [index])[0],
    renderBands: renderValues,
    renderMapped(ctx, indices, luts) {
      if (!indices.every((index) => isSpectralBand(ids[index]))) return undefined;
      const out: Raster[] = new Array(indices.length);
      for (const [resolution, positions] of byResolution(ctx, indices)) {
        const names = positions.map((k) => ids[indices[k]]);
        const groupLuts = positions.map((k) => luts[k]);
        const rasters =
          resolution === 0
            ? mappedOnGrid(ctx, names, groupLuts)
            : mappedNative(ctx, names, groupLuts, resolution);
        positions.forEach((k, g) => {
          out[k] = rasters[g];
        });
      }
      return out;
    },
  };
}

/** Image.constant: one band per value, unbounded. */
export function constantImage(values: number | number[]): EmImage {
  const list = Array.isArray(values) ? values : [values];
  if (list.length === 0)
    throw new ImageOperationError("Image.constant: At least one value is required.");
  for (const value of list) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new ImageOperationError(
        `Image.constant: Expected a finite number, got ${String(value)}.`,
      );
    }
  }
  const names = Array.isArray(values) ? list.map((_, i) => `constant_${i}`) : ["constant"];
  return {
    bands: list.map((value, i) => constantBandInfo(names[i], value)),
    properties: {},
    renderBand(ctx, index) {
      const size = ctx.width * ctx.height;
      const all = ctx.memo(ctx, "all-valid", () => filled(size, 255));
      return { data: new Float64Array(size).fill(list[index]), mask: all, footprint: all };
    },
  };
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
