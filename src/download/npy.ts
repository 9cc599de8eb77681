/**
 * Decoder for NumPy's .npy format, the fileFormat "NPY" of computePixels: a small header
 * (a Python dict literal) followed by the raw array. Earth Engine sends a structured array of
 * shape (height, width) with one field per band, i.e. pixel-interleaved samples, which is
 * also the layout of a chunky GeoTIFF tile, so the common case needs no conversion at all.
 */

import type { SampleType as PixelTypeName } from "../core/samples";
import { allocateSamples, type SampleArray } from "../core/samples";

export { allocateSamples, type SampleArray };

import { ResponseFormatError } from "./errors";

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

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

export function decodeNpy(bytes: Uint8Array): NpyArray {
  const header = decodeNpyHeader(bytes);
  if (!header) throw new ResponseFormatError("Truncated NPY header.");
  const { dataStart, dataBytes } = header;
  if (bytes.length - dataStart < dataBytes) {
    throw new ResponseFormatError(
      `The NPY body is truncated: ${bytes.length - dataStart} of ${dataBytes} bytes.`,
    );
  }
  return { ...header.array, data: bytes.subarray(dataStart, dataStart + dataBytes) };
}

export interface NpyHeader {
  /** The array's description (its `data` is empty: the header has no samples). */
  array: NpyArray;
  /** Offset of the first sample byte. */
  dataStart: number;
  /** Length of the samples. */
  dataBytes: number;
}

/**
 * The header at the start of an NPY stream, or undefined while `bytes` holds too little of it
 * (so a streaming reader can wait for the next chunk).
 */
export function decodeNpyHeader(bytes: Uint8Array): NpyHeader | undefined {
  if (bytes.length < 6) return undefined;
  if (MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ResponseFormatError(
      "The reply is not an NPY array (bad magic); the server may have sent an error page.",
    );
  }
  if (bytes.length < 10) return undefined;
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) return undefined;
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new ResponseFormatError(`Unsupported NPY version ${major}.`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) return undefined;
  const headerText = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, dataStart),
  );
  const header = parsePythonLiteral(headerText.trim());
  if (!isRecord(header)) throw new ResponseFormatError("The NPY header is not a dict.");
  const { descr, fortran_order: fortranOrder, shape } = header;
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && (n as number) >= 0)) {
    throw new ResponseFormatError("The NPY header has no valid shape.");
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
        throw new ResponseFormatError("Unsupported NPY structured dtype (nested or shaped field).");
      }
      const fieldType = parseDtype(entry[1]);
      fields.push({ name: entry[0], dtype: fieldType, offset });
      offset += fieldType.bytes;
    }
    itemSize = offset;
  } else {
    throw new ResponseFormatError("The NPY header has no descr.");
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
  if (!m) throw new ResponseFormatError(`Unsupported NPY dtype "${descr}".`);
  const bytes = Number(m[3]);
  const kind = m[2] as NpyDtype["kind"];
  const valid = kind === "f" ? bytes === 4 || bytes === 8 : [1, 2, 4, 8].includes(bytes);
  if (!valid) throw new ResponseFormatError(`Unsupported NPY dtype "${descr}".`);
  // "=" is native order; every platform Node runs on that matters here is little-endian.
  return { kind, bytes, littleEndian: m[1] !== ">" };
}

/** The NumPy kind/size of a GeoTIFF sample type. */
export function dtypeOf(type: PixelTypeName): NpyDtype {
  const bytes = Number(/\d+/.exec(type)?.[0]) / 8;
  const kind = type.startsWith("float") ? "f" : type.startsWith("u") ? "u" : "i";
  return { kind, bytes, littleEndian: true };
}

/**
 * Whether an NPY reply is already a chunky (pixel-interleaved) image of `type` in band order,
 * little-endian: then its bytes can go to the GeoTIFF as they are.
 */
export function isChunkyNpy(
  npy: NpyArray,
  expect: { width: number; height: number; bands: string[] },
  type: PixelTypeName,
): boolean {
  const { sources, stride } = layout(npy, expect);
  return isChunky(stride, sources, type, expect.bands.length);
}

function isChunky(
  stride: number,
  sources: { dtype: NpyDtype; offset: number }[],
  type: PixelTypeName,
  bandCount: number,
): boolean {
  const target = dtypeOf(type);
  return (
    stride === target.bytes * bandCount &&
    sources.every(
      (s, i) =>
        s.offset === i * target.bytes &&
        s.dtype.kind === target.kind &&
        s.dtype.bytes === target.bytes &&
        (s.dtype.littleEndian || s.dtype.bytes === 1),
    )
  );
}

