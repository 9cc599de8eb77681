/**
 * Earth Engine's maps API: POST /v1/projects/{p}/maps stores a visualized image under a map
 * name (the client's getMapId / getMap); GET /v1/{name}/tiles/{z}/{x}/{y} renders one 256 px
 * Web Mercator tile of it through the same pixel path as computePixels, at the cost model's
 * price for 65,536 pixels.
 */
import { createHash } from "node:crypto";
import { WEB_MERCATOR_HALF_WORLD } from "../../core/crs";
import { EeApiError, invalidArgument } from "../errors";
import { evaluateExpression } from "../evaluate";
import { type Handler, jsonReply } from "../http";
import type { Pacer } from "../pacing";
import { type PixelRequestFields, requestedImage } from "../pixel-request";
import type { PixelRenderer } from "./pixels";

/** Web map tiles are 256 px squares: zoom z cuts the Mercator world into 2^z x 2^z of them. */
export const TILE_SIZE = 256;
/**
 * Deepest zoom served: at 24 a tile pixel is about 1 cm at the equator, far below any
 * imagery; web maps (Leaflet, Google Maps) stop well before.
 */
export const MAX_ZOOM = 24;
/** Oldest maps are forgotten past this, so a long session cannot grow without bound. */
const MAX_STORED_MAPS = 2000;

/** What a map name stands for: the request fields every tile of it is rendered from. */
export type MapRecord = Required<Pick<PixelRequestFields, "expression" | "fileFormat">> &
  Pick<PixelRequestFields, "bandIds" | "visualizationOptions">;

export class MapStore {
  private readonly records = new Map<string, MapRecord>();

  add(name: string, record: MapRecord): void {
    if (this.records.size >= MAX_STORED_MAPS && !this.records.has(name)) {
      this.records.delete(this.records.keys().next().value as string);
    }
    this.records.set(name, record);
  }

  get(name: string): MapRecord | undefined {
    return this.records.get(name);
  }
}

/** The computePixels grid (REST form) of tile (x, y) at `zoom`: EPSG:3857, 256 x 256 px. */
export function tileGrid(zoom: number, x: number, y: number) {
  const tileMetres = (2 * WEB_MERCATOR_HALF_WORLD) / 2 ** zoom;
  const pixel = tileMetres / TILE_SIZE;
  return {
    crsCode: "EPSG:3857",
    affineTransform: {
      scaleX: pixel,
      shearX: 0,
      translateX: -WEB_MERCATOR_HALF_WORLD + x * tileMetres,
      shearY: 0,
      scaleY: -pixel,
      translateY: WEB_MERCATOR_HALF_WORLD - y * tileMetres,
    },
    dimensions: { width: TILE_SIZE, height: TILE_SIZE },
  };
}

/** The map's file format: tiles are images, so PNG (AUTO_JPEG_PNG picks it) or JPEG. */
function mapFormat(raw: unknown): "PNG" | "JPEG" {
  const format = raw === undefined || raw === null || raw === "" ? "AUTO_JPEG_PNG" : String(raw);
  if (format === "AUTO_JPEG_PNG" || format === "PNG") return "PNG";
  if (format === "JPEG") return "JPEG";
  throw invalidArgument(
    `fileFormat '${format}' cannot be a map's format: map tiles are PNG, JPEG or AUTO_JPEG_PNG.`,
  );
}

export function createMapHandler(store: MapStore, pacer: Pacer): Handler {
  return async (context) => {
    const body = await context.json();
    const fileFormat = mapFormat(body.fileFormat);
    const bandIds =
      Array.isArray(body.bandIds) && body.bandIds.length > 0 ? body.bandIds : undefined;
    if (bandIds && !bandIds.every((band) => typeof band === "string")) {
      throw invalidArgument("bandIds must be a list of band names.");
    }
    // Checked now, as Earth Engine does, so a map that cannot draw fails in getMapId's
    // callback rather than as a page of broken tiles.
    const image = requestedImage(
      evaluateExpression(body.expression),
      body.visualizationOptions,
      bandIds as string[] | undefined,
      "getPixels",
    );
    if (image.bands.length !== 1 && image.bands.length !== 3) {
      throw invalidArgument(
        `A map shows 1 or 3 bands; this image has ${image.bands.length} (${image.bands
          .map((band) => band.id)
          .join(
            ", ",
          )}): select or visualize them first, e.g. visualize({bands: ["B8", "B4", "B3"], min: 0, max: 5000}).`,
      );
    }
    const project = /^\/v1\/projects\/([^/]+)\//.exec(context.url.pathname)?.[1] ?? "emulator";
    const digest = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 32);
    const name = `projects/${project}/maps/${digest}`;
    store.add(name, {
      expression: body.expression,
      fileFormat,
      bandIds,
      visualizationOptions: body.visualizationOptions,
    });
    await pacer.latency(context.started);
    return jsonReply(200, { name });
  };
}

/** A path segment as Earth Engine's int32 path parameters read it, or its 400. */
function int32(field: string, raw: string): number {
  if (!/^-?\d{1,10}$/.test(raw) || Math.abs(Number(raw)) > 2 ** 31 - 1) {
    throw invalidArgument(`Invalid value at '${field}' (TYPE_INT32), "${decodeURIComponent(raw)}"`);
  }
  return Number(raw);
}

const TILE_PATH = /^\/v1\/(projects\/[^/]+\/maps\/[^/]+)\/tiles\/([^/]+)\/([^/]+)\/([^/]+)$/;

export function getTileHandler(store: MapStore, renderer: PixelRenderer): Handler {
  return async (context) => {
    await context.drain();
    const match = TILE_PATH.exec(context.url.pathname);
    if (!match) {
      throw invalidArgument("A tile path is /v1/projects/{p}/maps/{id}/tiles/{zoom}/{x}/{y}.");
    }
    const zoom = int32("zoom", match[2]);
    const x = int32("x", match[3]);
    const y = int32("y", match[4]);
    if (zoom < 0 || zoom > MAX_ZOOM) {
      throw invalidArgument(`Tile zoom ${zoom} is outside 0..${MAX_ZOOM}.`);
    }
    const last = 2 ** zoom - 1;
    if (x < 0 || x > last || y < 0 || y > last) {
      throw invalidArgument(
        `Tile (${x}, ${y}) is outside the world at zoom ${zoom}: x and y run from 0 to ${last}.`,
      );
    }
    const name = decodeURIComponent(match[1]);
    const record = store.get(name);
    if (!record) {
      throw new EeApiError(
        404,
        "NOT_FOUND",
        `Map '${name}' not found: create it with getMapId (POST .../maps) first; map names last as long as the emulator runs.`,
      );
    }
    return renderer.reply(
      { source: "getPixels", request: { ...record, grid: tileGrid(zoom, x, y) } },
      context.started,
    );
  };
}
