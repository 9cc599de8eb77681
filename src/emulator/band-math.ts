/**
 * Pixel-wise image operations a snippet workflow reaches for, on the emulator's lazy images
 * (image.ts): casts, band maths (add, subtract, multiply, divide, normalizedDifference),
 * masks (updateMask, mask), blend, addBands and slice. Band matching, names, types and masks
 * follow Earth Engine's documented rules; each function says where the emulator chooses.
 */
import { INTEGER_RANGES, isFloatType, type SampleType } from "../core/samples";
import { bandRange, integerTypeHolding } from "./band-types";
import { ImageOperationError } from "./errors";
import { derive, type EmImage, select } from "./image";
import type { BandInfo } from "./model";
import type { Raster, RenderContext } from "./render";

type Values = Raster["data"];

function floatType(...bands: BandInfo[]): SampleType {
  return bands.some((b) => b.dataType === "float64") ? "float64" : "float32";
}

/** A band's info with a new type: integer types carry their range, floats none. */
function retyped(band: BandInfo, dataType: SampleType, range?: [number, number]): BandInfo {
  const { range: _old, ...rest } = band;
  return range ? { ...rest, dataType, range } : { ...rest, dataType };
}

// ---------------------------------------------------------------------------------------
// Casts

/** The casts behind Image.toUint8 ... toDouble (toByte, toShort, toInt are aliases). */
export const CAST_FUNCTIONS: Readonly<Record<string, SampleType>> = {
  "Image.toUint8": "uint8",
  "Image.toByte": "uint8",
  "Image.toInt8": "int8",
  "Image.toUint16": "uint16",
  "Image.toInt16": "int16",
  "Image.toShort": "int16",
  "Image.toInt32": "int32",
  "Image.toInt": "int32",
  "Image.toUint32": "uint32",
  "Image.toFloat": "float32",
  "Image.toDouble": "float64",
};

/**
 * Casts every band. Floats become integers by truncation toward zero, as Earth Engine's
 * integer casts do, and saturate at the type's limits rather than wrap; NaN becomes 0.
 */
export function cast(img: EmImage, dataType: SampleType): EmImage {
  const limits = INTEGER_RANGES[dataType];
  return derive(img, {
    bands: img.bands.map((band) =>
      retyped(band, dataType, limits ? [limits[0], limits[1]] : undefined),
    ),
    renderBand(ctx, index) {
      const source = ctx.band(img, index);
      if (!limits) return source;
      const [lo, hi] = limits;
      const { data } = source;
      if (
        (data instanceof Uint8Array && lo <= 0 && hi >= 255) ||
        (data instanceof Uint16Array && lo <= 0 && hi >= 65535)
      )
        return source;
      const out = new Float64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = Math.trunc(data[i]);
        out[i] = Number.isNaN(v) ? 0 : Math.min(Math.max(v, lo), hi);
      }
      return { data: out, mask: source.mask, footprint: source.footprint };
    },
  });
}

// ---------------------------------------------------------------------------------------
// Band matching

/**
 * Earth Engine's pairing for two-image operations: equal band counts pair in order; an
 * image with one band is used against every band of the other; anything else is an error.
 */
function pairBands(fn: string, a: EmImage, b: EmImage): [number, number][] {
  const na = a.bands.length;
  const nb = b.bands.length;
  if (na === 0 || nb === 0) throw new ImageOperationError(`${fn}: The image has no bands.`);
  if (na !== nb && na !== 1 && nb !== 1) {
    throw new ImageOperationError(
      `${fn}: Images must contain the same number of bands or only 1 band. Got ${na} and ${nb}.`,
    );
  }
  return Array.from({ length: Math.max(na, nb) }, (_, i) => [na === 1 ? 0 : i, nb === 1 ? 0 : i]);
}

function minMask(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a === b) return a;
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.min(a[i], b[i]);
  return out;
}

