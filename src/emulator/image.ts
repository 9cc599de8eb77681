/**
 * Images of the emulator: lazy band lists that render onto any request grid. Operations
 * follow Earth Engine's semantics for band metadata, masks and footprints; pixels come from
 * synthetic Sentinel-2 scenes (landscape/) and constants.
 */
import { crsFromCode } from "../core/crs";
import { INTEGER_RANGES, isFloatType, type SampleType } from "../core/samples";
import { EmulatorInputError } from "./errors";
import { allPositions, geometryBox } from "./functions-geometry";
import {
  bandResolution,
  isSpectralBand,
  sceneBandIds,
  sceneBandsMapped,
  sceneBandsValues,
  sceneBandValues,
} from "./landscape/bands";
import { productKind } from "./landscape/cover";
import { releaseSceneRaster, type SceneRaster } from "./landscape/raster";
import { renderScene } from "./landscape/render";
import type { BandInfo, Geometry, Grid, Scene } from "./model";
import {
  LATTICE_STEP,
  type Raster,
  type RenderContext,
  rasterizeArea,
  rasterizeGeometries,
} from "./render";

/** Where a thumbnail of this image should look when the request does not say. */
export interface ThumbnailHint {
  region: Geometry;
  width?: number;
  height?: number;
  maxDimension?: number;
  scale?: number;
  /** CRS of the grid; undefined means EPSG:4326. */
  crs?: string;
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

export interface VisParams {
  bands?: string[] | string;
  min?: number | number[] | string;
  max?: number | number[] | string;
  gain?: number | number[] | string;
  bias?: number | number[] | string;
  gamma?: number | number[] | string;
  palette?: string[] | string;
  opacity?: number;
  forceRgbOutput?: boolean;
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

function bandRange(band: BandInfo): readonly [number, number] | null {
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

function filled(size: number, value: number): Uint8Array {
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
  return {
    bands,
    properties: { ...scene.properties },
    footprintGeometry: { type: "Polygon", coordinates: [scene.footprint] },
    renderBand(ctx, index) {
      const scene_ = raster(ctx);
      const data = newBandArray(index, ctx.width * ctx.height);
      sceneBandValues(scene, scene_, ids[index], data);
      return { data, mask: scene_.footprint, footprint: scene_.footprint };
    },
    renderBands(ctx, indices) {
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
    },
    renderMapped(ctx, indices, luts) {
      const names = indices.map((index) => ids[index]);
      if (!names.every(isSpectralBand)) return undefined;
      const size = ctx.width * ctx.height;
      const outs = indices.map(() => new Uint8Array(size));
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

function derive(img: EmImage, changes: Partial<EmImage>): EmImage {
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
  for (let i = 0; i < a.length; i++) out[i] = a[i] & b[i];
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
      const data = new Float64Array(source.data);
      const mask = new Uint8Array(source.mask);
      const footprint = new Uint8Array(source.footprint);
      const size = data.length;
      geometries.forEach((geometry, k) => {
        const cover = ctx.memo(geometry, `paint:${width ?? "fill"}`, () =>
          rasterizeGeometries(ctx, [geometry], width),
        );
        const v = values[k];
        for (let i = 0; i < size; i++) {
          if (cover[i] !== 0) {
            data[i] = v;
            mask[i] = 255;
            footprint[i] = 255;
          }
        }
      });
      return { data, mask, footprint };
    },
  });
}

// ---------------------------------------------------------------------------------------
// Visualization

function numberList(
  value: number | number[] | string | undefined,
  name: string,
): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list =
    typeof value === "string"
      ? value.split(",").map((s) => Number(s.trim()))
      : Array.isArray(value)
        ? value
        : [value];
  if (list.length === 0 || list.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
    throw new ImageOperationError(
      `Image.visualize: Invalid ${name}: ${JSON.stringify(value)}; expected numbers.`,
    );
  }
  return list;
}

function perBand(
  list: number[] | undefined,
  count: number,
  name: string,
  fallback: (i: number) => number,
): number[] {
  if (!list) return Array.from({ length: count }, (_, i) => fallback(i));
  if (list.length === 1) return Array.from({ length: count }, () => list[0]);
  if (list.length !== count) {
    throw new ImageOperationError(
      `Image.visualize: ${name} must have 1 or ${count} values to match the bands, got ${list.length}.`,
    );
  }
  return list;
}

const CSS_COLORS: Record<string, string> = {
  black: "000000",
  white: "ffffff",
  red: "ff0000",
  lime: "00ff00",
  green: "008000",
  blue: "0000ff",
  yellow: "ffff00",
  cyan: "00ffff",
  aqua: "00ffff",
  magenta: "ff00ff",
  fuchsia: "ff00ff",
  gray: "808080",
  grey: "808080",
  silver: "c0c0c0",
  maroon: "800000",
  olive: "808000",
  navy: "000080",
  purple: "800080",
  teal: "008080",
  orange: "ffa500",
  brown: "a52a2a",
  pink: "ffc0cb",
  darkgreen: "006400",
};

/** Parses "RRGGBB", "#RRGGBB", "RGB" or a CSS colour name (alpha digits are ignored). */
export function parseColor(text: string): [number, number, number] {
  const raw = text.trim().toLowerCase();
  let hex = CSS_COLORS[raw] ?? raw.replace(/^#|^0x/, "");
  if (/^[0-9a-f]{3}$/.test(hex)) hex = hex.replace(/(.)/g, "$1$1");
  if (/^[0-9a-f]{8}$/.test(hex)) hex = hex.slice(0, 6);
  if (!/^[0-9a-f]{6}$/.test(hex)) {
    throw new ImageOperationError(
      `Image.visualize: Invalid color '${text}'; use RRGGBB hex or a CSS color name.`,
    );
  }
  return [
    Number.parseInt(hex.slice(0, 2), 16),
    Number.parseInt(hex.slice(2, 4), 16),
    Number.parseInt(hex.slice(4, 6), 16),
  ];
}

/** Largest integer input range mapped through a lookup table instead of per-pixel pow(). */
const LUT_LIMIT = 1 << 20;

/**
 * Lookup tables by input range and mapping: a uint16 table costs 65536 pow() calls, as much
 * as mapping a 256x256 tile, and every tile of a download uses the same one.
 */
const lutCache = new Map<string, Uint8Array>();
const LUT_CACHE_LIMIT = 64;

/** The 0..255 value of input `v`: see mapBand. */
function toByte(
  v: number,
  scale: number,
  offset: number,
  inverseGamma: number,
  channel: number[] | null,
): number {
  let n = v * scale + offset;
  n = n > 0 ? Math.min(n, 1) : 0;
  if (inverseGamma !== 1) n **= inverseGamma;
  if (!channel) return Math.floor(n * 255 + 0.5);
  if (channel.length === 1) return channel[0];
  const position = n * (channel.length - 1);
  const i = Math.min(channel.length - 2, Math.floor(position));
  const t = position - i;
  return Math.floor(channel[i] + (channel[i + 1] - channel[i]) * t + 0.5);
}

function lookupTable(
  lo: number,
  span: number,
  scale: number,
  offset: number,
  inverseGamma: number,
  channel: number[] | null,
): Uint8Array {
  const key = `${lo}:${span}:${scale}:${offset}:${inverseGamma}:${channel ? channel.join(",") : ""}`;
  const cached = lutCache.get(key);
  if (cached) return cached;
  const lut = new Uint8Array(span + 1);
  for (let k = 0; k <= span; k++) lut[k] = toByte(lo + k, scale, offset, inverseGamma, channel);
  if (lutCache.size >= LUT_CACHE_LIMIT) lutCache.clear();
  lutCache.set(key, lut);
  return lut;
}

// One loop per input array type: a loop that sees several typed-array kinds loads through
// a slow polymorphic path.
function lookupUint16(data: Uint16Array, lut: Uint8Array, out: Uint8Array): void {
  for (let i = 0; i < data.length; i++) out[i] = lut[data[i]];
}

function lookupUint8(data: Uint8Array, lut: Uint8Array, out: Uint8Array): void {
  for (let i = 0; i < data.length; i++) out[i] = lut[data[i]];
}

function lookupClamped(
  data: Float64Array,
  lo: number,
  span: number,
  lut: Uint8Array,
  out: Uint8Array,
): void {
  for (let i = 0; i < data.length; i++) {
    let k = data[i] - lo;
    k = k < 0 ? 0 : Math.min(k, span);
    out[i] = lut[k | 0];
  }
}

/**
 * Maps one band to 0..255: n = clamp((v - min) / (max - min)) (or (v*gain + bias)/255),
 * n^(1/gamma), then round(255 n), or the palette colour at n. Integer bands go through a
 * lookup table, which keeps visualize at memory speed.
 */
function mapBand(
  source: Raster,
  band: BandInfo,
  scale: number,
  offset: number,
  gamma: number,
  channel: number[] | null,
): Uint8Array {
  const data = source.data;
  const size = data.length;
  const out = new Uint8Array(size);
  const inverseGamma = 1 / gamma;
  const range = isFloatType(band.dataType) ? null : bandRange(band);
  if (range && range[1] - range[0] < LUT_LIMIT) {
    const lo = range[0];
    const span = range[1] - range[0];
    if (data instanceof Uint16Array && lo === 0 && span === 65535) {
      lookupUint16(data, lookupTable(0, 65535, scale, offset, inverseGamma, channel), out);
    } else if (data instanceof Uint8Array && lo === 0 && span >= 255) {
      lookupUint8(data, lookupTable(0, span, scale, offset, inverseGamma, channel), out);
    } else {
      const lut = lookupTable(lo, span, scale, offset, inverseGamma, channel);
      const values = data instanceof Float64Array ? data : Float64Array.from(data);
      lookupClamped(values, lo, span, lut, out);
    }
  } else {
    for (let i = 0; i < size; i++) out[i] = toByte(data[i], scale, offset, inverseGamma, channel);
  }
  return out;
}

/** Image.visualize: 1 or 3 bands to uint8 vis-red/vis-green/vis-blue (or vis-gray). */
export function visualize(img: EmImage, params: VisParams): EmImage {
  const requested =
    params.bands === undefined
      ? null
      : typeof params.bands === "string"
        ? params.bands.split(",").map((s) => s.trim())
        : params.bands;
  let indices: number[];
  if (requested && requested.length > 0) {
    indices = requested.map((name) => {
      const i = img.bands.findIndex((b) => b.id === name);
      if (i < 0) {
        throw new ImageOperationError(
          `Image.visualize: No band named '${name}'. Available bands: [${img.bands.map((b) => b.id).join(", ")}].`,
        );
      }
      return i;
    });
  } else {
    indices = img.bands.length >= 3 ? [0, 1, 2] : [0];
  }
  if (img.bands.length === 0)
    throw new ImageOperationError("Image.visualize: The image has no bands.");
  if (indices.length !== 1 && indices.length !== 3) {
    throw new ImageOperationError(`Image.visualize: Expected 1 or 3 bands, got ${indices.length}.`);
  }
  const palette =
    params.palette === undefined
      ? null
      : (typeof params.palette === "string" ? params.palette.split(",") : params.palette).map(
          parseColor,
        );
  if (palette && palette.length === 0)
    throw new ImageOperationError("Image.visualize: The palette is empty.");
  if (palette && indices.length !== 1) {
    throw new ImageOperationError("Image.visualize: A palette can only be used with 1 band.");
  }
  const count = indices.length;
  const min = numberList(params.min, "min");
  const max = numberList(params.max, "max");
  const gain = numberList(params.gain, "gain");
  const bias = numberList(params.bias, "bias");
  if ((gain || bias) && (min || max)) {
    throw new ImageOperationError("Image.visualize: Can't specify both min/max and gain/bias.");
  }
  const gamma = perBand(numberList(params.gamma, "gamma"), count, "gamma", () => 1);
  if (gamma.some((g) => g <= 0))
    throw new ImageOperationError("Image.visualize: gamma must be positive.");
  // Normalization n = v * scale + offset.
  let scales: number[];
  let offsets: number[];
  if (gain || bias) {
    const g = perBand(gain, count, "gain", () => 1);
    const b = perBand(bias, count, "bias", () => 0);
    scales = g.map((x) => x / 255);
    offsets = b.map((x) => x / 255);
  } else {
    const lo = perBand(min, count, "min", () => 0);
    const hi = perBand(max, count, "max", (i) => {
      const band = img.bands[indices[i]];
      return isFloatType(band.dataType) ? 1 : (bandRange(band)?.[1] ?? 1);
    });
    scales = lo.map((l, i) => (hi[i] === l ? 0 : 1 / (hi[i] - l)));
    offsets = lo.map((l, i) => (hi[i] === l ? 0 : -l / (hi[i] - l)));
  }
  const opacity = params.opacity === undefined ? 1 : Math.max(0, Math.min(1, params.opacity));
  const rgb = count === 3 || palette !== null || params.forceRgbOutput === true;
  const names = rgb ? ["vis-red", "vis-green", "vis-blue"] : ["vis-gray"];
  const bands: BandInfo[] = names.map((id, k) => {
    const source = img.bands[indices[count === 3 ? k : 0]];
    return { ...source, id, dataType: "uint8", range: [0, 255] };
  });
  // Three full-range uint16 bands (Sentinel-2 reflectance) can be mixed straight into bytes.
  const mappable =
    count === 3 &&
    !palette &&
    img.renderMapped !== undefined &&
    indices.every((i) => {
      const range = bandRange(img.bands[i]);
      return img.bands[i].dataType === "uint16" && range?.[0] === 0 && range[1] === 65535;
    });
  const mappedKey = {};
  const renderMapped = (ctx: RenderContext): Raster[] | undefined =>
    ctx.memo(mappedKey, "mapped", () =>
      img.renderMapped?.(
        ctx,
        indices,
        indices.map((_, k) => lookupTable(0, 65535, scales[k], offsets[k], 1 / gamma[k], null)),
      ),
    );
  return derive(img, {
    bands,
    renderBand(ctx, index) {
      const mapped = mappable ? renderMapped(ctx) : undefined;
      const inputs = mapped ?? ctx.bands(img, indices);
      const shared = ctx.memo(img, `vis-mask:${indices.join(",")}:${opacity}`, () => {
        const size = ctx.width * ctx.height;
        // Bands of one scene share their mask arrays: nothing to combine then.
        if (
          opacity === 1 &&
          inputs.every((r) => r.mask === inputs[0].mask && r.footprint === inputs[0].footprint)
        ) {
          return { mask: inputs[0].mask, footprint: inputs[0].footprint };
        }
        const mask = new Uint8Array(inputs[0].mask);
        const footprint = new Uint8Array(inputs[0].footprint);
        for (const input of inputs.slice(1)) {
          for (let i = 0; i < size; i++) {
            if (input.mask[i] < mask[i]) mask[i] = input.mask[i];
            footprint[i] &= input.footprint[i];
          }
        }
        if (opacity < 1)
          for (let i = 0; i < size; i++) mask[i] = Math.floor(mask[i] * opacity + 0.5);
        return { mask, footprint };
      });
      if (mapped)
        return { data: mapped[index].data, mask: shared.mask, footprint: shared.footprint };
      const k = count === 3 ? index : 0;
      const channel = palette ? palette.map((c) => c[index]) : null;
      const data = mapBand(
        inputs[k],
        img.bands[indices[k]],
        scales[k],
        offsets[k],
        gamma[k],
        channel,
      );
      return { data, mask: shared.mask, footprint: shared.footprint };
    },
  });
}

// ---------------------------------------------------------------------------------------
// Thumbnails

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
 * Image.clipToBoundsAndScale: clips to the bounding box of `geometry` (default: the image's
 * footprint) and remembers the requested size for the thumbnail grid, in the image's
 * default projection when one was set (getDownloadURL's `crs`), else EPSG:4326.
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
  const hint: ThumbnailHint = {
    region: box,
    width: opts.width,
    height: opts.height,
    maxDimension: opts.maxDimension,
    scale: opts.scale,
    crs: img.defaultCrs,
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
  if (size.width !== undefined && size.height !== undefined) {
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
      scaleX: extentX / width,
      shearX: 0,
      translateX: xmin,
      shearY: 0,
      scaleY: -extentY / height,
      translateY: ymax,
    },
    width,
    height,
  };
}
