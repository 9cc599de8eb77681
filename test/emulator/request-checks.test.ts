/**
 * What Earth Engine refuses or honours in a request, against a running emulator: nesting
 * depth (100 levels), grid.crsWkt, computePixels' visualizationOptions, and the 400 naming a
 * function the emulator does not implement.
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

before(async () => {
  ({ emulator } = await emulatorWithClient({ latencyMs: 0 }));
});

after(() => emulator.stop());

function wire(obj: Any): unknown {
  return JSON.parse(ee.Serializer.toCloudApiJSON(obj));
}

function evaluate(obj: Any): Promise<{ result?: unknown; error?: string }> {
  return new Promise((resolve) =>
    obj.evaluate((result: unknown, error?: string) => resolve(error ? { error } : { result })),
  );
}

function post(endpoint: string, body: unknown): Promise<Response> {
  return fetch(`${emulator.url}/v1/projects/${emulator.project}/${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** JSON object/list nesting of a value, as the emulator counts a request. */
function nesting(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(nesting));
  if (value && typeof value === "object")
    return 1 + Math.max(0, ...Object.values(value).map(nesting));
  return 0;
}

function nestedList(levels: number): unknown {
  let list: unknown = [1];
  for (let i = 1; i < levels; i++) list = [list];
  return list;
}

test("a request nested 100 levels is computed; 101 is refused with 400 naming the limit", async () => {
  // The official client never sends more than 100: its serializer hoists nodes past depth 50
  // into references ("the backend's limit is 100"), so a 150-deep list arrives shallower.
  const deepFromClient = ee.List(nestedList(150));
  assert.ok(nesting({ expression: wire(deepFromClient) }) <= 100);
  const fromClient = await evaluate(deepFromClient);
  assert.equal(fromClient.error, undefined);
  assert.equal(nesting(fromClient.result), 150);
  // A hand-built request: body, expression, values, the value node, then the list's levels.
  const body = (levels: number) => ({
    expression: { result: "0", values: { "0": { constantValue: nestedList(levels) } } },
  });
  assert.equal(nesting(body(96)), 100);
  const accepted = await post("value:compute", body(96));
  assert.equal(accepted.status, 200);
  assert.equal(nesting(((await accepted.json()) as Any).result), 96);
  const refused = await post("value:compute", body(97));
  assert.equal(refused.status, 400);
  const { error } = (await refused.json()) as Any;
  assert.equal(error.status, "INVALID_ARGUMENT");
  assert.match(
    error.message,
    /^Expression nested too deeply: the request nests 101 levels, Earth Engine accepts at most 100\./,
  );
});

test("a function Earth Engine has but the emulator does not is a 400 naming it", async () => {
  const response = await post("value:compute", { expression: wire(ee.Image(1).sqrt()) });
  assert.equal(response.status, 400);
  const { error } = (await response.json()) as Any;
  assert.equal(error.status, "INVALID_ARGUMENT");
  assert.match(error.message, /^Image\.sqrt is not implemented by the ee-snippets emulator/);
});

const UTM17N_WKT1 = `PROJCS["WGS 84 / UTM zone 17N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",-81],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","32617"]]`;
/** The same CRS without authority codes: recognised by its parameters. */
const UTM17N_PARAMETERS = UTM17N_WKT1.replace(/,AUTHORITY\["EPSG","\d+"\]/g, "");
const UTM17N_WKT2 = `PROJCRS["WGS 84 / UTM zone 17N",BASEGEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]]],CONVERSION["UTM zone 17N",METHOD["Transverse Mercator"],PARAMETER["Latitude of natural origin",0],PARAMETER["Longitude of natural origin",-81],PARAMETER["Scale factor at natural origin",0.9996],PARAMETER["False easting",500000],PARAMETER["False northing",0]],CS[Cartesian,2],LENGTHUNIT["metre",1],ID["EPSG",32617]]`;
const WGS84_WKT1 = `GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]`;
const MERCATOR_WKT1 = `PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Mercator_1SP"],PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","3857"]]`;

function utmAffine() {
  const [x, y] = crsFromCode("EPSG:32617").forward(-82.45, 8.42);
  return {
    scaleX: 20,
    shearX: 0,
    translateX: Math.round(x),
    shearY: 0,
    scaleY: -20,
    translateY: Math.round(y),
  };
}

async function pixelsOf(grid: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const image = ee
    .Image("COPERNICUS/S2_SR_HARMONIZED/20240103T155907_20240103T160722_T17PLK")
    .select(["B4", "B3"]);
  return post("image:computePixels", {
    expression: wire(image),
    fileFormat: "NPY",
    grid: { dimensions: { width: 32, height: 24 }, ...grid },
    ...extra,
  });
}

