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
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { createReadStream } from "node:fs";
import { lstat } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import type { SampleType as PixelTypeName } from "../core/samples";
import { type Backend, projectUrl } from "../ee/backend";
import { type CloudExpression, type EeImage, serializeExpression } from "../ee/client";
import type { RequestLimiter } from "../ee/limiter";
import { withRetries } from "../ee/retry";
import { type BodySink, DEFAULT_REQUEST_TIMEOUT_MS, eeRequest } from "../ee/transport";
import { GeoTiffWriter } from "../geotiff/writer";
import { type ByteBudget, sharedBudget } from "./budget";
import {
  BandsHintError,
  DownloadAbortedError,
  DownloadParameterError,
  formatBytes,
  isAbortError,
  OutputExistsError,
  OutputTooLargeError,
  RequestError,
  ResponseFormatError,
  throwIfAborted,
} from "./errors";
import { type OutputGrid, planGrid, type RegionLike } from "./grid";
import {
  decodeNpy,
  decodeNpyHeader,
  dtypeOf,
  type NpyArray,
  type NpyDtype,
  npyToPixels,
  type SampleArray,
} from "./npy";
import { isTileAligned, TileScatter } from "./tile-scatter";
import { MAX_REQUEST_BYTES, planTiles, type RequestTile, requestBytes, splitWindow } from "./tiles";

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
   * Written as GDAL_NODATA; default 0 (what computePixels fills masked pixels with). Another
   * value also unmasks the image with it server-side, so masked pixels carry that value.
   */
  nodata?: number;
  /** Replace an existing file. Default false: a valid complete file is skipped, anything else is an error. */
  overwrite?: boolean;
  /** Per-request cap, w*h*(band bytes + 1 mask byte); default 50331648 (computePixels' 48 MiB). */
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
}

export interface BandsHint {
  names: readonly string[];
  sampleType: PixelTypeName;
}

export interface DownloadResult {
  path: string;
  width: number;
  height: number;
  bands: number;
  bandNames: string[];
  sampleType: PixelTypeName;
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

/** Earth Engine's band description in getInfo/value:compute replies. */
interface BandInfoJson {
  id: string;
  data_type?: { type?: string; precision?: string; min?: number; max?: number };
  crs?: string;
  crs_transform?: number[];
}

export interface ImageBands {
  names: string[];
  types: PixelTypeName[];
  /** Smallest native pixel size among bands with a real projection, in metres; undefined if none. */
  nativeScaleMetres: number | undefined;
}

/** The usual internal tile size (GDAL's and COG's choice for large rasters). */
const DEFAULT_TILE_SIZE = 512;

/**
 * 512, or for an image that fits in one such tile the smallest multiple of 16 (TIFF's rule for
 * tile sizes) that holds it: a 100 x 101 px snippet is then one 112 px tile, so the client
 * copies, filters and deflates 12.5k pixels instead of a 512 px tile's 262k, most of them
 * padding.
 */
export function defaultTileSize(width: number, height: number): number {
  const side = Math.max(width, height);
  if (side >= DEFAULT_TILE_SIZE) return DEFAULT_TILE_SIZE;
  return Math.max(16, Math.ceil(side / 16) * 16);
}

const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 ** 3;
const DEFAULT_MIN_REQUESTS = 4;
/** Downloads use a fast deflate level: see DownloadOptions.deflateLevel. */
const DEFAULT_DEFLATE_LEVEL = 1;
/**
 * Preferred request size: 16 MiB replies instead of maximal 48 MiB ones, so one download has
 * several requests in flight within the byte budget, and the first tiles reach the disk sooner.
 */
const TARGET_REQUEST_BYTES = 16 * 1024 * 1024;
/** Requests of one download the byte budget should be able to hold at once. */
const REQUESTS_PER_BUDGET = 6;
const PROGRESS_INTERVAL_MS = 100;
/** Metres per degree at the equator, to compare degree scales with metre scales. */
const METRES_PER_DEGREE = 111_319.49;

const BYTES: Record<PixelTypeName, number> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  float64: 8,
};

