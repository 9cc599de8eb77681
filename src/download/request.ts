/**
 * The computePixels request: one window's body, the call through the session's limiter with
 * retries, and the checks on its reply (an NPY of the requested shape and bands). Also the
 * image's metadata round trip (value:compute), made through the same call.
 */

import type { SampleArray, SampleType } from "../core/samples";
import type { Backend } from "../ee/backend";
import { projectUrl } from "../ee/backend";
import type { CloudExpression } from "../ee/client";
import type { RequestLimiter } from "../ee/limiter";
import { withRetries } from "../ee/retry";
import { type BodySink, eeRequest } from "../ee/transport";
import { type BandInfoJson, type ImageBands, parseBands } from "./bands";
import { BandsHintError, ResponseFormatError } from "./errors";
import type { OutputGrid } from "./grid";
import { decodeNpy, decodeNpyHeader, type NpyArray, npyToPixels } from "./npy";
import type { RequestTile } from "./tiles";

/** One Earth Engine REST method call; a sink, when given, takes the reply's body as it arrives. */
export type Call = (method: string, body: unknown, sink?: () => BodySink) => Promise<Buffer>;

/** Requests, retries and size splits of one download, for its result. */
export interface RequestCounters {
  requests: number;
  retries: number;
  splits: number;
}

export interface CallerOptions {
  backend: Backend;
  limiter: RequestLimiter;
  /** Deadline per request (whole reply). */
  timeoutMs: number;
  /** Retries per request for transient failures. */
  retries: number;
  counters: RequestCounters;
}

/** A Call whose requests go through the limiter and are retried while transient; counts everything. */
export function caller(o: CallerOptions, signal: AbortSignal | undefined): Call {
  const { backend, limiter, counters } = o;
  return (method, body, sink) =>
    withRetries(
      () =>
        limiter.run((sent) => {
          counters.requests++;
          return eeRequest(backend, `${projectUrl(backend)}/${method}`, body, {
            timeoutMs: o.timeoutMs,
            signal,
            sink,
            onSent: sent,
          });
        }, signal),
      {
        signal,
        policy: { retries: o.retries },
        onRetry: () => {
          counters.retries++;
        },
      },
    );
}

/** Band names, types and native scale, in one value:compute round trip (the image's getInfo). */
export async function fetchBands(call: Call, expression: CloudExpression): Promise<ImageBands> {
  const reply = await call("value:compute", { expression });
  let info: { result?: { type?: string; bands?: BandInfoJson[] } };
  try {
    info = JSON.parse(reply.toString("utf8"));
  } catch {
    throw new ResponseFormatError("The image metadata reply (value:compute) is not JSON.");
  }
  return parseBands(info.result);
}

/** What one window's request asks for. */
export interface WindowRequest {
  call: Call;
  expression: CloudExpression;
  grid: OutputGrid;
  bandNames: string[];
  /** Checks a reply's NPY header (the bands hint) before its samples are used. */
  check?: (array: NpyArray) => void;
}

/** Fetches a window as NPY into a sink (one per attempt); a wrong-shaped reply is retried once. */
export async function fetchNpy(
  r: WindowRequest,
  window: RequestTile,
  sink: () => BodySink,
): Promise<void> {
  const body = pixelsRequest(r, window);
  const checked = checkedSink(sink, r.check);
  await retryWrongShapeOnce(() => r.call("image:computePixels", body, checked));
}

/** Fetches a window whole and converts it to pixel-interleaved samples of `sampleType`. */
export async function fetchPixels(
  r: WindowRequest,
  window: RequestTile,
  sampleType: SampleType,
): Promise<SampleArray> {
  const body = pixelsRequest(r, window);
  return retryWrongShapeOnce(async () => {
    const npy = decodeNpy(await r.call("image:computePixels", body));
    r.check?.(npy);
    return npyToPixels(
      npy,
      { width: window.width, height: window.height, bands: r.bandNames },
      sampleType,
    );
  });
}

/** computePixels' request body for one window of the output grid. */
function pixelsRequest(r: WindowRequest, window: RequestTile): unknown {
  const [scaleX, shearX, translateX, shearY, scaleY, translateY] = r.grid.transform;
  return {
    expression: r.expression,
    fileFormat: "NPY",
    bandIds: r.bandNames,
    grid: {
      crsCode: r.grid.crsCode,
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
