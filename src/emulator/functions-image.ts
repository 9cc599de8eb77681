/**
 * Image and projection functions by wire name: loading, clipping, unmasking, visualizing,
 * painting, selecting and reprojecting (pixels in image.ts, image-visualize.ts,
 * image-thumbnail.ts), the common ones of a snippet workflow beyond the tutorial's own
 * (casts, band maths, masks, blend, addBands, slice; pixels in band-math.ts), and List.map.
 * Merged into FUNCTIONS (functions.ts).
 */

import { crsFromCode } from "../core/crs";
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
import { imageOfScene } from "./cloud-score";
import { assetNotFound, invalidArgument } from "./errors";
import {
  geometry,
  image,
  makeProjection,
  numberList,
  optionalNumber,
  projection,
  str,
  stringList,
  typeError,
} from "./functions-args";
import { elementGeometry, elementProperties, materialize, versionOf } from "./functions-collection";
import {
  Closure,
  type CollectionElement,
  CollectionValue,
  type EeValue,
  FeatureValue,
  GeometryValue,
  ImageValue,
  type Implementation,
  ProjectionValue,
} from "./functions-values";
import * as images from "./image";
import { clipToBoundsAndScale } from "./image-thumbnail";
import { type VisParams, visualize } from "./image-visualize";
import type { Geometry } from "./model";
import { sceneFromIndex } from "./scenes";

function loadImage(id: string): ImageValue {
  const slash = id.lastIndexOf("/");
  const scene = slash > 0 ? sceneFromIndex(id.slice(0, slash), id.slice(slash + 1)) : undefined;
  if (!scene) throw assetNotFound("Image.load", "Image", id);
  return new ImageValue(imageOfScene(scene), id, versionOf(scene.properties));
}

function paintTargets(value: EeValue): {
  geometries: Geometry[];
  properties: Record<string, unknown>[];
} {
  const features: CollectionElement[] =
    value instanceof CollectionValue
      ? materialize(value)
      : value instanceof FeatureValue
        ? [value]
        : value instanceof GeometryValue
          ? [new FeatureValue(value.geometry, {})]
          : typeError("Image.paint", "featureCollection", "FeatureCollection", value);
  const geometries: Geometry[] = [];
  const properties: Record<string, unknown>[] = [];
  for (const feature of features) {
    const g = elementGeometry(feature);
    if (!g) continue;
    geometries.push(g);
    properties.push(elementProperties(feature));
  }
  return { geometries, properties };
}

function reprojectArgs(
  fn: string,
  a: Record<string, EeValue>,
): [string, number[] | null, number | null] {
  const proj = projection(fn, "crs", a.crs);
  const transform = numberList(fn, "crsTransform", a.crsTransform);
  const scale = optionalNumber(fn, "scale", a.scale);
  if (transform && scale !== null) {
    throw invalidArgument(`${fn}: Cannot specify both crsTransform and scale.`);
  }
  return [proj.crs, transform ?? (scale === null ? proj.transform : null), scale];
}

