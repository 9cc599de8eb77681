import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clip, paint, reproject, select, unmask } from "../../src/emulator/image";
import { constantImage } from "../../src/emulator/image-constant";
import { sceneImage } from "../../src/emulator/image-scene";
import { clipToBoundsAndScale, defaultThumbnailGrid } from "../../src/emulator/image-thumbnail";
import { visualize } from "../../src/emulator/image-visualize";
import type { Geometry, Grid, RenderedBand } from "../../src/emulator/model";
import { renderImage } from "../../src/emulator/render";
import { davidScene, northUpGrid } from "./pixels-fixtures";

const FALSE_COLOUR = { bands: ["B8", "B4", "B3"], min: 0, max: 5000, gamma: [1.35, 1.35, 1.35] };

function band(bands: RenderedBand[], id: string): RenderedBand {
  const found = bands.find((b) => b.id === id);
  assert.ok(found, `band ${id} rendered`);
  return found;
}

/** The sub-grid of `grid` starting `col`, `row` pixels in, as the downloader cuts tiles. */
function subGrid(grid: Grid, col: number, row: number, width: number, height: number): Grid {
  const a = grid.affine;
  return {
    crsCode: grid.crsCode,
    affine: {
      ...a,
      translateX: a.translateX + col * a.scaleX + row * a.shearX,
      translateY: a.translateY + col * a.shearY + row * a.scaleY,
    },
    width,
    height,
  };
}

