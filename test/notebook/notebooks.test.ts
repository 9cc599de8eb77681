import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fromFile } from "geotiff";
import {
  executeNotebook,
  NOTEBOOKS,
  type Notebook,
  type NotebookOutput,
  outputs,
  textOf,
  tsString,
} from "./harness";

const PLOTLY = "application/vnd.plotly.v1+json";
const work = mkdtempSync(join(tmpdir(), "notebook-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

function plotOutputs(notebook: Notebook): NotebookOutput[] {
  return outputs(notebook)
    .map(({ output }) => output)
    .filter((output) => output.data?.[PLOTLY] !== undefined);
}

function assertPlotBundles(notebook: Notebook, atLeast: number): void {
  const plots = plotOutputs(notebook);
  assert.ok(plots.length >= atLeast, `expected ${atLeast}+ Plotly outputs, got ${plots.length}`);
  for (const plot of plots) {
    const data = plot.data as Record<string, unknown>;
    // One output per figure carrying all three MIME types.
    assert.deepEqual(Object.keys(data).sort(), [PLOTLY, "text/html", "text/plain"]);
    const figure = data[PLOTLY] as { data: unknown[]; layout: object };
    assert.ok(Array.isArray(figure.data) && figure.data.length > 0, "figure has traces");
    assert.match(textOf(data["text/html"]), /Plotly\.newPlot/);
    assert.ok(textOf(data["text/plain"]).length > 0);
  }
  const loaders = outputs(notebook).filter(({ output }) =>
    textOf(output.data?.["text/html"]).includes("window.Plotly="),
  );
  assert.equal(loaders.length, 1, "plotly.js is put into the page exactly once per notebook");
}

function assertNoErrors(notebook: Notebook): void {
  for (const { cell, output } of outputs(notebook)) {
    assert.notEqual(output.output_type, "error", `cell ${cell} has an error output`);
    if (output.output_type === "stream" && output.name === "stderr") {
      assert.doesNotMatch(textOf(output.text), /Error|failed/, `cell ${cell} wrote to stderr`);
    }
  }
}

async function assertGeoTiff(path: string): Promise<void> {
  assert.ok(existsSync(path), `${path} exists`);
  const tiff = await fromFile(path);
  const image = await tiff.getImage();
  assert.ok(image.getWidth() > 0 && image.getHeight() > 0);
  assert.equal(image.getSamplesPerPixel(), 3, "a visualized snippet is RGB");
  assert.ok(image.getGeoKeys()?.ProjectedCSTypeGeoKey, "georeferenced in a projected CRS (UTM)");
  const [band] = (await image.readRasters({
    window: [0, 0, 8, 8],
  })) as unknown as ArrayLike<number>[];
  assert.equal(band.length, 64);
}

test("notebooks/src is a relative symlink to ../src (tslab only sees the notebook folder)", () => {
  const link = join(NOTEBOOKS, "src");
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readlinkSync(link), "../src");
  assert.ok(existsSync(join(link, "index.ts")), "./src/index resolves through the link");
});

describe("download_s2_snippets.ipynb", () => {
  const outDir = join(work, "snippets");
  let notebook: Notebook;

  test("runs to the end on the emulator with the tslab kernel", async () => {
    notebook = await executeNotebook(join(NOTEBOOKS, "download_s2_snippets.ipynb"), {
      output: join(work, "download_s2_snippets.ipynb"),
      html: join(work, "download_s2_snippets.html"),
      set: { OUT_DIR: tsString(outDir) },
    });
    assertNoErrors(notebook);
  });

  test("shows the images found as an HTML table, timing plots and a gallery", () => {
    assert.ok(notebook, "the notebook ran");
    const html = outputs(notebook).map(({ output }) => textOf(output.data?.["text/html"]));
    assert.ok(html.some((h) => h.includes('<table class="ee-snippets-images"')));
    assertPlotBundles(notebook, 3);
    const gallery = html.find((h) => h.includes("ee-snippets-gallery"));
    assert.ok(gallery, "gallery output");
    assert.match(gallery, /data:image\/png;base64,/);
    const exported = readFileSync(join(work, "download_s2_snippets.html"), "utf8");
    assert.match(exported, /Plotly\.newPlot/, "the HTML export keeps the plots' scripts");
  });

  test("writes decodable GeoTIFFs and a summary with both wall times", async () => {
    assert.ok(notebook, "the notebook ran");
    const summary = JSON.parse(readFileSync(join(outDir, "summary.json"), "utf8")) as {
      images: number;
      downloaded: number;
      failed: number;
      sequentialMs: number;
      concurrentMs: number;
      files: string[];
    };
    assert.ok(summary.images > 0);
    assert.equal(summary.failed, 0);
    assert.equal(summary.files.length, summary.images);
    assert.ok(summary.sequentialMs > 0 && summary.concurrentMs > 0);
    for (const file of summary.files) await assertGeoTiff(file);
  });
});

describe("concurrency_limits.ipynb", () => {
  test("runs to the end and plots speedup against the limit with the ideal curve", async () => {
    const notebook = await executeNotebook(join(NOTEBOOKS, "concurrency_limits.ipynb"), {
      output: join(work, "concurrency_limits.ipynb"),
      set: { OUT_DIR: tsString(join(work, "limits")) },
    });
    assertNoErrors(notebook);
    assertPlotBundles(notebook, 3);
    const names = plotOutputs(notebook).flatMap((output) => {
      const figure = output.data?.[PLOTLY] as { data: { name?: string }[] } | undefined;
      return figure?.data.map((trace) => trace.name) ?? [];
    });
    assert.ok(names.includes("ideal (cost model)"), "the speedup plot has the ideal curve");
    assert.ok(names.includes("measured"));
  });
});
