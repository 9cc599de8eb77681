/**
 * Image.clipToBoundsAndScale without a crs keeps the image's own projection, as Earth
 * Engine does (geedim's tests against the live service expect it): a Sentinel-2 band
 * stays in its UTM zone at its native scale.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reproject, select } from "../../src/emulator/image";
import { constantImage } from "../../src/emulator/image-constant";
import { sceneImage } from "../../src/emulator/image-scene";
import { clipToBoundsAndScale } from "../../src/emulator/image-thumbnail";
import type { Geometry } from "../../src/emulator/model";
import { davidScene } from "./pixels-fixtures";

const region: Geometry = {
  type: "Polygon",
  coordinates: [
    [
      [-82.45, 8.42],
      [-82.44, 8.42],
      [-82.44, 8.43],
      [-82.45, 8.43],
      [-82.45, 8.42],
    ],
  ],
};

describe("Image.clipToBoundsAndScale without a crs", () => {
  it("keeps a Sentinel-2 band's UTM zone and native scale", () => {
    for (const [id, scale] of [
      ["B4", 10],
      ["B5", 20],
      ["B1", 60],
    ] as const) {
      const out = clipToBoundsAndScale(select(sceneImage(davidScene()), [id]), {
        geometry: region,
      });
      const [band] = out.bands;
      assert.equal(band.crsCode, "EPSG:32617", id);
      assert.ok(Math.abs(band.crsTransform[0] - scale) < 1e-9, `${id}: ${band.crsTransform[0]}`);
      assert.ok(Math.abs(band.crsTransform[4] + scale) < 1e-9, `${id}: ${band.crsTransform[4]}`);
      // On the band's own pixel grid (the tile's corner is at 300000, 1000000).
      const offX = (band.crsTransform[2] - 300000) / scale;
      const offY = (1000000 - band.crsTransform[5]) / scale;
      assert.ok(Math.abs(offX - Math.round(offX)) < 1e-6, `${id} x on the grid: ${offX}`);
      assert.ok(Math.abs(offY - Math.round(offY)) < 1e-6, `${id} y on the grid: ${offY}`);
      // ~1.1 km across: about 110 px at 10 m.
      assert.ok(band.dimensions && Math.abs(band.dimensions[0] - 1100 / scale) < 3, id);
    }
  });

  it("sizes by width/maxDimension in the image's own projection", () => {
    const out = clipToBoundsAndScale(select(sceneImage(davidScene()), ["B4"]), {
      geometry: region,
      maxDimension: 64,
    });
    assert.equal(out.bands[0].crsCode, "EPSG:32617");
    assert.equal(Math.max(...(out.bands[0].dimensions ?? [0])), 64);
  });

  it("uses a default projection when one was set, and EPSG:4326 for constants", () => {
    const set = clipToBoundsAndScale(
      reproject(select(sceneImage(davidScene()), ["B4"]), "EPSG:32618", null, 30),
      { geometry: region, maxDimension: 32 },
    );
    assert.equal(set.bands[0].crsCode, "EPSG:32618");
    const constant = clipToBoundsAndScale(constantImage(1), { geometry: region });
    assert.equal(constant.bands[0].crsCode, "EPSG:4326");
  });
});
