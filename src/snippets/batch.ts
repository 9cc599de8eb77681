/**
 * Snippets as a user asks for them: "this image, over this AOI, at this scale, into that
 * folder". Checks everything that can be checked before the first request, skips what a
 * previous run already finished (verified against the manifest's checksum, not just
 * present), downloads the rest, and records every outcome in the run manifest.
 *
 * An existing file is never replaced silently. When the manifest shows it was changed since
 * it was written (truncated, edited, bit rot) or was made with other parameters, the image
 * fails with ExistingFileError saying so; `overwrite: true` downloads it again.
 */

import type { ProgressBar } from "../display/progress";
import {
  type BandsHint,
  type DownloadProgress,
  type DownloadResult,
  downloadImage,
} from "../download/download-image";
import {
  DownloadError,
  DownloadParameterError,
  formatBytes,
  isAbortError,
  OutputTooLargeError,
} from "../download/errors";
import { planGrid } from "../download/grid";
import type { Backend } from "../ee/backend";
import type { Ee } from "../ee/client";
import type { RequestLimiter } from "../ee/limiter";
import { RunRecorder } from "../run/recorder";
import { type RunReport, runConcurrent, runSequential, type TaskContext } from "../run/run";
import { type Aoi, AoiError } from "./aoi";
import { collectionFacts, DEFAULT_COLLECTION } from "./collections";
import { Manifest, type SnippetParams, sameParams } from "./manifest";
import {
  DEFAULT_SNIPPET_SUFFIX,
  ensureOutputDir,
  removeStalePartials,
  type StalePartials,
  snippetPath,
} from "./outputs";
import { appendRunReport, summarizeRun } from "./report";
import type { ImageInfo } from "./search";
import { type SnippetStyle, snippetExpression, TUTORIAL_STYLE } from "./snippet-image";

/** What downloadSnippet needs of a session (connect() gives all of it). */
export interface SnippetSession {
  ee: Ee;
  backend: Backend;
  requests: RequestLimiter;
}

export type SnippetLook = Partial<Omit<SnippetStyle, "aoi" | "collection">>;

export interface SnippetOptions {
  /** Folder for the GeoTIFFs and manifest.json; created if missing. */
  outDir: string;
  aoi: Aoi;
  /** Output pixel size: metres for UTM (default CRS), degrees for EPSG:4326. */
  scale: number;
  /** Output CRS; default the AOI's UTM zone. */
  crs?: string;
  /** Used when an image is given by its system:index; default COPERNICUS/S2_SR_HARMONIZED. */
  collection?: string;
  /** Overrides of the tutorial's rendering (bands, min, max, gamma, outline). */
  style?: SnippetLook;
  /** Download again even when a complete file exists. Default false. */
  overwrite?: boolean;
  /** Estimated uncompressed output above which allowLarge is needed; default 2 GiB. */
  maxOutputBytes?: number;
  /** Consent to outputs over maxOutputBytes. */
  allowLarge?: boolean;
  /** File name suffix after the image id; default "_L2A.tif" as in the tutorial. */
  suffix?: string;
  signal?: AbortSignal;
  /** Shared by a run; default the manifest of outDir. */
  manifest?: Manifest;
  onProgress?: (progress: DownloadProgress) => void;
  /** Called once the snippet's pixels have all arrived, before its file is finished. */
  onFetched?: () => void;
  /** Per-request deadline, ms (the download engine's default otherwise). */
  requestTimeoutMs?: number;
  /** Retries per request for transient failures (the download engine's default otherwise). */
  retries?: number;
  /**
   * Cloud-optimized GeoTIFF with overviews (averaged: the snippets are visualized RGB); default
   * true. Part of the manifest's parameters: a rerun with the other setting refuses a file
   * made with this one instead of skipping it.
   */
  cog?: boolean;
}

export interface SnippetResult extends DownloadResult {
  /** The image's system:index (the file name stem). */
  id: string;
  /** True when a complete, verified file from an earlier run was kept. */
  skipped: boolean;
}

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

/** An existing file that is not a complete copy of this snippet; overwrite: true replaces it. */
export class ExistingFileError extends DownloadError {
  readonly path: string;
  constructor(path: string, reason: string) {
    super(
      `${reason}. It was kept as it is: pass { overwrite: true } to download it again, or move it away.`,
    );
    this.name = "ExistingFileError";
    this.path = path;
  }
}

