/**
 * downloadSnippet's decisions that need no server: checks made before any request, and
 * skipping or refusing existing files from the manifest alone. The session here throws on
 * any use, so a test passes only if nothing was sent.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DownloadParameterError, OutputTooLargeError } from "../../src/download/errors";
import type { Backend } from "../../src/ee/backend";
import type { Ee } from "../../src/ee/client";
import { RequestLimiter } from "../../src/ee/limiter";
import { bbox } from "../../src/snippets/aoi";
import {
  DEFAULT_MAX_SNIPPET_BYTES,
  downloadSnippet,
  downloadSnippets,
  ExistingFileError,
  estimateSnippetBytes,
  type SnippetSession,
  snippetParams,
} from "../../src/snippets/batch";
import { Manifest } from "../../src/snippets/manifest";
import { OutputDirError, OutputPathError } from "../../src/snippets/outputs";

const aoi = bbox(-82.435, 8.3958, 0.09, "David");
let touched = 0;
const untouchable = new Proxy(
  {},
  {
    get() {
      touched++;
      throw new Error("the session was used");
    },
  },
);
const session: SnippetSession = {
  ee: untouchable as Ee,
  backend: untouchable as Backend,
  requests: new RequestLimiter(),
};

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "snippets-offline-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("checks before any request", () => {
  it("refuses a bad scale", async () => {
    for (const scale of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(
        downloadSnippet(session, "img", { outDir: join(base, "a"), aoi, scale }),
        /scale must be a positive number/,
      );
    }
    assert.equal(touched, 0);
  });

  it("estimates the output and refuses it over the cap without consent", async () => {
    const estimate = estimateSnippetBytes({ aoi, scale: 0.2 });
    assert.ok(estimate.bytes > DEFAULT_MAX_SNIPPET_BYTES, estimate.text);
    await assert.rejects(
      downloadSnippet(session, "img", { outDir: join(base, "a"), aoi, scale: 0.2 }),
      (error: unknown) => {
        assert.ok(error instanceof OutputTooLargeError);
        assert.equal(error.estimatedBytes, estimate.bytes);
        assert.match(error.message, /allowLarge: true/);
        return true;
      },
    );
    assert.equal(touched, 0);
  });

  it("refuses hostile ids, a bad image argument, a bad limit and an unwritable outDir", async () => {
    const options = { outDir: join(base, "b"), aoi, scale: 10 };
    await assert.rejects(downloadSnippet(session, "../x", options), OutputPathError);
    await assert.rejects(
      downloadSnippet(session, 7 as unknown as string, options),
      DownloadParameterError,
    );
    await assert.rejects(downloadSnippets(session, ["a", "b"], { ...options, limit: 0 }), /limit/);
    await assert.rejects(
      downloadSnippets(session, ["a"], { ...options, outDir: "/etc/hostname/x" }),
      OutputDirError,
    );
    assert.equal(touched, 0);
  });

  it("takes a full asset id of the chosen collection as its system:index", async () => {
    await assert.rejects(
      downloadSnippet(session, "OTHER/COLLECTION/img", { outDir: join(base, "c"), aoi, scale: 10 }),
      /contains "\/"/,
    );
    assert.equal(touched, 0);
  });
});

describe("existing files, decided from the manifest", () => {
  const id = "20240105T153619_20240105T154242_T17PMK";
  const content = Buffer.from("a complete snippet, as far as this test is concerned");

  async function completed(outDir: string) {
    const file = `${id}_L2A.tif`;
    await import("node:fs/promises").then((fs) => fs.mkdir(outDir, { recursive: true }));
    await writeFile(join(outDir, file), content);
    const manifest = await Manifest.open(outDir);
    const params = snippetParams({ aoi, scale: 10 }, "COPERNICUS/S2_SR_HARMONIZED");
    await manifest.record(id, { params, file, status: "pending" });
    await manifest.record(id, {
      status: "done",
      width: 990,
      height: 995,
      bands: 3,
      bytes: content.length,
      sha256: createHash("sha256").update(content).digest("hex"),
    });
    return join(outDir, file);
  }

  it("skips a complete, verified file without a request", async () => {
    const outDir = join(base, "skip");
    const path = await completed(outDir);
    const result = await downloadSnippet(session, id, { outDir, aoi, scale: 10 });
    assert.equal(result.skipped, true);
    assert.equal(result.path, path);
    assert.equal(result.width, 990);
    assert.equal(result.requests, 0);
    const manifest = JSON.parse(await readFile(join(outDir, "manifest.json"), "utf8"));
    assert.equal(manifest.entries[id].status, "skipped");
    assert.equal(manifest.entries[id].attempts, 1);
    assert.equal(touched, 0);
  });

  it("reports a changed file instead of downloading or skipping it", async () => {
    const outDir = join(base, "corrupt");
    const path = await completed(outDir);
    const bytes = await readFile(path);
    bytes[0] ^= 1;
    await writeFile(path, bytes);
    await assert.rejects(
      downloadSnippet(session, id, { outDir, aoi, scale: 10 }),
      (error: unknown) => {
        assert.ok(error instanceof ExistingFileError);
        assert.match(error.message, /SHA-256/);
        assert.match(error.message, /overwrite: true/);
        return true;
      },
    );
    assert.deepEqual(await readFile(path), bytes, "the file was touched");
    const manifest = await Manifest.open(outDir);
    assert.equal(manifest.entry(id)?.status, "failed");
    assert.match(manifest.entry(id)?.error ?? "", /SHA-256/);
    assert.equal(touched, 0);
  });

  it("reports a file made with other parameters", async () => {
    const outDir = join(base, "params");
    await completed(outDir);
    await assert.rejects(
      downloadSnippet(session, id, { outDir, aoi, scale: 10, style: { gamma: 2 } }),
      /other parameters \(style/,
    );
    assert.equal(touched, 0);
  });

  it("goes to the server only when overwrite is explicit", async () => {
    const outDir = join(base, "overwrite");
    await completed(outDir);
    await assert.rejects(
      downloadSnippet(session, id, { outDir, aoi, scale: 10, overwrite: true }),
      /the session was used/,
    );
    assert.ok(touched > 0);
    const manifest = await Manifest.open(outDir);
    // The failed attempt is recorded; the old file still matches its checksum.
    assert.equal(manifest.entry(id)?.status, "failed");
    assert.equal(manifest.entry(id)?.attempts, 2);
    assert.equal(
      await manifest.isComplete(
        id,
        snippetParams({ aoi, scale: 10 }, "COPERNICUS/S2_SR_HARMONIZED"),
      ),
      true,
    );
  });
});
