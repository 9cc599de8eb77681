/**
 * What a search needs to measure clouds over an AOI in one computation, by wire name:
 * comparisons and boolean logic to build a cloud mask (Image.eq/neq/lt/lte/gt/gte/and/or/
 * not), Image.reduceRegion with Reducer.mean to reduce it over the AOI, and
 * Image.linkCollection to join Cloud Score+ to Sentinel-2 by system:index. Merged into
 * FUNCTIONS (functions.ts); pixels are in image-compare.ts and image-reduce.ts.
 */
import { imageOfScene } from "./cloud-score";
import { invalidArgument } from "./errors";
import {
  collection,
  geometry,
  image,
  numberList,
  optionalNumber,
  projection,
  str,
  stringList,
  typeError,
} from "./functions-args";
import { elementGeometry, elementProperties, materialize, versionOf } from "./functions-collection";
import { intersects } from "./functions-geometry";
import {
  type CollectionElement,
  CollectionValue,
  type EeValue,
  ImageValue,
  type Implementation,
  ReducerValue,
} from "./functions-values";
import { constantImage, derive, type EmImage, select } from "./image";
import { type Comparison, compare, not } from "./image-compare";
import { reduceRegion } from "./image-reduce";
import { sceneFromIndex } from "./scenes";

function comparison(op: Comparison): Implementation {
  const fn = `Image.${op}`;
  return (a) =>
    new ImageValue(
      compare(op, image(fn, "image1", a.image1).image, image(fn, "image2", a.image2).image),
    );
}

function flag(fn: string, arg: string, value: EeValue): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  return typeError(fn, arg, "Boolean", value);
}

/**
 * The image of `other` whose `property` equals `value`. A scene query matched on
 * system:index looks the acquisition up directly: Cloud Score+ is usually linked unfiltered,
 * and listing a whole planet's collection is refused.
 */
function matchingImage(
  other: CollectionValue,
  property: string,
  value: unknown,
): ImageValue | undefined {
  const source = other.source;
  let candidates: CollectionValue = other;
  if (source.kind === "scenes" && property === "system:index" && typeof value === "string") {
    const scene = sceneFromIndex(source.collection, value);
    if (!scene) return undefined;
    const inDates =
      (source.start === null || scene.timeStart >= source.start) &&
      (source.end === null || scene.timeStart < source.end);
    const element = new ImageValue(
      imageOfScene(scene),
      `${source.collection}/${scene.index}`,
      versionOf(scene.properties),
    );
    const footprint = elementGeometry(element);
    const inRegions =
      footprint !== null && source.regions.every((region) => intersects(footprint, region));
    if (!inDates || !inRegions) return undefined;
    candidates = new CollectionValue("Image", { kind: "list", elements: [element] }, other.ops);
  }
  const same = (element: CollectionElement) =>
    JSON.stringify(elementProperties(element)[property]) === JSON.stringify(value);
  const found = materialize(candidates).find(same);
  return found instanceof ImageValue ? found : undefined;
}

/**
 * Image.linkCollection: the matching image's bands (`linkedBands`, all when null) and
 * properties added to the input, replacing same-named ones. Without a match the named
 * bands are added fully masked and the properties set to null, as Earth Engine documents.
 */
function linkCollection(a: Record<string, EeValue>): EeValue {
  const fn = "Image.linkCollection";
  const input = image(fn, "input", a.input);
  const other = collection(fn, "imageCollection", a.imageCollection);
  const property = str(fn, "matchPropertyName", a.matchPropertyName);
  const bandNames = a.linkedBands === null ? null : stringList(fn, "linkedBands", a.linkedBands);
  const propertyNames =
    a.linkedProperties === null ? [] : stringList(fn, "linkedProperties", a.linkedProperties);
  const match = matchingImage(other, property, input.image.properties[property]);
  let linked: EmImage;
  if (match) {
    linked = bandNames === null ? match.image : select(match.image, bandNames);
  } else {
    const names = bandNames ?? [];
    const masked = constantImage(names.length > 0 ? names.map(() => 0) : 0);
    linked = derive(masked, {
      bands: names.map((name, i) => ({ ...masked.bands[i], id: name })),
      renderBand(ctx, index) {
        const source = ctx.band(masked, index);
        const none = new Uint8Array(source.mask.length);
        return { data: source.data, mask: none, footprint: source.footprint };
      },
    });
  }
  const replaced = new Set(linked.bands.map((band) => band.id));
  const kept = input.image.bands.flatMap((band, i) => (replaced.has(band.id) ? [] : [i]));
  const linkedProperties = Object.fromEntries(
    propertyNames.map((name) => [name, match ? (match.image.properties[name] ?? null) : null]),
  );
  const source = input.image;
  const result = derive(source, {
    bands: [...kept.map((i) => source.bands[i]), ...linked.bands],
    properties: { ...source.properties, ...linkedProperties },
    renderBand: (ctx, index) =>
      index < kept.length ? ctx.band(source, kept[index]) : ctx.band(linked, index - kept.length),
  });
  return new ImageValue(result, input.id, input.version);
}

export const REDUCE_FUNCTIONS: Record<string, Implementation> = {
  "Image.eq": comparison("eq"),
  "Image.neq": comparison("neq"),
  "Image.lt": comparison("lt"),
  "Image.lte": comparison("lte"),
  "Image.gt": comparison("gt"),
  "Image.gte": comparison("gte"),
  "Image.and": comparison("and"),
  "Image.or": comparison("or"),
  "Image.not": (a) => new ImageValue(not(image("Image.not", "value", a.value).image)),
  "Reducer.mean": () => new ReducerValue("mean", null),
  "Image.reduceRegion": (a) => {
    const fn = "Image.reduceRegion";
    const input = image(fn, "image", a.image);
    if (!(a.reducer instanceof ReducerValue)) return typeError(fn, "reducer", "Reducer", a.reducer);
    if (a.reducer.kind !== "mean") {
      throw invalidArgument(
        `${fn}: the emulator reduces regions with ee.Reducer.mean() only, not Reducer.${a.reducer.kind}.`,
      );
    }
    const crs = a.crs === null ? null : projection(fn, "crs", a.crs);
    let crsTransform = numberList(fn, "crsTransform", a.crsTransform);
    const scale = optionalNumber(fn, "scale", a.scale);
    // A projection with its own transform fixes the pixel size when no scale is given.
    if (crs && crsTransform === null && scale === null && crs.transform.join() !== "1,0,0,0,1,0") {
      crsTransform = crs.transform;
    }
    const maxPixels = optionalNumber(fn, "maxPixels", a.maxPixels) ?? 1e7;
    return reduceRegion(input.image, "mean", {
      geometry: a.geometry === null ? null : geometry(fn, "geometry", a.geometry),
      scale,
      crs: crs?.crs ?? null,
      crsTransform,
      bestEffort: a.bestEffort === null ? false : flag(fn, "bestEffort", a.bestEffort),
      maxPixels,
    });
  },
  "Image.linkCollection": (a) => linkCollection(a),
};
