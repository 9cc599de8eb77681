/**
 * Pixel sample types by Earth Engine's names (PixelType precision and range), shared by the
 * emulator's encoders, the download engine's NPY decoder and the GeoTIFF writer.
 */
export type SampleType =
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "int32"
  | "uint32"
  | "float32"
  | "float64";

export type SampleArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

export const BYTES_PER_SAMPLE: Readonly<Record<SampleType, number>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};

/** The typed array class that holds each sample type. */
export const SAMPLE_ARRAYS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const satisfies Record<SampleType, unknown>;

/** A zeroed typed array of `length` samples of `type`. */
export function allocateSamples(type: SampleType, length: number): SampleArray {
  switch (type) {
    case "uint8":
      return new Uint8Array(length);
    case "int8":
      return new Int8Array(length);
    case "uint16":
      return new Uint16Array(length);
    case "int16":
      return new Int16Array(length);
    case "uint32":
      return new Uint32Array(length);
    case "int32":
      return new Int32Array(length);
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
  }
}

/** Integer types from narrowest to widest: the order Earth Engine's PixelType picks a storage type in. */
export const INTEGER_TYPES_BY_WIDTH = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
] as const satisfies readonly SampleType[];

/** The values an integer type holds, inclusive; null for floating-point types. */
export const INTEGER_RANGES: Readonly<Record<SampleType, readonly [number, number] | null>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
  float32: null,
  float64: null,
};

export function isFloatType(type: SampleType): type is "float32" | "float64" {
  return type === "float32" || type === "float64";
}

/** The narrowest integer type holding [min, max], or float64 when none does (Earth Engine's rule). */
export function integerTypeFor(min: number, max: number): SampleType {
  for (const type of INTEGER_TYPES_BY_WIDTH) {
    const [lo, hi] = INTEGER_RANGES[type] as readonly [number, number];
    if (min >= lo && max <= hi) return type;
  }
  return "float64";
}

/**
 * One sample type for bands of several types (a GeoTIFF or NPY record has one): the narrowest
 * that holds every band's values. The emulator and the downloader must agree on it, so both
 * call this.
 */
export function commonSampleType(types: readonly SampleType[]): SampleType {
  const first = types[0];
  if (first === undefined) throw new RangeError("commonSampleType needs at least one band type");
  if (types.every((type) => type === first)) return first;
  if (types.includes("float64")) return "float64";
  let lo = 0;
  let hi = 0;
  for (const type of types) {
    const range = INTEGER_RANGES[type];
    if (range) {
      lo = Math.min(lo, range[0]);
      hi = Math.max(hi, range[1]);
    }
  }
  if (types.includes("float32")) {
    // float32 holds integers exactly up to 2^24: 8- and 16-bit bands survive, 32-bit ones don't.
    return lo >= -32768 && hi <= 65535 ? "float32" : "float64";
  }
  return integerTypeFor(lo, hi);
}

/**
 * The value Earth Engine gives masked pixels of a type, and marks as nodata in the GeoTIFFs it
 * writes: 0 for unsigned types, the type's minimum for signed ones, -inf for floats (none of
 * them a value a band of that type usually holds; uint8 snippets keep 0).
 */
export function maskedFill(type: SampleType): number {
  if (isFloatType(type)) return Number.NEGATIVE_INFINITY;
  const range = INTEGER_RANGES[type];
  return range ? range[0] : 0;
}
