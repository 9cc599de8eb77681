/**
 * A whole GeoTIFF in memory, for the emulator's computePixels replies. Speed over size: by
 * default uncompressed strips, so the pixels are copied once and nothing is padded.
 */
import { constants as bufferConstants } from "node:buffer";
import { GeoTiffSpecError } from "./errors";
import { encodeHeader, encodeIfd, headerBytes } from "./ifd";
import {
  applyPredictor,
  compressSync,
  copyRect,
  prepareTile,
  sampleBytes,
  tileExtent,
} from "./pixels";
import { type GeoTiffSpec, type ResolvedSpec, resolveSpec } from "./spec";
import { type BlockLayout, imageEntries } from "./tags";

/** Raw bytes per strip when compressing: big enough for deflate, small enough to decode in parts. */
const STRIP_TARGET_BYTES = 1 << 20;

/**
 * Encodes `pixels` (chunky: row-major, bands interleaved per pixel, typed as spec.sampleType or
 * raw little-endian bytes) as one GeoTIFF. Writes strips unless spec.tileSize is set, then
 * tiles of that size. Compression defaults to "none".
 */
export function encodeGeoTiff(spec: GeoTiffSpec, pixels: ArrayBufferView): Buffer {
  const r = resolveSpec(spec, "none");
  const bytes = sampleBytes(pixels, r, [r.width * r.height * r.bands], "encodeGeoTiff pixels");
  const blocks = spec.tileSize === undefined ? stripBlocks(r, bytes) : tileBlocks(r, bytes);

  const head = headerBytes(r.bigTiff);
  const offsets: number[] = [];
  const byteCounts: number[] = [];
  let at = head;
  for (const length of blocks.lengths) {
    offsets.push(at);
    byteCounts.push(length);
    at += length;
  }
  const layout: BlockLayout =
    blocks.rowsPerStrip === undefined
      ? { kind: "tiles", offsets, byteCounts }
      : { kind: "strips", rowsPerStrip: blocks.rowsPerStrip, offsets, byteCounts };
  const ifd = encodeIfd(imageEntries(r, layout), at, r.bigTiff);
  const total = at + ifd.bytes.length;
  if (total > bufferConstants.MAX_LENGTH) {
    throw new GeoTiffSpecError(
      `A ${r.width}x${r.height}x${r.bands} ${r.sampleType} GeoTIFF is too large to encode in memory; write it with GeoTiffWriter.`,
    );
  }
  if (!r.bigTiff && total > 2 ** 32 - 1) {
    throw new GeoTiffSpecError('The GeoTIFF passes 4 GiB: set bigTiff to true or "auto".');
  }

  const out = Buffer.allocUnsafe(total);
  encodeHeader(r.bigTiff, ifd.ifdOffset).copy(out, 0);
  blocks.write(out, head);
  ifd.bytes.copy(out, at);
  return out;
}

interface Blocks {
  /** Byte length of each block (strip or tile) in file order. */
  lengths: number[];
  /** Set for strips. */
  rowsPerStrip?: number;
  /** Writes every block, back to back, into `out` from `at`. */
  write(out: Buffer, at: number): void;
}

function stripBlocks(r: ResolvedSpec, bytes: Uint8Array): Blocks {
  const rowBytes = r.width * r.bands * r.bytesPerSample;
  if (r.compression === "none") {
    // One strip per ~1 MiB of rows; the strips are contiguous, so one copy writes them all.
    const rowsPerStrip = Math.max(1, Math.min(r.height, Math.floor(STRIP_TARGET_BYTES / rowBytes)));
    const lengths: number[] = [];
    for (let y = 0; y < r.height; y += rowsPerStrip)
      lengths.push(Math.min(rowsPerStrip, r.height - y) * rowBytes);
    return { lengths, rowsPerStrip, write: (out, at) => out.set(bytes, at) };
  }
  const rowsPerStrip = Math.max(1, Math.min(r.height, Math.floor(STRIP_TARGET_BYTES / rowBytes)));
  const strips: Uint8Array[] = [];
  for (let y = 0; y < r.height; y += rowsPerStrip) {
    const rows = Math.min(rowsPerStrip, r.height - y);
    const strip = bytes.slice(y * rowBytes, (y + rows) * rowBytes);
    if (r.predictor) applyPredictor(strip, rows, r.width, r);
    strips.push(compressSync(strip, r));
  }
  return {
    lengths: strips.map((s) => s.byteLength),
    rowsPerStrip,
    write: (out, at) => writeAll(out, at, strips),
  };
}

function tileBlocks(r: ResolvedSpec, bytes: Uint8Array): Blocks {
  const pixelBytes = r.bands * r.bytesPerSample;
  const cut = (col: number, row: number): Uint8Array => {
    const { w, h } = tileExtent(r, col, row);
    const tile = new Uint8Array(r.tileBytes);
    copyRect(
      bytes,
      r.width,
      col * r.tileSize,
      row * r.tileSize,
      tile,
      r.tileSize,
      0,
      0,
      w,
      h,
      pixelBytes,
    );
    return prepareTile(tile, w, h, r, true);
  };
  if (r.compression === "none") {
    return {
      lengths: new Array<number>(r.tileCount).fill(r.tileBytes),
      write: (out, at) => {
        for (let row = 0; row < r.tilesDown; row++) {
          for (let col = 0; col < r.tilesAcross; col++) {
            out.set(cut(col, row), at);
            at += r.tileBytes;
          }
        }
      },
    };
  }
  const tiles: Uint8Array[] = [];
  for (let row = 0; row < r.tilesDown; row++) {
    for (let col = 0; col < r.tilesAcross; col++) tiles.push(compressSync(cut(col, row), r));
  }
  return { lengths: tiles.map((t) => t.byteLength), write: (out, at) => writeAll(out, at, tiles) };
}

function writeAll(out: Buffer, at: number, parts: Uint8Array[]): void {
  let p = at;
  for (const part of parts) {
    out.set(part, p);
    p += part.byteLength;
  }
}