/** Where each requested band sits in a pixel record, checking shape and fields. */
function layout(
  npy: NpyArray,
  expect: { width: number; height: number; bands: string[] },
): { sources: { dtype: NpyDtype; offset: number }[]; stride: number } {
  const { width, height, bands } = expect;
  let sources: { dtype: NpyDtype; offset: number }[];
  /** Bytes from one pixel's samples to the next. */
  let stride = npy.itemSize;
  if (npy.fortranOrder) throw new ResponseFormatError("Fortran-ordered NPY arrays are not used.");
  if (npy.fields) {
    if (npy.shape.length !== 2 || npy.shape[0] !== height || npy.shape[1] !== width) {
      throw new ResponseFormatError(
        `The NPY array is ${npy.shape.join("x")}, expected ${height}x${width} (rows x columns).`,
      );
    }
    const byName = new Map(npy.fields.map((f) => [f.name, f]));
    sources = bands.map((name, i) => {
      const field =
        byName.get(name) ?? (npy.fields?.length === bands.length ? npy.fields[i] : undefined);
      if (!field) {
        throw new ResponseFormatError(
          `The NPY array has fields ${npy.fields?.map((f) => f.name).join(", ")}, expected ${bands.join(", ")}.`,
        );
      }
      return field;
    });
  } else {
    const dtype = npy.dtype as NpyDtype;
    const [h, w, b = 1] = npy.shape;
    if (h !== height || w !== width || b !== bands.length || npy.shape.length > 3) {
      throw new ResponseFormatError(
        `The NPY array is ${npy.shape.join("x")}, expected ${height}x${width}x${bands.length}.`,
      );
    }
    sources = bands.map((_, i) => ({ dtype, offset: i * dtype.bytes }));
    stride = dtype.bytes * b;
  }

  return { sources, stride };
}

/**
 * The samples of a decoded (height, width) array as one pixel-interleaved array of `type`
 * (band order as given), checking the shape and fields against what was requested. When the
 * bytes are already laid out that way (the usual case), they are reused without conversion.
 */
export function npyToPixels(
  npy: NpyArray,
  expect: { width: number; height: number; bands: string[] },
  type: PixelTypeName,
): SampleArray {
  const { width, height, bands } = expect;
  const target = dtypeOf(type);
  const { sources, stride } = layout(npy, expect);
  const pixels = width * height;
  if (isChunky(stride, sources, type, bands.length)) {
    const { data } = npy;
    if (target.bytes === 1) {
      return type === "int8"
        ? new Int8Array(data.buffer, data.byteOffset, data.length)
        : new Uint8Array(data.buffer, data.byteOffset, data.length);
    }
    // Typed arrays need aligned offsets; copy once when the header length misaligned them.
    const aligned = data.byteOffset % target.bytes === 0 ? data : data.slice();
    const out = allocateSamples(type, 0);
    const Ctor = out.constructor as new (b: ArrayBufferLike, o: number, l: number) => SampleArray;
    return new Ctor(aligned.buffer, aligned.byteOffset, aligned.length / target.bytes);
  }

  const out = allocateSamples(type, pixels * bands.length);
  const view = new DataView(npy.data.buffer, npy.data.byteOffset, npy.data.byteLength);
  const readers = sources.map((s) => reader(view, s.dtype));
  const nb = bands.length;
  for (let p = 0; p < pixels; p++) {
    const base = p * stride;
    for (let b = 0; b < nb; b++) out[p * nb + b] = readers[b](base + sources[b].offset);
  }
  return out;
}

function reader(view: DataView, d: NpyDtype): (offset: number) => number {
  const le = d.littleEndian;
  switch (`${d.kind}${d.bytes}`) {
    case "b1":
    case "u1":
      return (o) => view.getUint8(o);
    case "i1":
      return (o) => view.getInt8(o);
    case "u2":
      return (o) => view.getUint16(o, le);
    case "i2":
      return (o) => view.getInt16(o, le);
    case "u4":
      return (o) => view.getUint32(o, le);
    case "i4":
      return (o) => view.getInt32(o, le);
    case "u8":
      return (o) => Number(view.getBigUint64(o, le));
    case "i8":
      return (o) => Number(view.getBigInt64(o, le));
    case "f4":
      return (o) => view.getFloat32(o, le);
    default:
      return (o) => view.getFloat64(o, le);
  }
}

/** Encodes a pixel-interleaved array as a structured NPY (used by tests and fake servers). */
export function encodeNpy(
  samples: SampleArray,
  o: { width: number; height: number; bands: string[]; type: PixelTypeName },
): Uint8Array {
  const d = dtypeOf(o.type);
  const code = `${d.bytes === 1 ? "|" : "<"}${d.kind}${d.bytes}`;
  const descr = `[${o.bands.map((b) => `('${b}', '${code}')`).join(", ")}]`;
  let header = `{'descr': ${descr}, 'fortran_order': False, 'shape': (${o.height}, ${o.width}), }`;
  // Data starts on a 64-byte boundary, as NumPy writes it; the header ends with "\n".
  const total = Math.ceil((12 + header.length + 1) / 64) * 64;
  header = `${header}${" ".repeat(total - 12 - header.length - 1)}\n`;
  const out = new Uint8Array(total + samples.byteLength);
  out.set(MAGIC, 0);
  out[6] = 2;
  out[7] = 0;
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), 12);
  out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), total);
  return out;
}

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

function isRecord(v: unknown): v is Record<string, PyValue> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses the subset of Python literals NumPy writes in headers: dict, tuple, list, str, int, bool. */
function parsePythonLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new ResponseFormatError(`Cannot parse the NPY header (${what} at ${i}).`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: Record<string, PyValue> = {};
      for (;;) {
        ws();
        if (text[i] === "}") {
          i++;
          return obj;
        }
        const key = value();
        if (typeof key !== "string") fail("non-string key");
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        obj[key as string] = value();
        ws();
        if (text[i] === ",") i++;
      }
    }
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]";
      i++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail("unterminated string");
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) return fail("unexpected token");
    i += m[0].length;
    if (m[0] === "True") return true;
    if (m[0] === "False") return false;
    if (m[0] === "None") return null;
    return Number.parseInt(m[0], 10);
  };
  const result = value();
  return result;
}
