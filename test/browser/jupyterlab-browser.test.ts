/**
 * Both notebooks in JupyterLab 3.6 (jupyterlab-app/, served by Debian's jupyter_server) in
 * headless Chromium, as a user steps through them: open, Run > Run All Cells, wait, check the
 * progress bars, the Plotly charts, the gallery and that no cell failed; save; then open the
 * saved notebook in a fresh page and check the charts render from the saved outputs (which
 * only happens when the notebook is trusted). Screenshots go to test/artifacts/.
 *
 * The notebooks' texts change as the tutorial is edited: the checks are on structure (charts
 * against the notebook's own plot outputs, gallery images against the images table).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import {
  jupyterPython,
  type Notebook,
  outputs,
  readNotebook,
  requireTslabKernel,
  textOf,
} from "../notebook/harness";
import {
  ARTIFACTS,
  type JupyterServer,
  launchChromium,
  type PageDocument,
  prepareNotebookDir,
  startJupyterLab,
} from "./browser-harness";

// The page.evaluate/waitForFunction callbacks run in the page (see PageDocument).
declare const document: PageDocument;

const PLOTLY = "application/vnd.plotly.v1+json";
const RUN_TIMEOUT_MS = 300_000;
/** The final state of a progress bar (src/display/progress.ts): full bar, N/N done. */
const FINISHED_BAR = /\[#{24}\] (\d+)\/\1\b/;
const ANY_BAR = /^(.*?) \[[#-]{24}\] \d+\/\d+/;

const scratch = mkdtempSync(join(tmpdir(), "jupyterlab-test-"));
const dir = join(ARTIFACTS, "jupyterlab-notebooks");
let server: JupyterServer | undefined;
let context: BrowserContext | undefined;

async function setUp(): Promise<{ server: JupyterServer; context: BrowserContext }> {
  if (server && context) return { server, context };
  requireTslabKernel(jupyterPython());
  prepareNotebookDir(dir, NOTEBOOK_NAMES, join(scratch, "out"));
  server = await startJupyterLab(dir, scratch);
  context = await launchChromium(join(scratch, "chromium-profile"));
  return { server, context };
}

before(() => mkdirSync(ARTIFACTS, { recursive: true }));

after(async () => {
  await context?.close().catch(() => undefined);
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * Opens a notebook in its own workspace (so no tab of another test is restored next to it)
 * and waits for JupyterLab to finish restoring and the kernel to be idle.
 */
async function openNotebook(
  name: string,
  workspace: string,
): Promise<{ page: Page; log: string[] }> {
  const { server, context } = await setUp();
  const page = await context.newPage();
  const log: string[] = [];
  page.on("pageerror", (error) => log.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      log.push(`${message.type()}: ${message.text()}`);
    }
  });
  await page.goto(
    `${server.url}/lab/workspaces/${workspace}/tree/${encodeURIComponent(name)}?token=${server.token}`,
  );
  await page.waitForSelector('body[data-ee-snippets-lab="restored"]', {
    state: "attached",
    timeout: 90_000,
  });
  await page.waitForSelector(".jp-NotebookPanel .jp-Cell", { timeout: 60_000 });
  await page.waitForFunction(
    // The status bar reads "<kernel name> | Idle" once the kernel has started and replied.
    () =>
      Array.from(document.querySelectorAll("#jp-main-statusbar span")).some((item) =>
        /\| Idle$/.test((item.textContent ?? "").trim()),
      ),
    undefined,
    { timeout: 90_000 },
  );
  return { page, log };
}

interface LabReport {
  codeCells: number;
  charts: number;
  plotDivs: number;
  galleryImages: number;
  tableRows: number;
  stdout: string[];
  /** stderr outputs, with the index of their cell among all cells. */
  stderr: { cell: number; text: string }[];
  errors: { cell: number; text: string }[];
}

function labReport(page: Page): Promise<LabReport> {
  // No named helper functions inside: tsx's esbuild wraps them in a __name() call that
  // does not exist in the page.
  return page.evaluate(() => {
    const cells = Array.from(document.querySelectorAll(".jp-NotebookPanel .jp-Notebook .jp-Cell"));
    const streams: Record<string, { cell: number; text: string }[]> = {};
    for (const mime of [
      "application/vnd.jupyter.stdout",
      "application/vnd.jupyter.stderr",
      "application/vnd.jupyter.error",
    ]) {
      streams[mime] = cells.flatMap((cell, index) =>
        Array.from(cell.querySelectorAll(`.jp-OutputArea-output[data-mime-type="${mime}"]`)).map(
          (output) => ({ cell: index, text: output.textContent ?? "" }),
        ),
      );
    }
    return {
      codeCells: document.querySelectorAll(".jp-NotebookPanel .jp-CodeCell").length,
      // A chart Plotly has drawn: its container gets .js-plotly-plot, then an svg.main-svg.
      charts: Array.from(document.querySelectorAll(".js-plotly-plot")).filter(
        (plot) => plot.querySelector("svg.main-svg") !== null,
      ).length,
      plotDivs: document.querySelectorAll(".ee-snippets-plot").length,
      galleryImages: document.querySelectorAll(".ee-snippets-gallery img").length,
      tableRows: document.querySelectorAll("table.ee-snippets-images tbody tr").length,
      stdout: streams["application/vnd.jupyter.stdout"].map((output) => output.text),
      stderr: streams["application/vnd.jupyter.stderr"],
      errors: streams["application/vnd.jupyter.error"],
    };
  });
}

/** A screenshot of the whole notebook: the viewport is made as tall as its content. */
async function screenshotNotebook(page: Page, file: string): Promise<string> {
  const height = await page.evaluate(
    () => document.querySelector(".jp-NotebookPanel-notebook")?.scrollHeight ?? 900,
  );
  await page.setViewportSize({
    width: 1280,
    height: Math.min(16_000, Math.max(900, height + 250)),
  });
  await page.waitForTimeout(1000);
  const path = join(ARTIFACTS, file);
  await page.screenshot({ path });
  await page.setViewportSize({ width: 1280, height: 900 });
  return path;
}

function plotOutputCount(notebook: Notebook): number {
  return outputs(notebook).filter(({ output }) => output.data?.[PLOTLY] !== undefined).length;
}

const NOTEBOOK_NAMES = ["download_s2_snippets.ipynb", "concurrency_limits.ipynb"] as const;
/** Notebooks whose downloads show a progress bar (the tutorial's purpose). */
const SHOWS_PROGRESS = new Set<string>(["download_s2_snippets.ipynb"]);

for (const name of NOTEBOOK_NAMES) {
  const stem = name.replace(/\.ipynb$/, "");
  describe(`${name} in JupyterLab`, () => {
    let expectedCharts = 0;

    test("Run All completes with progress, charts, gallery and no failed cell; it saves", async () => {
      const { page, log } = await openNotebook(name, `run-${stem}`);
      try {
        // Run > Run All Cells, through the menu a user clicks.
        await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
        await page.click('.lm-Menu-itemLabel:text-is("Run All Cells")');
        // A queued or running cell's prompt reads [*] until its reply arrives.
        await page.waitForFunction(
          () =>
            Array.from(document.querySelectorAll(".jp-NotebookPanel .jp-InputPrompt")).some((p) =>
              (p.textContent ?? "").includes("[*]"),
            ),
          undefined,
          { timeout: 30_000 },
        );
        await page.waitForFunction(
          () =>
            !Array.from(document.querySelectorAll(".jp-NotebookPanel .jp-InputPrompt")).some((p) =>
              (p.textContent ?? "").includes("[*]"),
            ),
          undefined,
          { timeout: RUN_TIMEOUT_MS, polling: 500 },
        );
        // Plotly draws after its script has run; give the last chart a moment.
        await page
          .waitForFunction(
            () =>
              Array.from(document.querySelectorAll(".ee-snippets-plot")).every(
                (plot) => plot.querySelector("svg.main-svg") !== null,
              ),
            undefined,
            { timeout: 30_000 },
          )
          .catch(() => undefined);
        const report = await labReport(page);
        const screenshot = await screenshotNotebook(page, `jupyterlab-${stem}-run.png`);
        const details = `(screenshot: ${screenshot})\n${JSON.stringify({ ...report, stdout: report.stdout.length }, null, 1)}\nbrowser console:\n${log.slice(-20).join("\n")}\nserver log:\n${server?.log().slice(-2000)}`;

        // tslab reports a failing cell on stderr, with no traceback: show that text.
        const failures = [
          ...report.errors,
          ...report.stderr.filter((o) => /Error|failed/.test(o.text)),
        ];
        assert.deepEqual(
          failures,
          [],
          `cells failed:\n${failures.map((f) => `cell ${f.cell}: ${f.text}`).join("\n")}\n${details}`,
        );
        assert.ok(report.codeCells > 0, `the notebook shows its code cells ${details}`);
        assert.ok(report.plotDivs > 0, `the notebook made charts ${details}`);
        assert.ok(
          report.charts >= report.plotDivs,
          `every chart the notebook made is drawn: ${report.charts} of ${report.plotDivs} ${details}`,
        );
        if (report.tableRows > 0 || report.galleryImages > 0) {
          assert.equal(
            report.galleryImages,
            report.tableRows,
            `the gallery shows one image per image found ${details}`,
          );
        }
        const bars = report.stdout.flatMap((text) =>
          text.split("\n").filter((l) => ANY_BAR.test(l)),
        );
        if (SHOWS_PROGRESS.has(name)) {
          assert.ok(
            bars.some((line) => FINISHED_BAR.test(line)),
            `a progress bar reached N/N: ${JSON.stringify(bars)} ${details}`,
          );
        }
        // Redrawn in place ("\r"): each output keeps one line per bar, not one per redraw.
        for (const text of report.stdout) {
          const labels = text.split("\n").flatMap((line) => ANY_BAR.exec(line)?.[1] ?? []);
          assert.equal(
            new Set(labels).size,
            labels.length,
            `a bar was redrawn on new lines: ${text}`,
          );
        }
        assert.deepEqual(
          log.filter((line) => /Invalid access|pageerror.*[Pp]lotly/.test(line)),
          [],
          "no Yjs access warnings (yjs is pinned) and no Plotly errors in the page",
        );

        // File > Save (Ctrl+S); the tab loses its dirty mark once the server has written it.
        await page.click(".jp-NotebookPanel .jp-Notebook");
        await page.keyboard.press("Control+s");
        await page.waitForFunction(
          () => document.querySelector(".lm-TabBar-tab.jp-mod-dirty") === null,
          undefined,
          { timeout: 30_000 },
        );
        const saved = readNotebook(join(dir, name));
        expectedCharts = plotOutputCount(saved);
        assert.ok(expectedCharts > 0, `the saved notebook has its Plotly outputs ${details}`);
        assert.ok(
          report.charts >= expectedCharts,
          `charts drawn (${report.charts}) >= Plotly outputs saved (${expectedCharts}) ${details}`,
        );
        assert.ok(
          outputs(saved).some(({ output }) =>
            textOf(output.data?.["text/html"]).includes('class="ee-snippets-plotly-loader"'),
          ),
          "the saved notebook keeps the plotly.js loader output",
        );
      } finally {
        await page.close();
      }
    });

    test("the saved notebook, reopened, draws its charts from the saved outputs (trusted)", async (t) => {
      if (expectedCharts === 0) {
        assert.fail("the run-and-save test above did not save the notebook");
      }
      const { page, log } = await openNotebook(name, `reopen-${stem}`);
      try {
        // Nothing is run: saved outputs' scripts draw the charts only if the notebook is trusted.
        const drawn = await page
          .waitForFunction(
            (expected) =>
              Array.from(document.querySelectorAll(".js-plotly-plot")).filter(
                (plot) => plot.querySelector("svg.main-svg") !== null,
              ).length >= expected,
            expectedCharts,
            { timeout: 60_000 },
          )
          .then(() => true)
          .catch(() => false);
        const report = await labReport(page);
        const screenshot = await screenshotNotebook(page, `jupyterlab-${stem}-reopened.png`);
        t.diagnostic(`screenshot: ${screenshot}`);
        assert.ok(
          drawn,
          `the reopened notebook should draw ${expectedCharts} charts, drew ${report.charts} (screenshot: ${screenshot})\n${log.slice(-20).join("\n")}`,
        );
        if (report.tableRows > 0) {
          assert.equal(report.galleryImages, report.tableRows, "the saved gallery is shown");
        }
      } finally {
        await page.close();
      }
    });
  });
}
