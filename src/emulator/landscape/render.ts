/**
 * Synthetic Sentinel-2 landscapes: land cover, reflectance and clouds as a deterministic
 * function of (collection, scene, band, lon, lat). renderScene classifies every pixel of a
 * grid (noise.ts, fields.ts, cover.ts); bands.ts turns that into band values (spectra.ts).
 */
import type { Scene } from "../model";
import * as cover from "./cover";
import * as fields from "./fields";
import { markFootprint } from "./footprint";
import * as noise from "./noise";
import type { RenderLattice, SceneRaster } from "./raster";
import * as rasters from "./raster";
import * as spectra from "./spectra";

// tsx compiles these modules to CommonJS, where an imported binding is a getter on the
// exporting module: read in a pixel loop, every use is a call V8 cannot fold. Copied into
// module constants once, they are plain constants again; without this a render measured
// several times slower.
const {
  BEACH_WIDTH,
  CLOUD_FRINGE,
  CLOUD_RAMP,
  FOREST_LEVEL,
  GRASS_LEVEL,
  isRiver,
  ROCK_LEVEL,
  SCL_CIRRUS,
  SCL_CLOUD_HIGH,
  SCL_CLOUD_MEDIUM,
  SCL_NOT_VEGETATED,
  SCL_SHADOW,
  SCL_VEGETATION,
  SCL_WATER,
  sceneLook,
  URBAN_LEVEL,
  WATER_LEVEL,
} = cover;
const {
  F_AGRI,
  F_CLOUD,
  F_RIVER,
  F_RIVER_ON,
  F_SHADOW,
  F_TERRAIN,
  F_URBAN,
  FIELD_COUNT,
  hasPixelOctaves,
  planFields,
  withPixelOctaves,
} = fields;
const { GRAIN, GRAIN_SCALE, grainIndex, hash2 } = noise;
const { interpolateNodeRow, takeScratch } = rasters;
const { PAIR_BARE, PAIR_CROP, PAIR_FOREST, PAIR_GRASS, PAIR_URBAN, PAIR_WATER } = spectra;

let warmedUp = false;

/**
 * "No cell cached yet": an integer no cell index reaches (|u| < 2e7 m), so that the cache
 * comparisons only ever see small integers, which V8 compiles to one instruction.
 */
const NO_CELL = -0x3fffffff;

/**
 * V8 compiles renderScene's pixel loop for the operations it has seen run: a land cover met
 * for the first time later (a beach, a park) throws the compiled code away mid-render and
 * runs 5-10x slower until it is recompiled, several times per process. One small render of
 * scattered places first meets every class, so real renders stay on compiled code.
 */
function warmUp(): void {
  warmedUp = true;
  const size = 256;
  const step = 8;
  const nodesAcross = size / step + 1;
  const count = nodesAcross * nodesAcross;
  // Nodes thousands of kilometres apart, so that neighbouring pixels sample unrelated
  // places; every other cell spans 4 m instead, so that the per-cell caches hit too.
  const nodeU = new Float64Array(count);
  const nodeV = new Float64Array(count);
  for (let n = 0; n < count; n++) {
    const near = n % 2 === 1;
    nodeU[n] = near ? nodeU[n - 1] + 4 : (hash2(n, 1, 0x3a4d) - 0.5) * 8e6;
    nodeV[n] = near ? nodeV[n - 1] + 4 : (hash2(n, 2, 0x3a4d) - 0.5) * 8e6;
  }
  const bounds = { xmin: 0, ymin: 0, xmax: 1, ymax: 1 };
  const inside = { x: new Float64Array(count).fill(0.5), y: new Float64Array(count).fill(0.5) };
  const lattice: RenderLattice = {
    width: size,
    height: size,
    step,
    shift: 3,
    nx: nodesAcross,
    ny: nodesAcross,
    nodeU,
    nodeV,
    // Small enough that every octave is summed at nodes, as at 10 m pixels.
    nodeSpacingMetres: 1,
    nodesInEpsg: () => inside,
  };
  const scene: Scene = {
    collection: "COPERNICUS/S2_SR_HARMONIZED",
    index: "20200101T000000_20200101T000000_T00AAA",
    timeStart: Date.UTC(2020, 6, 1),
    mgrsTile: "00AAA",
    epsg: 32601,
    utmBounds: bounds,
    footprint: [],
    cloudPercent: 50,
    properties: {},
  };
  renderScene(scene, lattice, () => [0, 10]);
}

/**
 * Land cover, clouds and footprint of `scene` on every pixel of the lattice's grid.
 * `sceneUtmToLonLat` converts the scene's UTM coordinates to lon/lat (for calibration).
 */
