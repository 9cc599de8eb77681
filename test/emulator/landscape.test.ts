/**
 * The landscape generator is deterministic: a place looks the same in every request, every
 * process and every version. The fingerprints below pin the imagery, so a refactoring of
 * landscape/ (noise, fields, cover, spectra, bands, render) that changes one pixel fails.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { sceneImage } from "../../src/emulator/image-scene";
import { visualize } from "../../src/emulator/image-visualize";
import { productKind } from "../../src/emulator/landscape/cover";
import { hash2, mercatorU, mercatorV, valueNoise } from "../../src/emulator/landscape/noise";
import type { Grid } from "../../src/emulator/model";
import { renderImage } from "../../src/emulator/render";
import { sceneOn, tileById } from "../../src/emulator/scenes";

function fingerprint(
  collection: string,
  day: number,
  grid: (xmin: number, ymax: number, epsg: number) => Grid,
): string {
  const tile = tileById("17PMK");
  assert.ok(tile);
  const scene = sceneOn(collection, tile, day);
  const raw = sceneImage(scene);
  const vis = visualize(raw, { bands: ["B8", "B4", "B3"], min: 0, max: 5000 });
  const hash = createHash("sha256");
  for (const image of [raw, vis]) {
    for (const band of renderImage(
      image,
      grid(scene.utmBounds.xmin, scene.utmBounds.ymax, scene.epsg),
    )) {
      hash.update(`${band.id}:${band.dataType}`);
      hash.update(new Uint8Array(band.data.buffer, band.data.byteOffset, band.data.byteLength));
      hash.update(band.mask);
    }
  }
  return hash.digest("hex").slice(0, 16);
}

const utm10m = (xmin: number, ymax: number, epsg: number): Grid => ({
  crsCode: `EPSG:${epsg}`,
  affine: {
    scaleX: 10,
    shearX: 0,
    translateX: xmin + 5370,
    shearY: 0,
    scaleY: -10,
    translateY: ymax - 7110,
  },
  width: 97,
  height: 83,
});

/** Across the tile's western edge at 60 m: a partial footprint. */
const utmEdge60m = (xmin: number, ymax: number, epsg: number): Grid => ({
  crsCode: `EPSG:${epsg}`,
  affine: {
    scaleX: 60,
    shearX: 0,
    translateX: xmin - 3000,
    shearY: 0,
    scaleY: -60,
    translateY: ymax + 1000,
  },
  width: 120,
  height: 100,
});

const lonLat = (): Grid => ({
  crsCode: "EPSG:4326",
  affine: {
    scaleX: 0.0002,
    shearX: 0,
    translateX: -82.6,
    shearY: 0,
    scaleY: -0.0002,
    translateY: 8.6,
  },
  width: 90,
  height: 70,
});

test("imagery is pinned: L2A and L1C scenes, clear and cloudy, in UTM and lon/lat", () => {
  const found = {
    l2aClear10m: fingerprint("COPERNICUS/S2_SR_HARMONIZED", 3, utm10m),
    l2aEdge60m: fingerprint("COPERNICUS/S2_SR_HARMONIZED", 40, utmEdge60m),
    l1cLonLat: fingerprint("COPERNICUS/S2_HARMONIZED", 101, lonLat),
    deprecatedL1c10m: fingerprint("COPERNICUS/S2", 700, utm10m),
  };
  assert.deepEqual(found, PINNED);
});

test("noise is a fixed function of position", () => {
  assert.equal(valueNoise(3, 4), valueNoise(3, 4));
  // At integer positions value noise is its table entry; between, it stays within [-1, 1].
  for (let i = 0; i < 200; i++) {
    const v = valueNoise(i * 0.37, i * 0.91);
    assert.ok(v >= -1 && v <= 1, `valueNoise out of range: ${v}`);
  }
  const h = hash2(12, 34, 5);
  assert.ok(h >= 0 && h < 1);
  assert.notEqual(hash2(12, 34, 5), hash2(12, 35, 5));
  assert.equal(mercatorU(0), 0);
  assert.ok(Math.abs(mercatorV(0)) < 1e-6, "the equator is v = 0");
  assert.ok(Number.isFinite(mercatorV(90)), "poles are clamped, not infinite");
});

test("product kinds: the SR collections are L2A; baseline 04.00 offsets only non-harmonized ones", () => {
  const after = Date.UTC(2023, 0, 1);
  const before = Date.UTC(2021, 0, 1);
  assert.deepEqual(productKind("COPERNICUS/S2_SR_HARMONIZED", after), { level: "L2A", offset: 0 });
  assert.deepEqual(productKind("COPERNICUS/S2_SR", after), { level: "L2A", offset: 1000 });
  assert.deepEqual(productKind("COPERNICUS/S2", before), { level: "L1C", offset: 0 });
  assert.deepEqual(productKind("COPERNICUS/S2_HARMONIZED", after), { level: "L1C", offset: 0 });
});

/**
 * Computed on the code before landscape.ts was split (commit 852d900). The two 10 m
 * fingerprints changed once, when bands began to render at their native resolution and be
 * resampled on finer grids (image-native.ts): their 20 m and 60 m bands (B1, B5-B7, B8A,
 * B9-B12, QA60) now show 20/60 m pixels; every 10 m band and the visualized B8/B4/B3 kept
 * their bytes. The 60 m grid has no band finer than native and did not change; nor did the
 * lon/lat one, whose pixels are all masked (it pins the masking only).
 */
const PINNED = {
  l2aClear10m: "9dcfcca5c0a328ca",
  l2aEdge60m: "17fbc28f5936211c",
  l1cLonLat: "7ed9466cc267dc6b",
  deprecatedL1c10m: "b857be5d1860903c",
};
