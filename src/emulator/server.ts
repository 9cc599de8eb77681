/**
 * The emulator's HTTP server: Earth Engine's REST v1 subset (algorithms, value:compute,
 * image:computePixels, thumbnails + getPixels), an OAuth-like token endpoint, admin
 * endpoints, and the cost model applied around every request.
 */
import { createHash, randomBytes, verify as verifySignature } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { checkBearer, type IssuedToken, requestedScopes } from "./auth";
import { listAlgorithms } from "./catalog";
import { type CostModel, FaultInjector, SlidingWindow } from "./costs";
import { EeApiError, invalidArgument, resourceExhausted } from "./errors";
import { evaluateExpression } from "./evaluate";
import { toJson } from "./functions-describe";
import { parseJsonBody } from "./pixel-request";
import {
  defaultRenderThreads,
  RenderPool,
  RenderPoolClosedError,
  type RenderPoolStats,
} from "./render-pool";
import type { PixelJob } from "./render-worker";

export interface AuthOptions {
  /** Static tokens accepted as `Authorization: Bearer <token>`. */
  accessTokens?: string[];
  /** The refresh token POST /token accepts (grant_type=refresh_token). */
  refreshToken?: string;
  /** PEM public key that verifies service-account JWT assertions (RS256). */
  serviceAccountPublicKeyPem?: string;
  tokenTtlSeconds?: number;
}

export interface ServerOptions {
  model: CostModel;
  auth?: AuthOptions;
  /** Request bodies above this get 413 (Earth Engine's own cap is about 10 MB). */
  maxBodyBytes?: number;
  /** Worker threads rendering pixels; default defaultRenderThreads() (from the core count). */
  renderThreads?: number;
}

export interface EndpointStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
}

export interface EmulatorStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  byStatus: Record<string, number>;
  byEndpoint: Record<string, EndpointStats>;
  tokenRequests: number;
  /** This process's CPU time (user + system) since the last reset. */
  cpuMs: number;
}

export interface EmulatorStatus {
  model: CostModel;
  stats: EmulatorStats;
  /** The emulator's own render threads: not part of the model, shown so a reader can check them. */
  render: RenderPoolStats;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const MAX_STORED_THUMBNAILS = 2000;

type EndpointClass =
  | "algorithms"
  | "compute"
  | "computePixels"
  | "thumbnails"
  | "getPixels"
  | "token"
  | "admin"
  | "other";

interface Reply {
  status: number;
  contentType: string;
  body: Buffer;
}

function jsonReply(status: number, value: unknown): Reply {
  return {
    status,
    contentType: "application/json; charset=utf-8",
    body: Buffer.from(JSON.stringify(value)),
  };
}

function errorReply(error: EeApiError): Reply {
  return jsonReply(error.httpStatus, error.toJSON());
}

interface ThumbnailRecord {
  expression: unknown;
  fileFormat: string;
  bandIds?: string[];
  visualizationOptions?: unknown;
  grid?: unknown;
}

export class EmulatorServer {
  readonly server: http.Server;
  private readonly faults: FaultInjector;
  private readonly rate = new SlidingWindow();
  private readonly thumbnails = new Map<string, ThumbnailRecord>();
  private readonly issuedTokens = new Map<string, IssuedToken>();
  private stats!: EmulatorStats;
  private cpuAtReset = process.cpuUsage();
  private workInFlight = 0;
  private readonly renderPool: RenderPool;

