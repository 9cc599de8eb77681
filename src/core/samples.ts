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
