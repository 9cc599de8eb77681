/**
 * The noise everything in a landscape is built from: smooth value noise, integer hashes and
 * a per-pixel grain, all fixed forever so that imagery never changes. Positions are
 * Web-Mercator metres (u, v): Mercator is conformal, so features stay round at any latitude,
 * and it is one global plane, so a place looks the same in every scene, tile and UTM zone.
 */
import { seededRandom } from "../random";

const EARTH_RADIUS = 6378137;
export const DEG = Math.PI / 180;

export function mercatorU(lon: number): number {
  return EARTH_RADIUS * lon * DEG;
}

export function mercatorV(lat: number): number {
  // Clamped so that poles stay finite; nothing is rendered there anyway.
  const phi = Math.max(-85, Math.min(85, lat)) * DEG;
  return EARTH_RADIUS * Math.log(Math.tan(Math.PI / 4 + phi / 2));
}

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
export function valueNoise(x: number, y: number): number {
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
export function hash2(ix: number, iy: number, seed: number): number {
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
export const GRAIN = (() => {
  const table = new Int8Array(1 << 16);
  for (let i = 0; i < table.length; i++)
    table[i] = Math.floor(hash2(i & 0xff, i >>> 8, 0x51ed) * 256) - 128;
  return table;
})();
export const GRAIN_SCALE = 1 / 256;

/**
 * Table index of the 10 m cell (cellU, cellV). The multiply scatters rows so that the
 * pattern repeats only every 65536 cells (655 km) along a row, not every 256.
 */
export function grainIndex(cellU: number, cellV: number): number {
  return (Math.imul(cellV, 0x9e3779b1) ^ cellU) & 0xffff;
}

export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}
