/**
 * Render speed of the emulator's pixel side: a visualized B8/B4/B3 false-colour tile, the
 * tutorial's snippet shape, on one core (rendering is single-threaded JavaScript).
 * Run: node --import tsx bench/emulator-render.ts [size] [repeats]
 *
 * Issue 2 asks for at least 10 megapixels/s. Measured on the shared 2-core development VM
 * (AMD EPYC, Node 20) while other engineers' tests ran (load average ~2), best of 9-15:
 * 2048x2048 12.7 MP/s (median 11.5), 1024x1024 14.1-14.6 MP/s (median 11.0-11.3); the code
 * before this tuning gave 7.0-8.7 MP/s best in the same runs. The best-of figure
 * approximates an idle core; the median shows a loaded one.
 */

import { crsFromEpsg } from "../src/core/crs";
import { sceneImage } from "../src/emulator/image-scene";
import { visualize } from "../src/emulator/image-visualize";
import type { Grid, Scene } from "../src/emulator/model";
import { renderImage } from "../src/emulator/render";

const size = Number(process.argv[2] ?? 2048);
const repeats = Number(process.argv[3] ?? 9);
/** Renders before timing starts: the first ones pay for JIT compilation and proj4 setup. */
const WARM_UP = 2;
/** The floor, megapixels per second on one core. */
const REQUIRED_MEGAPIXELS_PER_SECOND = 10;

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

/** A fresh position each time so that nothing is cached between repeats. */
function gridAt(r: number): Grid {
  const metres = size * 10;
  return {
    crsCode: "EPSG:32617",
    affine: {
      scaleX: 10,
      shearX: 0,
      translateX: 300000 + ((r * 7919) % Math.max(1, 109800 - metres)),
      shearY: 0,
      scaleY: -10,
      translateY: 1000000 - ((r * 3571) % Math.max(1, 109800 - metres)),
    },
    width: size,
    height: size,
  };
}

for (let r = 0; r < WARM_UP; r++) renderImage(image, gridAt(1000 + r));
const wall: number[] = [];
const cpu: number[] = [];
for (let r = 0; r < repeats; r++) {
  const grid = gridAt(r);
  const startCpu = process.cpuUsage();
  const start = performance.now();
  renderImage(image, grid);
  wall.push(performance.now() - start);
  const used = process.cpuUsage(startCpu);
  cpu.push((used.user + used.system) / 1000);
}
const sorted = [...wall].sort((a, b) => a - b);
const best = sorted[0];
const median = sorted[sorted.length >> 1];
const megapixels = (size * size) / 1e6;
const rate = (ms: number) => megapixels / (ms / 1000);
console.log(
  `emulator render: visualized B8/B4/B3 ${size}x${size} at 10 m, ${repeats} repeats after ${WARM_UP} warm-up`,
);
console.log(
  `  best ${best.toFixed(0)} ms = ${rate(best).toFixed(1)} megapixels/s; median ${median.toFixed(0)} ms = ${rate(median).toFixed(1)} megapixels/s (floor: ${REQUIRED_MEGAPIXELS_PER_SECOND})`,
);
console.log(`  all (ms): ${wall.map((t) => t.toFixed(0)).join(", ")}`);
console.log(`  process CPU (ms, includes GC threads): ${cpu.map((t) => t.toFixed(0)).join(", ")}`);
