/**
 * What the notebooks may import, and what the library must export for them: the notebooks
 * read the library through its two entry points only (./src/index for the work,
 * ./src/display/plot for what is shown), never an internal module or the emulator.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { NOTEBOOKS, type Notebook, ROOT, textOf } from "./harness";

const ENTRY_POINTS = ["./src/index", "./src/display/plot"];
const IMPORT = /import\s+(type\s+)?\{([^}]*)\}\s+from\s+["']([^"']+)["']/g;

function notebookImports(): { notebook: string; names: string[]; from: string }[] {
  return readdirSync(NOTEBOOKS)
    .filter((name) => name.endsWith(".ipynb"))
    .flatMap((name) => {
      const notebook = JSON.parse(readFileSync(join(NOTEBOOKS, name), "utf8")) as Notebook;
      return notebook.cells
        .filter((cell) => cell.cell_type === "code")
        .flatMap((cell) => [...textOf(cell.source).matchAll(IMPORT)])
        .map((match) => ({
          notebook: name,
          from: match[3],
          names: match[1]
            ? []
            : match[2]
                .split(",")
                .map((part) => part.trim())
                .filter((part) => part && !part.startsWith("type ")),
        }));
    });
}

test("notebooks import the library only through ./src/index and ./src/display/plot", () => {
  const imports = notebookImports();
  assert.ok(imports.length > 0, "the notebooks import something");
  const stray = imports.filter(
    (entry) => !ENTRY_POINTS.includes(entry.from) && !entry.from.startsWith("node:"),
  );
  assert.deepEqual(
    stray.map((entry) => `${entry.notebook}: ${entry.from}`),
    [],
    "no notebook reaches into src/emulator or an internal module",
  );
});

test("every value a notebook imports is exported by the entry point it names", () => {
  for (const entry of notebookImports().filter((e) => ENTRY_POINTS.includes(e.from))) {
    const module = require(join(ROOT, entry.from.replace("./src", "src"))) as Record<
      string,
      unknown
    >;
    for (const name of entry.names) {
      assert.notEqual(module[name], undefined, `${entry.notebook}: ${name} from ${entry.from}`);
    }
  }
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "emulator" ? [] : sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Errors that never leave the product: each is caught and rethrown as an exported class. */
const TRANSLATED_ERRORS = new Map([
  ["src/core/npy.ts: NpyFormatError", "src/download/npy.ts rethrows it as ResponseFormatError"],
]);

test("every error a product module throws can be caught by a class the entry points export", () => {
  const exported = [
    ...Object.values(require(join(ROOT, "src", "index")) as Record<string, unknown>),
    ...Object.values(require(join(ROOT, "src", "display", "plot")) as Record<string, unknown>),
  ].filter(
    (value): value is ErrorConstructor =>
      typeof value === "function" && value.prototype instanceof Error,
  );
  const uncatchable: string[] = [];
  for (const file of sourceFiles(join(ROOT, "src"))) {
    const declared = [...readFileSync(file, "utf8").matchAll(/^export class (\w+Error)\b/gm)];
    if (declared.length === 0) continue;
    const module = require(file) as Record<string, ErrorConstructor>;
    for (const [, name] of declared) {
      const cls = module[name];
      const caught = exported.some((base) => cls === base || cls.prototype instanceof base);
      const label = `${relative(ROOT, file)}: ${name}`;
      if (!caught && !TRANSLATED_ERRORS.has(label)) uncatchable.push(label);
    }
  }
  assert.deepEqual(uncatchable, []);
});

test("index.ts does not export getThumbUrl (nothing uses it)", () => {
  const index = require(join(ROOT, "src", "index")) as Record<string, unknown>;
  assert.equal(index.getThumbUrl, undefined);
  assert.equal(typeof index.estimateSnippetBytes, "function");
  assert.equal(typeof index.ExistingFileError, "function");
});
