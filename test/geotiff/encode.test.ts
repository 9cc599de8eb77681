import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fromArrayBuffer } from "geotiff";
import { SAMPLE_ARRAYS } from "../../src/core/samples";
import { encodeGeoTiff } from "../../src/geotiff/encode";
import { GeoTiffSpecError, GeoTiffTileError } from "../../src/geotiff/errors";
import type { GeoTiffSpec, SampleType } from "../../src/geotiff/spec";
import { bytesOf, rng, SAMPLE_TYPES, utmSpec } from "./fixtures";

const dir = mkdtempSync(join(tmpdir(), "geotiff-encode-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic samples: full-range noise for integers (predictor wrap-around), smooth+noisy floats with specials. */
function samples(type: SampleType, count: number, seed = 1): ArrayBufferView {
  const out = new SAMPLE_ARRAYS[type](count);
  const next = rng(seed);
  if (type === "float32" || type === "float64") {
    const f = out as Float32Array | Float64Array;
    for (let i = 0; i < count; i++)
      f[i] = Math.sin(i / 97) * 1000 + (next() / 2 ** 32 - 0.5) * 1e-3;
    f[0] = Number.NaN;
    f[1] = -0;
    f[2] = Number.NEGATIVE_INFINITY;
  } else {
    const bytes = new Uint8Array(out.buffer);
    for (let i = 0; i < bytes.length; i += 4) {
      const v = next();
      for (let k = 0; k < 4 && i + k < bytes.length; k++) bytes[i + k] = (v >>> (8 * k)) & 255;
    }
  }
  return out;
}

async function readBack(file: Buffer): Promise<{
  data: Buffer;
  image: Awaited<ReturnType<Awaited<ReturnType<typeof fromArrayBuffer>>["getImage"]>>;
}> {
  const ab = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  const tiff = await fromArrayBuffer(ab);
  const image = await tiff.getImage();
  const data = (await image.readRasters({ interleave: true })) as unknown as ArrayBufferView;
  return { data: bytesOf(data), image };
}

interface GdalInfo {
  size: [number, number];
  coordinateSystem?: { wkt: string };
  geoTransform?: number[];
  cornerCoordinates?: Record<string, [number, number]>;
  metadata?: Record<string, Record<string, string>>;
  bands: {
    block: [number, number];
    type: string;
    description?: string;
    noDataValue?: number | string;
    colorInterpretation?: string;
    minimum?: number;
    maximum?: number;
  }[];
}

function gdalAvailable(): boolean {
  try {
    execFileSync("gdalinfo", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const hasGdal = gdalAvailable();

function gdalinfo(path: string): GdalInfo {
  return JSON.parse(
    execFileSync("gdalinfo", ["-json", "-stats", path], { encoding: "utf8" }),
  ) as GdalInfo;
}

describe("encodeGeoTiff", () => {
  for (const type of SAMPLE_TYPES) {
    test(`${type}: geotiff.js reads back every sample, strips and tiles, raw and deflate`, async () => {
      const spec = utmSpec({ sampleType: type, bands: 3 });
      const pixels = samples(
        type,
        spec.width * spec.height * spec.bands,
        SAMPLE_TYPES.indexOf(type) + 7,
      );
      for (const variant of [
        {},
        { compression: "deflate" as const },
        { tileSize: 256 },
        { tileSize: 512, compression: "deflate" as const },
        { tileSize: 128, compression: "deflate" as const, predictor: false, bigTiff: true },
      ]) {
        const file = encodeGeoTiff({ ...spec, ...variant }, pixels);
        const { data, image } = await readBack(file);
        assert.equal(image.getWidth(), 1000);
        assert.equal(image.getHeight(), 777);
        assert.equal(image.getSamplesPerPixel(), 3);
        assert.ok(data.equals(bytesOf(pixels)), `${type} ${JSON.stringify(variant)} differs`);
      }
    });
  }

  test("uncompressed by default and sized like the pixels (no tile padding)", () => {
    const spec = utmSpec({ width: 300, height: 200, bands: 3, sampleType: "uint8" });
    const file = encodeGeoTiff(spec, samples("uint8", 300 * 200 * 3));
    assert.ok(
      file.length >= 300 * 200 * 3 && file.length < 300 * 200 * 3 + 1024,
      `${file.length} bytes`,
    );
  });

  test("BigTIFF when forced: version 43 header, and geotiff.js reads it", async () => {
    const spec = utmSpec({
      width: 70,
      height: 50,
      bands: 1,
      sampleType: "float32",
      bigTiff: true,
      tileSize: 32,
    });
    const pixels = samples("float32", 70 * 50);
    const file = encodeGeoTiff(spec, pixels);
    assert.equal(file.readUInt16LE(2), 43);
    assert.equal(file.readUInt16LE(4), 8);
    const { data } = await readBack(file);
    assert.ok(data.equals(bytesOf(pixels)));
  });

  test("geotiff.js sees the georeferencing, nodata and band names", async () => {
    const spec = utmSpec({
      epsg: 32736,
      nodata: 0,
      bandNames: ["B4", "B3 & <more>"],
      transform: [2, 0, 300000, 0, -2, 9000000],
    });
    const { image } = await readBack(encodeGeoTiff(spec, samples("uint16", 1000 * 777 * 2)));
    const keys = image.getGeoKeys();
    assert.equal(keys?.ProjectedCSTypeGeoKey, 32736);
    assert.equal(keys?.GTModelTypeGeoKey, 1);
    assert.equal(keys?.GTRasterTypeGeoKey, 1);
    assert.deepEqual(image.getOrigin(), [300000, 9000000, 0]);
    assert.deepEqual(image.getResolution(), [2, -2, 0]);
    assert.deepEqual(image.getBoundingBox(), [
      300000,
      9000000 - 777 * 2,
      300000 + 1000 * 2,
      9000000,
    ]);
    assert.equal(image.getGDALNoData(), 0);
  });

  test("rejects pixels of the wrong type or length, and bad specs, saying what was expected", () => {
    const spec = utmSpec({ width: 10, height: 10, bands: 1, sampleType: "uint16" });
    assert.throws(
      () => encodeGeoTiff(spec, new Float32Array(100)),
      (e: Error) => e instanceof GeoTiffTileError && /Uint16Array/.test(e.message),
    );
    assert.throws(
      () => encodeGeoTiff(spec, new Uint16Array(99)),
      (e: Error) => e instanceof GeoTiffTileError && /100 uint16 samples/.test(e.message),
    );
    assert.throws(
      () => encodeGeoTiff({ ...spec, epsg: 3857 }, new Uint16Array(100)),
      (e: Error) => e instanceof GeoTiffSpecError && /32601/.test(e.message),
    );
    assert.throws(
      () => encodeGeoTiff({ ...spec, tileSize: 100 }, new Uint16Array(100)),
      GeoTiffSpecError,
    );
    assert.throws(
      () => encodeGeoTiff({ ...spec, nodata: -1 }, new Uint16Array(100)),
      /integer from 0 to 65535/,
    );
    assert.throws(
      () => encodeGeoTiff({ ...spec, bandNames: ["a", "b"] }, new Uint16Array(100)),
      /one name per band/,
    );
    assert.throws(
      () => encodeGeoTiff({ ...spec, width: 0 }, new Uint16Array(0)),
      /width must be an integer/,
    );
    assert.throws(
      () => encodeGeoTiff({ ...spec, sampleType: "int64" as SampleType }, new Uint16Array(100)),
      /sampleType must be one of uint8, int8/,
    );
    assert.throws(
      () =>
        encodeGeoTiff({ ...spec, sampleType: "float32", predictor: true }, new Float32Array(100)),
      /integer sample types only/,
    );
    // Raw bytes are accepted as they are.
    assert.ok(encodeGeoTiff(spec, new Uint8Array(200)).length > 200);
  });
});

describe("encodeGeoTiff read by GDAL", { skip: hasGdal ? false : "gdalinfo not installed" }, () => {
  const cases: { epsg: number; transform: GeoTiffSpec["transform"]; crs: RegExp }[] = [
    { epsg: 4326, transform: [0.0001, 0, -82.48, 0, -0.0001, 8.44], crs: /ID\["EPSG",4326\]\]$/ },
    { epsg: 32617, transform: [2, 0, 340000, 0, -2, 935000], crs: /ID\["EPSG",32617\]\]$/ },
    { epsg: 32736, transform: [10, 0, 500000, 0, -10, 8500000], crs: /ID\["EPSG",32736\]\]$/ },
  ];
  for (const c of cases) {
    test(`EPSG:${c.epsg}: CRS, corners, nodata, band descriptions, blocks, compression`, () => {
      const spec: GeoTiffSpec = {
        width: 1000,
        height: 777,
        bands: 3,
        sampleType: "uint8",
        epsg: c.epsg,
        transform: c.transform,
        nodata: 0,
        bandNames: ["B8", "B4", "B3"],
        tileSize: 512,
        compression: "deflate",
      };
      const path = join(dir, `epsg${c.epsg}.tif`);
      writeFileSync(path, encodeGeoTiff(spec, samples("uint8", 1000 * 777 * 3)));
      const info = gdalinfo(path);
      assert.deepEqual(info.size, [1000, 777]);
      assert.match(info.coordinateSystem?.wkt ?? "", c.crs);
      const [sx, , tx, , sy, ty] = c.transform;
      assert.deepEqual(info.geoTransform, [tx, sx, 0, ty, 0, sy]);
      const lr = info.cornerCoordinates?.lowerRight ?? [Number.NaN, Number.NaN];
      assert.ok(
        Math.abs(lr[0] - (tx + 1000 * sx)) < 1e-9 && Math.abs(lr[1] - (ty + 777 * sy)) < 1e-9,
      );
      assert.equal(info.metadata?.IMAGE_STRUCTURE?.COMPRESSION, "DEFLATE");
      assert.equal(info.metadata?.[""]?.AREA_OR_POINT, "Area");
      assert.deepEqual(
        info.bands.map((b) => [
          b.description,
          b.noDataValue,
          b.block,
          b.type,
          b.colorInterpretation,
        ]),
        [
          ["B8", 0, [512, 512], "Byte", "Red"],
          ["B4", 0, [512, 512], "Byte", "Green"],
          ["B3", 0, [512, 512], "Byte", "Blue"],
        ],
      );
    });
  }

  test("a sheared transform is written as ModelTransformation", () => {
    const path = join(dir, "sheared.tif");
    const transform: GeoTiffSpec["transform"] = [10, 1, 500000, 0.5, -10, 1000000];
    writeFileSync(
      path,
      encodeGeoTiff(
        utmSpec({ width: 40, height: 30, bands: 1, transform }),
        samples("uint16", 1200),
      ),
    );
    assert.deepEqual(gdalinfo(path).geoTransform, [500000, 10, 1, 1000000, 0.5, -10]);
  });

  test("NaN nodata and single-band float descriptions", () => {
    const path = join(dir, "nan.tif");
    const spec = utmSpec({
      width: 33,
      height: 17,
      bands: 1,
      sampleType: "float32",
      nodata: Number.NaN,
      bandNames: ["NDVI"],
    });
    writeFileSync(path, encodeGeoTiff(spec, samples("float32", 33 * 17)));
    const band = gdalinfo(path).bands[0];
    assert.equal(band.description, "NDVI");
    assert.equal(band.noDataValue, "NaN");
    assert.equal(band.type, "Float32");
  });
});
