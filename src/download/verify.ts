/**
 * Whether a file already at the output path is the one a download would write, so a rerun
 * can skip it: same grid, bands, sample type and CRS, the same overviews and layout, and
 * readable to its last tile.
 */
import { open } from "node:fs/promises";
import { BYTES_PER_SAMPLE, type SampleType } from "../core/samples";
import { COG_GHOST_AREA } from "../geotiff/cog-layout";
import { overviewLevels } from "../geotiff/overviews";
import { isAbortError } from "./errors";

/** What the download would write, as far as an existing file can be compared with it. */
export interface ExpectedFile {
  width: number;
  height: number;
  bands: number;
  sampleType: SampleType;
  epsg: number;
  transform: number[];
  tileSize: number;
  /** "none" (or unset): no overviews expected. */
  overviews?: string;
  cloudOptimized?: boolean;
}

/** Why an existing file is not the one we would write, or undefined when it is. */
export async function existingFileProblem(
  path: string,
  spec: ExpectedFile,
  signal: AbortSignal,
): Promise<string | undefined> {
  const geotiff = await import("geotiff");
  let tiff: Awaited<ReturnType<typeof geotiff.fromFile>> | undefined;
  try {
    tiff = await geotiff.fromFile(path);
    const image = await tiff.getImage();
    const width = image.getWidth();
    const height = image.getHeight();
    if (width !== spec.width || height !== spec.height) {
      return `it is ${width}x${height} px, the grid is ${spec.width}x${spec.height}`;
    }
    const bands = image.getSamplesPerPixel();
    if (bands !== spec.bands) return `it has ${bands} bands, the image has ${spec.bands}`;
    const bits = image.getBitsPerSample(0);
    if (bits !== BYTES_PER_SAMPLE[spec.sampleType] * 8)
      return `it has ${bits}-bit samples, expected ${spec.sampleType}`;
    const keys = image.getGeoKeys() ?? {};
    const epsg = keys.ProjectedCSTypeGeoKey ?? keys.GeographicTypeGeoKey;
    if (epsg !== spec.epsg) return `its CRS is EPSG:${epsg}, the grid's is EPSG:${spec.epsg}`;
    const [ox, oy] = image.getOrigin();
    const [rx, ry] = image.getResolution();
    const [sx, , tx, , sy, ty] = spec.transform;
    const tol = Math.abs(sx) * 1e-6;
    if (
      Math.abs(ox - tx) > tol ||
      Math.abs(oy - ty) > tol ||
      Math.abs(rx - sx) > tol ||
      Math.abs(ry - sy) > tol
    ) {
      return "its georeferencing differs from the planned grid";
    }
    const wantOverviews =
      spec.overviews === undefined || spec.overviews === "none"
        ? 0
        : overviewLevels(spec.width, spec.height, spec.tileSize).length;
    const hasOverviews = (await tiff.getImageCount()) - 1;
    if (hasOverviews !== wantOverviews) {
      return `it has ${hasOverviews} overview levels, this download writes ${wantOverviews} (cog: ${spec.cloudOptimized === true})`;
    }
    const cog = await hasCogLayout(path);
    if (cog !== (spec.cloudOptimized === true)) {
      return cog
        ? "it is cloud-optimized (COG), this download writes a plain GeoTIFF (cog: false)"
        : "it is not cloud-optimized, this download writes a COG (cog: true)";
    }
    // The last tile is written last in no particular order, but it is the one a truncated
    // copy loses first: decoding it proves the tile index and data reach the file's end.
    const x0 = Math.floor((width - 1) / spec.tileSize) * spec.tileSize;
    const y0 = Math.floor((height - 1) / spec.tileSize) * spec.tileSize;
    await image.readRasters({ window: [x0, y0, width, height], signal });
    return undefined;
  } catch (error) {
    if (isAbortError(error)) throw error;
    return `it cannot be read as a GeoTIFF: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await tiff?.close();
  }
}

/** Whether the file starts with GDAL's COG structural metadata (after the 8 or 16 byte header). */
async function hasCogLayout(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(16 + COG_GHOST_AREA.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const text = head.subarray(0, bytesRead).toString("latin1");
    const bigTiff = head.readUInt16LE(2) === 43;
    return text.startsWith(COG_GHOST_AREA, bigTiff ? 16 : 8);
  } finally {
    await handle.close();
  }
}