export async function downloadImage(
  session: DownloadSession,
  image: EeImage | CloudExpression,
  path: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const started = performance.now();
  const { backend, requests: limiter } = session;
  const budget = session.pixelBudget ?? sharedBudget(limiter);
  const userSignal = options.signal;
  throwIfAborted(userSignal);
  const target = resolvePath(path);
  const maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const retriesAllowed = options.retries ?? 6;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  checkOptions(options);
  const hint = options.bands;

  const grid = planGrid(options.region, { scale: options.scale, crs: options.crs });
  const tileSize = options.tileSize ?? defaultTileSize(grid.width, grid.height);
  let expression = toExpression(image);
  if (options.nodata !== undefined && options.nodata !== 0) {
    expression = unmasked(expression, options.nodata);
  }

  const counters = { requests: 0, retries: 0, splits: 0 };

  /** One request through the limiter, retried while transient; counts everything. */
  const caller =
    (signal: AbortSignal | undefined): Call =>
    (method, body, sink) =>
      withRetries(
        () =>
          limiter.run((sent) => {
            counters.requests++;
            return eeRequest(backend, `${projectUrl(backend)}/${method}`, body, {
              timeoutMs,
              signal,
              sink,
              onSent: sent,
            });
          }, signal),
        {
          signal,
          policy: { retries: retriesAllowed },
          onRetry: () => {
            counters.retries++;
          },
        },
      );

  /** Plans, fetches and writes the file for known bands; `verify` checks replies against them. */
  const transfer = async (
    bands: ImageBands,
    verify: BandsHint | undefined,
    warnings: string[],
  ): Promise<DownloadResult> => {
    // Aborted when the caller aborts or any window fails for good, so siblings stop at once.
    const controller = new AbortController();
    // Every request, retry wait and queued slot listens on it: hundreds of listeners are normal.
    setMaxListeners(0, controller.signal);
    const onUserAbort = () => controller.abort(userSignal?.reason);
    userSignal?.addEventListener("abort", onUserAbort, { once: true });
    const signal = controller.signal;
    const call = caller(signal);
    /** Set once the writer is open, cleared once finished: what the catch below aborts. */
    let writer: GeoTiffWriter | undefined;
    let opened: Promise<GeoTiffWriter> | undefined;
    try {
      const sampleType = commonType(bands.types);
      const pixelBytes = grid.width * grid.height * bands.names.length * BYTES[sampleType];
      const scaleWarning = upsamplingWarning(grid, options, bands, sampleType);
      if (scaleWarning) warnings.push(scaleWarning);
      if (new Set(bands.types).size > 1) {
        warnings.push(
          `Bands have different types (${bands.types.join(", ")}); all are written as ${sampleType}.`,
        );
      }
      const cap = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
      if (pixelBytes > cap && options.allowLarge !== true) {
        throw new OutputTooLargeError(
          pixelBytes,
          cap,
          `${grid.width}x${grid.height} px x ${bands.names.length} bands of ${sampleType} at scale ${options.scale}`,
        );
      }
      const nodata = options.nodata ?? (sampleType.startsWith("float") ? undefined : 0);
      const spec = {
        width: grid.width,
        height: grid.height,
        bands: bands.names.length,
        sampleType,
        epsg: grid.epsg,
        transform: grid.transform,
        nodata,
        bandNames: bands.names,
        tileSize,
        compression: "deflate" as const,
        deflateLevel: options.deflateLevel ?? DEFAULT_DEFLATE_LEVEL,
      };

      const base = {
        path: target,
        width: grid.width,
        height: grid.height,
        bands: bands.names.length,
        bandNames: bands.names,
        sampleType,
        crs: grid.crsCode,
        transform: [...grid.transform],
        pixelBytes,
        warnings,
      };

      const existing =
        options.overwrite === true ? undefined : await lstat(target).catch(() => undefined);
      if (existing) {
        const problem = await existingFileProblem(target, spec, signal);
        if (problem) throw new OutputExistsError(target, problem);
        return {
          ...base,
          bytes: existing.size,
          tiles: 0,
          requests: counters.requests,
          retries: counters.retries,
          splits: 0,
          ms: performance.now() - started,
          skipped: true,
          sha256: options.checksum === false ? undefined : await sha256File(target),
        };
      }

      const bandBytes = bands.types.map((t) => BYTES[t]);
      const preferred = Math.min(TARGET_REQUEST_BYTES, budget.capacity / REQUESTS_PER_BUDGET);
      const windows = planTiles(grid, {
        bandBytes,
        maxRequestBytes,
        tileSize,
        minWindows: Math.max(
          options.minRequests ?? DEFAULT_MIN_REQUESTS,
          Math.ceil(requestBytes(grid.width, grid.height, bandBytes) / preferred),
        ),
      });
      // The file is prepared (directory checked, temporary file created) once the first
      // requests are on their way: setImmediate runs after this turn's requests are written
      // to their sockets, so when many downloads start together, no request waits for
      // another's file. A problem found there cancels the requests and is the error
      // reported. Aborting the writer (the caller's abort or a window's failure) drops queued
      // tiles at once; the catch below still waits for abort() so the temporary file is gone
      // on return.
      let openError: unknown;
      const opening = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
        GeoTiffWriter.open(target, spec, { overwrite: options.overwrite, signal }),
      );
      opened = opening.then(
        (open) => {
          writer = open;
          return open;
        },
        (error: unknown) => {
          // Failing because the download was already stopping says nothing new.
          if (!signal.aborted) {
            openError = error;
            controller.abort(error);
          }
          throw error;
        },
      );
      const openWriter = opened;
      // Reported after the requests have stopped, not as an unhandled rejection meanwhile.
      openWriter.catch(() => undefined);

      const progress = {
        tilesDone: 0,
        tilesTotal: windows.length,
        bytesDone: 0,
        bytesTotal: pixelBytes,
      };
      let lastReport = 0;
      const report = (force: boolean) => {
        if (!options.onProgress) return;
        const now = performance.now();
        if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
        lastReport = now;
        options.onProgress({ ...progress });
      };
      const pixelSize = bands.names.length * BYTES[sampleType];

      const written = (bytes: number) => {
        progress.bytesDone += bytes;
        report(false);
      };
      const check = verify ? (array: NpyArray) => checkReplyBands(array, verify) : undefined;

      /**
       * Fetches a window (splitting it while the server refuses its size) and writes it,
       * holding its bytes of the budget from before the request until its pixels are on disk.
       * Calls `received` once the window's pixels (all its halves', if split) have arrived.
       */
      const fetchWindow = async (window: RequestTile, received: () => void): Promise<void> => {
        const grant = await budget.acquire(window.width * window.height * pixelSize, signal);
        try {
          if (isTileAligned(window, tileSize, grid)) {
            const scatter = new TileScatter({
              window,
              tileSize,
              bands: bands.names,
              sampleType,
              bytesPerSample: BYTES[sampleType],
              writer: openWriter,
              onWritten: (bytes) => {
                grant.release(bytes);
                written(bytes);
              },
            });
            const sink = () => scatter.sink();
            await fetchNpy(call, expression, grid, window, bands.names, checkedSink(sink, check));
            received();
            await scatter.done();
          } else {
            const pixelsFetched = fetchPixels(
              call,
              expression,
              grid,
              window,
              bands.names,
              sampleType,
              check,
            );
            const [pixels, open] = await Promise.all([
              pixelsFetched.then((pixels) => {
                received();
                return pixels;
              }),
              openWriter,
            ]);
            await open.writeWindow(window.x0, window.y0, window.width, window.height, pixels);
            written(window.width * window.height * pixelSize);
          }
        } catch (error) {
          grant.release();
          const halves =
            error instanceof RequestError && error.split
              ? splitWindow(window, tileSize)
              : undefined;
          if (!halves) throw error;
          counters.splits++;
          let halvesLeft = halves.length;
          const halfReceived = () => {
            if (--halvesLeft === 0) received();
          };
          await Promise.all(halves.map((half) => fetchWindow(half, halfReceived)));
          return;
        } finally {
          grant.release();
        }
      };

      // Enough workers to keep the session's limiter busy; memory is bounded by the byte
      // budget each window acquires, not by the image or the number of workers.
      const workers = Math.min(windows.length, limiter.stats().limit);
      let windowsLeft = windows.length;
      const windowReceived = () => {
        if (--windowsLeft === 0) options.onFetched?.();
      };
      let next = 0;
      let firstError: unknown;
      await Promise.all(
        Array.from({ length: workers }, async () => {
          while (next < windows.length && !signal.aborted) {
            const window = windows[next++];
            try {
              await fetchWindow(window, windowReceived);
              progress.tilesDone++;
              report(false);
            } catch (error) {
              if (firstError === undefined) firstError = error;
              controller.abort(error);
            }
          }
        }),
      );
      if (userSignal?.aborted) throw new DownloadAbortedError(userSignal.reason);
      if (openError !== undefined) throw openError;
      if (firstError !== undefined) throw firstError;

      const finished = await (await openWriter).finish();
      writer = undefined;
      report(true);
      return {
        ...base,
        path: finished.path,
        bytes: finished.bytes,
        tiles: windows.length,
        requests: counters.requests,
        retries: counters.retries,
        splits: counters.splits,
        ms: performance.now() - started,
        skipped: false,
        sha256:
          options.checksum === false
            ? undefined
            : (finished.sha256 ?? (await sha256File(finished.path))),
      };
    } catch (error) {
      // A writer still opening must not outlive the download with its temporary file.
      await opened?.catch(() => undefined);
      if (writer) await writer.abort().catch(() => undefined);
      throw error;
    } finally {
      userSignal?.removeEventListener("abort", onUserAbort);
    }
  };

  try {
    const warnings: string[] = [];
    if (hint) {
      try {
        return await transfer(hintedBands(hint), hint, []);
      } catch (error) {
        if (userSignal?.aborted || !isHintFailure(error)) throw error;
        const message = (error as Error).message;
        warnings.push(
          error instanceof BandsHintError
            ? `${message} It was downloaded with the image's own bands.`
            : `The bands hint (${hint.names.join(", ")} as ${hint.sampleType}) was refused: ${message} It was downloaded with the image's own bands.`,
        );
      }
    }
    const bands = await fetchBands(caller(userSignal), expression);
    return await transfer(bands, undefined, warnings);
  } catch (error) {
    if (userSignal?.aborted && !(error instanceof DownloadAbortedError)) {
      throw new DownloadAbortedError(userSignal.reason);
    }
    throw error;
  }
}

