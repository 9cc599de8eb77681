import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import { ProgressBar } from "../display/progress";

/** One item of a run: when it started and ended (ms since the run began) and how it went. */
export interface RunItem<R = unknown> {
  index: number;
  key: string;
  startMs: number;
  endMs: number;
  ok: boolean;
  error?: string;
  /** Bytes written, when the task's result reports them (downloadImage does). */
  bytes?: number;
  value?: R;
}

/** What a timing plot needs: how the run was scheduled, how long it took, every item. */
export interface RunReport<R = unknown> {
  mode: "sequential" | "concurrent";
  limit: number;
  label: string;
  /** Wall-clock start, ms since epoch. */
  startedAt: number;
  wallMs: number;
  items: RunItem<R>[];
  succeeded: number;
  failed: number;
  bytes: number;
  aborted: boolean;
}

export interface RunOptions<T> {
  /** Names an item in the report (defaults to its id, name or index). */
  key?: (item: T, index: number) => string;
  /** Shown in progress output and plots, e.g. "concurrent x8". */
  label?: string;
  /** A text progress bar (true: to stdout), or false for none. */
  progress?: boolean | ProgressBar;
  /** Stops starting new items; running ones get the signal through their context. */
  signal?: AbortSignal;
  /**
   * Abort the run on SIGINT (Ctrl-C, or Jupyter's "interrupt kernel"). Default true: tslab
   * only abandons the cell's await on interrupt, so without this, downloads would carry on
   * in the background.
   */
  stopOnInterrupt?: boolean;
}

export interface TaskContext {
  index: number;
  signal?: AbortSignal;
  /**
   * Gives the task's slot to the next item while this one finishes: call it when the network
   * part is done (downloadImage's onFetched), so the next image's requests overlap this one's
   * file writing. The item still counts as running until the task resolves. A no-op in
   * runSequential, whose items run strictly one after another as the tutorial's loop does.
   */
  release: () => void;
}

export type Task<T, R> = (item: T, context: TaskContext) => Promise<R>;

/** Runs one item after another, as the tutorial's plain loop does. */
export function runSequential<T, R>(
  items: readonly T[],
  task: Task<T, R>,
  options: RunOptions<T> = {},
): Promise<RunReport<R>> {
  return run(items, task, 1, "sequential", options);
}

/** Runs up to `limit` items at once (p-limit); one failure does not stop the rest. */
export function runConcurrent<T, R>(
  items: readonly T[],
  task: Task<T, R>,
  options: RunOptions<T> & { limit: number },
): Promise<RunReport<R>> {
  const { limit } = options;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new TypeError(
      `runConcurrent needs a whole-number limit of at least 1, got ${JSON.stringify(limit)}.`,
    );
  }
  return run(items, task, limit, "concurrent", options);
}

async function run<T, R>(
  items: readonly T[],
  task: Task<T, R>,
  limit: number,
  mode: RunReport["mode"],
  options: RunOptions<T>,
): Promise<RunReport<R>> {
  const label = options.label ?? (mode === "sequential" ? "sequential" : `concurrent x${limit}`);
  const keyOf = options.key ?? defaultKey;
  const bar =
    options.progress instanceof ProgressBar
      ? options.progress
      : options.progress === false
        ? undefined
        : new ProgressBar({ label, total: items.length });
  const startedAt = Date.now();
  const t0 = performance.now();
  const limiter = pLimit(limit);
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort(new Error("interrupted (SIGINT)"));
  if (options.stopOnInterrupt !== false) process.on("SIGINT", onInterrupt);
  const signal = options.signal
    ? AbortSignal.any([options.signal, interrupt.signal])
    : interrupt.signal;
  // Every running task and each of its requests listens to this one signal; past Node's
  // default of 10 listeners it would warn of a leak that is not one.
  setMaxListeners(0, signal);
  const runItem = async (item: T, index: number, release: () => void): Promise<RunItem<R>> => {
    const key = keyOf(item, index);
    const startMs = performance.now() - t0;
    if (signal?.aborted) {
      return {
        index,
        key,
        startMs,
        endMs: startMs,
        ok: false,
        error: `not started: ${abortReason(signal)}`,
      };
    }
    try {
      const value = await task(item, { index, signal, release });
      const bytes = bytesOf(value);
      bar?.tick({ bytes });
      return { index, key, startMs, endMs: performance.now() - t0, ok: true, bytes, value };
    } catch (error) {
      bar?.tick({ failed: true });
      return {
        index,
        key,
        startMs,
        endMs: performance.now() - t0,
        ok: false,
        error: messageOf(error),
      };
    }
  };
  const results = await Promise.all(
    items.map((item, index) => {
      if (mode === "sequential") return limiter(() => runItem(item, index, () => {}));
      // p-limit frees a slot when the function it runs settles: that function settles on the
      // task's release() or its end, whichever comes first, and the item runs on regardless.
      let outcome: Promise<RunItem<R>> | undefined;
      return limiter(
        () =>
          new Promise<void>((freeSlot) => {
            outcome = runItem(item, index, () => freeSlot());
            void outcome.finally(() => freeSlot());
          }),
      ).then(() => outcome as Promise<RunItem<R>>);
    }),
  ).finally(() => process.off("SIGINT", onInterrupt));
  const wallMs = performance.now() - t0;
  bar?.done();
  const failed = results.filter((item) => !item.ok).length;
  return {
    mode,
    limit,
    label,
    startedAt,
    wallMs,
    items: results,
    succeeded: results.length - failed,
    failed,
    bytes: results.reduce((sum, item) => sum + (item.bytes ?? 0), 0),
    aborted: signal.aborted,
  };
}

function defaultKey(item: unknown, index: number): string {
  if (typeof item === "string" || typeof item === "number") return String(item);
  if (item && typeof item === "object") {
    const record = item as Record<string, unknown>;
    for (const field of ["id", "key", "name"]) {
      if (typeof record[field] === "string") return record[field] as string;
    }
  }
  return `#${index + 1}`;
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function abortReason(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : "the run was aborted";
}
