/**
 * Interrupting a run and running it again: an abort stops every task promptly, leaves no
 * half-written file under a final name and no temporaries; a rerun downloads only what is
 * missing; a file damaged after it was written is reported, and replaced only when the user
 * asks for overwrite.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Ee } from "../../src/ee/client";
import { bbox } from "../../src/snippets/aoi";
import {
  downloadSnippet,
  downloadSnippets,
  ExistingFileError,
  type SnippetResult,
  type SnippetSession,
} from "../../src/snippets/batch";
import { Manifest, type SnippetParams } from "../../src/snippets/manifest";
import type { ImageInfo } from "../../src/snippets/search";
import {
  assertSameRaster,
  CENTER,
  eeFor,
  firstScenes,
  pixelRequests,
  type RunningEmulator,
  readRaster,
  sessionFor,
  startEmulator,
  strayFiles,
} from "./helpers";

const aoi = bbox(CENTER[0], CENTER[1], 0.09, "David");
const SCALE = 10;
/** Generous: a request takes ~0.3 s here; settling must not wait for whole images. */
const SETTLE_BOUND_MS = 5000;

let base: string;
let emulator: RunningEmulator;
let ee: Ee;
let session: SnippetSession;
let images: ImageInfo[];

before(async () => {
  base = await mkdtemp(join(tmpdir(), "interrupt-test-"));
  // Slow enough per request that an abort lands while images are mid-download.
  emulator = await startEmulator({ latencyMs: 300, msPerMegapixel: 0, bandwidthMBps: 0, seed: 3 });
  ee = await eeFor(emulator);
  session = await sessionFor(emulator, ee, { maxInFlight: 4 });
  images = await firstScenes(session, aoi, 6, "2024-04-01");
  assert.equal(images.length, 6);
});

after(async () => {
  await emulator?.stop();
  await rm(base, { recursive: true, force: true });
});

