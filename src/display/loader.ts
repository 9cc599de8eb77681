/**
 * Browser libraries (plotly.js, Leaflet) put into the notebook page once per kernel, from
 * node_modules: one output holding the script (and its CSS), which later outputs find as a
 * window global. No CDN, so it works offline and in the HTML export; a saved notebook
 * carries the library in that one output.
 */

/** One output with every MIME type of `bundle` (output.ts's displayBundle); false outside a kernel. */
export type DisplayBundle = (bundle: LoaderBundle) => boolean;

/** HTML for the page and a line of text for everything else. */
export type LoaderBundle = Record<"text/html" | "text/plain", string>;

/** A library as it goes into the page. */
export interface PageLibrary {
  /** What it is called in the status line, e.g. "plotly.js". */
  name: string;
  version: string;
  /** The npm package it was read from, for the status line. */
  from: string;
  /** The window global its UMD build defines, e.g. "Plotly" or "L": loaded once per page. */
  global: string;
  /** The browser build, run as a classic script. */
  script: string;
  /** Its stylesheet, when it has one (Leaflet's panes and controls need it). */
  css?: string;
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

/** The loader output: the library's CSS and script, and a line saying it is loaded. */
export function libraryLoaderBundle(library: PageLibrary): LoaderBundle {
  const global = JSON.stringify(library.global);
  const css = library.css
    ? `<style type="text/css">\n${library.css.replace(/<\/style/gi, "<\\/style")}\n</style>\n`
    : "";
  // Hiding module/exports/define makes the UMD wrapper set the window global even where a
  // page has RequireJS (classic Notebook) or a CommonJS shim. The guard keeps a second copy
  // (a rerun cell, or a saved output next to a new one) from replacing the first.
  const html = `${css}<script type="text/javascript">
if (!window[${global}]) {
(function (module, exports, define) {
${library.script.replace(/<\/script/gi, "<\\/script")}
}).call(window);
}
</script>
<div class="ee-snippets-library-loader" style="color:#888;font-size:smaller">${library.name} ${library.version} loaded (offline, from ${library.from})</div>`;
  return {
    "text/html": html,
    "text/plain": `${library.name} ${library.version} loaded into the page (offline, from ${library.from}).`,
  };
}

/**
 * Puts a library into the page through `display` unless this kernel already did. `library`
 * is only read when needed (reading and minifying a build costs time). Outside a kernel
 * `display` prints the status line and nothing is remembered, so a kernel output still loads it.
 */
export function loadLibrary(
  global: string,
  library: () => PageLibrary,
  display: DisplayBundle,
): void {
  if (libraryShown(global)) return;
  if (display(libraryLoaderBundle(library()))) loadedGlobals().add(global);
}

/** Forgets what was loaded, so the next display loads again (a new page, e.g. after a reload). */
export function forgetLoadedLibraries(): void {
  loadedGlobals().clear();
}
