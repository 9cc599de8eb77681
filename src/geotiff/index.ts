/**
 * GeoTIFF output: GeoTiffWriter streams a tiled, compressed file tile by tile (downloads);
 * encodeGeoTiff builds a whole file in memory (the emulator's computePixels replies).
 *
 *   const spec: GeoTiffSpec = { width: 5000, height: 5000, bands: 3, sampleType: "uint8",
 *     epsg: 32617, transform: [2, 0, 340000, 0, -2, 935000], nodata: 0, bandNames: ["B8", "B4", "B3"] };
 *   const writer = await GeoTiffWriter.open("data/out/snippet.tif", spec, { signal });
 *   try {
 *     await writer.writeWindow(x0, y0, w, h, pixels); // as each request's pixels arrive
 *     await writer.finish(); // -> { path, bytes }
 *   } catch (error) {
 *     await writer.abort();
 *     throw error;
 *   }
 */
export { encodeGeoTiff } from "./encode";
export {
  GeoTiffAbortedError,
  GeoTiffDirectoryError,
  GeoTiffDiskFullError,
  GeoTiffError,
  GeoTiffExistsError,
  GeoTiffIncompleteError,
  GeoTiffSpecError,
  GeoTiffTileError,
  GeoTiffTooLargeError,
} from "./errors";
export type { GeoTiffSpec, SampleType } from "./spec";
export { GeoTiffWriter, type GeoTiffWriterOptions } from "./writer";
