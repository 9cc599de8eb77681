import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fromArrayBuffer } from "geotiff";
import * as jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { crsFromCode } from "../../src/core/crs";
import { npyDescr } from "../../src/core/npy";
import { encodePixels, nodataFor } from "../../src/emulator/encode";
import { clip, select } from "../../src/emulator/image";
import { constantImage } from "../../src/emulator/image-constant";
import { sceneImage } from "../../src/emulator/image-scene";
import { visualize } from "../../src/emulator/image-visualize";
import type { Geometry, Grid } from "../../src/emulator/model";
import { renderImage } from "../../src/emulator/render";
import { davidScene, northUpGrid } from "./pixels-fixtures";

const hasGdal = spawnSync("gdalinfo", ["--version"]).status === 0;
const workDir = mkdtempSync(join(tmpdir(), "pixels-encode-"));
after(() => rmSync(workDir, { recursive: true, force: true }));

/** A polygon covering the grid's west half (in lon/lat). */
function westHalf(grid: Grid, lonLatOf: (x: number, y: number) => [number, number]): Geometry {
  const a = grid.affine;
  const x0 = a.translateX - a.scaleX * 10;
  const x1 = a.translateX + (a.scaleX * grid.width) / 2;
  const y0 = a.translateY - a.scaleY * 10;
  const y1 = a.translateY + a.scaleY * (grid.height + 10);
  const ring = [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
    [x0, y0],
  ].map(([x, y]) => lonLatOf(x, y));
  return { type: "Polygon", coordinates: [ring] };
}