  constructor(private readonly options: ServerOptions) {
    this.renderPool = new RenderPool({
      threads: options.renderThreads ?? defaultRenderThreads(),
    });
    this.faults = new FaultInjector(options.model.faults, options.model.seed);
    this.resetStats();
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // Last resort: a bug must cost one request, never the process.
        if (!res.headersSent) {
          const reply = errorReply(
            new EeApiError(500, "INTERNAL", `Emulator internal error: ${messageOf(error)}`),
          );
          res.writeHead(reply.status, { "Content-Type": reply.contentType });
          res.end(reply.body);
        } else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  get model(): CostModel {
    return this.options.model;
  }

  /** Threads rendering pixels (ServerOptions.renderThreads or the machine's default). */
  get renderThreads(): number {
    return this.renderPool.threads;
  }

  listen(port: number): Promise<string> {
    this.renderPool.warm();
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        const { port: bound } = this.server.address() as AddressInfo;
        resolve(`http://127.0.0.1:${bound}`);
      });
    });
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return Promise.all([closed, this.renderPool.close()]).then(() => undefined);
  }

  status(): EmulatorStatus {
    const cpu = process.cpuUsage(this.cpuAtReset);
    return {
      model: this.options.model,
      stats: { ...this.stats, cpuMs: (cpu.user + cpu.system) / 1000 },
      render: this.renderPool.stats(),
    };
  }

  resetStats(): void {
    this.cpuAtReset = process.cpuUsage();
    const inFlight = this.stats?.inFlight ?? 0;
    const byEndpoint: Record<string, EndpointStats> = {};
    for (const [name, s] of Object.entries(this.stats?.byEndpoint ?? {})) {
      byEndpoint[name] = { requests: 0, inFlight: s.inFlight, maxInFlight: s.inFlight };
    }
    this.stats = {
      requests: 0,
      inFlight,
      maxInFlight: inFlight,
      byStatus: {},
      byEndpoint,
      tokenRequests: 0,
      cpuMs: 0,
    };
  }

  private get authEnabled(): boolean {
    const auth = this.options.auth;
    return Boolean(
      auth &&
        ((auth.accessTokens?.length ?? 0) > 0 ||
          auth.refreshToken ||
          auth.serviceAccountPublicKeyPem),
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    const endpoint = classify(req.method ?? "GET", path);
    const counters = this.stats.byEndpoint[endpoint] ?? {
      requests: 0,
      inFlight: 0,
      maxInFlight: 0,
    };
    this.stats.byEndpoint[endpoint] = counters;
    this.stats.requests++;
    this.stats.inFlight++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight);
    counters.requests++;
    counters.inFlight++;
    counters.maxInFlight = Math.max(counters.maxInFlight, counters.inFlight);
    const isWork =
      endpoint === "compute" ||
      endpoint === "computePixels" ||
      endpoint === "thumbnails" ||
      endpoint === "getPixels";
    if (isWork) this.workInFlight++;
    let status = 0;
    try {
      const faultable =
        isWork || (this.options.model.faults.includeMetadata && endpoint !== "token");
      const fault = faultable ? this.faults.next() : ({ kind: "none" } as const);
      if (fault.kind === "reset") {
        status = -1;
        req.socket.destroy();
        return;
      }
      let reply: Reply;
      if (isWork && this.workInFlight > this.options.model.maxConcurrent) {
        reply = errorReply(resourceExhausted("Too many concurrent aggregations."));
      } else if (isWork && !this.rate.tryAdmit(started, this.options.model.maxRequestsPerSecond)) {
        reply = errorReply(
          resourceExhausted(
            `Quota exceeded: more than ${this.options.model.maxRequestsPerSecond} requests per second for this project. Retry with exponential backoff.`,
          ),
        );
      } else {
        if (fault.kind === "stall") await sleep(fault.ms);
        if (fault.kind === "serverError") {
          await sleep(this.options.model.latencyMs);
          reply = errorReply(
            fault.status === 503
              ? new EeApiError(503, "UNAVAILABLE", "The service is currently unavailable.")
              : new EeApiError(
                  500,
                  "INTERNAL",
                  "An internal error has occurred (injected by the emulator).",
                ),
          );
        } else {
          reply = await this.route(req, url, endpoint, started);
        }
      }
      status = reply.status;
      await this.send(res, reply, fault.kind === "truncate");
    } finally {
      this.stats.inFlight--;
      counters.inFlight--;
      if (isWork) this.workInFlight--;
      const key = status === -1 ? "reset" : String(status);
      this.stats.byStatus[key] = (this.stats.byStatus[key] ?? 0) + 1;
    }
  }

  private async route(
    req: http.IncomingMessage,
    url: URL,
    endpoint: EndpointClass,
    started: number,
  ): Promise<Reply> {
    const method = req.method ?? "GET";
    try {
      if (endpoint === "admin") {
        if (method === "GET" && url.pathname === "/emulator/status")
          return jsonReply(200, this.status());
        if (method === "POST" && url.pathname === "/emulator/reset-stats") {
          await drain(req, this.maxBody);
          this.resetStats();
          return jsonReply(200, this.status());
        }
        throw new EeApiError(404, "NOT_FOUND", `No admin endpoint ${method} ${url.pathname}.`);
      }
      if (endpoint === "token") {
        this.stats.tokenRequests++;
        return await this.token(req);
      }
      if (url.pathname.startsWith("/v1/") && this.authEnabled) this.authorize(req);
      switch (endpoint) {
        case "algorithms":
          await this.delayUntil(started + this.options.model.latencyMs);
          return jsonReply(200, listAlgorithms());
        case "compute": {
          const body = await readJson(req, this.maxBody);
          const value = evaluateExpression(body.expression);
          const result = toJson(value);
          await this.delayUntil(started + this.options.model.latencyMs);
          return jsonReply(200, { result });
        }
        case "computePixels": {
          const body = await readBody(req, this.maxBody);
          return await this.pixels({ source: "computePixels", request: body }, started);
        }
        case "thumbnails": {
          const body = await readJson(req, this.maxBody);
          // Evaluate now so a bad expression fails in getThumbURL's callback, as in Earth Engine.
          evaluateExpression(body.expression);
          const fileFormat =
            typeof body.fileFormat === "string" ? body.fileFormat : "AUTO_JPEG_PNG";
          const project = /^\/v1\/projects\/([^/]+)\//.exec(url.pathname)?.[1] ?? "emulator";
          const digest = createHash("sha256")
            .update(JSON.stringify(body))
            .digest("hex")
            .slice(0, 32);
          const name = `projects/${project}/thumbnails/${digest}`;
          if (this.thumbnails.size >= MAX_STORED_THUMBNAILS) {
            this.thumbnails.delete(this.thumbnails.keys().next().value as string);
          }
          this.thumbnails.set(name, {
            expression: body.expression,
            fileFormat,
            bandIds: Array.isArray(body.bandIds) ? (body.bandIds as string[]) : undefined,
            visualizationOptions: body.visualizationOptions,
            grid: body.grid,
          });
          await this.delayUntil(started + this.options.model.latencyMs);
          return jsonReply(200, { name });
        }
        case "getPixels": {
          await drain(req, this.maxBody);
          const name = decodeURIComponent(url.pathname.slice("/v1/".length, -":getPixels".length));
          const record = this.thumbnails.get(name);
          if (!record)
            throw new EeApiError(
              404,
              "NOT_FOUND",
              `Thumbnail '${name}' not found: create it with POST .../thumbnails first.`,
            );
          return await this.pixels({ source: "getPixels", request: { ...record } }, started);
        }
        default:
          await drain(req, this.maxBody);
          throw new EeApiError(
            404,
            "NOT_FOUND",
            `The ee-snippets emulator does not serve ${method} ${url.pathname}.`,
          );
      }
    } catch (error) {
      if (error instanceof EeApiError) return errorReply(error);
      if (error instanceof RenderPoolClosedError)
        return errorReply(new EeApiError(503, "UNAVAILABLE", error.message));
      if (
        error instanceof Error &&
        (error.name === "ImageOperationError" ||
          error.name === "GridError" ||
          error.name === "UnsupportedCrsError" ||
          error.name === "EncodeError")
      ) {
        return errorReply(invalidArgument(error.message));
      }
      throw error;
    }
  }

  private get maxBody(): number {
    return this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /**
   * Renders on the pool, checks included (src/emulator/pixel-request.ts), so the event loop
   * stays free to accept and timestamp other requests and the render hides inside the
   * modelled time; replies when that time is up.
   */
  private async pixels(job: Pick<PixelJob, "source" | "request">, started: number): Promise<Reply> {
    const model = this.options.model;
    const { bytes, contentType, pixels } = await this.renderPool.run({
      ...job,
      memoryLimitPixels: model.faults.memoryLimitPixels,
    });
    await this.delayUntil(started + model.latencyMs + (model.msPerMegapixel * pixels) / 1e6);
    return {
      status: 200,
      contentType,
      body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    };
  }

  private async delayUntil(time: number): Promise<void> {
    const wait = time - Date.now();
    if (wait > 0) await sleep(wait);
  }

  private authorize(req: http.IncomingMessage): void {
    checkBearer(req.headers.authorization, this.options.auth, this.issuedTokens);
  }

  /** Google's OAuth token endpoint, reduced to the two grants our users have. */
  private async token(req: http.IncomingMessage): Promise<Reply> {
    const oauthError = (status: number, error: string, description: string) =>
      jsonReply(status, { error, error_description: description });
    if (req.method !== "POST")
      return oauthError(
        400,
        "invalid_request",
        "Use POST with an application/x-www-form-urlencoded body.",
      );
    const raw = (await readBody(req, this.maxBody)).toString("utf8");
    const form = new URLSearchParams(raw);
    const grant = form.get("grant_type");
    const auth = this.options.auth ?? {};
    const ttl = auth.tokenTtlSeconds ?? 3600;
    const issue = () => {
      const accessToken = `ya29.emulator-${randomBytes(24).toString("base64url")}`;
      this.issuedTokens.set(accessToken, {
        expiresAt: Date.now() + ttl * 1000,
        scopes: requestedScopes(form),
      });
      return jsonReply(200, { access_token: accessToken, expires_in: ttl, token_type: "Bearer" });
    };
    if (grant === "refresh_token") {
      const given = form.get("refresh_token");
      if (!given)
        return oauthError(400, "invalid_request", "Missing required parameter: refresh_token");
      if (!auth.refreshToken || given !== auth.refreshToken)
        return oauthError(400, "invalid_grant", "Token has been expired or revoked.");
      return issue();
    }
    if (grant === "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      const assertion = form.get("assertion");
      if (!assertion)
        return oauthError(400, "invalid_request", "Missing required parameter: assertion");
      if (!auth.serviceAccountPublicKeyPem)
        return oauthError(
          400,
          "invalid_grant",
          "No service account is configured on this emulator.",
        );
      const problem = checkJwt(assertion, auth.serviceAccountPublicKeyPem);
      if (problem) return oauthError(400, "invalid_grant", problem);
      return issue();
    }
    return oauthError(400, "unsupported_grant_type", `Invalid grant_type: ${grant ?? ""}`);
  }

  /** Writes the body at the model's bandwidth; a truncated reply promises more than it sends. */
  private async send(res: http.ServerResponse, reply: Reply, truncate: boolean): Promise<void> {
    res.writeHead(reply.status, {
      "Content-Type": reply.contentType,
      "Content-Length": String(reply.body.length),
    });
    const body = truncate ? reply.body.subarray(0, Math.floor(reply.body.length / 2)) : reply.body;
    const bytesPerMs = (this.options.model.bandwidthMBps * 1e6) / 1000;
    const chunk = 256 * 1024;
    const start = Date.now();
    for (let offset = 0; offset < body.length; offset += chunk) {
      const end = Math.min(body.length, offset + chunk);
      const piece = body.subarray(offset, end);
      // Pace before writing: a client holding the last byte must find this request finished
      // (no longer counted in flight), or a client at the concurrency quota would see 429s.
      if (bytesPerMs > 0) await this.delayUntil(start + end / bytesPerMs);
      if (res.destroyed) return;
      if (end === body.length && !truncate) {
        res.end(piece);
        return;
      }
      if (!res.write(piece)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        });
      }
    }
    if (truncate) {
      res.destroy();
      return;
    }
    res.end();
  }
}

