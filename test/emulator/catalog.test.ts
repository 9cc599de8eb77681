/**
 * Conformance from the client side: the catalog is Earth Engine's whole list of signatures,
 * the official client builds its API from it offline, every function the tutorial-style calls
 * serialize to is one we implement, and every implementation reads only arguments its
 * signature names.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import ts from "typescript";
import {
  algorithmSignature,
  CATALOG_FILE,
  CatalogError,
  catalogFunctionNames,
  listAlgorithms,
  loadCatalog,
} from "../../src/emulator/catalog";
import { callFunction, evaluateExpression } from "../../src/emulator/evaluate";
import { implementedFunctionNames } from "../../src/emulator/functions";
import { toJson } from "../../src/emulator/functions-describe";
import { offlineClient } from "./offline-client";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

function wire(obj: Any): { result: string; values: Record<string, unknown> } {
  return JSON.parse(ee.Serializer.toCloudApiJSON(obj));
}

function functionNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) functionNames(n, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "functionName" && typeof v === "string") out.add(v);
      else functionNames(v, out);
    }
  }
  return out;
}

/**
 * Which argument names each FUNCTIONS entry reads, from the source: `a.name` on the entry's
 * parameter, followed into same-file helpers the parameter is passed to and into factories
 * (`compareFilter("lessThan")`) that return the implementation. Any other use of the
 * parameter (a computed key, passing it elsewhere) is reported as "<dynamic>", so the check
 * cannot silently miss reads.
 */
function argumentReads(files: string[]): Map<string, Set<string>> {
  const reads = new Map<string, Set<string>>();
  for (const file of files) {
    const source = ts.createSourceFile(
      file,
      readFileSync(file, "utf8"),
      ts.ScriptTarget.Latest,
      true,
    );
    const declarations = new Map<string, ts.FunctionDeclaration>();
    source.forEachChild((node) => {
      if (ts.isFunctionDeclaration(node) && node.name) declarations.set(node.name.text, node);
    });
    const collect = (body: ts.Node, param: string, out: Set<string>): void => {
      const visit = (node: ts.Node): void => {
        if (ts.isIdentifier(node) && node.text === param) {
          const parent = node.parent;
          if (ts.isPropertyAccessExpression(parent) && parent.expression === node) {
            out.add(parent.name.text);
            return;
          }
          if (ts.isParameter(parent)) return;
          if (ts.isCallExpression(parent) && ts.isIdentifier(parent.expression)) {
            const helper = declarations.get(parent.expression.text);
            const position = parent.arguments.indexOf(node as ts.Expression);
            const name = helper?.parameters[position]?.name;
            if (helper?.body && name && ts.isIdentifier(name)) {
              collect(helper.body, name.text, out);
              return;
            }
          }
          out.add("<dynamic>");
          return;
        }
        node.forEachChild(visit);
      };
      visit(body);
    };
    const analyze = (implementation: ts.Expression, out: Set<string>): void => {
      if (ts.isArrowFunction(implementation) || ts.isFunctionExpression(implementation)) {
        const param = implementation.parameters[0]?.name;
        if (param && ts.isIdentifier(param)) collect(implementation.body, param.text, out);
        return;
      }
      if (ts.isCallExpression(implementation) && ts.isIdentifier(implementation.expression)) {
        const factory = declarations.get(implementation.expression.text);
        if (factory?.body) {
          const visit = (node: ts.Node): void => {
            if (ts.isArrowFunction(node)) analyze(node, out);
            else node.forEachChild(visit);
          };
          visit(factory.body);
          return;
        }
      }
      out.add("<dynamic>");
    };
    const visitTop = (node: ts.Node): void => {
      if (
        ts.isVariableDeclaration(node) &&
        ts.isIdentifier(node.name) &&
        /FUNCTIONS$/.test(node.name.text) &&
        node.initializer &&
        ts.isObjectLiteralExpression(node.initializer)
      ) {
        for (const property of node.initializer.properties) {
          if (!ts.isPropertyAssignment(property)) continue;
          const key = property.name;
          const name = ts.isStringLiteral(key) || ts.isIdentifier(key) ? key.text : undefined;
          assert.ok(name, `${file}: a FUNCTIONS key that is not a literal name`);
          const out = new Set<string>();
          analyze(property.initializer, out);
          reads.set(name, out);
        }
      }
      node.forEachChild(visitTop);
    };
    visitTop(source);
  }
  return reads;
}

