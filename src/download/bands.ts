/**
 * The image's bands: names, sample types and native scale from Earth Engine's metadata or the
 * caller's hint, the one sample type they are written as, and checks of replies against a hint.
 * Type facts (ranges, Earth Engine's narrowest-type rule, promotion) are src/core/samples.ts's.
 */
import { dtypeOf, type NpyArray, type NpyDtype } from "../core/npy";
import { BYTES_PER_SAMPLE, integerTypeFor, type SampleType } from "../core/samples";
import { BandsHintError, DownloadParameterError, RequestError } from "./errors";

export interface BandsHint {
  names: readonly string[];
  sampleType: SampleType;
}

/** Earth Engine's band description in getInfo/value:compute replies. */
export interface BandInfoJson {
  id: string;
  data_type?: { type?: string; precision?: string; min?: number; max?: number };
  crs?: string;
  crs_transform?: number[];
}

export interface ImageBands {
  names: string[];
  types: SampleType[];
  /** Smallest native pixel size among bands with a real projection, in metres; undefined if none. */
  nativeScaleMetres: number | undefined;
}

/** Metres per degree at the equator, to compare degree scales with metre scales. */
export const METRES_PER_DEGREE = 111_319.49;

/** computePixels serves at most this many bands per request. */
const MAX_BANDS = 1024;

/** Reads getInfo's band list: names, output sample types, native resolution. */
export function parseBands(
  info: { type?: string; bands?: BandInfoJson[] } | undefined,
): ImageBands {
  const bands = info?.bands;
  if (!Array.isArray(bands)) {
    throw new DownloadParameterError(
      `Expected an ee.Image to download, got ${info?.type ?? "something else"}.`,
    );
  }
  if (bands.length === 0) {
    throw new DownloadParameterError(
      "The image has no bands (an empty collection's mosaic, or a select() that matched nothing); nothing to download.",
    );
  }
  if (bands.length > MAX_BANDS) {
    throw new DownloadParameterError(
      `The image has ${bands.length} bands; computePixels serves at most ${MAX_BANDS}: select() fewer.`,
    );
  }
  const types = bands.map((b) => pixelType(b));
  let native: number | undefined;
  for (const b of bands) {
    const t = b.crs_transform;
    if (!t || t.length < 6 || !b.crs) continue;
    const size = Math.hypot(t[0], t[3]);
    // Earth Engine's default projection (EPSG:4326, 1-degree pixels) means "no native grid".
    if (b.crs === "EPSG:4326" && size === 1) continue;
    const metres = b.crs === "EPSG:4326" ? size * METRES_PER_DEGREE : size;
    if (metres > 0 && (native === undefined || metres < native)) native = metres;
  }
  return { names: bands.map((b) => b.id), types, nativeScaleMetres: native };
}

/** Earth Engine's PixelType (precision + range) as the smallest sample type that holds it. */
export function pixelType(band: BandInfoJson): SampleType {
  const dt = band.data_type ?? {};
  if (dt.precision === "double") return "float64";
  if (dt.precision === "float") return "float32";
  return integerTypeFor(dt.min ?? Number.NEGATIVE_INFINITY, dt.max ?? Number.POSITIVE_INFINITY);
}

/** The bands a hint describes; no native scale (a visualized image has none). */
export function hintedBands(hint: BandsHint): ImageBands {
  return {
    names: [...hint.names],
    types: hint.names.map(() => hint.sampleType),
    nativeScaleMetres: undefined,
  };
}

/** Throws DownloadParameterError unless the hint names 1-1024 distinct bands of a known type. */
export function checkHint(hint: BandsHint): void {
  const names = hint?.names;
  if (
    !Array.isArray(names) ||
    names.length === 0 ||
    names.length > MAX_BANDS ||
    names.some((n) => typeof n !== "string" || n === "") ||
    new Set(names).size !== names.length
  ) {
    throw new DownloadParameterError(
      `bands.names must list 1 to ${MAX_BANDS} distinct band names, got ${JSON.stringify(names)}.`,
    );
  }
  if (!Object.hasOwn(BYTES_PER_SAMPLE, hint.sampleType)) {
    throw new DownloadParameterError(
      `bands.sampleType must be one of ${Object.keys(BYTES_PER_SAMPLE).join(", ")}, got ${JSON.stringify(hint.sampleType)}.`,
    );
  }
}

/**
 * A failure of a hinted download that the image's metadata may fix: a reply with other bands,
 * or a 400 (Earth Engine refuses bandIds that name no band of the image).
 */
export function isHintFailure(error: unknown): boolean {
  if (error instanceof BandsHintError) return true;
  return error instanceof RequestError && error.status === 400 && !error.split;
}

/** The warning a download that fell back from a refused hint to the image's bands carries. */
export function hintFallbackWarning(error: unknown, hint: BandsHint): string {
  const message = (error as Error).message;
  return error instanceof BandsHintError
    ? `${message} It was downloaded with the image's own bands.`
    : `The bands hint (${hint.names.join(", ")} as ${hint.sampleType}) was refused: ${message} It was downloaded with the image's own bands.`;
}

/** Throws BandsHintError unless the NPY reply has exactly the hinted bands and sample type. */
export function checkReplyBands(array: NpyArray, hint: BandsHint): void {
  const want = dtypeOf(hint.sampleType);
  const same = (d: NpyDtype) => d.kind === want.kind && d.bytes === want.bytes;
  const ok = array.fields
    ? array.fields.length === hint.names.length &&
      array.fields.every((f, i) => f.name === hint.names[i] && same(f.dtype))
    : array.dtype !== undefined &&
      same(array.dtype) &&
      (array.shape[2] ?? 1) === hint.names.length &&
      array.shape.length <= 3;
  if (ok) return;
  const reply = array.fields
    ? array.fields.map((f) => `${f.name} (${npyTypeName(f.dtype)})`).join(", ")
    : `${array.shape[2] ?? 1} band(s) of ${array.dtype ? npyTypeName(array.dtype) : "no type"}`;
  throw new BandsHintError(`${hint.names.join(", ")} as ${hint.sampleType}`, reply);
}

function npyTypeName(d: NpyDtype): string {
  const kinds = { b: "bool", u: "uint", i: "int", f: "float" } as const;
  return `${kinds[d.kind]}${d.bytes * 8}`;
}
