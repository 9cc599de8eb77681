/**
 * Cloud Score+ (GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED): one image per Sentinel-2
 * acquisition, same system:index, bands `cs` and `cs_cdf` from 0 (cloudy) to 1 (clear).
 * Google's guidance masks pixels with cs_cdf below 0.6.
 *
 * The emulator's scores are synthetic but consistent with the clouds it draws: they derive
 * from the acquisition's scene classification (SCL) and cloud probability, so every pixel
 * the renderer classifies as cloud, cirrus or cloud shadow (cover.isCloudOrShadow) scores
 * below 0.6 and every other pixel scores above it.
 */
import type { EmImage } from "./image";
import { sceneImage } from "./image-scene";
import * as cover from "./landscape/cover";
import type { BandInfo, Scene } from "./model";
import type { Raster } from "./render";

export const CLOUD_SCORE_PLUS = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED";
/** Google's recommended cs_cdf threshold: below it a pixel is treated as cloudy. */
export const CLEAR_THRESHOLD = 0.6;

const { SCL_CIRRUS, SCL_CLOUD_HIGH, SCL_CLOUD_MEDIUM, SCL_SHADOW } = cover;
/** The L2A product of the same acquisition: its classification drives the scores. */
const CLASSIFIED = "COPERNICUS/S2_SR_HARMONIZED";
const SCORE_BANDS = ["cs", "cs_cdf"] as const;
/** Cloud Score+ is produced at Sentinel-2's finest resolution. */
const SCORE_RESOLUTION = 10;

/**
 * cs_cdf of one pixel from its SCL class and cloud probability (0..100): opaque cloud
 * 0..0.3, cirrus 0.3..0.55, shadow 0.45, clear 0.65..1 (clear pixels have a probability
 * below 15, the renderer's cirrus onset).
 */
export function cloudScoreCdf(scl: number, probability: number): number {
  if (scl === SCL_CLOUD_HIGH || scl === SCL_CLOUD_MEDIUM) {
    return 0.3 * (1 - Math.min(1, Math.max(0, (probability - 50) / 50)));
  }
  if (scl === SCL_CIRRUS) return 0.55 - 0.25 * Math.min(1, Math.max(0, (probability - 15) / 35));
  if (scl === SCL_SHADOW) return 0.45;
  return Math.max(0.65, 1 - (0.35 * probability) / 15);
}

/** The raw score is less calibrated than its CDF: a steeper curve of the same order. */
function rawScore(cdf: number): number {
  return cdf ** 1.2;
}

export function isCloudScoreCollection(id: string): boolean {
  return id === CLOUD_SCORE_PLUS;
}

/** The Cloud Score+ image of `scene` (a scene of the CLOUD_SCORE_PLUS collection). */
export function cloudScoreImage(scene: Scene): EmImage {
  const classified = sceneImage({ ...scene, collection: CLASSIFIED });
  const ids = classified.bands.map((band) => band.id);
  const sclIndex = ids.indexOf("SCL");
  const probIndex = ids.indexOf("MSK_CLDPRB");
  const { xmin, ymax } = scene.utmBounds;
  const size = Math.round((scene.utmBounds.xmax - xmin) / SCORE_RESOLUTION);
  const bands: BandInfo[] = SCORE_BANDS.map((id) => ({
    id,
    dataType: "float32",
    crsCode: `EPSG:${scene.epsg}`,
    crsTransform: [SCORE_RESOLUTION, 0, xmin, 0, -SCORE_RESOLUTION, ymax],
    dimensions: [size, size],
  }));
  const scores = (ctx: Parameters<EmImage["renderBand"]>[0]): { cs: Raster; cdf: Raster } =>
    ctx.memo(classified, "cloud-score", () => {
      const [scl, prob] = ctx.bands(classified, [sclIndex, probIndex]);
      const count = scl.data.length;
      const cdf = new Float64Array(count);
      const cs = new Float64Array(count);
      for (let p = 0; p < count; p++) {
        if (scl.mask[p] === 0) continue;
        cdf[p] = cloudScoreCdf(scl.data[p], prob.data[p]);
        cs[p] = rawScore(cdf[p]);
      }
      return {
        cs: { data: cs, mask: scl.mask, footprint: scl.footprint },
        cdf: { data: cdf, mask: scl.mask, footprint: scl.footprint },
      };
    });
  return {
    bands,
    properties: {
      "system:index": scene.index,
      "system:time_start": scene.timeStart,
      "system:time_end": scene.timeStart,
      "system:footprint": scene.properties["system:footprint"],
    },
    footprintGeometry: classified.footprintGeometry,
    renderBand(ctx, index) {
      const both = scores(ctx);
      return index === 0 ? both.cs : both.cdf;
    },
  };
}

/** The image Earth Engine serves for a scene of any of the emulator's collections. */
export function imageOfScene(scene: Scene): EmImage {
  return isCloudScoreCollection(scene.collection) ? cloudScoreImage(scene) : sceneImage(scene);
}
