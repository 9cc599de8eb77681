/**
 * NumPy's .npy format, Earth Engine's computePixels fileFormat "NPY": a preamble, a header
 * (a Python dict literal) and the raw array. Earth Engine sends a structured array of shape
 * (height, width) with one field per band, e.g. dtype [('B4', '<u2'), ('B3', '<u2'), ], i.e.
 * pixel-interleaved records. The emulator encodes with this module and the downloader decodes
 * with it, so both read the format's facts (magic, versions, descr codes, alignment) here.
 */
import { BYTES_PER_SAMPLE, SAMPLE_ARRAYS, type SampleArray, type SampleType } from "./samples";

/** The header did not decode as an NPY array; the download engine reports it as a bad reply. */
export class NpyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NpyFormatError";
  }
}

export interface NpyDtype {
  /** b (bool), u (unsigned), i (signed), f (float). */
  kind: "b" | "u" | "i" | "f";
  bytes: number;
  littleEndian: boolean;
}

export interface NpyField {
  name: string;
  dtype: NpyDtype;
  /** Byte offset of the field inside one record. */
  offset: number;
}

export interface NpyArray {
  shape: number[];
  fortranOrder: boolean;
  /** Bytes per element (per record for structured arrays). */
  itemSize: number;
  /** Set for a structured dtype (one field per band). */
  fields?: NpyField[];
  /** Set for a plain dtype. */
  dtype?: NpyDtype;
  /** The array's bytes (a view into the input, not a copy). */
  data: Uint8Array;
}

export interface NpyHeader {
  /** The array's description (its `data` is empty: the header has no samples). */
  array: NpyArray;
  /** Offset of the first sample byte. */
  dataStart: number;
  /** Length of the samples. */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** Magic, version, then the header length: uint16 in version 1.0, uint32 in 2.0 and 3.0. */
const PREAMBLE_BYTES = { 1: 10, 2: 12 } as const;
/** Preamble plus header are padded to a multiple of 64 bytes (NumPy >= 1.24 writes 64). */
const HEADER_ALIGN = 64;

/** The dtype code of each sample type: little-endian, "|" where byte order cannot matter. */
export const NPY_DESCR: Readonly<Record<SampleType, string>> = {
  uint8: "|u1",
  int8: "|i1",
  uint16: "<u2",
  int16: "<i2",
  int32: "<i4",
  uint32: "<u4",
  float32: "<f4",
  float64: "<f8",
};

/** The NumPy kind/size of a sample type. */
export function dtypeOf(type: SampleType): NpyDtype {
  return parseDtype(NPY_DESCR[type]);
}

// ---- encoding ----

/** One band of an array to encode: its samples (width*height) and which are valid. */
export interface NpyBand {
  id: string;
  dataType: SampleType;
  data: ArrayLike<number> & ArrayBufferView;
  /** 0 marks a masked pixel, written as 0 (what computePixels sends for it). */
  mask?: Uint8Array;
}

function pythonString(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The structured dtype descriptor, e.g. [('B4', '<u2'), ('B3', '<u2'), ]. */
export function npyDescr(bands: readonly Pick<NpyBand, "id" | "dataType">[]): string {
  return `[${bands.map((b) => `(${pythonString(b.id)}, '${NPY_DESCR[b.dataType]}'), `).join("")}]`;
}

/**
 * The preamble and padded header of a C-ordered array of `shape`: version 1.0, or 2.0 when
 * the header outgrows 1.0's 16-bit length (as NumPy decides).
 */
export function encodeNpyHeader(descr: string, shape: readonly number[]): Buffer {
  const dict = `{'descr': ${descr}, 'fortran_order': False, 'shape': (${shape.join(", ")}${
    shape.length === 1 ? "," : ""
  }), }`;
  const version = PREAMBLE_BYTES[1] + dict.length + HEADER_ALIGN < 0x10000 ? 1 : 2;
  const preamble = PREAMBLE_BYTES[version];
  const unpadded = preamble + dict.length + 1;
  const header = `${dict}${" ".repeat((HEADER_ALIGN - (unpadded % HEADER_ALIGN)) % HEADER_ALIGN)}\n`;
  const out = Buffer.alloc(preamble + header.length);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(header.length, 8);
  else out.writeUInt32LE(header.length, 8);
  out.write(header, preamble, "latin1");
  return out;
}

/** Encodes bands (each width*height samples) as a structured (height, width) array. */
export function encodeNpy(bands: readonly NpyBand[], width: number, height: number): Buffer {
  const head = encodeNpyHeader(npyDescr(bands), [height, width]);
  const recordBytes = bands.reduce((sum, b) => sum + BYTES_PER_SAMPLE[b.dataType], 0);
  const pixels = width * height;
  const out = Buffer.alloc(head.length + recordBytes * pixels);
  head.copy(out, 0);
  if (LITTLE_ENDIAN_HOST && bands.length === 3 && bands.every((b) => b.dataType === "uint8")) {
    interleaveThreeBytes(
      bands,
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
      head.length,
      pixels,
    );
    return out;
  }
  let fieldOffset = head.length;
  for (const band of bands) {
    const size = BYTES_PER_SAMPLE[band.dataType];
    const bytes = littleEndianBytes(band);
    if (bytes) copyField(bytes, size, band.mask, out, fieldOffset, recordBytes, pixels);
    else writeFieldSlowly(band, out, fieldOffset, recordBytes, pixels);
    fieldOffset += size;
  }
  return out;
}

/**
 * Encodes pixel-interleaved samples of one type (band after band within each pixel) as a
 * structured (height, width) array: the bytes already are its records.
 */
export function encodePixelsNpy(
  samples: SampleArray,
  o: { width: number; height: number; bands: readonly string[]; type: SampleType },
): Buffer {
  const descr = npyDescr(o.bands.map((id) => ({ id, dataType: o.type })));
  const head = encodeNpyHeader(descr, [o.height, o.width]);
  const out = Buffer.alloc(head.length + samples.byteLength);
  head.copy(out, 0);
  out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), head.length);
  return out;
}

