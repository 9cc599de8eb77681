/**
 * Streams a computePixels NPY reply straight into GeoTIFF tiles: each arriving chunk is copied
 * once, into the tile it belongs to, and every row of tiles (512 rows of the window) goes to
 * the writer the moment its last row arrives, so compression overlaps the transfer and a
 * reply is never held whole (no reply buffer, no window-sized copy).
 *
 * Works for tile-aligned windows whose reply is already chunky samples of the output type
 * (what Earth Engine sends for one sample type across bands); anything else is buffered and
 * converted as a whole (see fallback).
 */

import { BYTES_PER_SAMPLE, type SampleType } from "../core/samples";
import type { BodySink } from "../ee/transport";
import { takeTileBuffer } from "../geotiff/tile-buffers";
import type { GeoTiffWriter } from "../geotiff/writer";
import { RequestError, ResponseFormatError } from "./errors";
import { decodeNpy, decodeNpyHeader, isChunkyNpy, type NpyHeader, npyToPixels } from "./npy";
import type { RequestTile } from "./tiles";

export interface ScatterOptions {
  window: RequestTile;
  tileSize: number;
  bands: string[];
  sampleType: SampleType;
  /** A promise: the reply may start arriving while the file is still being opened. */
  writer: Promise<GeoTiffWriter>;
  /** Called when bytes of the window (its uncompressed pixels) are on disk. */
  onWritten(bytes: number): void;
}

/** Whether a window covers whole tiles (except at the image's right and bottom edges). */
export function isTileAligned(
  window: RequestTile,
  tileSize: number,
  image: { width: number; height: number },
): boolean {
  const { x0, y0, width, height } = window;
  const fullOrEdge = (start: number, length: number, size: number) =>
    start % tileSize === 0 && (length % tileSize === 0 || start + length === size);
  return fullOrEdge(x0, width, image.width) && fullOrEdge(y0, height, image.height);
}

/**
 * One window's pixels on their way to the writer, across retried attempts: rows of tiles
 * already handed over are skipped when a retry sends them again.
 */
export class TileScatter {
  private readonly o: ScatterOptions;
  private readonly pixelBytes: number;
  private readonly rowBytes: number;
  private readonly tilesAcross: number;
  private readonly tileRowBytes: number;
  private readonly tileBytes: number;
  /** Rows of tiles (bands of tileSize rows) handed to the writer. */
  private bandsDone = 0;
  private tiles: Uint8Array[] | undefined;
  private readonly writes: Promise<void>[] = [];

  constructor(options: ScatterOptions) {
    this.o = options;
    this.pixelBytes = options.bands.length * BYTES_PER_SAMPLE[options.sampleType];
    this.rowBytes = options.window.width * this.pixelBytes;
    this.tilesAcross = Math.ceil(options.window.width / options.tileSize);
    this.tileRowBytes = options.tileSize * this.pixelBytes;
    this.tileBytes = this.tileRowBytes * options.tileSize;
  }

  /** A sink for one attempt's reply body. */
  sink(): BodySink {
    let header: NpyHeader | undefined;
    let head: Buffer | undefined;
    let chunky = false;
    /** Body bytes for the fallback (whole-reply) path. */
    const whole: Buffer[] = [];
    /** Sample bytes consumed so far. */
    let pos = 0;
    const { window, bands, sampleType } = this.o;
    const expect = { width: window.width, height: window.height, bands };
    return {
      write: (chunk) => {
        if (!header) {
          head = head ? Buffer.concat([head, chunk]) : chunk;
          header = decodeNpyHeader(head);
          if (!header) return;
          chunky = isChunkyNpy(header.array, expect, sampleType);
          if (!chunky && this.bandsDone > 0) {
            throw new ResponseFormatError(
              "computePixels changed its reply's sample layout between attempts of one window.",
            );
          }
          if (!chunky) {
            whole.push(head);
            head = undefined;
            return;
          }
          chunk = head.subarray(header.dataStart);
          head = undefined;
        } else if (!chunky) {
          whole.push(chunk);
          return;
        }
        const room = header.dataBytes - pos;
        pos = this.scatter(chunk.subarray(0, room), pos);
      },
      end: () => {
        if (!header) throw truncated(0, 0);
        if (chunky) {
          if (pos !== header.dataBytes) throw truncated(pos, header.dataBytes);
          return;
        }
        const npy = decodeNpy(Buffer.concat(whole));
        const pixels = npyToPixels(npy, expect, sampleType);
        const bytes = window.width * window.height * this.pixelBytes;
        this.track(
          this.o.writer.then((writer) =>
            writer.writeWindow(window.x0, window.y0, window.width, window.height, pixels),
          ),
          bytes,
        );
      },
    };
  }

