/**
 * A scene's look: which land cover a field value means (class thresholds, rivers), and
 * what one acquisition adds (haze, greenness, its clouds calibrated to its cloud cover).
 */
import type { Scene } from "../model";
import type { FieldPlan, OctaveTable } from "./fields";
import * as fields from "./fields";
import * as noise from "./noise";

// tsx compiles these modules to CommonJS, where an imported binding is a getter on the
// exporting module: read in a pixel loop, every use is a call V8 cannot fold. Copied into
// module constants once, they are plain constants again; without this a render measured
// several times slower.
const { buildOctaveTable, F_CLOUD, F_RIVER_ON, fieldAt, withPixelOctaves } = fields;
const { hash2, hashString, mercatorU, mercatorV } = noise;

// Scene classification map codes (Sentinel-2 L2A SCL).
export const SCL_SHADOW = 3;
export const SCL_VEGETATION = 4;
export const SCL_NOT_VEGETATED = 5;
export const SCL_WATER = 6;
export const SCL_CLOUD_MEDIUM = 8;
export const SCL_CLOUD_HIGH = 9;
export const SCL_CIRRUS = 10;

/**
 * The renderer's per-pixel cloud truth: SCL classes it draws as cloud shadow (3), cloud
 * (8, 9) or cirrus (10). The SCL band, QA60 and the Cloud Score+ collection all derive
 * from this one classification, so a pixel drawn as cloud is classified as cloud.
 */
export function isCloudOrShadow(scl: number): boolean {
  return (
    scl === SCL_SHADOW || scl === SCL_CLOUD_MEDIUM || scl === SCL_CLOUD_HIGH || scl === SCL_CIRRUS
  );
}

// Class thresholds in field units (the fields are sums of octaves in [-1, 1]).
export const WATER_LEVEL = -0.62;
export const BEACH_WIDTH = 0.025;
export const ROCK_LEVEL = 0.95;
export const URBAN_LEVEL = 0.78;
export const FOREST_LEVEL = 0.15;
export const GRASS_LEVEL = -0.55;
const RIVER_HALF_WIDTH = 0.006;
/** Cloud field units over which opacity ramps from a thin edge to an opaque core. */
export const CLOUD_RAMP = 0.14;
export const CLOUD_FRINGE = 0.07;

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

export function sceneLook(
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

/** Rivers follow the river field's zero line, only where the river-on field is positive. */
export function isRiver(
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
