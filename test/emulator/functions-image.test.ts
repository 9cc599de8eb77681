/**
 * The functions beyond the tutorial's own (functions-image.ts, band-math.ts), each called as
 * the official client serializes it and checked by value (getInfo) and by pixel; and the
 * snippet's blue outline option, whose outline pixels must come out blue.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { crsFromCode } from "../../src/core/crs";
import { evaluateExpression } from "../../src/emulator/evaluate";
import { toJson } from "../../src/emulator/functions-describe";
import { ImageValue } from "../../src/emulator/functions-values";
import type { Grid, RenderedBand } from "../../src/emulator/model";
import { renderImage } from "../../src/emulator/render";
import { aoiToEe, bbox } from "../../src/snippets/aoi";
import { snippetImage } from "../../src/snippets/snippet-image";
import { offlineClient } from "./offline-client";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

offlineClient();

function evaluate(obj: Any) {
  return evaluateExpression(JSON.parse(ee.Serializer.toCloudApiJSON(obj)));
}

function info(obj: Any): Any {
  return toJson(evaluate(obj));
}

/** A 4x4 EPSG:4326 grid near David, Panama. */
const SMALL: Grid = {
  crsCode: "EPSG:4326",
  affine: {
    scaleX: 0.001,
    shearX: 0,
    translateX: -82.45,
    shearY: 0,
    scaleY: -0.001,
    translateY: 8.42,
  },
  width: 4,
  height: 4,
};

function pixels(obj: Any, grid: Grid = SMALL): RenderedBand[] {
  const value = evaluate(obj);
  assert.ok(value instanceof ImageValue);
  return renderImage(value.image, grid);
}

/** Band k's first pixel as [value, mask]. */
function first(obj: Any, k = 0): [number, number] {
  const band = pixels(obj)[k];
  return [band.data[0], band.mask[0]];
}

function bandTypes(obj: Any): Any[] {
  return info(obj).bands.map((b: Any) => b.data_type);
}

test("casts: Earth Engine's pixel types, truncation toward zero, saturation at the limits", () => {
  const int = (min: number, max: number) => ({ type: "PixelType", precision: "int", min, max });
  const cases: [string, number, Any, number][] = [
    ["toUint8", 300.7, int(0, 255), 255],
    ["toByte", -4, int(0, 255), 0],
    ["toInt8", -2.7, int(-128, 127), -2],
    ["toUint16", 70000, int(0, 65535), 65535],
    ["toInt16", 40000, int(-32768, 32767), 32767],
    ["toShort", -12.9, int(-32768, 32767), -12],
    ["toInt32", 2.9, int(-2147483648, 2147483647), 2],
    ["toInt", -3e10, int(-2147483648, 2147483647), -2147483648],
    ["toUint32", 5.5, int(0, 4294967295), 5],
    ["toFloat", 3, { type: "PixelType", precision: "float" }, 3],
    ["toDouble", 0.1, { type: "PixelType", precision: "double" }, 0.1],
  ];
  for (const [method, input, type, expected] of cases) {
    const image = ee.Image(input)[method]();
    assert.deepEqual(bandTypes(image), [type], method);
    const [value, mask] = first(image);
    assert.equal(mask, 255, method);
    if (method === "toFloat" || method === "toDouble") assert.ok(Math.abs(value - expected) < 1e-6);
    else assert.equal(value, expected, method);
  }
});

