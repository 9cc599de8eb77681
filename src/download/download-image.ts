/**
 * downloadImage: one Earth Engine image to one GeoTIFF over a region, in as many
 * computePixels requests as the limits require, through the session's RequestLimiter.
 *
 * Flow: plan the grid -> serialize the image once -> one metadata round trip (band names,
 * types, native scale) -> plan request windows -> fetch windows concurrently (retries, and
 * splits on size refusals) -> stream them into the GeoTIFF writer -> rename into place.
 * Only the Backend (URL + authorization) says where requests go, so the same code serves
 * Earth Engine and the emulator.
 */
import { setMaxListeners } from "node:events";
import { lstat } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import type { SampleType } from "../core/samples";
import type { Backend } from "../ee/backend";
import type { CloudExpression, EeImage } from "../ee/client";
import type { RequestLimiter } from "../ee/limiter";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "../ee/transport";
import { overviewLevels } from "../geotiff/overviews";
import {
  type BandsHint,
  checkReplyBands,
  hintedBands,
  hintFallbackWarning,
  type ImageBands,
  isHintFailure,
} from "./bands";
import { type ByteBudget, sharedBudget } from "./budget";
import { sha256File } from "./checksum";
import { DownloadAbortedError, OutputExistsError, throwIfAborted } from "./errors";
import { toExpression, withNodata } from "./expression";
import { fetchWindows } from "./fetch-windows";
import { type OutputGrid, planGrid } from "./grid";
import { checkOptions, type DownloadOptions } from "./options";
import { OutputFile } from "./output";
import { defaultTileSize, type OutputPlan, planOutput, planWindows } from "./plan";
import { ProgressReporter } from "./progress";
import { type CallerOptions, caller, fetchBands } from "./request";
import { MAX_REQUEST_BYTES } from "./tiles";
import { existingFileProblem } from "./verify";

export type { BandsHint } from "./bands";
export type { DownloadOptions, DownloadProgress } from "./options";

export interface DownloadResult {
  path: string;
  width: number;
  height: number;
  bands: number;
  bandNames: string[];
  sampleType: SampleType;
  crs: string;
  /** [scaleX, shearX, translateX, shearY, scaleY, translateY] */
  transform: number[];
  /** Size of the file on disk. */
  bytes: number;
  /** Uncompressed pixel bytes downloaded into the file. */
  pixelBytes: number;
  /** Request windows planned (before splits). */
  tiles: number;
  /** HTTP requests made, metadata and retries included. */
  requests: number;
  retries: number;
  splits: number;
  ms: number;
  skipped: boolean;
  warnings: string[];
  sha256?: string;
  /** Overview levels in the file (0 with cog: false, or when the image fits in one tile). */
  overviews: number;
  /** Written in GDAL's COG layout (cog option, default true). */
  cloudOptimized: boolean;
}

/** What downloadImage needs of a session: where requests go and the shared limiter. */
export interface DownloadSession {
  backend: Backend;
  requests: RequestLimiter;
  /**
   * Bytes of pixels in flight (requested, not yet on disk) across the session's downloads.
   * Default: one budget of DEFAULT_BYTE_BUDGET (160 MiB) per request limiter, i.e. per session.
   */
  pixelBudget?: ByteBudget;
}

/** One download's fixed inputs, shared by its attempts (with the bands hint, then without). */
interface Job {
  options: DownloadOptions;
  /** The output path, absolute. */
  target: string;
  grid: OutputGrid;
  tileSize: number;
  expression: CloudExpression;
  budget: ByteBudget;
  /** Where requests go, through which limiter, with which deadline and retries; the counters. */
  requests: CallerOptions;
  started: number;
}

/** Retries per request for transient failures, unless options.retries says otherwise. */
const DEFAULT_RETRIES = 6;

export async function downloadImage(
  session: DownloadSession,
  image: EeImage | CloudExpression,
  path: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const started = performance.now();
  const userSignal = options.signal;
  throwIfAborted(userSignal);
  checkOptions(options);
  const grid = planGrid(options.region, { scale: options.scale, crs: options.crs });
  const job: Job = {
    options,
    target: resolvePath(path),
    grid,
    tileSize: options.tileSize ?? defaultTileSize(grid.width, grid.height),
    expression: withNodata(toExpression(image), options.nodata),
    budget: session.pixelBudget ?? sharedBudget(session.requests),
    requests: {
      backend: session.backend,
      limiter: session.requests,
      timeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_RETRIES,
      counters: { requests: 0, retries: 0, splits: 0 },
    },
    started,
  };
  try {
    const warnings: string[] = [];
    const hint = options.bands;
    if (hint) {
      try {
        return await transfer(job, hintedBands(hint), hint, []);
      } catch (error) {
        if (userSignal?.aborted || !isHintFailure(error)) throw error;
        warnings.push(hintFallbackWarning(error, hint));
      }
    }
    const bands = await fetchBands(caller(job.requests, userSignal), job.expression);
    return await transfer(job, bands, undefined, warnings);
  } catch (error) {
    if (userSignal?.aborted && !(error instanceof DownloadAbortedError)) {
      throw new DownloadAbortedError(userSignal.reason);
    }
    throw error;
  }
}