describe("GeoTIFF", () => {
  const cases: {
    crsCode: string;
    grid: Grid;
    epsg: number;
    scene: ReturnType<typeof davidScene>;
  }[] = [
    {
      crsCode: "EPSG:4326",
      grid: northUpGrid("EPSG:4326", -82.48, 8.44, 0.0001, 300, 200),
      epsg: 4326,
      scene: davidScene(),
    },
    {
      crsCode: "EPSG:32617",
      grid: northUpGrid("EPSG:32617", 335000, 934000, 20, 300, 200),
      epsg: 32617,
      scene: davidScene(),
    },
    {
      crsCode: "EPSG:32736",
      grid: northUpGrid("EPSG:32736", 510000, 9700000, 20, 300, 200),
      epsg: 32736,
      scene: davidScene({
        epsg: 32736,
        utmBounds: { xmin: 499980, ymin: 9590200, xmax: 609780, ymax: 9700000 },
        mgrsTile: "36MZE",
        index: "20240105T074231_20240105T080000_T36MZE",
      }),
    },
  ];
  for (const { crsCode, grid, epsg, scene } of cases) {
    it(`is georeferenced in ${crsCode} and masks with nodata`, async () => {
      const image = visualize(sceneImage(scene), {
        bands: ["B8", "B4", "B3"],
        min: 0,
        max: 5000,
        gamma: 1.35,
      });
      const lonLat = (x: number, y: number): [number, number] =>
        epsg === 4326 ? [x, y] : crsFromCode(crsCode).inverse(x, y);
      const bands = renderImage(clip(image, westHalf(grid, lonLat)), grid);
      const bytes = encodePixels(bands, grid, "GEO_TIFF");
      const tiff = await fromArrayBuffer(new Uint8Array(bytes).buffer as ArrayBuffer);
      const tiffImage = await tiff.getImage();
      assert.equal(tiffImage.getWidth(), grid.width);
      assert.equal(tiffImage.getHeight(), grid.height);
      assert.equal(tiffImage.getSamplesPerPixel(), 3);
      const a = grid.affine;
      const [west, south, east, north] = tiffImage.getBoundingBox();
      assert.ok(Math.abs(west - a.translateX) < 1e-9 * Math.abs(a.translateX) + 1e-9);
      assert.ok(Math.abs(north - a.translateY) < 1e-9 * Math.abs(a.translateY) + 1e-9);
      assert.ok(
        Math.abs(east - (a.translateX + a.scaleX * grid.width)) <
          1e-6 * Math.abs(a.scaleX * grid.width),
      );
      assert.ok(
        Math.abs(south - (a.translateY + a.scaleY * grid.height)) <
          1e-6 * Math.abs(a.scaleY * grid.height),
      );
      const keys = tiffImage.getGeoKeys() as Record<string, number>;
      if (epsg === 4326) assert.equal(keys.GeographicTypeGeoKey, 4326);
      else assert.equal(keys.ProjectedCSTypeGeoKey, epsg);
      assert.equal(tiffImage.getGDALNoData(), 0);
      const [red] = (await tiffImage.readRasters({ interleave: false })) as unknown as Uint8Array[];
      // West half valid (and not all black), east half masked -> nodata 0.
      assert.ok(red[10 * grid.width + 20] > 0);
      assert.equal(red[10 * grid.width + grid.width - 5], 0);
      if (hasGdal) {
        const file = join(workDir, `${epsg}.tif`);
        writeFileSync(file, bytes);
        const info = JSON.parse(execFileSync("gdalinfo", ["-json", file], { encoding: "utf8" }));
        const wkt: string = info.coordinateSystem.wkt;
        assert.match(wkt, new RegExp(`ID\\["EPSG",${epsg}\\]\\]\\s*$`));
        const upperLeft = info.cornerCoordinates.upperLeft as number[];
        const lowerRight = info.cornerCoordinates.lowerRight as number[];
        assert.ok(Math.abs(upperLeft[0] - a.translateX) < Math.abs(a.scaleX) * 1e-3);
        assert.ok(Math.abs(upperLeft[1] - a.translateY) < Math.abs(a.scaleY) * 1e-3);
        assert.ok(
          Math.abs(lowerRight[0] - (a.translateX + a.scaleX * grid.width)) <
            Math.abs(a.scaleX) * 1e-3,
        );
        assert.ok(
          Math.abs(lowerRight[1] - (a.translateY + a.scaleY * grid.height)) <
            Math.abs(a.scaleY) * 1e-3,
        );
        assert.equal(info.bands[0].noDataValue, 0);
      }
    });
  }

  it("uses the type's minimum as nodata for signed types and -inf for floats", () => {
    assert.equal(nodataFor("uint8"), 0);
    assert.equal(nodataFor("uint16"), 0);
    assert.equal(nodataFor("int32"), -2147483648);
    assert.equal(nodataFor("float32"), Number.NEGATIVE_INFINITY);
  });

  it("writes raw uint16 reflectance with per-band names", async () => {
    const grid = northUpGrid("EPSG:32617", 335000, 934000, 10, 64, 32);
    const bands = renderImage(select(sceneImage(davidScene()), ["B4", "B8"]), grid);
    const bytes = encodePixels(bands, grid, "GEO_TIFF");
    const tiff = await fromArrayBuffer(new Uint8Array(bytes).buffer as ArrayBuffer);
    const image = await tiff.getImage();
    const [b4] = (await image.readRasters({ interleave: false })) as unknown as Uint16Array[];
    assert.ok(b4 instanceof Uint16Array);
    assert.deepEqual(Array.from(b4.slice(0, 64)), Array.from(bands[0].data.slice(0, 64)));
  });
});

describe("NPY", () => {
  it("writes a structured array with one field per band", () => {
    const grid = northUpGrid("EPSG:32617", 335000, 934000, 10, 5, 3);
    const bands = renderImage(select(sceneImage(davidScene()), ["B4", "SCL"]), grid);
    const bytes = encodePixels(bands, grid, "NPY");
    assert.equal(bytes.subarray(0, 6).toString("latin1"), "\x93NUMPY");
    assert.equal(bytes[6], 1);
    const headerLength = bytes.readUInt16LE(8);
    assert.equal((10 + headerLength) % 64, 0);
    const header = bytes.subarray(10, 10 + headerLength).toString("latin1");
    assert.match(header, /'descr': \[\('B4', '<u2'\), \('SCL', '\|u1'\), \]/);
    assert.match(header, /'shape': \(3, 5\)/);
    assert.match(header, /'fortran_order': False/);
    assert.equal(bytes.length, 10 + headerLength + 3 * 5 * 3);
    const first = 10 + headerLength;
    assert.equal(bytes.readUInt16LE(first), bands[0].data[0]);
    assert.equal(bytes[first + 2], bands[1].data[0]);
    assert.equal(bytes.readUInt16LE(first + 3), bands[0].data[1]);
    assert.equal(npyDescr([{ id: "it's", dataType: "float32" }]), "[('it\\'s', '<f4'), ]");
  });

  it("writes masked pixels as 0", () => {
    const grid = northUpGrid("EPSG:32617", 299990, 934000, 10, 2, 1);
    const bands = renderImage(select(sceneImage(davidScene()), ["B4"]), grid);
    assert.equal(bands[0].mask[0], 0);
    const bytes = encodePixels(bands, grid, "NPY");
    const first = 10 + bytes.readUInt16LE(8);
    assert.equal(bytes.readUInt16LE(first), 0);
    assert.equal(bytes.readUInt16LE(first + 2), bands[0].data[1]);
  });
});

