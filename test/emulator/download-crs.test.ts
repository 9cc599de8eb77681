/** getDownloadURL's `crs` through the official client: the GeoTIFF comes back in that CRS. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fromArrayBuffer } from "geotiff";
import { crsFromCode } from "../../src/core/crs";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

const COLLECTION = "COPERNICUS/S2_SR_HARMONIZED";
/** The tutorial's AOI around David, Chiriqui, in UTM zone 17N. */
const WEST = -82.48;
const SOUTH = 8.35;
const EAST = -82.39;
const NORTH = 8.44;

let emulator: RunningEmulator;

before(async () => {
  emulator = await startEmulator({ latencyMs: 0, msPerMegapixel: 0, bandwidthMBps: 0 });
  await new Promise<void>((resolve, reject) =>
    ee.initialize(
      emulator.url,
      emulator.url,
      resolve,
      (e: unknown) => reject(e),
      null,
      emulator.project,
    ),
  );
});

after(async () => {
  await emulator?.stop();
});

function downloadUrl(image: Any, params: Record<string, unknown>): Promise<string> {
  return new Promise((resolve, reject) =>
    image.getDownloadURL(params, (url: string, error?: string) =>
      error ? reject(new Error(error)) : resolve(url),
    ),
  );
}

async function firstImage(region: Any): Promise<Any> {
  const ids = await new Promise<string[]>((resolve, reject) =>
    ee
      .ImageCollection(COLLECTION)
      .filterDate("2024-01-01", "2024-02-01")
      .filterBounds(region)
      .aggregate_array("system:index")
      .evaluate((r: string[], e?: string) => (e ? reject(new Error(e)) : resolve(r))),
  );
  assert.ok(ids.length > 0, "the emulator has scenes over the AOI");
  return ee.Image(`${COLLECTION}/${ids[0]}`).select(["B4", "B3"]);
}

function gdalAvailable(): boolean {
  try {
    execFileSync("gdalinfo", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

for (const crsCode of ["EPSG:32617", "EPSG:4326"]) {
  test(`getDownloadURL({crs: "${crsCode}", scale, region, format: "GEO_TIFF"}) answers in ${crsCode}`, async () => {
    const region = ee.Geometry.Rectangle([WEST, SOUTH, EAST, NORTH]);
    const image = await firstImage(region);
    const url = await downloadUrl(image, {
      crs: crsCode,
      scale: 30,
      region,
      format: "GEO_TIFF",
    });
    const response = await fetch(url);
    assert.equal(response.status, 200, await response.clone().text());
    const bytes = Buffer.from(await response.arrayBuffer());
    const tiff = await fromArrayBuffer(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    );
    const tile = await tiff.getImage();
    const epsg = crsFromCode(crsCode).epsg;
    const keys = tile.getGeoKeys() as Record<string, number>;
    assert.equal(keys.ProjectedCSTypeGeoKey ?? keys.GeographicTypeGeoKey, epsg);
    assert.equal(tile.getSamplesPerPixel(), 2);

    // The region's bounds in the requested CRS, at 30 m (in degrees for EPSG:4326).
    const crs = crsFromCode(crsCode);
    const corners = [
      crs.forward(WEST, SOUTH),
      crs.forward(EAST, SOUTH),
      crs.forward(EAST, NORTH),
      crs.forward(WEST, NORTH),
    ];
    const xmin = Math.min(...corners.map((c) => c[0]));
    const ymax = Math.max(...corners.map((c) => c[1]));
    const [originX, originY] = tile.getOrigin();
    const [resX, resY] = tile.getResolution();
    const pixel = crs.units === "degree" ? 30 / 111319.49079327357 : 30;
    assert.ok(Math.abs(Math.abs(resX) - pixel) / pixel < 0.05, `pixel size ${resX}`);
    assert.ok(resY < 0, "north-up");
    assert.ok(Math.abs(originX - xmin) < pixel, `west edge ${originX} vs ${xmin}`);
    assert.ok(Math.abs(originY - ymax) < pixel, `north edge ${originY} vs ${ymax}`);
    // ~10 km at 30 m is ~330 pixels a side.
    assert.ok(tile.getWidth() > 280 && tile.getWidth() < 380, `width ${tile.getWidth()}`);

    if (!gdalAvailable()) return;
    const dir = mkdtempSync(path.join(tmpdir(), "emulator-download-crs-"));
    try {
      const file = path.join(dir, "download.tif");
      writeFileSync(file, bytes);
      const info = JSON.parse(execFileSync("gdalinfo", ["-json", file], { encoding: "utf8" }));
      const wkt = JSON.stringify(info.coordinateSystem);
      assert.match(wkt, crsCode === "EPSG:32617" ? /UTM zone 17N/ : /WGS 84/);
      if (crsCode === "EPSG:4326") assert.doesNotMatch(wkt, /UTM/);
      const [ulx, uly] = info.cornerCoordinates.upperLeft;
      assert.ok(Math.abs(ulx - originX) < 1e-6 * Math.max(1, Math.abs(originX)));
      assert.ok(Math.abs(uly - originY) < 1e-6 * Math.max(1, Math.abs(originY)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
