/**
 * The scene image: a Sentinel-2 scene as Earth Engine serves it, its bands rendered from the
 * synthetic landscape (landscape/) on the request's grid, or on a band's native grid and
 * resampled where the request is finer (image-native.ts).
 */
import { crsFromCode } from "../core/crs";
import type { EmImage } from "./image";
import { finerThanNative, nativeWindow } from "./image-native";
import {
  bandResolution,
  isSpectralBand,
  sceneBandIds,
  sceneBandsMapped,
  sceneBandsValues,
} from "./landscape/bands";
import { productKind } from "./landscape/cover";
import { releaseSceneRaster, type SceneRaster } from "./landscape/raster";
import { renderScene } from "./landscape/render";
import type { BandInfo, Scene } from "./model";
import { LATTICE_STEP, type Raster, type RenderContext } from "./render";

const SCENE_TILE_METRES = 109800;
/** Pixels per strip of visualize's fast path: the strip's land cover (14 B/px) fits in L2/L3. */
const STRIP_PIXELS = 1 << 16;

/** A Sentinel-2 scene as Earth Engine serves it (L2A for *_SR* collections, else L1C). */
export function sceneImage(scene: Scene): EmImage {
  const kind = productKind(scene.collection, scene.timeStart);
  const ids = sceneBandIds(kind.level);
  const crsCode = `EPSG:${scene.epsg}`;
  const { xmin, ymax } = scene.utmBounds;
  const bands: BandInfo[] = ids.map((id) => {
    const resolution = bandResolution(id);
    const byte = id === "SCL" || id === "MSK_CLDPRB";
    const size = Math.round(SCENE_TILE_METRES / resolution);
    return {
      id,
      dataType: byte ? "uint8" : "uint16",
      range: byte ? [0, 255] : [0, 65535],
      crsCode,
      crsTransform: [resolution, 0, xmin, 0, -resolution, ymax],
      dimensions: [size, size],
    };
  });
  const toLonLat = crsFromCode(crsCode).inverse;
  const newBandArray = (index: number, size: number): Uint8Array | Uint16Array =>
    bands[index].dataType === "uint8" ? new Uint8Array(size) : new Uint16Array(size);
  const sceneKey = `scene:${scene.collection}/${scene.index}`;
  const raster = (ctx: RenderContext): SceneRaster =>
    ctx.memo(ctx, sceneKey, () => {
      const rendered = renderScene(scene, ctx, toLonLat);
      ctx.onDispose(() => releaseSceneRaster(rendered));
      return rendered;
    });
  // Where the grid is finer than a band's native pixels, the band is rendered on its native
  // grid and resampled (image-native.ts); 0 stands for "render on the output grid itself".
  const nativeResolution = (ctx: RenderContext, index: number): number => {
    const resolution = bandResolution(ids[index]);
    return finerThanNative(ctx, resolution) ? resolution : 0;
  };
  const native = (ctx: RenderContext, resolution: number) => {
    const { xmin: tx, ymax: ty } = scene.utmBounds;
    const window = ctx.memo(ctx, `native:${scene.epsg}:${tx}:${ty}:${resolution}`, () =>
      nativeWindow(ctx, scene, resolution),
    );
    const rendered = ctx.memo(ctx, `${sceneKey}:native:${resolution}`, () => {
      if (!window.ctx) return undefined;
      const part = renderScene(scene, window.ctx, toLonLat);
      ctx.onDispose(() => releaseSceneRaster(part));
      return part;
    });
    return { window, rendered };
  };
  /** Positions in `indices` grouped by how their bands render (see nativeResolution). */
  const byResolution = (ctx: RenderContext, indices: number[]): Map<number, number[]> => {
    const groups = new Map<number, number[]>();
    indices.forEach((index, k) => {
      const key = nativeResolution(ctx, index);
      groups.set(key, [...(groups.get(key) ?? []), k]);
    });
    return groups;
  };
  const valuesOnGrid = (ctx: RenderContext, indices: number[]): Raster[] => {
    const scene_ = raster(ctx);
    const data = indices.map((index) => newBandArray(index, ctx.width * ctx.height));
    sceneBandsValues(
      scene,
      scene_,
      indices.map((index) => ids[index]),
      data,
    );
    return data.map((values) => ({
      data: values,
      mask: scene_.footprint,
      footprint: scene_.footprint,
    }));
  };
  const valuesNative = (ctx: RenderContext, indices: number[], resolution: number): Raster[] => {
    const { window, rendered } = native(ctx, resolution);
    const size = ctx.width * ctx.height;
    const outs = indices.map((index) => newBandArray(index, size));
    if (rendered && window.ctx) {
      const windowSize = window.ctx.width * window.ctx.height;
      const values = indices.map((index) => newBandArray(index, windowSize));
      sceneBandsValues(
        scene,
        rendered,
        indices.map((index) => ids[index]),
        values,
      );
      for (let k = 0; k < values.length; k++) window.gather(values[k], outs[k]);
    }
    return outs.map((data) => ({ data, mask: window.footprint, footprint: window.footprint }));
  };
  const renderValues = (ctx: RenderContext, indices: number[]): Raster[] => {
    const out: Raster[] = new Array(indices.length);
    for (const [resolution, positions] of byResolution(ctx, indices)) {
      const group = positions.map((k) => indices[k]);
      const rasters =
        resolution === 0 ? valuesOnGrid(ctx, group) : valuesNative(ctx, group, resolution);
      positions.forEach((k, g) => {
        out[k] = rasters[g];
      });
    }
    return out;
  };
  const mappedOnGrid = (ctx: RenderContext, names: string[], luts: Uint8Array[]): Raster[] => {
    const size = ctx.width * ctx.height;
    const outs = names.map(() => new Uint8Array(size));
    const footprint = new Uint8Array(size);
    // Strip by strip, so that the land cover between classifying and mixing stays in the
    // CPU cache instead of making a round trip through memory (59 MB at 2048x2048).
    const stripRows = Math.max(
      LATTICE_STEP,
      Math.floor(STRIP_PIXELS / ctx.width / LATTICE_STEP) * LATTICE_STEP,
    );
    for (let row0 = 0; row0 < ctx.height; row0 += stripRows) {
      const rows = Math.min(stripRows, ctx.height - row0);
      const part = renderScene(scene, ctx.strip(row0, rows), toLonLat);
      footprint.set(part.footprint, row0 * ctx.width);
      sceneBandsMapped(scene, part, names, luts, outs, row0 * ctx.width);
      releaseSceneRaster(part);
    }
    return outs.map((data) => ({ data, mask: footprint, footprint }));
  };
  const mappedNative = (
    ctx: RenderContext,
    names: string[],
    luts: Uint8Array[],
    resolution: number,
  ): Raster[] => {
    const { window, rendered } = native(ctx, resolution);
    const size = ctx.width * ctx.height;
    const outs = luts.map((lut) => new Uint8Array(size).fill(lut[0]));
    if (rendered && window.ctx) {
      const windowSize = window.ctx.width * window.ctx.height;
      const values = names.map(() => new Uint8Array(windowSize));
      sceneBandsMapped(scene, rendered, names, luts, values);
      for (let k = 0; k < values.length; k++) window.gather(values[k], outs[k], luts[k][0]);
    }
    return outs.map((data) => ({ data, mask: window.footprint, footprint: window.footprint }));
  };
  return {
    bands,
    properties: { ...scene.properties },
    footprintGeometry: { type: "Polygon", coordinates: [scene.footprint] },
    renderBand: (ctx, index) => renderValues(ctx, [index])[0],
    renderBands: renderValues,
    renderMapped(ctx, indices, luts) {
      if (!indices.every((index) => isSpectralBand(ids[index]))) return undefined;
      const out: Raster[] = new Array(indices.length);
      for (const [resolution, positions] of byResolution(ctx, indices)) {
        const names = positions.map((k) => ids[indices[k]]);
        const groupLuts = positions.map((k) => luts[k]);
        const rasters =
          resolution === 0
            ? mappedOnGrid(ctx, names, groupLuts)
            : mappedNative(ctx, names, groupLuts, resolution);
        positions.forEach((k, g) => {
          out[k] = rasters[g];
        });
      }
      return out;
    },
  };
}