/**
 * A failure of a hinted download that the image's metadata may fix: a reply with other bands,
 * or a 400 (Earth Engine refuses bandIds that name no band of the image).
 */
function isHintFailure(error: unknown): boolean {
  if (error instanceof BandsHintError) return true;
  return error instanceof RequestError && error.status === 400 && !error.split;
}

function hintedBands(hint: BandsHint): ImageBands {
  return {
    names: [...hint.names],
    types: hint.names.map(() => hint.sampleType),
    nativeScaleMetres: undefined,
  };
}

/** Throws BandsHintError unless the NPY reply has exactly the hinted bands and sample type. */
export function checkReplyBands(array: NpyArray, hint: BandsHint): void {
  const want = dtypeOf(hint.sampleType);
  const same = (d: NpyDtype) => d.kind === want.kind && d.bytes === want.bytes;
  const ok = array.fields
    ? array.fields.length === hint.names.length &&
      array.fields.every((f, i) => f.name === hint.names[i] && same(f.dtype))
    : array.dtype !== undefined &&
      same(array.dtype) &&
      (array.shape[2] ?? 1) === hint.names.length &&
      array.shape.length <= 3;
  if (ok) return;
  const reply = array.fields
    ? array.fields.map((f) => `${f.name} (${npyTypeName(f.dtype)})`).join(", ")
    : `${array.shape[2] ?? 1} band(s) of ${array.dtype ? npyTypeName(array.dtype) : "no type"}`;
  throw new BandsHintError(`${hint.names.join(", ")} as ${hint.sampleType}`, reply);
}