describe("synthetic Sentinel-2 scenes", () => {
  const scene = davidScene({ cloudPercent: 30 });
  const grid = northUpGrid("EPSG:32617", 335000, 934000, 10, 256, 256);

  it("renders the same bytes every time", () => {
    const a = renderImage(sceneImage(scene), grid);
    const b = renderImage(sceneImage(scene), grid);
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) {
      assert.deepEqual(Buffer.from(a[i].data.buffer), Buffer.from(b[i].data.buffer), a[i].id);
      assert.deepEqual(a[i].mask, b[i].mask);
    }
  });

  it("differs between scenes and bands", () => {
    const other = davidScene({ cloudPercent: 30, index: "20240110T153619_20240110T154242_T17PMK" });
    const a = band(renderImage(sceneImage(scene), grid), "B4");
    const b = band(renderImage(sceneImage(other), grid), "B4");
    assert.notDeepEqual(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer));
  });

  for (const crsCode of ["EPSG:32617", "EPSG:4326"]) {
    it(`renders a 1024x1024 ${crsCode} grid exactly like its four 512x512 tiles`, () => {
      const whole =
        crsCode === "EPSG:4326"
          ? northUpGrid(crsCode, -82.48, 8.44, 0.0000898315, 1024, 1024)
          : northUpGrid(crsCode, 335000, 934000, 10, 1024, 1024);
      const raw = select(sceneImage(scene), ["B8", "B4", "SCL", "QA60"]);
      const vis = visualize(sceneImage(scene), FALSE_COLOUR);
      for (const image of [raw, vis]) {
        const full = renderImage(image, whole);
        for (const [col, row] of [
          [0, 0],
          [512, 0],
          [0, 512],
          [512, 512],
        ]) {
          const tile = renderImage(image, subGrid(whole, col, row, 512, 512));
          for (let b = 0; b < full.length; b++) {
            let mismatches = 0;
            for (let r = 0; r < 512; r++) {
              for (let c = 0; c < 512; c++) {
                const p = (row + r) * 1024 + col + c;
                const q = r * 512 + c;
                if (full[b].data[p] !== tile[b].data[q] || full[b].mask[p] !== tile[b].mask[q])
                  mismatches++;
              }
            }
            assert.equal(mismatches, 0, `${full[b].id} tile ${col},${row}`);
          }
        }
      }
    });
  }

  it("gives plausible reflectances per land cover (SCL class)", () => {
    const clear = davidScene({ cloudPercent: 0 });
    const wide = northUpGrid("EPSG:32617", 310000, 990000, 60, 1024, 1024);
    const bands = renderImage(sceneImage(clear), wide);
    const scl = band(bands, "SCL");
    const b4 = band(bands, "B4");
    const b8 = band(bands, "B8");
    const counts = new Map<number, number>();
    for (let p = 0; p < scl.data.length; p++) {
      const cls = scl.data[p];
      counts.set(cls, (counts.get(cls) ?? 0) + 1);
      if (cls === 6) assert.ok(b8.data[p] < 300, `water B8 ${b8.data[p]}`);
      if (cls === 4) {
        assert.ok(b8.data[p] > 1500 && b8.data[p] < 4500, `vegetation B8 ${b8.data[p]}`);
        assert.ok(
          b4.data[p] < 1200 && b8.data[p] > 1.5 * b4.data[p],
          `vegetation B4 ${b4.data[p]}`,
        );
      }
      if (cls === 5)
        assert.ok(b4.data[p] > 500 && b4.data[p] < 3500, `bare/urban B4 ${b4.data[p]}`);
    }
    for (const cls of [4, 5, 6]) assert.ok((counts.get(cls) ?? 0) > 1000, `class ${cls} present`);
    assert.equal(counts.get(8) ?? 0, 0, "no clouds at cloudPercent 0");
  });

  for (const cloudPercent of [0, 20, 80]) {
    it(`covers ${cloudPercent}% of the tile with clouds`, () => {
      const cloudy = davidScene({ cloudPercent, index: `20230301T153619_20230301T154242_T17PMK` });
      const tile = northUpGrid("EPSG:32617", 300000, 1000000, 200, 549, 549);
      const qa = band(renderImage(sceneImage(cloudy), tile), "QA60");
      let cloudyPixels = 0;
      let valid = 0;
      for (let p = 0; p < qa.data.length; p++) {
        if (qa.mask[p] === 0) continue;
        valid++;
        if (qa.data[p] & (1 << 10)) cloudyPixels++;
      }
      assert.ok(valid > 0.99 * 549 * 549);
      const percent = (100 * cloudyPixels) / valid;
      assert.ok(
        Math.abs(percent - cloudPercent) < 3,
        `cloud cover ${percent.toFixed(1)}% for ${cloudPercent}%`,
      );
    });
  }

  it("makes clouds bright in the visible bands", () => {
    const overcast = davidScene({ cloudPercent: 100 });
    const b2 = band(renderImage(sceneImage(overcast), grid), "B2");
    for (let p = 0; p < b2.data.length; p += 97) assert.ok(b2.data[p] >= 3000, `B2 ${b2.data[p]}`);
  });

  it("masks everything outside the tile's UTM bounds", () => {
    // Straddles the tile's west edge at x = 300000.
    const edge = northUpGrid("EPSG:32617", 299000, 950000, 10, 200, 10);
    const b4 = band(renderImage(sceneImage(scene), edge), "B4");
    for (let c = 0; c < 200; c++) assert.equal(b4.mask[c], c < 100 ? 0 : 255, `column ${c}`);
  });

  it("reports Sentinel-2 band metadata", () => {
    const bands = sceneImage(scene).bands;
    const b4 = bands.find((b) => b.id === "B4");
    const b11 = bands.find((b) => b.id === "B11");
    const qa = bands.find((b) => b.id === "QA60");
    const scl = bands.find((b) => b.id === "SCL");
    assert.deepEqual(b4?.crsTransform, [10, 0, 300000, 0, -10, 1000000]);
    assert.deepEqual(b4?.dimensions, [10980, 10980]);
    assert.deepEqual(b11?.dimensions, [5490, 5490]);
    assert.deepEqual(qa?.crsTransform, [60, 0, 300000, 0, -60, 1000000]);
    assert.equal(scl?.dataType, "uint8");
    assert.equal(b4?.crsCode, "EPSG:32617");
    const l1c = sceneImage({ ...scene, collection: "COPERNICUS/S2_HARMONIZED" }).bands.map(
      (b) => b.id,
    );
    assert.ok(l1c.includes("B10") && !l1c.includes("SCL"));
  });
});

