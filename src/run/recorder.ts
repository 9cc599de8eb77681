/**
 * Times the items of a run that the caller schedules itself: a plain `for` loop with `await`,
 * or p-limit and Promise.all, as the notebook shows them. Each item's promise goes through
 * `time`, which records when it started and ended, its bytes and its error; `finish` gives
 * the same RunReport runSequential and runConcurrent give, so the plots take either.
 *
 *     const run = new RunRecorder({ mode: "sequential", label: "sequential", total: ids.length });
 *     for (const id of ids) await run.time(id, (signal) => download(id, signal));
 *     const report = await run.finish();
 */
import { setMaxListeners } from "node:events";
import { ProgressBar } from "../display/progress";
import type { RunItem, RunReport } from "./run";

export interface RecorderOptions<R> {
  mode: RunReport["mode"];
  /** Items at once in a concurrent run (1 for a sequential one), as the report states it. */
  limit?: number;
  /** Shown in progress output and plots, e.g. "x8, 20 m, 11 images". */
  label?: string;
  /** Items expected, for the progress bar; without it there is no bar. */
  total?: number;
  /** A text progress bar (true: to stdout, needs `total`), or false for none. */
  progress?: boolean | ProgressBar;
  /** Stops the items that have not started; running ones get it through `time`'s signal. */
  signal?: AbortSignal;
  /**
   * Abort on SIGINT (Ctrl-C, or Jupyter's "interrupt kernel"). Default true: tslab only
   * abandons the cell's await on interrupt, so without this a loop would carry on downloading
   * in the background.
   */
  stopOnInterrupt?: boolean;
  /** Called by `finish` with the report, e.g. to save it; `finish` waits for it. */
  onFinish?: (report: RunReport<R>) => Promise<void> | void;
}

export class RunRecorder<R = unknown> {
  readonly mode: RunReport["mode"];
  readonly limit: number;
  readonly label: string;
  /** Aborted by the caller's signal or an interrupt: pass it to each item's work. */
  readonly signal: AbortSignal;
  private readonly startedAt = Date.now();
  private readonly t0 = performance.now();
  private readonly items: RunItem<R>[] = [];
  private readonly bar: ProgressBar | undefined;
  private readonly onInterrupt: () => void;
  private readonly onFinish: RecorderOptions<R>["onFinish"];
  private finished: RunReport<R> | undefined;

  constructor(options: RecorderOptions<R>) {
    const limit = options.limit ?? 1;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new TypeError(
        `RunRecorder needs a whole-number limit of at least 1, got ${JSON.stringify(options.limit)}.`,
      );
    }
    if (options.mode !== "sequential" && options.mode !== "concurrent") {
      throw new TypeError(
        `RunRecorder's mode is "sequential" or "concurrent", got ${JSON.stringify(options.mode)}.`,
      );
    }
    this.mode = options.mode;
    this.limit = limit;
    this.label =
      options.label ?? (options.mode === "sequential" ? "sequential" : `concurrent x${limit}`);
    this.onFinish = options.onFinish;
    this.bar =
      options.progress instanceof ProgressBar
        ? options.progress
        : options.progress === false || options.total === undefined
          ? undefined
          : new ProgressBar({ label: this.label, total: options.total });
    const interrupt = new AbortController();
    this.onInterrupt = () => interrupt.abort(new Error("interrupted (SIGINT)"));
    if (options.stopOnInterrupt !== false) process.on("SIGINT", this.onInterrupt);
    this.signal = options.signal
      ? AbortSignal.any([options.signal, interrupt.signal])
      : interrupt.signal;
    // Every running item and each of its requests listens to this one signal; past Node's
    // default of 10 listeners it would warn of a leak that is not one.
    setMaxListeners(0, this.signal);
  }

  /**
   * Runs one item's work and records it. Resolves to the item's record, never rejects: a
   * failed item is recorded with its error and the others go on, in a loop and in
   * Promise.all alike. `work` starts when `time` is called, so call it when the item starts
   * (inside p-limit's function, not before).
   */
  time(key: string, work: (signal: AbortSignal) => Promise<R>): Promise<RunItem<R>> {
    return this.record(key, this.items.length, work);
  }

  /** `time` with the item's position given (runSequential and runConcurrent know it). */
  async record(
    key: string,
    index: number,
    work: (signal: AbortSignal) => Promise<R>,
  ): Promise<RunItem<R>> {
    if (this.finished) {
      throw new Error(`The run "${this.label}" is finished: start a new RunRecorder.`);
    }
    const startMs = performance.now() - this.t0;
    const item: RunItem<R> = { index, key, startMs, endMs: startMs, ok: false };
    this.items.push(item);
    if (this.signal.aborted) {
      item.error = `not started: ${abortReason(this.signal)}`;
      return item;
    }
    try {
      const value = await work(this.signal);
      item.bytes = bytesOf(value);
      item.value = value;
      item.ok = true;
      this.bar?.tick({ bytes: item.bytes });
    } catch (error) {
      item.error = error instanceof Error ? error.message : String(error);
      this.bar?.tick({ failed: true });
    }
    item.endMs = performance.now() - this.t0;
    return item;
  }

  /** The report of every item timed so far, in item order; the wall time ends now. */
  async finish(): Promise<RunReport<R>> {
    if (this.finished) return this.finished;
    process.off("SIGINT", this.onInterrupt);
    const wallMs = performance.now() - this.t0;
    this.bar?.done();
    const items = [...this.items].sort((a, b) => a.index - b.index);
    const failed = items.filter((item) => !item.ok).length;
    this.finished = {
      mode: this.mode,
      limit: this.limit,
      label: this.label,
      startedAt: this.startedAt,
      wallMs,
      items,
      succeeded: items.length - failed,
      failed,
      bytes: items.reduce((sum, item) => sum + (item.bytes ?? 0), 0),
      aborted: this.signal.aborted,
    };
    await this.onFinish?.(this.finished);
    return this.finished;
  }
}

function bytesOf(value: unknown): number | undefined {
  if (
    value &&
    typeof value === "object" &&
    typeof (value as { bytes?: unknown }).bytes === "number"
  ) {
    return (value as { bytes: number }).bytes;
  }
  return undefined;
}

function abortReason(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : "the run was aborted";
}
