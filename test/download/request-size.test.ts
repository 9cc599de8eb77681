/**
 * The request size, both sides: windows the engine plans near each size formula's boundary are
 * never refused by the emulator, which enforces the count Earth Engine was seen to use
 * (width * height * bytes * (bands + 1)) with Earth Engine's message.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { MAX_REQUEST_BYTES, planTiles } from "../../src/download/tiles";
import { serializeExpression } from "../../src/ee/client";
import { evaluateExpression } from "../../src/emulator/evaluate";
import type { EeValue } from "../../src/emulator/functions-values";
import { planPixels } from "../../src/emulator/pixel-request";
import { offlineClient } from "../emulator/offline-client";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

before(() => offlineClient("offline"));

/** An image of constant bands, evaluated by the emulator (constants' types follow their values). */
function image(values: number[]): EeValue {
  // One Image.constant of a list: the client would build it with Image.addBands, which the
  // emulator's catalog does not list yet.
  const single = serializeExpression(ee.Image(0));
  const node = single.values[single.result] as Any;
  node.functionInvocationValue.arguments.value = { constantValue: values };
  return evaluateExpression(single);
}

function pixelsRequest(width: number, height: number) {
  return {
    fileFormat: "NPY",
    grid: {
      crsCode: "EPSG:32617",
      affineTransform: { scaleX: 10, scaleY: -10, translateX: 300000, translateY: 1000000 },
      dimensions: { width, height },
    },
  };
}

const EIGHT_INT16 = Array(8).fill(-300);

describe("the emulator's request size", () => {
  it("refuses the captured request with Earth Engine's own numbers", () => {
    assert.throws(
      () => planPixels(image(EIGHT_INT16), pixelsRequest(1845, 1727), "computePixels"),
      {
        message:
          "Total request size (57353670 bytes) must be less than or equal to 50331648 bytes.",
      },
    );
  });

  it("takes w*h*bytes*(bands+1) up to the limit and refuses a pixel column more", () => {
    // 18 bytes per pixel: 1664 x 1680 is 50319360 bytes, 1665 x 1680 is 50349600.
    assert.doesNotThrow(() =>
      planPixels(image(EIGHT_INT16), pixelsRequest(1664, 1680), "computePixels"),
    );
    assert.throws(
      () => planPixels(image(EIGHT_INT16), pixelsRequest(1665, 1680), "computePixels"),
      /Total request size \(50349600 bytes\)/,
    );
  });

  it("counts bands at their common type: uint16 with int16 is int32", () => {
    const mixed = image([60000, -300]);
    // 4 bytes * 3: 1024 x 1024 px is 12582912 bytes, under the cap; 2100 x 2100 is not.
    assert.doesNotThrow(() => planPixels(mixed, pixelsRequest(1024, 1024), "computePixels"));
    assert.throws(
      () => planPixels(mixed, pixelsRequest(2100, 2100), "computePixels"),
      /Total request size \(52920000 bytes\)/,
    );
  });

  const cases = [
    { name: "8 int16 bands", values: EIGHT_INT16, bandBytes: Array(8).fill(2), side: 1712 },
    { name: "3 uint8 bands", values: [1, 2, 3], bandBytes: [1, 1, 1], side: 3600 },
    { name: "uint16 with int16", values: [60000, -300], bandBytes: [2, 2], side: 2100 },
  ];
  for (const c of cases) {
    it(`never refuses a window planned for ${c.name} on a ${c.side} px square`, () => {
      const value = image(c.values);
      // The square is one window too many for the emulator...
      assert.throws(
        () => planPixels(value, pixelsRequest(c.side, c.side), "computePixels"),
        /Total request size/,
      );
      // ...and every window planned over it passes.
      const sampleBytes = c.name === "uint16 with int16" ? 4 : undefined;
      const windows = planTiles(
        { width: c.side, height: c.side },
        { bandBytes: c.bandBytes, sampleBytes, tileSize: 16, maxRequestBytes: MAX_REQUEST_BYTES },
      );
      assert.ok(windows.length >= 2);
      for (const w of windows) {
        assert.doesNotThrow(
          () => planPixels(value, pixelsRequest(w.width, w.height), "computePixels"),
          `${w.width}x${w.height}`,
        );
      }
    });
  }
});
