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
  /** True when no pixel is inside the footprint. */
  empty: boolean;
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
  let state = 0x9e3779b9;
  for (let i = 0; i < table.length; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    table[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
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
const NB = SPECTRAL_BANDS.length;

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
const END_A = new Float64Array(PAIRS.length * NB);
const END_D = new Float64Array(PAIRS.length * NB);
PAIRS.forEach(([a, b], p) => {
  for (let s = 0; s < NB; s++) {
    END_A[p * NB + s] = a[s];
    END_D[p * NB + s] = b[s] - a[s];
  }
});

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

function planFields(lattice: RenderLattice, params: Float64Array): FieldPlan {
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
    const error = 0.75 * amplitude * (h / wavelength) ** 2;
    if (error <= NODE_ERROR_BUDGET) nodeOctaves[field].push(k);
    else pixelOctaves[field].push(k);
  }
  const nodeSums = new Float64Array(FIELD_COUNT * nodes);
  const hasNodes = new Uint8Array(FIELD_COUNT);
  const pixelStart = new Int32Array(FIELD_COUNT + 1);
  const pixelList = new Int32Array(pixelOctaves.flat());
  for (let f = 0; f < FIELD_COUNT; f++) {
    pixelStart[f + 1] = pixelStart[f] + pixelOctaves[f].length;
    hasNodes[f] = nodeOctaves[f].length > 0 ? 1 : 0;
    const base = f * nodes;
    for (const k of nodeOctaves[f]) {
      for (let n = 0; n < nodes; n++) {
        nodeSums[base + n] += octaveAt(params, k, lattice.nodeU[n], lattice.nodeV[n]);
      }
    }
  }
  return { pixelStart, pixelList, hasNodes, nodeSums };
}

/** A field at a pixel: node part interpolated from the row buffer, plus per-pixel octaves. */
function field(
  plan: FieldPlan,
  params: Float64Array,
  rowBuf: Float64Array,
  rowOffset: number,
  f: number,
  i: number,
  tx: number,
  u: number,
  v: number,
): number {
  const a = rowBuf[rowOffset + i];
  const sum = a + (rowBuf[rowOffset + i + 1] - a) * tx;
  return plan.pixelList.length === 0 ? sum : sum + pixelOctaveSum(plan, params, f, u, v);
}

/** Rivers follow the river field's zero line, only where the river-on field is positive. */
function isRiver(
  river: number,
  plan: FieldPlan,
  params: Float64Array,
  rowBuf: Float64Array,
  rowOffset: number,
  i: number,
  tx: number,
  u: number,
  v: number,
): boolean {
  // The river-on field is at most 1, so most pixels are decided without evaluating it.
  if (Math.abs(river) >= RIVER_HALF_WIDTH * 2) return false;
  const on = field(plan, params, rowBuf, rowOffset, F_RIVER_ON, i, tx, u, v);
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

/**
 * Land cover, clouds and footprint of `scene` on every pixel of the lattice's grid.
 * `sceneUtmToLonLat` converts the scene's UTM coordinates to lon/lat (for calibration).
 */
export function renderScene(
  scene: Scene,
  lattice: RenderLattice,
  sceneUtmToLonLat: (x: number, y: number) => [number, number],
): SceneRaster {
  const { width, height, nx, shift, step } = lattice;
  const size = width * height;
  const footprint = new Uint8Array(size);
  const pair = new Uint8Array(size);
  const weight = new Float32Array(size);
  const gainOut = new Float32Array(size);
  const cloudOut = new Float32Array(size);
  const scl = new Uint8Array(size);
  const cloudProb = new Uint8Array(size);
  const raster: SceneRaster = {
    footprint,
    pair,
    weight,
    gain: gainOut,
    cloud: cloudOut,
    scl,
    cloudProb,
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

  const look = sceneLook(scene, sceneUtmToLonLat);
  raster.haze = look.haze;
  raster.greenness = look.greenness;
  const params = look.octaves.params;
  const plan = planFields(lattice, params);
  const nodes = lattice.nx * lattice.ny;
  const rowBuf = new Float64Array(FIELD_COUNT * nx);
  const nodeSums = plan.nodeSums;
  const hasNodes = plan.hasNodes;
  // Row buffers of fields without node octaves stay 0, so field() is always valid.
  const oT = F_TERRAIN * nx;
  const oR = F_RIVER * nx;
  const oRO = F_RIVER_ON * nx;
  const oU = F_URBAN * nx;
  const oA = F_AGRI * nx;
  const oC = F_CLOUD * nx;
  const oS = F_SHADOW * nx;
  const nodeU = lattice.nodeU;
  const nodeV = lattice.nodeV;
  const rowU = new Float64Array(nx);
  const rowV = new Float64Array(nx);

  const cloudT = look.cloudThreshold;
  const fringeStart = cloudT - CLOUD_FRINGE;
  const hasClouds = cloudT !== Number.POSITIVE_INFINITY;
  const sceneGain = look.gain;
  const greenness = look.greenness;
  const yearPhase = look.yearPhase;
  const parcelAngle = 0.31;
  const pc = Math.cos(parcelAngle);
  const ps = Math.sin(parcelAngle);

  let cachedRow = Number.NaN;
  let cachedCol = Number.NaN;
  let stagger = 0;
  let lengthScale = 1;
  let parcel = 0;
  let parcelKind = 0;
  let sowing = 0;
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
    for (let c = 0; c < width; c++) {
      const px = rowStart + c;
      if (footprint[px] === 0) continue;
      const i = c >> shift;
      const tx = (c & (step - 1)) * invStep;
      const u = rowU[i] + (rowU[i + 1] - rowU[i]) * tx;
      const v = rowV[i] + (rowV[i + 1] - rowV[i]) * tx;

      // Native 10 m pixels: a per-cell random texture like a sensor's pixel-to-pixel noise.
      const cellU = Math.floor(u * 0.1);
      const cellV = Math.floor(v * 0.1);
      const grain = hash2(cellU, cellV, 0x51ed) - 0.5;

      const terrain = field(plan, params, rowBuf, oT, F_TERRAIN, i, tx, u, v);
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
          field(plan, params, rowBuf, oR, F_RIVER, i, tx, u, v),
          plan,
          params,
          rowBuf,
          oRO,
          i,
          tx,
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
      } else if (field(plan, params, rowBuf, oU, F_URBAN, i, tx, u, v) > URBAN_LEVEL) {
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
        const agri = field(plan, params, rowBuf, oA, F_AGRI, i, tx, u, v);
        if (agri > FOREST_LEVEL) {
          p = PAIR_FOREST;
          // Crowns and gaps: 20 m clumps on top of the per-pixel grain.
          const crown = hash2(Math.floor(u * (1 / 20)), Math.floor(v * (1 / 20)), 0xc20);
          w = Math.min(1, 0.5 + (agri - FOREST_LEVEL) * 1.5 + 0.05 * greenness + 0.15 * crown);
          texture = 0.92 + 0.16 * crown + 0.1 * grain;
          vegetated = true;
        } else if (agri > GRASS_LEVEL) {
          // Fields: rows of parcels 120-330 m long, staggered row by row.
          const pu = pc * u + ps * v;
          const pv = -ps * u + pc * v;
          const rowIndex = Math.floor(pv * (1 / 170));
          const rowFrac = pv * (1 / 170) - rowIndex;
          // Neighbouring pixels mostly share a parcel: hash rows and parcels only on change.
          if (rowIndex !== cachedRow) {
            cachedRow = rowIndex;
            stagger = hash2(rowIndex, 0, 0x5eed) * 400;
            lengthScale = 120 + 210 * hash2(rowIndex, 1, 0x5eed);
            cachedCol = Number.NaN;
          }
          const pos = (pu + stagger) / lengthScale;
          const colIndex = Math.floor(pos);
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
          const clump = hash2(Math.floor(u * (1 / 30)), Math.floor(v * (1 / 30)), 0x7ee5);
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

      let sclValue = p === PAIR_WATER ? SCL_WATER : vegetated ? SCL_VEGETATION : SCL_NOT_VEGETATED;
      let alpha = 0;
      let prob = 0;
      if (hasClouds) {
        const cloud = field(plan, params, rowBuf, oC, F_CLOUD, i, tx, u, v);
        if (cloud >= cloudT) {
          alpha = 0.5 + 0.5 * Math.min(1, (cloud - cloudT) / CLOUD_RAMP);
          sclValue = alpha >= 0.8 ? SCL_CLOUD_HIGH : SCL_CLOUD_MEDIUM;
          prob = Math.round(50 + 50 * Math.min(1, (cloud - cloudT) / CLOUD_RAMP));
        } else if (cloud >= fringeStart) {
          alpha = (0.5 * (cloud - fringeStart)) / CLOUD_FRINGE;
          if (alpha >= 0.15) sclValue = SCL_CIRRUS;
          prob = Math.round(alpha * 100);
        }
        const shadow = field(plan, params, rowBuf, oS, F_SHADOW, i, tx, u, v) - cloudT;
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
  const { footprint } = raster;
  const size = footprint.length;
  if (raster.empty) return;
  const kind = productKind(scene.collection, scene.timeStart);
  if (id === "SCL") {
    const scl = raster.scl;
    for (let px = 0; px < size; px++) out[px] = scl[px];
    return;
  }
  if (id === "MSK_CLDPRB") {
    const prob = raster.cloudProb;
    for (let px = 0; px < size; px++) out[px] = prob[px];
    return;
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
    return;
  }
  const haze = raster.haze;
  if (id === "AOT") {
    const value = Math.round(80 + 500 * haze);
    for (let px = 0; px < size; px++) out[px] = footprint[px] ? value : 0;
    return;
  }
  if (id === "WVP") {
    const value = Math.round(1500 + 2500 * raster.greenness);
    for (let px = 0; px < size; px++) out[px] = footprint[px] ? value : 0;
    return;
  }
  const s = (SPECTRAL_BANDS as readonly string[]).indexOf(id);
  if (s < 0) throw new Error(`Sentinel-2 has no band "${id}"`);
  const additive = haze * SPECTRA.haze[s] + (kind.level === "L1C" ? SPECTRA.toa[s] : 0);
  const cloudSpec = SPECTRA.cloud[s];
  const offset = kind.offset;
  mixSpectral(raster, s, additive, cloudSpec, offset, out);
}

/** The hot loop of sceneBandValues, kept small so that V8 optimizes it on its own. */
function mixSpectral(
  raster: SceneRaster,
  s: number,
  additive: number,
  cloudSpec: number,
  offset: number,
  out: Uint16Array | Uint8Array,
): void {
  const { footprint, pair, weight, gain, cloud } = raster;
  const size = footprint.length;
  const endA = END_A;
  const endD = END_D;
  for (let px = 0; px < size; px++) {
    if (footprint[px] === 0) continue;
    const e = pair[px] * 13 + s;
    let value = (endA[e] + endD[e] * weight[px]) * gain[px] + additive;
    const alpha = cloud[px];
    if (alpha > 0) value += (cloudSpec * (0.6 + 0.4 * alpha) - value) * alpha;
    // floor(x + 0.5) is Math.round without its slow path in V8.
    value = Math.floor(value + offset + 0.5);
    out[px] = value < 0 ? 0 : Math.min(value, 65535);
  }
}
