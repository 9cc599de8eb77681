/**
 * The tags of one GeoTIFF image: TIFF baseline/tiling tags, GeoTIFF 1.0 georeferencing, and
 * GDAL's private nodata and metadata tags, from a resolved spec and the block layout.
 */
import { FieldType, type IfdEntry } from "./ifd";
import type { ResolvedSpec } from "./spec";

export type BlockLayout =
  | { kind: "tiles"; offsets: ArrayLike<number>; byteCounts: ArrayLike<number> }
  | {
      kind: "strips";
      rowsPerStrip: number;
      offsets: ArrayLike<number>;
      byteCounts: ArrayLike<number>;
    };

const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  ExtraSamples: 338,
  SampleFormat: 339,
  ModelPixelScale: 33550,
  ModelTiepoint: 33922,
  ModelTransformation: 34264,
  GeoKeyDirectory: 34735,
  GdalMetadata: 42112,
  GdalNodata: 42113,
} as const;

/** TIFF Compression 8: "Adobe deflate", zlib-wrapped; what GDAL writes for COMPRESS=DEFLATE. */
const COMPRESSION_DEFLATE = 8;
const COMPRESSION_NONE = 1;
const PHOTOMETRIC_MIN_IS_BLACK = 1;
const PHOTOMETRIC_RGB = 2;
/** NewSubfileType bit 0: a reduced-resolution version of another image in the file. */
const SUBFILE_REDUCED_RESOLUTION = 1;

/**
 * The IFD entries of the full-resolution image, or with `overview` of one of its overviews:
 * those carry its size and NewSubfileType 1 and leave georeferencing and metadata to the
 * full-resolution image, as GDAL's own overviews do.
 */
export function imageEntries(
  spec: ResolvedSpec,
  layout: BlockLayout,
  overview?: { width: number; height: number },
): IfdEntry[] {
  const n = spec.bands;
  const offsetType = spec.bigTiff ? FieldType.Long8 : FieldType.Long;
  const rgb = n === 3 && spec.sampleType === "uint8";
  const extraSamples = rgb ? n - 3 : n - 1;
  const entries: IfdEntry[] = [
    { tag: Tag.ImageWidth, type: FieldType.Long, values: [overview?.width ?? spec.width] },
    { tag: Tag.ImageLength, type: FieldType.Long, values: [overview?.height ?? spec.height] },
    { tag: Tag.BitsPerSample, type: FieldType.Short, values: repeat(spec.bytesPerSample * 8, n) },
    {
      tag: Tag.Compression,
      type: FieldType.Short,
      values: [spec.compression === "deflate" ? COMPRESSION_DEFLATE : COMPRESSION_NONE],
    },
    {
      tag: Tag.Photometric,
      type: FieldType.Short,
      values: [rgb ? PHOTOMETRIC_RGB : PHOTOMETRIC_MIN_IS_BLACK],
    },
    { tag: Tag.SamplesPerPixel, type: FieldType.Short, values: [n] },
    // 1 = chunky: the samples of a pixel are adjacent, as Earth Engine and NPY deliver them.
    { tag: Tag.PlanarConfiguration, type: FieldType.Short, values: [1] },
    { tag: Tag.SampleFormat, type: FieldType.Short, values: repeat(spec.sampleFormat, n) },
  ];
  if (extraSamples > 0) {
    // 0 = unspecified data: the extra bands are not alpha.
    entries.push({ tag: Tag.ExtraSamples, type: FieldType.Short, values: repeat(0, extraSamples) });
  }
  if (spec.predictor) {
    entries.push({ tag: Tag.Predictor, type: FieldType.Short, values: [2] });
  }
  if (layout.kind === "tiles") {
    entries.push(
      { tag: Tag.TileWidth, type: FieldType.Long, values: [spec.tileSize] },
      { tag: Tag.TileLength, type: FieldType.Long, values: [spec.tileSize] },
      { tag: Tag.TileOffsets, type: offsetType, values: layout.offsets },
      { tag: Tag.TileByteCounts, type: offsetType, values: layout.byteCounts },
    );
  } else {
    entries.push(
      { tag: Tag.RowsPerStrip, type: FieldType.Long, values: [layout.rowsPerStrip] },
      { tag: Tag.StripOffsets, type: offsetType, values: layout.offsets },
      { tag: Tag.StripByteCounts, type: offsetType, values: layout.byteCounts },
    );
  }
  if (spec.nodata !== undefined) {
    entries.push({ tag: Tag.GdalNodata, type: FieldType.Ascii, values: nodataText(spec.nodata) });
  }
  if (overview) {
    entries.push({
      tag: Tag.NewSubfileType,
      type: FieldType.Long,
      values: [SUBFILE_REDUCED_RESOLUTION],
    });
    return entries;
  }
  entries.push(...geoEntries(spec));
  if (spec.bandNames !== undefined || spec.metadata.length > 0) {
    entries.push({
      tag: Tag.GdalMetadata,
      type: FieldType.Ascii,
      values: gdalMetadata(spec.bandNames ?? [], spec.metadata),
    });
  }
  return entries;
}