/**
 * A visualized snippet is 3 bands of 8 bits. 2 GiB is 27k x 27k pixels: far past any
 * "snippet", and usually a scale typed in the wrong unit (metres for EPSG:4326 degrees).
 */
export const DEFAULT_MAX_SNIPPET_BYTES = 2 * 1024 ** 3;
/**
 * What Image.visualize makes of three bands: 8-bit red, green and blue named so (paint keeps
 * them). Told to downloadImage, it saves the metadata round trip: one request per snippet.
 */
export const SNIPPET_BANDS: BandsHint = Object.freeze({
  names: Object.freeze(["vis-red", "vis-green", "vis-blue"]),
  sampleType: "uint8",
});
const DEFAULT_IMAGE_LIMIT = 8;
/** Metres per degree at the equator, for the native scale of EPSG:4326 outputs. */
const METRES_PER_DEGREE = 111_319.49;

/** Downloads of the same file in this process, so two callers never write it at once. */
const busy = new Map<string, Promise<unknown>>();

interface Plan {
  id: string;
  collection: string;
  path: string;
  file: string;
  params: SnippetParams;
  nativeScale: number | undefined;
  /** The search result, when the image was given as one: its properties go into the file. */
  info: ImageInfo | undefined;
}

/**
 * Downloads one image's snippet to `${outDir}/${id}_L2A.tif`, or keeps the file a previous
 * run completed. Everything about the parameters is checked before the first request.
 */
export async function downloadSnippet(
  session: SnippetSession,
  image: ImageInfo | string,
  options: SnippetOptions,
): Promise<SnippetResult> {
  const plan = planSnippet(image, options);
  checkSize(options);
  await ensureOutputDir(options.outDir);
  const manifest = options.manifest ?? (await Manifest.open(options.outDir));
  return exclusive(plan.path, () => fetchSnippet(session, plan, options, manifest));
}

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

