/**
 * HTTP to an Earth Engine REST backend (the real service or the emulator: only the Backend's
 * URL and authorization differ). Keep-alive connections, a per-request deadline, AbortSignal,
 * complete-body checks, and Earth Engine's JSON errors turned into typed RequestErrors that
 * the retry loop can classify.
 */
import http from "node:http";
import https from "node:https";
import type { Backend } from "./backend";
import { AuthorizationError, DownloadAbortedError, RequestError, throwIfAborted } from "./errors";
import { isRetryableStatus, parseRetryAfter } from "./retry";

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Receives a successful reply's body as it arrives instead of buffering it whole, so a
 * consumer can place bytes where they belong (tiles) with one copy and start on them early.
 * A throw from either method fails the request with that error.
 */
export interface BodySink {
  write(chunk: Buffer): void;
  /** The whole body arrived (its length matched Content-Length when there was one). */
  end(): void;
}

export interface PostOptions {
  headers?: Record<string, string>;
  /** Called once a 2xx status arrives; a sink returned takes the body (the reply's is then empty). */
  sink?: () => BodySink;
  /** Deadline for the whole exchange, body included; default 120 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called when the whole request has been handed to the network (rate windows count from it). */
  onSent?: () => void;
}

/** Generous: a 48 MiB computePixels reply can take Earth Engine a minute to compute and send. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

/**
 * One keep-alive pool per protocol for the process. Socket count is not capped here: the
 * session's RequestLimiter already bounds requests in flight, and a second cap below it
 * would queue requests invisibly. Idle sockets are unref'd by Node, so they never keep a
 * notebook kernel or a test process alive.
 */
const agents = {
  http: new http.Agent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: 64,
  }),
  https: new https.Agent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: 64,
  }),
};

/** Closes idle keep-alive sockets (for session.close and tests checking for leaks). */
export function closeIdleConnections(): void {
  agents.http.destroy();
  agents.https.destroy();
  agents.http = new http.Agent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: 64,
  });
  agents.https = new https.Agent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: 64,
  });
}

/** Sockets currently open in the pools (busy + idle), for leak checks. */
export function openSocketCount(): number {
  let n = 0;
  for (const agent of [agents.http, agents.https]) {
    for (const list of Object.values(agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(agent.freeSockets)) n += list?.length ?? 0;
  }
  return n;
}

/**
 * POSTs a body and resolves with the full reply whatever its status. Rejects with a
 * retryable RequestError when the connection breaks, the deadline passes, or the body is
 * shorter than its Content-Length; with DownloadAbortedError when the signal fires.
 */
export function httpPost(
  url: string,
  body: string | Uint8Array,
  options: PostOptions = {},
): Promise<HttpResponse> {
  const { signal } = options;
  throwIfAborted(signal);
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const target = new URL(url);
  const isHttps = target.protocol === "https:";
  const payload = typeof body === "string" ? Buffer.from(body) : body;

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(response as HttpResponse);
    };
    const request = (isHttps ? https : http).request(target, {
      method: "POST",
      agent: isHttps ? agents.https : agents.http,
      headers: {
        "content-type": "application/json",
        "content-length": String(payload.byteLength),
        ...options.headers,
      },
    });
    const fail = (error: unknown) => {
      finish(error);
      request.destroy();
    };
    const onAbort = () => fail(new DownloadAbortedError(signal?.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () =>
        fail(
          new RequestError(`No complete reply from ${target.host} within ${timeoutMs} ms.`, {
            retryable: true,
          }),
        ),
      timeoutMs,
    );

    request.on("error", (error: NodeJS.ErrnoException) =>
      fail(
        new RequestError(`Connection to ${target.host} failed: ${error.code ?? error.message}.`, {
          retryable: true,
          cause: error,
        }),
      ),
    );
    request.on("response", (res) => {
      const declared = Number(res.headers["content-length"]);
      const hasLength = res.headers["content-length"] !== undefined && Number.isFinite(declared);
      const status = res.statusCode ?? 0;
      const sink = status >= 200 && status < 300 ? options.sink?.() : undefined;
      // Preallocating avoids holding every chunk plus a concatenated copy of a 48 MiB body.
      const fixed = hasLength && !sink ? Buffer.allocUnsafe(declared) : undefined;
      const chunks: Buffer[] = [];
      let received = 0;
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        if (hasLength && received + chunk.length > declared) {
          fail(
            new RequestError(`The reply from ${target.host} is longer than its Content-Length.`, {
              retryable: true,
            }),
          );
          return;
        }
        if (sink) {
          try {
            sink.write(chunk);
          } catch (error) {
            fail(error);
            return;
          }
        } else if (fixed) {
          chunk.copy(fixed, received);
        } else {
          chunks.push(chunk);
        }
        received += chunk.length;
      });
      const truncated = () =>
        new RequestError(
          `The reply from ${target.host} was cut off after ${received}${
            hasLength ? ` of ${declared}` : ""
          } bytes.`,
          { status: res.statusCode, retryable: true },
        );
      res.on("end", () => {
        if (settled) return;
        if (hasLength && received !== declared) {
          fail(truncated());
          return;
        }
        if (sink) {
          try {
            sink.end();
          } catch (error) {
            fail(error);
            return;
          }
        }
        finish(undefined, {
          status,
          headers: res.headers,
          body: sink ? Buffer.alloc(0) : (fixed ?? Buffer.concat(chunks, received)),
        });
      });
      res.on("error", () => fail(truncated()));
      res.on("aborted", () => fail(truncated()));
      res.on("close", () => {
        if (!res.complete) fail(truncated());
      });
    });
    if (options.onSent) request.once("finish", options.onSent);
    request.end(payload);
  });
}

