/**
 * A pixel job (expression -> image -> rendered bands -> encoded bytes) and the worker-thread
 * loop that runs such jobs for the render pool. Images are closures and cannot cross threads,
 * so a job carries the request's original JSON expression and the worker evaluates it again;
 * the main thread has already evaluated it once (no pixels) to check the request's limits.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { encodePixels } from "./encode";
import { EeApiError } from "./errors";
import { evaluateExpression } from "./evaluate";
import { type EeValue, ImageValue } from "./functions-values";
import * as images from "./image";
import type { Grid, RenderedBand } from "./model";
import { renderImage } from "./render";

export type PixelFormat =
  | "GEO_TIFF"
  | "NPY"
  | "PNG"
  | "JPEG"
  | "ZIPPED_GEO_TIFF"
  | "ZIPPED_GEO_TIFF_PER_BAND";

/** Everything a worker needs to reproduce a request's bytes; plain data, structured-cloneable. */
export interface PixelJob {
  /** The request's expression exactly as received (Earth Engine's wire JSON). */
  expression: unknown;
  /** A thumbnail's visualizationOptions (getPixels), applied after evaluation. */
  visualizationOptions?: unknown;
  bandIds?: string[];
  /** The output grid, already resolved and validated by the main thread. */
  grid: Grid;
  format: PixelFormat;
  source: "computePixels" | "getPixels";
}

export interface PixelResult {
  bytes: Uint8Array;
  contentType: string;
}

/** Marks a worker started by the render pool, so importing this module elsewhere runs no loop. */
export const RENDER_WORKER_ROLE = "ee-snippets-render-worker";

/** Main thread -> worker. */
export interface JobMessage {
  id: number;
  job: PixelJob;
}

/** An error as it crosses the thread boundary: enough to rebuild the same HTTP answer. */
export interface SerializedError {
  name: string;
  message: string;
  /** Set for EeApiError: the HTTP status and Earth Engine status to answer with. */
  httpStatus?: number;
  status?: string;
}

/**
 * Worker -> main thread. The bytes' ArrayBuffer is transferred, not copied. A string tag, not a
 * boolean: tslab compiles without strictNullChecks, where boolean tags do not narrow.
 */
export type ResultMessage =
  | { id: number; kind: "bytes"; buffer: ArrayBuffer; contentType: string }
  | { id: number; kind: "error"; error: SerializedError };

/** The evaluated image with bandIds and thumbnail visualization applied, as the request asks. */
export function requestedImage(
  value: EeValue,
  visualizationOptions: unknown,
  bandIds: string[] | undefined,
  source: "computePixels" | "getPixels",
): images.EmImage {
  const visualized = applyVisualizationOptions(value, visualizationOptions);
  if (!(visualized instanceof ImageValue)) {
    throw new EeApiError(
      400,
      "INVALID_ARGUMENT",
      `${source === "computePixels" ? "image:computePixels" : "getPixels"}: The expression must evaluate to an Image.`,
    );
  }
  return bandIds && bandIds.length > 0
    ? images.select(visualized.image, bandIds)
    : visualized.image;
}

/** Runs one job on the calling thread: the same bytes whichever thread runs it. */
export function renderPixelJob(job: PixelJob): PixelResult {
  const image = requestedImage(
    evaluateExpression(job.expression),
    job.visualizationOptions,
    job.bandIds,
    job.source,
  );
  const bands = renderImage(image, job.grid);
  const { bytes, contentType } = encode(bands, job.grid, job.format);
  return { bytes, contentType };
}

function encode(
  bands: RenderedBand[],
  grid: Grid,
  format: PixelFormat,
): { bytes: Buffer; contentType: string } {
  switch (format) {
    case "GEO_TIFF":
      return { bytes: encodePixels(bands, grid, "GEO_TIFF"), contentType: "image/tiff" };
    case "NPY":
      return { bytes: encodePixels(bands, grid, "NPY"), contentType: "application/octet-stream" };
    case "PNG":
      return { bytes: encodePixels(bands, grid, "PNG"), contentType: "image/png" };
    case "JPEG":
      return { bytes: encodePixels(bands, grid, "JPEG"), contentType: "image/jpeg" };
    case "ZIPPED_GEO_TIFF":
      return {
        bytes: storedZip([{ name: "download.tif", data: encodePixels(bands, grid, "GEO_TIFF") }]),
        contentType: "application/zip",
      };
    case "ZIPPED_GEO_TIFF_PER_BAND":
      return {
        bytes: storedZip(
          bands.map((band) => ({
            name: `download.${band.id}.tif`,
            data: encodePixels([band], grid, "GEO_TIFF"),
          })),
        ),
        contentType: "application/zip",
      };
  }
}

/** Applies a thumbnail's visualizationOptions (ranges, palette, gamma) as Image.visualize would. */
function applyVisualizationOptions(value: EeValue, raw: unknown): EeValue {
  if (!(value instanceof ImageValue) || typeof raw !== "object" || raw === null) return value;
  const options = raw as {
    ranges?: { min?: number; max?: number }[];
    paletteColors?: string[];
    gamma?: { value?: number };
  };
  const params: images.VisParams = {};
  if (Array.isArray(options.ranges) && options.ranges.length > 0) {
    params.min = options.ranges.map((r) => r.min ?? 0);
    params.max = options.ranges.map((r) => r.max ?? 1);
  }
  if (Array.isArray(options.paletteColors)) params.palette = options.paletteColors;
  if (typeof options.gamma?.value === "number") params.gamma = options.gamma.value;
  if (Object.keys(params).length === 0) return value;
  return new ImageValue(images.visualize(value.image, params));
}

// --- A stored (uncompressed) ZIP archive: enough for getDownloadURL's zipped GeoTIFFs. ---

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function storedZip(files: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.name, "utf8");
    const crc = crc32(file.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(file.data.length, 18);
    local.writeUInt32LE(file.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(file.data.length, 20);
    central.writeUInt32LE(file.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, file.data);
    centrals.push(central, name);
    offset += local.length + name.length + file.data.length;
  }
  const centralSize = centrals.reduce((sum, b) => sum + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof EeApiError) {
    return {
      name: error.name,
      message: error.message,
      httpStatus: error.httpStatus,
      status: error.status,
    };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

/**
 * The bytes as an ArrayBuffer the worker may give away. Small Buffers share Node's allocation
 * pool with other Buffers (and the pool cannot be transferred), so those are copied; large
 * ones own their memory and move without a copy.
 */
function ownedArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer;
  if (
    buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength
  ) {
    return buffer;
  }
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return copy;
}

function serve(port: NonNullable<typeof parentPort>): void {
  port.on("message", (message: JobMessage) => {
    let reply: ResultMessage;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = renderPixelJob(message.job);
      const buffer = ownedArrayBuffer(result.bytes);
      reply = { id: message.id, kind: "bytes", buffer, contentType: result.contentType };
      transfer = [buffer];
    } catch (error) {
      reply = { id: message.id, kind: "error", error: serializeError(error) };
    }
    port.postMessage(reply, transfer);
  });
}

if (
  !isMainThread &&
  parentPort &&
  (workerData as { role?: unknown } | null)?.role === RENDER_WORKER_ROLE
) {
  serve(parentPort);
}
