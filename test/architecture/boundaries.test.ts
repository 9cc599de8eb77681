/**
 * The product and the emulator meet at one seam: the product starts the emulator process and
 * speaks HTTP to it. Both share only src/core (and the emulator the GeoTIFF encoder). This
 * walks the import graph of src/ and fails on any new crossing.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

const SRC = resolve(__dirname, "..", "..", "src");

/** The one product module allowed to reach into the emulator: it starts the process. */
const EMULATOR_STARTER = "ee/session.ts";
const EMULATOR_ENTRY = "emulator/index.ts";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Relative imports of a file (static, type-only, dynamic and require), resolved to src paths. */
function importsOf(file: string): string[] {
  // Examples in doc comments are not imports.
  const text = readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const specs = [
    ...text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)"/g),
    ...text.matchAll(/\bimport\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g),
    ...text.matchAll(/\brequire\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g),
  ].map((match) => match[1] as string);
  return specs.map((spec) => {
    const base = resolve(dirname(file), spec);
    const found = [base, `${base}.ts`, join(base, "index.ts")].find(
      (candidate) => existsSync(candidate) && statSync(candidate).isFile(),
    );
    assert.ok(found, `${relative(SRC, file)} imports "${spec}", which does not resolve`);
    return relative(SRC, found);
  });
}

const graph = new Map(sourceFiles(SRC).map((file) => [relative(SRC, file), importsOf(file)]));
const inFolder = (path: string, folder: string) => path.startsWith(`${folder}/`);

function reachableFrom(start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    for (const target of graph.get(next) ?? []) {
      if (!seen.has(target)) {
        seen.add(target);
        stack.push(target);
      }
    }
  }
  return seen;
}

describe("import boundaries", () => {
  it("finds the source tree (a guard against walking an empty folder)", () => {
    assert.ok(graph.size > 40, `only ${graph.size} files under ${SRC}`);
    assert.ok(graph.has(EMULATOR_STARTER) && graph.has(EMULATOR_ENTRY));
  });

  it("src/core imports nothing outside src/core", () => {
    const crossings = [...graph]
      .filter(([file]) => inFolder(file, "core"))
      .flatMap(([file, targets]) =>
        targets.filter((t) => !inFolder(t, "core")).map((t) => `${file} -> ${t}`),
      );
    assert.deepEqual(crossings, []);
  });

  it("the emulator reaches only itself, src/core and the GeoTIFF encoder", () => {
    const allowed = (path: string) =>
      inFolder(path, "emulator") || inFolder(path, "core") || inFolder(path, "geotiff");
    const crossings = [...graph.keys()]
      .filter((file) => inFolder(file, "emulator"))
      .flatMap((file) =>
        [...reachableFrom(file)].filter((t) => !allowed(t)).map((t) => `${file} ~> ${t}`),
      );
    assert.deepEqual(crossings, []);
    // The streaming writer is the product's; the emulator encodes whole replies in memory.
    const writerUsers = [...graph.keys()]
      .filter((file) => inFolder(file, "emulator"))
      .filter((file) => reachableFrom(file).has("geotiff/writer.ts"));
    assert.deepEqual(writerUsers, []);
  });

  it("no product module imports the emulator except the one that starts it, through its entry", () => {
    const crossings = [...graph]
      .filter(([file]) => !inFolder(file, "emulator"))
      .flatMap(([file, targets]) =>
        targets
          .filter((t) => inFolder(t, "emulator"))
          .filter((t) => !(file === EMULATOR_STARTER && t === EMULATOR_ENTRY))
          .map((t) => `${file} -> ${t}`),
      );
    assert.deepEqual(crossings, []);
  });
});
