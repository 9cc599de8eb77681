/**
 * Pixel-wise comparisons and boolean logic (Image.eq/neq/lt/lte/gt/gte/and/or/not): what a
 * cloud mask is built from (`scl.eq(3).or(scl.eq(8))`, `cs_cdf.lt(0.6)`). Results are 0/1
 * bands, typed as Earth Engine types booleans (an integer range of [0, 1], stored as uint8).
 */

import { ImageOperationError } from "./errors";
import { derive, type EmImage } from "./image";
import type { BandInfo } from "./model";
import type { Raster } from "./render";

export type Comparison = "eq" | "neq" | "lt" | "lte" | "gt" | "gte" | "and" | "or";

const TESTS: Record<Comparison, (x: number, y: number) => boolean> = {
  eq: (x, y) => x === y,
  neq: (x, y) => x !== y,
  lt: (x, y) => x < y,
  lte: (x, y) => x <= y,
  gt: (x, y) => x > y,
  gte: (x, y) => x >= y,
  and: (x, y) => x !== 0 && y !== 0,
  or: (x, y) => x !== 0 || y !== 0,
};

function booleanBand(band: BandInfo): BandInfo {
  return { ...band, dataType: "uint8", range: [0, 1] };
}

/**
 * Earth Engine's band pairing for binary operations: a one-band image is used against every
 * band of the other; otherwise the band counts must match and bands pair in order. Output
 * bands are named after the longer input, or image1 when they are as long.
 */
function pairBands(
  fn: string,
  a: EmImage,
  b: EmImage,
): { pairs: [number, number][]; names: BandInfo[] } {
  const na = a.bands.length;
  const nb = b.bands.length;
  if (na === 0 || nb === 0) return { pairs: [], names: [] };
  if (na !== nb && na !== 1 && nb !== 1) {
    throw new ImageOperationError(
      `Image.${fn}: Images must contain the same number of bands or only 1 band. Got ${na} and ${nb}.`,
    );
  }
  const count = Math.max(na, nb);
  const pairs: [number, number][] = [];
  for (let i = 0; i < count; i++) pairs.push([na === 1 ? 0 : i, nb === 1 ? 0 : i]);
  const longer = nb > na ? b : a;
  return { pairs, names: longer.bands.slice(0, count) };
}

/** Image.<op>(image1, image2): 1 where the test holds, else 0; masked where either input is. */
export function compare(op: Comparison, image1: EmImage, image2: EmImage): EmImage {
  const { pairs, names } = pairBands(op, image1, image2);
  const test = TESTS[op];
  return derive(image1, {
    bands: names.map(booleanBand),
    // Earth Engine's pixel operators drop the inputs' properties (hence copyProperties).
    properties: {},
    renderBand(ctx, index) {
      const [i, j] = pairs[index];
      const x = ctx.band(image1, i);
      const y = ctx.band(image2, j);
      const size = x.data.length;
      const data = new Uint8Array(size);
      const mask = new Uint8Array(size);
      const footprint = new Uint8Array(size);
      for (let p = 0; p < size; p++) {
        data[p] = test(x.data[p], y.data[p]) ? 1 : 0;
        mask[p] = Math.min(x.mask[p], y.mask[p]);
        footprint[p] = x.footprint[p] & y.footprint[p];
      }
      return { data, mask, footprint } satisfies Raster;
    },
  });
}

/** Image.not: 1 where the value is 0, else 0; the mask stays. */
export function not(img: EmImage): EmImage {
  return derive(img, {
    bands: img.bands.map(booleanBand),
    renderBand(ctx, index) {
      const source = ctx.band(img, index);
      const data = new Uint8Array(source.data.length);
      for (let p = 0; p < data.length; p++) data[p] = source.data[p] === 0 ? 1 : 0;
      return { data, mask: source.mask, footprint: source.footprint };
    },
  });
}
