/**
 * The maps API: the official client's getMapId and tile URL against the emulator, tiles
 * georeferenced on the Web Mercator tile grid, and Earth Engine's refusals.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PNG } from "pngjs";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index";
import { emulatorWithClient } from "./offline-client";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

const COLLECTION = "COPERNICUS/S2_SR_HARMONIZED";
const FALSE_COLOUR = { bands: ["B8", "B4", "B3"], min: 0, max: 5000, gamma: 1.35 };
// The tutorial's AOI (David, Chiriqui).
const AOI = { west: -82.48, south: 8.35, east: -82.39, north: 8.44 };

let emulator: RunningEmulator;

before(async () => {
  ({ emulator } = await emulatorWithClient({ latencyMs: 0, msPerMegapixel: 0, bandwidthMBps: 0 }));
});

after(async () => {
  await emulator?.stop();
});

function getMapId(image: Any, vis?: Record<string, unknown>): Promise<Any> {
  return new Promise((resolve, reject) =>
    image.getMapId(vis, (mapId: Any, error?: string) =>
      error ? reject(new Error(error)) : resolve(mapId),
    ),
  );
}

function firstSceneId(): Promise<string> {
  return new Promise((resolve, reject) =>
    ee
      .ImageCollection(COLLECTION)
      .filterDate("2024-01-01", "2024-02-01")
      .filterBounds(ee.Geometry.Rectangle([AOI.west, AOI.south, AOI.east, AOI.north]))
      .aggregate_array("system:index")
      .evaluate((ids: string[], error?: string) =>
        error ? reject(new Error(error)) : resolve(ids[0]),
      ),
  );
}

/** Web Mercator tile pixel of a lon/lat at `zoom`, from the slippy-map formulas. */
function worldPixel(lon: number, lat: number, zoom: number): [number, number] {
  const size = 256 * 2 ** zoom;
  const phi = (lat * Math.PI) / 180;
  return [
    ((lon + 180) / 360) * size,
    ((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * size,
  ];
}

/** The EPSG:3857 grid of tile (x, y) at `zoom`, written out here rather than taken from the route. */
function mercatorTileGrid(zoom: number, x: number, y: number) {
  const half = 20037508.342789244;
  const tile = (2 * half) / 2 ** zoom;
  return {
    crsCode: "EPSG:3857",
    affineTransform: {
      scaleX: tile / 256,
      shearX: 0,
      translateX: -half + x * tile,
      shearY: 0,
      scaleY: -tile / 256,
      translateY: half - y * tile,
    },
    dimensions: { width: 256, height: 256 },
  };
}

async function tile(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    body: Buffer.from(await response.arrayBuffer()),
  };
}

function tileUrl(mapName: string, zoom: number | string, x: number | string, y: number | string) {
  return `${emulator.url}/v1/${mapName}/tiles/${zoom}/${x}/${y}`;
}

test("the official client's getMapId names a map, and its tile URL answers a 256 px PNG", async () => {
  const id = await firstSceneId();
  const mapId = await getMapId(ee.Image(`${COLLECTION}/${id}`), FALSE_COLOUR);
  assert.match(mapId.mapid, new RegExp(`^projects/${emulator.project}/maps/[0-9a-f]+$`));
  assert.equal(mapId.urlFormat, `${emulator.url}/v1/${mapId.mapid}/tiles/{z}/{x}/{y}`);
  const [px, py] = worldPixel(-82.435, 8.3958, 12);
  const url = ee.data.getTileUrl(mapId, Math.floor(px / 256), Math.floor(py / 256), 12);
  const reply = await tile(url);
  assert.equal(reply.status, 200);
  assert.equal(reply.type, "image/png");
  const png = PNG.sync.read(reply.body);
  assert.equal(png.width, 256);
  assert.equal(png.height, 256);
  let opaque = 0;
  for (let i = 3; i < png.data.length; i += 4) if (png.data[i] === 255) opaque++;
  assert.equal(opaque, 256 * 256, "the scene covers the AOI's tile entirely");
});

test("a tile's pixels equal computePixels of the same Web Mercator grid", async () => {
  const id = await firstSceneId();
  const image = ee.Image(`${COLLECTION}/${id}`).visualize(FALSE_COLOUR);
  const mapId = await getMapId(image);
  for (const [zoom, lon, lat] of [
    [13, -82.435, 8.3958],
    [9, -82.435, 8.3958],
  ]) {
    const [px, py] = worldPixel(lon, lat, zoom);
    const [x, y] = [Math.floor(px / 256), Math.floor(py / 256)];
    const fromMap = PNG.sync.read((await tile(tileUrl(mapId.mapid, zoom, x, y))).body);
    const response = await fetch(
      `${emulator.url}/v1/projects/${emulator.project}/image:computePixels`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          expression: JSON.parse(ee.Serializer.toCloudApiJSON(image)),
          fileFormat: "PNG",
          grid: mercatorTileGrid(zoom, x, y),
        }),
      },
    );
    assert.equal(response.status, 200, await response.clone().text());
    const fromPixels = PNG.sync.read(Buffer.from(await response.arrayBuffer()));
    assert.ok(fromMap.data.equals(fromPixels.data), `zoom ${zoom} tile ${x},${y} differs`);
  }
});

