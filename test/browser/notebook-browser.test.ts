/**
 * Opens the tutorial notebook in classic Jupyter Notebook in headless Chromium, runs all
 * cells as a user would (Cell > Run All), and checks that the Plotly charts render and no
 * cell shows an error. Leaves a screenshot in test/artifacts/.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { executeNotebook, jupyterPython, NOTEBOOKS, requireTslabKernel } from "../notebook/harness";
import {
  ARTIFACTS,
  type JupyterServer,
  launchChromium,
  type PageDocument,
  prepareNotebookDir,
  startJupyter,
} from "./browser-harness";

// The page.evaluate/waitForFunction callbacks run in the page (see PageDocument).
declare const document: PageDocument;
declare const window: unknown;

const NOTEBOOK = "download_s2_snippets.ipynb";
const RUN_TIMEOUT_MS = 240_000;

let jupyter: JupyterServer | undefined;
let context: BrowserContext | undefined;
const scratch = mkdtempSync(join(tmpdir(), "browser-test-"));

async function waitForKernelIdle(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const w = window as unknown as {
        Jupyter?: { notebook?: { kernel?: { is_connected(): boolean } } };
      };
      return (
        w.Jupyter?.notebook?.kernel?.is_connected() === true &&
        document.querySelector("#kernel_indicator_icon.kernel_idle_icon") !== null
      );
    },
    undefined,
    { timeout: 60_000 },
  );
}

let server: { url: string; token: string; dir: string } | undefined;

/** Jupyter on a free port and Chromium, started once for both tests. */
async function setUp(): Promise<{
  url: string;
  token: string;
  dir: string;
  context: BrowserContext;
}> {
  if (server && context) return { ...server, context };
  const python = jupyterPython();
  requireTslabKernel(python);
  const dir = join(ARTIFACTS, "browser-notebook");
  prepareNotebookDir(dir, [NOTEBOOK], join(scratch, "snippets"));
  jupyter = await startJupyter({
    python,
    args: ["-m", "notebook", `--notebook-dir=${dir}`],
    optionPrefix: "--NotebookApp",
    cwd: dir,
    scratch,
  });
  server = { url: jupyter.url, token: jupyter.token, dir };
  context = await launchChromium(join(scratch, "chromium-profile"));
  return { ...server, context };
}

before(() => {
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await context?.close().catch(() => undefined);
  await jupyter?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test("the tutorial notebook runs in Jupyter Notebook in Chromium and renders its Plotly charts", async () => {
  const { url, token, context } = await setUp();
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(`${url}/notebooks/${NOTEBOOK}?token=${token}`);
  await waitForKernelIdle(page);

  // Cell > Run All, through the menu a user clicks.
  await page.click("#menus a.dropdown-toggle:text-is('Cell')");
  await page.click("#run_all_cells > a");
  // Every queued cell carries "running" until its reply arrives.
  await page.waitForFunction(
    () => document.querySelectorAll(".cell.running").length > 0,
    undefined,
    {
      timeout: 30_000,
    },
  );
  await page.waitForFunction(
    () => document.querySelectorAll(".cell.running").length === 0,
    undefined,
    {
      timeout: RUN_TIMEOUT_MS,
      polling: 500,
    },
  );
  // Plotly draws asynchronously after its script runs.
  await page
    .waitForFunction(() => document.querySelectorAll(".js-plotly-plot").length >= 3, undefined, {
      timeout: 30_000,
    })
    .catch(() => undefined);

  const report = await page.evaluate(() => {
    const cells = Array.from(document.querySelectorAll(".cell.code_cell"));
    return {
      cells: cells.length,
      plots: document.querySelectorAll(".js-plotly-plot").length,
      galleryImages: document.querySelectorAll(".ee-snippets-gallery img").length,
      tables: document.querySelectorAll("table.ee-snippets-images").length,
      errors: Array.from(document.querySelectorAll(".output_error")).map(
        (e) => e.textContent ?? "",
      ),
      stderr: Array.from(document.querySelectorAll(".output_stderr")).map(
        (e) => e.textContent ?? "",
      ),
      unexecuted: cells.filter((cell) => {
        const prompt = cell.querySelector(".input_prompt")?.textContent ?? "";
        return /\[\s*\]/.test(prompt);
      }).length,
      height: document.querySelector("#notebook-container")?.scrollHeight ?? 0,
    };
  });

  // The page scrolls inside #site, so a tall viewport is what gets the whole notebook in.
  await page.setViewportSize({
    width: 1280,
    height: Math.min(16_000, Math.max(900, report.height + 200)),
  });
  await page.waitForTimeout(1000);
  const screenshot = join(ARTIFACTS, "browser-notebook.png");
  await page.screenshot({ path: screenshot });

  const details = `(screenshot: ${screenshot})\n${JSON.stringify(report, null, 1)}\nJupyter log:\n${jupyter?.log().slice(-2000)}`;
  assert.deepEqual(report.errors, [], `cells show errors ${details}`);
  assert.deepEqual(
    report.stderr.filter((text) => /Error|failed/.test(text)),
    [],
    `cells wrote errors to stderr ${details}`,
  );
  assert.ok(
    report.plots >= 3,
    `expected 3+ rendered Plotly charts, got ${report.plots} ${details}`,
  );
  assert.equal(report.tables, 1, `the images table is shown ${details}`);
  assert.ok(report.galleryImages > 0, `the gallery shows the snippets ${details}`);
  assert.deepEqual(
    pageErrors.filter((message) => /Plotly|plotly/.test(message)),
    [],
    "no Plotly script errors in the page",
  );
});

test("the notebook npm start executes headless is signed: its charts render when opened", async () => {
  const { url, token, dir, context } = await setUp();
  await executeNotebook(join(NOTEBOOKS, NOTEBOOK), {
    output: join(dir, "executed.ipynb"),
    set: { OUT_DIR: JSON.stringify(join(scratch, "executed-snippets")) },
  });
  const page = await context.newPage();
  await page.goto(`${url}/notebooks/executed.ipynb?token=${token}`);
  // Nothing is run: the saved outputs' scripts draw the charts only if Jupyter trusts them.
  const plots = await page
    .waitForFunction(() => document.querySelectorAll(".js-plotly-plot").length >= 3, undefined, {
      timeout: 60_000,
    })
    .then(() => page.evaluate(() => document.querySelectorAll(".js-plotly-plot").length))
    .catch(() => 0);
  await page.screenshot({ path: join(ARTIFACTS, "browser-signed-notebook.png") });
  assert.ok(plots >= 3, `the signed notebook should render 3+ charts when opened, got ${plots}`);
  await page.close();
});
