/** Image.constant: images of one value per band, valid everywhere. */
import { integerTypeHolding } from "./band-types";
import { ImageOperationError } from "./errors";
import type { EmImage } from "./image";
import type { BandInfo } from "./model";

/** A constant's band: the smallest integer type holding the value, else float64. */
export function constantBandInfo(id: string, value: number): BandInfo {
  const integer = Number.isInteger(value);
  return {
    id,
    dataType: integer ? integerTypeHolding(value, value) : "float64",
    ...(integer ? { range: [value, value] as [number, number] } : {}),
    crsCode: "EPSG:4326",
    crsTransform: [1, 0, 0, 0, 1, 0],
  };
}

function filled(size: number, value: number): Uint8Array {
  return new Uint8Array(size).fill(value);
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