  /** Resolves when every row of tiles is on disk; rejects with the first write failure. */
  async done(): Promise<void> {
    await Promise.all(this.writes);
  }

  /** Copies sample bytes starting at `pos` into their tiles; returns the new position. */
  private scatter(data: Uint8Array, pos: number): number {
    const { tileSize, window } = this.o;
    const { rowBytes, tileRowBytes } = this;
    let offset = 0;
    while (offset < data.length) {
      const row = Math.floor(pos / rowBytes);
      const inRow = pos - row * rowBytes;
      const n = Math.min(data.length - offset, rowBytes - inRow);
      const band = Math.floor(row / tileSize);
      if (band >= this.bandsDone) {
        const tiles = this.bandTiles();
        const rowInTile = (row - band * tileSize) * tileRowBytes;
        let at = inRow;
        const stop = inRow + n;
        while (at < stop) {
          const k = Math.floor(at / tileRowBytes);
          const x = at - k * tileRowBytes;
          const take = Math.min(stop - at, tileRowBytes - x);
          const from = offset + (at - inRow);
          tiles[k].set(data.subarray(from, from + take), rowInTile + x);
          at += take;
        }
        const rowEnds = inRow + n === rowBytes;
        if (rowEnds && ((row + 1) % tileSize === 0 || row + 1 === window.height)) {
          this.handOver(band, row + 1 - band * tileSize);
        }
      }
      offset += n;
      pos += n;
    }
    return pos;
  }

  private bandTiles(): Uint8Array[] {
    // Recycled buffers, old pixels included: every row of a tile inside the image is written
    // before it is handed over, and the writer zeroes an edge tile's padding.
    if (!this.tiles) {
      this.tiles = Array.from({ length: this.tilesAcross }, () => takeTileBuffer(this.tileBytes));
    }
    return this.tiles;
  }

  private handOver(band: number, rows: number): void {
    const { writer, window, tileSize } = this.o;
    const tiles = this.bandTiles();
    this.tiles = undefined;
    this.bandsDone = band + 1;
    const col0 = window.x0 / tileSize;
    const row = window.y0 / tileSize + band;
    // Compressing waits for the next turn of the event loop: the reply's end and what follows
    // from it (the next image's request, when this was its last window) go first.
    const written = Promise.all([writer, nextTurn()]).then(([open]) =>
      Promise.all(tiles.map((tile, k) => open.writeTile(col0 + k, row, tile, { transfer: true }))),
    );
    this.track(written, rows * this.rowBytes);
  }

  private track(written: Promise<unknown>, bytes: number): void {
    // Handled here and rethrown by done(), so a failed write is never an unhandled rejection.
    const settled = written.then(() => this.o.onWritten(bytes));
    settled.catch(() => undefined);
    this.writes.push(settled);
  }
}

function truncated(got: number, want: number): RequestError {
  return new RequestError(
    want > 0
      ? `The NPY reply ended after ${got} of ${want} sample bytes.`
      : "The reply ended before its NPY header.",
    { retryable: true },
  );
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
