/**
 * A geometry's own CRS is honoured, never read as degrees (issue 10 point 11): a projected
 * Rectangle (what the Python client's getDownloadURL(crs, crs_transform, dimensions) sends)
 * clips where it says, and a CRS or flag the emulator cannot honour is a 400 naming it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { crsFromCode } from "../../src/core/crs";
import type { RunningEmulator } from "../../src/emulator/index";
import { emulatorWithClient } from "./offline-client";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

let emulator: RunningEmulator;
const utm = crsFromCode("EPSG:32617");
const [x0, y0] = utm.forward(-82.46, 8.42).map((v) => Math.round(v / 10) * 10);
/** 2 km x 1 km in UTM 17N, inside the tutorial's AOI. */
const utmBox = [x0, y0 - 1000, x0 + 2000, y0];

function evaluate<T>(obj: Any): Promise<T> {
  return new Promise((resolve, reject) =>
    obj.evaluate((r: T, e?: string) => (e ? reject(new Error(e)) : resolve(r))),
  );
}

function evaluateError(obj: Any): Promise<string> {
  return new Promise((resolve) => obj.evaluate((_r: unknown, e?: string) => resolve(String(e))));
}

before(async () => {
  ({ emulator } = await emulatorWithClient({ latencyMs: 0, msPerMegapixel: 0, bandwidthMBps: 0 }));
});

after(async () => {
  await emulator?.stop();
});

test("a Rectangle in a UTM crs is converted to lon/lat, not read as degrees", async () => {
  const rect = ee.Geometry.Rectangle(utmBox, ee.Projection("EPSG:32617"), false);
  const info = await evaluate<{ type: string; coordinates: number[][][] }>(rect);
  assert.equal(info.type, "Polygon");
  const ring = info.coordinates[0];
  const lons = ring.map((p) => p[0]);
  const lats = ring.map((p) => p[1]);
  const [west, north] = utm.inverse(utmBox[0], utmBox[3]);
  const [east, south] = utm.inverse(utmBox[2], utmBox[1]);
  assert.ok(
    Math.abs(Math.min(...lons) - Math.min(west, utm.inverse(utmBox[0], utmBox[1])[0])) < 1e-6,
  );
  assert.ok(Math.max(...lons) <= east + 1e-4 && Math.max(...lons) > east - 1e-3);
  assert.ok(Math.max(...lats) <= north + 1e-4 && Math.min(...lats) >= south - 1e-4);
  // Densified edges: straight in UTM, so every vertex maps back onto the UTM box's outline.
  for (const [lon, lat] of ring) {
    const [x, y] = utm.forward(lon, lat);
    const onEdge = [
      Math.abs(x - utmBox[0]),
      Math.abs(x - utmBox[2]),
      Math.abs(y - utmBox[1]),
      Math.abs(y - utmBox[3]),
    ].some((d) => d < 1e-3);
    assert.ok(onEdge, `vertex ${lon},${lat} -> ${x},${y} off the box`);
  }
});

test("a Rectangle in Web Mercator is converted to lon/lat too", async () => {
  const mercator = crsFromCode("EPSG:3857");
  const [mx0, my0] = mercator.forward(-82.46, 8.42);
  const box = [mx0, my0 - 1000, mx0 + 2000, my0];
  const info = await evaluate<{ coordinates: number[][][] }>(
    ee.Geometry.Rectangle(box, "EPSG:3857", false),
  );
  for (const [lon, lat] of info.coordinates[0]) {
    const [x, y] = mercator.forward(lon, lat);
    assert.ok(x >= box[0] - 1e-3 && x <= box[2] + 1e-3, `x ${x} outside the box`);
    assert.ok(y >= box[1] - 1e-3 && y <= box[3] + 1e-3, `y ${y} outside the box`);
  }
  const lons = info.coordinates[0].map((p) => p[0]);
  assert.ok(Math.abs(Math.min(...lons) - -82.46) < 1e-9, "the west edge is the box's");
});

