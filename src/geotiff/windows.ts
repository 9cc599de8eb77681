/**
 * Windows into tiles: a window of pixels (any position and size) is copied into the tiles it
 * covers. Tiles it covers whole are complete at once; tiles it covers in part wait here until
 * other windows fill them.
 */
import { GeoTiffTileError } from "./errors";
import { copyRect, tileExtent } from "./pixels";
import type { ResolvedSpec } from "./spec";

/** A tile windows have filled in part: its pixels so far and which ones are set. */
interface PartialTile {
  data: Uint8Array;
  /** One byte per valid pixel (w x h), 1 once written. */
  covered: Uint8Array;
  remaining: number;
}

export class WindowTiles {
  private readonly partial = new Map<number, PartialTile>();

  constructor(private readonly spec: ResolvedSpec) {}

  /** Tiles filled in part so far. */
  get size(): number {
    return this.partial.size;
  }

  has(index: number): boolean {
    return this.partial.has(index);
  }

  /** Drops every partial tile (the writer failed). */
  clear(): void {
    this.partial.clear();
  }

  /**
   * Copies a window (chunky `bytes`, inside the image) into its tiles and calls `complete`
   * with each tile it completes, in row order. Throws, copying nothing, if the window overlaps
   * a tile `claimed` marks as already written. A pixel written twice keeps the last value.
   */
  add(
    x0: number,
    y0: number,
    width: number,
    height: number,
    bytes: Uint8Array,
    claimed: Uint8Array,
    complete: (index: number, tile: Uint8Array) => void,
  ): void {
    const s = this.spec;
    const pixelBytes = s.bands * s.bytesPerSample;
    const ts = s.tileSize;
    const c0 = Math.floor(x0 / ts);
    const c1 = Math.floor((x0 + width - 1) / ts);
    const r0 = Math.floor(y0 / ts);
    const r1 = Math.floor((y0 + height - 1) / ts);
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        if (claimed[row * s.tilesAcross + col]) {
          throw new GeoTiffTileError(
            `Window (${x0},${y0} ${width}x${height}) overlaps tile (${col},${row}), which was already written.`,
          );
        }
      }
    }
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const index = row * s.tilesAcross + col;
        const { w, h } = tileExtent(s, col, row);
        const tx = col * ts;
        const ty = row * ts;
        // The window's part of this tile, in tile coordinates.
        const ix0 = Math.max(x0, tx) - tx;
        const iy0 = Math.max(y0, ty) - ty;
        const ix1 = Math.min(x0 + width, tx + w) - tx;
        const iy1 = Math.min(y0 + height, ty + h) - ty;
        const copy = (target: Uint8Array) =>
          copyRect(
            bytes,
            width,
            tx + ix0 - x0,
            ty + iy0 - y0,
            target,
            ts,
            ix0,
            iy0,
            ix1 - ix0,
            iy1 - iy0,
            pixelBytes,
          );
        let part = this.partial.get(index);
        if (!part && ix0 === 0 && iy0 === 0 && ix1 === w && iy1 === h) {
          const tile = new Uint8Array(s.tileBytes);
          copy(tile);
          complete(index, tile);
          continue;
        }
        if (!part) {
          part = {
            data: new Uint8Array(s.tileBytes),
            covered: new Uint8Array(w * h),
            remaining: w * h,
          };
          this.partial.set(index, part);
        }
        copy(part.data);
        for (let y = iy0; y < iy1; y++) {
          const covered = part.covered;
          for (let i = y * w + ix0, end = y * w + ix1; i < end; i++) {
            if (covered[i] === 0) {
              covered[i] = 1;
              part.remaining--;
            }
          }
        }
        if (part.remaining === 0) {
          this.partial.delete(index);
          complete(index, part.data);
        }
      }
    }
  }
}