function npyTypeName(d: NpyDtype): string {
  const kinds = { b: "bool", u: "uint", i: "int", f: "float" } as const;
  return `${kinds[d.kind]}${d.bytes * 8}`;
}

/** Passes a reply on to `inner` once its NPY header passed `check`. */
function checkedSink(
  inner: () => BodySink,
  check: ((array: NpyArray) => void) | undefined,
): () => BodySink {
  if (!check) return inner;
  return () => {
    const sink = inner();
    let head: Buffer | undefined;
    let checked = false;
    return {
      write: (chunk) => {
        if (checked) {
          sink.write(chunk);
          return;
        }
        head = head ? Buffer.concat([head, chunk]) : chunk;
        const header = decodeNpyHeader(head);
        if (!header) return;
        check(header.array);
        checked = true;
        const bytes = head;
        head = undefined;
        sink.write(bytes);
      },
      end: () => {
        // A body too short for a header: the inner sink reports it as truncated.
        if (head) sink.write(head);
        sink.end();
      },
    };
  };
}

type Call = (method: string, body: unknown, sink?: () => BodySink) => Promise<Buffer>;

/** computePixels' request body for one window of the output grid. */
function pixelsRequest(
  expression: CloudExpression,
  grid: OutputGrid,
  window: RequestTile,
  bandNames: string[],
): unknown {
  const [scaleX, shearX, translateX, shearY, scaleY, translateY] = grid.transform;
  return {
    expression,
    fileFormat: "NPY",
    bandIds: bandNames,
    grid: {
      crsCode: grid.crsCode,
      // Whole-pixel offsets of the output grid, so every window lands exactly on it.
      affineTransform: {
        scaleX,
        shearX,
        translateX: translateX + window.x0 * scaleX + window.y0 * shearX,
        shearY,
        scaleY,
        translateY: translateY + window.x0 * shearY + window.y0 * scaleY,
      },
      dimensions: { width: window.width, height: window.height },
    },
  };
}