function classify(method: string, path: string): EndpointClass {
  if (path === "/token") return "token";
  if (path.startsWith("/emulator/")) return "admin";
  if (/^\/v1\/projects\/[^/]+\/algorithms$/.test(path) && method === "GET") return "algorithms";
  if (/^\/v1\/projects\/[^/]+\/value:compute$/.test(path) && method === "POST") return "compute";
  if (/^\/v1\/projects\/[^/]+\/image:computePixels$/.test(path) && method === "POST")
    return "computePixels";
  if (/^\/v1\/projects\/[^/]+\/thumbnails$/.test(path) && method === "POST") return "thumbnails";
  if (/^\/v1\/projects\/[^/]+\/thumbnails\/[^/]+:getPixels$/.test(path) && method === "GET")
    return "getPixels";
  return "other";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The request body, refused over `maxBytes` (413). */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (size: string) =>
    new EeApiError(
      413,
      "INVALID_ARGUMENT",
      `Request body${size} exceeds the emulator's ${maxBytes}-byte limit.`,
    );
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge(` (${declared} bytes)`));
  }
  // Plain listeners, not `for await`: an async iterator per request costs the event loop more
  // than the small JSON bodies it reads, and that loop is what timestamps arrivals.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBytes) {
        refused = true;
        reject(tooLarge(""));
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => {
      if (!refused) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.once("error", reject);
  });
}

