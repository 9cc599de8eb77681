/**
 * The cloud-optimized layout (GDAL's COG rules): header | GDAL structural metadata | IFDs |
 * tiles from the smallest overview to full resolution, each image row by row, every tile
 * between a 4-byte size leader and a repeat of its last 4 bytes. Tiles arrive in any order,
 * so the writer stores them framed as they come and, at finish(), lays the file out here and
 * reorders the tiles: in memory for a small file, else by copying them into a second temporary
 * file (sequential 8 MiB reads and writes, overlapped, hashed on the way).
 */
import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { GeoTiffError, GeoTiffTooLargeError } from "./errors";
import { encodeHeader, headerBytes } from "./ifd";
import { type ImageTiles, ifdChain } from "./image-tiles";
import { CLASSIC_TIFF_MAX_BYTES, type ResolvedSpec } from "./spec";
import type { SpooledFile } from "./spooled-file";

/**
 * GDAL's COG ghost area, byte for byte as GDAL 3.x's COG driver writes it right after the
 * header: readers (GDAL reports LAYOUT=COG) learn that the IFDs come first and every tile has
 * its size before it and its last 4 bytes repeated after it, so a reader can fetch a tile and
 * the next one's size in one range request and spot a truncated tile. The trailing space is
 * GDAL's room to flip NO to YES when a file is edited in place.
 */
const COG_STRUCTURE =
  "LAYOUT=IFDS_BEFORE_DATA\n" +
  "BLOCK_ORDER=ROW_MAJOR\n" +
  "BLOCK_LEADER=SIZE_AS_UINT4\n" +
  "BLOCK_TRAILER=LAST_4_BYTES_REPEATED\n" +
  "KNOWN_INCOMPATIBLE_EDITION=NO\n ";
export const COG_GHOST_AREA = `GDAL_STRUCTURAL_METADATA_SIZE=${String(COG_STRUCTURE.length).padStart(6, "0")} bytes\n${COG_STRUCTURE}`;

/** Bytes per copy while reordering tiles into the COG layout: two in flight (read, write). */
const COPY_CHUNK_BYTES = 8 * 1024 * 1024;

/** A tile between its COG leader (its size, uint32) and trailer (its last 4 bytes again). */
export function framed(tile: Uint8Array): Buffer {
  const n = tile.byteLength;
  const out = Buffer.allocUnsafe(n + 8);
  out.writeUInt32LE(n, 0);
  out.set(tile, 4);
  // Deflate output is never under 4 bytes (zlib's header alone is 2, its checksum 4); a
  // shorter raw tile repeats what it has, zero-padded.
  out.fill(0, n + 4);
  out.set(tile.subarray(Math.max(0, n - 4)), n + 4);
  return out;
}

/** Where everything goes in the COG file. */
export interface CogLayout {
  /** Header, ghost area and IFDs: the file's first `dataStart` bytes. */
  prefix: Buffer;
  dataStart: number;
  /** The file's size. */
  end: number;
  /** Stored ranges (leader to trailer) of the spooled file, in COG order. */
  ranges: [number, number][];
}

/**
 * Lays out the COG file for `images` as stored (framed, in arrival order). Throws
 * GeoTiffTooLargeError when a classic TIFF cannot hold it.
 */
export function cogLayout(spec: ResolvedSpec, images: ImageTiles[], path: string): CogLayout {
  const { bigTiff } = spec;
  const ghost = Buffer.from(COG_GHOST_AREA, "latin1");
  const chainStart = headerBytes(bigTiff) + ghost.length;
  // Sizes do not depend on the offsets' values: a first pass with zeros places the tiles.
  const zeros = (image: ImageTiles) => ({
    offsets: new Float64Array(image.offsets.length),
    byteCounts: image.byteCounts,
  });
  const dataStart = chainStart + ifdChain(spec, images, chainStart, zeros).bytes.length;
  const order = [...images.slice(1).reverse(), images[0]];
  const finalOffsets = new Map<ImageTiles, Float64Array>();
  let end = dataStart;
  for (const image of order) {
    const offsets = new Float64Array(image.offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      offsets[i] = end + 4;
      end += image.byteCounts[i] + 8;
    }
    finalOffsets.set(image, offsets);
  }
  if (!bigTiff && end > CLASSIC_TIFF_MAX_BYTES) {
    throw new GeoTiffTooLargeError(path, end);
  }
  const chain = ifdChain(spec, images, chainStart, (image) => ({
    offsets: finalOffsets.get(image) as Float64Array,
    byteCounts: image.byteCounts,
  }));
  const prefix = Buffer.concat([encodeHeader(bigTiff, chain.firstIfdOffset), ghost, chain.bytes]);
  if (prefix.length !== dataStart)
    throw new GeoTiffError("COG header size changed between passes.");
  const ranges: [number, number][] = [];
  for (const image of order) {
    for (let i = 0; i < image.offsets.length; i++) {
      ranges.push([image.offsets[i] - 4, image.offsets[i] + image.byteCounts[i] + 4]);
    }
  }
  return { prefix, dataStart, end, ranges };
}

/** The COG file, from the whole spooled file held in memory. */
export function reorderInMemory(layout: CogLayout, spool: Buffer): Buffer {
  const file = Buffer.allocUnsafe(layout.end);
  layout.prefix.copy(file, 0);
  let at = layout.dataStart;
  for (const [from, to] of layout.ranges) {
    spool.copy(file, at, from, to);
    at += to - from;
  }
  return file;
}

/**
 * Copies stored ranges of the spooled file, in order, to `target` from `at`: adjacent ranges
 * (tiles that arrived in COG order) merge into reads of up to COPY_CHUNK_BYTES, and each
 * chunk is written while the next is read.
 */
export async function copyRanges(
  source: SpooledFile,
  target: FileHandle,
  ranges: [number, number][],
  at: number,
  hash: Hash,
): Promise<void> {
  let writing: Promise<void> = Promise.resolve();
  let position = at;
  const flush = async (from: number, to: number) => {
    const chunk = Buffer.allocUnsafe(to - from);
    await source.readFrom(chunk, from);
    await writing;
    hash.update(chunk);
    writing = source.writeTo(target, chunk, position);
    // Awaited by the next flush or at the end; never an unhandled rejection meanwhile.
    writing.catch(() => undefined);
    position += chunk.length;
  };
  let run: [number, number] | undefined;
  for (const [from, to] of ranges) {
    if (run && from === run[1] && to - run[0] <= COPY_CHUNK_BYTES) {
      run[1] = to;
      continue;
    }
    if (run) await flush(run[0], run[1]);
    run = [from, to];
  }
  if (run) await flush(run[0], run[1]);
  await writing;
}