test("every implemented function is in the catalog and reads only the arguments its signature names", () => {
  const implemented = implementedFunctionNames();
  assert.ok(implemented.length >= 70, `only ${implemented.length} implemented`);
  const reads = argumentReads(
    [
      "functions.ts",
      "functions-query.ts",
      "functions-feature.ts",
      "functions-image.ts",
      "functions-reduce.ts",
    ].map((f) => path.join(__dirname, "../../src/emulator", f)),
  );
  for (const name of implemented) {
    const signature = algorithmSignature(name);
    assert.ok(signature, `${name} is implemented but not in Earth Engine's catalog`);
    const argumentNames = new Set(signature.arguments.map((a) => a.argumentName));
    const read = reads.get(name);
    assert.ok(read, `${name}: its implementation was not found in the source`);
    assert.ok(read.size > 0 || argumentNames.size === 0, `${name} reads no argument`);
    for (const argument of read)
      assert.ok(
        argumentNames.has(argument),
        `${name} reads '${argument}', which its signature (${[...argumentNames].join(", ")}) lacks`,
      );
  }
  assert.deepEqual([...reads.keys()].sort(), implemented, "the source lists what runs");
});

test("the catalog is Earth Engine's whole list of signatures, without description texts", () => {
  const { algorithms } = listAlgorithms();
  assert.equal(algorithms.length, 985);
  const names = catalogFunctionNames();
  assert.equal(new Set(names).size, algorithms.length, "names are unique");
  assert.equal(algorithms.filter((a) => a.hidden === true).length, 93);
  for (const algorithm of algorithms) {
    assert.match(algorithm.name, /^algorithms\/[A-Za-z]/);
    assert.equal(algorithm.description, undefined, `${algorithm.name} carries a description`);
    if (algorithm.deprecated) assert.ok(algorithm.deprecationReason, algorithm.name);
    for (const argument of algorithm.arguments) {
      assert.equal(typeof argument.argumentName, "string");
      assert.equal(argument.description, undefined);
      if (argument.optional) assert.ok("defaultValue" in argument, `${algorithm.name}`);
    }
  }
  // Signatures the emulator's implementations and the examples rely on.
  assert.deepEqual(
    algorithmSignature("Image.addBands")?.arguments.map((a) => a.argumentName),
    ["dstImg", "srcImg", "names", "overwrite"],
  );
  assert.deepEqual(
    algorithmSignature("Image.toFloat")?.arguments.map((a) => a.argumentName),
    ["value"],
  );
  assert.ok(implementedFunctionNames().length < names.length);
});

