/**
 * The common image functions of a snippet workflow beyond the tutorial's own (casts, band
 * maths, masks, blend, addBands, slice) and List.map, by wire name; their pixels are in
 * band-math.ts. Merged into FUNCTIONS (functions.ts).
 */
import {
  addBands,
  type BinaryOperation,
  binary,
  blend,
  CAST_FUNCTIONS,
  cast,
  maskOf,
  normalizedDifference,
  replaceMask,
  slice,
  updateMask,
} from "./band-math";
import { image, optionalNumber, stringList, typeError } from "./functions-args";
import { Closure, type EeValue, ImageValue } from "./functions-values";

type Implementation = (args: Record<string, EeValue>) => EeValue;

function integer(fn: string, arg: string, value: EeValue): number {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  return typeError(fn, arg, "Integer", value);
}

function bandMath(op: BinaryOperation): Implementation {
  const fn = `Image.${op}`;
  return (a) =>
    new ImageValue(
      binary(op, image(fn, "image1", a.image1).image, image(fn, "image2", a.image2).image),
    );
}

/** A cast keeps the image's identity and properties, as metadata-only operations do. */
function castTo(fn: string): Implementation {
  return (a) => {
    const input = image(fn, "value", a.value);
    return new ImageValue(cast(input.image, CAST_FUNCTIONS[fn]), input.id, input.version);
  };
}

export const IMAGE_FUNCTIONS: Record<string, Implementation> = {
  "Image.toUint8": castTo("Image.toUint8"),
  "Image.toByte": castTo("Image.toByte"),
  "Image.toInt8": castTo("Image.toInt8"),
  "Image.toUint16": castTo("Image.toUint16"),
  "Image.toInt16": castTo("Image.toInt16"),
  "Image.toShort": castTo("Image.toShort"),
  "Image.toInt32": castTo("Image.toInt32"),
  "Image.toInt": castTo("Image.toInt"),
  "Image.toUint32": castTo("Image.toUint32"),
  "Image.toFloat": castTo("Image.toFloat"),
  "Image.toDouble": castTo("Image.toDouble"),
  "Image.add": bandMath("add"),
  "Image.subtract": bandMath("subtract"),
  "Image.multiply": bandMath("multiply"),
  "Image.divide": bandMath("divide"),
  "Image.normalizedDifference": (a) => {
    const fn = "Image.normalizedDifference";
    return new ImageValue(
      normalizedDifference(
        image(fn, "input", a.input).image,
        a.bandNames === null ? null : stringList(fn, "bandNames", a.bandNames),
      ),
    );
  },
  "Image.updateMask": (a) => {
    const input = image("Image.updateMask", "image", a.image);
    return new ImageValue(
      updateMask(input.image, image("Image.updateMask", "mask", a.mask).image),
      input.id,
      input.version,
    );
  },
  "Image.mask": (a) => {
    const input = image("Image.mask", "image", a.image);
    if (a.mask === null) return new ImageValue(maskOf(input.image));
    return new ImageValue(
      replaceMask(input.image, image("Image.mask", "mask", a.mask).image),
      input.id,
      input.version,
    );
  },
  "Image.blend": (a) =>
    new ImageValue(
      blend(
        image("Image.blend", "bottom", a.bottom).image,
        image("Image.blend", "top", a.top).image,
      ),
    ),
  "Image.addBands": (a) => {
    const fn = "Image.addBands";
    const dst = image(fn, "dstImg", a.dstImg);
    return new ImageValue(
      addBands(
        dst.image,
        image(fn, "srcImg", a.srcImg).image,
        a.names === null ? null : stringList(fn, "names", a.names),
        a.overwrite === true,
      ),
      dst.id,
      dst.version,
    );
  },
  "Image.slice": (a) => {
    const input = image("Image.slice", "image", a.image);
    const end = optionalNumber("Image.slice", "end", a.end);
    return new ImageValue(
      slice(
        input.image,
        integer("Image.slice", "start", a.start),
        end === null ? null : integer("Image.slice", "end", end),
      ),
      input.id,
      input.version,
    );
  },
  "List.map": (a) => {
    const list = Array.isArray(a.list) ? a.list : typeError("List.map", "list", "List", a.list);
    const fn = a.baseAlgorithm;
    if (!(fn instanceof Closure)) return typeError("List.map", "baseAlgorithm", "Algorithm", fn);
    const mapped = list.map((item) => fn.call({ [fn.argumentNames[0] ?? "_"]: item }));
    return a.dropNulls === true ? mapped.filter((v) => v !== null) : mapped;
  },
};
