/**
 * Implementations of the catalog's functions, by wire name. Arguments arrive by Earth
 * Engine's argument names with catalog defaults applied; image operations delegate to
 * image.ts and band-math.ts. The keys of FUNCTIONS are the set of implemented functions:
 * each must be in the catalog (catalog.json) and read only arguments its signature names
 * (test/emulator/catalog.test.ts checks both); every other catalog function answers 400.
 */
import { FEATURE_FUNCTIONS } from "./functions-feature";
import { IMAGE_FUNCTIONS } from "./functions-image";
import { QUERY_FUNCTIONS } from "./functions-query";
import { REDUCE_FUNCTIONS } from "./functions-reduce";
import type { Implementation } from "./functions-values";

export { parseDate } from "./functions-args";
export type { Implementation } from "./functions-values";

export const FUNCTIONS: Record<string, Implementation> = {
  // Collections, filters, dates, Reducer.toList
  ...QUERY_FUNCTIONS,
  // Features, elements, geometries
  ...FEATURE_FUNCTIONS,
  // Images and projections; casts, band maths, masks, blend, addBands, slice, List.map
  ...IMAGE_FUNCTIONS,
  // Comparisons, boolean logic, reduceRegion, linkCollection: clouds over an AOI
  ...REDUCE_FUNCTIONS,
};

/** Wire names of the functions the emulator evaluates, sorted. */
export function implementedFunctionNames(): string[] {
  return Object.keys(FUNCTIONS).sort();
}
