import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Figure } from "./figure";
import { libraryLoaderBundle, packed } from "./loader";

/** The MIME bundle of one displayed figure: Plotly JSON for front ends with a Plotly renderer,
 * HTML + script for classic Notebook, JupyterLab and the HTML export, text everywhere else. */
export interface FigureBundle {
  "application/vnd.plotly.v1+json": Pick<Figure, "data" | "layout" | "config">;
  "text/html": string;
  "text/plain": string;
}

export type MimeBundle = Record<string, string | object>;

interface DisplayMessage {
  data: MimeBundle;
  metadata: Record<string, unknown>;
  transient: Record<string, unknown>;
}

type WriteDisplayData = (message: DisplayMessage, update: boolean) => void;

/**
 * tslab's own display API sends one MIME type per output; its jupyter module keeps the
 * writer of the executing cell in `lastWriteDisplayData`, which takes a whole bundle. The
 * module is looked up in the require cache, so it is the instance of the running kernel even
 * when the kernel's tslab is not the one this checkout resolves.
 */
function kernelWriter(): WriteDisplayData | undefined {
  const cache = typeof require === "function" ? require.cache : undefined;
  if (!cache) return undefined;
  for (const [file, entry] of Object.entries(cache)) {
    if (!/tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) continue;
    const writer = (entry?.exports as { lastWriteDisplayData?: unknown } | undefined)
      ?.lastWriteDisplayData;
    if (typeof writer === "function") return writer as WriteDisplayData;
  }
  return undefined;
}

/** True inside a tslab kernel that is executing a cell. */
export function inKernel(): boolean {
  return kernelWriter() !== undefined;
}

/**
 * Sends one output carrying every MIME type of `bundle`. Outside a kernel (scripts, tests)
 * it prints the text/plain part and returns false.
 */
export function displayBundle(bundle: MimeBundle): boolean {
  const writer = kernelWriter();
  if (!writer) {
    const text = bundle["text/plain"];
    if (typeof text === "string") process.stdout.write(`${text}\n`);
    return false;
  }
  writer({ data: bundle, metadata: {}, transient: {} }, false);
  return true;
}

// Module state lives on globalThis: tslab recompiles and reloads src files when a cell
// imports them again, which would reset a module-level flag.
interface PlotGlobals {
  plotlyShown?: boolean;
  figureCount?: number;
}
const STATE_KEY = "__eeSnippetsPlot";
function state(): PlotGlobals {
  const holder = globalThis as unknown as Record<string, PlotGlobals | undefined>;
  holder[STATE_KEY] ??= {};
  return holder[STATE_KEY] as PlotGlobals;
}

/** HTML for one figure: a div, then a script that waits for plotly.js and the div to exist. */
export function figureHtml(figure: Figure, id = nextFigureId()): string {
  const payload = scriptSafeJson({
    data: figure.data,
    layout: figure.layout,
    config: figure.config,
  });
  const height = figure.layout.height ?? 400;
  // Polling covers three orders of events: JupyterLab runs output scripts before attaching
  // the output to the page, a saved notebook may render a figure before the loader, and the
  // HTML export runs scripts in document order.
  return `<div id="${id}" class="ee-snippets-plot" style="width:100%;height:${height}px"></div>
<script type="text/javascript">
(function () {
  var id = ${JSON.stringify(id)};
  var figure = ${payload};
  var waited = 0;
  function ready() { return window.Plotly && document.getElementById(id); }
  function draw() { window.Plotly.newPlot(document.getElementById(id), figure.data, figure.layout, figure.config); }
  if (ready()) { draw(); return; }
  var timer = setInterval(function () {
    if (ready()) { clearInterval(timer); draw(); return; }
    waited += 100;
    if (waited > 30000) {
      clearInterval(timer);
      var el = document.getElementById(id);
      if (el) el.textContent = "plotly.js is not loaded in this page: run the cell that calls loadPlotly() (or trust the notebook).";
    }
  }, 100);
})();
</script>`;
}

/** The one-output bundle for a figure (what `show` sends). */
export function figureBundle(figure: Figure, id?: string): FigureBundle {
  return {
    "application/vnd.plotly.v1+json": {
      data: figure.data,
      layout: figure.layout,
      config: figure.config,
    },
    "text/html": figureHtml(figure, id),
    "text/plain": figure.summary,
  };
}

// The display functions return nothing on purpose: tslab prints a cell's last value, and a
// returned bundle would repeat the whole figure (or plotly.js) as text under the plot.

/**
 * Displays a figure as one output, loading plotly.js into the page first if this kernel has
 * not done so yet. Outside a kernel it prints the figure's summary.
 */
export function show(figure: Figure): void {
  if (inKernel() && !state().plotlyShown) loadPlotly();
  displayBundle(figureBundle(figure) as unknown as MimeBundle);
}

