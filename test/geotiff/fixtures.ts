/** What the GeoTIFF encoder and writer tests share: every sample type and a seeded RNG. */
import type { GeoTiffSpec, SampleType } from "../../src/geotiff/spec";

export const SAMPLE_TYPES: SampleType[] = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "int32",
  "uint32",
  "float32",
  "float64",
];

export const ARRAYS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

/** mulberry32: deterministic 32-bit values, so a failing test fails the same way again. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The bytes of a typed array's view, without a copy. */
export function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** A 1000 x 777 px, 2-band uint16 image in UTM 17N: edge tiles in both directions at 512 px. */
export function utmSpec(over: Partial<GeoTiffSpec> = {}): GeoTiffSpec {
  return {
    width: 1000,
    height: 777,
    bands: 2,
    sampleType: "uint16",
    epsg: 32617,
    transform: [10, 0, 500000, 0, -10, 1000000],
    ...over,
  };
}
