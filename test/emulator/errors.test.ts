/**
 * Bad requests are one class, EmulatorInputError, answered 400 by class (never by error
 * name), on the server's thread and across the render threads alike.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UnsupportedCrsError } from "../../src/core/crs";
import { EncodeError } from "../../src/emulator/encode";
import {
  asInputError,
  EeApiError,
  EmulatorInputError,
  ImageOperationError,
} from "../../src/emulator/errors";
import { GridError } from "../../src/emulator/render";
import { serializeError } from "../../src/emulator/render-worker";

test("every emulator error about the request extends EmulatorInputError and keeps its name", () => {
  for (const [error, name] of [
    [new ImageOperationError("x"), "ImageOperationError"],
    [new GridError("x"), "GridError"],
    [new EncodeError("x"), "EncodeError"],
  ] as const) {
    assert.ok(error instanceof EmulatorInputError, name);
    assert.equal(error.name, name);
    assert.equal(asInputError(error), error);
  }
});

test("core's UnsupportedCrsError is adopted as an input error with its message and name", () => {
  const original = new UnsupportedCrsError("EPSG:3857");
  const adopted = asInputError(original);
  assert.ok(adopted instanceof EmulatorInputError);
  assert.equal(adopted.message, original.message);
  assert.equal(adopted.name, "UnsupportedCrsError");
});

test("other errors are not input errors: a bug stays a 500", () => {
  assert.equal(asInputError(new Error("bug")), undefined);
  assert.equal(asInputError(new TypeError("bug")), undefined);
  assert.equal(asInputError("a string"), undefined);
  // EeApiError carries its own status and is answered as it says.
  assert.equal(asInputError(new EeApiError(404, "NOT_FOUND", "x")), undefined);
});

test("an input error crossing the render-thread boundary is marked as one", () => {
  assert.deepEqual(serializeError(new GridError("bad grid")), {
    name: "GridError",
    message: "bad grid",
    input: true,
  });
  assert.deepEqual(serializeError(new Error("bug")), { name: "Error", message: "bug" });
  assert.deepEqual(serializeError(new EeApiError(429, "RESOURCE_EXHAUSTED", "slow down")), {
    name: "EeApiError",
    message: "slow down",
    httpStatus: 429,
    status: "RESOURCE_EXHAUSTED",
  });
});
