/**
 * Pixel bytes: checking what callers hand in, cutting windows into tiles, and preparing a tile
 * for disk (zeroed padding, horizontal predictor, deflate).
 */
import { deflate, deflateSync } from "node:zlib";
import { SAMPLE_ARRAYS } from "../core/samples";
import { GeoTiffTileError } from "./errors";
import type { ResolvedSpec, SampleArray } from "./spec";

/**
 * The raw bytes of `data`, which must hold exactly one of `sampleCounts` samples. Typed arrays
 * must match the sample type (an Int16Array for int16, ...) so values are never reinterpreted;
 * a Uint8Array, Buffer or DataView is taken as raw little-endian bytes.
 */
export function sampleBytes(
  data: ArrayBufferView,
  spec: ResolvedSpec,
  sampleCounts: number[],
  what: string,
): Uint8Array {
  if (!ArrayBuffer.isView(data)) {
    throw new GeoTiffTileError(`${what}: expected a typed array, got ${describe(data)}.`);
  }
  const expected = SAMPLE_ARRAYS[spec.sampleType];
  const raw = data instanceof Uint8Array || data instanceof DataView;
  if (!raw && data.constructor !== expected) {
    throw new GeoTiffTileError(
      `${what}: the image is ${spec.sampleType}, so pass a ${expected.name} (or raw bytes in a Uint8Array), not a ${data.constructor.name}.`,
    );
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!sampleCounts.some((n) => n * spec.bytesPerSample === bytes.byteLength)) {
    throw new GeoTiffTileError(
      `${what}: expected ${sampleCounts.join(" or ")} ${spec.sampleType} samples (${sampleCounts
        .map((n) => n * spec.bytesPerSample)
        .join(" or ")} bytes), got ${bytes.byteLength} bytes.`,
    );
  }
  return bytes;
}

/**
 * Copies a w x h pixel rectangle between two chunky images; strides are image widths in
 * pixels, `pixelBytes` = bands * bytes per sample.
 */
export function copyRect(
  src: Uint8Array,
  srcWidth: number,
  sx: number,
  sy: number,
  dst: Uint8Array,
  dstWidth: number,
  dx: number,
  dy: number,
  w: number,
  h: number,
  pixelBytes: number,
): void {
  const rowBytes = w * pixelBytes;
  for (let r = 0; r < h; r++) {
    const s = ((sy + r) * srcWidth + sx) * pixelBytes;
    const d = ((dy + r) * dstWidth + dx) * pixelBytes;
    dst.set(src.subarray(s, s + rowBytes), d);
  }
}

/** Valid (inside the image) width and height of tile (col,row). */
export function tileExtent(spec: ResolvedSpec, col: number, row: number): { w: number; h: number } {
  return {
    w: Math.min(spec.tileSize, spec.width - col * spec.tileSize),
    h: Math.min(spec.tileSize, spec.height - row * spec.tileSize),
  };
}

/**
 * A full tile ready to compress: padding zeroed (so it compresses to nothing and never leaks
 * caller memory) and the predictor applied. `data` is either a full tile or exactly the valid
 * w x h pixels; `owned` says it may be modified in place.
 */
export function prepareTile(
  data: Uint8Array,
  w: number,
  h: number,
  spec: ResolvedSpec,
  owned: boolean,
): Uint8Array {
  const tile = normalizeTile(data, w, h, spec, owned);
  // Rows past h are zero padding, whose differences stay zero.
  if (spec.predictor) applyPredictor(tile, h, spec.tileSize, spec);
  return tile;
}

/**
 * prepareTile's first half: a full tile with zeroed padding, raw samples (no predictor yet:
 * overviews are computed from it). A copy unless `owned` or nothing needs changing; a tile
 * that will get the predictor is always one the caller no longer reads.
 */
export function normalizeTile(
  data: Uint8Array,
  w: number,
  h: number,
  spec: ResolvedSpec,
  owned: boolean,
): Uint8Array {
  const ts = spec.tileSize;
  const pixelBytes = spec.bands * spec.bytesPerSample;
  let tile = data;
  if (data.byteLength !== spec.tileBytes) {
    tile = new Uint8Array(spec.tileBytes);
    copyRect(data, w, 0, 0, tile, ts, 0, 0, w, h, pixelBytes);
  } else if (w < ts || h < ts) {
    if (!owned) tile = new Uint8Array(data);
    const rowBytes = ts * pixelBytes;
    for (let r = 0; r < h; r++) tile.fill(0, r * rowBytes + w * pixelBytes, (r + 1) * rowBytes);
    tile.fill(0, h * rowBytes);
  } else if (spec.predictor && !owned) {
    tile = new Uint8Array(data);
  }
  return tile;
}

/**
 * TIFF Predictor 2 in place: each sample minus the same band's sample one pixel left, per row
 * of `rowPixels`. Integer typed arrays wrap on assignment, which is exactly the modular
 * difference TIFF wants.
 */
