import { isFloatType } from "../core/samples";
import { bandRange } from "./band-types";
import { ImageOperationError } from "./errors";
import { derive, type EmImage } from "./image";
import type { BandInfo } from "./model";
import type { Raster, RenderContext } from "./render";

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