test("an image clipped to the AOI lands on the AOI's tile pixels", async () => {
  const zoom = 12;
  const aoi = ee.Geometry.Rectangle([AOI.west, AOI.south, AOI.east, AOI.north], null, false);
  const mapId = await getMapId(ee.Image.constant(1).clip(aoi), { min: 0, max: 1 });
  const [west, north] = worldPixel(AOI.west, AOI.north, zoom);
  const [east, south] = worldPixel(AOI.east, AOI.south, zoom);
  // The drawn pixels' extent in world pixels, over every tile the AOI touches.
  let [minCol, minRow, maxCol, maxRow] = [Infinity, Infinity, -1, -1];
  for (let x = Math.floor(west / 256); x <= Math.floor(east / 256); x++) {
    for (let y = Math.floor(north / 256); y <= Math.floor(south / 256); y++) {
      const png = PNG.sync.read((await tile(tileUrl(mapId.mapid, zoom, x, y))).body);
      for (let row = 0; row < 256; row++) {
        for (let col = 0; col < 256; col++) {
          if (png.data[(row * 256 + col) * 4 + 3] === 0) continue;
          minCol = Math.min(minCol, x * 256 + col);
          maxCol = Math.max(maxCol, x * 256 + col);
          minRow = Math.min(minRow, y * 256 + row);
          maxRow = Math.max(maxRow, y * 256 + row);
        }
      }
    }
  }
  // Pixels whose centres fall inside the AOI are drawn: edges within one pixel.
  const near = (actual: number, expected: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= 1, `${what}: pixel ${actual}, expected ~${expected}`);
  near(minCol, west, "west edge");
  near(maxCol + 1, east, "east edge");
  near(minRow, north, "north edge");
  near(maxRow + 1, south, "south edge");
});

test("zoom 0 (the whole world) and zoom 24 are served; zoom -1 and 25 are refused", async () => {
  const mapId = await getMapId(ee.Image.constant(1), { min: 0, max: 1 });
  assert.equal((await tile(tileUrl(mapId.mapid, 0, 0, 0))).status, 200);
  const [px, py] = worldPixel(-82.435, 8.3958, 24);
  const deep = await tile(tileUrl(mapId.mapid, 24, Math.floor(px / 256), Math.floor(py / 256)));
  assert.equal(deep.status, 200);
  for (const zoom of [-1, 25]) {
    const reply = await tile(tileUrl(mapId.mapid, zoom, 0, 0));
    assert.equal(reply.status, 400);
    const { error } = JSON.parse(reply.body.toString());
    assert.equal(error.code, 400);
    assert.equal(error.status, "INVALID_ARGUMENT");
    assert.match(error.message, new RegExp(`zoom ${zoom} is outside 0\\.\\.24`));
  }
});

