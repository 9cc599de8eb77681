/**
 * The unmask a download adds for a nodata is the one the official client would send for
 * `image.unmask(nodata, false)`: the same graph once shared nodes are inlined.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { withNodata } from "../../src/download/expression";
import { type CloudExpression, serializeExpression } from "../../src/ee/client";
import { evaluateExpression } from "../../src/emulator/evaluate";
import { offlineClient } from "../emulator/offline-client";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

before(() => offlineClient("offline"));

/** The expression as one tree: every valueReference replaced by the node it names. */
function inline(expression: CloudExpression): unknown {
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== "object") return node;
    const record = node as Record<string, unknown>;
    if (typeof record.valueReference === "string") {
      return resolve(expression.values[record.valueReference]);
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve(expression.values[expression.result]);
}

describe("withNodata", () => {
  const asset = "COPERNICUS/S2_SR_HARMONIZED/20240105T153619_20240105T154242_T17PMK";
  for (const nodata of [-9999, -1, 0, 0.5, 65535]) {
    it(`unmask(${nodata}) equals the official client's serialization`, () => {
      const image = ee.Image(asset).select(["B4", "B3"]);
      const ours = withNodata(serializeExpression(image), nodata);
      const client = serializeExpression(image.unmask(nodata, false));
      assert.deepEqual(inline(ours), inline(client));
      const unmask = inline(ours) as Any;
      assert.equal(unmask.functionInvocationValue.functionName, "Image.unmask");
      // unmask's value is an Image, never a bare number.
      assert.equal(
        unmask.functionInvocationValue.arguments.value.functionInvocationValue.functionName,
        "Image.constant",
      );
    });
  }

  it("leaves the expression alone without a nodata", () => {
    const expression = serializeExpression(ee.Image(asset));
    assert.equal(withNodata(expression, undefined), expression);
  });

  it("keeps the image's own node ids intact", () => {
    const expression: CloudExpression = {
      result: "download_unmask",
      values: { download_unmask: { constantValue: 1 }, download_nodata: { constantValue: 2 } },
    };
    const wrapped = withNodata(expression, 7);
    assert.deepEqual(wrapped.values.download_unmask, { constantValue: 1 });
    assert.deepEqual(wrapped.values.download_nodata, { constantValue: 2 });
    const root = wrapped.values[wrapped.result] as Any;
    assert.equal(root.functionInvocationValue.arguments.input.valueReference, "download_unmask");
  });
});

describe("the emulator's Image.unmask", () => {
  it("refuses a bare number as value, as Earth Engine's signature types it an Image", () => {
    const expression = serializeExpression(ee.Image(-300));
    const bare: CloudExpression = {
      result: "u",
      values: {
        ...expression.values,
        u: {
          functionInvocationValue: {
            functionName: "Image.unmask",
            arguments: {
              input: { valueReference: expression.result },
              value: { constantValue: -9999 },
            },
          },
        },
      },
    };
    assert.throws(() => evaluateExpression(bare), /Image\.unmask, argument 'value': Invalid type/);
  });

  it("accepts the unmask a download sends", () => {
    const expression = withNodata(serializeExpression(ee.Image(-300)), -9999);
    assert.ok(evaluateExpression(expression));
  });
});
