/** The official client and raw REST calls against a running emulator. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fromArrayBuffer } from "geotiff";
import { PNG } from "pngjs";
import { crsFromCode } from "../../src/core/crs";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

let emulator: RunningEmulator;
let bbox: Any;
const COLLECTION = "COPERNICUS/S2_SR_HARMONIZED";

function evaluate<T>(obj: Any): Promise<T> {
  return new Promise((resolve, reject) =>
    obj.evaluate((r: T, e?: string) => (e ? reject(new Error(e)) : resolve(r))),
  );
}

function evaluateError(obj: Any): Promise<string> {
  return new Promise((resolve) => obj.evaluate((_r: unknown, e?: string) => resolve(String(e))));
}

function wire(obj: Any): unknown {
  return JSON.parse(ee.Serializer.toCloudApiJSON(obj));
}

function post(endpoint: string, body: unknown): Promise<Response> {
  return fetch(`${emulator.url}/v1/projects/${emulator.project}/${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function searchIds(): Promise<string[]> {
  return evaluate<string[]>(
    ee
      .ImageCollection(COLLECTION)
      .filterDate("2024-01-01", "2024-07-31")
      .filterBounds(bbox)
      .filter(ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", 85))
      .map((img: Any) => img.unmask(-1))
      .aggregate_array("system:index"),
  );
}

function snippet(id: string): Any {
  return ee
    .Image(`${COLLECTION}/${id}`)
    .clip(bbox)
    .visualize({ bands: ["B8", "B4", "B3"], min: 0, max: 5000, gamma: [1.35, 1.35, 1.35] })
    .clip(bbox)
    .paint(bbox, "0000ffff", 2);
}

/** A 10 m UTM grid over the tutorial's AOI (plus a margin, so clipping shows in the mask). */
function utmGrid(scale = 10, width = 1100, height = 1100) {
  const [x, y] = crsFromCode("EPSG:32617").forward(-82.49, 8.45);
  return {
    crsCode: "EPSG:32617",
    affineTransform: {
      scaleX: scale,
      shearX: 0,
      translateX: Math.round(x),
      shearY: 0,
      scaleY: -scale,
      translateY: Math.round(y),
    },
    dimensions: { width, height },
  };
}

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
  bbox = ee.Geometry.Rectangle([-82.48, 8.35, -82.39, 8.44]);
});

after(async () => {
  await emulator?.stop();
});

test("the tutorial's search returns scene ids through the official client", async () => {
  const ids = await searchIds();
  assert.ok(ids.length > 20, `only ${ids.length} ids`);
  for (const id of ids) assert.match(id, /^2024\d{4}T\d{6}_\d{8}T\d{6}_T17PLK$/);
  assert.deepEqual(await searchIds(), ids, "deterministic");
});

test("getInfo of an image has Earth Engine's shape", async () => {
  const [id] = await searchIds();
  const info = await new Promise<Any>((resolve, reject) =>
    ee
      .Image(`${COLLECTION}/${id}`)
      .getInfo((r: Any, e?: string) => (e ? reject(new Error(e)) : resolve(r))),
  );
  assert.equal(info.type, "Image");
  assert.equal(info.id, `${COLLECTION}/${id}`);
  assert.deepEqual(
    info.bands.map((b: Any) => b.id),
    [
      "B1",
      "B2",
      "B3",
      "B4",
      "B5",
      "B6",
      "B7",
      "B8",
      "B8A",
      "B9",
      "B11",
      "B12",
      "AOT",
      "WVP",
      "SCL",
      "TCI_R",
      "TCI_G",
      "TCI_B",
      "MSK_CLDPRB",
      "MSK_SNWPRB",
      "QA10",
      "QA20",
      "QA60",
    ].filter((b) => info.bands.some((x: Any) => x.id === b)),
  );
  assert.equal(info.properties.MGRS_TILE, "17PLK");
  assert.equal(typeof info.properties.CLOUDY_PIXEL_PERCENTAGE, "number");
  const vis = await evaluate<Any>(snippet(id));
  assert.deepEqual(
    vis.bands.map((b: Any) => [b.id, b.data_type.precision, b.data_type.max]),
    [
      ["vis-red", "int", 255],
      ["vis-green", "int", 255],
      ["vis-blue", "int", 255],
    ],
  );
});

