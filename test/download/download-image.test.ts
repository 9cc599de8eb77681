import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromFile } from "geotiff";
import {
  DownloadParameterError,
  downloadImage,
  OutputExistsError,
  OutputTooLargeError,
  RequestLimiter,
} from "../../src/download";
import { type FakeEe, type FakeFaults, pixelValue, startFakeEe } from "./fake-ee";

const expression = { result: "0", values: { "0": { constantValue: 1 } } };
const region = {
  type: "Polygon" as const,
  coordinates: [
    [
      [-82.44, 8.39],
      [-82.43, 8.39],
      [-82.43, 8.4],
      [-82.44, 8.4],
      [-82.44, 8.39],
    ],
  ],
};
// Small tiles and requests so a ~555 px square needs many windows.
const small = { region, scale: 2, tileSize: 128, maxRequestBytes: 128 * 128 * 4 * 3 };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "download-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readPixels(path: string) {
  const tiff = await fromFile(path);
  const image = await tiff.getImage();
  const data = (await image.readRasters({ interleave: true })) as unknown as Uint8Array;
  const info = {
    width: image.getWidth(),
    height: image.getHeight(),
    bands: image.getSamplesPerPixel(),
    origin: image.getOrigin(),
    resolution: image.getResolution(),
    epsg: image.getGeoKeys()?.ProjectedCSTypeGeoKey,
    nodata: image.getGDALNoData(),
  };
  await tiff.close();
  return { data: Uint8Array.from(data), ...info };
}

async function withFake<T>(faults: FakeFaults, fn: (fake: FakeEe) => Promise<T>): Promise<T> {
  const fake = await startFakeEe({ faults });
  try {
    return await fn(fake);
  } finally {
    await fake.stop();
  }
}

