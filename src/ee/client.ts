/**
 * The one typed facade over the official @google/earthengine client, which ships no types.
 *
 * Everything goes through callbacks: without one, the client's Node build makes synchronous
 * requests by spawning a child process per call and busy-waiting for it.
 */

import { type Backend, projectUrl } from "./backend";
import { DownloadAbortedError, isAbortError, RequestError, throwIfAborted } from "./errors";
import type { RequestLimiter } from "./limiter";
import { type RetryPolicy, withRetries } from "./retry";
import { eeRequest } from "./transport";

/** Anything the client can compute or serialize. */
export interface EeComputed {
  evaluate(callback: (result: unknown, error?: string) => void): void;
}

export interface EeNumberLike extends EeComputed {}

export interface EeList extends EeComputed {}

export interface EeGeometry extends EeComputed {
  bounds(maxError?: number): EeGeometry;
}

export interface EeFeature extends EeComputed {
  geometry(): EeGeometry;
  get(property: string): EeComputed;
}

export interface EeFilter extends EeComputed {}

export interface EeProjection extends EeComputed {
  nominalScale(): EeNumberLike;
  crs(): EeComputed;
}

export interface VisParams {
  bands?: string[] | string;
  min?: number | number[];
  max?: number | number[];
  gain?: number | number[];
  bias?: number | number[];
  gamma?: number | number[];
  palette?: string[] | string;
  opacity?: number;
  forceRgbOutput?: boolean;
}

export interface EeImage extends EeComputed {
  clip(geometry: EeGeometry | EeFeature): EeImage;
  visualize(params: VisParams): EeImage;
  paint(
    featureCollection: EeGeometry | EeFeature | EeFeatureCollection,
    color?: number | string,
    width?: number,
  ): EeImage;
  unmask(value?: number | EeImage, sameFootprint?: boolean): EeImage;
  select(selectors: string | string[] | number[], names?: string[]): EeImage;
  rename(...names: string[] | [string[]]): EeImage;
  reproject(
    crs: string | EeProjection,
    crsTransform?: number[] | null,
    scale?: number | null,
  ): EeImage;
  clipToBoundsAndScale(params: {
    geometry?: EeGeometry;
    width?: number;
    height?: number;
    maxDimension?: number;
    scale?: number;
  }): EeImage;
  projection(): EeProjection;
  bandNames(): EeList;
  get(property: string): EeComputed;
  set(property: string, value: unknown): EeImage;
  getInfo(callback: (info: unknown, error?: string) => void): void;
  getThumbURL(
    params: Record<string, unknown>,
    callback: (url: string, error?: string) => void,
  ): void;
  getDownloadURL(
    params: Record<string, unknown>,
    callback: (url: string, error?: string) => void,
  ): void;
  getMapId(
    visParams: VisParams | undefined,
    callback: (mapId: EeMapId, error?: string) => void,
  ): void;
  /** `top` over this image, each pixel's mask as its opacity (Image.blend). */
  blend(top: EeImage): EeImage;
  toByte(): EeImage;
}

/** What getMapId gives: the map's name and the tile URL template the page loads. */
export interface EeMapId {
  /** "projects/{p}/maps/{id}". */
  mapid: string;
  /** "{tileBase}/v1/projects/{p}/maps/{id}/tiles/{z}/{x}/{y}". */
  urlFormat: string;
}

export interface EeFeatureCollection extends EeComputed {
  aggregate_array(property: string): EeList;
  size(): EeNumberLike;
}

export interface EeImageCollection extends EeComputed {
  filterDate(start: string | number | Date, end?: string | number | Date): EeImageCollection;
  filterBounds(geometry: EeGeometry | EeFeature): EeImageCollection;
  filter(filter: EeFilter): EeImageCollection;
  map(fn: (image: EeImage) => EeImage): EeImageCollection;
  sort(property: string, ascending?: boolean): EeImageCollection;
  limit(max: number, property?: string, ascending?: boolean): EeImageCollection;
  size(): EeNumberLike;
  first(): EeImage;
  aggregate_array(property: string): EeList;
  reduceColumns(reducer: EeComputed, selectors: string[]): EeComputed;
}