test("getThumbURL gives a PNG that decodes", async () => {
  const [id] = await searchIds();
  const url = await new Promise<string>((resolve, reject) =>
    snippet(id).getThumbURL(
      { dimensions: 256, region: bbox, format: "png" },
      (u: string, e?: string) => (e ? reject(new Error(e)) : resolve(u)),
    ),
  );
  assert.ok(url.startsWith(`${emulator.url}/v1/projects/${emulator.project}/thumbnails/`));
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/png");
  const png = PNG.sync.read(Buffer.from(await response.arrayBuffer()));
  assert.equal(Math.max(png.width, png.height), 256);
  let opaque = 0;
  for (let i = 3; i < png.data.length; i += 4) if (png.data[i] === 255) opaque++;
  assert.ok(opaque > png.width * png.height * 0.5, "mostly valid pixels inside the AOI");
});

test("getDownloadURL serves a GeoTIFF", async () => {
  const [id] = await searchIds();
  const url = await new Promise<string>((resolve, reject) =>
    ee
      .Image(`${COLLECTION}/${id}`)
      .select(["B4"])
      .getDownloadURL({ region: bbox, scale: 60, format: "GEO_TIFF" }, (u: string, e?: string) =>
        e ? reject(new Error(e)) : resolve(u),
      ),
  );
  const response = await fetch(url);
  assert.equal(response.status, 200);
  const tiff = await fromArrayBuffer(await response.arrayBuffer());
  const image = await tiff.getImage();
  assert.equal(image.getSamplesPerPixel(), 1);
  assert.ok(image.getWidth() > 50);
});

