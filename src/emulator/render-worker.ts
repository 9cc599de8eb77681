/**
 * A pixel job (request -> checks -> image -> rendered bands -> encoded bytes) and the
 * worker-thread loop that runs such jobs for the render pool. Images are closures and cannot
 * cross threads, so a job carries the request as received and the worker does everything
 * else, the checks included: the server's event loop then only reads bodies and keeps time.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { encodePixels } from "./encode";
import { asInputError, EeApiError } from "./errors";
import { evaluateExpression } from "./evaluate";
import type { Grid, RenderedBand } from "./model";
import {
  type PixelFormat,
  type PixelRequestFields,
  type PixelSource,
  parseJsonBody,
  planPixels,
} from "./pixel-request";
import { renderImage } from "./render";

export type { PixelFormat } from "./pixel-request";

/** Everything a worker needs to reproduce a request's bytes; plain data, structured-cloneable. */
export interface PixelJob {
  source: PixelSource;
  /** computePixels' raw JSON body, or a stored thumbnail's fields (getPixels). */
  request: Uint8Array | PixelRequestFields;
  /** The memory-limit fault: grids over this many pixels are refused; 0 or absent for never. */
  memoryLimitPixels?: number;
}

export interface PixelResult {
  bytes: Uint8Array;
  contentType: string;
  /** Pixels in the output grid: what the cost model charges for. */
  pixels: number;
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
  /** Set for an EmulatorInputError (a bad request): rebuilt as one, so it is answered 400. */
  input?: true;
}

/**
 * Worker -> main thread. The bytes' ArrayBuffer is transferred, not copied. A string tag, not a
 * boolean: tslab compiles without strictNullChecks, where boolean tags do not narrow.
 */
export type ResultMessage =
  | { id: number; kind: "bytes"; buffer: ArrayBuffer; contentType: string; pixels: number }
  | { id: number; kind: "error"; error: SerializedError };

/** Runs one job on the calling thread: the same bytes whichever thread runs it. */
export function renderPixelJob(job: PixelJob): PixelResult {
  const request = job.request instanceof Uint8Array ? parseJsonBody(job.request) : job.request;
  const plan = planPixels(
    evaluateExpression(request.expression),
    request,
    job.source,
    job.memoryLimitPixels ?? 0,
  );
  const bands = renderImage(plan.image, plan.grid);
  const { bytes, contentType } = encode(bands, plan.grid, plan.format);
  return { bytes, contentType, pixels: plan.grid.width * plan.grid.height };
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
  const input = asInputError(error);
  if (input) return { name: input.name, message: input.message, input: true };
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
      reply = {
        id: message.id,
        kind: "bytes",
        buffer,
        contentType: result.contentType,
        pixels: result.pixels,
      };
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
