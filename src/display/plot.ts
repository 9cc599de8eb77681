/**
 * What a notebook shows: Plotly figure builders (plain data, testable in node), one-output
 * display in the tslab kernel (Plotly JSON + HTML + text), the image table, the gallery and
 * the kernel's run history. The builders' parts live in figure/output/gallery/timing.
 *
 *     import { show, wallTimeFigure, timelineFigure } from "./src/display/plot";
 *     show(wallTimeFigure([sequential, concurrent]));
 */

import {
  type GalleryItem,
  type GalleryOptions,
  galleryHtml,
  imageTableHtml,
  type TableImage,
} from "./gallery";
import { showHtml } from "./output";
import type { TimedRun } from "./timing";

export type { Figure } from "./figure";
export { type GalleryItem, type GalleryOptions, type TableImage, ThumbnailError } from "./gallery";
export { loadLeaflet, MapInputError, showMap, showSnippetMap } from "./map";
export { loadPlotly, show } from "./output";
export {
  PlotInputError,
  runHistoryFigure,
  type Series,
  type SpeedupFigureOptions,
  type SpeedupPoint,
  seriesFigure,
  speedupFigure,
  type TimedRun,
  timelineFigure,
  wallTimeFigure,
} from "./timing";

/** Shows the images found as a table (HTML in Jupyter, aligned text elsewhere). */
export function showImages(images: readonly TableImage[]): void {
  const table = imageTableHtml(images);
  showHtml(table.html, table.text);
}

/** Shows downloaded snippets as a gallery of small thumbnails with date and cloud %. */
export async function showGallery(
  items: readonly GalleryItem[],
  options: GalleryOptions = {},
): Promise<void> {
  const gallery = await galleryHtml(items, options);
  showHtml(gallery.html, gallery.text);
}

// Kept on globalThis: a cell that imports ./src again makes tslab reload the module, and the
// history must survive that for reruns to be compared.
const HISTORY_KEY = "__eeSnippetsRunHistory";

/** Every run recorded in this kernel so far, oldest first. */
export function runHistory(): TimedRun[] {
  const holder = globalThis as unknown as Record<string, TimedRun[] | undefined>;
  holder[HISTORY_KEY] ??= [];
  return holder[HISTORY_KEY] as TimedRun[];
}

/** Appends runs to the kernel's run history and returns the whole history. */
export function recordRun(...runs: TimedRun[]): TimedRun[] {
  const history = runHistory();
  history.push(...runs);
  return history;
}

/** Forgets the recorded runs (e.g. after changing the AOI, when old times no longer compare). */
export function clearRunHistory(): void {
  runHistory().length = 0;
}
