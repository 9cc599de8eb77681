/**
 * Band types of operation results, shared by the image operations (image.ts, band-math.ts,
 * image-constant.ts): the integer type a range of values needs, and the type two bands mix
 * into.
 */
import { INTEGER_RANGES, isFloatType, type SampleType } from "../core/samples";
import type { BandInfo } from "./model";

/**
 * Smallest integer type holding [lo, hi]; float64 when none does. int32 is tried before
 * uint32, unlike core's integerTypeFor (uint32 first), so the two disagree on ranges such as
 * [0, 100000]. Nothing in the repo says which order Earth Engine uses for operation results;
 * this is the order the emulator has always used, kept so band types in getInfo answers do
 * not change.
 */
export function integerTypeHolding(lo: number, hi: number): SampleType {
  const candidates: SampleType[] = ["uint8", "int8", "uint16", "int16", "int32", "uint32"];
  for (const type of candidates) {
    const range = INTEGER_RANGES[type];
    if (range && lo >= range[0] && hi <= range[1]) return type;
  }
  return "float64";
}

/** The band's declared value range, else its integer type's; null for a float without one. */
export function bandRange(band: BandInfo): readonly [number, number] | null {
  return band.range ?? INTEGER_RANGES[band.dataType];
}

/** The type Earth Engine gives a pixel-wise mix of two bands: wide enough for both. */
export function unionType(
  a: BandInfo,
  b: BandInfo,
): { dataType: SampleType; range?: [number, number] } {
  if (isFloatType(a.dataType) || isFloatType(b.dataType)) {
    return {
      dataType: a.dataType === "float64" || b.dataType === "float64" ? "float64" : "float32",
    };
  }
  const ra = bandRange(a);
  const rb = bandRange(b);
  if (!ra || !rb) return { dataType: "float64" };
  const range: [number, number] = [Math.min(ra[0], rb[0]), Math.max(ra[1], rb[1])];
  return { dataType: integerTypeHolding(range[0], range[1]), range };
}