/** The subset of the `ee` namespace the product uses. */
export interface Ee {
  /** Without a source: an empty (fully masked) image, the usual canvas for Image.paint. */
  Image(source?: string | number | EeImage): EeImage;
  ImageCollection(id: string): EeImageCollection;
  Feature(geometry: EeGeometry, properties?: Record<string, unknown>): EeFeature;
  FeatureCollection(features: EeFeature[] | string): EeFeatureCollection;
  Geometry: {
    Rectangle(coords: number[], proj?: string, geodesic?: boolean, evenOdd?: boolean): EeGeometry;
    Polygon(coords: number[][][] | number[][], proj?: string, geodesic?: boolean): EeGeometry;
    MultiPolygon(coords: number[][][][], proj?: string, geodesic?: boolean): EeGeometry;
    Point(coords: number[], proj?: string): EeGeometry;
  };
  Filter: {
    lt(name: string, value: unknown): EeFilter;
    lte(name: string, value: unknown): EeFilter;
    gt(name: string, value: unknown): EeFilter;
    gte(name: string, value: unknown): EeFilter;
    eq(name: string, value: unknown): EeFilter;
    and(...filters: EeFilter[]): EeFilter;
  };
  /** A client-side list of computed values evaluates as one arrayValue: one round trip for all. */
  List(items: unknown[]): EeList;
  Reducer: { toList(tupleSize?: number, numOptional?: number): EeComputed };
  Serializer: { encodeCloudApi(obj: unknown): string | object };
}

/** The wire form of a client expression, as sent in `expression` fields of REST calls. */
export interface CloudExpression {
  result: string;
  values: Record<string, unknown>;
}

/** The client module's untyped surface we touch, kept in one place. */
interface RawEe {
  initialize(
    baseUrl: string | null,
    tileUrl: string | null,
    onOk: () => void,
    onError: (error: Error | string) => void,
    xsrfToken: null,
    project: string,
  ): void;
  reset(): void;
  data: {
    setAuthToken(
      clientId: string,
      tokenType: string,
      accessToken: string,
      expiresInSeconds: number,
      extraScopes: string[],
      callback: (() => void) | undefined,
      updateAuthLibrary: boolean,
    ): void;
    clearAuthToken(): void;
    setAuthTokenRefresher(
      refresher: ((args: unknown, done: (result: Record<string, unknown>) => void) => void) | null,
    ): void;
    setDeadline?(ms: number): void;
  };
  Serializer: { encodeCloudApi(obj: unknown): unknown };
}

export class EarthEngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EarthEngineError";
  }
}

let raw: RawEe | undefined;

function loadRaw(): RawEe {
  if (!raw) raw = require("@google/earthengine") as RawEe;
  return raw;
}

export interface EeToken {
  accessToken: string;
  expiresInSeconds: number;
}

export interface InitializeOptions {
  /** REST root without trailing slash. */
  apiUrl: string;
  project: string;
  /** Called whenever the client needs a token (at start and when its token expires). */
  token?: () => Promise<EeToken>;
  /** Rewrites the client's error texts, e.g. to say what to do about a refused token. */
  explainError?: (message: string) => string;
}

let explainError: (message: string) => string = (message) => message;

/**
 * Initializes the client's global state against one backend and returns the typed `ee`.
 * The client is a process-wide singleton, so a second call re-points it (reset first).
 */
export async function initializeEe(options: InitializeOptions): Promise<Ee> {
  const apiUrl = options.apiUrl.replace(/\/+$/, "");
  const ee = loadRaw();
  ee.reset();
  explainError = options.explainError ?? ((message) => message);
  stopTokenPush();
  if (options.token) {
    const fetchToken = options.token;
    const first = await fetchToken();
    setEeToken(first);
    pushTokensAhead(fetchToken, first.expiresInSeconds);
    // The client asks this when its token is about to lapse; the provider refreshes ahead.
    ee.data.setAuthTokenRefresher((_args, done) => {
      fetchToken().then(
        (t) =>
          done({
            access_token: t.accessToken,
            token_type: "Bearer",
            expires_in: CLIENT_TOKEN_LIFE_SECONDS,
          }),
        (error: unknown) => done({ error: error instanceof Error ? error.message : String(error) }),
      );
    });
  } else {
    ee.data.clearAuthToken();
    ee.data.setAuthTokenRefresher(null);
  }
  await new Promise<void>((resolve, reject) => {
    // tileUrl does not default to baseUrl in practice: pass it explicitly.
    ee.initialize(
      apiUrl,
      apiUrl,
      () => resolve(),
      (error) =>
        reject(
          new EarthEngineError(
            `Earth Engine initialization against ${apiUrl} failed: ${
              error instanceof Error ? error.message : String(error)
            }`,
          ),
        ),
      null,
      options.project,
    );
  });
  return ee as unknown as Ee;
}

let tokenPush: NodeJS.Timeout | undefined;
/** The token source the pushes come from: a session stops only its own. */
let tokenPushSource: (() => Promise<EeToken>) | undefined;

/**
 * Hands the client the current token at half of each token's remaining life, so a refresh by
 * the token source (it renews within its margin of expiry) reaches the client before the old
 * token expires. The client itself is told every token lives a day (setEeToken): when it
 * refreshes a lapsed token on its own, apiclient.send calls itself again without the request
 * body and Earth Engine answers a value:compute with "Invalid JSON payload".
 */