describe("image operations", () => {
  const grid = northUpGrid("EPSG:4326", 0, 10, 0.1, 100, 100);
  const square: Geometry = {
    type: "Polygon",
    coordinates: [
      [
        [2, 2],
        [6, 2],
        [6, 8],
        [2, 8],
        [2, 2],
      ],
    ],
  };

  it("clip masks pixels outside the polygon", () => {
    const [b] = renderImage(clip(constantImage(7), square), grid);
    // Columns 20..59 (lon 2..6), rows 20..79 (lat 8..2).
    for (let r = 0; r < 100; r++) {
      for (let c = 0; c < 100; c++) {
        const inside = c >= 20 && c < 60 && r >= 20 && r < 80;
        assert.equal(b.mask[r * 100 + c], inside ? 255 : 0, `pixel ${c},${r}`);
      }
    }
    assert.equal(b.data[50 * 100 + 30], 7);
  });

  it("clip follows polygon edges in a UTM grid (densified)", () => {
    const roi: Geometry = {
      type: "Polygon",
      coordinates: [
        [
          [-82.48, 8.35],
          [-82.39, 8.35],
          [-82.39, 8.44],
          [-82.48, 8.44],
          [-82.48, 8.35],
        ],
      ],
    };
    const utm = northUpGrid("EPSG:32617", 335000, 935000, 100, 120, 120);
    const [b] = renderImage(clip(constantImage(1), roi), utm);
    let inside = 0;
    for (const m of b.mask) if (m) inside++;
    // 0.09 x 0.09 degrees at 8.4 N: ~9.9 km x 9.95 km, ~9850 pixels of 1 ha.
    assert.ok(Math.abs(inside - 9850) < 300, `${inside} pixels inside`);
  });

  for (const width of [1, 2, 3]) {
    it(`paint draws a ${width}-pixel outline centred on the edge`, () => {
      const [b] = renderImage(paint(constantImage(1), [square], 9, width), grid);
      // Along row 50 the west edge is at x = 20 (pixel boundary).
      const row = Array.from(b.data.slice(50 * 100, 51 * 100));
      const painted = row.flatMap((v, c) => (v === 9 ? [c] : []));
      const west = painted.filter((c) => c < 40);
      assert.equal(west.length, width, `painted columns ${west}`);
      assert.ok(west.includes(width === 1 ? 19 : 20) || west.includes(19));
      assert.equal(row[30], 1, "interior unpainted");
    });
  }

  it("paint fills without a width, unmasks painted pixels and keeps the rest", () => {
    const masked = clip(constantImage(5), {
      type: "Polygon",
      coordinates: [
        [
          [0, 0],
          [4, 0],
          [4, 10],
          [0, 10],
          [0, 0],
        ],
      ],
    });
    const [b] = renderImage(paint(masked, [square], 3), grid);
    assert.equal(b.data[50 * 100 + 50], 3);
    assert.equal(b.mask[50 * 100 + 50], 255, "painted pixel outside the clip is unmasked");
    assert.equal(b.mask[50 * 100 + 80], 0, "unpainted masked pixel stays masked");
    assert.equal(b.data[50 * 100 + 10], 5);
  });

  it("paint with a colour string that is no property paints 0 in every band", () => {
    const rgb = visualize(constantImage([100, 200, 300]), { min: 0, max: 300 });
    const bands = renderImage(paint(rgb, [square], "0000ffff", 2), grid);
    for (const b of bands) {
      assert.equal(b.data[50 * 100 + 20], 0);
      assert.equal(b.dataType, "uint8");
    }
    assert.equal(bands[2].data[50 * 100 + 30], 255);
  });

  it("unmask fills masked pixels and widens the type", () => {
    const scene = davidScene();
    const edge = northUpGrid("EPSG:32617", 299000, 950000, 10, 200, 10);
    const image = unmask(select(sceneImage(scene), ["B4"]), -1);
    assert.equal(image.bands[0].dataType, "int32");
    const [b] = renderImage(image, edge);
    // Outside the tile is outside the footprint: stays masked with sameFootprint.
    assert.equal(b.mask[0], 0);
    const clipped = unmask(clip(constantImage(5), square), 2, false);
    const [c] = renderImage(clipped, grid);
    assert.equal(c.data[0], 2);
    assert.equal(c.mask[0], 255);
    assert.equal(c.data[50 * 100 + 30], 5);
  });

  it("visualize maps min/max/gamma like a hand computation", () => {
    const image = visualize(constantImage([1234, 4000, 6000]), { min: 0, max: 5000, gamma: 1.35 });
    assert.deepEqual(
      image.bands.map((b) => [b.id, b.dataType]),
      [
        ["vis-red", "uint8"],
        ["vis-green", "uint8"],
        ["vis-blue", "uint8"],
      ],
    );
    const bands = renderImage(image, grid);
    const expected = [1234, 4000, 6000].map((v) =>
      Math.round(255 * Math.min(1, v / 5000) ** (1 / 1.35)),
    );
    assert.deepEqual(
      bands.map((b) => b.data[0]),
      expected,
    );
    assert.deepEqual(expected, [90, 216, 255]);
  });

  it("visualize a single band gives vis-gray, or a palette gives RGB", () => {
    const gray = visualize(constantImage(50), { min: 0, max: 100 });
    assert.deepEqual(
      gray.bands.map((b) => b.id),
      ["vis-gray"],
    );
    assert.equal(renderImage(gray, grid)[0].data[0], 128);
    const coloured = renderImage(
      visualize(constantImage(50), { min: 0, max: 100, palette: ["000000", "ff0000"] }),
      grid,
    );
    assert.deepEqual(
      coloured.map((b) => b.data[0]),
      [128, 0, 0],
    );
  });

  it("select matches regular expressions and renames", () => {
    const image = select(sceneImage(davidScene()), ["B.*"], undefined);
    assert.ok(image.bands.every((b) => b.id.startsWith("B")));
    assert.equal(image.bands.length, 12);
    const renamed = select(sceneImage(davidScene()), ["B4", "B3"], ["red", "green"]);
    assert.deepEqual(
      renamed.bands.map((b) => b.id),
      ["red", "green"],
    );
    assert.throws(() => select(sceneImage(davidScene()), ["B99"]), /did not match/);
  });
});

