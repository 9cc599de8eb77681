/**
 * The notebooks' kernel compiles src itself, with its own TypeScript (5.0) and its own
 * options, not tsconfig.json: strict off, Node10 module resolution, ES2022. Code that passes
 * `tsc --strict` can still fail there (narrowing differs without strictNullChecks), and tslab
 * then reports "324:76 - ..." with no file name. This compiles every src file the way tslab
 * does and names the file.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { ROOT } from "./harness";

interface Diagnostic {
  file?: {
    fileName: string;
    getLineAndCharacterOfPosition(p: number): { line: number; character: number };
  };
  start?: number;
  messageText: string | { messageText: string };
}

interface TypeScript {
  version: string;
  ScriptTarget: { ES2022: number };
  ModuleKind: { ESNext: number };
  ModuleResolutionKind: { Node10: number };
  createProgram(
    roots: string[],
    options: Record<string, unknown>,
  ): {
    getSemanticDiagnostics(): readonly Diagnostic[];
    getSyntacticDiagnostics(): readonly Diagnostic[];
  };
  flattenDiagnosticMessageText(text: Diagnostic["messageText"], newLine: string): string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

test("every src file compiles with tslab's TypeScript and options (what the kernel does)", () => {
  // tslab's own compiler, resolved from tslab so the version is the kernel's.
  const fromTslab = createRequire(require.resolve("tslab/package.json"));
  const ts = fromTslab("@tslab/typescript-for-tslab") as TypeScript;
  const program = ts.createProgram(sourceFiles(join(ROOT, "src")), {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts"],
    resolveJsonModule: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
  });
  const problems = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()].map(
    (d) => {
      const where =
        d.file && d.start !== undefined
          ? (() => {
              const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
              return `${relative(ROOT, d.file.fileName)}:${line + 1}:${character + 1}`;
            })()
          : "(no file)";
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    },
  );
  assert.deepEqual(problems, [], `TypeScript ${ts.version} as tslab runs it reports errors`);
});

test("no src file imports a folder (tslab resolves only files: './download/index', not './download')", () => {
  // tslab looks up a compiled import as `<specifier>.js` and otherwise falls back to node's
  // require, which finds no index.js next to the .ts sources: "Cannot find module".
  const specifier = /(?:import|export)[^"']*?from\s+["'](\.{1,2}(?:\/[^"']*)?)["']/g;
  const folders: string[] = [];
  for (const file of sourceFiles(join(ROOT, "src"))) {
    for (const match of readFileSync(file, "utf8").matchAll(specifier)) {
      const target = join(dirname(file), match[1]);
      if (existsSync(target) && statSync(target).isDirectory()) {
        folders.push(`${relative(ROOT, file)}: "${match[1]}" -> use "${match[1]}/index"`);
      }
    }
  }
  assert.deepEqual(folders, []);
});