test("the official client initializes from the catalog and serializes to implemented functions", () => {
  const ee = offlineClient();
  for (const method of ["toFloat", "toUint8", "addBands", "normalizedDifference", "reduceRegion"])
    assert.equal(typeof ee.Image(1)[method], "function", `ee.Image(...).${method}`);
  assert.equal(typeof ee.List([1]).map, "function");
  const bbox = ee.Geometry.Rectangle([-82.48, 8.35, -82.39, 8.44]);
  const col = ee
    .ImageCollection("COPERNICUS/S2_SR_HARMONIZED")
    .filterDate("2024-01-01", "2024-07-31")
    .filterBounds(bbox)
    .filter(ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", 85))
    .map((img: Any) => img.unmask(-1));
  const image = ee
    .Image("COPERNICUS/S2_SR_HARMONIZED/20240103T155907_20240103T160722_T17PLK")
    .clip(bbox)
    .visualize({ bands: ["B8", "B4", "B3"], min: 0, max: 5000, gamma: [1.35, 1.35, 1.35] })
    .clip(bbox)
    .paint(bbox, "0000ffff", 2);
  const everything = ee.List([
    col.aggregate_array("system:index"),
    image,
    image.select(["vis-red"], ["r"]).rename(["red"]),
    image.reproject("EPSG:32617", null, 10),
    image.select(0).projection(),
    image.select(0).projection().nominalScale(),
    image.select(0).projection().crs(),
    image.bandNames(),
    image.get("system:index"),
    image.set("a", 1),
    col.size(),
    col.limit(5, "system:time_start", false),
    col.sort("CLOUDY_PIXEL_PERCENTAGE"),
    col.first(),
    col.filter(
      ee.Filter.and(ee.Filter.eq("MGRS_TILE", "17PLK"), ee.Filter.gt("CLOUDY_PIXEL_PERCENTAGE", 2)),
    ),
    col.filter(
      ee.Filter.or(
        ee.Filter.lte("CLOUDY_PIXEL_PERCENTAGE", 1),
        ee.Filter.gte("CLOUDY_PIXEL_PERCENTAGE", 99),
      ),
    ),
    col.reduceColumns(ee.Reducer.toList(), ["system:index"]),
    ee.FeatureCollection([ee.Feature(bbox, { a: 1 })]),
    ee.Geometry.Point([1, 2]),
    ee.Geometry.MultiPolygon([
      [
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [0, 0],
        ],
      ],
    ]),
    ee.Image(1).clipToBoundsAndScale(bbox, undefined, undefined, 256),
  ]);
  const names = functionNames(wire(everything));
  const implemented = new Set(implementedFunctionNames());
  for (const name of names)
    assert.ok(implemented.has(name), `${name} is serialized by the client but not implemented`);
  for (const name of [
    "ImageCollection.load",
    "Filter.dateRangeContains",
    "Filter.intersects",
    "Image.paint",
    "Collection.limit",
    "Filter.not",
  ]) {
    assert.ok(names.has(name), `${name} expected in the wire form`);
  }
});

