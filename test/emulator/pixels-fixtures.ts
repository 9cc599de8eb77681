/** Hand-built scenes for the pixel tests (the scene catalogue is another module's job). */

import { crsFromEpsg } from "../../src/core/crs";
import type { Grid, Scene } from "../../src/emulator/model";

/** A 109.8 km tile of UTM zone 17N around David, Chiriqui (the tutorial's AOI). */
export function davidScene(overrides: Partial<Scene> = {}): Scene {
  const epsg = overrides.epsg ?? 32617;
  const bounds = overrides.utmBounds ?? { xmin: 300000, ymin: 890200, xmax: 409800, ymax: 1000000 };
  const crs = crsFromEpsg(epsg);
  const footprint = [
    crs.inverse(bounds.xmin, bounds.ymin),
    crs.inverse(bounds.xmax, bounds.ymin),
    crs.inverse(bounds.xmax, bounds.ymax),
    crs.inverse(bounds.xmin, bounds.ymax),
    crs.inverse(bounds.xmin, bounds.ymin),
  ].map(([lon, lat]) => [lon, lat]);
  const index = overrides.index ?? "20240105T153619_20240105T154242_T17PMK";
  const cloudPercent = overrides.cloudPercent ?? 20;
  return {
    collection: "COPERNICUS/S2_SR_HARMONIZED",
    index,
    timeStart: Date.UTC(2024, 0, 5, 15, 36, 19),
    mgrsTile: "17PMK",
    epsg,
    utmBounds: bounds,
    footprint,
    cloudPercent,
    properties: {
      "system:index": index,
      CLOUDY_PIXEL_PERCENTAGE: cloudPercent,
      MGRS_TILE: "17PMK",
    },
    ...overrides,
  };
}

/** A north-up grid in `crsCode` with its top-left corner at (x, y). */
export function northUpGrid(
  crsCode: string,
  x: number,
  y: number,
  scale: number,
  width: number,
  height: number,
): Grid {
  return {
    crsCode,
    affine: { scaleX: scale, shearX: 0, translateX: x, shearY: 0, scaleY: -scale, translateY: y },
    width,
    height,
  };
}

/** Image.constant(value) in Earth Engine's wire format: the smallest image a request can ask for. */
export function constantImageExpression(value: unknown = 1) {
  return {
    result: "0",
    values: {
      "0": {
        functionInvocationValue: {
          functionName: "Image.constant",
          arguments: { value: { constantValue: value } },
        },
      },
    },
  };
}