/** The band's values as little-endian bytes of its dataType, or undefined on big-endian hosts. */
function littleEndianBytes(band: NpyBand): Uint8Array | undefined {
  if (!LITTLE_ENDIAN_HOST) return undefined;
  const type: { from(values: ArrayLike<number>): ArrayBufferView } = SAMPLE_ARRAYS[band.dataType];
  // Bands are mostly held in their own type; int8 and uint32 ones are held widened.
  const data: ArrayBufferView =
    (band.data.constructor as unknown) === type ? band.data : type.from(band.data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A visualized snippet (three uint8 bands, what the emulator sends most), interleaved in one
 * pass: each record written whole and in order, with no per-sample call. Per band, it writes
 * what copyField would: the sample, or 0 where the band's mask is 0.
 */
function interleaveThreeBytes(
  bands: readonly NpyBand[],
  out: Uint8Array,
  start: number,
  pixels: number,
): void {
  const [r, g, b] = bands.map((band) => littleEndianBytes(band) as Uint8Array);
  const [mr, mg, mb] = bands.map((band) => band.mask);
  // Unmasked, or masked in every band (the emulator sends a mask with each band). In the
  // masked loop, -((m + 255) >> 8) is all ones for a valid pixel (mask 1-255), 0 for a masked
  // one: the sample or 0 without a branch.
  if (!mr && !mg && !mb) {
    for (let p = 0, at = start; p < pixels; p++, at += 3) {
      out[at] = r[p];
      out[at + 1] = g[p];
      out[at + 2] = b[p];
    }
    return;
  }
  if (mr && mg && mb) {
    for (let p = 0, at = start; p < pixels; p++, at += 3) {
      out[at] = r[p] & -((mr[p] + 255) >> 8);
      out[at + 1] = g[p] & -((mg[p] + 255) >> 8);
      out[at + 2] = b[p] & -((mb[p] + 255) >> 8);
    }
    return;
  }
  // Some bands masked, some not: band by band.
  bands.forEach((band, k) => {
    copyField([r, g, b][k], 1, band.mask, out, start + k, 3, pixels);
  });
}

/** Copies `size`-byte samples into every record; masked ones stay 0 (Buffer.alloc wrote it). */
function copyField(
  bytes: Uint8Array,
  size: number,
  mask: Uint8Array | undefined,
  out: Uint8Array,
  start: number,
  recordBytes: number,
  pixels: number,
): void {
  // Masked pixels are skipped; without a mask every pixel is valid.
  const skip = (p: number) => mask !== undefined && mask[p] === 0;
  if (size === 1) {
    for (let p = 0, at = start; p < pixels; p++, at += recordBytes)
      if (!skip(p)) out[at] = bytes[p];
    return;
  }
  if (size === 2) {
    for (let p = 0, at = start; p < pixels; p++, at += recordBytes) {
      if (skip(p)) continue;
      out[at] = bytes[2 * p];
      out[at + 1] = bytes[2 * p + 1];
    }
    return;
  }
  for (let p = 0, at = start; p < pixels; p++, at += recordBytes) {
    if (skip(p)) continue;
    for (let k = 0, from = p * size; k < size; k++) out[at + k] = bytes[from + k];
  }
}

/** Portable path (big-endian hosts): one DataView write per sample. */
function writeFieldSlowly(
  band: NpyBand,
  out: Buffer,
  start: number,
  recordBytes: number,
  pixels: number,
): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const { data, mask } = band;
  for (let p = 0, at = start; p < pixels; p++, at += recordBytes) {
    if (mask !== undefined && mask[p] === 0) continue;
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

// ---- decoding ----

export function decodeNpy(bytes: Uint8Array): NpyArray {
  const header = decodeNpyHeader(bytes);
  if (!header) throw new NpyFormatError("Truncated NPY header.");
  const { dataStart, dataBytes } = header;
  if (bytes.length - dataStart < dataBytes) {
    throw new NpyFormatError(
      `The NPY body is truncated: ${bytes.length - dataStart} of ${dataBytes} bytes.`,
    );
  }
  return { ...header.array, data: bytes.subarray(dataStart, dataStart + dataBytes) };
}

/**
 * The header at the start of an NPY stream, or undefined while `bytes` holds too little of it
 * (so a streaming reader can wait for the next chunk).
 */
export function decodeNpyHeader(bytes: Uint8Array): NpyHeader | undefined {
  if (bytes.length < 6) return undefined;
  if (MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyFormatError(
      "The reply is not an NPY array (bad magic); the server may have sent an error page.",
    );
  }
  if (bytes.length < PREAMBLE_BYTES[1]) return undefined;
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = PREAMBLE_BYTES[1];
  } else if (major === 2 || major === 3) {
    if (bytes.length < PREAMBLE_BYTES[2]) return undefined;
    headerLength = view.getUint32(8, true);
    headerStart = PREAMBLE_BYTES[2];
  } else {
    throw new NpyFormatError(`Unsupported NPY version ${major}.`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) return undefined;
  const headerText = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, dataStart),
  );
  const header = parsePythonLiteral(headerText.trim());
  if (!isRecord(header)) throw new NpyFormatError("The NPY header is not a dict.");
  const { descr, fortran_order: fortranOrder, shape } = header;
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && (n as number) >= 0)) {
    throw new NpyFormatError("The NPY header has no valid shape.");
  }
  let itemSize: number;
  let fields: NpyField[] | undefined;
  let dtype: NpyDtype | undefined;
  if (typeof descr === "string") {
    dtype = parseDtype(descr);
    itemSize = dtype.bytes;
  } else if (Array.isArray(descr)) {
    fields = [];
    let offset = 0;
    for (const entry of descr) {
      if (!Array.isArray(entry) || typeof entry[0] !== "string" || typeof entry[1] !== "string") {
        throw new NpyFormatError("Unsupported NPY structured dtype (nested or shaped field).");
      }
      const fieldType = parseDtype(entry[1]);
      fields.push({ name: entry[0], dtype: fieldType, offset });
      offset += fieldType.bytes;
    }
    itemSize = offset;
  } else {
    throw new NpyFormatError("The NPY header has no descr.");
  }
  const count = (shape as number[]).reduce((p, n) => p * n, 1);
  return {
    array: {
      shape: shape as number[],
      fortranOrder: fortranOrder === true,
      itemSize,
      fields,
      dtype,
      data: new Uint8Array(0),
    },
    dataStart,
    dataBytes: count * itemSize,
  };
}

