/**
 * The emulator's HTTP server: a route table from Earth Engine's REST v1 resources (and the
 * token and admin endpoints) to one handler each, in src/emulator/routes/. Around every
 * handler: request counts (stats.ts), quotas and injected faults (admission.ts), Bearer
 * checks on /v1 (auth.ts), and modelled time and bandwidth (pacing.ts).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { AdmissionControl, type RouteKind } from "./admission";
import { AccessTokens, type AuthOptions } from "./auth";
import type { CostModel } from "./costs";
import { asInputError, EeApiError, invalidArgument } from "./errors";
import { errorReply, type Handler, type Reply, RequestContext } from "./http";
import { Pacer } from "./pacing";
import {
  defaultRenderThreads,
  RenderPool,
  RenderPoolClosedError,
  type RenderPoolStats,
} from "./render-pool";
import { adminHandler } from "./routes/admin";
import { algorithmsHandler } from "./routes/algorithms";
import { DISCOVERY_PATH, discoveryHandler } from "./routes/discovery";
import { createMapHandler, getTileHandler, MapStore } from "./routes/maps";
import { computePixelsHandler, PixelRenderer } from "./routes/pixels";
import { createThumbnailHandler, getPixelsHandler, ThumbnailStore } from "./routes/thumbnails";
import { tokenHandler } from "./routes/token";
import { valueHandler } from "./routes/value";
import { type EmulatorStats, RequestStats } from "./stats";

export type { AuthOptions } from "./auth";
export type { EmulatorStats, EndpointStats } from "./stats";

export interface ServerOptions {
  model: CostModel;
  auth?: AuthOptions;
  /** Request bodies above this get 413 (Earth Engine's own cap is about 10 MB). */
  maxBodyBytes?: number;
  /** Worker threads rendering pixels; default defaultRenderThreads() (from the core count). */
  renderThreads?: number;
}

export interface EmulatorStatus {
  model: CostModel;
  stats: EmulatorStats;
  /** The emulator's own render threads: not part of the model, shown so a reader can check them. */
  render: RenderPoolStats;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** One resource: which requests it serves, how admission treats them, and who answers. */
interface Route {
  /** The name request counts are kept under (GET /emulator/status, stats.byEndpoint). */
  endpoint: string;
  /** undefined: any method (the handler answers wrong ones in its own protocol's words). */
  method?: "GET" | "POST";
  path: RegExp;
  kind: RouteKind;
  /** Served without the Bearer check even when the emulator requires tokens. */
  public?: boolean;
  handler: Handler;
  /** The discovery document's method id for Earth Engine's routes (routes/discovery.ts). */
  discoveryId?: string;
}

/** A route as the discovery test sees it. */
export interface RouteDescription {
  endpoint: string;
  method?: "GET" | "POST";
  path: RegExp;
  discoveryId?: string;
}

const PROJECT = "/v1/projects/[^/]+";

export class EmulatorServer {
  readonly server: http.Server;
  private readonly routes: Route[];
  private readonly stats = new RequestStats();
  private readonly admission: AdmissionControl;
  private readonly pacer: Pacer;
  private readonly tokens: AccessTokens;
  private readonly renderPool: RenderPool;