async function drain(req: http.IncomingMessage, maxBytes: number): Promise<void> {
  await readBody(req, maxBytes);
}

async function readJson(
  req: http.IncomingMessage,
  maxBytes: number,
): Promise<Record<string, unknown>> {
  return parseJsonBody(await readBody(req, maxBytes));
}

/** Verifies an RS256 JWT assertion; returns what is wrong, or undefined when it is valid. */
function checkJwt(assertion: string, publicKeyPem: string): string | undefined {
  const parts = assertion.split(".");
  if (parts.length !== 3) return "Invalid JWT: expected three dot-separated parts.";
  let header: { alg?: string };
  let claims: { iss?: string; aud?: string; exp?: number; iat?: number; scope?: string };
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return "Invalid JWT: header and claims must be base64url JSON.";
  }
  if (header.alg !== "RS256") return `Invalid JWT: alg must be RS256, got ${String(header.alg)}.`;
  let valid = false;
  try {
    valid = verifySignature(
      "RSA-SHA256",
      Buffer.from(`${parts[0]}.${parts[1]}`),
      publicKeyPem,
      Buffer.from(parts[2], "base64url"),
    );
  } catch {
    valid = false;
  }
  if (!valid) return "Invalid JWT Signature.";
  if (!claims.iss) return "Invalid JWT: the iss claim (service account email) is missing.";
  if (typeof claims.aud !== "string" || !/\/token$/.test(claims.aud)) {
    return "Invalid JWT: the aud claim must be the token endpoint URL (…/token).";
  }
  const now = Date.now() / 1000;
  if (
    typeof claims.exp !== "number" ||
    claims.exp < now ||
    (typeof claims.iat === "number" && (claims.iat > now + 300 || claims.exp - claims.iat > 3600))
  ) {
    return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
  }
  return undefined;
}
