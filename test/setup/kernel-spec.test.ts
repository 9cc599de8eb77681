/**
 * The tslab kernel spec (scripts/kernel_spec.py, run by setup): this checkout's spec goes to
 * its own folder on JUPYTER_PATH; the user's global tslab is only written where none exists,
 * when asked (--global), or when it is dead (its checkout deleted). And
 * scripts/execute_notebook.py says what is wrong with a dead or missing kernel instead of
 * failing with a Python traceback. Every run uses a temporary HOME and JUPYTER_DATA_DIR.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, test } from "node:test";
import { jupyterPython, NOTEBOOKS, ROOT } from "../notebook/harness";

const python = jupyterPython();
const TSLAB = join(ROOT, "node_modules", "tslab", "bin", "tslab");
const work = mkdtempSync(join(tmpdir(), "kernel-spec-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

let home = "";
let userData = "";
let localData = "";
beforeEach(() => {
  home = mkdtempSync(join(work, "home-"));
  userData = join(home, "jupyter-data");
  localData = join(home, "checkout-jupyter-data");
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { JUPYTER_PATH: _ignored, ...rest } = process.env;
  return { ...rest, HOME: home, JUPYTER_DATA_DIR: userData, ...extra };
}

function registerKernel(...flags: string[]): string {
  return execFileSync(
    python,
    [
      join(ROOT, "scripts", "kernel_spec.py"),
      "--node",
      process.execPath,
      "--tslab",
      TSLAB,
      "--data-dir",
      localData,
      ...flags,
    ],
    { encoding: "utf8", env: env() },
  );
}

/** The tslab program Jupyter resolves, with the given JUPYTER_PATH. */
function resolvedTslab(jupyterPath?: string): string {
  const argv = JSON.parse(
    execFileSync(
      python,
      [
        "-c",
        "import json; from jupyter_client.kernelspec import KernelSpecManager as K; print(json.dumps(K().get_kernel_spec('tslab').argv))",
      ],
      { encoding: "utf8", env: env(jupyterPath ? { JUPYTER_PATH: jupyterPath } : {}) },
    ),
  ) as string[];
  return argv[1];
}

function writeUserSpec(argv: string[], metadata: object = {}): string {
  const folder = join(userData, "kernels", "tslab");
  mkdirSync(folder, { recursive: true });
  const text = `${JSON.stringify({ argv, display_name: "TypeScript", language: "typescript", metadata }, null, 1)}\n`;
  writeFileSync(join(folder, "kernel.json"), text);
  return text;
}

const userSpecPath = () => join(userData, "kernels", "tslab", "kernel.json");

test("a user's own tslab spec is kept; the project's launches resolve this checkout's through JUPYTER_PATH", () => {
  // The user's tslab for other projects: a program that exists, somewhere else.
  const theirs = join(home, "other-project", "tslab");
  mkdirSync(join(home, "other-project"));
  writeFileSync(theirs, "");
  const before = writeUserSpec([
    process.execPath,
    theirs,
    "kernel",
    "--config-path",
    "{connection_file}",
  ]);

  const said = registerKernel();
  assert.equal(readFileSync(userSpecPath(), "utf8"), before, "the user's spec is untouched");
  assert.match(said, /kept the tslab kernel/);
  const local = JSON.parse(
    readFileSync(join(localData, "kernels", "tslab", "kernel.json"), "utf8"),
  );
  assert.equal(local.argv[1], TSLAB);
  assert.equal(resolvedTslab(localData), TSLAB, "with the checkout's folder on JUPYTER_PATH");
  assert.equal(resolvedTslab(), theirs, "without it, Jupyter still runs the user's own");
});

test("where no tslab spec exists, setup registers this checkout's globally", () => {
  const said = registerKernel();
  assert.match(said, /no tslab kernel was registered/);
  assert.equal(JSON.parse(readFileSync(userSpecPath(), "utf8")).argv[1], TSLAB);
  assert.equal(resolvedTslab(), TSLAB);
});

test("--global replaces the user's tslab spec when asked", () => {
  const theirs = join(home, "tslab-elsewhere");
  writeFileSync(theirs, "");
  writeUserSpec([process.execPath, theirs, "kernel", "--config-path", "{connection_file}"]);
  const said = registerKernel("--global");
  assert.match(said, /registered this checkout's tslab as the user's kernel/);
  assert.equal(JSON.parse(readFileSync(userSpecPath(), "utf8")).argv[1], TSLAB);
});

test("a global spec left dead by a deleted checkout is reported and repaired", () => {
  const deleted = join(home, "deleted-clone");
  writeUserSpec(
    [process.execPath, join(deleted, "node_modules", "tslab", "bin", "tslab"), "kernel"],
    { "ee-snippets": { checkout: deleted } },
  );
  const said = registerKernel("--quiet");
  // Said even with --quiet: it changes the user's configuration.
  assert.match(said, new RegExp(`registered by the checkout ${deleted}.*no longer exists`));
  assert.match(said, /repaired it to run this checkout's tslab/);
  assert.equal(JSON.parse(readFileSync(userSpecPath(), "utf8")).argv[1], TSLAB);
  assert.equal(resolvedTslab(), TSLAB);
});

function executeNotebook(kernel: string): { status: number | null; stderr: string } {
  const result = spawnSync(
    python,
    [
      join(ROOT, "scripts", "execute_notebook.py"),
      join(NOTEBOOKS, "download_s2_snippets.ipynb"),
      "--output",
      join(home, "out.ipynb"),
      "--kernel",
      kernel,
    ],
    { encoding: "utf8", env: env(), timeout: 60_000 },
  );
  return { status: result.status, stderr: result.stderr };
}

test("execute_notebook.py names a dead kernel and the fix, without a Python traceback", () => {
  const folder = join(userData, "kernels", "dead-tslab");
  mkdirSync(folder, { recursive: true });
  const gone = join(home, "deleted-clone", "node_modules", "tslab", "bin", "tslab");
  writeFileSync(
    join(folder, "kernel.json"),
    JSON.stringify({
      argv: [process.execPath, gone, "kernel"],
      display_name: "x",
      language: "typescript",
    }),
  );
  const { status, stderr } = executeNotebook("dead-tslab");
  assert.equal(status, 1, stderr);
  assert.doesNotMatch(stderr, /Traceback/);
  assert.match(stderr, new RegExp(`runs ${gone}, which does not exist: run scripts/setup.sh`));
});

test("execute_notebook.py names a missing kernel and the fix, without a Python traceback", () => {
  const { status, stderr } = executeNotebook("no-such-kernel");
  assert.equal(status, 1, stderr);
  assert.doesNotMatch(stderr, /Traceback/);
  assert.match(stderr, /no Jupyter kernel named 'no-such-kernel': run scripts\/setup.sh/);
});

test("execute_notebook.py says so when a kernel's program exits at once, without a Python traceback", () => {
  const folder = join(userData, "kernels", "exiting-kernel");
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, "kernel.json"),
    JSON.stringify({
      argv: [process.execPath, "-e", "process.exit(3)"],
      display_name: "x",
      language: "typescript",
    }),
  );
  const { status, stderr } = executeNotebook("exiting-kernel");
  assert.equal(status, 1, stderr);
  assert.doesNotMatch(stderr, /Traceback/);
  assert.match(stderr, /the 'exiting-kernel' kernel could not start: .*Run scripts\/setup.sh/);
});
