/**
 * Bands on grids finer than their native pixels are rendered natively and resampled by
 * nearest neighbour, as Earth Engine does by default (image-native.ts): a 2 m request of a
 * 10 m band shows the 10 m pixels, each as 5 x 5 output pixels.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crsFromEpsg } from "../../src/core/crs";
import { type EmImage, select } from "../../src/emulator/image";
import { sceneImage } from "../../src/emulator/image-scene";
import { visualize } from "../../src/emulator/image-visualize";
import type { Grid, RenderedBand } from "../../src/emulator/model";
import { renderImage } from "../../src/emulator/render";
import { davidScene, northUpGrid } from "./pixels-fixtures";

const scene = davidScene({ cloudPercent: 30 });
const { xmin, ymax } = scene.utmBounds;

/**
 * A grid on the scene's native 10 m grid, its corner `col` and `row` native pixels from the
 * tile's corner. Multiples of 8 put the 10 m render's lattice on the native one's.
 */
function nativeAligned(col: number, row: number, scale: number, width: number, height: number) {
  return northUpGrid("EPSG:32617", xmin + col * 10, ymax - row * 10, scale, width, height);
}

/** Asserts fine[r][c] == coarse[r / factor][c / factor] for values and masks, every pixel. */
function assertUpsampled(
  fine: RenderedBand[],
  coarse: RenderedBand[],
  fineGrid: Grid,
  factor: number,
): void {
  assert.equal(fine.length, coarse.length);
  const coarseWidth = fineGrid.width / factor;
  for (let b = 0; b < fine.length; b++) {
    assert.equal(fine[b].id, coarse[b].id);
    assert.equal(fine[b].dataType, coarse[b].dataType);
    let mismatches = 0;
    let valid = 0;
    for (let r = 0; r < fineGrid.height; r++) {
      for (let c = 0; c < fineGrid.width; c++) {
        const p = r * fineGrid.width + c;
        const q = Math.floor(r / factor) * coarseWidth + Math.floor(c / factor);
        if (fine[b].data[p] !== coarse[b].data[q] || fine[b].mask[p] !== coarse[b].mask[q]) {
          mismatches++;
        }
        if (fine[b].mask[p] !== 0) valid++;
      }
    }
    assert.equal(mismatches, 0, `${fine[b].id}: pixels not equal to their native pixel`);
    assert.ok(valid > 0, `${fine[b].id}: some pixels are valid`);
  }
}

describe("rendering finer than native resolution", () => {
  const raw = select(sceneImage(scene), ["B8", "B4", "B3", "B2"]);
  const vis = visualize(sceneImage(scene), {
    bands: ["B8", "B4", "B3"],
    min: 0,
    max: 5000,
    gamma: [1.35, 1.35, 1.35],
  });

  for (const [name, image] of [
    ["raw 10 m bands", raw],
    ["visualized 10 m bands", vis],
  ] as [string, EmImage][]) {
    it(`${name} at 2 m equal the 10 m render upsampled by nearest neighbour`, () => {
      const tenMetres = nativeAligned(8 * 437, 8 * 825, 10, 120, 96);
      const twoMetres = nativeAligned(8 * 437, 8 * 825, 2, 600, 480);
      assertUpsampled(renderImage(image, twoMetres), renderImage(image, tenMetres), twoMetres, 5);
    });
  }

  it("keeps the tile's edge on the native pixels' edge (partial footprint)", () => {
    const tenMetres = nativeAligned(-40, 8 * 500, 10, 96, 64);
    const twoMetres = nativeAligned(-40, 8 * 500, 2, 480, 320);
    const fine = renderImage(raw, twoMetres);
    assertUpsampled(fine, renderImage(raw, tenMetres), twoMetres, 5);
    // West of the tile's edge (the first 40 native pixels = 200 output pixels) is masked.
    const mask = fine[0].mask;
    assert.equal(mask[100], 0);
    assert.equal(mask[199], 0);
    assert.equal(mask[200], 255);
  });

  it("a 20 m band at 10 m equals its 20 m render upsampled", () => {
    const b5 = select(sceneImage(scene), ["B5", "B11", "SCL"]);
    // Corner 16 native 20 m pixels = 32 native 10 m pixels in: aligned for both.
    const twenty = northUpGrid("EPSG:32617", xmin + 8 * 2 * 300, ymax - 8 * 2 * 400, 20, 64, 48);
    const ten = northUpGrid("EPSG:32617", xmin + 8 * 2 * 300, ymax - 8 * 2 * 400, 10, 128, 96);
    assertUpsampled(renderImage(b5, ten), renderImage(b5, twenty), ten, 2);
  });

  it("in another CRS, each output pixel takes the native pixel its centre falls in", () => {
    // ~2 m pixels in lon/lat over a 10 m UTM window that covers them.
    const degrees = 2 / 111319.49079327357;
    const fineGrid = northUpGrid("EPSG:4326", -82.5, 8.45, degrees, 300, 250);
    const fine = renderImage(raw, fineGrid);
    const utm = crsFromEpsg(32617);
    const [x0, y0] = utm.forward(-82.5, 8.45);
    const col0 = Math.floor((x0 - xmin) / 80) * 8 - 8;
    const row0 = Math.floor((ymax - y0) / 80) * 8 - 8;
    const coarseGrid = nativeAligned(col0, row0, 10, 96, 96);
    const coarse = renderImage(raw, coarseGrid);
    let mismatches = 0;
    for (let r = 0; r < fineGrid.height; r++) {
      for (let c = 0; c < fineGrid.width; c++) {
        const [x, y] = utm.forward(-82.5 + (c + 0.5) * degrees, 8.45 - (r + 0.5) * degrees);
        const col = Math.floor((x - xmin) / 10) - col0;
        const row = Math.floor((ymax - y) / 10) - row0;
        assert.ok(col >= 0 && col < 96 && row >= 0 && row < 96, "the 10 m window covers");
        if (fine[1].data[r * fineGrid.width + c] !== coarse[1].data[row * 96 + col]) mismatches++;
      }
    }
    // Centres are located exactly every 8 pixels and linearly between (as the footprint
    // is): a centre within millimetres of a native pixel's edge may land on its neighbour.
    assert.ok(mismatches <= fineGrid.width * fineGrid.height * 0.002, `${mismatches} mismatches`);
  });

  it("renders a 2 m grid exactly like its 512x512 tiles", () => {
    const whole = northUpGrid("EPSG:32617", 335003, 934001, 2, 1024, 1024);
    const image = select(sceneImage(scene), ["B4", "B5", "QA60"]);
    const full = renderImage(image, whole);
    for (const [col, row] of [
      [512, 0],
      [0, 512],
      [512, 512],
    ]) {
      const tile = renderImage(
        image,
        northUpGrid("EPSG:32617", 335003 + col * 2, 934001 - row * 2, 2, 512, 512),
      );
      for (let b = 0; b < full.length; b++) {
        let mismatches = 0;
        for (let r = 0; r < 512; r++) {
          for (let c = 0; c < 512; c++) {
            const p = (row + r) * 1024 + col + c;
            if (full[b].data[p] !== tile[b].data[r * 512 + c]) mismatches++;
          }
        }
        assert.equal(mismatches, 0, `${full[b].id} tile ${col},${row}`);
      }
    }
  });
});
