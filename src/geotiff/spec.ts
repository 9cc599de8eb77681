import { GeoTiffSpecError } from "./errors";
import { type OverviewResampling, overviewLevels } from "./overviews";

export type { SampleArray, SampleType } from "../core/samples";

import { BYTES_PER_SAMPLE, INTEGER_RANGES, type SampleType } from "../core/samples";

export interface GeoTiffSpec {
  width: number;
  height: number;
  bands: number;
  sampleType: SampleType;
  /** 4326 or WGS84 UTM 32601-32660 / 32701-32760 */
  epsg: number;
  /**
   * Earth Engine-style affine [scaleX, shearX, translateX, shearY, scaleY, translateY]; shear 0
   * (and north-up) -> ModelPixelScale+ModelTiepoint, else ModelTransformation.
   */
  transform: [number, number, number, number, number, number];
  /** GDAL_NODATA tag (42113) */
  nodata?: number;
  /** Per-band DESCRIPTION in GDAL metadata (tag 42112), shown by gdalinfo. */
  bandNames?: string[];
  /** Internal tile side in pixels; default 512, multiple of 16. */
  tileSize?: number;
  /** Default "deflate" for GeoTiffWriter, "none" for encodeGeoTiff (speed over size there). */
  compression?: "deflate" | "none";
  /** zlib level 1 (fastest) to 9 (smallest); default 6, GDAL's default ZLEVEL. */
  deflateLevel?: number;
  /**
   * Horizontal differencing (TIFF Predictor 2) before deflate; integer types only. Default: on
   * for integer types when compressing (smooth imagery shrinks a lot, see bench/geotiff-write.ts).
   */
  predictor?: boolean;
  /** Default "auto": BigTIFF when the file could pass 4 GiB (compressed size upper bound). */
  bigTiff?: boolean | "auto";
  /**
   * Overviews in 2x steps until the image fits in one tile, computed from the tiles as they
   * are written (see overviews.ts for the two methods). Default "none".
   */
  overviews?: OverviewResampling | "none";
  /**
   * The COG layout GDAL's COG driver writes (header, its structural metadata, every IFD, then
   * the tiles from the smallest overview to full resolution, each row by row, with a size
   * leader and a repeated trailer): readable by range requests. Default false.
   */
  cloudOptimized?: boolean;
  /** Dataset metadata items (name -> text) in GDAL's metadata tag, shown by gdalinfo and QGIS. */
  metadata?: Record<string, string>;
}

/** A validated spec with every default decided and the tile grid worked out. */
export interface ResolvedSpec {
  width: number;
  height: number;
  bands: number;
  sampleType: SampleType;
  bytesPerSample: number;
  /** TIFF SampleFormat: 1 unsigned integer, 2 signed integer, 3 IEEE float. */
  sampleFormat: 1 | 2 | 3;
  epsg: number;
  transform: [number, number, number, number, number, number];
  nodata: number | undefined;
  bandNames: string[] | undefined;
  tileSize: number;
  compression: "deflate" | "none";
  deflateLevel: number;
  predictor: boolean;
  bigTiff: boolean;
  /** How overviews are resampled; undefined: no overviews. */
  overviews: OverviewResampling | undefined;
  /** Overview levels (0 without overviews or when the image fits in one tile). */
  overviewCount: number;
  cloudOptimized: boolean;
  metadata: [string, string][];
  tilesAcross: number;
  tilesDown: number;
  tileCount: number;
  /** Bytes of one full, uncompressed tile (tileSize^2 * bands * bytesPerSample). */
  tileBytes: number;
  /** Upper bound of the finished file's size. */
  maxFileBytes: number;
}

/** TIFF's SampleFormat tag for a sample type: 1 unsigned integer, 2 signed integer, 3 IEEE float. */
export function sampleFormat(type: SampleType): 1 | 2 | 3 {
  const range = INTEGER_RANGES[type];
  if (range === null) return 3;
  return range[0] < 0 ? 2 : 1;
}

const DEFAULT_TILE_SIZE = 512;
const DEFAULT_DEFLATE_LEVEL = 6;
/** Largest offset a classic TIFF's 32-bit fields can hold. */
export const CLASSIC_TIFF_MAX_BYTES = 2 ** 32 - 1;

