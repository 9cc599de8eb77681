/**
 * downloadImage end to end against the local Earth Engine emulator, driven through the
 * official client: the tutorial's 2 m snippet, georeferencing in both hemispheres, the
 * limiter's bound as the server counts it, injected faults, and interruption.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromFile } from "geotiff";
import { crsFromCode } from "../../src/core/crs";
import { downloadImage, RequestLimiter } from "../../src/download";
import { decodeNpy, npyToPixels } from "../../src/download/npy";
import { type Backend, projectUrl } from "../../src/ee/backend";
import { type Ee, type EeImage, initializeEe, serializeExpression } from "../../src/ee/client";
import { eeRequest } from "../../src/ee/transport";
import { type Aoi, bbox } from "../../src/snippets/aoi";
import { findImages } from "../../src/snippets/search";
import { snippetImage } from "../../src/snippets/snippet-image";

const emulatorEntry = join(__dirname, "../../src/emulator/index.ts");
const skip = existsSync(emulatorEntry) ? false : "src/emulator/index.ts is not there yet";

interface RunningEmulator {
  url: string;
  project: string;
  stop(): Promise<void>;
  status(): Promise<{ stats: { maxInFlight: number; requests: number } }>;
}

async function start(options: Record<string, unknown> = {}): Promise<RunningEmulator> {
  // Required by path: the module may not exist yet while the emulator is being written.
  const mod = require(emulatorEntry) as {
    startEmulator(o?: Record<string, unknown>): Promise<RunningEmulator>;
  };
  return mod.startEmulator({ latencyMs: 0, msPerMegapixel: 0, seed: 1, ...options });
}

const backendOf = (emu: RunningEmulator): Backend => ({
  kind: "emulator",
  apiUrl: emu.url,
  project: emu.project,
  authorization: async () => undefined,
});

async function snippetFor(ee: Ee, aoi: Aoi): Promise<EeImage> {
  const images = await findImages(
    { ee },
    { aoi, start: "2024-01-01", end: "2024-07-31", maxCloud: 85, onWarning: () => {} },
  );
  assert.ok(images.length > 0, "the emulator has scenes over the AOI");
  return snippetImage({ ee }, images[0].id, { aoi });
}

async function readWindow(path: string, x0: number, y0: number, w: number, h: number) {
  const tiff = await fromFile(path);
  const image = await tiff.getImage();
  const data = (await image.readRasters({
    window: [x0, y0, x0 + w, y0 + h],
    interleave: true,
  })) as unknown as Uint8Array;
  await tiff.close();
  return Uint8Array.from(data);
}

/** Corners of the AOI in the grid's CRS must lie inside the file, within one pixel of its edges. */
function assertCornersMatch(
  aoi: Aoi,
  crs: string,
  corners: { ul: number[]; lr: number[] },
  scale: number,
) {
  const proj = crsFromCode(crs);
  const [w, s, e, n] = aoi.bounds;
  const pts = [
    [w, s],
    [e, s],
    [e, n],
    [w, n],
  ].map(([lon, lat]) => proj.forward(lon, lat));
  const xmin = Math.min(...pts.map((p) => p[0]));
  const xmax = Math.max(...pts.map((p) => p[0]));
  const ymin = Math.min(...pts.map((p) => p[1]));
  const ymax = Math.max(...pts.map((p) => p[1]));
  assert.ok(
    corners.ul[0] <= xmin && xmin - corners.ul[0] < scale,
    `west ${corners.ul[0]} vs ${xmin}`,
  );
  assert.ok(
    corners.ul[1] >= ymax && corners.ul[1] - ymax < scale,
    `north ${corners.ul[1]} vs ${ymax}`,
  );
  // Parallels bulge in UTM between corners: the far edges may sit up to a pixel beyond them.
  assert.ok(
    corners.lr[0] >= xmax && corners.lr[0] - xmax < scale * 2,
    `east ${corners.lr[0]} vs ${xmax}`,
  );
  assert.ok(
    corners.lr[1] <= ymin && ymin - corners.lr[1] < scale * 2,
    `south ${corners.lr[1]} vs ${ymin}`,
  );
}