describe("thumbnail grids and projections", () => {
  const roi: Geometry = {
    type: "Polygon",
    coordinates: [
      [
        [-82.48, 8.35],
        [-82.39, 8.35],
        [-82.39, 8.44],
        [-82.48, 8.44],
        [-82.48, 8.35],
      ],
    ],
  };

  it("sizes a thumbnail by its longer side in EPSG:4326 by default", () => {
    const grid = defaultThumbnailGrid(sceneImage(davidScene()), { region: roi, dimensions: 256 });
    assert.equal(grid.crsCode, "EPSG:4326");
    assert.equal(grid.width, 256);
    assert.equal(grid.height, 256);
    assert.ok(Math.abs(grid.affine.translateX + 82.48) < 1e-9);
    assert.ok(Math.abs(grid.affine.translateY - 8.44) < 1e-9);
    assert.ok(Math.abs(grid.affine.scaleX - 0.09 / 256) < 1e-12);
  });

  it("takes WIDTHxHEIGHT, a UTM crs and the clipToBoundsAndScale size", () => {
    const utm = defaultThumbnailGrid(sceneImage(davidScene()), {
      region: roi,
      dimensions: "100x50",
      crs: "EPSG:32617",
    });
    assert.equal(utm.width, 100);
    assert.equal(utm.height, 50);
    assert.equal(utm.crsCode, "EPSG:32617");
    const clipped = clipToBoundsAndScale(sceneImage(davidScene()), {
      geometry: roi,
      maxDimension: 64,
    });
    const grid = defaultThumbnailGrid(clipped, {});
    assert.equal(Math.max(grid.width, grid.height), 64);
    assert.deepEqual(clipped.bands[0].dimensions, [grid.width, grid.height]);
    assert.throws(() => defaultThumbnailGrid(constantImage(1), {}), /unbounded/);
  });

  it("reproject changes the bands' projection", () => {
    const image = reproject(sceneImage(davidScene()), "EPSG:4326", null, 20);
    assert.equal(image.bands[0].crsCode, "EPSG:4326");
    assert.ok(Math.abs(image.bands[0].crsTransform[0] - 20 / 111319.49079327357) < 1e-15);
    assert.equal(image.bands[0].dimensions, undefined);
  });
});
