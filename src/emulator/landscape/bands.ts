/**
 * Band values of a rendered scene: reflectance mixed from the land cover's endmembers (with
 * haze, clouds and the product's offset), and the classification and QA bands.
 */
import type { Scene } from "../model";
import * as cover from "./cover";
import type { SceneRaster } from "./raster";
import * as spectra from "./spectra";

// tsx compiles these modules to CommonJS, where an imported binding is a getter on the
// exporting module: read in a pixel loop, every use is a call V8 cannot fold. Copied into
// module constants once, they are plain constants again; without this a render measured
// several times slower.
const { productKind, SCL_CIRRUS, SCL_CLOUD_HIGH, SCL_CLOUD_MEDIUM } = cover;
const { BAND_END_A, BAND_END_D, PAIRS, SPECTRA, SPECTRAL_BANDS } = spectra;

/** L2A's bands in Earth Engine's order: reflectances without B10 (cirrus), then L2A's own. */
const L2A_BANDS: readonly string[] = [
  ...SPECTRAL_BANDS.filter((id) => id !== "B10"),
  "AOT",
  "WVP",
  "SCL",
  "MSK_CLDPRB",
  "QA60",
];
/** L1C's bands in Earth Engine's order: every reflectance, then QA60. */
const L1C_BANDS: readonly string[] = [...SPECTRAL_BANDS, "QA60"];

/** Band ids of a Sentinel-2 product in Earth Engine's order. */
export function sceneBandIds(level: "L2A" | "L1C"): string[] {
  return [...(level === "L2A" ? L2A_BANDS : L1C_BANDS)];
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
    if (!isSpectralBand(id)) return false;
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