function andFootprint(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a === b) return a;
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] & b[i];
  return out;
}

// ---------------------------------------------------------------------------------------
// Band maths

export type BinaryOperation = "add" | "subtract" | "multiply" | "divide";

const OPERATIONS: Record<BinaryOperation, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  subtract: (x, y) => x - y,
  multiply: (x, y) => x * y,
  // Earth Engine's Image.divide answers 0 for a division by 0.
  divide: (x, y) => (y === 0 ? 0 : x / y),
};

/**
 * The result type. Integer add/subtract/multiply take the smallest integer type holding
 * every result of the inputs' ranges, so no sum wraps around; divide is a float (Sentinel-2's
 * `image.divide(10000)` gives reflectance in 0..1 on Earth Engine); floats stay float,
 * double when either input is.
 */
function resultType(op: BinaryOperation, a: BandInfo, b: BandInfo): BandInfo {
  const ra = bandRange(a);
  const rb = bandRange(b);
  if (op === "divide" || isFloatType(a.dataType) || isFloatType(b.dataType) || !ra || !rb)
    return retyped(a, floatType(a, b));
  const f = OPERATIONS[op];
  const corners = [f(ra[0], rb[0]), f(ra[0], rb[1]), f(ra[1], rb[0]), f(ra[1], rb[1])];
  const lo = Math.min(...corners);
  const hi = Math.max(...corners);
  const type = integerTypeHolding(lo, hi);
  return isFloatType(type) ? retyped(a, type) : retyped(a, type, [lo, hi]);
}

function combine(
  ctx: RenderContext,
  x: Raster,
  y: Raster,
  f: (x: number, y: number) => number,
): Raster {
  const size = x.data.length;
  const data = new Float64Array(size);
  const xs: Values = x.data;
  const ys: Values = y.data;
  for (let i = 0; i < size; i++) data[i] = f(xs[i], ys[i]);
  return {
    data,
    mask: ctx.memoPair(x.mask, y.mask, "min", () => minMask(x.mask, y.mask)),
    footprint: ctx.memoPair(x.footprint, y.footprint, "and", () =>
      andFootprint(x.footprint, y.footprint),
    ),
  };
}

/**
 * Image.add/subtract/multiply/divide. Output bands are named after the input with more
 * bands, image1's when equal (Earth Engine's rule); masks intersect.
 */
export function binary(op: BinaryOperation, image1: EmImage, image2: EmImage): EmImage {
  const fn = `Image.${op}`;
  const pairs = pairBands(fn, image1, image2);
  const namesFrom = image2.bands.length > image1.bands.length ? image2 : image1;
  const f = OPERATIONS[op];
  return {
    bands: pairs.map(([i, j], k) => ({
      ...resultType(op, image1.bands[i], image2.bands[j]),
      id: namesFrom.bands[k].id,
    })),
    properties: image1.properties,
    footprintGeometry: image1.footprintGeometry ?? image2.footprintGeometry,
    defaultCrs: image1.defaultCrs,
    renderBand(ctx, index) {
      const [i, j] = pairs[index];
      return combine(ctx, ctx.band(image1, i), ctx.band(image2, j), f);
    },
  };
}

/**
 * Image.normalizedDifference: (first - second) / (first + second) as one float band "nd";
 * the first two bands when bandNames is not given. A zero sum gives 0, as divide does.
 */