/** Messages of the 400s that mean "this window is too big"; the same request always fails. */
const SIZE_MESSAGE = /total request size|request size|too many pixels|too large/i;
/**
 * Failures that depend on how much one request computes, not on luck: the same request fails
 * the same way however often it is sent, and smaller windows may pass. Earth Engine sends
 * them as 400, but a proxy or a future change may wrap them in another status (a 500, a
 * 504), so the message decides, whatever the status.
 */
const DETERMINISTIC_MESSAGE = /computation timed out|user memory limit exceeded|memory limit/i;

/**
 * POSTs JSON to `${projectUrl}/${method}` and returns the reply's bytes; any non-2xx becomes a
 * typed RequestError carrying Earth Engine's own message.
 */
export async function eeRequest(
  backend: Backend,
  url: string,
  body: unknown,
  options: {
    timeoutMs?: number;
    signal?: AbortSignal;
    sink?: () => BodySink;
    onSent?: () => void;
  } = {},
): Promise<Buffer> {
  const payload = JSON.stringify(body);
  const post = (authorization: string | undefined) => {
    const headers: Record<string, string> = {};
    if (authorization) headers.authorization = authorization;
    if (backend.quotaProject) headers["x-goog-user-project"] = backend.quotaProject;
    // A retry after a renewal counts as sent when it goes out (the later send moves the start).
    return httpPost(url, payload, { ...options, headers });
  };
  const authorization = await backend.authorization(options.signal);
  let response = await post(authorization);
  if (response.status === 401 && authorization && backend.renewAuthorization) {
    // A token refused before its expiry by our clock (revoked, clock skew, a raw token's
    // end): one new token and one retry; a second 401 is final.
    let renewed: string;
    try {
      renewed = await backend.renewAuthorization(authorization, options.signal);
    } catch (error) {
      throwIfAborted(options.signal);
      const fix = error instanceof Error ? error.message : undefined;
      throw new AuthorizationError(401, serverMessage(response), fix);
    }
    response = await post(renewed);
  }
  const { status } = response;
  if (status >= 200 && status < 300) return response.body;
  throw responseError(response, backend.kind === "emulator" ? "the emulator" : "Earth Engine");
}

function responseError(response: HttpResponse, who: string): RequestError {
  const { status } = response;
  const message = serverMessage(response);
  if (status === 401 || status === 403) return new AuthorizationError(status, message);
  if (status >= 400 && DETERMINISTIC_MESSAGE.test(message)) {
    return new RequestError(`${who} could not compute the request (HTTP ${status}): ${message}`, {
      status,
      retryable: false,
      split: true,
    });
  }
  const retryAfterHeader = response.headers["retry-after"];
  const retryAfterSeconds = parseRetryAfter(
    Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader,
  );
  if (isRetryableStatus(status)) {
    return new RequestError(`${who} answered HTTP ${status}: ${message}`, {
      status,
      retryable: true,
      retryAfterSeconds,
    });
  }
  if (status === 400 && SIZE_MESSAGE.test(message)) {
    return new RequestError(`${who} refused the window's size: ${message}`, {
      status,
      retryable: false,
      split: true,
    });
  }
  return new RequestError(`${who} refused the request (HTTP ${status}): ${message}`, {
    status,
    retryable: false,
  });
}

/** Earth Engine's `{"error": {"message"}}`, or the start of whatever else was sent. */
function serverMessage(response: HttpResponse): string {
  const text = response.body.subarray(0, 4096).toString("utf8");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string };
    const error = parsed.error;
    if (typeof error === "string") return error;
    if (error && typeof error.message === "string") return error.message;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.trim().slice(0, 300) || `(empty body, HTTP ${response.status})`;
}
