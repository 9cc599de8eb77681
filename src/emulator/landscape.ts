/**
 * Synthetic Sentinel-2 landscapes: land cover, reflectance and clouds as a deterministic
 * function of (collection, scene, band, lon, lat).
 *
 * Everything is built from value noise over Web-Mercator metres (u, v): Mercator is
 * conformal, so features stay round at any latitude, and it is one global plane, so a place
 * looks the same in every scene, tile and UTM zone that covers it. Land-cover fields are
 * shared by all scenes; clouds and haze are per scene.
 *
 * Speed: an octave whose wavelength is long compared with the render lattice (see
 * RenderLattice) is evaluated only at lattice nodes and interpolated bilinearly; the error
 * that adds is bounded by NODE_ERROR_BUDGET of the field's range, far below a class
 * threshold's width, and is the same for any grid with the same pixel size, so tiles of a
 * request render exactly like the whole request.
 */
import type { Scene } from "./model";
import { seededRandom } from "./random";

/** A render grid's lattice: exact positions every `step` pixels, shared by all scenes. */
export interface RenderLattice {
  width: number;
  height: number;
  /** Lattice spacing in pixels; a power of two dividing 512. */
  step: number;
  /** log2(step) */
  shift: number;
  /** Node counts across and down (nodes cover one step past the last pixel). */
  nx: number;
  ny: number;
  /** Node positions in Web-Mercator metres. */
  nodeU: Float64Array;
  nodeV: Float64Array;
  /** Approximate node spacing in metres, from the grid's affine only (same for every tile). */
  nodeSpacingMetres: number;
  /** Node positions in the scene's UTM CRS, for footprint tests. */
  nodesInEpsg(epsg: number): { x: Float64Array; y: Float64Array };
}

/** Per-pixel land cover and clouds of one scene on one grid, shared by all its bands. */
export interface SceneRaster {
  /** 255 inside the tile's UTM bounds, 0 outside. */
  footprint: Uint8Array;
  /** Endmember pair (see PAIRS) per pixel. */
  pair: Uint8Array;
  /** Position between the pair's two endmembers, 0..1. */
  weight: Float32Array;
  /** Texture and cloud-shadow multiplier. */
  gain: Float32Array;
  /** Cloud opacity 0..1. */
  cloud: Float32Array;
  scl: Uint8Array;
  /** Cloud probability 0..100 (MSK_CLDPRB). */
  cloudProb: Uint8Array;
  /** True when no pixel is inside the footprint (the other arrays are then empty). */
  empty: boolean;
  /** True when every pixel is inside the footprint. */
  full: boolean;
  /** The scene's haze (0..~0.6) and season greenness (0..1), for AOT/WVP and haze. */
  haze: number;
  greenness: number;
}

const EARTH_RADIUS = 6378137;
const DEG = Math.PI / 180;

export function mercatorU(lon: number): number {
  return EARTH_RADIUS * lon * DEG;
}

export function mercatorV(lat: number): number {
  // Clamped so that poles stay finite; nothing is rendered there anyway.
  const phi = Math.max(-85, Math.min(85, lat)) * DEG;
  return EARTH_RADIUS * Math.log(Math.tan(Math.PI / 4 + phi / 2));
}

// ---------------------------------------------------------------------------------------
// Noise

const TABLE_BITS = 8;
const TABLE_MASK = (1 << TABLE_BITS) - 1;

/** 256x256 random values in [-1, 1], fixed forever so that imagery never changes. */
const TABLE = (() => {
  const table = new Float64Array(1 << (2 * TABLE_BITS));
  const random = seededRandom(0x9e3779b9);
  for (let i = 0; i < table.length; i++) table[i] = random() * 2 - 1;
  return table;
})();

/** Smooth value noise in [-1, 1] with unit cell size. */
function valueNoise(x: number, y: number): number {
  const fx = Math.floor(x);
  const fy = Math.floor(y);
  const tx = x - fx;
  const ty = y - fy;
  const ix = fx & TABLE_MASK;
  const iy = fy & TABLE_MASK;
  const ix1 = (ix + 1) & TABLE_MASK;
  const r0 = iy << TABLE_BITS;
  const r1 = ((iy + 1) & TABLE_MASK) << TABLE_BITS;
  const a = TABLE[r0 | ix];
  const b = TABLE[r0 | ix1];
  const c = TABLE[r1 | ix];
  const d = TABLE[r1 | ix1];
  const sx = tx * tx * (3 - 2 * tx);
  const sy = ty * ty * (3 - 2 * ty);
  const ab = a + (b - a) * sx;
  const cd = c + (d - c) * sx;
  return ab + (cd - ab) * sy;
}

/** Integer hash of a cell to [0, 1). */
function hash2(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix | 0, 0x27d4eb2d) ^ Math.imul(iy | 0, 0x165667b1) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Pixel grain in 1/256 steps of [-0.5, 0.5), looked up by grainIndex: cheaper than hash2 per
 * pixel, and as bytes the table (64 KiB) stays in cache.
 */
const GRAIN = (() => {
  const table = new Int8Array(1 << 16);
  for (let i = 0; i < table.length; i++)
    table[i] = Math.floor(hash2(i & 0xff, i >>> 8, 0x51ed) * 256) - 128;
  return table;
})();
const GRAIN_SCALE = 1 / 256;

