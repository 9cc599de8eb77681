/**
 * One snippet as a user asks for it: "this image, over this AOI, at this scale, into that
 * folder". Checks everything that can be checked before the first request, skips what a
 * previous run already finished (verified against the manifest's checksum, not just
 * present), downloads the rest, and records the outcome in the run manifest.
 *
 * An existing file is never replaced silently. When the manifest shows it was changed since
 * it was written (truncated, edited, bit rot) or was made with other parameters, the image
 * fails with ExistingFileError saying so; `overwrite: true` downloads it again.
 */

import { type DownloadResult, downloadImage } from "../download/download-image";
import { DownloadParameterError, isAbortError, OutputTooLargeError } from "../download/errors";
import { planGrid } from "../download/grid";
import { AoiError } from "./aoi";
import { collectionFacts, DEFAULT_COLLECTION } from "./collections";
import { Manifest, type SnippetParams, sameParams } from "./manifest";
import { DEFAULT_SNIPPET_SUFFIX, ensureOutputDir, snippetPath } from "./outputs";
import type { ImageInfo } from "./search";
import { snippetExpression } from "./snippet-image";
import {
  DEFAULT_MAX_SNIPPET_BYTES,
  ExistingFileError,
  SNIPPET_BANDS,
  type SnippetOptions,
  type SnippetResult,
  type SnippetSession,
  snippetParams,
} from "./snippet-options";

/** Metres per degree at the equator, for the native scale of EPSG:4326 outputs. */
const METRES_PER_DEGREE = 111_319.49;

/** Downloads of the same file in this process, so two callers never write it at once. */
const busy = new Map<string, Promise<unknown>>();

/** One image's download, resolved from what the caller gave: id, collection, file, parameters. */
export interface Plan {
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

/** The image's id, collection, file and manifest parameters; bad options are refused here. */
export function planSnippet(image: ImageInfo | string, options: SnippetOptions): Plan {
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
export function checkSize(options: SnippetOptions): void {
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

/** Keeps a verified earlier file or downloads the snippet, and records the outcome in `manifest`. */
export async function fetchSnippet(
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
      // Nearest: a visualized snippet's pixels are colours of the stretch plus the outline, and
      // averaging would blend the outline into the image and make colours the stretch never
      // produced.
      resampling: "nearest",
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

/** Runs `fn` once no other download of `path` in this process is running. */
export async function exclusive<T>(path: string, fn: () => Promise<T>): Promise<T> {
  while (busy.has(path)) await busy.get(path)?.catch(() => undefined);
  const running = fn();
  busy.set(path, running);
  try {
    return await running;
  } finally {
    if (busy.get(path) === running) busy.delete(path);
  }
}