  constructor(private readonly options: ServerOptions) {
    this.renderPool = new RenderPool({
      threads: options.renderThreads ?? defaultRenderThreads(),
    });
    this.admission = new AdmissionControl(options.model);
    this.pacer = new Pacer(options.model);
    this.tokens = new AccessTokens(options.auth);
    const pixels = new PixelRenderer(this.renderPool, options.model, this.pacer);
    const thumbnails = new ThumbnailStore();
    const maps = new MapStore();
    const token = tokenHandler(this.tokens);
    this.routes = [
      { endpoint: "token", path: /^\/token$/, kind: "token", handler: this.countingTokens(token) },
      { endpoint: "admin", path: /^\/emulator\//, kind: "metadata", handler: adminHandler(this) },
      {
        endpoint: "discovery",
        method: "GET",
        path: new RegExp(`^${DISCOVERY_PATH.replace("$", "\\$")}$`),
        kind: "metadata",
        handler: discoveryHandler(this.pacer),
      },
      {
        endpoint: "algorithms",
        discoveryId: "earthengine.projects.algorithms.list",
        method: "GET",
        path: new RegExp(`^${PROJECT}/algorithms$`),
        kind: "metadata",
        handler: algorithmsHandler(this.pacer),
      },
      {
        endpoint: "compute",
        discoveryId: "earthengine.projects.value.compute",
        method: "POST",
        path: new RegExp(`^${PROJECT}/value:compute$`),
        kind: "work",
        handler: valueHandler(this.pacer),
      },
      {
        endpoint: "computePixels",
        discoveryId: "earthengine.projects.image.computePixels",
        method: "POST",
        path: new RegExp(`^${PROJECT}/image:computePixels$`),
        kind: "work",
        handler: computePixelsHandler(pixels),
      },
      {
        endpoint: "thumbnails",
        discoveryId: "earthengine.projects.thumbnails.create",
        method: "POST",
        path: new RegExp(`^${PROJECT}/thumbnails$`),
        kind: "work",
        handler: createThumbnailHandler(thumbnails, this.pacer),
      },
      {
        endpoint: "getPixels",
        discoveryId: "earthengine.projects.thumbnails.getPixels",
        method: "GET",
        path: new RegExp(`^${PROJECT}/thumbnails/[^/]+:getPixels$`),
        kind: "work",
        handler: getPixelsHandler(thumbnails, pixels),
      },
      {
        endpoint: "maps",
        method: "POST",
        path: new RegExp(`^${PROJECT}/maps$`),
        kind: "work",
        handler: createMapHandler(maps, this.pacer),
        discoveryId: "earthengine.projects.maps.create",
      },
      {
        endpoint: "tiles",
        method: "GET",
        path: new RegExp(`^${PROJECT}/maps/[^/]+/tiles/[^/]+/[^/]+/[^/]+$`),
        kind: "work",
        // A map name is the capability: web pages load tiles with no Authorization header.
        public: true,
        handler: getTileHandler(maps, pixels),
        discoveryId: "earthengine.projects.maps.tiles.get",
      },
    ];
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
    return {
      model: this.options.model,
      stats: this.stats.snapshot(),
      render: this.renderPool.stats(),
    };
  }

  resetStats(): void {
    this.stats.reset();
  }

  /** The route table, without handlers. */
  routeTable(): RouteDescription[] {
    return this.routes.map(({ endpoint, method, path, discoveryId }) => ({
      endpoint,
      method,
      path,
      discoveryId,
    }));
  }

  private countingTokens(handler: Handler): Handler {
    return (context) => {
      this.stats.countTokenRequest();
      return handler(context);
    };
  }

  private match(method: string, path: string): Route | undefined {
    return this.routes.find(
      (route) => (!route.method || route.method === method) && route.path.test(path),
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const route = this.match(req.method ?? "GET", url.pathname);
    const kind = route?.kind ?? "metadata";
    const counters = this.stats.begin(route?.endpoint ?? "other");
    let status = 0;
    try {
      const admission = await this.admission.admit(kind, started);
      if (admission.kind === "reset") {
        status = -1;
        req.socket.destroy();
        return;
      }
      const context = new RequestContext(
        req,
        url,
        started,
        this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      );
      const reply =
        admission.kind === "refuse" ? admission.reply : await this.answer(route, context);
      status = reply.status;
      await this.pacer.send(res, reply, admission.truncate);
    } finally {
      this.admission.release(kind);
      this.stats.end(counters, status);
    }
  }

  /** The route's reply, with errors in Earth Engine's JSON shape. */
  private async answer(route: Route | undefined, context: RequestContext): Promise<Reply> {
    try {
      if (context.url.pathname.startsWith("/v1/") && this.tokens.enabled && !route?.public)
        this.tokens.authorize(context.req);
      if (!route) {
        await context.drain();
        throw new EeApiError(
          404,
          "NOT_FOUND",
          `The ee-snippets emulator does not serve ${context.method} ${context.url.pathname}.`,
        );
      }
      return await route.handler(context);
    } catch (error) {
      if (error instanceof EeApiError) return errorReply(error);
      if (error instanceof RenderPoolClosedError)
        return errorReply(new EeApiError(503, "UNAVAILABLE", error.message));
      const input = asInputError(error);
      if (input) return errorReply(invalidArgument(input.message));
      throw error;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