describe("downloadImage against a fake backend", () => {
  let reference: Uint8Array;

  it("assembles many windows into a file equal to the pixel function, pixel for pixel", async () => {
    await withFake({}, async (fake) => {
      const requests = new RequestLimiter({ maxInFlight: 3 });
      const progress: number[] = [];
      const path = join(dir, "clean.tif");
      const result = await downloadImage({ backend: fake.backend, requests }, expression, path, {
        ...small,
        onProgress: (p) => progress.push(p.tilesDone / p.tilesTotal),
      });
      assert.equal(result.skipped, false);
      assert.equal(result.crs, "EPSG:32617");
      assert.deepEqual(result.bandNames, fake.bands);
      assert.ok(result.tiles >= 4, `${result.tiles} windows`);
      assert.equal(result.requests, result.tiles + 1, "one metadata call, one call per window");
      assert.equal(fake.requests.filter((r) => r.method === "value:compute").length, 1);
      assert.ok(fake.maxInFlight <= 3, `server saw ${fake.maxInFlight} in flight`);
      assert.equal(progress.at(-1), 1);
      assert.match(result.sha256 ?? "", /^[0-9a-f]{64}$/);

      const file = await readPixels(path);
      assert.equal(file.width, result.width);
      assert.equal(file.bands, 3);
      assert.equal(file.epsg, 32617);
      assert.deepEqual(file.origin.slice(0, 2), [result.transform[2], result.transform[5]]);
      assert.deepEqual(file.resolution.slice(0, 2), [2, -2]);
      assert.equal(file.nodata, 0);
      const gx0 = Math.round(result.transform[2] / 2);
      const gy0 = Math.round(result.transform[5] / -2);
      let mismatches = 0;
      for (let y = 0; y < file.height; y++) {
        for (let x = 0; x < file.width; x++) {
          for (let b = 0; b < 3; b++) {
            if (file.data[(y * file.width + x) * 3 + b] !== pixelValue(gx0 + x, gy0 + y, b))
              mismatches++;
          }
        }
      }
      assert.equal(mismatches, 0);
      reference = file.data;
      // The fake's bands claim 10 m native pixels: 2 m is upsampling, and we say so.
      assert.ok(
        result.warnings.some((w) => /finer than the data's native 10/.test(w)),
        result.warnings.join(),
      );
    });
  });

  it("survives 5xx, resets, truncation, 429s and memory-limit 400s with identical pixels", async () => {
    const faults = {
      serverErrorEvery: 3,
      resetEvery: 5,
      truncateEvery: 7,
      throttleEvery: 11,
      memoryLimitPixels: 128 * 128 * 2,
    };
    await withFake(faults, async (fake) => {
      const requests = new RequestLimiter({ maxInFlight: 4, adaptive: true });
      const path = join(dir, "faulty.tif");
      const result = await downloadImage({ backend: fake.backend, requests }, expression, path, {
        ...small,
        retries: 10,
      });
      assert.ok(result.retries > 0, "some requests were retried");
      assert.ok(result.splits > 0, "some windows were split");
      assert.deepEqual((await readPixels(path)).data, reference);
    });
  });

  it("times out stalled replies and retries them", async () => {
    await withFake({ stallEvery: 4 }, async (fake) => {
      const requests = new RequestLimiter({ maxInFlight: 4 });
      const path = join(dir, "stalls.tif");
      const result = await downloadImage({ backend: fake.backend, requests }, expression, path, {
        ...small,
        requestTimeoutMs: 300,
      });
      assert.ok(result.retries > 0);
      assert.deepEqual((await readPixels(path)).data, reference);
    });
  });

  it("leaves no file and no temporary file when aborted mid-run", async () => {
    await withFake({ delayMs: 100 }, async (fake) => {
      const sub = join(dir, "abort");
      await rm(sub, { recursive: true, force: true });
      await import("node:fs/promises").then((fs) => fs.mkdir(sub));
      const requests = new RequestLimiter({ maxInFlight: 2 });
      const controller = new AbortController();
      const path = join(sub, "aborted.tif");
      const run = downloadImage({ backend: fake.backend, requests }, expression, path, {
        ...small,
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 250);
      await assert.rejects(run, { name: "AbortError" });
      assert.deepEqual(await readdir(sub), []);
      assert.equal(requests.stats().inFlight, 0);
    });
  });

  it("skips a valid existing file, refuses an invalid one, and overwrites on request", async () => {
    await withFake({}, async (fake) => {
      const session = { backend: fake.backend, requests: new RequestLimiter() };
      const path = join(dir, "clean.tif");
      const skipped = await downloadImage(session, expression, path, small);
      assert.equal(skipped.skipped, true);
      assert.equal(fake.requests.filter((r) => r.method === "computePixels").length, 0);

      const other = join(dir, "garbage.tif");
      await writeFile(other, "not a tiff");
      await assert.rejects(downloadImage(session, expression, other, small), OutputExistsError);
      // A valid file of another grid is not "complete" for this download either.
      await assert.rejects(
        downloadImage(session, expression, path, { ...small, scale: 4 }),
        /georeferencing|px/,
      );
      const replaced = await downloadImage(session, expression, other, {
        ...small,
        overwrite: true,
      });
      assert.equal(replaced.skipped, false);
      assert.deepEqual((await readPixels(other)).data, reference);
    });
  });

  it("writes a COG with overviews by default; a rerun skips only a file with the same overviews and layout", async () => {
    await withFake({}, async (fake) => {
      const session = { backend: fake.backend, requests: new RequestLimiter() };
      const cogPath = join(dir, "cog-default.tif");
      const cog = await downloadImage(session, expression, cogPath, {
        ...small,
        metadata: { EE_ID: "test/image" },
      });
      assert.equal(cog.cloudOptimized, true);
      assert.ok(cog.overviews >= 1, `expected overviews, got ${cog.overviews}`);
      const tiff = await fromFile(cogPath);
      try {
        assert.equal(await tiff.getImageCount(), cog.overviews + 1);
        const items = (await (await tiff.getImage(0)).getGDALMetadata()) as Record<string, string>;
        assert.equal(items.EE_ID, "test/image");
        assert.equal(items.SCALE, "2");
        assert.equal(items.CRS, cog.crs);
      } finally {
        await tiff.close();
      }
      assert.deepEqual((await readPixels(cogPath)).data, reference);

      const plainPath = join(dir, "cog-off.tif");
      const plain = await downloadImage(session, expression, plainPath, { ...small, cog: false });
      assert.equal(plain.cloudOptimized, false);
      assert.equal(plain.overviews, 0);
      assert.ok(plain.bytes < cog.bytes, "overviews cost bytes");

      const before = fake.requests.filter((r) => r.method === "computePixels").length;
      assert.equal((await downloadImage(session, expression, cogPath, small)).skipped, true);
      const again = await downloadImage(session, expression, plainPath, { ...small, cog: false });
      assert.equal(again.skipped, true);
      assert.equal(fake.requests.filter((r) => r.method === "computePixels").length, before);
      // Other overview settings than the file's: refused, never skipped as if it matched.
      await assert.rejects(
        downloadImage(session, expression, cogPath, { ...small, cog: false }),
        (e: Error) =>
          e instanceof OutputExistsError && /overview levels|cloud-optimized/.test(e.message),
      );
      await assert.rejects(
        downloadImage(session, expression, plainPath, small),
        (e: Error) =>
          e instanceof OutputExistsError && /overview levels|cloud-optimized/.test(e.message),
      );
    });
  });

  it("with a bands hint, sends no metadata request and writes the same pixels", async () => {
    await withFake({}, async (fake) => {
      const requests = new RequestLimiter({ maxInFlight: 3 });
      const path = join(dir, "hinted.tif");
      const result = await downloadImage({ backend: fake.backend, requests }, expression, path, {
        ...small,
        bands: { names: ["vis-red", "vis-green", "vis-blue"], sampleType: "uint8" },
        nativeScale: 10,
      });
      assert.equal(fake.requests.filter((r) => r.method === "value:compute").length, 0);
      assert.equal(result.requests, result.tiles, "one request per window, nothing else");
      assert.deepEqual(result.bandNames, ["vis-red", "vis-green", "vis-blue"]);
      assert.equal(result.sampleType, "uint8");
      assert.ok(result.warnings.some((w) => /finer than the data's native 10/.test(w)));
      assert.deepEqual((await readPixels(path)).data, reference);
    });
  });

  it("a single small image takes exactly one request with a hint", async () => {
    await withFake({}, async (fake) => {
      const requests = new RequestLimiter();
      const result = await downloadImage(
        { backend: fake.backend, requests },
        expression,
        join(dir, "one.tif"),
        {
          region,
          scale: 20,
          bands: { names: ["vis-red", "vis-green", "vis-blue"], sampleType: "uint8" },
        },
      );
      assert.equal(result.requests, 1);
      assert.deepEqual(
        fake.requests.map((r) => r.method),
        ["computePixels"],
      );
    });
  });

  for (const [label, bands, why] of [
    [
      "a wrong sample type",
      { names: ["vis-red", "vis-green", "vis-blue"], sampleType: "uint16" },
      /vis-red \(uint8\)/,
    ],
    [
      "band names the image lacks",
      { names: ["red", "green", "blue"], sampleType: "uint8" },
      /Pattern 'red'/,
    ],
  ] as const) {
    it(`recovers from a bands hint with ${label}: metadata, right pixels, a warning`, async () => {
      await withFake({}, async (fake) => {
        const requests = new RequestLimiter({ maxInFlight: 3 });
        const path = join(dir, `wrong-hint-${label.length}.tif`);
        const result = await downloadImage({ backend: fake.backend, requests }, expression, path, {
          ...small,
          bands: { names: [...bands.names], sampleType: bands.sampleType },
        });
        assert.equal(fake.requests.filter((r) => r.method === "value:compute").length, 1);
        assert.deepEqual(result.bandNames, fake.bands);
        assert.equal(result.sampleType, "uint8");
        const warning = result.warnings.find((w) => /bands hint/.test(w)) ?? "";
        assert.match(warning, why);
        assert.match(warning, /downloaded with the image's own bands/);
        assert.deepEqual((await readPixels(path)).data, reference);
        assert.deepEqual(
          await readdir(dir).then((f) => f.filter((n) => n.includes(".partial-"))),
          [],
        );
      });
    });
  }

  it("refuses a malformed bands hint before any request", async () => {
    await withFake({}, async (fake) => {
      const session = { backend: fake.backend, requests: new RequestLimiter() };
      for (const bands of [
        { names: [], sampleType: "uint8" },
        { names: ["a", "a"], sampleType: "uint8" },
        { names: ["a"], sampleType: "uint9" },
      ]) {
        await assert.rejects(
          downloadImage(session, expression, join(dir, "bad-hint.tif"), {
            ...small,
            bands: bands as never,
          }),
          (e: unknown) => e instanceof DownloadParameterError && /bands\./.test(e.message),
        );
      }
      assert.equal(fake.requests.length, 0);
    });
  });

  it("refuses oversized outputs and bad options before downloading any pixel", async () => {
    await withFake({}, async (fake) => {
      const session = { backend: fake.backend, requests: new RequestLimiter() };
      await assert.rejects(
        downloadImage(session, expression, join(dir, "big.tif"), {
          ...small,
          maxOutputBytes: 1000,
        }),
        (e: unknown) => e instanceof OutputTooLargeError && /allowLarge: true/.test(e.message),
      );
      await assert.rejects(
        downloadImage(session, expression, join(dir, "x.tif"), { ...small, scale: 0 }),
        DownloadParameterError,
      );
      assert.equal(fake.requests.filter((r) => r.method === "computePixels").length, 0);
    });
  });
});
