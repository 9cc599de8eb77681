/**
 * NumPy .npy (format 1.0) writer for Earth Engine's NPY output: a structured array of shape
 * (height, width) with one named field per band, e.g. dtype [('B4', '<u2'), ('B3', '<u2')].
 */
import { endianness } from "node:os";
import { BYTES_PER_SAMPLE, SAMPLE_ARRAYS } from "../core/samples";
import type { PixelTypeName, RenderedBand } from "./model";

const DESCR: Record<PixelTypeName, string> = {
  uint8: "|u1",
  int8: "|i1",
  uint16: "<u2",
  int16: "<i2",
  int32: "<i4",
  uint32: "<u4",
  float32: "<f4",
  float64: "<f8",
};

/** Magic, version 1.0, then a little-endian uint16 header length. */
const PREAMBLE_BYTES = 10;
/** Header plus preamble are padded to a multiple of 64 bytes (NumPy >= 1.24 writes 64). */
const HEADER_ALIGN = 64;

function pythonString(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The dtype descriptor, e.g. [('B4', '<u2'), ('B3', '<u2'), ]. */
export function npyDescr(bands: Pick<RenderedBand, "id" | "dataType">[]): string {
  return `[${bands.map((b) => `(${pythonString(b.id)}, '${DESCR[b.dataType]}'), `).join("")}]`;
}

/** Encodes bands (all width*height) as .npy bytes; masked pixels are written as 0. */
export function encodeNpy(bands: RenderedBand[], width: number, height: number): Buffer {
  let header = `{'descr': ${npyDescr(bands)}, 'fortran_order': False, 'shape': (${height}, ${width}), }`;
  const unpadded = PREAMBLE_BYTES + header.length + 1;
  header += " ".repeat((HEADER_ALIGN - (unpadded % HEADER_ALIGN)) % HEADER_ALIGN);
  header += "\n";
  const recordBytes = bands.reduce((sum, b) => sum + BYTES_PER_SAMPLE[b.dataType], 0);
  const pixels = width * height;
  const out = Buffer.alloc(PREAMBLE_BYTES + header.length + recordBytes * pixels);
  out.write("\x93NUMPY", 0, "latin1");
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, PREAMBLE_BYTES, "latin1");
  const base = PREAMBLE_BYTES + header.length;
  let fieldOffset = 0;
  for (const band of bands) {
    const bytes = littleEndianBytes(band);
    if (bytes)
      copyField(
        bytes,
        BYTES_PER_SAMPLE[band.dataType],
        band.mask,
        out,
        base + fieldOffset,
        recordBytes,
      );
    else writeFieldSlowly(band, out, base + fieldOffset, recordBytes, pixels);
    fieldOffset += BYTES_PER_SAMPLE[band.dataType];
  }
  return out;
}

/** The band's values as little-endian bytes of its dataType, or undefined on big-endian hosts. */
function littleEndianBytes(band: RenderedBand): Uint8Array | undefined {
  if (endianness() !== "LE") return undefined;
  const type: { from(values: ArrayLike<number>): ArrayBufferView } = SAMPLE_ARRAYS[band.dataType];
  // Bands are mostly held in their own type; int8 and uint32 ones are held widened.
  const data: ArrayBufferView =
    (band.data.constructor as unknown) === type ? band.data : type.from(band.data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Copies `size`-byte samples into every record; masked ones stay 0 (Buffer.alloc wrote it). */
function copyField(
  bytes: Uint8Array,
  size: number,
  mask: Uint8Array,
  out: Buffer,
  start: number,
  recordBytes: number,
): void {
  const pixels = mask.length;
  if (size === 1) {
    for (let p = 0, at = start; p < pixels; p++, at += recordBytes)
      if (mask[p] !== 0) out[at] = bytes[p];
    return;
  }
  if (size === 2) {
    for (let p = 0, at = start; p < pixels; p++, at += recordBytes) {
      if (mask[p] === 0) continue;
      out[at] = bytes[2 * p];
      out[at + 1] = bytes[2 * p + 1];
    }
    return;
  }
  for (let p = 0, at = start; p < pixels; p++, at += recordBytes) {
    if (mask[p] === 0) continue;
    for (let k = 0, from = p * size; k < size; k++) out[at + k] = bytes[from + k];
  }
}

/** Portable path (big-endian hosts): one DataView write per sample. */
function writeFieldSlowly(
  band: RenderedBand,
  out: Buffer,
  start: number,
  recordBytes: number,
  pixels: number,
): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const { data, mask } = band;
  for (let p = 0, at = start; p < pixels; p++, at += recordBytes) {
    if (mask[p] === 0) continue;
    const v = data[p];
    switch (band.dataType) {
      case "uint8":
        view.setUint8(at, v);
        break;
      case "int8":
        view.setInt8(at, v);
        break;
      case "uint16":
        view.setUint16(at, v, true);
        break;
      case "int16":
        view.setInt16(at, v, true);
        break;
      case "int32":
        view.setInt32(at, v, true);
        break;
      case "uint32":
        view.setUint32(at, v, true);
        break;
      case "float32":
        view.setFloat32(at, v, true);
        break;
      case "float64":
        view.setFloat64(at, v, true);
        break;
    }
  }
}
