/**
 * Shared fixtures for the reliability tests: emulators with and without faults, sessions
 * pointing at them, raster comparison through geotiff.js, and request counting from the
 * emulator's own statistics (what the server saw, not what the client thinks it sent).
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import type { Backend } from "../../src/ee/backend";
import { type Ee, initializeEe } from "../../src/ee/client";
import { RequestLimiter, type RequestLimiterOptions } from "../../src/ee/limiter";
import { type EmulatorOptions, type RunningEmulator, startEmulator } from "../../src/emulator";
import type { Aoi } from "../../src/snippets/aoi";
import type { SnippetSession } from "../../src/snippets/batch";
import { findImages, type ImageInfo } from "../../src/snippets/search";

export type { EmulatorOptions, RequestLimiterOptions, RunningEmulator };
export { startEmulator };

/** The tutorial's AOI centre (David, Chiriqui, Panama). */
export const CENTER: [number, number] = [-82.435, 8.3958];

/**
 * The ee client is a process-wide singleton and only needs a catalog to build and serialize
 * images; it is initialized once against a fault-free emulator, and each test's downloads go
 * wherever its session's Backend points.
 */
let eeReady: Promise<Ee> | undefined;
export function eeFor(emulator: RunningEmulator): Promise<Ee> {
  eeReady ??= initializeEe({ apiUrl: emulator.url, project: emulator.project });
  return eeReady;
}

export function backendFor(emulator: RunningEmulator, authorization?: string): Backend {
  return {
    kind: "emulator",
    apiUrl: emulator.url,
    project: emulator.project,
    authorization: async () => authorization,
  };
}

export async function sessionFor(
  emulator: RunningEmulator,
  ee: Ee,
  limiter: RequestLimiterOptions = {},
  authorization?: string,
): Promise<SnippetSession> {
  return {
    ee,
    backend: backendFor(emulator, authorization),
    requests: new RequestLimiter(limiter),
  };
}

/** Every scene over `aoi` from 2024-01-01 until `end` (exclusive), any cloud cover, no warnings. */
export function scenesUntil(session: SnippetSession, aoi: Aoi, end: string): Promise<ImageInfo[]> {
  return findImages(session, {
    aoi,
    start: "2024-01-01",
    end,
    maxCloud: 100,
    onWarning: () => undefined,
  });
}

/** The first `count` scenes over `aoi` from 2024-01-01 until `end` (exclusive), any cloud cover. */
export async function firstScenes(
  session: SnippetSession,
  aoi: Aoi,
  count: number,
  end = "2024-03-01",
): Promise<ImageInfo[]> {
  const found = await scenesUntil(session, aoi, end);
  assert.ok(found.length >= count, `the emulator has ${found.length} scenes, ${count} wanted`);
  return found.slice(0, count);
}

/** Requests the emulator has seen on one endpoint class ("computePixels", "compute", ...). */
export async function endpointCount(emulator: RunningEmulator, endpoint: string): Promise<number> {
  const status = await emulator.status();
  return status.stats.byEndpoint[endpoint]?.requests ?? 0;
}

/** Earth Engine API requests the emulator has seen (its own admin endpoints excluded). */
export async function totalRequests(emulator: RunningEmulator): Promise<number> {
  const status = await emulator.status();
  let n = 0;
  for (const [endpoint, stats] of Object.entries(status.stats.byEndpoint)) {
    if (endpoint !== "admin") n += stats.requests;
  }
  return n;
}

export async function pixelRequests(emulator: RunningEmulator): Promise<number> {
  return endpointCount(emulator, "computePixels");
}

export interface Raster {
  width: number;
  height: number;
  bands: number;
  origin: number[];
  resolution: number[];
  data: Uint8Array[];
}

/** Decodes every band of a GeoTIFF with geotiff.js (an independent reader). */
export async function readRaster(path: string): Promise<Raster> {
  const geotiff = await import("geotiff");
  const tiff = await geotiff.fromFile(path);
  try {
    const image = await tiff.getImage();
    const rasters = (await image.readRasters()) as unknown as ArrayLike<number>[];
    return {
      width: image.getWidth(),
      height: image.getHeight(),
      bands: image.getSamplesPerPixel(),
      origin: image.getOrigin(),
      resolution: image.getResolution(),
      data: Array.from(rasters, (band) => Uint8Array.from(band)),
    };
  } finally {
    await tiff.close();
  }
}

/** Asserts two rasters are identical pixel for pixel, naming the first difference. */
export function assertSameRaster(actual: Raster, expected: Raster, label: string): void {
  assert.equal(actual.width, expected.width, `${label}: width`);
  assert.equal(actual.height, expected.height, `${label}: height`);
  assert.equal(actual.bands, expected.bands, `${label}: bands`);
  assert.deepEqual(actual.origin, expected.origin, `${label}: origin`);
  assert.deepEqual(actual.resolution, expected.resolution, `${label}: resolution`);
  for (let b = 0; b < expected.bands; b++) {
    const a = actual.data[b];
    const e = expected.data[b];
    if (Buffer.compare(Buffer.from(a), Buffer.from(e)) !== 0) {
      let i = 0;
      while (i < e.length && a[i] === e[i]) i++;
      assert.fail(
        `${label}: band ${b} differs first at pixel (${i % expected.width}, ${Math.floor(
          i / expected.width,
        )}): ${a[i]} vs ${e[i]}`,
      );
    }
  }
}

/** Names in a directory that are neither final snippets nor the manifest (temporaries). */
export async function strayFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  // manifest.json and report.json are the run's records, written beside the snippets.
  return names.filter(
    (name) =>
      !/^[^.][^/]*_L2A\.tif$/.test(name) && name !== "manifest.json" && name !== "report.json",
  );
}

/** Makes V8's gc callable without starting node with --expose-gc. */
export async function gc(): Promise<void> {
  const v8 = await import("node:v8");
  const vm = await import("node:vm");
  v8.setFlagsFromString("--expose-gc");
  const collect = vm.runInNewContext("gc") as () => void;
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((r) => setImmediate(r));
  }
}
