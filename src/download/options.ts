/**
 * What a caller may ask of downloadImage, checked up front so a bad option fails before any
 * request with a message naming the option.
 */
import type { BandsHint } from "./bands";
import { checkHint } from "./bands";
import { DownloadParameterError } from "./errors";
import type { RegionLike } from "./grid";
import { MAX_REQUEST_BYTES } from "./tiles";

export interface DownloadProgress {
  tilesDone: number;
  tilesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface DownloadOptions {
  /** GeoJSON Polygon/MultiPolygon in lon/lat, or an AOI object with `.geometry`. */
  region: RegionLike;
  /** Pixel size: metres for UTM output; DEGREES when crs is "EPSG:4326". */
  scale: number;
  /** Output CRS, "EPSG:4326" or a UTM zone; default the UTM zone of the region's centre. */
  crs?: string;
  /**
   * Written as GDAL_NODATA. Default: the value computePixels fills masked pixels with, by the
   * output's sample type: 0 for unsigned types (uint8 snippets), the type's minimum for signed
   * ones, -inf for floats. A value given here also unmasks the image with it server-side
   * (Image.unmask(Image.constant(nodata))), so masked pixels carry that value.
   */
  nodata?: number;
  /** Replace an existing file. Default false: a valid complete file is skipped, anything else is an error. */
  overwrite?: boolean;
  /**
   * Per-request cap, counted as computePixels may count it (the largest of w*h*bands*bytes,
   * w*h*bytes*(bands+1) and w*h*(band bytes + 1), see requestBytes); default 50331648
   * (computePixels' 48 MiB).
   */
  maxRequestBytes?: number;
  /** Plan at least this many requests when the image has enough tiles (parallelism); default 4. */
  minRequests?: number;
  /**
   * Internal GeoTIFF tile size; request windows align to it. Default 512, or one tile just big
   * enough for an image smaller than that (see defaultTileSize).
   */
  tileSize?: number;
  signal?: AbortSignal;
  /** Called at most every 100 ms and once at the end. */
  onProgress?: (p: DownloadProgress) => void;
  /**
   * Called once every pixel has arrived, before it is compressed and the file finished: a
   * scheduler can start the next download's requests while this one is written.
   */
  onFetched?: () => void;
  /** Deadline per request (whole reply); default 120 s. */
  requestTimeoutMs?: number;
  /** Retries per request for transient failures; default 6. */
  retries?: number;
  /** Uncompressed output size above which allowLarge is required; default 4 GiB. */
  maxOutputBytes?: number;
  allowLarge?: boolean;
  /**
   * The data's native resolution in output units, for the upsampling warning. Needed for
   * visualized images whose bands no longer carry a native projection.
   */
  nativeScale?: number;
  /**
   * The image's output bands when the caller knows them (a visualized image is vis-red,
   * vis-green, vis-blue of uint8): skips the metadata round trip, so a small image takes one
   * request instead of two. Every reply is checked against it; when the image disagrees, the
   * download starts over with the image's metadata and result.warnings says why.
   */
  bands?: BandsHint;
  /** SHA-256 of the finished file in result.sha256; default true. */
  checksum?: boolean;
  /**
   * zlib level for the GeoTIFF's tiles, 1 (fastest) to 9 (smallest). Default 1: it deflates
   * about 1.4x faster than GDAL's 6 for files ~7% larger, and deflate is the client's largest
   * cost per pixel, so a lower level keeps the writer ahead of the network.
   */
  deflateLevel?: number;
  /**
   * Cloud-optimized GeoTIFF: overviews in 2x steps down to one tile and GDAL's COG layout, so
   * a GIS draws any zoom level quickly and the file can be read by range requests from object
   * storage. Default true; false writes the plain streamed file (no overviews), a little
   * faster (no reordering pass at the end) and smaller.
   */
  cog?: boolean;
  /**
   * How overviews are resampled. Default: "nearest" when every band is a classification
   * (Sentinel-2's SCL, QA bands, masks: codes must not be averaged into other codes), else
   * "average" (continuous data, and visualized RGB, as GDAL's COG driver does for imagery).
   */
  resampling?: "average" | "nearest";
  /**
   * Dataset metadata written into the file (GDAL metadata: gdalinfo's "Metadata:", QGIS's
   * layer properties), e.g. the scene's id and date. SCALE and CRS are always added.
   */
  metadata?: Record<string, string>;
}

/** Throws DownloadParameterError naming the first option that cannot work. */
export function checkOptions(options: DownloadOptions): void {
  const positive = (name: string, v: number | undefined, integer = false) => {
    if (v === undefined) return;
    if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      throw new DownloadParameterError(
        `${name} must be a positive ${integer ? "integer" : "number"}, got ${v}.`,
      );
    }
  };
  positive("requestTimeoutMs", options.requestTimeoutMs);
  positive("maxRequestBytes", options.maxRequestBytes, true);
  positive("maxOutputBytes", options.maxOutputBytes);
  positive("minRequests", options.minRequests, true);
  positive("nativeScale", options.nativeScale);
  if (options.maxRequestBytes !== undefined && options.maxRequestBytes > MAX_REQUEST_BYTES) {
    throw new DownloadParameterError(
      `maxRequestBytes ${options.maxRequestBytes} is above computePixels' limit of ${MAX_REQUEST_BYTES} bytes (48 MiB).`,
    );
  }
  if (
    options.retries !== undefined &&
    !(Number.isInteger(options.retries) && options.retries >= 0)
  ) {
    throw new DownloadParameterError(
      `retries must be a whole number >= 0, got ${options.retries}.`,
    );
  }
  if (options.bands !== undefined) checkHint(options.bands);
  if (options.cog !== undefined && typeof options.cog !== "boolean") {
    throw new DownloadParameterError(`cog must be true or false, got ${String(options.cog)}.`);
  }
  if (
    options.resampling !== undefined &&
    options.resampling !== "average" &&
    options.resampling !== "nearest"
  ) {
    throw new DownloadParameterError(
      `resampling must be "average" or "nearest", got ${String(options.resampling)}.`,
    );
  }
  if (options.nodata !== undefined && !Number.isFinite(options.nodata)) {
    throw new DownloadParameterError(`nodata must be a finite number, got ${options.nodata}.`);
  }
}
