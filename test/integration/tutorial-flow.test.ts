/**
 * The tutorial's flow end to end through the public API, the way a notebook calls it:
 * connect to the emulator, search, download every snippet one after another and then
 * concurrently, and compare.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fromFile } from "geotiff";
import { bbox, connect, downloadSnippets, findImages, type Session } from "../../src/index";

let session: Session;
const outDir = mkdtempSync(join(tmpdir(), "tutorial-flow-"));

before(async () => {
  // A round trip dominates a 60 m snippet, as on Earth Engine: concurrency must pay.
  session = await connect({
    backend: "emulator",
    quiet: true,
    emulator: { latencyMs: 250, msPerMegapixel: 200 },
  });
});

after(async () => {
  await session?.close();
  rmSync(outDir, { recursive: true, force: true });
});

test("search, then sequential and concurrent downloads of the same snippets", async () => {
  const aoi = bbox(-82.435, 8.3958, 0.09, "David");
  const images = await findImages(session, {
    aoi,
    start: "2024-01-01",
    end: "2024-03-01",
    maxCloud: 85,
  });
  assert.ok(images.length >= 6, `the emulator revisits every 5 days: ${images.length} images`);
  assert.ok(
    images.every((image, i) => i === 0 || images[i - 1].time <= image.time),
    "sorted by time",
  );
  assert.ok(images.every((image) => image.cloudPercent < 85));

  const options = { outDir, aoi, scale: 60, overwrite: true, progress: false } as const;
  const sequential = await downloadSnippets(session, images, { ...options, sequential: true });
  const concurrent = await downloadSnippets(session, images, { ...options, limit: 4 });
  assert.equal(sequential.failed, 0, JSON.stringify(sequential.items.filter((i) => !i.ok)));
  assert.equal(concurrent.failed, 0, JSON.stringify(concurrent.items.filter((i) => !i.ok)));
  assert.ok(
    concurrent.wallMs < sequential.wallMs,
    `concurrent x4 (${concurrent.wallMs.toFixed(0)} ms) must beat sequential (${sequential.wallMs.toFixed(0)} ms)`,
  );
  const overlapping = concurrent.items.some((a) =>
    concurrent.items.some((b) => a !== b && a.startMs < b.endMs && b.startMs < a.endMs),
  );
  assert.ok(overlapping, "the concurrent run's downloads overlap in time");

  const first = concurrent.items[0].value;
  assert.ok(first);
  const tiff = await fromFile(first.path);
  const image = await tiff.getImage();
  assert.equal(image.getSamplesPerPixel(), 3);
  assert.equal(image.getWidth(), first.width);
  const pixels = (await image.readRasters({ interleave: true })) as unknown as Uint8Array;
  assert.ok(
    pixels.some((v) => v > 0),
    "the snippet has content",
  );
});
