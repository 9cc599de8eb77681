import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fromFile } from "geotiff";
import { BYTES_PER_SAMPLE, SAMPLE_ARRAYS, type SampleArray } from "../../src/core/samples";
import { COG_GHOST_AREA } from "../../src/geotiff/cog-layout";
import { type OverviewResampling, overviewLevels } from "../../src/geotiff/overviews";
import type { GeoTiffSpec, SampleType } from "../../src/geotiff/spec";
import { IN_MEMORY_FILE_BYTES } from "../../src/geotiff/spooled-file";
import { GeoTiffWriter } from "../../src/geotiff/writer";
import { rng, scratchDirs } from "./fixtures";

const hasGdal = spawnSync("gdalinfo", ["--version"]).status === 0;
/** GDAL's own COG validator (python3-gdal's samples), run with the system Python. */
const VALIDATOR =
  "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py";
const hasValidator = spawnSync("/usr/bin/python3", [VALIDATOR, "--help"]).status !== null;

const freshDir = scratchDirs("geotiff-overviews-");

/** A chunky raster in memory: the reference the file's levels are compared with. */
interface Raster {
  width: number;
  height: number;
  bands: number;
  data: SampleArray;
}

/**
 * The reference downsampling, written straight from the definition over a whole raster
 * (no tiles): each pixel of the next level is its 2x2 block (clipped at an odd edge), the
 * mean of the samples that are not nodata/NaN rounded half up for integers, or nodata when
 * there are none; or the block's top-left pixel for nearest. Each level from the previous.
 */
function halve(
  r: Raster,
  method: OverviewResampling,
  nodata: number | undefined,
  type: SampleType,
): Raster {
  const width = Math.ceil(r.width / 2);
  const height = Math.ceil(r.height / 2);
  const data = new SAMPLE_ARRAYS[type](width * height * r.bands);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let b = 0; b < r.bands; b++) {
        const at = (px: number, py: number) => r.data[(py * r.width + px) * r.bands + b];
        let value: number;
        if (method === "nearest") {
          value = at(2 * x, 2 * y);
        } else {
          const seen: number[] = [];
          for (const py of new Set([2 * y, Math.min(2 * y + 1, r.height - 1)])) {
            for (const px of new Set([2 * x, Math.min(2 * x + 1, r.width - 1)])) {
              const v = at(px, py);
              if (!Number.isNaN(v) && v !== nodata) seen.push(v);
            }
          }
          const mean = seen.reduce((s, v) => s + v, 0) / seen.length;
          value =
            seen.length === 0
              ? (nodata ?? Number.NaN)
              : type.startsWith("float")
                ? mean
                : Math.round(mean);
        }
        data[(y * width + x) * r.bands + b] = value;
      }
    }
  }
  return { width, height, bands: r.bands, data };
}

/** Smooth values with nodata holes (a masked corner and scattered pixels). */
function scene(
  type: SampleType,
  width: number,
  height: number,
  bands: number,
  nodata: number | undefined,
  seed: number,
): Raster {
  const next = rng(seed);
  const data = new SAMPLE_ARRAYS[type](width * height * bands);
  const float = type.startsWith("float");
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const masked = nodata !== undefined && (x + y < 60 || next() % 17 === 0);
      for (let b = 0; b < bands; b++) {
        const i = (y * width + x) * bands + b;
        const smooth = 60 + 50 * Math.sin((x + 3 * b) / 23) * Math.cos(y / 31);
        data[i] = masked
          ? (nodata as number)
          : float
            ? smooth + (next() % 1000) / 997
            : 1 + Math.round(smooth + (next() % 9));
      }
    }
  }
  return { width, height, bands, data };
}

/** Writes `r` as windows of `rows` rows in shuffled order; returns the finished file. */
async function writeScene(path: string, spec: GeoTiffSpec, r: Raster, rows: number, seed: number) {
  const writer = await GeoTiffWriter.open(path, spec);
  const starts: number[] = [];
  for (let y = 0; y < r.height; y += rows) starts.push(y);
  const next = rng(seed);
  for (let i = starts.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [starts[i], starts[j]] = [starts[j], starts[i]];
  }
  const rowSamples = r.width * r.bands;
  await Promise.all(
    starts.map((y) => {
      const h = Math.min(rows, r.height - y);
      const window = r.data.slice(y * rowSamples, (y + h) * rowSamples);
      return writer.writeWindow(0, y, r.width, h, window);
    }),
  );
  return writer.finish();
}

function baseSpec(over: Partial<GeoTiffSpec>): GeoTiffSpec {
  return {
    width: 700,
    height: 455,
    bands: 3,
    sampleType: "uint8",
    epsg: 32617,
    transform: [10, 0, 500000, 0, -10, 1000000],
    tileSize: 64,
    overviews: "average",
    cloudOptimized: true,
    ...over,
  };
}