function nominalScale(p: ProjectionValue): number {
  const [a, b, , d, e] = p.transform;
  const units = Math.sqrt(Math.abs(a * e - b * d));
  // Degrees to metres at the equator, as Earth Engine reports for EPSG:4326.
  return crsFromCode(p.crs).units === "degree" ? units * ((6378137 * Math.PI) / 180) : units;
}

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
  // Images
  "Image.load": (a) => {
    const loaded = loadImage(str("Image.load", "id", a.id));
    const version = optionalNumber("Image.load", "version", a.version);
    // -1 (the catalog's default) means the latest version.
    if (version !== null && version !== -1 && version !== loaded.version) {
      throw assetNotFound("Image.load", "Image", `${str("Image.load", "id", a.id)}@${version}`);
    }
    return loaded;
  },
  "Image.constant": (a) => {
    const v = a.value;
    if (typeof v === "number" || (Array.isArray(v) && v.every((x) => typeof x === "number"))) {
      return new ImageValue(images.constantImage(v as number | number[]));
    }
    return typeError("Image.constant", "value", "Number or List<Number>", v);
  },
  "Image.clip": (a) =>
    new ImageValue(
      images.clip(
        image("Image.clip", "input", a.input).image,
        geometry("Image.clip", "geometry", a.geometry),
      ),
    ),
  "Image.unmask": (a) => {
    const input = image("Image.unmask", "input", a.input);
    // Earth Engine's signature types `value` as an Image and the clients promote a number to
    // Image.constant before sending: a bare number is refused, as Earth Engine refuses it.
    if (a.value !== null && !(a.value instanceof ImageValue)) {
      typeError("Image.unmask", "value", "Image<unknown bands>", a.value);
    }
    const value = a.value === null ? null : image("Image.unmask", "value", a.value).image;
    return new ImageValue(
      images.unmask(input.image, value, a.sameFootprint !== false),
      input.id,
      input.version,
    );
  },
  "Image.visualize": (a) =>
    new ImageValue(
      visualize(image("Image.visualize", "image", a.image).image, {
        bands: (a.bands ?? undefined) as VisParams["bands"],
        gain: (a.gain ?? undefined) as VisParams["gain"],
        bias: (a.bias ?? undefined) as VisParams["bias"],
        min: (a.min ?? undefined) as VisParams["min"],
        max: (a.max ?? undefined) as VisParams["max"],
        gamma: (a.gamma ?? undefined) as VisParams["gamma"],
        opacity: (a.opacity ?? undefined) as VisParams["opacity"],
        palette: (a.palette ?? undefined) as VisParams["palette"],
        forceRgbOutput: a.forceRgbOutput === true,
      }),
    ),
  "Image.paint": (a) => {
    const { geometries, properties } = paintTargets(a.featureCollection);
    const color = a.color;
    if (typeof color !== "number" && typeof color !== "string")
      return typeError("Image.paint", "color", "Number or String", color);
    const width = optionalNumber("Image.paint", "width", a.width);
    return new ImageValue(
      images.paint(
        image("Image.paint", "image", a.image).image,
        geometries,
        color,
        width ?? undefined,
        properties,
      ),
    );
  },
  "Image.select": (a) => {
    const selectors = Array.isArray(a.bandSelectors) ? a.bandSelectors : [a.bandSelectors];
    if (!selectors.every((s) => typeof s === "string" || typeof s === "number")) {
      return typeError("Image.select", "bandSelectors", "List<Object>", a.bandSelectors);
    }
    const names =
      a.newNames === null ? undefined : stringList("Image.select", "newNames", a.newNames);
    const input = image("Image.select", "input", a.input);
    return new ImageValue(
      images.select(input.image, selectors as (string | number)[], names),
      input.id,
      input.version,
    );
  },
  "Image.rename": (a) => {
    const input = image("Image.rename", "input", a.input);
    return new ImageValue(
      images.rename(input.image, stringList("Image.rename", "names", a.names)),
      input.id,
      input.version,
    );
  },
  "Image.reproject": (a) => {
    const [crs, transform, scale] = reprojectArgs("Image.reproject", a);
    return new ImageValue(
      images.reproject(image("Image.reproject", "image", a.image).image, crs, transform, scale),
    );
  },
  // The emulator samples continuous imagery at output pixel centres, so a default projection
  // and a reprojection render identically; only band metadata differs.
  "Image.setDefaultProjection": (a) => {
    const [crs, transform, scale] = reprojectArgs("Image.setDefaultProjection", a);
    return new ImageValue(
      images.reproject(
        image("Image.setDefaultProjection", "image", a.image).image,
        crs,
        transform,
        scale,
      ),
    );
  },
  "Image.clipToBoundsAndScale": (a) => {
    const fn = "Image.clipToBoundsAndScale";
    return new ImageValue(
      clipToBoundsAndScale(image(fn, "input", a.input).image, {
        geometry: a.geometry === null ? undefined : geometry(fn, "geometry", a.geometry),
        width: optionalNumber(fn, "width", a.width) ?? undefined,
        height: optionalNumber(fn, "height", a.height) ?? undefined,
        maxDimension: optionalNumber(fn, "maxDimension", a.maxDimension) ?? undefined,
        scale: optionalNumber(fn, "scale", a.scale) ?? undefined,
      }),
    );
  },
  "Image.projection": (a) => {
    const bands = image("Image.projection", "image", a.image).image.bands;
    if (bands.length === 0) throw invalidArgument("Image.projection: The image has no bands.");
    const [first] = bands;
    const same = bands.every(
      (b) =>
        b.crsCode === first.crsCode && b.crsTransform.every((v, i) => v === first.crsTransform[i]),
    );
    if (!same) {
      throw invalidArgument(
        "Image.projection: The bands of the specified image contains different projections. Use Image.select to pick a single band.",
      );
    }
    return new ProjectionValue(first.crsCode, [...first.crsTransform]);
  },
  "Image.bandNames": (a) => image("Image.bandNames", "image", a.image).image.bands.map((b) => b.id),

  // Projections
  Projection: (a) => {
    if (a.crs instanceof ProjectionValue) return a.crs;
    return makeProjection(
      str("Projection", "crs", a.crs),
      numberList("Projection", "transform", a.transform),
    );
  },
  "Projection.crs": (a) => projection("Projection.crs", "projection", a.projection).crs,
  "Projection.nominalScale": (a) =>
    nominalScale(projection("Projection.nominalScale", "proj", a.proj)),

  // Casts, band maths, masks, blend, addBands, slice, List.map
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
