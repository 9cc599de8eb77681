/**
 * Recycled tile buffers. A 2 m snippet passes ~130 tiles of 768 KiB (full resolution and
 * overviews) through the writer; allocating each afresh costs page faults, zeroing and
 * garbage collections of external memory on the main thread. A tile whose compressed copy is
 * made is handed back here and the next tile reuses it.
 *
 * A recycled buffer holds old pixels: takers overwrite every byte they hand on (the writer
 * zeroes an edge tile's padding itself) or ask for it zeroed (the overview pyramid).
 */

/** Buffers kept per size: about two rows of 512 px tiles of a 5000 px image, 19 MiB of RGB. */
const KEPT_PER_SIZE = 24;

const free = new Map<number, Uint8Array[]>();

/**
 * A buffer of `bytes` bytes: a recycled one, holding old contents unless `zeroed`, or a new
 * (zeroed) one.
 */
export function takeTileBuffer(bytes: number, zeroed = false): Uint8Array {
  const recycled = free.get(bytes)?.pop();
  if (!recycled) return new Uint8Array(bytes);
  return zeroed ? recycled.fill(0) : recycled;
}

/** Hands a buffer back once nothing reads or writes it any more. */
export function recycleTileBuffer(buffer: Uint8Array): void {
  // Only whole buffers: a view into a larger one (a caller's) is not ours to reuse.
  if (buffer.byteOffset !== 0 || buffer.byteLength !== buffer.buffer.byteLength) return;
  let list = free.get(buffer.byteLength);
  if (!list) {
    list = [];
    free.set(buffer.byteLength, list);
  }
  if (list.length < KEPT_PER_SIZE) list.push(buffer);
}
