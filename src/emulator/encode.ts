/**
 * Rendered bands to the bytes computePixels and getPixels return: GeoTIFF, NPY, PNG, JPEG.
 */
import * as jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { crsFromCode } from "../core/crs";
import { encodeNpy, type NpyBand } from "../core/npy";
import { allocateSamples, commonSampleType, maskedFill, type SampleType } from "../core/samples";
import { encodeGeoTiff } from "../geotiff/encode";
import { EmulatorInputError } from "./errors";
import type { Grid, RenderedBand } from "./model";

export type PixelFormat = "GEO_TIFF" | "NPY" | "PNG" | "JPEG";

/** The bands cannot be written in the requested format; the server answers 400 with the message. */
export class EncodeError extends EmulatorInputError {
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

/** PNG row filter 4 (Paeth); see encodePng. */
const PNG_FILTER_PAETH = 4;

/** JPEG quality; Earth Engine's thumbnails look like ~85-90. */
const JPEG_QUALITY = 90;

export function encodePixels(bands: RenderedBand[], grid: Grid, format: PixelFormat): Buffer {
  if (bands.length === 0) throw new EncodeError("The image has no bands to encode.");
  switch (format) {
    case "GEO_TIFF":
      return encodeTiff(bands, grid);
    case "NPY":
      return encodeNpy(bands.map(filledBand), grid.width, grid.height);
    case "PNG":
      return encodePng(bands, grid);
    case "JPEG":
      return encodeJpeg(bands, grid);
    default:
      throw new EncodeError(
        `Unsupported fileFormat "${String(format)}": use GEO_TIFF, NPY, PNG or JPEG.`,
      );
  }
}

// ---------------------------------------------------------------------------------------
// GeoTIFF

/**
 * The value masked pixels get, announced with GDAL_NODATA: Earth Engine's (core's maskedFill):
 * 0 for unsigned types (their minimum), the type's minimum for signed types (values from
 * unmask(-1) stay valid), -inf for floats. A valid 0 in an unsigned band (e.g. the black
 * outline paint() draws) reads as nodata in GDAL: Earth Engine's own downloads have the same
 * ambiguity, and the mask is still exact in PNG.
 */
export function nodataFor(type: SampleType): number {
  return maskedFill(type);
}

/**
 * NPY has no mask: a masked pixel carries its band type's fill, as in Earth Engine's replies
 * (the download engine marks the same value as nodata). Unsigned bands fill with 0, which the
 * NPY encoder writes for masked pixels anyway, so only signed and float bands are copied.
 */
function filledBand(band: RenderedBand): NpyBand {
  const fill = maskedFill(band.dataType);
  if (fill === 0 || band.mask.every((m) => m !== 0)) return band;
  const data = band.data.slice();
  const { mask } = band;
  for (let p = 0; p < data.length; p++) if (mask[p] === 0) data[p] = fill;
  return { id: band.id, dataType: band.dataType, data };
}

// Monomorphic copies for the common sample types (visualized uint8, raw uint16 reflectance):
// the generic loop sees every typed-array kind and reads and writes through slow paths.
function interleaveBytes(
  data: Uint8Array,
  mask: Uint8Array,
  samples: Uint8Array,
  band: number,
  count: number,
  nodata: number,
): void {
  for (let p = 0, at = band; p < data.length; p++, at += count)
    samples[at] = mask[p] === 0 ? nodata : data[p];
}

function interleaveWords(
  data: Uint16Array,
  mask: Uint8Array,
  samples: Uint16Array,
  band: number,
  count: number,
  nodata: number,
): void {
  for (let p = 0, at = band; p < data.length; p++, at += count)
    samples[at] = mask[p] === 0 ? nodata : data[p];
}

function encodeTiff(bands: RenderedBand[], grid: Grid): Buffer {
  const type = commonSampleType(bands.map((b) => b.dataType));
  const nodata = nodataFor(type);
  const pixels = grid.width * grid.height;
  const count = bands.length;
  const samples = allocateSamples(type, pixels * count);
  for (let b = 0; b < count; b++) {
    const { data, mask } = bands[b];
    if (samples instanceof Uint8Array && data instanceof Uint8Array) {
      interleaveBytes(data, mask, samples, b, count, nodata);
    } else if (samples instanceof Uint16Array && data instanceof Uint16Array) {
      interleaveWords(data, mask, samples, b, count, nodata);
    } else {
      for (let p = 0, at = b; p < pixels; p++, at += count)
        samples[at] = mask[p] === 0 ? nodata : data[p];
    }
  }
  const a = grid.affine;
  return encodeGeoTiff(
    {
      width: grid.width,
      height: grid.height,
      bands: count,
      sampleType: type as SampleType,
      epsg: crsFromCode(grid.crsCode).epsg,
      transform: [a.scaleX, a.shearX, a.translateX, a.shearY, a.scaleY, a.translateY],
      nodata,
      bandNames: bands.map((b) => b.id),
    },
    samples,
  );
}

// ---------------------------------------------------------------------------------------
// PNG and JPEG (8-bit; values outside 0..255 are clamped, as a cast to uint8 would)

function byteBands(bands: RenderedBand[], format: string): RenderedBand[] {
  if (bands.length !== 1 && bands.length !== 3) {
    throw new EncodeError(
      `${format} needs 1 or 3 bands, got ${bands.length} (${bands.map((b) => b.id).join(", ")}): select or visualize them first.`,
    );
  }
  return bands;
}

function toByte(v: number): number {
  return v > 0 ? (v < 255 ? Math.floor(v + 0.5) : 255) : 0;
}

/** RGBA bytes with alpha from the mask (gray bands are repeated into R, G and B). */
function rgba(bands: RenderedBand[], pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 4);
  const [r, g, b] = bands.length === 3 ? bands : [bands[0], bands[0], bands[0]];
  if (
    r.data instanceof Uint8Array &&
    g.data instanceof Uint8Array &&
    b.data instanceof Uint8Array
  ) {
    rgbaFromBytes(r.data, g.data, b.data, r.mask, g.mask, b.mask, out);
    return out;
  }
  for (let p = 0; p < pixels; p++) {
    const o = p * 4;
    out[o] = toByte(r.data[p]);
    out[o + 1] = toByte(g.data[p]);
    out[o + 2] = toByte(b.data[p]);
    out[o + 3] = Math.min(r.mask[p], g.mask[p], b.mask[p]);
  }
  return out;
}

