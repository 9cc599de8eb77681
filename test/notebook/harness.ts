/**
 * Runs notebooks the way `npm start` does (scripts/execute_notebook.py on the tslab kernel)
 * and reads what they produced. Shared by the notebook and browser tests.
 */
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "..", "..");
export const NOTEBOOKS = join(ROOT, "notebooks");

/** Where scripts/setup.sh writes this checkout's kernel spec (kernels/tslab/kernel.json). */
export const LOCAL_JUPYTER_DATA = join(ROOT, ".jupyter-data");

/**
 * The environment the project's launches give Jupyter: this checkout's kernel spec first on
 * JUPYTER_PATH, ahead of whatever tslab the user registered for other projects.
 */
export function jupyterEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const path = [LOCAL_JUPYTER_DATA, env.JUPYTER_PATH].filter(Boolean).join(delimiter);
  return { ...env, JUPYTER_PATH: path };
}

const SETUP_HINT = "run scripts/setup.sh (CI runs it before the tests; add --browser for Chromium)";

export interface NotebookOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}

export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  outputs?: NotebookOutput[];
  metadata?: { tags?: string[] };
}

export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
}

/** The Python that has nbclient/nbconvert, or a failure telling how to install it. */
export function jupyterPython(): string {
  try {
    return execFileSync("bash", [join(ROOT, "scripts", "find-python.sh")], {
      encoding: "utf8",
    }).trim();
  } catch {
    throw new Error(`No Python with Jupyter's nbclient and nbconvert was found: ${SETUP_HINT}.`);
  }
}

/** Fails unless the tslab kernel the project's launches resolve is this checkout's. */
export function requireTslabKernel(python: string): void {
  let argv: string[];
  try {
    argv = JSON.parse(
      execFileSync(
        python,
        [
          "-c",
          "import json; from jupyter_client.kernelspec import KernelSpecManager as K; print(json.dumps(K().get_kernel_spec('tslab').argv))",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: jupyterEnv() },
      ),
    ) as string[];
  } catch {
    throw new Error(`Jupyter has no kernel named tslab: ${SETUP_HINT}.`);
  }
  const expected = join(ROOT, "node_modules", "tslab", "bin", "tslab");
  if (argv[1] !== expected) {
    throw new Error(
      `Jupyter's tslab kernel runs ${argv[1]}, not this checkout's ${expected}: ${SETUP_HINT}.`,
    );
  }
}

export interface ExecuteOptions {
  /** `NAME=VALUE` replacements in the notebook's parameters cell (VALUE is TypeScript). */
  set?: Record<string, string>;
  output: string;
  html?: string;
  timeoutSeconds?: number;
  env?: NodeJS.ProcessEnv;
}

/** Executes a notebook headless; rejects with the failing cell's source and stderr. */
export function executeNotebook(notebook: string, options: ExecuteOptions): Promise<Notebook> {
  const python = jupyterPython();
  requireTslabKernel(python);
  const args = [join(ROOT, "scripts", "execute_notebook.py"), notebook, "--output", options.output];
  if (options.html) args.push("--html", options.html);
  if (options.timeoutSeconds) args.push("--timeout", String(options.timeoutSeconds));
  for (const [name, value] of Object.entries(options.set ?? {}))
    args.push("--set", `${name}=${value}`);
  return new Promise((resolvePromise, reject) => {
    execFile(
      python,
      args,
      {
        cwd: ROOT,
        env: jupyterEnv({ ...process.env, EE_BACKEND: "emulator", ...options.env }),
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, _stdout, stderr) => {
        if (error) {
          reject(new Error(`${notebook} did not run to the end:\n${stderr}`));
          return;
        }
        resolvePromise(readNotebook(options.output));
      },
    );
  });
}

export function readNotebook(path: string): Notebook {
  return JSON.parse(readFileSync(path, "utf8")) as Notebook;
}

export function textOf(value: unknown): string {
  return Array.isArray(value) ? value.join("") : typeof value === "string" ? value : "";
}

/** Every output of every code cell, with the index of its cell. */
export function outputs(notebook: Notebook): { cell: number; output: NotebookOutput }[] {
  return notebook.cells.flatMap((cell, index) =>
    (cell.outputs ?? []).map((output) => ({ cell: index, output })),
  );
}

/** A TypeScript string literal for --set. */
export function tsString(value: string): string {
  return JSON.stringify(value);
}