/** GeoTIFF 1.0 key IDs and codes (OGC GeoTIFF standard, Annex). */
const GeoKey = {
  GTModelType: 1024,
  GTRasterType: 1025,
  GeographicType: 2048,
  GeogAngularUnits: 2054,
  ProjectedCSType: 3072,
  ProjLinearUnits: 3076,
} as const;
const MODEL_PROJECTED = 1;
const MODEL_GEOGRAPHIC = 2;
/** Pixel values cover their cell, like Earth Engine's grids: the transform names a corner. */
const RASTER_PIXEL_IS_AREA = 1;
const UNIT_METRE = 9001;
const UNIT_DEGREE = 9102;

function geoEntries(spec: ResolvedSpec): IfdEntry[] {
  const keys: [number, number][] =
    spec.epsg === 4326
      ? [
          [GeoKey.GTModelType, MODEL_GEOGRAPHIC],
          [GeoKey.GTRasterType, RASTER_PIXEL_IS_AREA],
          [GeoKey.GeographicType, 4326],
          [GeoKey.GeogAngularUnits, UNIT_DEGREE],
        ]
      : [
          [GeoKey.GTModelType, MODEL_PROJECTED],
          [GeoKey.GTRasterType, RASTER_PIXEL_IS_AREA],
          [GeoKey.ProjectedCSType, spec.epsg],
          [GeoKey.ProjLinearUnits, UNIT_METRE],
        ];
  // Header: KeyDirectoryVersion 1, KeyRevision 1.0, key count; then (id, location 0 = value
  // inline, count 1, value) per key, sorted by id.
  const directory = [1, 1, 0, keys.length];
  for (const [id, value] of keys) directory.push(id, 0, 1, value);

  const [scaleX, shearX, translateX, shearY, scaleY, translateY] = spec.transform;
  const northUp = shearX === 0 && shearY === 0 && scaleX > 0 && scaleY < 0;
  const model: IfdEntry[] = northUp
    ? [
        // ModelPixelScale's Y is positive for north-up images (rows run south).
        { tag: Tag.ModelPixelScale, type: FieldType.Double, values: [scaleX, -scaleY, 0] },
        {
          tag: Tag.ModelTiepoint,
          type: FieldType.Double,
          values: [0, 0, 0, translateX, translateY, 0],
        },
      ]
    : [
        {
          tag: Tag.ModelTransformation,
          type: FieldType.Double,
          values: [
            scaleX,
            shearX,
            0,
            translateX,
            shearY,
            scaleY,
            0,
            translateY,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
          ],
        },
      ];
  return [{ tag: Tag.GeoKeyDirectory, type: FieldType.Short, values: directory }, ...model];
}

/** GDAL reads GDAL_NODATA as text; "nan" and "inf" are its spellings of the IEEE specials. */
export function nodataText(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  return String(value);
}

/**
 * GDAL's metadata XML: dataset items (gdalinfo's "Metadata:" lines, QGIS's layer properties)
 * and one DESCRIPTION per band, which gdalinfo shows as the band's description.
 */
export function gdalMetadata(bandNames: string[], items: [string, string][] = []): string {
  const lines = [
    ...items.map(
      ([name, value]) => `  <Item name="${escapeXml(name)}">${escapeItem(value)}</Item>`,
    ),
    ...bandNames.map(
      (name, i) =>
        `  <Item name="DESCRIPTION" sample="${i}" role="description">${escapeItem(name)}</Item>`,
    ),
  ];
  return `<GDALMetadata>\n${lines.join("\n")}\n</GDALMetadata>\n`;
}

/**
 * An item's text as GDAL writes and reads it: escaped twice (GDAL escapes the value, then its
 * XML writer escapes the result), so "a & b" is stored as "a &amp;amp; b"; escaped once, GDAL
 * cuts the value at the "&".
 */
function escapeItem(text: string): string {
  return escapeXml(escapeXml(text));
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function repeat(value: number, count: number): number[] {
  return new Array<number>(count).fill(value);
}