test("grid.crsWkt: WGS 84 / UTM and WGS 84 as WKT render as their EPSG codes; others are refused naming the CRS", async () => {
  const byCode = Buffer.from(
    await (await pixelsOf({ crsCode: "EPSG:32617", affineTransform: utmAffine() })).arrayBuffer(),
  );
  for (const wkt of [UTM17N_WKT1, UTM17N_PARAMETERS, UTM17N_WKT2]) {
    const response = await pixelsOf({ crsWkt: wkt, affineTransform: utmAffine() });
    assert.equal(response.status, 200, await response.clone().text());
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(byCode), wkt.slice(0, 40));
  }
  const degrees = {
    scaleX: 0.0002,
    shearX: 0,
    translateX: -82.45,
    shearY: 0,
    scaleY: -0.0002,
    translateY: 8.42,
  };
  const geographic = Buffer.from(
    await (await pixelsOf({ crsCode: "EPSG:4326", affineTransform: degrees })).arrayBuffer(),
  );
  const wgs84 = await pixelsOf({ crsWkt: WGS84_WKT1, affineTransform: degrees });
  assert.equal(wgs84.status, 200);
  assert.ok(Buffer.from(await wgs84.arrayBuffer()).equals(geographic));

  const mercator = await pixelsOf({ crsWkt: MERCATOR_WKT1, affineTransform: utmAffine() });
  assert.equal(mercator.status, 400);
  assert.match(
    ((await mercator.json()) as Any).error.message,
    /^grid\.crsWkt: CRS "WGS 84 \/ Pseudo-Mercator" is not supported by the ee-snippets emulator \(EPSG:3857\)/,
  );
  const utm33Wrong = UTM17N_PARAMETERS.replace('"false_easting",500000', '"false_easting",400000');
  const wrong = await pixelsOf({ crsWkt: utm33Wrong, affineTransform: utmAffine() });
  assert.equal(wrong.status, 400);
  assert.match(((await wrong.json()) as Any).error.message, /WGS 84 \/ UTM zone 17N/);
  const garbage = await pixelsOf({ crsWkt: "PROJCS[oops", affineTransform: utmAffine() });
  assert.equal(garbage.status, 400);
  assert.match(((await garbage.json()) as Any).error.message, /grid\.crsWkt is not valid WKT/);
});

/** The pixels of an NPY body as bytes (a uint8 structured or plain array; header skipped). */
function npyBytes(buffer: Buffer): { header: string; data: Buffer } {
  const headerLength = buffer.readUInt16LE(8);
  return {
    header: buffer.subarray(10, 10 + headerLength).toString("latin1"),
    data: buffer.subarray(10 + headerLength),
  };
}

test("computePixels honours visualizationOptions: ranges and gamma, palette, after bandIds", async () => {
  const grid = {
    crsCode: "EPSG:32617",
    affineTransform: utmAffine(),
    dimensions: { width: 4, height: 2 },
  };
  const constant = ee.Image([1000, 2000, 3000, 9]);
  const ranged = await post("image:computePixels", {
    expression: wire(constant),
    fileFormat: "NPY",
    grid,
    bandIds: ["constant", "constant_1", "constant_2"],
    visualizationOptions: { ranges: [{ min: 0, max: 4000 }] },
  });
  assert.equal(ranged.status, 200, await ranged.clone().text());
  const { header, data } = npyBytes(Buffer.from(await ranged.arrayBuffer()));
  assert.match(header, /vis-red/);
  assert.match(header, /\|u1/);
  // Structured NPY: one record per pixel, vis-red, vis-green, vis-blue bytes.
  assert.deepEqual([...data.subarray(0, 3)], [64, 128, 191]);
  const palette = await post("image:computePixels", {
    expression: wire(constant),
    fileFormat: "NPY",
    grid,
    bandIds: ["constant_3"],
    visualizationOptions: {
      ranges: [{ min: 0, max: 9 }],
      paletteColors: ["000000", "ff0000"],
      gamma: { value: 1 },
    },
  });
  assert.equal(palette.status, 200);
  assert.deepEqual(
    [...npyBytes(Buffer.from(await palette.arrayBuffer())).data.subarray(0, 3)],
    [255, 0, 0],
  );
  const unknown = await post("image:computePixels", {
    expression: wire(constant),
    fileFormat: "NPY",
    grid,
    visualizationOptions: { gain: [1] },
  });
  assert.equal(unknown.status, 400);
  assert.match(
    ((await unknown.json()) as Any).error.message,
    /visualizationOptions\.gain is not supported/,
  );
});