/** Fetches a window as NPY into a sink (one per attempt); a wrong-shaped reply is retried once. */
async function fetchNpy(
  call: Call,
  expression: CloudExpression,
  grid: OutputGrid,
  window: RequestTile,
  bandNames: string[],
  sink: () => BodySink,
): Promise<void> {
  const body = pixelsRequest(expression, grid, window, bandNames);
  await retryWrongShapeOnce(() => call("image:computePixels", body, sink));
}

/** Fetches a window whole and converts it to pixel-interleaved samples of `sampleType`. */
async function fetchPixels(
  call: Call,
  expression: CloudExpression,
  grid: OutputGrid,
  window: RequestTile,
  bandNames: string[],
  sampleType: PixelTypeName,
  check?: (array: NpyArray) => void,
): Promise<SampleArray> {
  const body = pixelsRequest(expression, grid, window, bandNames);
  return retryWrongShapeOnce(async () => {
    const npy = decodeNpy(await call("image:computePixels", body));
    check?.(npy);
    return npyToPixels(
      npy,
      { width: window.width, height: window.height, bands: bandNames },
      sampleType,
    );
  });
}

/**
 * A reply of the wrong shape may be a glitch: one more attempt. Twice means the server
 * disagrees with us about the image, and its description stands. A reply that contradicts
 * the bands hint is not retried: the caller falls back to the image's own bands.
 */
async function retryWrongShapeOnce<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!(error instanceof ResponseFormatError) || error instanceof BandsHintError) throw error;
    return attempt();
  }
}

/** Band names, types and native scale, in one value:compute round trip (the image's getInfo). */
async function fetchBands(call: Call, expression: CloudExpression): Promise<ImageBands> {
  const reply = await call("value:compute", { expression });
  let info: { result?: { type?: string; bands?: BandInfoJson[] } };
  try {
    info = JSON.parse(reply.toString("utf8"));
  } catch {
    throw new ResponseFormatError("The image metadata reply (value:compute) is not JSON.");
  }
  return parseBands(info.result);
}

/** Reads getInfo's band list: names, output sample types, native resolution. */
export function parseBands(
  info: { type?: string; bands?: BandInfoJson[] } | undefined,
): ImageBands {
  const bands = info?.bands;
  if (!Array.isArray(bands)) {
    throw new DownloadParameterError(
      `Expected an ee.Image to download, got ${info?.type ?? "something else"}.`,
    );
  }
  if (bands.length === 0) {
    throw new DownloadParameterError(
      "The image has no bands (an empty collection's mosaic, or a select() that matched nothing); nothing to download.",
    );
  }
  if (bands.length > 1024) {
    throw new DownloadParameterError(
      `The image has ${bands.length} bands; computePixels serves at most 1024: select() fewer.`,
    );
  }
  const types = bands.map((b) => pixelType(b));
  let native: number | undefined;
  for (const b of bands) {
    const t = b.crs_transform;
    if (!t || t.length < 6 || !b.crs) continue;
    const size = Math.hypot(t[0], t[3]);
    // Earth Engine's default projection (EPSG:4326, 1-degree pixels) means "no native grid".
    if (b.crs === "EPSG:4326" && size === 1) continue;
    const metres = b.crs === "EPSG:4326" ? size * METRES_PER_DEGREE : size;
    if (metres > 0 && (native === undefined || metres < native)) native = metres;
  }
  return { names: bands.map((b) => b.id), types, nativeScaleMetres: native };
}