function gdalCorners(path: string) {
  const info = JSON.parse(execFileSync("gdalinfo", ["-json", path], { encoding: "utf8" }));
  return {
    ul: info.cornerCoordinates.upperLeft as number[],
    lr: info.cornerCoordinates.lowerRight as number[],
    wkt: String(info.coordinateSystem?.wkt ?? ""),
    size: info.size as number[],
    bands: (info.bands as { description?: string; noDataValue?: number }[]).length,
  };
}

describe("downloadImage against the emulator", { skip }, () => {
  let emu: RunningEmulator;
  let ee: Ee;
  let dir: string;
  const panama = bbox(-82.435, 8.3958, 0.09, "panama");

  before(async () => {
    if (skip) return;
    emu = await start();
    ee = await initializeEe({ apiUrl: emu.url, project: emu.project });
    dir = await mkdtemp(join(tmpdir(), "download-emulator-"));
  });
  after(async () => {
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("downloads the tutorial's 2 m snippet in several requests, equal to single-request sub-windows", async () => {
    const image = await snippetFor(ee, panama);
    const requests = new RequestLimiter({ maxInFlight: 8 });
    const path = join(dir, "panama-2m.tif");
    const result = await downloadImage({ backend: backendOf(emu), requests }, image, path, {
      region: panama,
      scale: 2,
    });
    assert.equal(result.crs, "EPSG:32617");
    assert.ok(result.width > 4900 && result.height > 4900, `${result.width}x${result.height}`);
    assert.equal(result.bands, 3);
    assert.ok(result.tiles >= 3, `${result.tiles} requests planned`);
    assert.ok(
      result.warnings.some((w) => /finer than/.test(w)),
      "upsampling warning",
    );

    // Sub-windows straddling request boundaries, fetched in ONE computePixels call each.
    // Their origins are multiples of 8 px: the emulator evaluates exactly on an 8 px lattice
    // anchored at each request's origin and interpolates between, so only lattice-aligned
    // windows are comparable pixel for pixel (512-aligned request windows always are).
    const expression = serializeExpression(image);
    const [sx, , tx, , sy, ty] = result.transform;
    const lastX = Math.floor((result.width - 344) / 8) * 8;
    const lastY = Math.floor((result.height - 248) / 8) * 8;
    for (const [x0, y0, w, h] of [
      [0, 0, 300, 200],
      [2400, 2400, 400, 300],
      [lastX, lastY, result.width - lastX, result.height - lastY],
      [1000, 2504, 600, 100],
    ]) {
      const body = await eeRequest(
        backendOf(emu),
        `${projectUrl(backendOf(emu))}/image:computePixels`,
        {
          expression,
          fileFormat: "NPY",
          grid: {
            crsCode: result.crs,
            affineTransform: {
              scaleX: sx,
              shearX: 0,
              translateX: tx + x0 * sx,
              shearY: 0,
              scaleY: sy,
              translateY: ty + y0 * sy,
            },
            dimensions: { width: w, height: h },
          },
        },
      );
      const single = npyToPixels(
        decodeNpy(body),
        { width: w, height: h, bands: result.bandNames },
        "uint8",
      );
      const fromFile = await readWindow(path, x0, y0, w, h);
      assert.ok(
        Buffer.from(fromFile).equals(
          Buffer.from(single.buffer, single.byteOffset, single.byteLength),
        ),
        `window ${x0},${y0}`,
      );
      assert.ok(
        single.some((v) => v !== 0),
        "the window has data",
      );
    }

    const gdal = gdalCorners(path);
    assert.deepEqual(gdal.size, [result.width, result.height]);
    assert.match(gdal.wkt, /UTM zone 17N/);
    assertCornersMatch(panama, result.crs, gdal, 2);
  });

  it("georeferences a southern-hemisphere snippet (EPSG:32736) correctly", async () => {
    const tanzania = bbox(35.75, -6.17, 0.05, "tanzania");
    const image = await snippetFor(ee, tanzania);
    const path = join(dir, "tanzania.tif");
    const result = await downloadImage(
      { backend: backendOf(emu), requests: new RequestLimiter() },
      image,
      path,
      { region: tanzania, scale: 10 },
    );
    assert.equal(result.crs, "EPSG:32736");
    const gdal = gdalCorners(path);
    assert.match(gdal.wkt, /UTM zone 36S/);
    assertCornersMatch(tanzania, result.crs, gdal, 10);
    // geotiff.js reads the same georeferencing.
    const tiff = await fromFile(path);
    const img = await tiff.getImage();
    assert.equal(img.getGeoKeys()?.ProjectedCSTypeGeoKey, 32736);
    assert.deepEqual(img.getOrigin().slice(0, 2), [gdal.ul[0], gdal.ul[1]]);
    await tiff.close();
  });

  it("never has more requests in flight at the server than the session's limiter allows", async () => {
    const slow = await start({ latencyMs: 30, msPerMegapixel: 20 });
    try {
      const eeSlow = await initializeEe({ apiUrl: slow.url, project: slow.project });
      const aois = [bbox(-82.435, 8.3958, 0.02), bbox(-82.4, 8.42, 0.02), bbox(-82.46, 8.37, 0.02)];
      const images = await Promise.all(aois.map((a) => snippetFor(eeSlow, a)));
      const requests = new RequestLimiter({ maxInFlight: 4 });
      const session = { backend: backendOf(slow), requests };
      const results = await Promise.all(
        images.map((image, i) =>
          downloadImage(session, image, join(dir, `conc-${i}.tif`), {
            region: aois[i],
            scale: 2,
            minRequests: 8,
          }),
        ),
      );
      const status = await slow.status();
      assert.ok(results.every((r) => r.tiles >= 8));
      assert.ok(status.stats.maxInFlight <= 4, `server saw ${status.stats.maxInFlight}`);
      assert.equal(requests.stats().maxInFlight, 4, "the limit was actually reached");
    } finally {
      await slow.stop();
      ee = await initializeEe({ apiUrl: emu.url, project: emu.project });
    }
  });

  it("gives pixel-identical files under 20% 5xx, resets, truncation, stalls and memory-limit 400s", async () => {
    const aoi = bbox(-82.435, 8.3958, 0.03, "faults");
    const image = await snippetFor(ee, aoi);
    const options = { region: aoi, scale: 2, minRequests: 8, tileSize: 256 };
    const clean = await downloadImage(
      { backend: backendOf(emu), requests: new RequestLimiter() },
      image,
      join(dir, "clean.tif"),
      options,
    );
    const expression = serializeExpression(image);
    const faulty = await start({
      faults: {
        serverErrorRate: 0.2,
        resetRate: 0.05,
        truncateRate: 0.05,
        stallRate: 0.05,
        stallMs: 10_000,
        memoryLimitPixels: 200_000,
      },
    });
    try {
      const result = await downloadImage(
        { backend: backendOf(faulty), requests: new RequestLimiter({ maxInFlight: 8 }) },
        expression,
        join(dir, "faulty.tif"),
        { ...options, requestTimeoutMs: 1500, retries: 12 },
      );
      assert.ok(result.retries > 0, "faults caused retries");
      assert.ok(result.splits > 0, "memory-limit refusals caused splits");
      const a = await readWindow(join(dir, "clean.tif"), 0, 0, clean.width, clean.height);
      const b = await readWindow(join(dir, "faulty.tif"), 0, 0, result.width, result.height);
      assert.ok(Buffer.from(a).equals(Buffer.from(b)), "pixels identical to the fault-free run");
    } finally {
      await faulty.stop();
    }
  });

  it("leaves neither the final file nor a temporary one when aborted mid-run", async () => {
    const slow = await start({ latencyMs: 100, msPerMegapixel: 50 });
    try {
      const sub = join(dir, "abort");
      await mkdir(sub);
      const eeSlow = await initializeEe({ apiUrl: slow.url, project: slow.project });
      const image = await snippetFor(eeSlow, panama);
      const controller = new AbortController();
      const requests = new RequestLimiter({ maxInFlight: 4 });
      const run = downloadImage({ backend: backendOf(slow), requests }, image, join(sub, "x.tif"), {
        region: panama,
        scale: 2,
        minRequests: 16,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.tilesDone >= 1) controller.abort();
        },
      });
      await assert.rejects(run, { name: "AbortError" });
      assert.deepEqual(await readdir(sub), []);
      assert.equal(requests.stats().inFlight, 0);
    } finally {
      await slow.stop();
      ee = await initializeEe({ apiUrl: emu.url, project: emu.project });
    }
  });
});