test("computePixels GEO_TIFF: dimensions, georeferencing, values, mask; gdalinfo agrees", async () => {
  const [id] = await searchIds();
  const grid = utmGrid();
  const response = await post("image:computePixels", {
    expression: wire(snippet(id)),
    fileFormat: "GEO_TIFF",
    grid,
  });
  assert.equal(response.status, 200, await response.clone().text());
  const bytes = Buffer.from(await response.arrayBuffer());
  const again = Buffer.from(
    await (
      await post("image:computePixels", {
        expression: wire(snippet(id)),
        fileFormat: "GEO_TIFF",
        grid,
      })
    ).arrayBuffer(),
  );
  assert.ok(bytes.equals(again), "same request, same bytes");
  const tiff = await fromArrayBuffer(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
  );
  const image = await tiff.getImage();
  assert.equal(image.getWidth(), 1100);
  assert.equal(image.getHeight(), 1100);
  assert.deepEqual(image.getOrigin().slice(0, 2), [
    grid.affineTransform.translateX,
    grid.affineTransform.translateY,
  ]);
  assert.deepEqual(image.getResolution().slice(0, 2), [10, -10]);
  const rasters = (await image.readRasters()) as unknown as Uint8Array[];
  assert.ok(rasters.length >= 3);
  let max = 0;
  for (const v of rasters[0]) max = Math.max(max, v);
  assert.ok(max > 0 && max <= 255);
  const dir = mkdtempSync(path.join(tmpdir(), "emulator-gdal-"));
  try {
    const file = path.join(dir, "snippet.tif");
    writeFileSync(file, bytes);
    const info = JSON.parse(execFileSync("gdalinfo", ["-json", file], { encoding: "utf8" }));
    assert.match(JSON.stringify(info.coordinateSystem), /32617|UTM zone 17N/);
    assert.deepEqual(info.size, [1100, 1100]);
    assert.deepEqual(info.cornerCoordinates.upperLeft, [
      grid.affineTransform.translateX,
      grid.affineTransform.translateY,
    ]);
    assert.deepEqual(info.cornerCoordinates.lowerRight, [
      grid.affineTransform.translateX + 11000,
      grid.affineTransform.translateY - 11000,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("computePixels NPY round trip", async () => {
  const [id] = await searchIds();
  const expression = wire(ee.Image(`${COLLECTION}/${id}`).select(["B4", "B8"]));
  const response = await post("image:computePixels", {
    expression,
    fileFormat: "NPY",
    grid: utmGrid(10, 64, 32),
  });
  assert.equal(response.status, 200);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(bytes.subarray(0, 6).toString("latin1"), "\x93NUMPY");
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString("latin1");
  assert.match(header, /'shape': \(32, 64\)/);
  assert.match(header, /B4/);
  assert.match(header, /B8/);
});

test("errors reach the client's callback verbatim", async () => {
  assert.equal(
    await evaluateError(ee.Image(`${COLLECTION}/20240101T000000_20240101T000000_T17PLK`)),
    `Image.load: Image asset '${COLLECTION}/20240101T000000_20240101T000000_T17PLK' not found (does not exist or caller does not have access).`,
  );
  assert.equal(
    await evaluateError(ee.ImageCollection("NASA/NOPE").size()),
    "ImageCollection.load: ImageCollection asset 'NASA/NOPE' not found (does not exist or caller does not have access).",
  );
  // A function Earth Engine has (so the client offers it) that the emulator does not evaluate.
  assert.equal(typeof ee.Image(1).sqrt, "function");
  assert.match(
    await evaluateError(ee.Image(1).sqrt()),
    /^Image\.sqrt is not implemented by the ee-snippets emulator/,
  );
  const unknown = new ee.ApiFunction("Image.fooBar", {
    name: "Image.fooBar",
    returns: "Image",
    args: [{ name: "input", type: "Image" }],
  });
  assert.equal(
    await evaluateError(new ee.ComputedObject(unknown, { input: ee.Image(1) })),
    "Unknown algorithm: Image.fooBar.",
  );
});

test("malformed and oversized bodies get 400/413, never a crash", async () => {
  const bad = await post("value:compute", "{not json");
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as Any).error.status, "INVALID_ARGUMENT");
  assert.equal((await post("value:compute", { expression: 3 })).status, 400);
  assert.equal(
    (
      await post("value:compute", {
        expression: { result: "0", values: { "0": { functionInvocationValue: 7 } } },
      })
    ).status,
    400,
  );
  assert.equal(
    (
      await post("image:computePixels", {
        expression: wire(ee.Image(1)),
        fileFormat: "GEO_TIFF",
        grid: { crsCode: "EPSG:9999" },
      })
    ).status,
    400,
  );
  const huge = await post("value:compute", { pad: "x".repeat(11 * 1024 * 1024) });
  assert.equal(huge.status, 413);
  const unknown = await fetch(`${emulator.url}/v1/projects/${emulator.project}/nothing`);
  assert.equal(unknown.status, 404);
  assert.equal((await fetch(`${emulator.url}/emulator/status`)).status, 200, "still alive");
});

test("Earth Engine's request limits and their exact messages", async () => {
  const expression = wire(
    ee.Image(`${COLLECTION}/${(await searchIds())[0]}`).select(["B4", "B3", "B2"]),
  );
  const big = await post("image:computePixels", {
    expression,
    fileFormat: "GEO_TIFF",
    grid: utmGrid(10, 4000, 4000),
  });
  assert.equal(big.status, 400);
  // Earth Engine counts width x height x bytes x (bands + 1): a captured refusal reads
  // "Total request size (57353670 bytes)" for 1845 x 1727 px of 8 int16 bands.
  const total = 4000 * 4000 * 2 * (3 + 1);
  assert.equal(
    ((await big.json()) as Any).error.message,
    `Total request size (${total} bytes) must be less than or equal to 50331648 bytes.`,
  );
  const wide = await post("image:computePixels", {
    expression,
    fileFormat: "GEO_TIFF",
    grid: utmGrid(10, 40000, 1),
  });
  assert.equal(wide.status, 400);
  assert.match(((await wide.json()) as Any).error.message, /32768/);
});

test("status reports requests, in-flight maxima per endpoint and CPU time", async () => {
  await fetch(`${emulator.url}/emulator/reset-stats`, { method: "POST" });
  await Promise.all([1, 2, 3].map(() => evaluate(ee.Image(1).bandNames())));
  const status = await emulator.status();
  assert.equal(status.stats.byEndpoint.compute.requests, 3);
  assert.ok(status.stats.byEndpoint.compute.maxInFlight >= 1);
  assert.ok(status.stats.cpuMs >= 0);
  assert.equal(status.model.latencyMs, 0);
});
