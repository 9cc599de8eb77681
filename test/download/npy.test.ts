import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodePixelsNpy } from "../../src/core/npy";
import { ResponseFormatError } from "../../src/download/errors";
import { decodeNpy, npyToPixels } from "../../src/download/npy";

function npyBytes(header: string, data: Uint8Array, version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  const padded = `${header}${" ".repeat(total - prefix - header.length - 1)}\n`;
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  out.set(Buffer.from(padded, "latin1"), prefix);
  out.set(data, total);
  return out;
}

describe("NPY decoding", () => {
  it("reads Earth Engine's structured uint8 array without copying", () => {
    const data = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i);
    const bytes = npyBytes(
      "{'descr': [('vis-red', '|u1'), ('vis-green', '|u1'), ('vis-blue', '|u1')], 'fortran_order': False, 'shape': (2, 3), }",
      data,
    );
    const npy = decodeNpy(bytes);
    assert.deepEqual(npy.shape, [2, 3]);
    assert.deepEqual(
      npy.fields?.map((f) => f.name),
      ["vis-red", "vis-green", "vis-blue"],
    );
    const pixels = npyToPixels(
      npy,
      { width: 3, height: 2, bands: ["vis-red", "vis-green", "vis-blue"] },
      "uint8",
    );
    assert.deepEqual([...pixels], [...data]);
    assert.equal(pixels.buffer, bytes.buffer, "no copy");
  });

  it("converts mixed and big-endian fields to the output type, in the requested band order", () => {
    const rec = new DataView(new ArrayBuffer(2 * 6));
    for (let p = 0; p < 2; p++) {
      rec.setInt16(p * 6, -100 * (p + 1), false); // big-endian i2
      rec.setFloat32(p * 6 + 2, 0.5 + p, true);
    }
    const npy = decodeNpy(
      npyBytes(
        "{'descr': [('a', '>i2'), ('b', '<f4')], 'fortran_order': False, 'shape': (1, 2)}",
        new Uint8Array(rec.buffer),
        2,
      ),
    );
    const px = npyToPixels(npy, { width: 2, height: 1, bands: ["b", "a"] }, "float32");
    assert.deepEqual([...px], [0.5, -100, 1.5, -200]);
  });

  it("reads a plain (h, w, bands) array", () => {
    const data = new Uint8Array(new Uint16Array([1, 2, 3, 4]).buffer);
    const npy = decodeNpy(
      npyBytes("{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2, 2), }", data),
    );
    assert.deepEqual(
      [...npyToPixels(npy, { width: 2, height: 1, bands: ["x", "y"] }, "uint16")],
      [1, 2, 3, 4],
    );
  });

  it("round-trips its own encoder", () => {
    const samples = Int16Array.from([1, -2, 3, -4, 5, -6]);
    const bytes = encodePixelsNpy(samples, {
      width: 3,
      height: 1,
      bands: ["p", "q"],
      type: "int16",
    });
    const px = npyToPixels(decodeNpy(bytes), { width: 3, height: 1, bands: ["p", "q"] }, "int16");
    assert.deepEqual([...px], [...samples]);
  });

  it("rejects what was not asked for: shape, bands, truncation, garbage", () => {
    const bytes = encodePixelsNpy(new Uint8Array(6), {
      width: 3,
      height: 2,
      bands: ["r"],
      type: "uint8",
    });
    assert.throws(
      () => npyToPixels(decodeNpy(bytes), { width: 2, height: 3, bands: ["r"] }, "uint8"),
      /expected 3x2/,
    );
    assert.throws(
      () => npyToPixels(decodeNpy(bytes), { width: 3, height: 2, bands: ["r", "g"] }, "uint8"),
      ResponseFormatError,
    );
    assert.throws(() => decodeNpy(bytes.subarray(0, bytes.length - 1)), /truncated/);
    assert.throws(() => decodeNpy(Buffer.from('{"error": {"message": "x"}}')), /not an NPY/);
  });
});
