/**
 * The images of a file (full resolution, then each overview) with their tile tables, and the
 * chain of IFDs that describes them.
 */
import { encodeIfd, type IfdEntry } from "./ifd";
import type { ResolvedSpec } from "./spec";
import { imageEntries } from "./tags";

/** One image of the file (full resolution or an overview): its tile grid and tile table. */
export interface ImageTiles {
  width: number;
  height: number;
  tilesAcross: number;
  /** File offset and compressed size of each tile (row-major); size 0 = not yet stored. */
  offsets: Float64Array;
  byteCounts: Float64Array;
}

/** An image of width x height pixels in tileSize tiles, none stored yet. */
export function imageTiles(width: number, height: number, tileSize: number): ImageTiles {
  const across = Math.ceil(width / tileSize);
  const count = across * Math.ceil(height / tileSize);
  return {
    width,
    height,
    tilesAcross: across,
    offsets: new Float64Array(count),
    byteCounts: new Float64Array(count),
  };
}

/** Where an image's tiles lie in the file, for its IFD. */
export type TileTables = (image: ImageTiles) => {
  offsets: ArrayLike<number>;
  byteCounts: ArrayLike<number>;
};

/**
 * Every image's IFD, chained (full resolution first, then overviews by decreasing size), as
 * they lie from file offset `at`; `tables` gives each image's tile offsets and sizes.
 */
export function ifdChain(
  spec: ResolvedSpec,
  images: ImageTiles[],
  at: number,
  tables: TileTables,
): { bytes: Buffer; firstIfdOffset: number } {
  const entries: IfdEntry[][] = images.map((image, k) =>
    imageEntries(
      spec,
      { kind: "tiles", ...tables(image) },
      k === 0 ? undefined : { width: image.width, height: image.height },
    ),
  );
  // Pass one finds where each IFD starts; pass two links each to the next.
  const starts: number[] = [];
  let position = at;
  for (const e of entries) {
    const ifd = encodeIfd(e, position, spec.bigTiff);
    starts.push(ifd.ifdOffset);
    position += ifd.bytes.length;
  }
  const parts: Buffer[] = [];
  position = at;
  entries.forEach((e, k) => {
    const ifd = encodeIfd(e, position, spec.bigTiff, starts[k + 1] ?? 0);
    parts.push(ifd.bytes);
    position += ifd.bytes.length;
  });
  return { bytes: Buffer.concat(parts), firstIfdOffset: starts[0] };
}
