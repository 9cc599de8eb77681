/** What the GeoTIFF encoder and writer tests share: every sample type and a seeded RNG. */

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { BYTES_PER_SAMPLE } from "../../src/core/samples";
import { seededRandom } from "../../src/emulator/random";
import type { GeoTiffSpec, SampleType } from "../../src/geotiff/spec";

/** Every sample type, in a fixed order (some tests derive seeds from the position). */
export const SAMPLE_TYPES = Object.keys(BYTES_PER_SAMPLE) as SampleType[];

/** Deterministic 32-bit values (the emulator's mulberry32), so a failing test fails the same way again. */
export function rng(seed: number): () => number {
  const random = seededRandom(seed);
  return () => random() * 4294967296;
}

/** The bytes of a typed array's view, without a copy. */
export function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** A 1000 x 777 px, 2-band uint16 image in UTM 17N: edge tiles in both directions at 512 px. */
export function utmSpec(over: Partial<GeoTiffSpec> = {}): GeoTiffSpec {
  return {
    width: 1000,
    height: 777,
    bands: 2,
    sampleType: "uint16",
    epsg: 32617,
    transform: [10, 0, 500000, 0, -10, 1000000],
    ...over,
  };
}

/**
 * A maker of empty directories under one temporary root named `prefix`..., which is removed
 * after the test file's tests (call it at the top level of a test file).
 */
export function scratchDirs(prefix: string): () => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(root, { recursive: true, force: true }));
  let count = 0;
  return () => {
    const dir = join(root, `d${count++}`);
    mkdirSync(dir);
    return dir;
  };
}
