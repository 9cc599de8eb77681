/**
 * What a download will write and how it asks for it: the output file (one sample type, its
 * size checked against the cap, the GeoTIFF spec) and the request windows over the grid.
 * The grid itself is grid.ts's, the window arithmetic tiles.ts's.
 */
import { BYTES_PER_SAMPLE, commonSampleType, maskedFill, type SampleType } from "../core/samples";
import type { GeoTiffSpec } from "../geotiff/spec";
import { type ImageBands, METRES_PER_DEGREE } from "./bands";
import { formatBytes, OutputTooLargeError } from "./errors";
import type { OutputGrid } from "./grid";
import type { DownloadOptions } from "./options";
import { planTiles, type RequestTile, requestBytes } from "./tiles";

/** The usual internal tile size (GDAL's and COG's choice for large rasters). */
const DEFAULT_TILE_SIZE = 512;
const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 ** 3;
const DEFAULT_MIN_REQUESTS = 4;
/** Downloads use a fast deflate level: see DownloadOptions.deflateLevel. */
const DEFAULT_DEFLATE_LEVEL = 1;
/**
 * Preferred request size: 16 MiB replies instead of maximal 48 MiB ones, so one download has
 * several requests in flight within the byte budget, and the first tiles reach the disk sooner.
 */
const TARGET_REQUEST_BYTES = 16 * 1024 * 1024;
/** Requests of one download the byte budget should be able to hold at once. */
const REQUESTS_PER_BUDGET = 6;

/**
 * 512, or for an image that fits in one such tile the smallest multiple of 16 (TIFF's rule for
 * tile sizes) that holds it: a 100 x 101 px snippet is then one 112 px tile, so the client
 * copies, filters and deflates 12.5k pixels instead of a 512 px tile's 262k, most of them
 * padding.
 */
export function defaultTileSize(width: number, height: number): number {
  const side = Math.max(width, height);
  if (side >= DEFAULT_TILE_SIZE) return DEFAULT_TILE_SIZE;
  return Math.max(16, Math.ceil(side / 16) * 16);
}

/** The file a download writes. */
export interface OutputPlan {
  sampleType: SampleType;
  /** Uncompressed pixel bytes of the whole image. */
  pixelBytes: number;
  spec: GeoTiffSpec & { tileSize: number };
}

/**
 * The output for these bands: one sample type for all, the GeoTIFF spec, and warnings for
 * upsampling and promoted types. Throws OutputTooLargeError over the size cap.
 */
export function planOutput(
  grid: OutputGrid,
  bands: ImageBands,
  options: DownloadOptions,
  tileSize: number,
  warnings: string[],
): OutputPlan {
  const sampleType = commonSampleType(bands.types);
  const pixelBytes = grid.width * grid.height * bands.names.length * BYTES_PER_SAMPLE[sampleType];
  const scaleWarning = upsamplingWarning(grid, options, bands, pixelBytes);
  if (scaleWarning) warnings.push(scaleWarning);
  if (new Set(bands.types).size > 1) {
    warnings.push(
      `Bands have different types (${bands.types.join(", ")}); all are written as ${sampleType}.`,
    );
  }
  const cap = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (pixelBytes > cap && options.allowLarge !== true) {
    throw new OutputTooLargeError(
      pixelBytes,
      cap,
      `${grid.width}x${grid.height} px x ${bands.names.length} bands of ${sampleType} at scale ${options.scale}`,
    );
  }
  const cog = options.cog !== false;
  const spec = {
    width: grid.width,
    height: grid.height,
    bands: bands.names.length,
    sampleType,
    epsg: grid.epsg,
    transform: grid.transform,
    // Where Earth Engine filled masked pixels (core's maskedFill), unless unmasked with nodata.
    nodata: options.nodata ?? maskedFill(sampleType),
    bandNames: bands.names,
    tileSize,
    compression: "deflate" as const,
    deflateLevel: options.deflateLevel ?? DEFAULT_DEFLATE_LEVEL,
    overviews: cog ? (options.resampling ?? resamplingFor(bands.names)) : ("none" as const),
    cloudOptimized: cog,
    metadata: {
      ...options.metadata,
      SCALE: String(options.scale),
      CRS: grid.crsCode,
    },
  };
  return { sampleType, pixelBytes, spec };
}

/**
 * Band names of classifications: Sentinel-2's scene classification (SCL) and QA bands, cloud
 * and other masks (MSK_CLDPRB is a probability, but MSK_CLASSI_* are flags), land-cover maps.
 */
const CLASSIFIED_BAND = /^(SCL|QA\d*|MSK_CLASSI_\w+|\w*mask|\w*class\w*|label|landcover|Map)$/i;

/** "nearest" when every band is a classification (see CLASSIFIED_BAND), else "average". */
export function resamplingFor(bandNames: readonly string[]): "average" | "nearest" {
  return bandNames.length > 0 && bandNames.every((name) => CLASSIFIED_BAND.test(name))
    ? "nearest"
    : "average";
}

/**
 * Request windows over the grid: within maxRequestBytes, aligned to the file's tiles, and
 * enough of them that several fit in the byte budget at once (see TARGET_REQUEST_BYTES).
 */
export function planWindows(
  grid: OutputGrid,
  bands: ImageBands,
  o: { tileSize: number; maxRequestBytes: number; minRequests?: number; budgetBytes: number },
): RequestTile[] {
  const bandBytes = bands.types.map((t) => BYTES_PER_SAMPLE[t]);
  const sampleBytes = BYTES_PER_SAMPLE[commonSampleType(bands.types)];
  const preferred = Math.min(TARGET_REQUEST_BYTES, o.budgetBytes / REQUESTS_PER_BUDGET);
  return planTiles(grid, {
    bandBytes,
    sampleBytes,
    maxRequestBytes: o.maxRequestBytes,
    tileSize: o.tileSize,
    minWindows: Math.max(
      o.minRequests ?? DEFAULT_MIN_REQUESTS,
      Math.ceil(requestBytes(grid.width, grid.height, bandBytes, sampleBytes) / preferred),
    ),
  });
}

function upsamplingWarning(
  grid: OutputGrid,
  options: DownloadOptions,
  bands: ImageBands,
  bytes: number,
): string | undefined {
  const toMetres = grid.epsg === 4326 ? METRES_PER_DEGREE : 1;
  const nativeMetres =
    options.nativeScale !== undefined ? options.nativeScale * toMetres : bands.nativeScaleMetres;
  if (nativeMetres === undefined) return undefined;
  const scaleMetres = options.scale * toMetres;
  if (scaleMetres >= nativeMetres * 0.999) return undefined;
  const factor = (nativeMetres / scaleMetres) ** 2;
  const nativeOptionScale = nativeMetres / toMetres;
  const nativeBytes = bytes / factor;
  return `scale ${options.scale} is finer than the data's native ${round(nativeOptionScale)}: every source pixel becomes ~${round(
    factor,
  )} output pixels with no extra detail. Estimated output ${grid.width}x${grid.height} px, ${formatBytes(
    bytes,
  )} uncompressed; scale ${round(nativeOptionScale)} would give ~${formatBytes(nativeBytes)}.`;
}

function round(n: number): string {
  return Number(n.toPrecision(3)).toString();
}
