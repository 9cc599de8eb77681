/**
 * The committed lock files are complete, so `npm ci` (what setup and CI run) succeeds on any
 * platform and `npm install` does not rewrite them: every optional dependency of a locked
 * package (Biome's per-platform binaries) has its own entry, not only this machine's.
 * To regenerate a lock after changing package.json, in a clean clone of that folder (no
 * node_modules): `npm install --package-lock-only --no-audit --no-fund`, then check that
 * `npm ci` succeeds and a following `npm install` leaves the lock unchanged.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../notebook/harness";

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
}

function lockPackages(dir: string): Record<string, LockEntry> {
  return (
    JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as {
      packages: Record<string, LockEntry>;
    }
  ).packages;
}

/** Where npm would look for `name` needed by the package at `path` (nearest node_modules up). */
function resolves(packages: Record<string, LockEntry>, path: string, name: string): boolean {
  let base = path;
  for (;;) {
    if (`${base ? `${base}/` : ""}node_modules/${name}` in packages) return true;
    const at = base.lastIndexOf("/node_modules/");
    if (at < 0) return base !== "" && `node_modules/${name}` in packages;
    base = base.slice(0, at);
  }
}

function missingOptional(dir: string): string[] {
  const packages = lockPackages(dir);
  return Object.entries(packages).flatMap(([path, entry]) =>
    Object.keys(entry.optionalDependencies ?? {})
      .filter((name) => !resolves(packages, path, name))
      .map((name) => `${name} (optional dependency of ${path || "the root"})`),
  );
}

test("package-lock.json locks every platform's optional packages (npm ci works everywhere)", () => {
  assert.deepEqual(missingOptional(ROOT), []);
  const packages = lockPackages(ROOT);
  for (const platform of ["darwin-arm64", "darwin-x64", "linux-x64", "win32-x64"]) {
    assert.ok(`node_modules/@biomejs/cli-${platform}` in packages, `Biome for ${platform}`);
  }
});

test("jupyterlab-app's lock pins JupyterLab 3.6.8 and yjs 13.5.42 and is complete", () => {
  const dir = join(ROOT, "jupyterlab-app");
  assert.deepEqual(missingOptional(dir), []);
  const packages = lockPackages(dir);
  assert.equal(packages["node_modules/@jupyterlab/application"]?.version, "3.6.8");
  assert.equal(packages["node_modules/@jupyterlab/coreutils"]?.version, "5.6.8");
  // Any other yjs fills the console with "Invalid access: Add Yjs type" warnings.
  const yjs = Object.entries(packages).filter(([path]) => path.endsWith("node_modules/yjs"));
  assert.deepEqual(
    yjs.map(([, entry]) => entry.version),
    ["13.5.42"],
  );
});