test("band maths pair bands, name them after the longer input, widen integer types and divide as float", () => {
  const pair = ee.Image([1, 2]);
  const sum = pair.add(10);
  assert.deepEqual(
    info(sum).bands.map((b: Any) => b.id),
    ["constant", "constant_1"],
  );
  assert.deepEqual(bandTypes(sum), [
    { type: "PixelType", precision: "int", min: 11, max: 11 },
    { type: "PixelType", precision: "int", min: 12, max: 12 },
  ]);
  assert.equal(first(sum, 1)[0], 12);
  assert.equal(first(ee.Image(10).subtract(pair), 1)[0], 8);
  assert.deepEqual(
    info(ee.Image(10).subtract(pair)).bands.map((b: Any) => b.id),
    ["constant", "constant_1"],
  );
  assert.equal(first(ee.Image(200).toUint8().multiply(ee.Image(200).toUint8()))[0], 40000);
  assert.equal(bandTypes(ee.Image(200).toUint8().multiply(2))[0].max, 510);
  const divided = ee.Image(7).divide(2);
  assert.equal(bandTypes(divided)[0].precision, "float");
  assert.equal(first(divided)[0], 3.5);
  assert.equal(first(ee.Image(7).divide(0))[0], 0, "division by 0 gives 0");
  assert.throws(
    () => evaluate(ee.Image([1, 2, 3]).add(ee.Image([1, 2]))),
    /Image\.add: Images must contain the same number of bands or only 1 band\. Got 3 and 2\./,
  );
  const masked = first(ee.Image(1).add(ee.Image()));
  assert.equal(masked[1], 0, "a masked operand masks the result");
});

test("normalizedDifference: (first - second) / (first + second) in one float band 'nd'", () => {
  const image = ee.Image([3, 1]);
  const nd = image.normalizedDifference();
  assert.deepEqual(
    info(nd).bands.map((b: Any) => [b.id, b.data_type.precision]),
    [["nd", "float"]],
  );
  assert.equal(first(nd)[0], 0.5);
  assert.equal(first(image.normalizedDifference(["constant_1", "constant"]))[0], -0.5);
  assert.equal(first(ee.Image([0, 0]).normalizedDifference())[0], 0);
});

test("updateMask and mask: masks from values, the mask as an image, the empty ee.Image()", () => {
  assert.deepEqual(first(ee.Image(5).updateMask(ee.Image(0))), [5, 0]);
  assert.deepEqual(first(ee.Image(5).updateMask(ee.Image(1))), [5, 255]);
  assert.deepEqual(first(ee.Image(5).updateMask(ee.Image(0.5))), [5, 128]);
  assert.equal(first(ee.Image(5).updateMask(ee.Image(0)).updateMask(ee.Image(1)))[1], 0);
  // ee.Image() is Image.mask(Image.constant(0), Image.constant(0)): everything masked.
  assert.deepEqual(first(ee.Image()), [0, 0]);
  assert.deepEqual(first(ee.Image(3).mask()), [1, 255]);
  assert.deepEqual(first(ee.Image(3).updateMask(ee.Image(0)).mask()), [0, 255]);
  // Unmasked pixels read the value nearest 0 their type allows: 3 for Image(3) (int 3..3).
  assert.deepEqual(first(ee.Image(3).updateMask(ee.Image(0)).mask(ee.Image(1))), [3, 255]);
  assert.deepEqual(
    first(ee.Image(3).toUint8().updateMask(ee.Image(0)).mask(ee.Image(1))),
    [0, 255],
  );
  assert.throws(
    () => evaluate(ee.Image([1, 2, 3]).updateMask(ee.Image([1, 1]))),
    /Image\.updateMask: The mask must have 1 band or as many bands as the image \(3\), got 2\./,
  );
});

test("blend puts top over bottom with the masks as opacity", () => {
  assert.deepEqual(first(ee.Image(1).blend(ee.Image(7))), [7, 255]);
  assert.deepEqual(first(ee.Image(1).blend(ee.Image())), [1, 255]);
  const half = first(ee.Image(0).blend(ee.Image(100).updateMask(ee.Image(0.5))));
  assert.deepEqual(half, [50, 255]);
  const rgb = pixels(ee.Image([10, 20, 30]).blend(ee.Image(5)));
  assert.deepEqual(
    rgb.map((b) => [b.id, b.data[0]]),
    [
      ["constant", 5],
      ["constant_1", 5],
      ["constant_2", 5],
    ],
  );
});