describe("an interrupted run", () => {
  const outDir = () => join(base, "run");
  let doneBeforeAbort: string[] = [];

  it("stops promptly on abort and leaves only complete files", async (t) => {
    const controller = new AbortController();
    let abortedAt = 0;
    const watcher = setInterval(async () => {
      const m = await Manifest.open(outDir()).catch(() => undefined);
      if (!abortedAt && m && m.entries().some((e) => e.status === "done")) {
        abortedAt = performance.now();
        controller.abort(new Error("stopped by the test"));
      }
    }, 20);
    const report = await downloadSnippets(session, images, {
      outDir: outDir(),
      aoi,
      scale: SCALE,
      limit: 2,
      signal: controller.signal,
      progress: false,
    }).finally(() => clearInterval(watcher));
    const settledMs = performance.now() - abortedAt;
    t.diagnostic(`all tasks settled ${settledMs.toFixed(0)} ms after abort`);

    assert.ok(abortedAt > 0, "the run finished before the test could abort it");
    assert.equal(report.aborted, true);
    assert.ok(settledMs < SETTLE_BOUND_MS, `settled ${settledMs} ms after abort`);
    const ok = report.items.filter((i) => i.ok);
    const failed = report.items.filter((i) => !i.ok);
    assert.ok(ok.length >= 1 && failed.length >= 1, `${ok.length} ok, ${failed.length} failed`);
    for (const item of failed) assert.match(item.error ?? "", /abort|not started/i);

    // No temporaries; every final name is a complete file the manifest vouches for.
    assert.deepEqual(await strayFiles(outDir()), []);
    const manifest2 = await Manifest.open(outDir());
    const files = (await readdir(outDir())).filter((n) => n.endsWith(".tif"));
    doneBeforeAbort = ok.map((i) => i.key);
    assert.deepEqual(
      files.sort(),
      doneBeforeAbort.map((id) => `${id}_L2A.tif`).sort(),
      "a file carries a final name without being complete",
    );
    for (const id of doneBeforeAbort) {
      assert.equal(manifest2.entry(id)?.status, "done");
      assert.equal(
        await manifest2.isComplete(id, manifest2.entry(id)?.params as SnippetParams),
        true,
      );
      const raster = await readRaster(join(outDir(), `${id}_L2A.tif`));
      assert.equal(raster.bands, 3);
    }
    for (const item of failed) {
      const entry = manifest2.entry(item.key);
      if (entry) {
        assert.equal(entry.status, "failed");
        assert.match(entry.error ?? "", /abort/i);
      }
    }
  });

  it("reruns only the rest, and skips complete files without any pixel request", async () => {
    const before = await pixelRequests(emulator);
    // The completed images alone: all skipped, not one computePixels request.
    const completed = images.filter((i) => doneBeforeAbort.includes(i.id));
    const again = await downloadSnippets(session, completed, {
      outDir: outDir(),
      aoi,
      scale: SCALE,
      progress: false,
    });
    assert.equal(again.failed, 0);
    assert.ok(again.items.every((i) => (i.value as SnippetResult).skipped));
    assert.equal(await pixelRequests(emulator), before, "a complete file was downloaded again");

    const all = await downloadSnippets(session, images, {
      outDir: outDir(),
      aoi,
      scale: SCALE,
      progress: false,
    });
    assert.equal(all.failed, 0, all.items.map((i) => i.error).join("; "));
    const skipped = all.items.filter((i) => (i.value as SnippetResult).skipped).map((i) => i.key);
    assert.deepEqual(skipped.sort(), [...doneBeforeAbort].sort());
    const downloaded = all.items.map((i) => i.value as SnippetResult).filter((r) => !r.skipped);
    assert.ok(downloaded.length > 0 && downloaded.every((r) => r.requests > 0));
    assert.deepEqual(await strayFiles(outDir()), []);
    const manifest = JSON.parse(await readFile(join(outDir(), "manifest.json"), "utf8"));
    for (const image of images) {
      const entry = manifest.entries[image.id];
      assert.ok(["done", "skipped"].includes(entry.status), `${image.id}: ${entry.status}`);
      assert.match(entry.sha256, /^[0-9a-f]{64}$/);
      assert.ok(entry.bytes > 0);
    }
  });

  it("reports a file damaged after it was written, and replaces it only with overwrite", async () => {
    const [victim, truncated] = images;
    const victimPath = join(outDir(), `${victim.id}_L2A.tif`);
    const truncatedPath = join(outDir(), `${truncated.id}_L2A.tif`);
    const reference = await readRaster(victimPath);
    const referenceTruncated = await readRaster(truncatedPath);
    // Flip bytes in the middle of the file: the size and the header stay valid.
    const bytes = await readFile(victimPath);
    for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 2) + i] ^= 0x5a;
    await writeFile(victimPath, bytes);
    await truncate(truncatedPath, 1000);

    const options = { outDir: outDir(), aoi, scale: SCALE, progress: false as const };
    const report = await downloadSnippets(session, images, options);
    const byId = new Map(report.items.map((i) => [i.key, i]));
    for (const id of [victim.id, truncated.id]) {
      const item = byId.get(id);
      assert.equal(item?.ok, false, `${id} was accepted`);
      assert.match(item?.error ?? "", /overwrite: true/);
    }
    assert.match(byId.get(victim.id)?.error ?? "", /SHA-256/);
    assert.match(byId.get(truncated.id)?.error ?? "", /bytes but was written with/);
    assert.equal(report.succeeded, images.length - 2);
    // Reported, not touched.
    assert.deepEqual(await readFile(victimPath), bytes);

    // The error is typed for callers of the single-image function too.
    await assert.rejects(downloadSnippet(session, victim, options), ExistingFileError);

    const fixed = await downloadSnippets(session, [victim, truncated], {
      ...options,
      overwrite: true,
    });
    assert.equal(fixed.failed, 0, fixed.items.map((i) => i.error).join("; "));
    assertSameRaster(await readRaster(victimPath), reference, "re-downloaded victim");
    assertSameRaster(
      await readRaster(truncatedPath),
      referenceTruncated,
      "re-downloaded truncated",
    );
    const manifest = await Manifest.open(outDir());
    assert.equal(manifest.entry(victim.id)?.status, "done");
    assert.equal(
      await manifest.isComplete(victim.id, manifest.entry(victim.id)?.params as SnippetParams),
      true,
    );
    assert.deepEqual(await strayFiles(outDir()), []);
  });

  it("does not reuse a file made with other parameters unless told to overwrite", async () => {
    const [image] = images;
    await assert.rejects(
      downloadSnippet(session, image, {
        outDir: outDir(),
        aoi,
        scale: SCALE,
        style: { max: 3000 },
      }),
      (error: unknown) => {
        assert.ok(error instanceof ExistingFileError);
        assert.match(error.message, /other parameters/);
        assert.match(error.message, /overwrite: true/);
        return true;
      },
    );
  });
});