/** Validates a spec and decides every default; `defaultCompression` differs per entry point. */
export function resolveSpec(
  spec: GeoTiffSpec,
  defaultCompression: "deflate" | "none",
): ResolvedSpec {
  const fail = (message: string): never => {
    throw new GeoTiffSpecError(message);
  };
  if (spec === null || typeof spec !== "object") fail("Expected a GeoTiffSpec object.");
  const { width, height, bands } = spec;
  for (const [name, value, max] of [
    ["width", width, CLASSIC_TIFF_MAX_BYTES],
    ["height", height, CLASSIC_TIFF_MAX_BYTES],
    ["bands", bands, 65535],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      fail(`GeoTiffSpec.${name} must be an integer from 1 to ${max}, got ${String(value)}.`);
    }
  }
  if (!Object.hasOwn(BYTES_PER_SAMPLE, spec.sampleType)) {
    fail(
      `GeoTiffSpec.sampleType must be one of ${Object.keys(BYTES_PER_SAMPLE).join(", ")}, got ${String(
        spec.sampleType,
      )}.`,
    );
  }
  const bytesPerSample = BYTES_PER_SAMPLE[spec.sampleType];
  const format = sampleFormat(spec.sampleType);
  const range = INTEGER_RANGES[spec.sampleType];
  if (!isSupportedEpsg(spec.epsg)) {
    fail(
      `GeoTiffSpec.epsg must be 4326 or a WGS84 UTM zone (32601-32660 north, 32701-32760 south), got ${String(
        spec.epsg,
      )}.`,
    );
  }
  const t = spec.transform;
  if (!Array.isArray(t) || t.length !== 6 || !t.every((v) => Number.isFinite(v))) {
    fail(
      "GeoTiffSpec.transform must be 6 finite numbers [scaleX, shearX, translateX, shearY, scaleY, translateY].",
    );
  }
  if (t[0] * t[4] - t[1] * t[3] === 0) {
    fail(`GeoTiffSpec.transform [${t.join(", ")}] is degenerate (zero pixel size).`);
  }
  const nodata = spec.nodata;
  if (nodata !== undefined) {
    if (typeof nodata !== "number") fail("GeoTiffSpec.nodata must be a number.");
    if (range !== null && (!Number.isInteger(nodata) || nodata < range[0] || nodata > range[1])) {
      fail(
        `GeoTiffSpec.nodata ${nodata} cannot be stored as ${spec.sampleType}: use an integer from ${range[0]} to ${range[1]}.`,
      );
    }
  }
  if (spec.bandNames !== undefined) {
    if (!Array.isArray(spec.bandNames) || spec.bandNames.length !== bands) {
      fail(`GeoTiffSpec.bandNames must have one name per band (${bands}).`);
    }
    if (!spec.bandNames.every((n) => typeof n === "string")) {
      fail("GeoTiffSpec.bandNames must be strings.");
    }
  }
  const tileSize = spec.tileSize ?? DEFAULT_TILE_SIZE;
  // TIFF 6.0 requires tile sides to be multiples of 16.
  if (!Number.isInteger(tileSize) || tileSize < 16 || tileSize > 32768 || tileSize % 16 !== 0) {
    fail(
      `GeoTiffSpec.tileSize must be a multiple of 16 from 16 to 32768, got ${String(tileSize)}.`,
    );
  }
  const compression = spec.compression ?? defaultCompression;
  if (compression !== "deflate" && compression !== "none") {
    fail(`GeoTiffSpec.compression must be "deflate" or "none", got ${String(compression)}.`);
  }
  const deflateLevel = spec.deflateLevel ?? DEFAULT_DEFLATE_LEVEL;
  if (!Number.isInteger(deflateLevel) || deflateLevel < 1 || deflateLevel > 9) {
    fail(`GeoTiffSpec.deflateLevel must be an integer from 1 to 9, got ${String(deflateLevel)}.`);
  }
  const integer = range !== null;
  if (spec.predictor === true && !integer) {
    fail("GeoTiffSpec.predictor works on integer sample types only; leave it unset for floats.");
  }
  const predictor = compression === "deflate" && integer && spec.predictor !== false;
  const bigTiffOption = spec.bigTiff ?? "auto";
  if (bigTiffOption !== true && bigTiffOption !== false && bigTiffOption !== "auto") {
    fail(`GeoTiffSpec.bigTiff must be true, false or "auto", got ${String(bigTiffOption)}.`);
  }

  const overviewOption = spec.overviews ?? "none";
  if (overviewOption !== "none" && overviewOption !== "average" && overviewOption !== "nearest") {
    fail(
      `GeoTiffSpec.overviews must be "average", "nearest" or "none", got ${String(overviewOption)}.`,
    );
  }
  const overviews = overviewOption === "none" ? undefined : overviewOption;
  if (spec.cloudOptimized !== undefined && typeof spec.cloudOptimized !== "boolean") {
    fail(`GeoTiffSpec.cloudOptimized must be true or false, got ${String(spec.cloudOptimized)}.`);
  }
  const metadata: [string, string][] = [];
  if (spec.metadata !== undefined) {
    if (spec.metadata === null || typeof spec.metadata !== "object") {
      fail("GeoTiffSpec.metadata must be an object of names to text.");
    }
    for (const [name, value] of Object.entries(spec.metadata)) {
      // GDAL reads item names as XML attributes and shows them as NAME=value lines.
      if (!/^[A-Za-z_][A-Za-z0-9_:.-]*$/.test(name)) {
        fail(
          `GeoTiffSpec.metadata name ${JSON.stringify(name)} must be letters, digits, _ : . - (starting with a letter or _).`,
        );
      }
      if (typeof value !== "string") {
        fail(`GeoTiffSpec.metadata.${name} must be text, got ${typeof value}.`);
      }
      metadata.push([name, value]);
    }
  }

  const tilesAcross = Math.ceil(width / tileSize);
  const tilesDown = Math.ceil(height / tileSize);
  const tileCount = tilesAcross * tilesDown;
  const levels = overviews ? overviewLevels(width, height, tileSize) : [];
  const allTiles = tileCount + levels.reduce((n, l) => n + l.tilesAcross * l.tilesDown, 0);
  const tileBytes = tileSize * tileSize * bands * bytesPerSample;
  const maxTileBytes = compression === "deflate" ? deflateBound(tileBytes) : tileBytes;
  // Header, per tile two 8-byte offsets and an 8-byte leader and trailer, and generous room
  // for the other tags' values (per image) and the metadata.
  const metadataBytes = metadata.reduce((n, [k, v]) => n + 2 * (k.length + v.length) + 64, 0);
  const maxFileBytes =
    allTiles * (maxTileBytes + 24) +
    16 +
    (levels.length + 1) * (65536 + bands * 512) +
    metadataBytes * 3;
  const bigTiff = bigTiffOption === "auto" ? maxFileBytes > CLASSIC_TIFF_MAX_BYTES : bigTiffOption;

  return {
    width,
    height,
    bands,
    sampleType: spec.sampleType,
    bytesPerSample,
    sampleFormat: format,
    epsg: spec.epsg,
    transform: [t[0], t[1], t[2], t[3], t[4], t[5]],
    nodata,
    bandNames: spec.bandNames ? [...spec.bandNames] : undefined,
    tileSize,
    compression,
    deflateLevel,
    predictor,
    bigTiff,
    overviews,
    overviewCount: levels.length,
    cloudOptimized: spec.cloudOptimized === true,
    metadata,
    tilesAcross,
    tilesDown,
    tileCount,
    tileBytes,
    maxFileBytes,
  };
}

export function isSupportedEpsg(epsg: number): boolean {
  return (
    epsg === 4326 ||
    (Number.isInteger(epsg) &&
      ((epsg >= 32601 && epsg <= 32660) || (epsg >= 32701 && epsg <= 32760)))
  );
}

/** zlib's deflateBound(): the most a deflate stream of n input bytes can take. */
function deflateBound(n: number): number {
  return n + Math.ceil(n / 4096) + Math.ceil(n / 16384) + Math.ceil(n / 33554432) + 13 + 6;
}
