/**
 * Fetches every window of a download and writes it, as many at once as the session's limiter
 * allows: each window holds its bytes of the byte budget from before its request until its
 * pixels are on disk, and a window the server refuses as too large is fetched as halves.
 */
import type { SampleType } from "../core/samples";
import { BYTES_PER_SAMPLE } from "../core/samples";
import type { GeoTiffWriter } from "../geotiff/writer";
import type { ByteBudget } from "./budget";
import { RequestError } from "./errors";
import type { ProgressReporter } from "./progress";
import { fetchNpy, fetchPixels, type RequestCounters, type WindowRequest } from "./request";
import { isTileAligned, TileScatter } from "./tile-scatter";
import { type RequestTile, splitWindow } from "./tiles";

export interface WindowsJob {
  request: WindowRequest;
  windows: RequestTile[];
  tileSize: number;
  sampleType: SampleType;
  writer: Promise<GeoTiffWriter>;
  budget: ByteBudget;
  /** Requests in flight the limiter allows: enough workers to keep it busy. */
  concurrency: number;
  /** Aborted on the first window that fails for good, so its siblings stop at once. */
  controller: AbortController;
  counters: RequestCounters;
  progress: ProgressReporter;
  /** Called once every window's pixels have arrived (before the last are on disk). */
  onFetched?: () => void;
}

/** Fetches and writes every window; resolves with the first failure, undefined when none. */
export async function fetchWindows(job: WindowsJob): Promise<unknown> {
  const { windows, controller } = job;
  const signal = controller.signal;
  // Memory is bounded by the byte budget each window acquires, not by the image or the
  // number of workers.
  const workers = Math.min(windows.length, job.concurrency);
  let windowsLeft = windows.length;
  const windowReceived = () => {
    if (--windowsLeft === 0) job.onFetched?.();
  };
  let next = 0;
  let firstError: unknown;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < windows.length && !signal.aborted) {
        const window = windows[next++];
        try {
          await fetchWindow(job, window, windowReceived);
          job.progress.windowDone();
        } catch (error) {
          if (firstError === undefined) firstError = error;
          controller.abort(error);
        }
      }
    }),
  );
  return firstError;
}

/**
 * Fetches a window (splitting it while the server refuses its size) and writes it, holding
 * its bytes of the budget from before the request until its pixels are on disk. Calls
 * `received` once the window's pixels (all its halves', if split) have arrived.
 */
async function fetchWindow(
  job: WindowsJob,
  window: RequestTile,
  received: () => void,
): Promise<void> {
  const { request, tileSize, sampleType, writer } = job;
  const signal = job.controller.signal;
  const pixelSize = request.bandNames.length * BYTES_PER_SAMPLE[sampleType];
  const grant = await job.budget.acquire(window.width * window.height * pixelSize, signal);
  try {
    if (isTileAligned(window, tileSize, request.grid)) {
      const scatter = new TileScatter({
        window,
        tileSize,
        bands: request.bandNames,
        sampleType,
        writer,
        onWritten: (bytes) => {
          grant.release(bytes);
          job.progress.written(bytes);
        },
      });
      await fetchNpy(request, window, () => scatter.sink());
      received();
      await scatter.done();
    } else {
      const pixelsFetched = fetchPixels(request, window, sampleType);
      const [pixels, open] = await Promise.all([
        pixelsFetched.then((pixels) => {
          received();
          return pixels;
        }),
        writer,
      ]);
      await open.writeWindow(window.x0, window.y0, window.width, window.height, pixels);
      job.progress.written(window.width * window.height * pixelSize);
    }
  } catch (error) {
    grant.release();
    const halves =
      error instanceof RequestError && error.split ? splitWindow(window, tileSize) : undefined;
    if (!halves) throw error;
    job.counters.splits++;
    let halvesLeft = halves.length;
    const halfReceived = () => {
      if (--halvesLeft === 0) received();
    };
    await Promise.all(halves.map((half) => fetchWindow(job, half, halfReceived)));
    return;
  } finally {
    grant.release();
  }
}
