/**
 * The emulator's shared vocabulary: the seam between the expression evaluator (server side,
 * collections, metadata) and the pixel side (synthetic scenes, image operations, encoders).
 */

import type { AffineTransform, Geometry, Grid } from "../core/geometry";
import type { SampleType } from "../core/samples";

export type { AffineTransform, Geometry, Grid, SampleType };

/** One acquisition of one collection over one 110 km MGRS tile. */
export interface Scene {
  /** e.g. "COPERNICUS/S2_SR_HARMONIZED" */
  collection: string;
  /** system:index, e.g. "20240105T153619_20240105T154242_T17PMK" */
  index: string;
  /** ms since epoch (system:time_start) */
  timeStart: number;
  /** e.g. "17PMK" */
  mgrsTile: string;
  /** EPSG code of the tile's UTM zone (native CRS of its bands). */
  epsg: number;
  /** Tile bounds in its UTM CRS, metres (109.8 km square). */
  utmBounds: { xmin: number; ymin: number; xmax: number; ymax: number };
  /** Tile footprint in lon/lat (closed ring). */
  footprint: number[][];
  cloudPercent: number;
  /** All Earth Engine properties of the image (system:index, CLOUDY_PIXEL_PERCENTAGE, ...). */
  properties: Record<string, unknown>;
}

/** Band metadata in Earth Engine's getInfo shape is derived from this. */
export interface BandInfo {
  id: string;
  dataType: SampleType;
  /** Earth Engine's PixelType min/max when the type is integer and narrowed (e.g. visualize gives 0..255). */
  range?: [number, number];
  crsCode: string;
  /** [scaleX, shearX, translateX, shearY, scaleY, translateY] */
  crsTransform: number[];
  /** [width, height] for bands with a finite native footprint. */
  dimensions?: [number, number];
}

/** A band rendered onto a Grid: values row-major, mask 0 (masked) or 255 (valid) per pixel. */
export interface RenderedBand {
  id: string;
  dataType: SampleType;
  data: Float64Array | Float32Array | Uint8Array | Uint16Array | Int16Array | Int32Array;
  mask: Uint8Array;
}
