/**
 * Implementations of the catalog's functions, by wire name. Arguments arrive by Earth
 * Engine's argument names with catalog defaults applied; image operations delegate to
 * image.ts and band-math.ts. The keys of FUNCTIONS are the set of implemented functions:
 * each must be in the catalog (catalog.json) and read only arguments its signature names
 * (test/emulator/catalog.test.ts checks both); every other catalog function answers 400.
 */
import { crsFromCode } from "../core/crs";
import { imageOfScene } from "./cloud-score";
import { assetNotFound, invalidArgument } from "./errors";
import {
  collection,
  geometry,
  image,
  makeProjection,
  numberList,
  optionalNumber,
  parseDate,
  projection,
  str,
  stringList,
  typeError,
} from "./functions-args";
import {
  elementGeometry,
  elementProperties,
  materialize,
  narrowQuery,
  versionOf,
} from "./functions-collection";
import {
  boxPolygon,
  geometryBox,
  geometryOptions,
  makeGeometry,
  makeRectangle,
  toLonLatGeometry,
} from "./functions-geometry";
import { IMAGE_FUNCTIONS } from "./functions-image";
import { REDUCE_FUNCTIONS } from "./functions-reduce";
import {
  Closure,
  type CollectionElement,
  CollectionValue,
  DateRangeValue,
  DateValue,
  type EeValue,
  FeatureValue,
  type FilterNode,
  FilterValue,
  GeometryValue,
  ImageValue,
  ProjectionValue,
  ReducerValue,
} from "./functions-values";
import * as images from "./image";
import { clipToBoundsAndScale } from "./image-thumbnail";
import { type VisParams, visualize } from "./image-visualize";
import type { Geometry } from "./model";
import { isSceneCollection, sceneFromIndex } from "./scenes";

export { parseDate } from "./functions-args";

export type Implementation = (args: Record<string, EeValue>) => EeValue;

function compareFilter(
  op: Extract<FilterNode, { leftField: string | null }>["op"],
): Implementation {
  return (a) =>
    new FilterValue({
      op,
      leftField: a.leftField === null ? null : str(`Filter.${op}`, "leftField", a.leftField),
      leftValue: a.leftValue,
      rightField: a.rightField === null ? null : str(`Filter.${op}`, "rightField", a.rightField),
      rightValue: a.rightValue,
    });
}

function filterNode(fn: string, value: EeValue): FilterNode {
  if (value instanceof FilterValue) return value.node;
  return typeError(fn, "filter", "Filter", value);
}

function withProperties(fn: string, element: EeValue, props: Record<string, EeValue>): EeValue {
  if (element instanceof ImageValue) {
    return new ImageValue(images.setProperties(element.image, props), element.id, element.version);
  }
  if (element instanceof FeatureValue)
    return new FeatureValue(element.geometry, { ...element.properties, ...props });
  return typeError(fn, "object", "Element", element);
}

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

/**
 * An argument the emulator does not implement, given a value that would change the answer:
 * a 400 naming it rather than an answer computed as if it were absent.
 */
function unsupported(fn: string, arg: string, value: EeValue, fix: string): never {
  throw invalidArgument(
    `${fn}: argument '${arg}' = ${JSON.stringify(value)} is not implemented by the emulator; ${fix}.`,
  );
}

function lonLatOnly(fn: string, arg: string, value: EeValue): void {
  if (value === null || value === undefined) return;
  const code = value instanceof ProjectionValue ? value.crs : value;
  const identity =
    !(value instanceof ProjectionValue) ||
    value.transform.every((v, i) => v === [1, 0, 0, 0, 1, 0][i]);
  if (typeof code === "string" && code.toUpperCase() === "EPSG:4326" && identity) return;
  unsupported(fn, arg, code, "omit it (results are in EPSG:4326)");
}

function utcOnly(fn: string, value: EeValue): void {
  if (value === null || value === undefined) return;
  if (typeof value === "string" && /^(utc|etc\/utc|gmt|z)$/i.test(value.trim())) return;
  unsupported(fn, "timeZone", value, "omit it or pass 'UTC' (dates are read as UTC)");
}

/** `options` names each constructor's own arguments, so the catalog test can check them. */
function constructed(
  kind: string,
  options: Record<string, EeValue>,
  geometry: Geometry,
): GeometryValue {
  const fn = `GeometryConstructors.${kind}`;
  // The emulator's geometry is planar lon/lat: an unspecified geodesic flag is read as
  // planar (for AOI-sized shapes the great-circle bow is under a metre).
  return new GeometryValue(toLonLatGeometry(fn, geometry, geometryOptions(fn, options), false));
}

function nominalScale(p: ProjectionValue): number {
  const [a, b, , d, e] = p.transform;
  const units = Math.sqrt(Math.abs(a * e - b * d));
  // Degrees to metres at the equator, as Earth Engine reports for EPSG:4326.
  return crsFromCode(p.crs).units === "degree" ? units * ((6378137 * Math.PI) / 180) : units;
}

