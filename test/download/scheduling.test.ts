/**
 * How downloads are scheduled and sized for small snippets: one tile just big enough, the
 * serialized snippet template, the onFetched hand-over, and a bad directory found while the
 * first request is already out.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { fromFile } from "geotiff";
import { downloadImage, RequestLimiter } from "../../src/download";
import { defaultTileSize } from "../../src/download/plan";
import type { Backend } from "../../src/ee/backend";
import { type Ee, initializeEe, serializeExpression } from "../../src/ee/client";
import { type RunningEmulator, startEmulator } from "../../src/emulator";
import { GeoTiffDirectoryError } from "../../src/geotiff/errors";
import { bbox } from "../../src/snippets/aoi";
import { SNIPPET_BANDS } from "../../src/snippets/batch";
import { findImages, type ImageInfo } from "../../src/snippets/search";
import { snippetExpression, snippetImage } from "../../src/snippets/snippet-image";

const aoi = bbox(-82.435, 8.3958, 0.09, "David, Panama");

describe("downloads of small snippets", () => {
  let emu: RunningEmulator;
  let ee: Ee;
  let dir: string;
  let found: ImageInfo[];
  const session = () => ({
    backend: {
      kind: "emulator",
      apiUrl: emu.url,
      project: emu.project,
      authorization: async () => undefined,
    } satisfies Backend,
    requests: new RequestLimiter(),
  });

  before(async () => {
    emu = await startEmulator({
      latencyMs: 0,
      msPerMegapixel: 0,
      seed: 3,
      faults: { memoryLimitPixels: 100_000 },
    });
    ee = await initializeEe({ apiUrl: emu.url, project: emu.project });
    dir = await mkdtemp(join(tmpdir(), "download-scheduling-"));
    found = await findImages(
      { ee },
      { aoi, start: "2024-01-01", end: "2024-03-01", maxCloud: 85, onWarning: () => {} },
    );
    assert.ok(found.length >= 3, "the emulator has scenes over the AOI");
  });
  after(async () => {
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("tiles an image smaller than 512 px as one tile just big enough (multiple of 16)", async () => {
    assert.equal(defaultTileSize(100, 101), 112);
    assert.equal(defaultTileSize(1, 1), 16);
    assert.equal(defaultTileSize(496, 200), 496);
    assert.equal(defaultTileSize(511, 30), 512);
    assert.equal(defaultTileSize(5000, 5000), 512);

    const image = snippetImage({ ee }, found[0].id, { aoi });
    const options = { region: aoi, scale: 100, bands: SNIPPET_BANDS };
    const small = await downloadImage(session(), image, join(dir, "small.tif"), options);
    const padded = await downloadImage(session(), image, join(dir, "padded.tif"), {
      ...options,
      tileSize: 512,
    });
    assert.deepEqual([small.width, small.height], [100, 101]);
    const read = async (path: string) => {
      const tiff = await fromFile(path);
      const img = await tiff.getImage();
      const pixels = Buffer.from(
        (await img.readRasters({ interleave: true })) as unknown as Uint8Array,
      );
      const tile = [img.getTileWidth(), img.getTileHeight()];
      await tiff.close();
      return { pixels, tile };
    };
    const [a, b] = await Promise.all([read(small.path), read(padded.path)]);
    assert.deepEqual(a.tile, [112, 112]);
    assert.deepEqual(b.tile, [512, 512]);
    assert.ok(a.pixels.equals(b.pixels), "same pixels whatever the tile size");
    assert.ok(small.bytes < padded.bytes, `${small.bytes} B vs ${padded.bytes} B`);
  });

  it("serializes snippets from one template per style, exactly as the client would", () => {
    const styles = [
      { aoi },
      { aoi, outlineWidth: 0 },
      { aoi, bands: ["B4", "B3", "B2"] as [string, string, string], gamma: 1, max: 3000 },
      { aoi: bbox(10, 10, 0.05, "elsewhere"), collection: "COPERNICUS/S2_HARMONIZED" },
    ];
    for (const style of styles) {
      for (const image of found.slice(0, 3)) {
        const fast = snippetExpression({ ee }, image.id, style);
        const client = serializeExpression(snippetImage({ ee }, image.id, style));
        assert.ok(isDeepStrictEqual(fast, client), `${image.id} with ${JSON.stringify(style)}`);
      }
    }
  });

  it("calls onFetched once, after every pixel arrived (splits too) and before the file exists", async () => {
    // 1000 x 1000 px in 512 px windows, each over the 100k-pixel memory limit: every window
    // is refused and split before its pixels arrive.
    const path = join(dir, "split.tif");
    const calls: boolean[] = [];
    const result = await downloadImage(
      session(),
      snippetExpression({ ee }, found[1].id, { aoi }),
      path,
      {
        region: aoi,
        scale: 10,
        bands: SNIPPET_BANDS,
        onFetched: () => calls.push(existsSync(path)),
      },
    );
    assert.ok(result.splits > 0, "the memory limit forced splits");
    assert.deepEqual(calls, [false], "once, before the file was published");
    assert.ok(existsSync(path));
  });

  it("refuses a missing output directory with what to fix, even with requests already out", async () => {
    const missing = join(dir, "no-such-dir", "x.tif");
    await assert.rejects(
      downloadImage(session(), snippetExpression({ ee }, found[2].id, { aoi }), missing, {
        region: aoi,
        scale: 100,
        bands: SNIPPET_BANDS,
      }),
      (error: Error) =>
        error instanceof GeoTiffDirectoryError &&
        /does not exist; create it first/.test(error.message),
    );
    assert.equal(existsSync(join(dir, "no-such-dir")), false);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.includes(".partial-")),
      [],
      "no temporary files",
    );
  });
});