/** The raw samples GDAL reads for overview `index` (0 = largest), pixel-interleaved. */
function gdalOverview(path: string, index: number, type: SampleType): SampleArray {
  const out = `${path}.ovr${index}.bin`;
  execFileSync("gdal_translate", [
    "-q",
    "-ovr",
    String(index),
    "-of",
    "ENVI",
    "-co",
    "INTERLEAVE=BIP",
    path,
    out,
  ]);
  const bytes = readFileSync(out);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new SAMPLE_ARRAYS[type](copy.buffer, 0, copy.byteLength / BYTES_PER_SAMPLE[type]);
}

function assertSamplesEqual(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assert.equal(actual.length, expected.length, `${what}: sample count`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a !== e && !(Number.isNaN(a) && Number.isNaN(e))) {
      assert.fail(`${what}: sample ${i} is ${a}, the reference downsampling says ${e}`);
    }
  }
}

describe("overviews", () => {
  test("levels halve until the image fits in one tile (GDAL's rule)", () => {
    assert.deepEqual(
      overviewLevels(5000, 5000, 512).map((l) => l.width),
      [2500, 1250, 625, 313],
    );
    assert.deepEqual(overviewLevels(20000, 20000, 512).length, 6);
    assert.deepEqual(overviewLevels(512, 300, 512), []);
    assert.deepEqual(
      overviewLevels(1100, 700, 512).map((l) => [l.width, l.height]),
      [
        [550, 350],
        [275, 175],
      ],
    );
  });

  const cases: {
    type: SampleType;
    bands: number;
    method: OverviewResampling;
    nodata?: number;
    cog: boolean;
  }[] = [
    { type: "uint8", bands: 3, method: "average", nodata: 0, cog: true },
    { type: "uint8", bands: 1, method: "nearest", nodata: 0, cog: true },
    { type: "int16", bands: 2, method: "average", nodata: -9999, cog: false },
    { type: "uint16", bands: 2, method: "nearest", cog: true },
    { type: "float32", bands: 2, method: "average", nodata: Number.NaN, cog: true },
    { type: "float64", bands: 1, method: "average", cog: false },
  ];
  for (const [n, c] of cases.entries()) {
    test(`${c.type} x${c.bands}, ${c.method}, ${c.cog ? "COG" : "streamed"}: every level equals the reference downsampling in geotiff.js and GDAL`, {
      skip: !hasGdal && "gdal_translate not installed",
    }, async () => {
      const spec = baseSpec({
        sampleType: c.type,
        bands: c.bands,
        overviews: c.method,
        nodata: c.nodata,
        cloudOptimized: c.cog,
      });
      const full = scene(c.type, spec.width, spec.height, c.bands, c.nodata, 10 + n);
      const path = join(freshDir(), "ovr.tif");
      // 37 rows: windows that cut through tiles and overview quadrants.
      const finished = await writeScene(path, spec, full, 37, n);
      const levels = overviewLevels(spec.width, spec.height, 64);
      assert.equal(levels.length, 4);
      assert.equal(finished.overviews, 4);
      const tiff = await fromFile(path);
      try {
        assert.equal(await tiff.getImageCount(), 5);
        let reference = full;
        const image0 = await tiff.getImage(0);
        assertSamplesEqual(
          (await image0.readRasters({ interleave: true })) as unknown as ArrayLike<number>,
          full.data,
          "full resolution",
        );
        for (let k = 1; k <= levels.length; k++) {
          reference = halve(reference, c.method, c.nodata, c.type);
          const image = await tiff.getImage(k);
          assert.deepEqual(
            [image.getWidth(), image.getHeight()],
            [reference.width, reference.height],
          );
          const read = (await image.readRasters({
            interleave: true,
          })) as unknown as ArrayLike<number>;
          assertSamplesEqual(read, reference.data, `geotiff.js, level ${k}`);
          assertSamplesEqual(gdalOverview(path, k - 1, c.type), reference.data, `GDAL, level ${k}`);
        }
      } finally {
        await tiff.close();
      }
    });
  }
});

