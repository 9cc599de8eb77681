/**
 * Render speed of the emulator's pixel side: a visualized B8/B4/B3 false-colour tile, the
 * tutorial's snippet shape, on one core. Run: node --import tsx bench/emulator-render.ts [size]
 */

import { sceneImage, visualize } from "../src/emulator/image";
import type { Grid, Scene } from "../src/emulator/model";
import { renderImage } from "../src/emulator/render";
import { crsFromEpsg } from "../src/geo/crs";

const size = Number(process.argv[2] ?? 2048);
const repeats = 5;

function benchScene(): Scene {
  const bounds = { xmin: 300000, ymin: 890200, xmax: 409800, ymax: 1000000 };
  const crs = crsFromEpsg(32617);
  const footprint = [
    [bounds.xmin, bounds.ymin],
    [bounds.xmax, bounds.ymin],
    [bounds.xmax, bounds.ymax],
    [bounds.xmin, bounds.ymax],
    [bounds.xmin, bounds.ymin],
  ].map(([x, y]) => crs.inverse(x, y));
  const index = "20240105T153619_20240105T154242_T17PMK";
  return {
    collection: "COPERNICUS/S2_SR_HARMONIZED",
    index,
    timeStart: Date.UTC(2024, 0, 5, 15, 36, 19),
    mgrsTile: "17PMK",
    epsg: 32617,
    utmBounds: bounds,
    footprint,
    cloudPercent: 20,
    properties: { "system:index": index },
  };
}

const image = visualize(sceneImage(benchScene()), {
  bands: ["B8", "B4", "B3"],
  min: 0,
  max: 5000,
  gamma: [1.35, 1.35, 1.35],
});
const times: number[] = [];
for (let r = 0; r < repeats; r++) {
  // A fresh position each time so that nothing is cached between repeats.
  const grid: Grid = {
    crsCode: "EPSG:32617",
    affine: {
      scaleX: 10,
      shearX: 0,
      translateX: 310000 + r * 15000,
      shearY: 0,
      scaleY: -10,
      translateY: 990000,
    },
    width: size,
    height: size,
  };
  const start = performance.now();
  renderImage(image, grid);
  times.push(performance.now() - start);
}
const best = Math.min(...times);
const megapixels = (size * size) / 1e6;
console.log(
  `emulator render: visualized B8/B4/B3 ${size}x${size} at 10 m, best of ${repeats}: ${best.toFixed(0)} ms = ${(megapixels / (best / 1000)).toFixed(1)} megapixels/s (all: ${times.map((t) => t.toFixed(0)).join(", ")} ms)`,
);