/** Earth Engine's PixelType (precision + range) as the smallest sample type that holds it. */
export function pixelType(band: BandInfoJson): PixelTypeName {
  const dt = band.data_type ?? {};
  if (dt.precision === "double") return "float64";
  if (dt.precision === "float") return "float32";
  const min = dt.min ?? Number.NEGATIVE_INFINITY;
  const max = dt.max ?? Number.POSITIVE_INFINITY;
  const candidates: [PixelTypeName, number, number][] = [
    ["uint8", 0, 255],
    ["int8", -128, 127],
    ["uint16", 0, 65535],
    ["int16", -32768, 32767],
    ["uint32", 0, 4294967295],
    ["int32", -2147483648, 2147483647],
  ];
  for (const [name, lo, hi] of candidates) if (min >= lo && max <= hi) return name;
  return "float64";
}

/** One sample type for all bands (a GeoTIFF has one): the narrowest that holds every band. */
export function commonType(types: PixelTypeName[]): PixelTypeName {
  if (types.every((t) => t === types[0])) return types[0];
  if (types.includes("float64")) return "float64";
  const ranges: Record<string, [number, number]> = {
    uint8: [0, 255],
    int8: [-128, 127],
    uint16: [0, 65535],
    int16: [-32768, 32767],
    uint32: [0, 4294967295],
    int32: [-2147483648, 2147483647],
  };
  const ints = types.filter((t) => t in ranges);
  const lo = Math.min(...ints.map((t) => ranges[t][0]));
  const hi = Math.max(...ints.map((t) => ranges[t][1]));
  if (types.includes("float32")) {
    // float32 holds integers exactly up to 2^24: 8- and 16-bit bands survive, 32-bit don't.
    return lo >= -32768 && hi <= 65535 ? "float32" : "float64";
  }
  return pixelType({ id: "", data_type: { precision: "int", min: lo, max: hi } });
}

function upsamplingWarning(
  grid: OutputGrid,
  options: DownloadOptions,
  bands: ImageBands,
  sampleType: PixelTypeName,
): string | undefined {
  const toMetres = grid.epsg === 4326 ? METRES_PER_DEGREE : 1;
  const nativeMetres =
    options.nativeScale !== undefined ? options.nativeScale * toMetres : bands.nativeScaleMetres;
  if (nativeMetres === undefined) return undefined;
  const scaleMetres = options.scale * toMetres;
  if (scaleMetres >= nativeMetres * 0.999) return undefined;
  const factor = (nativeMetres / scaleMetres) ** 2;
  const bytes = grid.width * grid.height * bands.names.length * BYTES[sampleType];
  const nativeOptionScale = nativeMetres / toMetres;
  const nativeBytes = bytes / factor;
  return `scale ${options.scale} is finer than the data's native ${round(nativeOptionScale)}: every source pixel becomes ~${round(
    factor,
  )} output pixels with no extra detail. Estimated output ${grid.width}x${grid.height} px, ${formatBytes(
    bytes,
  )} uncompressed; scale ${round(nativeOptionScale)} would give ~${formatBytes(nativeBytes)}.`;
}

function round(n: number): string {
  return Number(n.toPrecision(3)).toString();
}

function checkOptions(options: DownloadOptions): void {
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
  if (options.nodata !== undefined && !Number.isFinite(options.nodata)) {
    throw new DownloadParameterError(`nodata must be a finite number, got ${options.nodata}.`);
  }
}

function checkHint(hint: BandsHint): void {
  const names = hint?.names;
  if (
    !Array.isArray(names) ||
    names.length === 0 ||
    names.length > 1024 ||
    names.some((n) => typeof n !== "string" || n === "") ||
    new Set(names).size !== names.length
  ) {
    throw new DownloadParameterError(
      `bands.names must list 1 to 1024 distinct band names, got ${JSON.stringify(names)}.`,
    );
  }
  if (!Object.hasOwn(BYTES, hint.sampleType)) {
    throw new DownloadParameterError(
      `bands.sampleType must be one of ${Object.keys(BYTES).join(", ")}, got ${JSON.stringify(hint.sampleType)}.`,
    );
  }
}