describe("PNG and JPEG", () => {
  const grid = northUpGrid("EPSG:4326", 0, 10, 0.1, 40, 20);
  const half: Geometry = {
    type: "Polygon",
    coordinates: [
      [
        [0, 0],
        [2, 0],
        [2, 10],
        [0, 10],
        [0, 0],
      ],
    ],
  };
  const rgb = clip(visualize(constantImage([10, 20, 30]), { min: 0, max: 255 }), half);

  it("PNG decodes with alpha from the mask", () => {
    const png = PNG.sync.read(encodePixels(renderImage(rgb, grid), grid, "PNG"));
    assert.equal(png.width, 40);
    assert.equal(png.height, 20);
    assert.deepEqual(Array.from(png.data.subarray(0, 4)), [10, 20, 30, 255]);
    const east = (5 * 40 + 30) * 4;
    assert.equal(png.data[east + 3], 0);
  });

  it("PNG of the tutorial's false-colour snippet decodes (kept in test/artifacts to look at)", () => {
    const snippetGrid = northUpGrid("EPSG:32617", 337000, 934000, 10, 1000, 1000);
    const roi: Geometry = {
      type: "Polygon",
      coordinates: [
        [
          [-82.48, 8.36],
          [-82.4, 8.36],
          [-82.4, 8.44],
          [-82.48, 8.44],
          [-82.48, 8.36],
        ],
      ],
    };
    const snippet = visualize(clip(sceneImage(davidScene()), roi), {
      bands: ["B8", "B4", "B3"],
      min: 0,
      max: 5000,
      gamma: [1.35, 1.35, 1.35],
    });
    const bytes = encodePixels(renderImage(snippet, snippetGrid), snippetGrid, "PNG");
    const png = PNG.sync.read(bytes);
    assert.equal(png.width, 1000);
    let transparent = 0;
    for (let p = 3; p < png.data.length; p += 4) if (png.data[p] === 0) transparent++;
    assert.ok(transparent > 0 && transparent < 1000 * 1000, "the ROI clips part of the grid");
    if (existsSync("test/artifacts"))
      writeFileSync("test/artifacts/pixels-false-colour.png", bytes);
  });

  it("PNG of one band is gray with alpha", () => {
    const gray = visualize(constantImage(100), { min: 0, max: 255 });
    const png = PNG.sync.read(encodePixels(renderImage(gray, grid), grid, "PNG"));
    assert.deepEqual(Array.from(png.data.subarray(0, 4)), [100, 100, 100, 255]);
  });

  it("PNG refuses 2 bands with a message that says what to do", () => {
    const two = renderImage(constantImage([1, 2]), grid);
    assert.throws(() => encodePixels(two, grid, "PNG"), /1 or 3 bands/);
  });

  it("JPEG decodes to the right size and colours", () => {
    const decoded = jpeg.decode(encodePixels(renderImage(rgb, grid), grid, "JPEG"), {
      useTArray: true,
    });
    assert.equal(decoded.width, 40);
    assert.ok(Math.abs(decoded.data[0] - 10) < 6);
    assert.ok(Math.abs(decoded.data[2] - 30) < 6);
  });
});