/**
 * Table index of the 10 m cell (cellU, cellV). The multiply scatters rows so that the
 * pattern repeats only every 65536 cells (655 km) along a row, not every 256.
 */
function grainIndex(cellU: number, cellV: number): number {
  return (Math.imul(cellV, 0x9e3779b1) ^ cellU) & 0xffff;
}

function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

// ---------------------------------------------------------------------------------------
// Fields: sums of rotated, offset octaves of value noise

const F_TERRAIN = 0; // low: water; high: rock
const F_RIVER = 1; // zero contours are rivers
const F_URBAN = 2;
const F_AGRI = 3; // high: forest; middle: crops; low: grass and shrub
const F_RIVER_ON = 4; // rivers only where this is positive, so they are not everywhere
const F_CLOUD = 5;
const F_SHADOW = 6; // the cloud field shifted along the sun's direction
const FIELD_COUNT = 7;

interface OctaveSpec {
  field: number;
  wavelength: number;
  amplitude: number;
}

const OCTAVES: OctaveSpec[] = [
  { field: F_TERRAIN, wavelength: 14000, amplitude: 1 },
  { field: F_TERRAIN, wavelength: 5500, amplitude: 0.5 },
  { field: F_TERRAIN, wavelength: 2100, amplitude: 0.25 },
  { field: F_TERRAIN, wavelength: 800, amplitude: 0.12 },
  { field: F_TERRAIN, wavelength: 300, amplitude: 0.05 },
  { field: F_RIVER, wavelength: 16000, amplitude: 1 },
  { field: F_RIVER, wavelength: 4500, amplitude: 0.3 },
  { field: F_RIVER, wavelength: 1300, amplitude: 0.08 },
  { field: F_URBAN, wavelength: 7000, amplitude: 1 },
  { field: F_URBAN, wavelength: 2200, amplitude: 0.45 },
  { field: F_URBAN, wavelength: 600, amplitude: 0.2 },
  { field: F_AGRI, wavelength: 9000, amplitude: 1 },
  { field: F_AGRI, wavelength: 3200, amplitude: 0.5 },
  { field: F_AGRI, wavelength: 1100, amplitude: 0.25 },
  { field: F_AGRI, wavelength: 350, amplitude: 0.1 },
  { field: F_RIVER_ON, wavelength: 30000, amplitude: 1 },
  { field: F_CLOUD, wavelength: 22000, amplitude: 1 },
  { field: F_CLOUD, wavelength: 9000, amplitude: 0.55 },
  { field: F_CLOUD, wavelength: 3500, amplitude: 0.3 },
  { field: F_CLOUD, wavelength: 1300, amplitude: 0.16 },
  { field: F_CLOUD, wavelength: 450, amplitude: 0.08 },
  // Shadows only need the cloud's broad shape.
  { field: F_SHADOW, wavelength: 22000, amplitude: 1 },
  { field: F_SHADOW, wavelength: 9000, amplitude: 0.55 },
  { field: F_SHADOW, wavelength: 3500, amplitude: 0.3 },
];

/** The shadow octaves mirror the first cloud octaves, index by index. */
const SHADOW_SOURCE = [16, 17, 18];

/**
 * Maximum bilinear interpolation error, as a fraction of an octave's amplitude summed over
 * the field, tolerated to evaluate an octave at lattice nodes only. Smoothstep value noise
 * has |f''| <= 6 A / L^2, so bilinear error <= 0.75 A (h / L)^2 for node spacing h.
 */
const NODE_ERROR_BUDGET = 0.004;

/** Octave parameters for one scene: rotation, 1/wavelength, offsets, amplitude. */
interface OctaveTable {
  /** [a, b, c, d, ox, oy, amp] per octave: x = a u + b v + ox, y = c u + d v + oy. */
  params: Float64Array;
}

const PARAMS_PER_OCTAVE = 7;

function buildOctaveTable(
  sceneSeed: number,
  shadowShiftU: number,
  shadowShiftV: number,
): OctaveTable {
  const params = new Float64Array(OCTAVES.length * PARAMS_PER_OCTAVE);
  for (let k = 0; k < OCTAVES.length; k++) {
    const spec = OCTAVES[k];
    const perScene = spec.field === F_CLOUD || spec.field === F_SHADOW;
    const source = spec.field === F_SHADOW ? SHADOW_SOURCE[k - 21] : k;
    const seed = perScene ? hashString(`${sceneSeed}:${source}`) : hashString(`land:${source}`);
    // Irrational-ish rotations per octave hide the noise table's axis alignment and period.
    const angle = (seed % 3600) * 0.1 * DEG;
    const inv = 1 / spec.wavelength;
    const cos = Math.cos(angle) * inv;
    const sin = Math.sin(angle) * inv;
    let ox = ((seed >>> 12) % 256) + 0.37;
    let oy = ((seed >>> 20) % 256) + 0.61;
    if (spec.field === F_SHADOW) {
      // A shadow is the cloud field seen from where the sun casts it.
      ox += cos * shadowShiftU - sin * shadowShiftV;
      oy += sin * shadowShiftU + cos * shadowShiftV;
    }
    const o = k * PARAMS_PER_OCTAVE;
    params[o] = cos;
    params[o + 1] = -sin;
    params[o + 2] = sin;
    params[o + 3] = cos;
    params[o + 4] = ox;
    params[o + 5] = oy;
    params[o + 6] = spec.amplitude;
  }
  return { params };
}