test("tile coordinates off the world or not integers are refused with 400 INVALID_ARGUMENT", async () => {
  const mapId = await getMapId(ee.Image.constant(1), { min: 0, max: 1 });
  for (const [zoom, x, y, message] of [
    [3, 8, 0, /outside the world at zoom 3: x and y run from 0 to 7/],
    [3, 0, -1, /outside the world/],
    [0, 0, 1, /outside the world/],
    ["abc", 0, 0, /Invalid value at 'zoom' \(TYPE_INT32\), "abc"/],
    [2, "1.5", 0, /Invalid value at 'x' \(TYPE_INT32\), "1.5"/],
  ] as const) {
    const reply = await tile(tileUrl(mapId.mapid, zoom, x, y));
    assert.equal(reply.status, 400, `${zoom}/${x}/${y}`);
    const { error } = JSON.parse(reply.body.toString());
    assert.deepEqual(
      { code: error.code, status: error.status },
      { code: 400, status: "INVALID_ARGUMENT" },
    );
    assert.match(error.message, message);
  }
});

test("an unknown map is 404 NOT_FOUND", async () => {
  const reply = await tile(tileUrl(`projects/${emulator.project}/maps/0123abcd`, 1, 0, 0));
  assert.equal(reply.status, 404);
  const { error } = JSON.parse(reply.body.toString());
  assert.equal(error.code, 404);
  assert.equal(error.status, "NOT_FOUND");
  assert.match(error.message, /Map 'projects\/.+\/maps\/0123abcd' not found/);
});

test("a map of an image that cannot be drawn fails in getMapId's callback", async () => {
  const id = await firstSceneId();
  await assert.rejects(
    getMapId(ee.Image(`${COLLECTION}/${id}`).select(["B8", "B4"])),
    /A map shows 1 or 3 bands; this image has 2 \(B8, B4\)/,
  );
  await assert.rejects(
    new Promise((resolve, reject) =>
      ee.data.getMapId(
        { image: ee.Image.constant(1), format: "tif" },
        (mapId: Any, error?: string) => (error ? reject(new Error(error)) : resolve(mapId)),
      ),
    ),
    /fileFormat 'GEO_TIFF' cannot be a map's format/,
  );
});

test("getMapId's visualizationOptions (ee.data.getMapId with min/max) draw like visualize", async () => {
  const id = await firstSceneId();
  const image = ee.Image(`${COLLECTION}/${id}`);
  const viaOptions = await new Promise<Any>((resolve, reject) =>
    ee.data.getMapId(
      { image: image.select(["B8", "B4", "B3"]), min: "0", max: "5000", gamma: "1.35" },
      (mapId: Any, error?: string) => (error ? reject(new Error(error)) : resolve(mapId)),
    ),
  );
  const viaVisualize = await getMapId(image, FALSE_COLOUR);
  const [px, py] = worldPixel(-82.435, 8.3958, 11);
  const [x, y] = [Math.floor(px / 256), Math.floor(py / 256)];
  const a = PNG.sync.read((await tile(tileUrl(viaOptions.mapid, 11, x, y))).body);
  const b = PNG.sync.read((await tile(tileUrl(viaVisualize.mapid, 11, x, y))).body);
  assert.ok(a.data.equals(b.data));
});

test("tiles cost the model's latency and need no token when the emulator requires one", async () => {
  const guarded = await startEmulator({
    latencyMs: 250,
    msPerMegapixel: 0,
    bandwidthMBps: 0,
    auth: { accessTokens: ["map-test-token"] },
  });
  try {
    const create = await fetch(`${guarded.url}/v1/projects/${guarded.project}/maps`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer map-test-token" },
      body: JSON.stringify({
        expression: JSON.parse(ee.Serializer.toCloudApiJSON(ee.Image.constant(1))),
        visualizationOptions: { ranges: [{ min: 0, max: 1 }] },
      }),
    });
    assert.equal(create.status, 200);
    const { name } = (await create.json()) as { name: string };
    const refused = await fetch(`${guarded.url}/v1/projects/${guarded.project}/maps`, {
      method: "POST",
      body: "{}",
    });
    assert.equal(refused.status, 401, "creating a map needs the token");
    const started = Date.now();
    const reply = await fetch(`${guarded.url}/v1/${name}/tiles/2/1/1`);
    const elapsed = Date.now() - started;
    assert.equal(reply.status, 200, "a tile needs only the map name, as a web page loads it");
    assert.ok(elapsed >= 240, `a tile took ${elapsed} ms, under the modelled 250 ms`);
  } finally {
    await guarded.stop();
  }
});