export interface SnippetRunOptions {
  /** Where the snippets go; the run is appended to its report.json. */
  outDir: string;
  aoi: Aoi;
  scale: number;
  collection?: string;
  mode: RunReport["mode"];
  /** Images at once in a concurrent run, as the report states it. */
  limit?: number;
  label?: string;
  /** Images expected, for the progress bar. */
  total?: number;
  progress?: boolean | ProgressBar;
  signal?: AbortSignal;
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

/** The manifest parameters a snippet would be downloaded with (for audits and tests). */
export function snippetParams(
  options: Pick<SnippetOptions, "aoi" | "scale" | "crs" | "style" | "cog">,
  collection: string,
): SnippetParams {
  const look = options.style ?? {};
  return {
    // Recorded only when on, so entries from before overviews existed (plain files) still
    // match a cog: false run.
    ...(options.cog === false ? {} : { cog: true as const }),
    collection,
    aoiBounds: [...options.aoi.bounds],
    scale: options.scale,
    crs: options.crs ?? null,
    style: {
      bands: look.bands ?? TUTORIAL_STYLE.bands,
      min: look.min ?? TUTORIAL_STYLE.min,
      max: look.max ?? TUTORIAL_STYLE.max,
      gamma: look.gamma ?? TUTORIAL_STYLE.gamma,
      outlineColor: look.outlineColor ?? TUTORIAL_STYLE.outlineColor,
      outlineWidth: look.outlineWidth ?? TUTORIAL_STYLE.outlineWidth,
      // Only when not the default, so manifests written before the option still match.
      ...(look.outline === "blue" ? { outline: "blue" } : {}),
      ...(look.maskClouds
        ? { maskClouds: look.maskClouds, cloudScoreThreshold: look.cloudScoreThreshold ?? null }
        : {}),
    },
  };
}

function planSnippet(image: ImageInfo | string, options: SnippetOptions): Plan {
  if (!options || typeof options !== "object") {
    throw new DownloadParameterError("downloadSnippet needs options { outDir, aoi, scale }.");
  }
  const { aoi, scale } = options;
  if (
    !aoi ||
    typeof aoi !== "object" ||
    !Array.isArray(aoi.bounds) ||
    !aoi.geometry ||
    typeof aoi.geometry !== "object"
  ) {
    throw new AoiError(
      "aoi must be an area of interest from bbox(lon, lat, side) or aoiFromGeoJSON(...).",
    );
  }
  if (typeof scale !== "number" || !Number.isFinite(scale) || scale <= 0) {
    throw new DownloadParameterError(
      `scale must be a positive number of metres per pixel (degrees for EPSG:4326), got ${JSON.stringify(scale)}; Sentinel-2's visible and NIR bands are 10 m.`,
    );
  }
  if (options.crs !== undefined && typeof options.crs !== "string") {
    throw new DownloadParameterError(
      `crs must be a string such as "EPSG:32617" or "EPSG:4326", got ${typeof options.crs}.`,
    );
  }
  let collection = options.collection ?? DEFAULT_COLLECTION;
  let id: string;
  if (typeof image === "string") {
    // A full asset id of the chosen collection is accepted; anything else with a slash is
    // refused by snippetPath, which explains why.
    id = image.startsWith(`${collection}/`) ? image.slice(collection.length + 1) : image;
  } else if (image && typeof image === "object" && typeof image.id === "string") {
    id = image.id;
    collection = image.collection ?? collection;
  } else {
    throw new DownloadParameterError(
      `An image must be a findImages result or a system:index string, got ${typeof image}.`,
    );
  }
  const suffix = options.suffix ?? DEFAULT_SNIPPET_SUFFIX;
  const path = snippetPath(options.outDir, id, suffix);
  const native = collectionFacts(collection)?.nativeScale;
  return {
    id,
    collection,
    path,
    file: `${id}${suffix}`,
    params: snippetParams(options, collection),
    info: typeof image === "object" ? image : undefined,
    nativeScale:
      native === undefined
        ? undefined
        : options.crs === "EPSG:4326"
          ? native / METRES_PER_DEGREE
          : native,
  };
}

/** The output grid's size, before any request: refused over the cap without consent. */
function checkSize(options: SnippetOptions): void {
  const cap = options.maxOutputBytes ?? DEFAULT_MAX_SNIPPET_BYTES;
  if (!(cap > 0)) {
    throw new DownloadParameterError(`maxOutputBytes must be a positive number, got ${cap}.`);
  }
  const grid = planGrid(options.aoi, { scale: options.scale, crs: options.crs });
  const estimate = grid.width * grid.height * SNIPPET_BANDS.names.length;
  if (estimate > cap && options.allowLarge !== true) {
    throw new OutputTooLargeError(
      estimate,
      cap,
      `${grid.width}x${grid.height} px x ${SNIPPET_BANDS.names.length} bands of 8 bits at scale ${options.scale} in ${grid.crsCode}, per image`,
    );
  }
}

async function fetchSnippet(
  session: SnippetSession,
  plan: Plan,
  options: SnippetOptions,
  manifest: Manifest,
): Promise<SnippetResult> {
  const { id, params } = plan;
  if (!options.overwrite) {
    const check = await manifest.check(id, params, { verify: true });
    if (check.state === "complete" && check.entry) {
      const entry = check.entry;
      await manifest.record(id, { status: "skipped" });
      return {
        id,
        path: plan.path,
        width: entry.width ?? 0,
        height: entry.height ?? 0,
        bands: entry.bands ?? SNIPPET_BANDS.names.length,
        bandNames: entry.bandNames ?? [],
        sampleType: (entry.sampleType ?? "uint8") as DownloadResult["sampleType"],
        crs: entry.crsCode ?? "",
        transform: entry.transform ?? [],
        bytes: entry.bytes ?? 0,
        pixelBytes: entry.pixelBytes ?? 0,
        tiles: 0,
        requests: 0,
        retries: 0,
        splits: 0,
        ms: 0,
        skipped: true,
        warnings: [],
        sha256: entry.sha256,
        overviews: entry.overviews ?? 0,
        cloudOptimized: params.cog === true,
      };
    }
    if (check.state === "corrupt" || check.state === "params-changed") {
      const error = new ExistingFileError(plan.path, `${plan.path}: ${check.reason}`);
      await manifest.record(id, { status: "failed", error: error.message }).catch(() => undefined);
      throw error;
    }
  }

  const started = Date.now();
  const previous = manifest.entry(id);
  const stale =
    previous !== undefined && (previous.file !== plan.file || !sameParams(previous.params, params));
  // The checksum of a file made with other parameters must not vouch for this download: if
  // it fails, the old file stays, and a rerun must not mistake it for the new one.
  const forget = stale ? { sha256: undefined, bytes: undefined } : {};
  const attempt = manifest.record(id, {
    params,
    file: plan.file,
    status: "pending",
    ...forget,
  });
  // A stale checksum must be off the disk before the old file can be replaced; otherwise the
  // record of this attempt is written while the request is already on its way.
  if (stale) await attempt;
  else attempt.catch(() => undefined);
  try {
    const image = snippetExpression(session, id, {
      ...options.style,
      collection: plan.collection,
      aoi: options.aoi,
    });
    const result = await downloadImage(session, image, plan.path, {
      region: options.aoi,
      scale: options.scale,
      crs: options.crs,
      overwrite: options.overwrite,
      signal: options.signal,
      onProgress: options.onProgress,
      onFetched: options.onFetched,
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_SNIPPET_BYTES,
      allowLarge: options.allowLarge,
      nativeScale: plan.nativeScale,
      bands: SNIPPET_BANDS,
      requestTimeoutMs: options.requestTimeoutMs,
      retries: options.retries,
      checksum: true,
      cog: options.cog !== false,
      resampling: "average",
      metadata: snippetMetadata(plan),
    });
    await attempt;
    const warnings = [...result.warnings];
    if (result.skipped) {
      // A file with no manifest entry (older run, copied in) that matches the grid: kept,
      // but only its structure was checked, so say so in the audit trail.
      warnings.push(
        `${plan.file} existed without a manifest record; it matches the planned grid and was kept (pixels not verified). Pass overwrite: true to download it again.`,
      );
    }
    await manifest.record(id, {
      params,
      file: plan.file,
      status: result.skipped ? "skipped" : "done",
      width: result.width,
      height: result.height,
      bands: result.bands,
      bandNames: result.bandNames,
      sampleType: result.sampleType,
      crsCode: result.crs,
      transform: result.transform,
      pixelBytes: result.pixelBytes,
      bytes: result.bytes,
      overviews: result.overviews,
      sha256: result.sha256,
      requests: result.requests,
      retries: result.retries,
      ms: Date.now() - started,
      warnings: warnings.length > 0 ? warnings : undefined,
    });
    return { ...result, id, warnings };
  } catch (error) {
    const message = isAbortError(error)
      ? `aborted: ${error instanceof Error ? error.message : String(error)}`
      : error instanceof Error
        ? error.message
        : String(error);
    // The download's own error matters more than a manifest that cannot be written (a full
    // disk fails both); the manifest keeps the record in memory and writes it next time.
    await manifest
      .record(id, { status: "failed", error: message, ms: Date.now() - started })
      .catch(() => undefined);
    throw error;
  }
}

/** The scene's properties and the snippet's style, as GDAL metadata items in the file. */
function snippetMetadata(plan: Plan): Record<string, string> {
  const { info, params } = plan;
  const style = params.style as { bands: string[]; min: number; max: number; gamma: number };
  const items: Record<string, string> = {
    EE_ID: info?.assetId ?? `${plan.collection}/${plan.id}`,
    SYSTEM_INDEX: plan.id,
    STYLE_BANDS: style.bands.join(","),
    STYLE_MIN: String(style.min),
    STYLE_MAX: String(style.max),
    STYLE_GAMMA: String(style.gamma),
  };
  if (info) {
    items.ACQUISITION_TIME = new Date(info.time).toISOString();
    items.CLOUDY_PIXEL_PERCENTAGE = String(info.cloudPercent);
    if (info.mgrsTile) items.MGRS_TILE = info.mgrsTile;
  }
  return items;
}

async function exclusive<T>(path: string, fn: () => Promise<T>): Promise<T> {
  while (busy.has(path)) await busy.get(path)?.catch(() => undefined);
  const running = fn();
  busy.set(path, running);
  try {
    return await running;
  } finally {
    if (busy.get(path) === running) busy.delete(path);
  }
}

/** Estimated uncompressed size of one snippet, for messages and notebooks. */
export function estimateSnippetBytes(options: Pick<SnippetOptions, "aoi" | "scale" | "crs">): {
  width: number;
  height: number;
  bytes: number;
  text: string;
} {
  const grid = planGrid(options.aoi, { scale: options.scale, crs: options.crs });
  const bytes = grid.width * grid.height * SNIPPET_BANDS.names.length;
  return {
    width: grid.width,
    height: grid.height,
    bytes,
    text: `${grid.width}x${grid.height} px, ${formatBytes(bytes)} uncompressed`,
  };
}
