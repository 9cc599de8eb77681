/**
 * A pixel request (computePixels' body, or a stored thumbnail's fields) checked against Earth
 * Engine's limits and resolved into what to render: the image, its grid and the file format.
 * Runs on the render threads, so the server's event loop only reads bodies and timestamps
 * requests: with many requests arriving at once, time spent here on the main thread would
 * delay when the later ones are even seen, and that delay is the emulator's, not the model's.
 */
import { BYTES_PER_SAMPLE, commonSampleType, type SampleType } from "../core/samples";
import { crsCodeFromWkt } from "./crs-wkt";
import { invalidArgument } from "./errors";
import { type EeValue, ImageValue } from "./functions-values";
import * as images from "./image";
import { defaultThumbnailGrid } from "./image-thumbnail";
import { type VisParams, visualize } from "./image-visualize";
import type { Grid } from "./model";

/** Earth Engine's computePixels cap: 48 MiB as requestSizeBytes counts it. */
export const MAX_REQUEST_BYTES = 50_331_648;
/** getDownloadURL/getThumbURL cap (32 MiB). */
export const MAX_THUMBNAIL_BYTES = 33_554_432;
export const MAX_GRID_DIMENSION = 32_768;
export const MAX_THUMBNAIL_DIMENSION = 10_000;
export const MAX_BANDS = 1024;
/**
 * Earth Engine refuses requests nested deeper than 100 levels (the official clients' serializers
 * stop inlining at depth 50 "as the backend's limit is 100"; the limit is on the request as
 * parsed, wrapping included). Counted here as JSON object/list nesting of the whole body, which
 * the client's serializer counts alike (3 levels per function argument, list or dictionary
 * item). It also keeps the evaluator, which recurses, safe from hostile bodies.
 */
export const MAX_REQUEST_NESTING = 100;

export type PixelFormat =
  | "GEO_TIFF"
  | "NPY"
  | "PNG"
  | "JPEG"
  | "ZIPPED_GEO_TIFF"
  | "ZIPPED_GEO_TIFF_PER_BAND";

export type PixelSource = "computePixels" | "getPixels";

/** The fields of a pixel request as Earth Engine's REST API names them, unchecked. */
export interface PixelRequestFields {
  expression?: unknown;
  fileFormat?: unknown;
  bandIds?: unknown;
  grid?: unknown;
  /** Thumbnails only: ranges, palette and gamma applied after evaluation. */
  visualizationOptions?: unknown;
}

export interface PixelPlan {
  image: images.EmImage;
  grid: Grid;
  format: PixelFormat;
}

