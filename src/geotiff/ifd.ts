/**
 * TIFF container bytes: the header and one image file directory (IFD), in classic TIFF
 * (32-bit offsets) or BigTIFF (64-bit offsets). Little-endian throughout, like GDAL's output
 * on every common platform.
 */

/** TIFF field types used here (TIFF 6.0 section 2; LONG8 from BigTIFF). */
export const FieldType = { Ascii: 2, Short: 3, Long: 4, Double: 12, Long8: 16 } as const;
export type FieldType = (typeof FieldType)[keyof typeof FieldType];

const FIELD_BYTES: Record<FieldType, number> = {
  [FieldType.Ascii]: 1,
  [FieldType.Short]: 2,
  [FieldType.Long]: 4,
  [FieldType.Double]: 8,
  [FieldType.Long8]: 8,
};

export interface IfdEntry {
  tag: number;
  type: FieldType;
  /** Numbers, or the text of an ASCII field (NUL-terminated on write). */
  values: ArrayLike<number> | string;
}

/** Byte size of the header: "II", version, first-IFD offset (BigTIFF adds size fields). */
export function headerBytes(bigTiff: boolean): number {
  return bigTiff ? 16 : 8;
}

/** The file header; firstIfdOffset 0 is a placeholder patched by writeIfdOffset. */
export function encodeHeader(bigTiff: boolean, firstIfdOffset: number): Buffer {
  const b = Buffer.alloc(headerBytes(bigTiff));
  b.write("II", 0, "latin1");
  if (bigTiff) {
    b.writeUInt16LE(43, 2);
    b.writeUInt16LE(8, 4); // bytes per offset
    b.writeUInt16LE(0, 6);
    writeUint64(b, 8, firstIfdOffset);
  } else {
    b.writeUInt16LE(42, 2);
    b.writeUInt32LE(firstIfdOffset, 4);
  }
  return b;
}

/** Where the first-IFD offset lives in the header, and its encoding. */
export function encodeIfdOffset(
  bigTiff: boolean,
  offset: number,
): { position: number; bytes: Buffer } {
  const bytes = Buffer.alloc(bigTiff ? 8 : 4);
  if (bigTiff) writeUint64(bytes, 0, offset);
  else bytes.writeUInt32LE(offset, 0);
  return { position: bigTiff ? 8 : 4, bytes };
}

/**
 * Serializes one IFD (entries, then the values too big to sit inline) as it will lie at file
 * offset `at`, pointing at the IFD at `nextIfdOffset` (0: the last). Returns the bytes and the IFD's own offset (`at` rounded up so it starts on an
 * 8-byte boundary; TIFF requires at least a word boundary).
 */
export function encodeIfd(
  entries: IfdEntry[],
  at: number,
  bigTiff: boolean,
  nextIfdOffset = 0,
): { bytes: Buffer; ifdOffset: number } {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  const ifdOffset = align8(at);
  const inlineBytes = bigTiff ? 8 : 4;
  const countBytes = bigTiff ? 8 : 2;
  const entryBytes = bigTiff ? 20 : 12;
  const nextBytes = bigTiff ? 8 : 4;
  const tableBytes = countBytes + sorted.length * entryBytes + nextBytes;

  const encoded = sorted.map((e) => encodeValues(e));
  let size = tableBytes;
  const valueOffsets = encoded.map((v) => {
    if (v.length <= inlineBytes) return -1;
    size = align8(size);
    const o = size;
    size += v.length;
    return o;
  });

  const pad = ifdOffset - at;
  const out = Buffer.alloc(pad + size);
  let p = pad;
  if (bigTiff) {
    writeUint64(out, p, sorted.length);
  } else {
    out.writeUInt16LE(sorted.length, p);
  }
  p += countBytes;
  sorted.forEach((entry, i) => {
    const value = encoded[i];
    out.writeUInt16LE(entry.tag, p);
    out.writeUInt16LE(entry.type, p + 2);
    const count = value.length / FIELD_BYTES[entry.type];
    if (bigTiff) writeUint64(out, p + 4, count);
    else out.writeUInt32LE(count, p + 4);
    const valuePos = p + 4 + (bigTiff ? 8 : 4);
    if (valueOffsets[i] < 0) {
      value.copy(out, valuePos);
    } else {
      const fileOffset = ifdOffset + valueOffsets[i];
      if (bigTiff) writeUint64(out, valuePos, fileOffset);
      else out.writeUInt32LE(fileOffset, valuePos);
      value.copy(out, pad + valueOffsets[i]);
    }
    p += entryBytes;
  });
  // The next IFD (an overview), or 0 after the last image.
  if (bigTiff) writeUint64(out, p, nextIfdOffset);
  else out.writeUInt32LE(nextIfdOffset, p);
  return { bytes: out, ifdOffset };
}

function encodeValues(entry: IfdEntry): Buffer {
  if (typeof entry.values === "string") {
    if (entry.type !== FieldType.Ascii)
      throw new TypeError(`Tag ${entry.tag}: text needs ASCII type.`);
    return Buffer.from(`${entry.values}\0`, "utf8");
  }
  const values = entry.values;
  const size = FIELD_BYTES[entry.type];
  const b = Buffer.alloc(values.length * size);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    switch (entry.type) {
      case FieldType.Short:
        b.writeUInt16LE(v, i * 2);
        break;
      case FieldType.Long:
        b.writeUInt32LE(v, i * 4);
        break;
      case FieldType.Long8:
        writeUint64(b, i * 8, v);
        break;
      case FieldType.Double:
        b.writeDoubleLE(v, i * 8);
        break;
      default:
        throw new TypeError(`Tag ${entry.tag}: numbers cannot be written as type ${entry.type}.`);
    }
  }
  return b;
}

function writeUint64(b: Buffer, at: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${value} is not a valid 64-bit offset`);
  }
  b.writeUInt32LE(value % 2 ** 32, at);
  b.writeUInt32LE(Math.floor(value / 2 ** 32), at + 4);
}

export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
