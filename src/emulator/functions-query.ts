/**
 * Collections, filters and dates by wire name: how a search loads, filters and lists images,
 * and Reducer.toList for Collection.reduceColumns. Merged into FUNCTIONS (functions.ts); how
 * a collection evaluates is in functions-collection.ts.
 */
import { assetNotFound } from "./errors";
import {
  collection,
  image,
  optionalNumber,
  parseDate,
  str,
  stringList,
  typeError,
  unsupported,
  utcOnly,
} from "./functions-args";
import { elementProperties, materialize, narrowQuery } from "./functions-collection";
import {
  Closure,
  CollectionValue,
  DateRangeValue,
  DateValue,
  type EeValue,
  FeatureValue,
  type FilterNode,
  FilterValue,
  GeometryValue,
  ImageValue,
  type Implementation,
  ReducerValue,
} from "./functions-values";
import { isSceneCollection } from "./scenes";

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

/** The one version of every scene collection the emulator serves. */
const COLLECTION_VERSION = 1_700_000_000_000_000;

export const QUERY_FUNCTIONS: Record<string, Implementation> = {
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

  // Reducers
  "Reducer.toList": (a) =>
    new ReducerValue("toList", optionalNumber("Reducer.toList", "tupleSize", a.tupleSize)),
};