/** rgba() for uint8 bands (visualize's output): no rounding or clamping needed. */
function rgbaFromBytes(
  r: Uint8Array,
  g: Uint8Array,
  b: Uint8Array,
  maskR: Uint8Array,
  maskG: Uint8Array,
  maskB: Uint8Array,
  out: Uint8Array,
): void {
  for (let p = 0, o = 0; p < r.length; p++, o += 4) {
    out[o] = r[p];
    out[o + 1] = g[p];
    out[o + 2] = b[p];
    out[o + 3] = Math.min(maskR[p], maskG[p], maskB[p]);
  }
}

function encodePng(bands: RenderedBand[], grid: Grid): Buffer {
  byteBands(bands, "PNG");
  const png = new PNG({ width: grid.width, height: grid.height });
  png.data = Buffer.from(rgba(bands, grid.width * grid.height).buffer);
  // Gray images are written as gray+alpha, RGB as RGBA: masked pixels are transparent.
  // Paeth on every row: as small as pngjs's default of trying all five filters per row on
  // our imagery, at half the time.
  return PNG.sync.write(png, {
    colorType: bands.length === 1 ? 4 : 6,
    inputColorType: 6,
    filterType: PNG_FILTER_PAETH,
  });
}

/** JPEG has no alpha: masked pixels come out black, as in Earth Engine's JPEG thumbnails. */
function encodeJpeg(bands: RenderedBand[], grid: Grid): Buffer {
  byteBands(bands, "JPEG");
  const data = rgba(bands, grid.width * grid.height);
  for (let o = 0; o < data.length; o += 4) {
    if (data[o + 3] === 0) {
      data[o] = 0;
      data[o + 1] = 0;
      data[o + 2] = 0;
    }
    data[o + 3] = 255;
  }
  return jpeg.encode({ width: grid.width, height: grid.height, data }, JPEG_QUALITY).data;
}
