/**
 * POST /v1/projects/{p}/thumbnails stores a thumbnail request under a name (getThumbURL);
 * GET /v1/{name}:getPixels renders it (the thumbnail URL the client hands out).
 */
import { createHash } from "node:crypto";
import { EeApiError } from "../errors";
import { evaluateExpression } from "../evaluate";
import { type Handler, jsonReply } from "../http";
import type { Pacer } from "../pacing";
import type { PixelRequestFields } from "../pixel-request";
import type { PixelRenderer } from "./pixels";

/** Oldest thumbnails are forgotten past this, so a long session cannot grow without bound. */
const MAX_STORED_THUMBNAILS = 2000;

export class ThumbnailStore {
  private readonly records = new Map<string, PixelRequestFields>();

  add(name: string, record: PixelRequestFields): void {
    if (this.records.size >= MAX_STORED_THUMBNAILS) {
      this.records.delete(this.records.keys().next().value as string);
    }
    this.records.set(name, record);
  }

  get(name: string): PixelRequestFields | undefined {
    return this.records.get(name);
  }
}

export function createThumbnailHandler(store: ThumbnailStore, pacer: Pacer): Handler {
  return async (context) => {
    const body = await context.json();
    // Evaluate now so a bad expression fails in getThumbURL's callback, as in Earth Engine.
    evaluateExpression(body.expression);
    const fileFormat = typeof body.fileFormat === "string" ? body.fileFormat : "AUTO_JPEG_PNG";
    const project = /^\/v1\/projects\/([^/]+)\//.exec(context.url.pathname)?.[1] ?? "emulator";
    const digest = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 32);
    const name = `projects/${project}/thumbnails/${digest}`;
    store.add(name, {
      expression: body.expression,
      fileFormat,
      bandIds: Array.isArray(body.bandIds) ? (body.bandIds as string[]) : undefined,
      visualizationOptions: body.visualizationOptions,
      grid: body.grid,
    });
    await pacer.latency(context.started);
    return jsonReply(200, { name });
  };
}

export function getPixelsHandler(store: ThumbnailStore, renderer: PixelRenderer): Handler {
  return async (context) => {
    await context.drain();
    const path = context.url.pathname;
    const name = decodeURIComponent(path.slice("/v1/".length, -":getPixels".length));
    const record = store.get(name);
    if (!record)
      throw new EeApiError(
        404,
        "NOT_FOUND",
        `Thumbnail '${name}' not found: create it with POST .../thumbnails first.`,
      );
    return renderer.reply({ source: "getPixels", request: { ...record } }, context.started);
  };
}