/** A JSON request body as an object, refusing bodies nested too deep to handle safely. */
export function parseJsonBody(raw: Uint8Array): Record<string, unknown> {
  const depth = jsonNestingDepth(raw);
  if (depth > MAX_REQUEST_NESTING) {
    throw invalidArgument(
      `Expression nested too deeply: the request nests ${depth} levels, Earth Engine accepts at most ${MAX_REQUEST_NESTING}. Build deep lists or dictionaries flatter, or assign sub-expressions to variables used more than once so the client hoists them.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8"));
  } catch (error) {
    throw invalidArgument(
      `Invalid JSON payload received. ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalidArgument("Invalid JSON payload received: expected an object.");
  }
  return parsed as Record<string, unknown>;
}

/** Deepest [ / { nesting in a JSON text, counted without recursion; strings are skipped. */
function jsonNestingDepth(raw: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/**
 * What a request asks to render, checked as Earth Engine checks it: an image, a grid within
 * the side and byte limits, at most 1024 bands, a supported format. `memoryLimitPixels` (a
 * fault the emulator can inject) refuses larger grids as Earth Engine's memory limit does.
 */
export function planPixels(
  value: EeValue,
  request: PixelRequestFields,
  source: PixelSource,
  memoryLimitPixels = 0,
): PixelPlan {
  const what = source === "computePixels" ? "image:computePixels" : "getPixels";
  if (!(value instanceof ImageValue)) {
    throw invalidArgument(`${what}: The expression must evaluate to an Image.`);
  }
  let bandIds: string[] | undefined;
  if (Array.isArray(request.bandIds) && request.bandIds.length > 0) {
    if (!request.bandIds.every((b) => typeof b === "string"))
      throw invalidArgument("bandIds must be a list of band names.");
    bandIds = request.bandIds as string[];
  }
  const image = requestedImage(value, request.visualizationOptions, bandIds, source);
  const grid =
    request.grid !== undefined && request.grid !== null
      ? parseGrid(request.grid)
      : defaultGrid(image);
  const format = parseFormat(request.fileFormat, source);
  const maxSide = source === "computePixels" ? MAX_GRID_DIMENSION : MAX_THUMBNAIL_DIMENSION;
  if (grid.width > maxSide || grid.height > maxSide) {
    throw invalidArgument(
      `Grid dimensions (${grid.width}x${grid.height}) must be less than or equal to ${maxSide} pixels on each side.`,
    );
  }
  if (image.bands.length > MAX_BANDS) {
    throw invalidArgument(
      `Number of bands (${image.bands.length}) must be less than or equal to ${MAX_BANDS}.`,
    );
  }
  if (image.bands.length === 0) throw invalidArgument("The image has no bands to compute.");
  const total = requestSizeBytes(
    grid,
    image.bands.map((band) => band.dataType),
  );
  const cap = source === "computePixels" ? MAX_REQUEST_BYTES : MAX_THUMBNAIL_BYTES;
  if (total > cap)
    throw invalidArgument(
      `Total request size (${total} bytes) must be less than or equal to ${cap} bytes.`,
    );
  if (memoryLimitPixels > 0 && grid.width * grid.height > memoryLimitPixels) {
    throw invalidArgument("User memory limit exceeded.");
  }
  return { image, grid, format };
}

/**
 * The size Earth Engine counts against the cap: width * height * bytes * (bands + 1), the mask
 * counted as one more band, with the bytes of the bands' common type. This is what a captured
 * refusal shows ("Total request size (57353670 bytes)" for 1845 x 1727 px of 8 int16 bands),
 * larger than the REST reference's width * height * bands * bytes.
 */
export function requestSizeBytes(
  grid: { width: number; height: number },
  types: readonly SampleType[],
): number {
  const bytes = BYTES_PER_SAMPLE[commonSampleType(types)];
  return grid.width * grid.height * bytes * (types.length + 1);
}

/**
 * The evaluated image with bandIds, then visualizationOptions, applied: Earth Engine's REST
 * reference selects bandIds "from the result of evaluating expression" and visualizes the
 * selection into 8-bit RGB (computePixels, thumbnails and getPixels alike).
 */
export function requestedImage(
  value: EeValue,
  visualizationOptions: unknown,
  bandIds: string[] | undefined,
  source: PixelSource,
): images.EmImage {
  if (!(value instanceof ImageValue)) {
    throw invalidArgument(
      `${source === "computePixels" ? "image:computePixels" : "getPixels"}: The expression must evaluate to an Image.`,
    );
  }
  const selected =
    bandIds && bandIds.length > 0 ? images.select(value.image, bandIds) : value.image;
  const params = visualizationParams(visualizationOptions);
  return params ? visualize(selected, params) : selected;
}

/**
 * A request's visualizationOptions (REST VisualizationOptions: ranges [{min, max}],
 * paletteColors, gamma {value}, opacity {value}) as Image.visualize's parameters; undefined
 * when there are none. A field the emulator does not apply is refused, never ignored.
 */
export function visualizationParams(raw: unknown): VisParams | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw))
    throw invalidArgument("visualizationOptions must be an object.");
  const options = raw as Record<string, unknown>;
  const known = new Set(["ranges", "paletteColors", "gamma", "opacity"]);
  const unknown = Object.keys(options).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw invalidArgument(
      `visualizationOptions.${unknown[0]} is not supported by the ee-snippets emulator: use ranges, paletteColors, gamma and opacity.`,
    );
  }
  const params: VisParams = {};
  const { ranges, paletteColors, gamma, opacity } = options;
  if (ranges !== undefined) {
    if (!Array.isArray(ranges) || ranges.length === 0)
      throw invalidArgument("visualizationOptions.ranges must be a list of {min, max}.");
    // An absent bound is proto3's default, 0 (JSON encoders may drop zero fields).
    const bound = (r: unknown, key: "min" | "max", i: number): number => {
      const v = (r as Record<string, unknown> | null)?.[key] ?? 0;
      if (typeof v !== "number" || !Number.isFinite(v))
        throw invalidArgument(`visualizationOptions.ranges[${i}].${key} must be a number.`);
      return v;
    };
    params.min = ranges.map((r, i) => bound(r, "min", i));
    params.max = ranges.map((r, i) => bound(r, "max", i));
  }
  if (paletteColors !== undefined) {
    if (!Array.isArray(paletteColors) || !paletteColors.every((c) => typeof c === "string"))
      throw invalidArgument("visualizationOptions.paletteColors must be a list of colour strings.");
    params.palette = paletteColors as string[];
  }
  // DoubleValue wrappers: proto3 JSON writes them as plain numbers (the JS client's
  // getMapId/getThumbURL send `"gamma": 1.35`); the {"value": n} form is read too.
  const wrapped = (field: unknown, name: string): number | undefined => {
    if (field === undefined) return undefined;
    const v = typeof field === "number" ? field : (field as { value?: unknown } | null)?.value;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw invalidArgument(
        `visualizationOptions.${name} must be a number (or {"value": <number>}).`,
      );
    return v;
  };
  const g = wrapped(gamma, "gamma");
  if (g !== undefined) params.gamma = g;
  const o = wrapped(opacity, "opacity");
  if (o !== undefined) params.opacity = o;
  return Object.keys(params).length > 0 ? params : undefined;
}

