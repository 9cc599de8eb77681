/**
 * What a snippet download is asked for and gives back: the session it needs, its options and
 * result, the bands a visualized snippet has, the parameters the manifest records for it, and
 * its size before any request.
 */

import type { BandsHint, DownloadProgress, DownloadResult } from "../download/download-image";
import { DownloadError, formatBytes } from "../download/errors";
import { planGrid } from "../download/grid";
import type { Backend } from "../ee/backend";
import type { Ee } from "../ee/client";
import type { RequestLimiter } from "../ee/limiter";
import type { Aoi } from "./aoi";
import type { Manifest, SnippetParams } from "./manifest";
import { type SnippetStyle, TUTORIAL_STYLE } from "./snippet-image";

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
   * Cloud-optimized GeoTIFF with overviews (nearest: the snippets are visualized RGB); default
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
