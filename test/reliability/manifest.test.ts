import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  Manifest,
  ManifestError,
  type ManifestFs,
  type SnippetParams,
  sha256File,
} from "../../src/snippets/manifest";

const params: SnippetParams = {
  collection: "COPERNICUS/S2_SR_HARMONIZED",
  aoiBounds: [-82.48, 8.35, -82.39, 8.44],
  scale: 10,
  crs: null,
  style: { bands: ["B8", "B4", "B3"], min: 0, max: 5000, gamma: 1.35 },
};

let base: string;
let counter = 0;
async function freshDir(): Promise<string> {
  const dir = join(base, `run-${counter++}`);
  await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
  return dir;
}

async function writeSnippet(dir: string, name: string, content: string) {
  const path = join(dir, name);
  await writeFile(path, content);
  return {
    bytes: Buffer.byteLength(content),
    sha256: createHash("sha256").update(content).digest("hex"),
  };
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), "manifest-test-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("Manifest", () => {
  it("records parameters, checksum, status, error, attempts and timestamps on disk", async () => {
    const dir = await freshDir();
    const manifest = await Manifest.open(dir);
    const file = await writeSnippet(dir, "a_L2A.tif", "pixels of a");
    await manifest.record("a", { params, file: "a_L2A.tif", status: "pending" });
    await manifest.record("a", { status: "done", width: 9, height: 9, bands: 3, ...file });
    await manifest.record("b", { params, file: "b_L2A.tif", status: "pending" });
    await manifest.record("b", { status: "failed", error: "HTTP 500 five times" });

    const onDisk = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
    assert.equal(onDisk.version, 1);
    const a = onDisk.entries.a;
    assert.deepEqual(a.params, params);
    assert.equal(a.status, "done");
    assert.equal(a.sha256, file.sha256);
    assert.equal(a.bytes, file.bytes);
    assert.equal(a.attempts, 1);
    assert.ok(Date.parse(a.startedAt) <= Date.parse(a.finishedAt));
    assert.equal(a.error, undefined);
    assert.equal(onDisk.entries.b.status, "failed");
    assert.equal(onDisk.entries.b.error, "HTTP 500 five times");

    // A new attempt counts, and a success clears the old error.
    await manifest.record("b", { status: "pending" });
    await manifest.record("b", { status: "done" });
    const b = manifest.entry("b");
    assert.equal(b?.attempts, 2);
    assert.equal(b?.error, undefined);
  });

  it("is one instance per file within a process, and rereads a file changed outside", async () => {
    const dir = await freshDir();
    const one = await Manifest.open(dir);
    const two = await Manifest.open(dir);
    assert.equal(one, two);
    await one.record("x", { params, file: "x.tif", status: "failed", error: "e" });
    const edited = JSON.parse(await readFile(one.path, "utf8"));
    edited.entries.x.status = "pending";
    edited.entries.x.note = "edited by hand";
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(one.path, JSON.stringify(edited));
    const three = await Manifest.open(dir);
    assert.equal(three.entry("x")?.status, "pending");
  });

  it("keeps every record when hundreds are made concurrently, with coalesced writes", async () => {
    const dir = await freshDir();
    let writes = 0;
    const realFs = await import("node:fs/promises");
    const fs: ManifestFs = {
      async writeFile(path, data) {
        writes++;
        // A slow disk widens the window in which records pile up during a write.
        await new Promise((r) => setTimeout(r, 2));
        await realFs.writeFile(path, data, { flag: "wx" });
      },
      rename: realFs.rename,
    };
    const manifest = await Manifest.open(dir, { fs, fresh: true });
    const ids = Array.from({ length: 300 }, (_, i) => `img${i}`);
    await Promise.all(
      ids.flatMap((id, i) => [
        manifest.record(id, { params, file: `${id}.tif`, status: "pending" }),
        manifest.record(id, { status: i % 7 === 0 ? "failed" : "done", bytes: i }),
      ]),
    );
    const onDisk = JSON.parse(await readFile(manifest.path, "utf8"));
    assert.equal(Object.keys(onDisk.entries).length, ids.length);
    for (const [i, id] of ids.entries()) {
      assert.equal(onDisk.entries[id].status, i % 7 === 0 ? "failed" : "done", id);
      assert.equal(onDisk.entries[id].bytes, i);
      assert.equal(onDisk.entries[id].attempts, 1);
    }
    assert.ok(writes < ids.length, `${writes} writes for ${ids.length * 2} records`);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n !== "manifest.json"),
      [],
      "temporary files left",
    );
  });

  it("resolves a record once a write containing it is done, not when the writing stops", async () => {
    const dir = await freshDir();
    const realFs = await import("node:fs/promises");
    const fs: ManifestFs = {
      async writeFile(path, data) {
        await new Promise((r) => setTimeout(r, 20));
        await realFs.writeFile(path, data, { flag: "wx" });
      },
      rename: realFs.rename,
    };
    const manifest = await Manifest.open(dir, { fs, fresh: true });
    const t0 = performance.now();
    let firstDoneAt = 0;
    const first = manifest.record("first", { params, file: "first.tif", status: "pending" });
    void first.then(() => {
      firstDoneAt = performance.now() - t0;
    });
    // Records keep coming for ~200 ms, so writes never stop during that time.
    const rest: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 10));
      rest.push(manifest.record(`later${i}`, { params, file: `l${i}.tif`, status: "pending" }));
    }
    await Promise.all([first, ...rest]);
    const lastDoneAt = performance.now() - t0;
    assert.ok(firstDoneAt > 0 && firstDoneAt < 100, `first record on disk after ${firstDoneAt} ms`);
    assert.ok(lastDoneAt > 150, `the later records took ${lastDoneAt} ms in all`);
    const onDisk = JSON.parse(await readFile(manifest.path, "utf8"));
    assert.equal(Object.keys(onDisk.entries).length, 21);
  });

  it("leaves the previous manifest intact when a write fails half-way (disk full)", async () => {
    const dir = await freshDir();
    const realFs = await import("node:fs/promises");
    let failNext = false;
    const fs: ManifestFs = {
      async writeFile(path, data) {
        if (failNext) {
          failNext = false;
          await realFs.writeFile(path, data.slice(0, data.length / 2));
          throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
        }
        await realFs.writeFile(path, data, { flag: "wx" });
      },
      rename: realFs.rename,
    };
    const manifest = await Manifest.open(dir, { fs, fresh: true });
    await manifest.record("a", { params, file: "a.tif", status: "done" });
    const before = await readFile(manifest.path, "utf8");
    failNext = true;
    await assert.rejects(
      manifest.record("b", { params, file: "b.tif", status: "done" }),
      (error: unknown) => {
        assert.ok(error instanceof ManifestError);
        assert.match(error.message, /disk is full/);
        assert.match(error.message, /previous manifest is intact/);
        return true;
      },
    );
    assert.equal(await readFile(manifest.path, "utf8"), before);
    assert.deepEqual(await readdir(dir), ["manifest.json"], "the half-written temporary remains");
    // The record is not lost: the next flush writes it.
    await manifest.flush();
    const onDisk = JSON.parse(await readFile(manifest.path, "utf8"));
    assert.deepEqual(Object.keys(onDisk.entries).sort(), ["a", "b"]);
  });

  it("survives a process killed mid-write: the file on disk always parses", async () => {
    const dir = await freshDir();
    // The child rewrites a large manifest as fast as it can; SIGKILL lands mid-write.
    const script = `
      const { Manifest } = require(${JSON.stringify(join(__dirname, "../../src/snippets/manifest"))});
      (async () => {
        const m = await Manifest.open(${JSON.stringify(dir)});
        const params = ${JSON.stringify(params)};
        for (let i = 0; ; i++) {
          await m.record("img" + (i % 2000), { params, file: "f" + i, status: "done", bytes: i,
            error: "x".repeat(500) });
          if (i === 50) process.stdout.write("ready\\n");
        }
      })();`;
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolveReady, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) resolveReady();
      });
      child.on("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;

    const names = await readdir(dir);
    const onDisk = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
    assert.equal(onDisk.version, 1);
    assert.ok(Object.keys(onDisk.entries).length > 50);
    // Opening it again cleans temporaries the dead writer left behind.
    const reopened = await Manifest.open(dir, { fresh: true });
    assert.ok(reopened.entries().length > 50);
    assert.deepEqual(await readdir(dir), ["manifest.json"], `left: ${names.join(", ")}`);
  });

  it("refuses a damaged manifest with a message naming the fix", async () => {
    const dir = await freshDir();
    await writeFile(join(dir, "manifest.json"), '{"version": 1, "entries": {');
    await assert.rejects(Manifest.open(dir), /not valid JSON.*move it away/);
  });

  describe("isComplete", () => {
    let dir: string;
    let manifest: Manifest;
    const name = "s_L2A.tif";
    before(async () => {
      dir = await freshDir();
      manifest = await Manifest.open(dir);
    });

    async function downloaded(content = "the pixels, all of them") {
      const file = await writeSnippet(dir, name, content);
      await manifest.record("s", { params, file: name, status: "pending" });
      await manifest.record("s", { status: "done", ...file });
    }

    it("is true for a done entry whose file matches size and checksum", async () => {
      await downloaded();
      assert.equal(await manifest.isComplete("s", params, { verify: true }), true);
      assert.equal(await manifest.isComplete("other", params), false);
    });

    it("detects a flipped byte (same size) only when verifying", async () => {
      await downloaded();
      const path = join(dir, name);
      const bytes = await readFile(path);
      bytes[3] ^= 0xff;
      await writeFile(path, bytes);
      const check = await manifest.check("s", params, { verify: true });
      assert.equal(check.state, "corrupt");
      assert.match(check.reason, /SHA-256/);
      assert.equal(await manifest.isComplete("s", params, { verify: true }), false);
      // Without verification only the size is compared: documented, and why verify is default.
      assert.equal(await manifest.isComplete("s", params, { verify: false }), true);
    });

    it("detects truncation, a missing file and changed parameters", async () => {
      await downloaded();
      await truncate(join(dir, name), 5);
      assert.equal((await manifest.check("s", params)).state, "corrupt");
      await downloaded();
      await rm(join(dir, name));
      assert.equal((await manifest.check("s", params)).state, "missing-file");
      await downloaded();
      const changed = await manifest.check("s", { ...params, scale: 20 });
      assert.equal(changed.state, "params-changed");
      assert.match(changed.reason, /scale: 10 then, 20 now/);
      const restyled = await manifest.check("s", {
        ...params,
        style: { ...params.style, max: 3000 },
      });
      assert.equal(restyled.state, "params-changed");
      // Key order does not matter.
      const reordered = {
        style: params.style,
        crs: null,
        scale: 10,
        aoiBounds: params.aoiBounds,
        collection: params.collection,
      };
      assert.equal(await manifest.isComplete("s", reordered), true);
    });

    it("is false for a failed or pending attempt with no good file", async () => {
      await manifest.record("p", { params, file: "p.tif", status: "pending" });
      assert.equal((await manifest.check("p", params)).state, "unfinished");
      await manifest.record("p", { status: "failed", error: "aborted" });
      assert.equal(await manifest.isComplete("p", params), false);
    });

    it("hashes files with sha256File", async () => {
      const file = await writeSnippet(dir, "h.bin", "abc");
      assert.equal(await sha256File(join(dir, "h.bin")), file.sha256);
      assert.equal((await stat(join(dir, "h.bin"))).size, 3);
    });
  });
});