function isCloudExpression(x: unknown): x is CloudExpression {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as CloudExpression).result === "string" &&
    typeof (x as CloudExpression).values === "object" &&
    typeof (x as { evaluate?: unknown }).evaluate !== "function"
  );
}

/**
 * Expressions of images already serialized. The client's serializer hashes every sub-node
 * (MD5 of its JSON) to share repeats, ~4 ms for a clipped, painted snippet: more than the
 * rest of a small download's client work. Client images are immutable (every method returns a
 * new object), so one serialization per object is enough.
 */
const serialized = new WeakMap<object, CloudExpression>();

function toExpression(image: EeImage | CloudExpression): CloudExpression {
  if (isCloudExpression(image)) return image;
  if (!image || typeof (image as EeImage).evaluate !== "function") {
    throw new DownloadParameterError(
      "downloadImage needs an ee.Image (or its serialized expression).",
    );
  }
  let expression = serialized.get(image);
  if (!expression) {
    expression = serializeExpression(image);
    serialized.set(image, expression);
  }
  return expression;
}

/** Wraps an expression in Image.unmask(value), so masked pixels carry the nodata value. */
function unmasked(expression: CloudExpression, value: number): CloudExpression {
  let id = "download_unmask";
  while (id in expression.values) id += "_";
  return {
    result: id,
    values: {
      ...expression.values,
      [id]: {
        functionInvocationValue: {
          functionName: "Image.unmask",
          arguments: {
            input: { valueReference: expression.result },
            value: { constantValue: value },
            sameFootprint: { constantValue: false },
          },
        },
      },
    },
  };
}

/** Why an existing file is not the one we would write, or undefined when it is. */
async function existingFileProblem(
  path: string,
  spec: {
    width: number;
    height: number;
    bands: number;
    sampleType: PixelTypeName;
    epsg: number;
    transform: number[];
    tileSize: number;
  },
  signal: AbortSignal,
): Promise<string | undefined> {
  const geotiff = await import("geotiff");
  let tiff: Awaited<ReturnType<typeof geotiff.fromFile>> | undefined;
  try {
    tiff = await geotiff.fromFile(path);
    const image = await tiff.getImage();
    const width = image.getWidth();
    const height = image.getHeight();
    if (width !== spec.width || height !== spec.height) {
      return `it is ${width}x${height} px, the grid is ${spec.width}x${spec.height}`;
    }
    const bands = image.getSamplesPerPixel();
    if (bands !== spec.bands) return `it has ${bands} bands, the image has ${spec.bands}`;
    const bits = image.getBitsPerSample(0);
    if (bits !== BYTES[spec.sampleType] * 8)
      return `it has ${bits}-bit samples, expected ${spec.sampleType}`;
    const keys = image.getGeoKeys() ?? {};
    const epsg = keys.ProjectedCSTypeGeoKey ?? keys.GeographicTypeGeoKey;
    if (epsg !== spec.epsg) return `its CRS is EPSG:${epsg}, the grid's is EPSG:${spec.epsg}`;
    const [ox, oy] = image.getOrigin();
    const [rx, ry] = image.getResolution();
    const [sx, , tx, , sy, ty] = spec.transform;
    const tol = Math.abs(sx) * 1e-6;
    if (
      Math.abs(ox - tx) > tol ||
      Math.abs(oy - ty) > tol ||
      Math.abs(rx - sx) > tol ||
      Math.abs(ry - sy) > tol
    ) {
      return "its georeferencing differs from the planned grid";
    }
    // The last tile is written last in no particular order, but it is the one a truncated
    // copy loses first: decoding it proves the tile index and data reach the file's end.
    const x0 = Math.floor((width - 1) / spec.tileSize) * spec.tileSize;
    const y0 = Math.floor((height - 1) / spec.tileSize) * spec.tileSize;
    await image.readRasters({ window: [x0, y0, width, height], signal });
    return undefined;
  } catch (error) {
    if (isAbortError(error)) throw error;
    return `it cannot be read as a GeoTIFF: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await tiff?.close();
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