test("the tutorial's search evaluates offline to scene ids over David, Panama", () => {
  const ee = offlineClient();
  const bbox = ee.Geometry.Rectangle([-82.48, 8.35, -82.39, 8.44]);
  const search = ee
    .ImageCollection("COPERNICUS/S2_SR")
    .filterDate("2024-01-01", "2024-07-31")
    .filterBounds(bbox)
    .filter(ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", 85))
    .map((img: Any) => img.unmask(-1))
    .aggregate_array("system:index");
  const ids = toJson(evaluateExpression(wire(search))) as string[];
  assert.ok(ids.length > 20 && ids.length < 43, `got ${ids.length}`);
  for (const id of ids) assert.match(id, /^2024\d{4}T\d{6}_\d{8}T\d{6}_T17PLK$/);
  const sorted = ee
    .ImageCollection("COPERNICUS/S2_SR")
    .filterDate("2024-01-01", "2024-02-01")
    .filterBounds(bbox);
  const clouds = toJson(
    evaluateExpression(
      wire(
        sorted.sort("CLOUDY_PIXEL_PERCENTAGE", false).aggregate_array("CLOUDY_PIXEL_PERCENTAGE"),
      ),
    ),
  ) as number[];
  assert.deepEqual(
    clouds,
    [...clouds].sort((a, b) => b - a),
  );
  assert.equal(toJson(evaluateExpression(wire(sorted.size()))), clouds.length);
  const listed = toJson(
    evaluateExpression(wire(sorted.reduceColumns(ee.Reducer.toList(), ["system:index"]))),
  ) as {
    list: string[];
  };
  assert.equal(listed.list.length, clouds.length);
});

test("getInfo shapes match Earth Engine's", () => {
  const ee = offlineClient();
  const id = "COPERNICUS/S2_SR_HARMONIZED/20240103T155907_20240103T160722_T17PLK";
  const info = toJson(evaluateExpression(wire(ee.Image(id)))) as Any;
  assert.equal(info.type, "Image");
  assert.equal(info.id, id);
  assert.equal(typeof info.version, "number");
  const b4 = info.bands.find((b: Any) => b.id === "B4");
  assert.deepEqual(b4, {
    id: "B4",
    data_type: { type: "PixelType", precision: "int", min: 0, max: 65535 },
    dimensions: [10980, 10980],
    crs: "EPSG:32617",
    crs_transform: [10, 0, 300000, 0, -10, 1009800],
  });
  assert.equal(info.properties["system:index"], id.split("/")[2]);
  const proj = toJson(evaluateExpression(wire(ee.Image(id).select("B4").projection()))) as Any;
  assert.deepEqual(proj, {
    type: "Projection",
    crs: "EPSG:32617",
    transform: [10, 0, 300000, 0, -10, 1009800],
  });
  const bbox = ee.Geometry.Rectangle([-82.48, 8.35, -82.39, 8.44]);
  const collection = toJson(
    evaluateExpression(
      wire(
        ee
          .ImageCollection("COPERNICUS/S2_SR")
          .filterDate("2024-01-01", "2024-01-15")
          .filterBounds(bbox),
      ),
    ),
  ) as Any;
  assert.equal(collection.type, "ImageCollection");
  assert.equal(collection.id, "COPERNICUS/S2_SR");
  assert.deepEqual(collection.bands, []);
  assert.ok(collection.features.length >= 2);
  assert.equal(collection.features[0].type, "Image");
  assert.match(collection.features[0].id, /^COPERNICUS\/S2_SR\/2024/);
});

test("errors use Earth Engine's wording", () => {
  assert.throws(
    () => callFunction("Image.reduceRegions", {}),
    /Image\.reduceRegions is not implemented by the ee-snippets emulator/,
  );
  assert.throws(() => callFunction("Foo.bar", {}), { message: "Unknown algorithm: Foo.bar." });
  assert.throws(() => callFunction("ImageCollection.load", { id: "NASA/NOPE" }), {
    message:
      "ImageCollection.load: ImageCollection asset 'NASA/NOPE' not found (does not exist or caller does not have access).",
  });
  assert.throws(
    () => callFunction("Image.clip", { input: 1 }),
    /Image\.clip: Parameter 'geometry' is required\./,
  );
  assert.throws(
    () => evaluateExpression({ result: "0", values: {} }),
    /result '0' is not among its values/,
  );
  const deep: Record<string, unknown> = {};
  for (let i = 0; i < 500; i++) deep[String(i)] = { valueReference: String(i + 1) };
  deep["500"] = { constantValue: 1 };
  assert.throws(() => evaluateExpression({ result: "0", values: deep }), /Expression too deep/);
});

test("the catalog loads from its JSON file; a malformed entry fails naming the entry", () => {
  assert.ok(CATALOG_FILE.endsWith("catalog.json"));
  assert.deepEqual(loadCatalog(), listAlgorithms());
  const dir = mkdtempSync(path.join(tmpdir(), "catalog-"));
  try {
    const file = path.join(dir, "catalog.json");
    writeFileSync(file, JSON.stringify({ algorithms: [{ name: "Image.clip", arguments: [] }] }));
    assert.throws(
      () => loadCatalog(file),
      (error: unknown) => {
        assert.ok(error instanceof CatalogError);
        assert.match(
          error.message,
          /algorithms\[0\] \(Image\.clip\): name must be "algorithms\/<Function>"/,
        );
        return true;
      },
    );
    writeFileSync(file, JSON.stringify([]));
    assert.throws(() => loadCatalog(file), /expected \{"algorithms": \[\.\.\.\]\}/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
