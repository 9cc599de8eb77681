/**
 * Fields: sums of rotated, offset octaves of value noise. Land-cover fields are shared by
 * all scenes; the cloud and shadow fields are per scene.
 *
 * Speed: an octave whose wavelength is long compared with the render lattice (see
 * RenderLattice) is evaluated only at lattice nodes and interpolated bilinearly; the error
 * that adds is bounded by NODE_ERROR_BUDGET of the field's range, far below a class
 * threshold's width, and is the same for any grid with the same pixel size, so tiles of a
 * request render exactly like the whole request.
 */
import * as noise from "./noise";
import type { RenderLattice } from "./raster";

// tsx compiles these modules to CommonJS, where an imported binding is a getter on the
// exporting module: read in a pixel loop, every use is a call V8 cannot fold. Copied into
// module constants once, they are plain constants again; without this a render measured
// several times slower.
const { DEG, hashString, valueNoise } = noise;

export const F_TERRAIN = 0; // low: water; high: rock
export const F_RIVER = 1; // zero contours are rivers
export const F_URBAN = 2;
export const F_AGRI = 3; // high: forest; middle: crops; low: grass and shrub
export const F_RIVER_ON = 4; // rivers only where this is positive, so they are not everywhere
export const F_CLOUD = 5;
export const F_SHADOW = 6; // the cloud field shifted along the sun's direction
export const FIELD_COUNT = 7;

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
export interface OctaveTable {
  /** [a, b, c, d, ox, oy, amp] per octave: x = a u + b v + ox, y = c u + d v + oy. */
  params: Float64Array;
}

const PARAMS_PER_OCTAVE = 7;

export function buildOctaveTable(
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

export function fieldAt(params: Float64Array, field: number, u: number, v: number): number {
  let sum = 0;
  for (let k = 0; k < OCTAVES.length; k++) {
    if (OCTAVES[k].field === field) sum += octaveAt(params, k, u, v);
  }
  return sum;
}

export interface FieldPlan {
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
export function planFields(
  lattice: RenderLattice,
  params: Float64Array,
  clouds: boolean,
): FieldPlan {
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

export function hasPixelOctaves(plan: FieldPlan, f: number): boolean {
  return plan.pixelStart[f + 1] > plan.pixelStart[f];
}

/** A field at a pixel: its node part (interpolated by the caller) plus per-pixel octaves. */
export function withPixelOctaves(
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