/**
 * The pipeline for known bands: plan the output -> keep a matching existing file, or plan the
 * windows -> open the writer -> fetch the windows through the limiter -> finish the file.
 * `verify` (the bands hint) checks every reply against the bands.
 */
async function transfer(
  job: Job,
  bands: ImageBands,
  verify: BandsHint | undefined,
  warnings: string[],
): Promise<DownloadResult> {
  const { options, grid, target, requests } = job;
  const userSignal = options.signal;
  // Aborted when the caller aborts or any window fails for good, so siblings stop at once.
  const controller = new AbortController();
  // Every request, retry wait and queued slot listens on it: hundreds of listeners are normal.
  setMaxListeners(0, controller.signal);
  const onUserAbort = () => controller.abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });
  let output: OutputFile | undefined;
  try {
    const plan = planOutput(grid, bands, options, job.tileSize, warnings);
    const existing =
      options.overwrite === true ? undefined : await lstat(target).catch(() => undefined);
    if (existing) {
      return await keepExisting(job, bands, plan, existing.size, warnings, controller.signal);
    }
    const windows = planWindows(grid, bands, {
      tileSize: job.tileSize,
      maxRequestBytes: options.maxRequestBytes ?? MAX_REQUEST_BYTES,
      minRequests: options.minRequests,
      budgetBytes: job.budget.capacity,
    });
    output = new OutputFile(target, plan.spec, { overwrite: options.overwrite, controller });
    const progress = new ProgressReporter(
      { tiles: windows.length, bytes: plan.pixelBytes },
      options.onProgress,
    );
    const failure = await fetchWindows({
      request: {
        call: caller(requests, controller.signal),
        expression: job.expression,
        grid,
        bandNames: bands.names,
        check: verify && ((array) => checkReplyBands(array, verify)),
      },
      windows,
      tileSize: job.tileSize,
      sampleType: plan.sampleType,
      writer: output.writer,
      budget: job.budget,
      concurrency: requests.limiter.stats().limit,
      controller,
      counters: requests.counters,
      progress,
      onFetched: options.onFetched,
    });
    if (userSignal?.aborted) throw new DownloadAbortedError(userSignal.reason);
    if (output.openError !== undefined) throw output.openError;
    if (failure !== undefined) throw failure;

    const finished = await output.finish();
    progress.report(true);
    const { counters } = requests;
    return {
      ...resultBase(job, bands, plan, warnings),
      path: finished.path,
      bytes: finished.bytes,
      overviews: finished.overviews,
      cloudOptimized: finished.cloudOptimized,
      tiles: windows.length,
      requests: counters.requests,
      retries: counters.retries,
      splits: counters.splits,
      ms: performance.now() - job.started,
      skipped: false,
      sha256:
        options.checksum === false
          ? undefined
          : (finished.sha256 ?? (await sha256File(finished.path))),
    };
  } catch (error) {
    await output?.discard();
    throw error;
  } finally {
    userSignal?.removeEventListener("abort", onUserAbort);
  }
}

/** The result for a file already at the path, when it is the one this download would write. */
async function keepExisting(
  job: Job,
  bands: ImageBands,
  plan: OutputPlan,
  bytes: number,
  warnings: string[],
  signal: AbortSignal,
): Promise<DownloadResult> {
  const problem = await existingFileProblem(job.target, plan.spec, signal);
  if (problem) throw new OutputExistsError(job.target, problem);
  return {
    ...resultBase(job, bands, plan, warnings),
    bytes,
    overviews:
      plan.spec.cloudOptimized === true
        ? overviewLevels(plan.spec.width, plan.spec.height, plan.spec.tileSize).length
        : 0,
    cloudOptimized: plan.spec.cloudOptimized === true,
    tiles: 0,
    requests: job.requests.counters.requests,
    retries: job.requests.counters.retries,
    splits: 0,
    ms: performance.now() - job.started,
    skipped: true,
    sha256: job.options.checksum === false ? undefined : await sha256File(job.target),
  };
}

function resultBase(job: Job, bands: ImageBands, plan: OutputPlan, warnings: string[]) {
  return {
    path: job.target,
    width: job.grid.width,
    height: job.grid.height,
    bands: bands.names.length,
    bandNames: bands.names,
    sampleType: plan.sampleType,
    crs: job.grid.crsCode,
    transform: [...job.grid.transform],
    pixelBytes: plan.pixelBytes,
    warnings,
  };
}