export function normalizedDifference(input: EmImage, bandNames: string[] | null): EmImage {
  const fn = "Image.normalizedDifference";
  if (bandNames !== null && bandNames.length !== 2) {
    throw new ImageOperationError(`${fn}: Need exactly two band names, got ${bandNames.length}.`);
  }
  if (bandNames === null && input.bands.length < 2) {
    throw new ImageOperationError(
      `${fn}: The image has ${input.bands.length} band(s); it needs two, or name them in bandNames.`,
    );
  }
  const pair = select(input, bandNames ?? [0, 1]);
  return {
    bands: [{ ...retyped(pair.bands[0], "float32"), id: "nd" }],
    properties: input.properties,
    footprintGeometry: input.footprintGeometry,
    defaultCrs: input.defaultCrs,
    renderBand(ctx) {
      const [first, second] = ctx.bands(pair, [0, 1]);
      return combine(ctx, first, second, (x, y) => (x + y === 0 ? 0 : (x - y) / (x + y)));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Masks

/** A mask image's value as a mask level 0..255: 0 where it is masked, else clamp(value, 0, 1). */
function maskLevels(source: Raster): Uint8Array {
  const out = new Uint8Array(source.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = source.data[i];
    const level = v >= 1 ? 255 : v > 0 ? Math.round(v * 255) : 0;
    out[i] = source.mask[i] === 0 ? 0 : level;
  }
  return out;
}

function maskPairs(fn: string, img: EmImage, mask: EmImage): number[] {
  const n = img.bands.length;
  const m = mask.bands.length;
  if (m !== 1 && m !== n) {
    throw new ImageOperationError(
      `${fn}: The mask must have 1 band or as many bands as the image (${n}), got ${m}.`,
    );
  }
  return img.bands.map((_, i) => (m === 1 ? 0 : i));
}

/**
 * Image.updateMask: the mask becomes the smaller of the current mask and the mask image's
 * value (0..1), and 0 where the mask image is itself masked. Footprint and metadata stay.
 */
export function updateMask(img: EmImage, mask: EmImage): EmImage {
  const which = maskPairs("Image.updateMask", img, mask);
  return derive(img, {
    renderBand(ctx, index) {
      const source = ctx.band(img, index);
      const levels = ctx.memo(mask, `mask-levels:${which[index]}`, () =>
        maskLevels(ctx.band(mask, which[index])),
      );
      return {
        data: source.data,
        mask: ctx.memoPair(source.mask, levels, "min", () => minMask(source.mask, levels)),
        footprint: source.footprint,
      };
    },
  });
}

/**
 * Image.mask with a mask image: replaces the mask (so it can unmask). Pixels that were masked
 * and become visible read 0, as Earth Engine fills them "with zeros, or the values closest to
 * zero within the range of the pixel type".
 */
export function replaceMask(img: EmImage, mask: EmImage): EmImage {
  const which = maskPairs("Image.mask", img, mask);
  return derive(img, {
    renderBand(ctx, index) {
      const source = ctx.band(img, index);
      const levels = ctx.memo(mask, `mask-levels:${which[index]}`, () =>
        maskLevels(ctx.band(mask, which[index])),
      );
      const range = bandRange(img.bands[index]);
      const zero = range ? Math.min(Math.max(0, range[0]), range[1]) : 0;
      const data = new Float64Array(source.data);
      for (let i = 0; i < data.length; i++)
        if (source.mask[i] === 0 && levels[i] !== 0) data[i] = zero;
      return { data, mask: levels, footprint: source.footprint };
    },
  });
}

/** Image.mask without a mask image: the mask as an image, one float band 0..1 per band. */
export function maskOf(img: EmImage): EmImage {
  return derive(img, {
    bands: img.bands.map((band) => retyped(band, "float32")),
    renderBand(ctx, index) {
      const source = ctx.band(img, index);
      const size = source.mask.length;
      const data = new Float64Array(size);
      for (let i = 0; i < size; i++) data[i] = source.mask[i] / 255;
      const all = ctx.memo(ctx, "all-valid", () => new Uint8Array(size).fill(255));
      return { data, mask: all, footprint: source.footprint };
    },
  });
}

// ---------------------------------------------------------------------------------------
// Composition

/**
 * Image.blend: `top` over `bottom`, each pixel's mask as its opacity (alpha compositing);
 * an image with one band is used against every band of the other. The output takes the
 * names and metadata of bottom (of top when top has more bands) and a type wide enough for
 * both.
 */
export function blend(bottom: EmImage, top: EmImage): EmImage {
  const pairs = pairBands("Image.blend", bottom, top);
  const namesFrom = top.bands.length > bottom.bands.length ? top : bottom;
  return {
    bands: pairs.map(([i, j], k) => ({
      ...widened(bottom.bands[i], top.bands[j]),
      id: namesFrom.bands[k].id,
    })),
    properties: bottom.properties,
    footprintGeometry: bottom.footprintGeometry,
    defaultCrs: bottom.defaultCrs,
    renderBand(ctx, index) {
      const [i, j] = pairs[index];
      const under = ctx.band(bottom, i);
      const over = ctx.band(top, j);
      const size = under.data.length;
      const data = new Float64Array(size);
      const mask = new Uint8Array(size);
      const footprint = new Uint8Array(size);
      for (let p = 0; p < size; p++) {
        const a = over.mask[p] / 255;
        const b = (under.mask[p] / 255) * (1 - a);
        const alpha = a + b;
        data[p] = alpha === 0 ? under.data[p] : (over.data[p] * a + under.data[p] * b) / alpha;
        mask[p] = Math.round(alpha * 255);
        footprint[p] = under.footprint[p] | over.footprint[p];
      }
      return { data, mask, footprint };
    },
  };
}

/** A type holding both bands' values (their ranges' union, or a float). */
function widened(a: BandInfo, b: BandInfo): BandInfo {
  const ra = bandRange(a);
  const rb = bandRange(b);
  if (isFloatType(a.dataType) || isFloatType(b.dataType) || !ra || !rb)
    return retyped(a, floatType(a, b));
  const lo = Math.min(ra[0], rb[0]);
  const hi = Math.max(ra[1], rb[1]);
  const type = integerTypeHolding(lo, hi);
  return isFloatType(type) ? retyped(a, type) : retyped(a, type, [lo, hi]);
}

/**
 * Image.addBands: dstImg's bands, then srcImg's (only those named in `names`, when given).
 * A name already taken is replaced in place when `overwrite`, else the new band gets
 * Earth Engine's numeric suffix (B4 -> B4_1, or B4_2 if B4_1 is taken).
 */
export function addBands(
  dst: EmImage,
  src: EmImage,
  names: string[] | null,
  overwrite: boolean,
): EmImage {
  const picked = names === null ? src : select(src, names);
  const sources: { image: EmImage; index: number; info: BandInfo }[] = dst.bands.map(
    (info, index) => ({ image: dst, index, info }),
  );
  picked.bands.forEach((info, index) => {
    const entry = { image: picked, index, info };
    const taken = sources.findIndex((s) => s.info.id === info.id);
    if (taken < 0) sources.push(entry);
    else if (overwrite) sources[taken] = entry;
    else {
      const ids = new Set(sources.map((s) => s.info.id));
      let n = 1;
      while (ids.has(`${info.id}_${n}`)) n++;
      sources.push({ ...entry, info: { ...info, id: `${info.id}_${n}` } });
    }
  });
  return derive(dst, {
    bands: sources.map((s) => s.info),
    renderBand: (ctx, index) => ctx.band(sources[index].image, sources[index].index),
  });
}

/** Image.slice: bands start (inclusive) to end (exclusive); negative positions count from the end. */
export function slice(img: EmImage, start: number, end: number | null): EmImage {
  const n = img.bands.length;
  const position = (p: number) => (p < 0 ? Math.max(0, n + p) : Math.min(n, p));
  const from = position(start);
  const to = end === null ? n : position(end);
  if (to <= from) {
    throw new ImageOperationError(
      `Image.slice: Selection from ${start} to ${end ?? n} is empty; the image has ${n} bands.`,
    );
  }
  return select(
    img,
    Array.from({ length: to - from }, (_, k) => from + k),
  );
}