describe("cloud-optimized layout", () => {
  const sizes = [
    {
      name: "a small file, reordered in memory",
      width: 700,
      height: 455,
      tileSize: 64,
      bigTiff: false,
    },
    {
      name: "a file spilled to disk, copied in COG order",
      width: 1500,
      height: 1300,
      tileSize: 128,
      bigTiff: false,
    },
    { name: "BigTIFF", width: 900, height: 700, tileSize: 64, bigTiff: true },
  ];
  for (const [n, s] of sizes.entries()) {
    test(`${s.name}: GDAL reads LAYOUT=COG, its validator passes, SHA-256 matches the file`, {
      skip: !hasGdal && "gdalinfo not installed",
    }, async () => {
      const spec = baseSpec({
        width: s.width,
        height: s.height,
        tileSize: s.tileSize,
        bigTiff: s.bigTiff,
        nodata: 0,
      });
      const full = scene("uint8", s.width, s.height, 3, 0, 30 + n);
      // Noise keeps the spilled case's file over the in-memory limit.
      if (n === 1)
        for (let i = 0; i < full.data.length; i += 2) full.data[i] = (i * 2654435761) >>> 24;
      const path = join(freshDir(), "cog.tif");
      const finished = await writeScene(path, spec, full, 100, n);
      const bytes = readFileSync(path);
      assert.equal(finished.bytes, bytes.length);
      assert.equal(
        n === 1,
        bytes.length > IN_MEMORY_FILE_BYTES,
        "the case exercises the intended path",
      );
      assert.equal(finished.sha256, createHash("sha256").update(bytes).digest("hex"));
      assert.equal(
        bytes.toString("latin1", s.bigTiff ? 16 : 8, (s.bigTiff ? 16 : 8) + COG_GHOST_AREA.length),
        COG_GHOST_AREA,
      );
      const info = JSON.parse(execFileSync("gdalinfo", ["-json", path], { encoding: "utf8" }));
      assert.equal(info.metadata.IMAGE_STRUCTURE.LAYOUT, "COG");
      assert.equal(
        info.bands[0].overviews.length,
        overviewLevels(s.width, s.height, s.tileSize).length,
      );
      if (hasValidator) {
        const out = execFileSync("/usr/bin/python3", [VALIDATOR, "--full-check=yes", path], {
          encoding: "utf8",
        });
        assert.match(out, /is a valid cloud optimized GeoTIFF/);
      }
    });
  }

  test("cloudOptimized false keeps the streamed layout: no structural metadata, IFDs after the tiles", async () => {
    const spec = baseSpec({ cloudOptimized: false });
    const path = join(freshDir(), "plain.tif");
    await writeScene(path, spec, scene("uint8", 700, 455, 3, undefined, 5), 64, 1);
    const bytes = readFileSync(path);
    assert.notEqual(bytes.toString("latin1", 8, 8 + 30), COG_GHOST_AREA.slice(0, 30));
    assert.ok(bytes.readUInt32LE(4) > bytes.length / 2, "the first IFD follows the tiles");
  });
});

describe("GDAL metadata", () => {
  test("dataset items and band descriptions round-trip through gdalinfo and geotiff.js", {
    skip: !hasGdal && "gdalinfo not installed",
  }, async () => {
    const metadata = {
      EE_ID: "COPERNICUS/S2_SR_HARMONIZED/20240105T153619_20240105T154242_T17PMK",
      SYSTEM_INDEX: "20240105T153619_20240105T154242_T17PMK",
      ACQUISITION_TIME: "2024-01-05T15:42:42.000Z",
      CLOUDY_PIXEL_PERCENTAGE: "12.5",
      MGRS_TILE: "17PMK",
      STYLE_BANDS: "B8,B4,B3",
      NOTE: 'quotes " & <angles>',
    };
    const bandNames = ["vis-red", "vis-green", "B4 & <B3>"];
    const spec = baseSpec({ metadata, bandNames, nodata: 0 });
    const path = join(freshDir(), "meta.tif");
    await writeScene(path, spec, scene("uint8", 700, 455, 3, 0, 7), 455, 0);
    const info = JSON.parse(execFileSync("gdalinfo", ["-json", path], { encoding: "utf8" }));
    for (const [key, value] of Object.entries(metadata))
      assert.equal(info.metadata[""][key], value, key);
    assert.deepEqual(
      info.bands.map((b: { description: string }) => b.description),
      bandNames,
    );
    const tiff = await fromFile(path);
    try {
      const image = await tiff.getImage(0);
      const items = (await image.getGDALMetadata()) as Record<string, string>;
      assert.equal(items.CLOUDY_PIXEL_PERCENTAGE, "12.5");
      assert.equal(items.MGRS_TILE, "17PMK");
    } finally {
      await tiff.close();
    }
  });

  test("metadata names GDAL could not read back are refused with what is allowed", async () => {
    await assert.rejects(
      GeoTiffWriter.open(join(freshDir(), "x.tif"), baseSpec({ metadata: { "bad name": "x" } })),
      /metadata name "bad name" must be letters, digits/,
    );
  });
});
