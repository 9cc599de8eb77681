import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ensureOutputDir,
  MAX_FILE_NAME_BYTES,
  OutputDirError,
  OutputPathError,
  snippetPath,
} from "../../src/snippets/outputs";

describe("snippetPath", () => {
  const outDir = "/tmp/snippets-out";

  it("puts a system:index with the suffix directly in the output directory", () => {
    const path = snippetPath(outDir, "20240105T153619_20240105T154242_T17PMK");
    assert.equal(path, "/tmp/snippets-out/20240105T153619_20240105T154242_T17PMK_L2A.tif");
    assert.equal(snippetPath("rel/dir", "abc", ".png"), resolve("rel/dir/abc.png"));
  });

  const hostile: [string, RegExp][] = [
    ["../escape", /"\.\."/],
    ["../../etc/passwd", /"\.\."/],
    ["..", /"\.\."/],
    ["a/../../b", /"\.\."/],
    ["sub/dir", /"\/"/],
    ["/etc/passwd", /absolute path/],
    ["\\\\server\\share", /absolute path|"\\"/],
    ["..\\windows", /"\.\."/],
    ["C:evil", /drive letter/],
    ["c:\\windows\\system32", /drive letter/],
    ["nul\u0000byte", /NUL/],
    ["tab\there", /"\\t"/],
    ["", /non-empty/],
    [".", /trailing dot/],
    ["name.", /trailing dot/],
    [" spaced", /spaces/],
    ["x".repeat(MAX_FILE_NAME_BYTES), /limit/],
    ["é".repeat(MAX_FILE_NAME_BYTES / 2), /limit/],
  ];
  for (const [id, message] of hostile) {
    it(`refuses the id ${JSON.stringify(id.slice(0, 30))} with a message naming the fix`, () => {
      assert.throws(
        () => snippetPath(outDir, id),
        (error: unknown) => {
          assert.ok(error instanceof OutputPathError, `not an OutputPathError: ${error}`);
          assert.match(error.message, message);
          assert.match(error.message, /system:index|suffix/);
          return true;
        },
      );
    });
  }

  it("refuses a non-string id and a hostile suffix", () => {
    assert.throws(() => snippetPath(outDir, 42 as unknown as string), OutputPathError);
    assert.throws(() => snippetPath(outDir, "ok", "/../x.tif"), OutputPathError);
    assert.throws(() => snippetPath("", "ok"), OutputPathError);
  });

  it("never returns a path outside the directory for generated ids", () => {
    // Every id built from these pieces either is refused or names a direct child of outDir.
    const pieces = ["..", ".", "/", "\\", "a", "%2e", "\u0000", ":", "~", "T17PMK", " ", "\n"];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      let id = "";
      const length = 1 + (next() % 6);
      for (let j = 0; j < length; j++) id += pieces[next() % pieces.length];
      try {
        const path = snippetPath(outDir, id);
        assert.equal(dirname(path), outDir, `id ${JSON.stringify(id)} escaped to ${path}`);
      } catch (error) {
        assert.ok(error instanceof OutputPathError, `id ${JSON.stringify(id)}: ${error}`);
      }
    }
  });
});

describe("ensureOutputDir", () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), "outputs-test-"));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it("creates a missing directory with its parents and leaves no probe file", async () => {
    const dir = join(base, "a", "b", "c");
    assert.equal(await ensureOutputDir(dir), dir);
    assert.deepEqual(await readdir(dir), []);
  });

  it("refuses a path under a file (tests run as root, so chmod would not stop writes)", async () => {
    await assert.rejects(ensureOutputDir("/etc/hostname/x"), (error: unknown) => {
      assert.ok(error instanceof OutputDirError);
      assert.equal(error.code, "ENOTDIR");
      assert.match(error.message, /\/etc\/hostname\/x/);
      assert.match(error.message, /not a directory/);
      assert.match(error.message, /choose another outDir/);
      return true;
    });
  });

  it("refuses a path that is a file", async () => {
    const file = join(base, "plain-file");
    await writeFile(file, "x");
    await assert.rejects(ensureOutputDir(file), /not a directory: choose another outDir/);
  });

  it("refuses a directory where files cannot be created (/proc)", async () => {
    await assert.rejects(ensureOutputDir("/proc/self"), (error: unknown) => {
      assert.ok(error instanceof OutputDirError);
      assert.match(error.message, /Cannot write the output directory \/proc\/self/);
      assert.match(error.message, /choose an outDir you can write to/);
      return true;
    });
  });
});
