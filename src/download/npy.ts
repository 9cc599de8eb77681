/**
 * NPY replies as pixels: computePixels' structured (height, width) array is pixel-interleaved,
 * which is also the layout of a chunky GeoTIFF tile, so the common case needs no conversion at
 * all. The format itself (header, dtypes) is src/core/npy.ts; this adds what a download checks:
 * the reply's shape and bands against the request, and conversion to the output sample type.
 */
import {
  decodeNpy as decodeCoreNpy,
  decodeNpyHeader as decodeCoreNpyHeader,
  dtypeOf,
  type NpyArray,
  type NpyDtype,
  NpyFormatError,
  type NpyHeader,
} from "../core/npy";
import { allocateSamples, type SampleArray, type SampleType } from "../core/samples";
import { ResponseFormatError } from "./errors";

export type { NpyArray, NpyDtype, NpyHeader };

/** decodeNpy of src/core, failing with ResponseFormatError (a bad reply, retried once). */
export function decodeNpy(bytes: Uint8Array): NpyArray {
  return asReplyError(() => decodeCoreNpy(bytes));
}

/** decodeNpyHeader of src/core, failing with ResponseFormatError. */
export function decodeNpyHeader(bytes: Uint8Array): NpyHeader | undefined {
  return asReplyError(() => decodeCoreNpyHeader(bytes));
}

function asReplyError<T>(decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof NpyFormatError) throw new ResponseFormatError(error.message);
    throw error;
  }
}

/**
 * Whether an NPY reply is already a chunky (pixel-interleaved) image of `type` in band order,
 * little-endian: then its bytes can go to the GeoTIFF as they are.
 */
export function isChunkyNpy(
  npy: NpyArray,
  expect: { width: number; height: number; bands: string[] },
  type: SampleType,
): boolean {
  const { sources, stride } = layout(npy, expect);
  return isChunky(stride, sources, type, expect.bands.length);
}

function isChunky(
  stride: number,
  sources: { dtype: NpyDtype; offset: number }[],
  type: SampleType,
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
  type: SampleType,
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
