/**
 * Snippets of many images in one run: downloadSnippets plans and checks them all before the
 * first request, downloads them through runConcurrent (or runSequential) with one shared
 * manifest, and appends the run to report.json; startSnippetRun does the same bookkeeping for
 * a loop the caller writes itself. The single-snippet API is re-exported here, so one import
 * gives a notebook the whole snippet download.
 */

import type { ProgressBar } from "../display/progress";
import type { DownloadResult } from "../download/download-image";
import { DownloadParameterError, formatBytes } from "../download/errors";
import { type RecorderOptions, RunRecorder } from "../run/recorder";
import { type RunReport, runConcurrent, runSequential, type TaskContext } from "../run/run";
import type { Aoi } from "./aoi";
import { DEFAULT_COLLECTION } from "./collections";
import { Manifest } from "./manifest";
import { ensureOutputDir, removeStalePartials, type StalePartials } from "./outputs";
import { appendRunReport, summarizeRun } from "./report";
import type { ImageInfo } from "./search";
import { checkSize, exclusive, fetchSnippet, type Plan, planSnippet } from "./snippet-download";
import type { SnippetOptions, SnippetResult, SnippetSession } from "./snippet-options";

export { downloadSnippet } from "./snippet-download";
export {
  DEFAULT_MAX_SNIPPET_BYTES,
  ExistingFileError,
  estimateSnippetBytes,
  SNIPPET_BANDS,
  type SnippetLook,
  type SnippetOptions,
  type SnippetResult,
  type SnippetSession,
  snippetParams,
} from "./snippet-options";

export interface SnippetsOptions
  extends Omit<SnippetOptions, "manifest" | "onProgress" | "onFetched"> {
  /**
   * Images downloading at once (their requests share the session's limiter); default 8. An
   * image whose pixels have arrived makes room for the next while its file is written.
   */
  limit?: number;
  /** One image after another, as the tutorial's loop. */
  sequential?: boolean;
  label?: string;
  progress?: boolean | ProgressBar;
  manifest?: Manifest;
}

/** A run's report, with what it cleaned up before starting. */
export type SnippetsReport = RunReport<SnippetResult> & {
  /** Temporary files of killed runs removed from outDir before the downloads began. */
  stalePartials: StalePartials;
};

const DEFAULT_IMAGE_LIMIT = 8;

/**
 * Downloads the snippets of many images through runConcurrent (or runSequential) with one
 * shared manifest. Every image id, the options and the output directory are checked before
 * the first request; one image failing does not stop the others (see the report's items).
 */
export async function downloadSnippets(
  session: SnippetSession,
  images: readonly (ImageInfo | string)[],
  options: SnippetsOptions,
): Promise<SnippetsReport> {
  if (!Array.isArray(images)) {
    throw new DownloadParameterError(
      "downloadSnippets needs an array of images (findImages' result or system:index strings).",
    );
  }
  const plans = images.map((image) => planSnippet(image, options));
  checkSize(options);
  const limit = options.limit ?? DEFAULT_IMAGE_LIMIT;
  if (!options.sequential && (!Number.isInteger(limit) || limit < 1)) {
    throw new DownloadParameterError(
      `limit must be a whole number of images at once, at least 1, got ${limit}.`,
    );
  }
  const dir = await ensureOutputDir(options.outDir);
  // A rerun after a killed run: its temporary files would otherwise stay for ever.
  const stalePartials = await removeStalePartials(dir);
  if (stalePartials.files > 0 && options.progress !== false) {
    process.stdout.write(
      `ee-snippets: removed ${stalePartials.files} temporary file${stalePartials.files === 1 ? "" : "s"} of interrupted runs from ${dir}, freeing ${formatBytes(stalePartials.bytes)} (${stalePartials.bytes} bytes).\n`,
    );
  }
  const manifest = options.manifest ?? (await Manifest.open(options.outDir));
  const task = (plan: Plan, context: TaskContext) =>
    exclusive(plan.path, () =>
      fetchSnippet(
        session,
        plan,
        { ...options, signal: context.signal, onFetched: context.release },
        manifest,
      ),
    );
  const runOptions = {
    key: (plan: Plan) => plan.id,
    label: options.label,
    progress: options.progress,
    signal: options.signal,
  };
  let report: RunReport<SnippetResult>;
  try {
    report = options.sequential
      ? await runSequential(plans, task, runOptions)
      : await runConcurrent(plans, task, { ...runOptions, limit });
  } finally {
    await manifest.flush().catch(() => undefined);
  }
  await saveRunReport(options.outDir, report, {
    backend: session.backend.kind,
    collection: plans[0]?.collection ?? options.collection ?? DEFAULT_COLLECTION,
    aoi: options.aoi.name,
    scale: options.scale,
  });
  return { ...report, stalePartials };
}

export interface SnippetRunOptions
  extends Pick<
    RecorderOptions<unknown>,
    "mode" | "limit" | "label" | "total" | "progress" | "signal"
  > {
  /** Where the snippets go; the run is appended to its report.json. */
  outDir: string;
  aoi: Aoi;
  scale: number;
  collection?: string;
}

/**
 * Times snippets that the caller downloads in its own loop (a `for` loop with await, or
 * p-limit and Promise.all): each goes through `time`, and `finish` returns the RunReport the
 * plots take and appends the run to `outDir`/report.json, as downloadSnippets does. Creates
 * `outDir` (downloadImage writes only into an existing folder); the clock starts on return.
 */
export async function startSnippetRun<R extends { path: string } = DownloadResult>(
  session: SnippetSession,
  options: SnippetRunOptions,
): Promise<RunRecorder<R>> {
  if (!options || typeof options.outDir !== "string" || !options.aoi) {
    throw new DownloadParameterError(
      "startSnippetRun needs options { outDir, aoi, scale, mode }, those of the downloads it times.",
    );
  }
  const context = {
    backend: session.backend.kind,
    collection: options.collection ?? DEFAULT_COLLECTION,
    aoi: options.aoi.name,
    scale: options.scale,
  };
  await ensureOutputDir(options.outDir);
  return new RunRecorder<R>({
    mode: options.mode,
    limit: options.limit,
    label: options.label,
    total: options.total,
    progress: options.progress,
    signal: options.signal,
    onFinish: (report) => saveRunReport(options.outDir, report, context),
  });
}

/** Appends a finished run to `outDir`/report.json; a failed write warns, never fails the run. */
async function saveRunReport(
  outDir: string,
  report: RunReport<{ path: string }>,
  context: Parameters<typeof summarizeRun>[1],
): Promise<void> {
  // The run's outcome matters more than its report: a full disk fails the report, not the run.
  await ensureOutputDir(outDir)
    .then(() => appendRunReport(outDir, summarizeRun(report, context)))
    .catch((error: unknown) => {
      console.warn(
        `ee-snippets: could not write ${outDir}/report.json (${error instanceof Error ? error.message : String(error)}); the run itself finished.`,
      );
    });
}