test("a clip by a projected Rectangle masks exactly the UTM box (not a tile of zeros)", async () => {
  const ids = await evaluate<string[]>(
    ee
      .ImageCollection("COPERNICUS/S2_SR_HARMONIZED")
      .filterDate("2024-01-01", "2024-02-01")
      .filterBounds(ee.Geometry.Point([-82.45, 8.41]))
      .aggregate_array("system:index"),
  );
  const rect = ee.Geometry.Rectangle(utmBox, "EPSG:32617", false);
  const image = ee.Image(`COPERNICUS/S2_SR_HARMONIZED/${ids[0]}`).select("B4").clip(rect);
  // A 10 m grid 500 m wider than the box on each side.
  const response = await fetch(
    `${emulator.url}/v1/projects/${emulator.project}/image:computePixels`,
    {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        expression: JSON.parse(ee.Serializer.toCloudApiJSON(image)),
        fileFormat: "NPY",
        grid: {
          crsCode: "EPSG:32617",
          affineTransform: {
            scaleX: 10,
            shearX: 0,
            translateX: utmBox[0] - 500,
            shearY: 0,
            scaleY: -10,
            translateY: utmBox[3] + 500,
          },
          dimensions: { width: 300, height: 200 },
        },
      }),
    },
  );
  assert.equal(response.status, 200, await response.clone().text());
  const body = new Uint8Array(await response.arrayBuffer());
  // NPY: a masked array has the values and then... read the header to find the data.
  const headerLength = body[8] | (body[9] << 8);
  const header = new TextDecoder().decode(body.subarray(10, 10 + headerLength));
  assert.match(header, /'descr'/);
  const data = body.subarray(10 + headerLength);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const valueAt = (c: number, r: number) => view.getUint16((r * 300 + c) * 2, true);
  // Inside the box (50 px in from the grid's edge): data; outside: no data.
  let inside = 0;
  let outsideNonZero = 0;
  for (let r = 0; r < 200; r++) {
    for (let c = 0; c < 300; c++) {
      const inBox = c >= 50 && c < 250 && r >= 50 && r < 150;
      const v = valueAt(c, r);
      if (inBox && v !== 0) inside++;
      if (!inBox && v !== 0) outsideNonZero++;
    }
  }
  assert.equal(inside, 200 * 100, "every pixel of the box has data");
  assert.equal(outsideNonZero, 0, "nothing outside the box");
});

test("a CRS or flag the emulator cannot honour is a 400 naming it", async () => {
  // Lambert-93: the emulator knows WGS84, Web Mercator and the WGS84 UTM zones only.
  const lambert = await evaluateError(ee.Geometry.Rectangle(utmBox, "EPSG:2154", false));
  // The client wraps a crs string in a Projection: the refusal comes from there.
  assert.match(lambert, /Unsupported CRS "EPSG:2154"/);
  const evenOdd = await evaluateError(
    ee.Geometry.Polygon(
      [
        [
          [-82.46, 8.42],
          [-82.44, 8.42],
          [-82.44, 8.4],
          [-82.46, 8.4],
        ],
        [
          [-82.455, 8.415],
          [-82.445, 8.415],
          [-82.445, 8.405],
        ],
      ],
      null,
      // The client itself refuses evenOdd false with planar edges.
      true,
      null,
      false,
    ),
  );
  assert.match(evenOdd, /evenOdd/);
  const bounds = await evaluateError(
    ee.Geometry.Point([-82.45, 8.41]).bounds(null, ee.Projection("EPSG:32617")),
  );
  assert.match(bounds, /proj/);
  const zone = await evaluateError(ee.Date("2024-01-01", "America/Panama"));
  assert.match(zone, /timeZone/);
});

test("geodesic edges follow the great circle", async () => {
  const line = await evaluate<{ coordinates: number[][] }>(
    ee.Geometry.LineString([-60, 40, 0, 40], null, true),
  );
  const mid = line.coordinates[Math.floor(line.coordinates.length / 2)];
  // The great circle between two points on 40 N bows towards the pole: at its middle,
  // tan(lat) = tan(40) / cos(30), 44.1 degrees.
  assert.ok(Math.abs(mid[1] - 44.095) < 0.01, `midpoint latitude ${mid[1]}`);
  const planar = await evaluate<{ coordinates: number[][] }>(
    ee.Geometry.LineString([-60, 40, 0, 40], null, false),
  );
  assert.deepEqual(planar.coordinates, [
    [-60, 40],
    [0, 40],
  ]);
});