/** computePixels' `grid` field (PixelGrid) -> Grid, validated. */
export function parseGrid(raw: unknown): Grid {
  const grid = raw as {
    crsCode?: unknown;
    crsWkt?: unknown;
    affineTransform?: Record<string, unknown>;
    dimensions?: { width?: unknown; height?: unknown };
  };
  if (typeof grid !== "object" || grid === null) throw invalidArgument("grid must be an object.");
  if (grid.crsCode !== undefined && grid.crsWkt !== undefined)
    throw invalidArgument("grid: give crsCode or crsWkt, not both.");
  let crsCode: string;
  if (typeof grid.crsCode === "string") crsCode = grid.crsCode;
  else if (typeof grid.crsWkt === "string") crsCode = crsCodeFromWkt(grid.crsWkt);
  else
    throw invalidArgument(
      'grid.crsCode (e.g. "EPSG:32617") or grid.crsWkt (the CRS as Well-Known Text) is required.',
    );
  const t = grid.affineTransform ?? {};
  const num = (v: unknown, name: string, fallback?: number): number => {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw invalidArgument(`grid.affineTransform.${name} must be a number.`);
    return v;
  };
  const affine = {
    scaleX: num(t.scaleX, "scaleX"),
    shearX: num(t.shearX, "shearX", 0),
    translateX: num(t.translateX, "translateX", 0),
    shearY: num(t.shearY, "shearY", 0),
    scaleY: num(t.scaleY, "scaleY"),
    translateY: num(t.translateY, "translateY", 0),
  };
  if (affine.scaleX === 0 || affine.scaleY === 0)
    throw invalidArgument("grid.affineTransform scales must be non-zero.");
  const width = grid.dimensions?.width;
  const height = grid.dimensions?.height;
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    (width as number) < 1 ||
    (height as number) < 1
  ) {
    throw invalidArgument("grid.dimensions.width and height must be positive integers.");
  }
  return { crsCode, affine, width: width as number, height: height as number };
}

/** Without a grid: the image's own bounded grid (clipToBoundsAndScale sets it), else the thumbnail default. */
function defaultGrid(image: images.EmImage): Grid {
  const band = image.bands[0];
  if (band?.dimensions && !image.thumbnailHint) {
    const [a, b, c, d, e, f] = band.crsTransform;
    return {
      crsCode: band.crsCode,
      affine: { scaleX: a, shearX: b, translateX: c, shearY: d, scaleY: e, translateY: f },
      width: band.dimensions[0],
      height: band.dimensions[1],
    };
  }
  return defaultThumbnailGrid(image, {});
}

function parseFormat(raw: unknown, source: "computePixels" | "getPixels"): PixelFormat {
  const format = raw === undefined || raw === null ? "AUTO_JPEG_PNG" : String(raw);
  switch (format) {
    case "GEO_TIFF":
    case "NPY":
    case "PNG":
    case "JPEG":
      return format;
    case "AUTO_JPEG_PNG":
      // Earth Engine picks PNG when the image has masked pixels; PNG is always correct.
      return "PNG";
    case "ZIPPED_GEO_TIFF":
    case "ZIPPED_GEO_TIFF_PER_BAND":
      if (source === "getPixels") return format;
      break;
  }
  throw invalidArgument(
    `fileFormat '${format}' is not supported by the ee-snippets emulator: use GEO_TIFF, NPY, PNG or JPEG${source === "getPixels" ? " (downloads also ZIPPED_GEO_TIFF, ZIPPED_GEO_TIFF_PER_BAND)" : ""}.`,
  );
}