function octaveAt(params: Float64Array, k: number, u: number, v: number): number {
  const o = k * PARAMS_PER_OCTAVE;
  return (
    params[o + 6] *
    valueNoise(
      params[o] * u + params[o + 1] * v + params[o + 4],
      params[o + 2] * u + params[o + 3] * v + params[o + 5],
    )
  );
}

function fieldAt(params: Float64Array, field: number, u: number, v: number): number {
  let sum = 0;
  for (let k = 0; k < OCTAVES.length; k++) {
    if (OCTAVES[k].field === field) sum += octaveAt(params, k, u, v);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------
// Spectra (surface reflectance x 10000) in band order B1..B12 with B8A after B8.

/** Spectral band ids in the order of the tables below. */
export const SPECTRAL_BANDS = [
  "B1",
  "B2",
  "B3",
  "B4",
  "B5",
  "B6",
  "B7",
  "B8",
  "B8A",
  "B9",
  "B10",
  "B11",
  "B12",
] as const;

// biome-ignore format: one spectrum per line reads as a table
const SPECTRA = {
  waterClear:  [300, 350, 450, 250, 200, 150, 130, 110, 100, 60, 10, 60, 40],
  waterTurbid: [520, 620, 880, 720, 560, 300, 240, 200, 180, 100, 10, 110, 70],
  soil:        [700, 800, 1100, 1400, 1600, 1800, 1950, 2100, 2200, 700, 20, 2800, 2200],
  crop:        [250, 300, 700, 350, 1100, 2900, 3700, 4000, 4100, 1200, 20, 2100, 950],
  forestOpen:  [320, 380, 620, 520, 1000, 2000, 2400, 2600, 2700, 800, 15, 1900, 1000],
  forest:      [200, 220, 450, 250, 750, 2300, 2900, 3100, 3200, 900, 15, 1400, 550],
  asphalt:     [850, 900, 950, 1000, 1050, 1100, 1150, 1200, 1230, 400, 20, 1500, 1400],
  roof:        [1500, 1700, 1850, 2000, 2100, 2200, 2300, 2400, 2450, 700, 25, 2900, 2600],
  rock:        [900, 1000, 1250, 1500, 1700, 1850, 1950, 2050, 2150, 700, 20, 2700, 2300],
  sand:        [1500, 1800, 2300, 2900, 3100, 3300, 3400, 3500, 3600, 1100, 30, 4200, 3600],
  grassDry:    [600, 700, 1000, 1250, 1500, 1900, 2100, 2300, 2400, 800, 20, 3000, 2200],
  grass:       [300, 350, 700, 450, 1100, 2500, 3000, 3300, 3400, 1000, 20, 2300, 1200],
  cloud:       [5600, 5800, 5900, 6100, 6200, 6300, 6350, 6400, 6400, 2600, 1400, 4100, 2900],
  /** Added per unit of scene haze (aerosol scattering is strongest in the blue). */
  haze:        [900, 650, 450, 300, 220, 150, 120, 100, 90, 40, 0, 25, 12],
  /** Top-of-atmosphere path radiance added for L1C products. */
  toa:         [1100, 800, 550, 350, 300, 250, 230, 200, 190, 80, 0, 40, 20],
};

/** Endmember pairs: a pixel's spectrum is A + weight * (B - A). */
export const PAIR_WATER = 0;
export const PAIR_CROP = 1;
export const PAIR_FOREST = 2;
export const PAIR_URBAN = 3;
export const PAIR_BARE = 4;
export const PAIR_GRASS = 5;
const PAIRS: [number[], number[]][] = [
  [SPECTRA.waterClear, SPECTRA.waterTurbid],
  [SPECTRA.soil, SPECTRA.crop],
  [SPECTRA.forestOpen, SPECTRA.forest],
  [SPECTRA.asphalt, SPECTRA.roof],
  [SPECTRA.rock, SPECTRA.sand],
  [SPECTRA.grassDry, SPECTRA.grass],
];
/** Per spectral band, indexed by pair: endmember A and B - A. */
const BAND_END_A = SPECTRAL_BANDS.map((_, s) => Float64Array.from(PAIRS, ([a]) => a[s]));
const BAND_END_D = SPECTRAL_BANDS.map((_, s) => Float64Array.from(PAIRS, ([a, b]) => b[s] - a[s]));

// Scene classification map codes (Sentinel-2 L2A SCL).
const SCL_SHADOW = 3;
const SCL_VEGETATION = 4;
const SCL_NOT_VEGETATED = 5;
const SCL_WATER = 6;
const SCL_CLOUD_MEDIUM = 8;
const SCL_CLOUD_HIGH = 9;
const SCL_CIRRUS = 10;

// Class thresholds in field units (the fields are sums of octaves in [-1, 1]).
const WATER_LEVEL = -0.62;
const BEACH_WIDTH = 0.025;
const ROCK_LEVEL = 0.95;
const URBAN_LEVEL = 0.78;
const FOREST_LEVEL = 0.15;
const GRASS_LEVEL = -0.55;
const RIVER_HALF_WIDTH = 0.006;
/** Cloud field units over which opacity ramps from a thin edge to an opaque core. */
const CLOUD_RAMP = 0.14;
const CLOUD_FRINGE = 0.07;

// ---------------------------------------------------------------------------------------
// Scenes

/** Which product a collection holds and how its values are offset. */
export interface ProductKind {
  level: "L2A" | "L1C";
  /**
   * Processing baseline 04.00 (from 2022-01-25) adds 1000 to every reflectance; the
   * HARMONIZED collections subtract it again, the deprecated ones do not.
   */
  offset: number;
}

const BASELINE_04_START = Date.UTC(2022, 0, 25);

export function productKind(collection: string, timeStart: number): ProductKind {
  const level = /_SR/i.test(collection) ? "L2A" : "L1C";
  const harmonized = /HARMONIZED/i.test(collection);
  return { level, offset: !harmonized && timeStart >= BASELINE_04_START ? 1000 : 0 };
}

interface SceneLook {
  seed: number;
  octaves: OctaveTable;
  /** Haze amount, 0..~0.6. */
  haze: number;
  /** Overall radiometric gain, ~0.96..1.04. */
  gain: number;
  /** 0 dry season .. 1 peak green season. */
  greenness: number;
  /** Fraction of the year, 0..1, for crop calendars. */
  yearPhase: number;
  cloudThreshold: number;
}

const lookCache = new Map<string, SceneLook>();
const LOOK_CACHE_LIMIT = 2048;

function sceneKey(scene: Scene): string {
  return `${scene.collection}/${scene.index}/${scene.cloudPercent}/${scene.epsg}`;
}

function sceneLook(
  scene: Scene,
  sceneUtmToLonLat: (x: number, y: number) => [number, number],
): SceneLook {
  const key = sceneKey(scene);
  const cached = lookCache.get(key);
  if (cached) return cached;
  // Clouds and haze depend on the acquisition, not the collection: the L1C and L2A
  // products of one acquisition show the same clouds.
  const seed = hashString(scene.index);
  const r1 = hash2(seed, 1, 7);
  const r2 = hash2(seed, 2, 7);
  const r3 = hash2(seed, 3, 7);
  const { xmin, ymin, xmax, ymax } = scene.utmBounds;
  const [, latC] = sceneUtmToLonLat((xmin + xmax) / 2, (ymin + ymax) / 2);
  const date = new Date(scene.timeStart);
  const dayOfYear = (scene.timeStart - Date.UTC(date.getUTCFullYear(), 0, 1)) / 86400000;
  // Green season peaks in mid-summer of each hemisphere; near the equator it follows the
  // rainy season (roughly Sep-Oct north of it), damped.
  const peakDay = latC >= 0 ? 200 : 20;
  const amplitude = Math.min(1, Math.abs(latC) / 20 + 0.35);
  const greenness =
    0.5 + 0.5 * amplitude * Math.cos(((dayOfYear - peakDay) / 365.25) * 2 * Math.PI);
  // Shadow falls away from the sun: for a morning overpass roughly west-north-west in the
  // north, 1-2 km for typical cloud heights.
  const shadowLength = 900 + 900 * r3;
  const shadowShiftU = shadowLength * 0.9;
  const shadowShiftV = latC >= 0 ? -shadowLength * 0.45 : shadowLength * 0.45;
  const octaves = buildOctaveTable(seed, shadowShiftU, shadowShiftV);
  const look: SceneLook = {
    seed,
    octaves,
    haze: r1 * r1 * 0.6,
    gain: 0.96 + 0.08 * r2,
    greenness,
    yearPhase: dayOfYear / 365.25,
    cloudThreshold: calibrateCloudThreshold(scene, octaves.params, sceneUtmToLonLat),
  };
  if (lookCache.size >= LOOK_CACHE_LIMIT) lookCache.clear();
  lookCache.set(key, look);
  return look;
}

const CALIBRATION_SAMPLES = 128;

/**
 * The cloud-field value above which exactly cloudPercent % of the tile is cloudy: the
 * quantile of the scene's own field sampled over its tile, so a scene's visible cloud
 * cover matches its CLOUDY_PIXEL_PERCENTAGE.
 */
function calibrateCloudThreshold(
  scene: Scene,
  params: Float64Array,
  sceneUtmToLonLat: (x: number, y: number) => [number, number],
): number {
  const fraction = Math.max(0, Math.min(100, scene.cloudPercent)) / 100;
  if (fraction <= 0) return Number.POSITIVE_INFINITY;
  if (fraction >= 1) return Number.NEGATIVE_INFINITY;
  const { xmin, ymin, xmax, ymax } = scene.utmBounds;
  // Mercator positions of the tile's corners; the tile is close enough to a
  // parallelogram there for sampling purposes.
  const corner = (x: number, y: number): [number, number] => {
    const [lon, lat] = sceneUtmToLonLat(x, y);
    return [mercatorU(lon), mercatorV(lat)];
  };
  const c00 = corner(xmin, ymax);
  const c10 = corner(xmax, ymax);
  const c01 = corner(xmin, ymin);
  const c11 = corner(xmax, ymin);
  const n = CALIBRATION_SAMPLES;
  const values = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const ty = (j + 0.5) / n;
    for (let i = 0; i < n; i++) {
      const tx = (i + 0.5) / n;
      const u =
        (c00[0] * (1 - tx) + c10[0] * tx) * (1 - ty) + (c01[0] * (1 - tx) + c11[0] * tx) * ty;
      const v =
        (c00[1] * (1 - tx) + c10[1] * tx) * (1 - ty) + (c01[1] * (1 - tx) + c11[1] * tx) * ty;
      values[j * n + i] = fieldAt(params, F_CLOUD, u, v);
    }
  }
  values.sort();
  const rank = Math.min(values.length - 1, Math.floor((1 - fraction) * values.length));
  return values[rank];
}

// ---------------------------------------------------------------------------------------
// Rendering

interface FieldPlan {
  /** Octaves evaluated per pixel: pixelList[pixelStart[f] .. pixelStart[f + 1]). */
  pixelStart: Int32Array;
  pixelList: Int32Array;
  /** 1 when a field has octaves summed at nodes. */
  hasNodes: Uint8Array;
  /** Node sums, field-major: nodeSums[f * nodes + n]. */
  nodeSums: Float64Array;
}

/**
 * Splits each field's octaves into node and per-pixel ones and sums the node ones. Without
 * clouds the cloud and shadow fields are never read, so they are not evaluated.
 */
function planFields(lattice: RenderLattice, params: Float64Array, clouds: boolean): FieldPlan {
  const nodes = lattice.nx * lattice.ny;
  const h = lattice.nodeSpacingMetres;
  const pixelOctaves: number[][] = [];
  const nodeOctaves: number[][] = [];
  for (let f = 0; f < FIELD_COUNT; f++) {
    pixelOctaves.push([]);
    nodeOctaves.push([]);
  }
  for (let k = 0; k < OCTAVES.length; k++) {
    const { field, wavelength, amplitude } = OCTAVES[k];
    if (!clouds && (field === F_CLOUD || field === F_SHADOW)) continue;
    const error = 0.75 * amplitude * (h / wavelength) ** 2;
    if (error <= NODE_ERROR_BUDGET) nodeOctaves[field].push(k);
    else pixelOctaves[field].push(k);
  }
  const nodeSums = new Float64Array(FIELD_COUNT * nodes);
  const hasNodes = new Uint8Array(FIELD_COUNT);
  const pixelStart = new Int32Array(FIELD_COUNT + 1);
  const pixelList = new Int32Array(pixelOctaves.flat());
  const nodeU = lattice.nodeU;
  const nodeV = lattice.nodeV;
  for (let f = 0; f < FIELD_COUNT; f++) {
    pixelStart[f + 1] = pixelStart[f] + pixelOctaves[f].length;
    hasNodes[f] = nodeOctaves[f].length > 0 ? 1 : 0;
    const base = f * nodes;
    for (const k of nodeOctaves[f]) {
      for (let n = 0; n < nodes; n++) {
        nodeSums[base + n] += octaveAt(params, k, nodeU[n], nodeV[n]);
      }
    }
  }
  return { pixelStart, pixelList, hasNodes, nodeSums };
}

function hasPixelOctaves(plan: FieldPlan, f: number): boolean {
  return plan.pixelStart[f + 1] > plan.pixelStart[f];
}

/** A field at a pixel: its node part (interpolated by the caller) plus per-pixel octaves. */
function withPixelOctaves(
  nodePart: number,
  pixelOctaves: boolean,
  plan: FieldPlan,
  params: Float64Array,
  f: number,
  u: number,
  v: number,
): number {
  return pixelOctaves ? nodePart + pixelOctaveSum(plan, params, f, u, v) : nodePart;
}

/** Rivers follow the river field's zero line, only where the river-on field is positive. */
function isRiver(
  river: number,
  onNodePart: number,
  onPixelOctaves: boolean,
  plan: FieldPlan,
  params: Float64Array,
  u: number,
  v: number,
): boolean {
  // The river-on field is at most 1, so most pixels are decided without evaluating it.
  if (Math.abs(river) >= RIVER_HALF_WIDTH * 2) return false;
  const on = withPixelOctaves(onNodePart, onPixelOctaves, plan, params, F_RIVER_ON, u, v);
  return on > 0 && Math.abs(river) < RIVER_HALF_WIDTH * (1 + on);
}

/** The per-pixel octaves of a field (those too fine to interpolate between nodes). */
function pixelOctaveSum(
  plan: FieldPlan,
  params: Float64Array,
  f: number,
  u: number,
  v: number,
): number {
  let sum = 0;
  const end = plan.pixelStart[f + 1];
  for (let k = plan.pixelStart[f]; k < end; k++) sum += octaveAt(params, plan.pixelList[k], u, v);
  return sum;
}

// ---------------------------------------------------------------------------------------
// Scratch memory

/** A SceneRaster's per-pixel arrays other than the footprint (which becomes band masks). */
interface Scratch {
  pixels: number;
  pair: Uint8Array;
  weight: Float32Array;
  gain: Float32Array;
  cloud: Float32Array;
  scl: Uint8Array;
  cloudProb: Uint8Array;
}

/**
 * Largest scratch set kept between renders, in pixels (14 bytes each, so at most 59 MB
 * stay allocated). Fresh typed arrays cost a page fault per 4 KiB and zeroing: for a
 * 2048x2048 render that was up to a quarter of the time, so one set is kept and reused
 * while it is not in use.
 */
const SCRATCH_KEEP_PIXELS = 1 << 22;
let spareScratch: Scratch | undefined;

function newScratch(pixels: number): Scratch {
  return {
    pixels,
    pair: new Uint8Array(pixels),
    weight: new Float32Array(pixels),
    gain: new Float32Array(pixels),
    cloud: new Float32Array(pixels),
    scl: new Uint8Array(pixels),
    cloudProb: new Uint8Array(pixels),
  };
}

/** Scratch arrays of exactly `size` pixels, reused when possible; contents are undefined. */
function takeScratch(size: number): Scratch {
  const spare = spareScratch;
  if (!spare || spare.pixels < size) return newScratch(size);
  spareScratch = undefined;
  if (spare.pixels === size) return spare;
  return {
    pixels: size,
    pair: spare.pair.subarray(0, size),
    weight: spare.weight.subarray(0, size),
    gain: spare.gain.subarray(0, size),
    cloud: spare.cloud.subarray(0, size),
    scl: spare.scl.subarray(0, size),
    cloudProb: spare.cloudProb.subarray(0, size),
  };
}

/**
 * Hands a raster's scratch arrays back for the next render. Call it once nothing reads the
 * raster any more (bands made from it are copies; its footprint is not scratch).
 */
export function releaseSceneRaster(raster: SceneRaster): void {
  const pixels = raster.pair.buffer.byteLength;
  if (raster.empty || pixels > SCRATCH_KEEP_PIXELS) return;
  if (spareScratch && spareScratch.pixels >= pixels) return;
  spareScratch = {
    pixels,
    pair: new Uint8Array(raster.pair.buffer),
    weight: new Float32Array(raster.weight.buffer),
    gain: new Float32Array(raster.gain.buffer),
    cloud: new Float32Array(raster.cloud.buffer),
    scl: new Uint8Array(raster.scl.buffer),
    cloudProb: new Uint8Array(raster.cloudProb.buffer),
  };
}

/** Whether all lattice nodes are inside the bounds, all beyond one edge, or neither. */
function classifyNodes(
  x: Float64Array,
  y: Float64Array,
  xmin: number,
  ymin: number,
  xmax: number,
  ymax: number,
): "inside" | "outside" | "mixed" {
  let allInside = true;
  let west = true;
  let east = true;
  let south = true;
  let north = true;
  for (let n = 0; n < x.length; n++) {
    const px = x[n];
    const py = y[n];
    if (!(px >= xmin && px < xmax && py > ymin && py <= ymax)) allInside = false;
    if (!(px < xmin)) west = false;
    if (!(px >= xmax)) east = false;
    if (!(py <= ymin)) south = false;
    if (!(py > ymax)) north = false;
  }
  if (allInside) return "inside";
  return west || east || south || north ? "outside" : "mixed";
}

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
  const { x: nodeX, y: nodeY } = lattice.nodesInEpsg(scene.epsg);
  const { xmin, ymin, xmax, ymax } = scene.utmBounds;
  const invStep = 1 / step;
  const rowX = new Float64Array(nx);
  const rowY = new Float64Array(nx);
  let inside = 0;
  const nodeState = classifyNodes(nodeX, nodeY, xmin, ymin, xmax, ymax);
  if (nodeState === "inside") {
    // Interpolated positions are convex combinations of nodes: all inside too.
    footprint.fill(255);
    inside = size;
  } else if (nodeState === "mixed") {
    for (let r = 0; r < height; r++) {
      const j = r >> shift;
      const ty = (r & (step - 1)) * invStep;
      const o0 = j * nx;
      const o1 = o0 + nx;
      for (let i = 0; i < nx; i++) {
        rowX[i] = nodeX[o0 + i] * (1 - ty) + nodeX[o1 + i] * ty;
        rowY[i] = nodeY[o0 + i] * (1 - ty) + nodeY[o1 + i] * ty;
      }
      const rowStart = r * width;
      for (let c = 0; c < width; c++) {
        const i = c >> shift;
        const tx = (c & (step - 1)) * invStep;
        const x = rowX[i] + (rowX[i + 1] - rowX[i]) * tx;
        const y = rowY[i] + (rowY[i + 1] - rowY[i]) * tx;
        if (x >= xmin && x < xmax && y > ymin && y <= ymax) {
          footprint[rowStart + c] = 255;
          inside++;
        }
      }
    }
  }
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
    const j = r >> shift;
    const ty = (r & (step - 1)) * invStep;
    const o0 = j * nx;
    const o1 = o0 + nx;
    for (let i = 0; i < nx; i++) {
      rowU[i] = nodeU[o0 + i] * (1 - ty) + nodeU[o1 + i] * ty;
      rowV[i] = nodeV[o0 + i] * (1 - ty) + nodeV[o1 + i] * ty;
    }
    for (let f = 0; f < FIELD_COUNT; f++) {
      if (!hasNodes[f]) continue;
      const base = f * nodes;
      const out = f * nx;
      for (let i = 0; i < nx; i++) {
        rowBuf[out + i] = nodeSums[base + o0 + i] * (1 - ty) + nodeSums[base + o1 + i] * ty;
      }
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

/** Band ids of a Sentinel-2 product in Earth Engine's order. */
export function sceneBandIds(level: "L2A" | "L1C"): string[] {
  return level === "L2A"
    ? [
        "B1",
        "B2",
        "B3",
        "B4",
        "B5",
        "B6",
        "B7",
        "B8",
        "B8A",
        "B9",
        "B11",
        "B12",
        "AOT",
        "WVP",
        "SCL",
        "MSK_CLDPRB",
        "QA60",
      ]
    : ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12", "QA60"];
}

/** Native pixel size of a Sentinel-2 band in metres. */
export function bandResolution(id: string): 10 | 20 | 60 {
  if (id === "B2" || id === "B3" || id === "B4" || id === "B8") return 10;
  if (id === "B1" || id === "B9" || id === "B10" || id === "QA60") return 60;
  return 20;
}

const QA60_OPAQUE = 1 << 10;
const QA60_CIRRUS = 1 << 11;

/**
 * Writes band `id` of `scene` into `out` (values as the product stores them; 0 where the
 * footprint is 0).
 */
export function sceneBandValues(
  scene: Scene,
  raster: SceneRaster,
  id: string,
  out: Uint8Array | Uint16Array,
): void {
  if (raster.empty) return;
  const mix = spectralMix(scene, raster, id, out);
  if (mix) mixSpectral(raster, mix, uint16Out(id, out), 0, raster.footprint.length);
}

function uint16Out(id: string, out: Uint8Array | Uint16Array): Uint16Array {
  if (!(out instanceof Uint16Array))
    throw new TypeError(`Band ${id} is uint16: pass a Uint16Array.`);
  return out;
}

/** Pixels per block when several bands are mixed: the inputs stay in L2 between bands. */
const MIX_BLOCK = 4096;

/**
 * sceneBandValues for several bands at once. Mixing spectral bands block by block reads the
 * land cover from memory once instead of once per band: at 2048x2048 that is 58 MB a band.
 */
export function sceneBandsValues(
  scene: Scene,
  raster: SceneRaster,
  ids: string[],
  outs: (Uint8Array | Uint16Array)[],
): void {
  if (raster.empty) return;
  const mixes: SpectralMix[] = [];
  const mixOuts: Uint16Array[] = [];
  ids.forEach((id, k) => {
    const mix = spectralMix(scene, raster, id, outs[k]);
    if (!mix) return;
    mixes.push(mix);
    mixOuts.push(uint16Out(id, outs[k]));
  });
  const size = raster.footprint.length;
  for (let start = 0; start < size; start += MIX_BLOCK) {
    const end = Math.min(size, start + MIX_BLOCK);
    for (let k = 0; k < mixes.length; k++) mixSpectral(raster, mixes[k], mixOuts[k], start, end);
  }
}

/** Whether `id` is a reflectance band (B1..B12, B8A), the ones sceneBandsMapped takes. */
export function isSpectralBand(id: string): boolean {
  return (SPECTRAL_BANDS as readonly string[]).includes(id);
}

/**
 * Spectral bands `ids` mapped through lookup tables (luts[k][value], 65536 entries each)
 * into `outs` from pixel `at` on (the raster may be a strip of the grid), without
 * materializing the uint16 bands: visualize's fast path. Pixels outside the footprint get
 * luts[k][0], as mapping a band's 0 there would give. Returns false, having written
 * nothing, when an id is not a spectral band.
 */
export function sceneBandsMapped(
  scene: Scene,
  raster: SceneRaster,
  ids: string[],
  luts: Uint8Array[],
  outs: Uint8Array[],
  at = 0,
): boolean {
  const mixes: SpectralMix[] = [];
  for (const id of ids) {
    if (!(SPECTRAL_BANDS as readonly string[]).includes(id)) return false;
    const mix = spectralMix(scene, raster, id);
    if (!mix) return false;
    mixes.push(mix);
  }
  if (luts.some((lut) => lut.length !== 65536)) return false;
  const size = raster.footprint.length;
  outs.forEach((out, k) => {
    if (!raster.full) out.fill(luts[k][0], at, at + size);
  });
  if (raster.empty) return true;
  const views = outs.map((out) => out.subarray(at, at + size));
  if (mixes.length === 3) {
    mixThreeMapped(raster, mixes, luts, views);
    return true;
  }
  for (let start = 0; start < size; start += MIX_BLOCK) {
    const end = Math.min(size, start + MIX_BLOCK);
    for (let k = 0; k < mixes.length; k++) {
      mixSpectralMapped(raster, mixes[k], luts[k], views[k], start, end);
    }
  }
  return true;
}

/**
 * mixSpectralMapped for three bands in one loop (an RGB visualization): each pixel's land
 * cover is loaded and converted once for all three.
 */
function mixThreeMapped(
  raster: SceneRaster,
  mixes: SpectralMix[],
  luts: Uint8Array[],
  outs: Uint8Array[],
): void {
  const { footprint, pair, weight, gain, cloud, full } = raster;
  const [m0, m1, m2] = mixes;
  const [lut0, lut1, lut2] = luts;
  const [out0, out1, out2] = outs;
  // All six endmember coefficients of a pair side by side: one table read through one base
  // pointer is ~30% faster in V8 than six tables.
  const coefficients = new Float64Array(PAIRS.length * 6);
  for (let p = 0; p < PAIRS.length; p++) {
    for (let k = 0; k < 3; k++) {
      coefficients[p * 6 + 2 * k] = mixes[k].endA[p];
      coefficients[p * 6 + 2 * k + 1] = mixes[k].endD[p];
    }
  }
  const add0 = m0.additive;
  const add1 = m1.additive;
  const add2 = m2.additive;
  const c0 = m0.cloudSpec;
  const c1 = m1.cloudSpec;
  const c2 = m2.cloudSpec;
  const o0 = m0.offset;
  const o1 = m1.offset;
  const o2 = m2.offset;
  const size = footprint.length;
  for (let px = 0; px < size; px++) {
    if (!full && footprint[px] === 0) continue;
    const e = pair[px] * 6;
    const w = weight[px];
    const g = gain[px];
    let v0 = (coefficients[e] + coefficients[e + 1] * w) * g + add0;
    let v1 = (coefficients[e + 2] + coefficients[e + 3] * w) * g + add1;
    let v2 = (coefficients[e + 4] + coefficients[e + 5] * w) * g + add2;
    const alpha = cloud[px];
    if (alpha > 0) {
      const brightness = 0.6 + 0.4 * alpha;
      v0 += (c0 * brightness - v0) * alpha;
      v1 += (c1 * brightness - v1) * alpha;
      v2 += (c2 * brightness - v2) * alpha;
    }
    // Rounded as in mixSpectral.
    const k0 = (v0 + o0 + 0.5) | 0;
    const k1 = (v1 + o1 + 0.5) | 0;
    const k2 = (v2 + o2 + 0.5) | 0;
    out0[px] = lut0[Math.max(0, Math.min(k0, 65535))];
    out1[px] = lut1[Math.max(0, Math.min(k1, 65535))];
    out2[px] = lut2[Math.max(0, Math.min(k2, 65535))];
  }
}

/** How a spectral band is mixed from the land cover. */
interface SpectralMix {
  endA: Float64Array;
  endD: Float64Array;
  additive: number;
  cloudSpec: number;
  offset: number;
}

/**
 * The mix for band `id`, or undefined after writing a non-spectral band (SCL, QA60, ...)
 * into `out` directly.
 */
function spectralMix(
  scene: Scene,
  raster: SceneRaster,
  id: string,
  out: Uint8Array | Uint16Array = new Uint8Array(0),
): SpectralMix | undefined {
  const { footprint } = raster;
  const size = footprint.length;
  const kind = productKind(scene.collection, scene.timeStart);
  if (id === "SCL") {
    const scl = raster.scl;
    for (let px = 0; px < size; px++) out[px] = scl[px];
    return undefined;
  }
  if (id === "MSK_CLDPRB") {
    const prob = raster.cloudProb;
    for (let px = 0; px < size; px++) out[px] = prob[px];
    return undefined;
  }
  if (id === "QA60") {
    const scl = raster.scl;
    for (let px = 0; px < size; px++) {
      const s = scl[px];
      out[px] =
        s === SCL_CLOUD_HIGH || s === SCL_CLOUD_MEDIUM
          ? QA60_OPAQUE
          : s === SCL_CIRRUS
            ? QA60_CIRRUS
            : 0;
    }
    return undefined;
  }
  const haze = raster.haze;
  if (id === "AOT") {
    const value = Math.round(80 + 500 * haze);
    for (let px = 0; px < size; px++) out[px] = footprint[px] ? value : 0;
    return undefined;
  }
  if (id === "WVP") {
    const value = Math.round(1500 + 2500 * raster.greenness);
    for (let px = 0; px < size; px++) out[px] = footprint[px] ? value : 0;
    return undefined;
  }
  const s = (SPECTRAL_BANDS as readonly string[]).indexOf(id);
  if (s < 0) throw new Error(`Sentinel-2 has no band "${id}"`);
  const additive = haze * SPECTRA.haze[s] + (kind.level === "L1C" ? SPECTRA.toa[s] : 0);
  const cloudSpec = SPECTRA.cloud[s];
  return { endA: BAND_END_A[s], endD: BAND_END_D[s], additive, cloudSpec, offset: kind.offset };
}

/** The hot loop of sceneBandValues, kept small so that V8 optimizes it on its own. */
function mixSpectral(
  raster: SceneRaster,
  mix: SpectralMix,
  out: Uint16Array,
  start: number,
  end: number,
): void {
  const { footprint, pair, weight, gain, cloud, full } = raster;
  const { endA, endD, additive, cloudSpec, offset } = mix;
  for (let px = start; px < end; px++) {
    if (!full && footprint[px] === 0) continue;
    const p = pair[px];
    let value = (endA[p] + endD[p] * weight[px]) * gain[px] + additive;
    const alpha = cloud[px];
    if (alpha > 0) value += (cloudSpec * (0.6 + 0.4 * alpha) - value) * alpha;
    // Truncation equals floor(x + 0.5) for x >= 0 and gives <= 0, clamped to 0, below it;
    // reflectances stay far below 2^31. An int store is much cheaper than a double one.
    const rounded = (value + offset + 0.5) | 0;
    out[px] = Math.max(0, Math.min(rounded, 65535));
  }
}

/** mixSpectral, then each value through `lut` (see sceneBandsMapped). */
function mixSpectralMapped(
  raster: SceneRaster,
  mix: SpectralMix,
  lut: Uint8Array,
  out: Uint8Array,
  start: number,
  end: number,
): void {
  const { footprint, pair, weight, gain, cloud, full } = raster;
  const { endA, endD, additive, cloudSpec, offset } = mix;
  for (let px = start; px < end; px++) {
    if (!full && footprint[px] === 0) continue;
    const p = pair[px];
    let value = (endA[p] + endD[p] * weight[px]) * gain[px] + additive;
    const alpha = cloud[px];
    if (alpha > 0) value += (cloudSpec * (0.6 + 0.4 * alpha) - value) * alpha;
    const rounded = (value + offset + 0.5) | 0;
    out[px] = lut[Math.max(0, Math.min(rounded, 65535))];
  }
}