/** The one version of every scene collection the emulator serves. */
const COLLECTION_VERSION = 1_700_000_000_000_000;

export const FUNCTIONS: Record<string, Implementation> = {
  // Collections
  "ImageCollection.load": (a) => {
    const id = str("ImageCollection.load", "id", a.id);
    if (!isSceneCollection(id)) throw assetNotFound("ImageCollection.load", "ImageCollection", id);
    const version = optionalNumber("ImageCollection.load", "version", a.version);
    if (version !== null && version !== COLLECTION_VERSION) {
      throw assetNotFound("ImageCollection.load", "ImageCollection", `${id}@${version}`);
    }
    return new CollectionValue(
      "Image",
      { kind: "scenes", collection: id, start: null, end: null, regions: [] },
      [],
      id,
      COLLECTION_VERSION,
    );
  },
  "ImageCollection.fromImages": (a) => {
    const list = Array.isArray(a.images)
      ? a.images
      : typeError("ImageCollection.fromImages", "images", "List", a.images);
    return new CollectionValue(
      "Image",
      { kind: "list", elements: list.map((v) => image("ImageCollection.fromImages", "images", v)) },
      [],
    );
  },
  Collection: (a) => {
    const list = Array.isArray(a.features)
      ? a.features
      : typeError("Collection", "features", "List<Element>", a.features);
    const elements = list.map((v) =>
      v instanceof FeatureValue || v instanceof ImageValue
        ? v
        : v instanceof GeometryValue
          ? new FeatureValue(v.geometry, {})
          : typeError("Collection", "features", "List<Element>", v),
    );
    return new CollectionValue("Feature", { kind: "list", elements }, []);
  },
  "Collection.filter": (a) => {
    const c = collection("Collection.filter", "collection", a.collection);
    const node = filterNode("Collection.filter", a.filter);
    return narrowQuery(c, node) ?? c.with({ kind: "filter", filter: node });
  },
  "Collection.map": (a) => {
    const c = collection("Collection.map", "collection", a.collection);
    if (!(a.baseAlgorithm instanceof Closure))
      return typeError("Collection.map", "baseAlgorithm", "Algorithm", a.baseAlgorithm);
    return c.with({ kind: "map", fn: a.baseAlgorithm, dropNulls: a.dropNulls === true });
  },
  "Collection.size": (a) =>
    materialize(collection("Collection.size", "collection", a.collection)).length,
  "Collection.limit": (a) =>
    collection("Collection.limit", "collection", a.collection).with({
      kind: "limit",
      limit: optionalNumber("Collection.limit", "limit", a.limit),
      key: a.key === null ? null : str("Collection.limit", "key", a.key),
      ascending: a.ascending !== false,
    }),
  "Collection.first": (a) =>
    materialize(collection("Collection.first", "collection", a.collection))[0] ?? null,
  "Collection.toList": (a) => {
    const count = optionalNumber("Collection.toList", "count", a.count) ?? 0;
    const offset = optionalNumber("Collection.toList", "offset", a.offset) ?? 0;
    return materialize(collection("Collection.toList", "collection", a.collection)).slice(
      offset,
      offset + count,
    );
  },
  "Collection.reduceColumns": (a) => {
    const c = collection("Collection.reduceColumns", "collection", a.collection);
    if (!(a.reducer instanceof ReducerValue))
      return typeError("Collection.reduceColumns", "reducer", "Reducer", a.reducer);
    const selectors = stringList("Collection.reduceColumns", "selectors", a.selectors);
    if (a.weightSelectors !== null && a.weightSelectors !== undefined) {
      unsupported("Collection.reduceColumns", "weightSelectors", a.weightSelectors, "omit it");
    }
    const rows: EeValue[] = [];
    for (const element of materialize(c)) {
      const props = elementProperties(element);
      if (!selectors.every((s) => props[s] !== undefined && props[s] !== null)) continue;
      const values = selectors.map((s) => props[s] as EeValue);
      rows.push(selectors.length === 1 ? values[0] : values);
    }
    return { list: rows };
  },
  "AggregateFeatureCollection.array": (a) => {
    const property = str("AggregateFeatureCollection.array", "property", a.property);
    const out: EeValue[] = [];
    for (const element of materialize(
      collection("AggregateFeatureCollection.array", "collection", a.collection),
    )) {
      const value = elementProperties(element)[property];
      if (value !== undefined && value !== null) out.push(value as EeValue);
    }
    return out;
  },

  // Filters
  "Filter.dateRangeContains": compareFilter("dateRangeContains"),
  "Filter.intersects": compareFilter("intersects"),
  "Filter.lessThan": compareFilter("lessThan"),
  "Filter.greaterThan": compareFilter("greaterThan"),
  "Filter.equals": compareFilter("equals"),
  "Filter.notEquals": compareFilter("notEquals"),
  "Filter.inList": compareFilter("inList"),
  "Filter.and": (a) => {
    const list = Array.isArray(a.filters)
      ? a.filters
      : typeError("Filter.and", "filters", "List<Filter>", a.filters);
    return new FilterValue({ op: "and", filters: list.map((f) => filterNode("Filter.and", f)) });
  },
  "Filter.or": (a) => {
    const list = Array.isArray(a.filters)
      ? a.filters
      : typeError("Filter.or", "filters", "List<Filter>", a.filters);
    return new FilterValue({ op: "or", filters: list.map((f) => filterNode("Filter.or", f)) });
  },
  "Filter.not": (a) => new FilterValue({ op: "not", filter: filterNode("Filter.not", a.filter) }),

  // Dates
  Date: (a) => {
    utcOnly("Date", a.timeZone);
    return new DateValue(parseDate("Date", a.value));
  },
  DateRange: (a) => {
    utcOnly("DateRange", a.timeZone);
    const start = parseDate("DateRange", a.start);
    // Without an end, Earth Engine's range is the single millisecond at start.
    const end = a.end === null ? start + 1 : parseDate("DateRange", a.end);
    return new DateRangeValue(start, end);
  },

  // Features and elements
  Feature: (a) => {
    const g = a.geometry === null ? null : geometry("Feature", "geometry", a.geometry);
    const metadata = a.metadata;
    if (
      metadata !== null &&
      (typeof metadata !== "object" || Array.isArray(metadata) || metadata.constructor !== Object)
    ) {
      return typeError("Feature", "metadata", "Dictionary<Object>", metadata);
    }
    return new FeatureValue(g, { ...((metadata ?? {}) as Record<string, EeValue>) });
  },
  "Feature.geometry": (a) => {
    lonLatOnly("Feature.geometry", "proj", a.proj);
    const g = elementGeometry(a.feature);
    if (!g) throw invalidArgument("Feature.geometry: The element has no geometry.");
    return new GeometryValue(g);
  },
  "Element.get": (a) => {
    const property = str("Element.get", "property", a.property);
    if (!(a.object instanceof ImageValue || a.object instanceof FeatureValue)) {
      return typeError("Element.get", "object", "Element", a.object);
    }
    const value = elementProperties(a.object)[property];
    return value === undefined ? null : (value as EeValue);
  },
  "Element.set": (a) =>
    withProperties("Element.set", a.object, { [str("Element.set", "key", a.key)]: a.value }),
  "Element.setMulti": (a) => {
    const props = a.properties;
    if (
      typeof props !== "object" ||
      props === null ||
      Array.isArray(props) ||
      props.constructor !== Object
    ) {
      return typeError("Element.setMulti", "properties", "Dictionary<Object>", props);
    }
    return withProperties("Element.setMulti", a.object, props as Record<string, EeValue>);
  },
  "Element.propertyNames": (a) => {
    if (!(a.element instanceof ImageValue || a.element instanceof FeatureValue)) {
      return typeError("Element.propertyNames", "element", "Element", a.element);
    }
    return Object.keys(elementProperties(a.element));
  },

  // Geometries
  // Coordinates in a geometry's own crs are converted to lon/lat, never read as degrees.
  "GeometryConstructors.Polygon": (a) =>
    constructed(
      "Polygon",
      { crs: a.crs, geodesic: a.geodesic, maxError: a.maxError, evenOdd: a.evenOdd },
      makeGeometry("Polygon", a.coordinates),
    ),
  "GeometryConstructors.MultiPolygon": (a) =>
    constructed(
      "MultiPolygon",
      { crs: a.crs, geodesic: a.geodesic, maxError: a.maxError, evenOdd: a.evenOdd },
      makeGeometry("MultiPolygon", a.coordinates),
    ),
  "GeometryConstructors.Point": (a) =>
    constructed("Point", { crs: a.crs }, makeGeometry("Point", a.coordinates)),
  "GeometryConstructors.LineString": (a) =>
    constructed(
      "LineString",
      { crs: a.crs, geodesic: a.geodesic, maxError: a.maxError },
      makeGeometry("LineString", a.coordinates),
    ),
  "GeometryConstructors.Rectangle": (a) =>
    constructed(
      "Rectangle",
      { crs: a.crs, geodesic: a.geodesic, evenOdd: a.evenOdd },
      makeRectangle(a.coordinates),
    ),
  "Geometry.bounds": (a) => {
    lonLatOnly("Geometry.bounds", "proj", a.proj);
    return new GeometryValue(
      boxPolygon(geometryBox(geometry("Geometry.bounds", "geometry", a.geometry))),
    );
  },

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

  // Projections and reducers
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
  "Reducer.toList": (a) =>
    new ReducerValue("toList", optionalNumber("Reducer.toList", "tupleSize", a.tupleSize)),

  // Casts, band maths, masks, blend, addBands, slice, List.map
  ...IMAGE_FUNCTIONS,
  // Comparisons, boolean logic, reduceRegion, linkCollection: clouds over an AOI
  ...REDUCE_FUNCTIONS,
};

/** Wire names of the functions the emulator evaluates, sorted. */
export function implementedFunctionNames(): string[] {
  return Object.keys(FUNCTIONS).sort();
}