/** Displays HTML (tables, galleries) with a text fallback, as one output. */
export function showHtml(html: string, text: string): void {
  displayBundle({ "text/html": html, "text/plain": text });
}

/**
 * Puts plotly.js into the page, once per notebook: one output holding plotly.js (offline; no
 * CDN), which later figures find as window.Plotly. Call it in an early cell; `show` calls it
 * by itself if no cell did.
 */
export function loadPlotly(options: { bundle?: PlotlyBundle } = {}): void {
  if (displayBundle(plotlyLoaderBundle(options.bundle))) state().plotlyShown = true;
}

/**
 * "basic": plotly.js-basic-dist-min (scatter, bar, pie: every trace our figures use; 1.1 MB,
 * so a saved notebook stays small and opens fast). "full": plotly.js-dist, every trace type,
 * for cells that draw their own heatmaps, maps or 3-D plots (4.9 MB minified).
 */
export type PlotlyBundle = "basic" | "full";

/**
 * The loader output: plotly.js gzipped and base64-encoded in a script that unpacks it with the
 * browser's DecompressionStream (Chromium 80+, Firefox 113+, Safari 16.4+; JupyterLab,
 * classic Notebook and the HTML export alike), and a line saying what was loaded. Stored
 * gzipped, the loader is 3.5x smaller than the minified source (5.0 MB -> 1.4 MB for
 * plotly.js-dist), and every saved notebook carries it.
 */
export function plotlyLoaderBundle(which: PlotlyBundle = "basic"): MimeBundle {
  const { gzipBase64, version, bundle } = plotlyPacked(which);
  return libraryLoaderBundle(
    { what: `plotly.js ${version} (${bundle})`, global: "Plotly", slug: "plotly" },
    gzipBase64,
  );
}

/** The plotly.js source of a bundle (see PlotlyBundle). */
export function plotlySource(which: PlotlyBundle = "basic"): {
  source: string;
  version: string;
  minified: boolean;
  bundle: string;
} {
  if (which === "full") return { ...minifiedDist(), bundle: "plotly.js-dist" };
  const packageJson = require.resolve("plotly.js-basic-dist-min/package.json");
  return {
    source: readFileSync(join(dirname(packageJson), "plotly-basic.min.js"), "utf8"),
    version: packageVersion(packageJson),
    minified: true,
    bundle: "plotly.js-basic-dist-min",
  };
}

/** plotlySource gzipped and base64-encoded for the loader, cached per bundle (loader.ts's packed). */
export function plotlyPacked(which: PlotlyBundle = "basic"): {
  gzipBase64: string;
  version: string;
  bundle: string;
} {
  const bundle = which === "full" ? "plotly.js-dist" : "plotly.js-basic-dist-min";
  return {
    gzipBase64: packed(`plotly-${which}`, () => plotlySource(which).source),
    version: packageVersion(require.resolve(`${bundle}/package.json`)),
    bundle,
  };
}

function packageVersion(packageJson: string): string {
  return (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
}

/**
 * plotly.js-dist ships only the 11 MB unminified build: it is minified once (esbuild, already
 * installed with tsx) and cached.
 */
function minifiedDist(): { source: string; version: string; minified: boolean } {
  const packageJson = require.resolve("plotly.js-dist/package.json");
  const version = packageVersion(packageJson);
  const original = join(dirname(packageJson), "plotly.js");
  const cacheFile = join(
    dirname(dirname(packageJson)),
    ".cache",
    "ee-snippets",
    `plotly-${version}.min.js`,
  );
  if (existsSync(cacheFile)) {
    return { source: readFileSync(cacheFile, "utf8"), version, minified: true };
  }
  const text = readFileSync(original, "utf8");
  try {
    const esbuild = require("esbuild") as {
      transformSync(
        code: string,
        options: { minify: boolean; legalComments: string },
      ): {
        code: string;
      };
    };
    // Keep the licence header: plotly.js is MIT and the output is redistributed in notebooks.
    const header = text.slice(0, text.indexOf("*/") + 2);
    const code = `${header}\n${esbuild.transformSync(text, { minify: true, legalComments: "none" }).code}`;
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      writeFileSync(cacheFile, code);
    } catch {
      // A read-only node_modules only costs the minification again next time.
    }
    return { source: code, version, minified: true };
  } catch {
    return { source: text, version, minified: false };
  }
}

function nextFigureId(): string {
  const s = state();
  s.figureCount = (s.figureCount ?? 0) + 1;
  // Random part: ids must stay unique when a notebook's saved outputs and new ones share a page.
  return `ee-plot-${Date.now().toString(36)}-${s.figureCount}-${Math.random().toString(36).slice(2, 8)}`;
}

/** JSON that can sit inside a <script> element: no "</script>", no JS-breaking separators. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
