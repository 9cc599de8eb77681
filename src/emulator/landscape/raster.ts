/**
 * What a scene render produces (a SceneRaster: land cover and clouds per pixel) on what grid
 * (a RenderLattice), and the scratch memory its per-pixel arrays are reused from.
 */

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

/**
 * Values at pixel row `r`'s lattice points: `nodes` (nx a node row, from `nodeOffset`)
 * interpolated between the node rows above and below it, into `row` from `rowOffset`. A
 * pixel's value is then linear between row[i] and row[i + 1], i = column >> shift.
 */
export function interpolateNodeRow(
  lattice: Pick<RenderLattice, "nx" | "shift" | "step">,
  nodes: Float64Array,
  r: number,
  row: Float64Array,
  nodeOffset = 0,
  rowOffset = 0,
): void {
  const { nx, shift, step } = lattice;
  const ty = (r & (step - 1)) * (1 / step);
  const o0 = nodeOffset + (r >> shift) * nx;
  const o1 = o0 + nx;
  for (let i = 0; i < nx; i++) {
    row[rowOffset + i] = nodes[o0 + i] * (1 - ty) + nodes[o1 + i] * ty;
  }
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

/** A SceneRaster's per-pixel arrays other than the footprint (which becomes band masks). */
interface Scratch
  extends Pick<SceneRaster, "pair" | "weight" | "gain" | "cloud" | "scl" | "cloudProb"> {
  pixels: number;
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
export function takeScratch(size: number): Scratch {
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
