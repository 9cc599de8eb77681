import type { DownloadProgress } from "./options";

const PROGRESS_INTERVAL_MS = 100;

/** Counts windows and bytes done; calls onProgress at most every 100 ms and once at the end. */
export class ProgressReporter {
  private readonly state: DownloadProgress;
  private lastReport = 0;

  constructor(
    totals: { tiles: number; bytes: number },
    private readonly onProgress: ((p: DownloadProgress) => void) | undefined,
  ) {
    this.state = { tilesDone: 0, tilesTotal: totals.tiles, bytesDone: 0, bytesTotal: totals.bytes };
  }

  windowDone(): void {
    this.state.tilesDone++;
    this.report(false);
  }

  written(bytes: number): void {
    this.state.bytesDone += bytes;
    this.report(false);
  }

  /** Reports now when `force`, else only if the last report is 100 ms old. */
  report(force: boolean): void {
    if (!this.onProgress) return;
    const now = performance.now();
    if (!force && now - this.lastReport < PROGRESS_INTERVAL_MS) return;
    this.lastReport = now;
    this.onProgress({ ...this.state });
  }
}
