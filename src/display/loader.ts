/**
 * Browser libraries (plotly.js, Leaflet) put into the notebook page from node_modules: one
 * output holds the library gzipped and base64-encoded with a script that unpacks it with the
 * browser's DecompressionStream (Chromium 80+, Firefox 113+, Safari 16.4+; JupyterLab, classic
 * Notebook and the HTML export alike) and runs it, so later outputs find it as a window
 * global. No CDN: offline, and a saved notebook carries the library in that one output.
 */
import { gzipSync } from "node:zlib";

/** A library as it goes into the page. */
export interface PageLibrary {
  /** What the status line calls it, e.g. "plotly.js 3.1.1 (plotly.js-basic-dist-min)". */
  what: string;
  /** The window global its UMD build defines, e.g. "Plotly" or "L": loaded once per page. */
  global: string;
  /** Names the status line's class, `ee-snippets-${slug}-loader`, which tests look for. */
  slug: string;
  /** Its stylesheet, when it has one (Leaflet's panes and controls need it). */
  css?: string;
}

/** HTML for the page and a line of text for everything else. */
export type LoaderBundle = Record<"text/html" | "text/plain", string>;

/** One output with every MIME type of `bundle` (output.ts's displayBundle); false outside a kernel. */
export type DisplayBundle = (bundle: LoaderBundle) => boolean;

/** gzip + base64 of a text, cached for the kernel's life under `key` (packing plotly takes ~1 s). */
export function packed(key: string, text: () => string): string {
  const holder = globalThis as unknown as Record<string, string | undefined>;
  const slot = `__eeSnippetsPacked_${key}`;
  holder[slot] ??= gzipSync(text(), { level: 9 }).toString("base64");
  return holder[slot] as string;
}

/**
 * The loader output for a library whose browser build is `gzipBase64` (see packed). Hiding module/exports/define makes the UMD wrapper set the window global
 * even where a page has RequireJS (classic Notebook) or a CommonJS shim; indirect eval runs it
 * in global scope. The guard keeps a second copy (a rerun cell, a saved output next to a new
 * one) from running again.
 */
export function libraryLoaderBundle(library: PageLibrary, gzipBase64: string): LoaderBundle {
  const global = JSON.stringify(library.global);
  const loaderClass = `ee-snippets-${library.slug}-loader`;
  const css = library.css
    ? `<style type="text/css">\n${library.css.replace(/<\/style/gi, "<\\/style")}\n</style>\n`
    : "";
  const html = `${css}<div class="${loaderClass}" style="color:#888;font-size:smaller">${library.what} loaded (offline, stored gzipped)</div>
<script type="text/javascript">
(function () {
  var loading = (window.__eeSnippetsLoading = window.__eeSnippetsLoading || {});
  if (window[${global}] || loading[${global}]) return;
  var loaders = document.querySelectorAll(".${loaderClass}");
  function say(text) { for (var i = 0; i < loaders.length; i++) loaders[i].textContent = text; }
  if (typeof DecompressionStream === "undefined") {
    say(${JSON.stringify(library.what)} + " is not loaded: this browser has no DecompressionStream (use Chromium 80+, Firefox 113+ or Safari 16.4+).");
    return;
  }
  var packed = atob("${gzipBase64}");
  var bytes = new Uint8Array(packed.length);
  for (var i = 0; i < packed.length; i++) bytes[i] = packed.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  loading[${global}] = new Response(stream).text().then(function (source) {
    (0, eval)("(function (module, exports, define) {\\n" + source + "\\n}).call(window);");
  }).catch(function (error) {
    loading[${global}] = undefined;
    say(${JSON.stringify(library.what)} + " could not be unpacked: " + error);
  });
})();
</script>`;
  return { "text/html": html, "text/plain": `${library.what} loaded into the page (offline).` };
}

// Module state lives on globalThis: tslab recompiles and reloads src files when a cell
// imports them again, which would reset a module-level set.
const STATE_KEY = "__eeSnippetsPageLibraries";
function loadedGlobals(): Set<string> {
  const holder = globalThis as unknown as Record<string, Set<string> | undefined>;
  holder[STATE_KEY] ??= new Set();
  return holder[STATE_KEY] as Set<string>;
}

/** True once this kernel has put the library defining `global` into the page. */
export function libraryShown(global: string): boolean {
  return loadedGlobals().has(global);
}

/**
 * Puts a library into the page through `display` unless this kernel already did. `library`
 * is only read when needed (reading and packing a build costs time). Outside a kernel
 * `display` prints the status line and nothing is remembered, so a kernel output still loads it.
 */
export function loadLibrary(
  library: () => { library: PageLibrary; gzipBase64: string },
  global: string,
  display: DisplayBundle,
): void {
  if (libraryShown(global)) return;
  const { library: lib, gzipBase64 } = library();
  if (display(libraryLoaderBundle(lib, gzipBase64))) loadedGlobals().add(global);
}