export function renderScene(
  scene: Scene,
  lattice: RenderLattice,
  sceneUtmToLonLat: (x: number, y: number) => [number, number],
): SceneRaster {
  if (!warmedUp) warmUp();
  const { width, height, nx, shift, step } = lattice;
  const size = width * height;
  const footprint = new Uint8Array(size);
  const empty = new Uint8Array(0);
  const emptyFloat = new Float32Array(0);
  const raster: SceneRaster = {
    footprint,
    pair: empty,
    weight: emptyFloat,
    gain: emptyFloat,
    cloud: emptyFloat,
    scl: empty,
    cloudProb: empty,
    full: false,
    empty: true,
    haze: 0,
    greenness: 0.5,
  };

  // Footprint first: most requests lie wholly inside or wholly outside a tile.
  const inside = markFootprint(scene, lattice, footprint);
  const invStep = 1 / step;
  if (inside === 0) return raster;
  raster.empty = false;
  raster.full = inside === size;
  const scratch = takeScratch(size);
  const { pair, weight, scl, cloudProb } = scratch;
  const gainOut = scratch.gain;
  const cloudOut = scratch.cloud;
  raster.pair = pair;
  raster.weight = weight;
  raster.gain = gainOut;
  raster.cloud = cloudOut;
  raster.scl = scl;
  raster.cloudProb = cloudProb;
  if (!raster.full) {
    // Reused scratch holds old values; band loops read these outside the footprint.
    scl.fill(0);
    cloudProb.fill(0);
  }

  const look = sceneLook(scene, sceneUtmToLonLat);
  raster.haze = look.haze;
  raster.greenness = look.greenness;
  const params = look.octaves.params;
  const cloudT = look.cloudThreshold;
  const fringeStart = cloudT - CLOUD_FRINGE;
  const hasClouds = cloudT !== Number.POSITIVE_INFINITY;
  const plan = planFields(lattice, params, hasClouds);
  const nodes = lattice.nx * lattice.ny;
  const rowBuf = new Float64Array(FIELD_COUNT * nx);
  const nodeSums = plan.nodeSums;
  const hasNodes = plan.hasNodes;
  // Row buffers of fields without node octaves stay 0, so their node part is always valid.
  const oT = F_TERRAIN * nx;
  const oR = F_RIVER * nx;
  const oRO = F_RIVER_ON * nx;
  const oU = F_URBAN * nx;
  const oA = F_AGRI * nx;
  const oC = F_CLOUD * nx;
  const oS = F_SHADOW * nx;
  const pxT = hasPixelOctaves(plan, F_TERRAIN);
  const pxR = hasPixelOctaves(plan, F_RIVER);
  const pxRO = hasPixelOctaves(plan, F_RIVER_ON);
  const pxU = hasPixelOctaves(plan, F_URBAN);
  const pxA = hasPixelOctaves(plan, F_AGRI);
  const pxC = hasPixelOctaves(plan, F_CLOUD);
  const pxS = hasPixelOctaves(plan, F_SHADOW);
  const nodeU = lattice.nodeU;
  const nodeV = lattice.nodeV;
  const rowU = new Float64Array(nx);
  const rowV = new Float64Array(nx);

  const sceneGain = look.gain;
  const greenness = look.greenness;
  const yearPhase = look.yearPhase;
  const parcelAngle = 0.31;
  const pc = Math.cos(parcelAngle);
  const ps = Math.sin(parcelAngle);

  let cachedRow = NO_CELL;
  let cachedCol = NO_CELL;
  let stagger = 0;
  let lengthScale = 1;
  let inverseLength = 1;
  // Crowns and clumps span 2-3 pixels at 10 m: hash them only when the clump changes.
  let crownU = NO_CELL;
  let crownV = NO_CELL;
  let crown = 0;
  let clumpU = NO_CELL;
  let clumpV = NO_CELL;
  let clump = 0;
  let parcel = 0;
  let parcelKind = 0;
  let sowing = 0;
  const cells = ((width - 1) >> shift) + 1;
  for (let r = 0; r < height; r++) {
    interpolateNodeRow(lattice, nodeU, r, rowU);
    interpolateNodeRow(lattice, nodeV, r, rowV);
    for (let f = 0; f < FIELD_COUNT; f++) {
      if (hasNodes[f]) interpolateNodeRow(lattice, nodeSums, r, rowBuf, f * nodes, f * nx);
    }
    const rowStart = r * width;
    // One lattice cell at a time: its `step` pixels share the ends every value is
    // interpolated between, which then live in registers instead of row buffers.
    for (let i = 0; i < cells; i++) {
      const c0 = i << shift;
      const c1 = Math.min(width, c0 + step);
      const u0 = rowU[i];
      const du = rowU[i + 1] - u0;
      const v0 = rowV[i];
      const dv = rowV[i + 1] - v0;
      const t0 = rowBuf[oT + i];
      const dt = rowBuf[oT + i + 1] - t0;
      const r0 = rowBuf[oR + i];
      const dr = rowBuf[oR + i + 1] - r0;
      const ro0 = rowBuf[oRO + i];
      const dro = rowBuf[oRO + i + 1] - ro0;
      const b0 = rowBuf[oU + i];
      const db = rowBuf[oU + i + 1] - b0;
      const a0 = rowBuf[oA + i];
      const da = rowBuf[oA + i + 1] - a0;
      const k0 = rowBuf[oC + i];
      const dk = rowBuf[oC + i + 1] - k0;
      const s0 = rowBuf[oS + i];
      const ds = rowBuf[oS + i + 1] - s0;
      // Node-only fields are linear across the cell, so their ends bound them: most cells
      // are wholly clear of clouds and shadows.
      let cloudsHere = hasClouds;
      if (hasClouds && !pxC && !pxS) {
        const last = (c1 - 1 - c0) * invStep;
        const cloudMax = Math.max(k0, k0 + dk * last);
        const shadowMax = Math.max(s0, s0 + ds * last);
        cloudsHere = cloudMax >= fringeStart || shadowMax - cloudT > -0.05;
      }
      for (let c = c0; c < c1; c++) {
        const px = rowStart + c;
        if (footprint[px] === 0) continue;
        const tx = (c - c0) * invStep;
        const u = u0 + du * tx;
        const v = v0 + dv * tx;

        // Native 10 m pixels: a per-cell random texture like a sensor's pixel-to-pixel noise.
        const grain = GRAIN[grainIndex(Math.floor(u * 0.1), Math.floor(v * 0.1))] * GRAIN_SCALE;

        const terrain = withPixelOctaves(t0 + dt * tx, pxT, plan, params, F_TERRAIN, u, v);
        let p: number;
        let w: number;
        let texture = 1 + 0.08 * grain;
        let vegetated = false;
        if (terrain < WATER_LEVEL) {
          p = PAIR_WATER;
          // Shallow water near the shore is more turbid.
          w = Math.min(1, Math.max(0, (terrain - WATER_LEVEL + 0.25) * 3));
          texture = 1 + 0.02 * grain;
        } else if (terrain < WATER_LEVEL + BEACH_WIDTH) {
          p = PAIR_BARE;
          w = 0.6 + 0.3 * grain;
        } else if (
          isRiver(
            withPixelOctaves(r0 + dr * tx, pxR, plan, params, F_RIVER, u, v),
            ro0 + dro * tx,
            pxRO,
            plan,
            params,
            u,
            v,
          )
        ) {
          p = PAIR_WATER;
          w = 0.75;
          texture = 1 + 0.02 * grain;
        } else if (terrain > ROCK_LEVEL) {
          p = PAIR_BARE;
          w = Math.min(1, Math.max(0, 0.2 + (terrain - ROCK_LEVEL) * 2 + 0.3 * grain));
        } else if (withPixelOctaves(b0 + db * tx, pxU, plan, params, F_URBAN, u, v) > URBAN_LEVEL) {
          p = PAIR_URBAN;
          // City blocks ~90 m with streets between them, on a grid rotated like the parcels.
          const bu = (pc * u + ps * v) * (1 / 90);
          const bv = (-ps * u + pc * v) * (1 / 90);
          const fu = bu - Math.floor(bu);
          const fv = bv - Math.floor(bv);
          if (fu < 0.16 || fv < 0.16) {
            w = 0.05;
          } else {
            const block = hash2(Math.floor(bu), Math.floor(bv), 0xb10c);
            if (block < 0.12) {
              // A park.
              p = PAIR_GRASS;
              w = 0.5 + 0.4 * greenness;
              vegetated = true;
            } else {
              w = 0.25 + 0.75 * block;
            }
          }
          texture = 1 + 0.14 * grain;
        } else {
          const agri = withPixelOctaves(a0 + da * tx, pxA, plan, params, F_AGRI, u, v);
          if (agri > FOREST_LEVEL) {
            p = PAIR_FOREST;
            // Crowns and gaps: 20 m clumps on top of the per-pixel grain.
            const cu = Math.floor(u * (1 / 20)) | 0;
            const cv = Math.floor(v * (1 / 20)) | 0;
            if (cu !== crownU || cv !== crownV) {
              crownU = cu;
              crownV = cv;
              crown = hash2(cu, cv, 0xc20);
            }
            w = Math.min(1, 0.5 + (agri - FOREST_LEVEL) * 1.5 + 0.05 * greenness + 0.15 * crown);
            texture = 0.92 + 0.16 * crown + 0.1 * grain;
            vegetated = true;
          } else if (agri > GRASS_LEVEL) {
            // Fields: rows of parcels 120-330 m long, staggered row by row.
            const pu = pc * u + ps * v;
            const pv = -ps * u + pc * v;
            const rowIndex = Math.floor(pv * (1 / 170)) | 0;
            const rowFrac = pv * (1 / 170) - rowIndex;
            // Neighbouring pixels mostly share a parcel: hash rows and parcels only on change.
            if (rowIndex !== cachedRow) {
              cachedRow = rowIndex;
              stagger = hash2(rowIndex, 0, 0x5eed) * 400;
              lengthScale = 120 + 210 * hash2(rowIndex, 1, 0x5eed);
              inverseLength = 1 / lengthScale;
              cachedCol = NO_CELL;
            }
            const pos = (pu + stagger) * inverseLength;
            const colIndex = Math.floor(pos) | 0;
            const colFrac = pos - colIndex;
            if (colIndex !== cachedCol) {
              cachedCol = colIndex;
              parcel = hash2(colIndex, rowIndex, 0xf1e1d);
              parcelKind = hash2(colIndex, rowIndex, 0xa5);
              sowing = hash2(colIndex, rowIndex, 0xc0de);
            }
            const edge =
              Math.min(rowFrac, 1 - rowFrac) * 170 < 4 ||
              Math.min(colFrac, 1 - colFrac) * lengthScale < 4;
            if (edge) {
              // Hedges and tracks between fields.
              p = PAIR_GRASS;
              w = 0.35 + 0.4 * greenness;
              vegetated = w > 0.45;
            } else if (parcel < 0.18) {
              // Pasture.
              p = PAIR_GRASS;
              w = 0.3 + 0.6 * greenness * (0.6 + 0.4 * parcelKind);
              vegetated = w > 0.45;
            } else {
              // A crop with its own sowing date: bare soil, then green-up, then harvest.
              p = PAIR_CROP;
              const phase = yearPhase + sowing;
              // Half a year growing (a parabola standing in for a sine), half bare.
              const season = (phase - Math.floor(phase)) * 2;
              const growth = season < 1 ? 4 * season * (1 - season) : 0;
              w = growth * (0.7 + 0.3 * parcel);
              vegetated = w > 0.4;
            }
            texture = 1 + 0.06 * grain;
          } else {
            // Savanna: grass with scattered trees and shrubs in 30 m clumps, denser towards
            // the forest.
            const cu = Math.floor(u * (1 / 30)) | 0;
            const cv = Math.floor(v * (1 / 30)) | 0;
            if (cu !== clumpU || cv !== clumpV) {
              clumpU = cu;
              clumpV = cv;
              clump = hash2(cu, cv, 0x7ee5);
            }
            if (clump < 0.12 + (agri - GRASS_LEVEL) * 0.35) {
              p = PAIR_FOREST;
              w = 0.35 + 0.4 * clump;
              vegetated = true;
            } else {
              p = PAIR_GRASS;
              w = Math.max(
                0,
                Math.min(1, 0.15 + 0.7 * greenness + (agri - GRASS_LEVEL) * 0.5 + 0.25 * grain),
              );
              vegetated = w > 0.45;
            }
            texture = 1 + 0.1 * grain;
          }
        }

        let sclValue =
          p === PAIR_WATER ? SCL_WATER : vegetated ? SCL_VEGETATION : SCL_NOT_VEGETATED;
        let alpha = 0;
        let prob = 0;
        if (cloudsHere) {
          const cloud = withPixelOctaves(k0 + dk * tx, pxC, plan, params, F_CLOUD, u, v);
          if (cloud >= cloudT) {
            alpha = 0.5 + 0.5 * Math.min(1, (cloud - cloudT) / CLOUD_RAMP);
            sclValue = alpha >= 0.8 ? SCL_CLOUD_HIGH : SCL_CLOUD_MEDIUM;
            // (x + 0.5) | 0 is Math.round for x >= 0, without its slow path.
            prob = (50 + 50 * Math.min(1, (cloud - cloudT) / CLOUD_RAMP) + 0.5) | 0;
          } else if (cloud >= fringeStart) {
            alpha = (0.5 * (cloud - fringeStart)) / CLOUD_FRINGE;
            if (alpha >= 0.15) sclValue = SCL_CIRRUS;
            prob = (alpha * 100 + 0.5) | 0;
          }
          const shadow = withPixelOctaves(s0 + ds * tx, pxS, plan, params, F_SHADOW, u, v) - cloudT;
          if (shadow > -0.05) {
            const strength = Math.min(1, (shadow + 0.05) / 0.15);
            texture *= 1 - 0.55 * strength;
            if (strength > 0.5 && alpha < 0.15) sclValue = SCL_SHADOW;
          }
        }
        pair[px] = p;
        weight[px] = w;
        gainOut[px] = texture * sceneGain;
        cloudOut[px] = alpha;
        scl[px] = sclValue;
        cloudProb[px] = prob;
      }
    }
  }
  return raster;
}