function parseDtype(descr: string): NpyDtype {
  const m = /^([<>|=]?)([buif])(\d+)$/.exec(descr);
  if (!m) throw new NpyFormatError(`Unsupported NPY dtype "${descr}".`);
  const bytes = Number(m[3]);
  const kind = m[2] as NpyDtype["kind"];
  const valid = kind === "f" ? bytes === 4 || bytes === 8 : [1, 2, 4, 8].includes(bytes);
  if (!valid) throw new NpyFormatError(`Unsupported NPY dtype "${descr}".`);
  // "=" is native order; every platform Node runs on that matters here is little-endian.
  return { kind, bytes, littleEndian: m[1] !== ">" };
}

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

function isRecord(v: unknown): v is Record<string, PyValue> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses the subset of Python literals NumPy writes in headers: dict, tuple, list, str, int, bool. */
function parsePythonLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new NpyFormatError(`Cannot parse the NPY header (${what} at ${i}).`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const sequence = (close: string, item: () => void) => {
    for (;;) {
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      item();
      ws();
      if (text[i] === ",") i++;
      else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
  };
  const string = (quote: string): string => {
    let s = "";
    for (i++; i < text.length && text[i] !== quote; i++) {
      // Backslash escapes, as Python's repr writes a quote or backslash in a band name.
      if (text[i] === "\\") i++;
      s += text[i] ?? "";
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    return s;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: Record<string, PyValue> = {};
      sequence("}", () => {
        const key = value();
        if (typeof key !== "string") fail("non-string key");
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        obj[key as string] = value();
      });
      return obj;
    }
    if (c === "(" || c === "[") {
      i++;
      const items: PyValue[] = [];
      sequence(c === "(" ? ")" : "]", () => items.push(value()));
      return items;
    }
    if (c === "'" || c === '"') return string(c);
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) return fail("unexpected token");
    i += m[0].length;
    if (m[0] === "True") return true;
    if (m[0] === "False") return false;
    if (m[0] === "None") return null;
    return Number.parseInt(m[0], 10);
  };
  return value();
}