export function applyPredictor(
  tile: Uint8Array,
  rows: number,
  rowPixels: number,
  spec: ResolvedSpec,
): void {
  let a: SampleArray = tile;
  if (spec.bytesPerSample > 1) {
    if (tile.byteOffset % spec.bytesPerSample !== 0) throw new Error("unaligned tile buffer");
    const View = SAMPLE_ARRAYS[spec.sampleType] as new (
      buffer: ArrayBufferLike,
      byteOffset: number,
      length: number,
    ) => SampleArray;
    a = new View(tile.buffer, tile.byteOffset, tile.byteLength / spec.bytesPerSample);
  }
  const stride = spec.bands;
  const rowSamples = rowPixels * stride;
  // 8-bit samples (visualized RGB, the common case) get a loop V8 sees only Uint8Arrays in:
  // one shared loop over every array type runs ~4x slower, and it runs on the main thread.
  if (a instanceof Uint8Array) differenceBytes(a, rows, rowSamples, stride);
  else differenceSamples(a, rows, rowSamples, stride);
}

/** Whether this machine stores a Uint32Array's words little-endian (byte 0 lowest). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const HIGH_BITS = 0x80808080 | 0;
const LOW_BITS = 0x7f7f7f7f;

function differenceBytes(a: Uint8Array, rows: number, rowSamples: number, stride: number): void {
  if (stride === 3 && LITTLE_ENDIAN && a.byteOffset % 4 === 0 && rowSamples % 4 === 0) {
    differenceRgbWords(
      new Uint32Array(a.buffer, a.byteOffset, (rows * rowSamples) >> 2),
      rows,
      rowSamples >> 2,
    );
    return;
  }
  if (stride === 3) {
    // RGB: forward, keeping the previous pixel in locals (one load and store per sample).
    for (let r = 0; r < rows; r++) {
      const start = r * rowSamples;
      let p0 = a[start];
      let p1 = a[start + 1];
      let p2 = a[start + 2];
      for (let i = start + 3, end = start + rowSamples; i < end; i += 3) {
        const c0 = a[i];
        const c1 = a[i + 1];
        const c2 = a[i + 2];
        a[i] = c0 - p0;
        a[i + 1] = c1 - p1;
        a[i + 2] = c2 - p2;
        p0 = c0;
        p1 = c1;
        p2 = c2;
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const start = r * rowSamples;
    for (let i = start + rowSamples - 1; i >= start + stride; i--) a[i] -= a[i - stride];
  }
}

/**
 * differenceBytes for RGB, four samples per step: each 32-bit word minus the word three bytes
 * before it, byte by byte without borrows between bytes (SWAR: the high bit of each byte is
 * set before subtracting, so no byte borrows from the next, then fixed up). Rows start on a
 * word (512 px rows are 1536 bytes), so the first pixel of a row subtracts zeros. ~2x the
 * byte loop's speed, on the main thread for every tile of the file.
 */
function differenceRgbWords(words: Uint32Array, rows: number, rowWords: number): void {
  for (let r = 0; r < rows; r++) {
    let previous = 0;
    for (let i = r * rowWords, end = i + rowWords; i < end; i++) {
      const x = words[i];
      // Bytes 1-3 of the previous word, then byte 0 of this one: the samples 3 bytes back.
      const back = (previous >>> 8) | (x << 24);
      words[i] = ((x | HIGH_BITS) - (back & LOW_BITS)) ^ ((x ^ ~back) & HIGH_BITS);
      previous = x;
    }
  }
}

function differenceSamples(a: SampleArray, rows: number, rowSamples: number, stride: number): void {
  for (let r = 0; r < rows; r++) {
    const start = r * rowSamples;
    for (let i = start + rowSamples - 1; i >= start + stride; i--) a[i] -= a[i - stride];
  }
}

/**
 * Tiles up to this size deflate on the calling thread: for them the thread pool's overhead (a
 * stream, a hop each way, a turn in a queue shared with file I/O) costs more main-thread time
 * than the deflate itself, ~0.07 ms for a 112 px RGB tile at level 1.
 */
const SYNC_DEFLATE_BYTES = 64 * 1024;

/**
 * Output buffer of a thread-pool deflate. zlib's default, 16 KiB, sends a tile that compresses
 * to 100 kB back and forth between the pool and the event loop seven times, and joins seven
 * pieces at the end; with 256 KiB most tiles take one trip. The compressed bytes do not depend
 * on it.
 */
const ASYNC_DEFLATE_CHUNK_BYTES = 256 * 1024;

/**
 * Deflates on libuv's thread pool so compression of large tiles runs beside the event loop,
 * across cores; small tiles inline (see SYNC_DEFLATE_BYTES).
 */
export function compressAsync(tile: Uint8Array, spec: ResolvedSpec): Promise<Uint8Array> {
  if (spec.compression === "none") return Promise.resolve(tile);
  if (tile.byteLength <= SYNC_DEFLATE_BYTES) {
    try {
      return Promise.resolve(deflateSync(tile, { level: spec.deflateLevel }));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise((resolve, reject) => {
    deflate(
      tile,
      { level: spec.deflateLevel, chunkSize: ASYNC_DEFLATE_CHUNK_BYTES },
      (error, out) => (error ? reject(error) : resolve(out)),
    );
  });
}

export function compressSync(tile: Uint8Array, spec: ResolvedSpec): Uint8Array {
  if (spec.compression === "none") return tile;
  return deflateSync(tile, { level: spec.deflateLevel });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `a ${(value as object).constructor?.name ?? "object"}`;
  return `a ${typeof value}`;
}
