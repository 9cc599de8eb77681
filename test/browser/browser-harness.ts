/**
 * What the browser tests share: a Jupyter server (classic Notebook or our JupyterLab) on a
 * free loopback port with a token, headless Chromium with a fresh profile, and copies of the
 * notebooks in a git-ignored folder whose outputs go to a scratch directory.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { jupyterEnv, NOTEBOOKS, type Notebook, ROOT } from "../notebook/harness";

export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = join(ROOT, "test", "artifacts");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * Copies of the notebooks in `dir` (inside the checkout, git-ignored): the browser session
 * saves outputs, which must not land in notebooks/, and the copies still need `./src` and
 * node_modules above them. Each copy's OUT_DIR points into `outRoot`.
 */
export function prepareNotebookDir(dir: string, names: readonly string[], outRoot: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  symlinkSync(relative(dir, join(ROOT, "src")), join(dir, "src"));
  for (const name of names) {
    const notebook = JSON.parse(readFileSync(join(NOTEBOOKS, name), "utf8")) as Notebook;
    const parameters = notebook.cells.find((cell) => cell.metadata?.tags?.includes("parameters"));
    assert.ok(parameters, `${name} has a cell tagged parameters`);
    const source = Array.isArray(parameters.source)
      ? parameters.source.join("")
      : parameters.source;
    const outDir = JSON.stringify(join(outRoot, name.replace(/\.ipynb$/, "")));
    const edited = source.replace(/^const OUT_DIR = .*;.*$/m, `const OUT_DIR = ${outDir};`);
    assert.notEqual(edited, source, `the parameters cell of ${name} sets OUT_DIR`);
    parameters.source = edited;
    writeFileSync(join(dir, name), JSON.stringify(notebook, null, 1));
  }
}

export interface JupyterServer {
  url: string;
  token: string;
  /** Everything the server printed, for assertion messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts a Jupyter server with `python args...`, adding the port and token options under
 * `optionPrefix` (--NotebookApp or --ServerApp), with this checkout's kernel spec first on
 * JUPYTER_PATH and the emulator as the backend; resolves once /api/status answers.
 */
export async function startJupyter(options: {
  python: string;
  args: string[];
  optionPrefix: "--NotebookApp" | "--ServerApp";
  cwd: string;
  scratch: string;
  env?: NodeJS.ProcessEnv;
}): Promise<JupyterServer> {
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const runtime = join(options.scratch, "runtime");
  mkdirSync(runtime, { recursive: true });
  const p = options.optionPrefix;
  const child: ChildProcess = spawn(
    options.python,
    [
      ...options.args,
      `${p}.ip=127.0.0.1`,
      `${p}.port=${port}`,
      `${p}.port_retries=0`,
      `${p}.token=${token}`,
      `${p}.open_browser=False`,
      `${p}.allow_root=True`,
    ],
    {
      cwd: options.cwd,
      env: jupyterEnv({
        ...process.env,
        EE_BACKEND: "emulator",
        JUPYTER_RUNTIME_DIR: runtime,
        ...options.env,
      }),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  child.stdout?.on("data", (chunk) => {
    log += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    log += chunk;
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // SIGTERM lets the server shut its kernels down (and with them the emulator).
    process.kill(child.pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    }, 15_000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`${url}/api/status?token=${token}`);
      if (response.ok) return { url, token, log: () => log, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`Jupyter did not start on ${url}:\n${log.slice(-3000)}`);
}

/** Headless Chromium with a fresh profile in `profileDir`, nothing phoning home. */
export async function launchChromium(profileDir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    assert.fail(`Chromium is not installed at ${CHROMIUM}: run scripts/setup.sh --browser.`);
  }
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Our JupyterLab build (jupyterlab-app/), served by Debian's jupyter_server. */
export const LAB = join(ROOT, "jupyterlab-app");

/**
 * Starts our JupyterLab on `dir`, or fails saying which set-up step is missing (the build, or
 * a Python with jupyter_server and jupyterlab_server).
 */
export function startJupyterLab(dir: string, scratch: string): Promise<JupyterServer> {
  if (!existsSync(join(LAB, "build", "bundle.js"))) {
    assert.fail("JupyterLab is not built in jupyterlab-app/build: run scripts/setup.sh --lab.");
  }
  let python: string;
  try {
    python = execFileSync(
      "bash",
      [join(ROOT, "scripts", "find-python.sh"), "jupyter_server", "jupyterlab_server"],
      { encoding: "utf8" },
    ).trim();
  } catch {
    assert.fail(
      "No Python imports jupyter_server and jupyterlab_server: run scripts/setup.sh --lab.",
    );
  }
  return startJupyter({
    python,
    args: [join(LAB, "main.py"), `--ServerApp.root_dir=${dir}`],
    optionPrefix: "--ServerApp",
    cwd: dir,
    scratch,
    env: { EE_SNIPPETS_LAB_STATE: join(scratch, "lab-state") },
  });
}

/**
 * What the tests' page.evaluate/waitForFunction callbacks use of the DOM (they run in the
 * page). Types only: each test declares `document` with PageDocument, which adds no DOM
 * library to the whole project and no import the page would have to resolve.
 */
export interface PageElement {
  textContent: string | null;
  scrollHeight: number;
  src: string;
  complete: boolean;
  naturalWidth: number;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): {
    left: number;
    top: number;
    right: number;
    bottom: number;
    width: number;
  };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
}

export interface PageDocument {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
}