function pushTokensAhead(fetchToken: () => Promise<EeToken>, expiresInSeconds: number): void {
  tokenPushSource = fetchToken;
  tokenPush = setTimeout(() => {
    fetchToken().then(
      (token) => {
        if (tokenPushSource !== fetchToken) return;
        setEeToken(token);
        pushTokensAhead(fetchToken, token.expiresInSeconds);
      },
      // A failed refresh surfaces through the client's own refresher on its next request.
      () => undefined,
    );
  }, expiresInSeconds * 500);
  tokenPush.unref();
}

/**
 * Stops handing tokens to the client: all pushes before a new initialization, or those of
 * one token source when its session closes (a reconnect closes the old session last).
 */
export function stopTokenPush(source?: () => Promise<EeToken>): void {
  if (source && source !== tokenPushSource) return;
  clearTimeout(tokenPush);
  tokenPush = undefined;
  tokenPushSource = undefined;
}

// The client only asks its refresher for a new token when a client id is set; any
// non-empty id works because our refresher ignores it.
const EE_CLIENT_ID = "ee-snippets";

/** What the client is told of every token's life: never its own to lapse (pushTokensAhead). */
const CLIENT_TOKEN_LIFE_SECONDS = 24 * 3600;

/** Hands a fresh token to the client; `false` keeps the client from loading a browser auth library. */
export function setEeToken(token: EeToken): void {
  loadRaw().data.setAuthToken(
    EE_CLIENT_ID,
    "Bearer",
    token.accessToken,
    CLIENT_TOKEN_LIFE_SECONDS,
    [],
    undefined,
    false,
  );
}

/** The typed `ee` namespace, for code that runs after initializeEe. */
export function eeNamespace(): Ee {
  return loadRaw() as unknown as Ee;
}

/** Where evaluate sends value:compute itself: a session's backend and its request limiter. */
export interface ComputeRoute {
  backend: Backend;
  requests: RequestLimiter;
}

export interface EvaluateOptions {
  /**
   * Send value:compute through this session's limiter, with status codes, retries and the
   * deadline below (connect() gives one). Without it the official client sends the request:
   * through its own throttle, retrying only 429, and reporting a message without a status.
   */
  session?: ComputeRoute;
  signal?: AbortSignal;
  /** Retries after the first attempt for transient failures (429, 5xx, resets, timeouts); default 6. */
  retries?: number;
  /** Deadline per attempt; default 120 s. */
  timeoutMs?: number;
  /** Backoff overrides (tests). */
  policy?: Partial<Omit<RetryPolicy, "retries">>;
}

/** Retries of a value:compute when the caller does not say. */
const DEFAULT_EVALUATE_RETRIES = 6;

/**
 * Messages the official client reports for transient failures. It drops the HTTP status when
 * the reply carried a JSON error, so these are all it leaves to go on: Earth Engine's 500
 * ("An internal error has occurred"), 503 ("The service is currently unavailable"), 429
 * wording, and its own texts for a broken connection or a reply without JSON.
 */
const TRANSIENT_CLIENT_MESSAGE =
  /internal error|currently unavailable|service unavailable|backend error|too many (concurrent )?requests|rate limit|quota exceeded|deadline exceeded|failed to contact|server returned http code: (429|5\d\d)/i;

/**
 * Computes any client object on the server (value:compute) and resolves with its value.
 * Transient failures are retried with backoff and jitter; after the last attempt the error
 * says how many were made. With `session` the request goes through its limiter and transport
 * (statuses known, AbortSignal honoured mid-request), which is what the product uses.
 */
