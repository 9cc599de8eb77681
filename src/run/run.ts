import pLimit from "p-limit";
import type { ProgressBar } from "../display/progress";
import { RunRecorder } from "./recorder";

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
  const keyOf = options.key ?? defaultKey;
  const recorder = new RunRecorder<R>({
    mode,
    limit,
    label: options.label,
    total: items.length,
    progress: options.progress,
    signal: options.signal,
    stopOnInterrupt: options.stopOnInterrupt,
  });
  const limiter = pLimit(limit);
  const runItem = (item: T, index: number, release: () => void) =>
    recorder.record(keyOf(item, index), index, (signal) => task(item, { index, signal, release }));
  await Promise.all(
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
  );
  return recorder.finish();
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