test("addBands appends, renames clashes with Earth Engine's suffix, overwrites when asked", () => {
  const names = (obj: Any) => info(obj).bands.map((b: Any) => b.id);
  assert.deepEqual(names(ee.Image(1).addBands(ee.Image(2))), ["constant", "constant_1"]);
  assert.deepEqual(
    pixels(ee.Image(1).addBands(ee.Image(2))).map((b) => b.data[0]),
    [1, 2],
  );
  const overwritten = ee.Image(1).addBands(ee.Image(2), null, true);
  assert.deepEqual(names(overwritten), ["constant"]);
  assert.equal(first(overwritten)[0], 2);
  const picked = ee.Image(1).addBands(ee.Image([7, 8, 9]), ["constant_2"]);
  assert.deepEqual(names(picked), ["constant", "constant_2"]);
  assert.equal(first(picked, 1)[0], 9);
});

test("slice selects bands by position, negative positions from the end", () => {
  const image = ee.Image([1, 2, 3]);
  const names = (obj: Any) => info(obj).bands.map((b: Any) => b.id);
  assert.deepEqual(names(image.slice(1)), ["constant_1", "constant_2"]);
  assert.deepEqual(names(image.slice(-1)), ["constant_2"]);
  assert.deepEqual(names(image.slice(0, 2)), ["constant", "constant_1"]);
  assert.equal(first(image.slice(2))[0], 3);
  assert.throws(() => evaluate(image.slice(2, 1)), /Image\.slice: Selection from 2 to 1 is empty/);
});

test("List.map calls the function on every element", () => {
  const mapped = info(ee.List([1, 2, 3]).map((x: Any) => ee.Image(x).add(1)));
  assert.deepEqual(
    mapped.map((image: Any) => image.bands[0].data_type.max),
    [2, 3, 4],
  );
  const names = info(ee.List(["a", "b"]).map((n: Any) => ee.Image(0).rename([n]).bandNames()));
  assert.deepEqual(names, [["a"], ["b"]]);
});

test("the snippet's blue outline: outline pixels are blue, the rest is the tutorial's snippet", () => {
  const aoi = bbox(-82.435, 8.395, 0.09, "David");
  const id = "20240103T155907_20240103T160722_T17PLK";
  const [x, y] = crsFromCode("EPSG:32617").forward(-82.49, 8.45);
  const grid: Grid = {
    crsCode: "EPSG:32617",
    affine: {
      scaleX: 40,
      shearX: 0,
      translateX: Math.round(x),
      shearY: 0,
      scaleY: -40,
      translateY: Math.round(y),
    },
    width: 300,
    height: 300,
  };
  const session = { ee };
  const tutorial = pixels(snippetImage(session, id, { aoi }), grid);
  const blue = pixels(snippetImage(session, id, { aoi, outline: "blue" }), grid);
  const plain = pixels(snippetImage(session, id, { aoi, outlineWidth: 0 }), grid);
  const painted = pixels(ee.Image().toByte().paint(aoiToEe(ee, aoi), 1, 2), grid)[0];
  assert.deepEqual(
    blue.map((b) => b.id),
    ["vis-red", "vis-green", "vis-blue"],
  );
  let outline = 0;
  for (let i = 0; i < painted.mask.length; i++) {
    const rgb = blue.map((b) => b.data[i]);
    if (painted.mask[i] === 255) {
      outline++;
      assert.deepEqual(rgb, [0, 0, 255], `outline pixel ${i}`);
      assert.equal(blue[0].mask[i], 255);
      // The tutorial's own outline is no colour: Earth Engine reads '0000ffff' as a property.
      assert.deepEqual(
        tutorial.map((b) => b.data[i]),
        [0, 0, 0],
      );
    } else {
      assert.deepEqual(
        rgb,
        plain.map((b) => b.data[i]),
        `pixel ${i} off the outline`,
      );
      assert.equal(blue[0].mask[i], plain[0].mask[i]);
    }
  }
  // Both sides of a 2-pixel-wide outline around ~250 x 250 pixels.
  assert.ok(outline > 4 * 200 * 2, `only ${outline} outline pixels`);
});