export async function evaluate<T = unknown>(
  obj: EeComputed,
  options: EvaluateOptions = {},
): Promise<T> {
  const retries = options.retries ?? DEFAULT_EVALUATE_RETRIES;
  const { signal } = options;
  let attempts = 0;
  try {
    return await withRetries(
      async () => {
        attempts++;
        return options.session
          ? computeValue<T>(options.session, obj, options)
          : clientEvaluate<T>(obj, signal);
      },
      { signal, policy: { ...options.policy, retries } },
    );
  } catch (error) {
    if (isAbortError(error)) throw error;
    if (error instanceof RequestError && error.retryable) {
      throw new EarthEngineError(
        `Earth Engine could not compute the value after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${error.message}`,
        { cause: error },
      );
    }
    if (error instanceof EarthEngineError) throw error;
    throw new EarthEngineError(error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
}

/** One value:compute through the session's limiter and transport. */
async function computeValue<T>(
  route: ComputeRoute,
  obj: EeComputed,
  options: EvaluateOptions,
): Promise<T> {
  const expression = serializeExpression(obj);
  const reply = await route.requests.run(
    (sent) =>
      eeRequest(
        route.backend,
        `${projectUrl(route.backend)}/value:compute`,
        { expression },
        { signal: options.signal, timeoutMs: options.timeoutMs, onSent: sent },
      ),
    options.signal,
  );
  let parsed: { result?: unknown };
  try {
    parsed = JSON.parse(reply.toString("utf8")) as { result?: unknown };
  } catch {
    // A reply cut short or garbled on the way: sending it again may well work.
    throw new RequestError("The value:compute reply is not JSON.", { retryable: true });
  }
  return parsed.result as T;
}

/** One evaluate through the official client; transient-looking failures are marked retryable. */
function clientEvaluate<T>(obj: EeComputed, signal: AbortSignal | undefined): Promise<T> {
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    // The client's request cannot be cancelled; an abort stops waiting for it.
    const onAbort = () => reject(new DownloadAbortedError(signal?.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    obj.evaluate((result, error) => {
      signal?.removeEventListener("abort", onAbort);
      if (error !== undefined && error !== null) {
        const message = String(error);
        reject(
          TRANSIENT_CLIENT_MESSAGE.test(message)
            ? new RequestError(message, { retryable: true })
            : new EarthEngineError(explainError(message)),
        );
      } else resolve(result as T);
    });
  });
}

/** The wire expression of a client object, computed locally (no request). */
export function serializeExpression(obj: unknown): CloudExpression {
  const encoded = loadRaw().Serializer.encodeCloudApi(obj);
  const parsed = (typeof encoded === "string" ? JSON.parse(encoded) : encoded) as CloudExpression;
  if (typeof parsed?.result !== "string" || typeof parsed.values !== "object") {
    throw new EarthEngineError(
      "The Earth Engine client produced an expression without result/values.",
    );
  }
  return parsed;
}

function urlCall(
  call: (params: Record<string, unknown>, cb: (url: string, error?: string) => void) => void,
  params: Record<string, unknown>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    call(params, (url, error) => {
      if (error) reject(new EarthEngineError(explainError(String(error))));
      else resolve(url);
    });
  });
}

/** getDownloadURL with a callback; the bench compares our direct computePixels path against it. */
export function getDownloadUrl(image: EeImage, params: Record<string, unknown>): Promise<string> {
  return urlCall((p, cb) => image.getDownloadURL(p, cb), params);
}

/**
 * A map of `image` visualized with `vis`, created with POST .../maps through a session's
 * limiter and retries, and its tile URL template (the one the client's getMapId builds). The
 * client's getMapId goes through its throttle, ~350 ms between calls: a map of 37 scenes
 * took 13 s that way.
 */
export async function createMap(
  route: ComputeRoute,
  image: EeImage,
  vis: VisParams,
  options: { signal?: AbortSignal; retries?: number } = {},
): Promise<EeMapId> {
  const { signal } = options;
  const body = {
    expression: serializeExpression(image.visualize(vis)),
    fileFormat: "AUTO_JPEG_PNG",
    bandIds: [],
  };
  const reply = await withRetries(
    () =>
      route.requests.run(
        (sent) =>
          eeRequest(route.backend, `${projectUrl(route.backend)}/maps?fields=name`, body, {
            signal,
            onSent: sent,
          }),
        signal,
      ),
    { signal, policy: { retries: options.retries ?? DEFAULT_EVALUATE_RETRIES } },
  );
  let name: unknown;
  try {
    name = (JSON.parse(reply.toString("utf8")) as { name?: unknown }).name;
  } catch {
    name = undefined;
  }
  if (typeof name !== "string" || !/^projects\/[^/]+\/maps\/[^/]+$/.test(name)) {
    throw new EarthEngineError("Creating a map answered without a map name.");
  }
  return { mapid: name, urlFormat: `${route.backend.apiUrl}/v1/${name}/tiles/{z}/{x}/{y}` };
}

/**
 * A map of `image` visualized with `vis` (POST .../maps, through the client's getMapId with a
 * callback) and its tile URL template, which a web page loads directly.
 */
export function getMapId(image: EeImage, vis?: VisParams): Promise<EeMapId> {
  return new Promise((resolve, reject) => {
    image.getMapId(vis, (mapId, error) => {
      if (error) reject(new EarthEngineError(explainError(String(error))));
      else if (!mapId || typeof mapId.urlFormat !== "string")
        reject(new EarthEngineError("getMapId answered without a tile URL."));
      else resolve({ mapid: mapId.mapid, urlFormat: mapId.urlFormat });
    });
  });
}
