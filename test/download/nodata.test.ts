/**
 * Masked pixels are marked, not counted: a download's GDAL_NODATA is the value Earth Engine
 * (here the emulator) fills masked pixels with for the output's type, so GDAL's statistics
 * see only the valid pixels. Checked with GDAL itself (`gdalinfo -json -stats`).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { downloadImage } from "../../src/download";
import type { Ee, EeImage } from "../../src/ee/client";
import {
  CENTER,
  eeFor,
  type RunningEmulator,
  sessionFor,
  startEmulator,
} from "../reliability/helpers";

const run = promisify(execFile);

const [lon, lat] = CENTER;
const D = 0.01;
const region = {
  type: "Polygon" as const,
  coordinates: [
    [
      [lon, lat],
      [lon + D, lat],
      [lon + D, lat + D],
      [lon, lat + D],
      [lon, lat],
    ],
  ],
};

interface GdalBand {
  type: string;
  noDataValue?: number | string;
  minimum?: number;
  maximum?: number;
  metadata?: { ""?: Record<string, string> };
}

async function gdalStats(path: string): Promise<GdalBand[]> {
  const { stdout } = await run("gdalinfo", ["-json", "-stats", path]);
  return (JSON.parse(stdout) as { bands: GdalBand[] }).bands;
}

let emulator: RunningEmulator;
let ee: Ee;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nodata-test-"));
  emulator = await startEmulator({ latencyMs: 0, msPerMegapixel: 0, bandwidthMBps: 0 });
  ee = await eeFor(emulator);
});
after(async () => {
  await emulator?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A constant image clipped to the region's lower-left triangle: the rest is masked. */
function triangle(value: number): EeImage {
  const shape = ee.Geometry.Polygon([
    [
      [lon, lat],
      [lon + D, lat],
      [lon, lat + D],
      [lon, lat],
    ],
  ]);
  return ee.Image(value).clip(shape);
}

async function download(image: EeImage, name: string, nodata?: number) {
  const session = await sessionFor(emulator, ee);
  const path = join(dir, name);
  const result = await downloadImage(session, image, path, { region, scale: 10, nodata });
  return { result, bands: await gdalStats(path) };
}

function validPercent(band: GdalBand): number {
  return Number(band.metadata?.[""]?.STATISTICS_VALID_PERCENT);
}

describe("masked pixels are nodata", () => {
  it("int16: masked pixels carry the type's minimum, marked as nodata", async () => {
    const { result, bands } = await download(triangle(-300), "int16.tif");
    assert.equal(result.sampleType, "int16");
    assert.equal(bands[0].type, "Int16");
    assert.equal(Number(bands[0].noDataValue), -32768);
    assert.equal(bands[0].minimum, -300, "masked pixels counted as data");
    assert.equal(bands[0].maximum, -300);
    const valid = validPercent(bands[0]);
    assert.ok(valid > 30 && valid < 70, `${valid}% valid, about half expected`);
  });

  it("float: masked pixels are -inf, marked as nodata", async () => {
    const { result, bands } = await download(triangle(0.25), "float.tif");
    assert.ok(result.sampleType.startsWith("float"), result.sampleType);
    assert.match(bands[0].type, /^Float/);
    assert.equal(String(bands[0].noDataValue).toLowerCase().replace("infinity", "inf"), "-inf");
    assert.equal(bands[0].minimum, 0.25, "masked pixels counted as data");
    assert.equal(bands[0].maximum, 0.25);
    const valid = validPercent(bands[0]);
    assert.ok(valid > 30 && valid < 70, `${valid}% valid, about half expected`);
  });

  it("float32: masked pixels are -inf, marked as nodata", async () => {
    const image = (triangle(0.25) as unknown as { toFloat(): EeImage }).toFloat();
    const { result, bands } = await download(image, "float32.tif");
    assert.equal(result.sampleType, "float32");
    assert.equal(bands[0].type, "Float32");
    assert.equal(String(bands[0].noDataValue).toLowerCase().replace("infinity", "inf"), "-inf");
    assert.equal(bands[0].minimum, 0.25, "masked pixels counted as data");
    const valid = validPercent(bands[0]);
    assert.ok(valid > 30 && valid < 70, `${valid}% valid, about half expected`);
  });

  it("a nodata given unmasks with it: masked pixels carry it, marked as nodata", async () => {
    const { bands } = await download(triangle(-300), "int16-unmasked.tif", -9999);
    assert.equal(Number(bands[0].noDataValue), -9999);
    assert.equal(bands[0].minimum, -300);
    const valid = validPercent(bands[0]);
    assert.ok(valid > 30 && valid < 70, `${valid}% valid`);
  });

  it("uint8 keeps 0", async () => {
    const { result, bands } = await download(triangle(200), "uint8.tif");
    assert.equal(result.sampleType, "uint8");
    assert.equal(Number(bands[0].noDataValue), 0);
    assert.equal(bands[0].minimum, 200);
  });
});
