/**
 * Lazy collections. ImageCollection.load is a query over the scene catalogue: date and
 * bounds filters applied straight after it narrow the query itself (so a search only
 * enumerates the tiles under the AOI and the revisit days in range); anything else runs over
 * the materialized elements, capped like Earth Engine at 5000 elements.
 */

import { imageOfScene } from "./cloud-score";
import { invalidArgument } from "./errors";
import { geometryBox, intersects, ringToPolygon } from "./functions-geometry";
import {
  type CollectionElement,
  CollectionValue,
  type EeValue,
  FeatureValue,
  type FilterNode,
  ImageValue,
} from "./functions-values";
import type { Geometry } from "./model";
import { FIRST_ACQUISITION_MS, scenesInRange, tilesIntersectingBox } from "./scenes";

/** Earth Engine refuses to materialize bigger collections in one computation. */
export const MAX_COLLECTION_ELEMENTS = 5000;

const TOO_MANY = `Collection query aborted after accumulating over ${MAX_COLLECTION_ELEMENTS} elements.`;

export function elementProperties(element: CollectionElement): Record<string, unknown> {
  return element instanceof ImageValue ? element.image.properties : element.properties;
}

export function elementGeometry(element: EeValue): Geometry | null {
  if (element instanceof FeatureValue) return element.geometry;
  if (element instanceof ImageValue) {
    if (element.image.footprintGeometry) return element.image.footprintGeometry;
    const footprint = element.image.properties["system:footprint"] as
      | { coordinates?: number[][] }
      | undefined;
    return footprint?.coordinates ? ringToPolygon(footprint.coordinates) : null;
  }
  return null;
}

/** Pushes a filter into a scene query when it can; returns undefined when it cannot. */
export function narrowQuery(
  collection: CollectionValue,
  filter: FilterNode,
): CollectionValue | undefined {
  const source = collection.source;
  if (source.kind !== "scenes" || collection.ops.length > 0) return undefined;
  if (filter.op === "and") {
    let narrowed: CollectionValue | undefined = collection;
    for (const part of filter.filters) {
      narrowed = narrowed && narrowQuery(narrowed, part);
      if (!narrowed) return undefined;
    }
    return narrowed;
  }
  if (filter.op === "dateRangeContains") {
    const range = filter.leftValue;
    if (filter.rightField !== "system:time_start" || !isRange(range)) return undefined;
    const start = Math.max(source.start ?? Number.NEGATIVE_INFINITY, range.start);
    const end = Math.min(source.end ?? Number.POSITIVE_INFINITY, range.end);
    return new CollectionValue(
      collection.elementType,
      { ...source, start, end },
      [],
      collection.id,
      collection.version,
    );
  }
  if (filter.op === "intersects" && filter.leftField === ".all") {
    const region = geometryOf(filter.rightValue);
    if (!region) return undefined;
    return new CollectionValue(
      collection.elementType,
      { ...source, regions: [...source.regions, region] },
      [],
      collection.id,
      collection.version,
    );
  }
  return undefined;
}

function isRange(value: EeValue): value is EeValue & { start: number; end: number } {
  return (
    typeof value === "object" &&
    value !== null &&
    "start" in value &&
    "end" in value &&
    !Array.isArray(value)
  );
}

export function geometryOf(value: EeValue): Geometry | null {
  if (value instanceof FeatureValue || value instanceof ImageValue) return elementGeometry(value);
  if (typeof value === "object" && value !== null && "geometry" in value && !Array.isArray(value)) {
    const g = (value as { geometry: unknown }).geometry;
    if (typeof g === "object" && g !== null && "type" in g) return g as Geometry;
  }
  return null;
}

function sceneElements(
  source: Extract<CollectionValue["source"], { kind: "scenes" }>,
): CollectionElement[] {
  if (source.regions.length === 0) {
    throw invalidArgument(
      `${TOO_MANY} ${source.collection} covers the whole planet: filter it with filterBounds(geometry) first.`,
    );
  }
  const start = Math.max(source.start ?? FIRST_ACQUISITION_MS, FIRST_ACQUISITION_MS);
  // Without an end date the archive runs up to today, as Earth Engine's does.
  const end = source.end ?? Date.now();
  if (!(start < end)) return [];
  const box = geometryBox(source.regions[0]);
  const elements: CollectionElement[] = [];
  const scenes = [];
  for (const tile of tilesIntersectingBox(box)) {
    const tileShape = ringToPolygon(tile.footprint);
    if (!source.regions.every((region) => intersects(tileShape, region))) continue;
    for (const scene of scenesInRange(source.collection, tile, start, end)) {
      scenes.push(scene);
      if (scenes.length > MAX_COLLECTION_ELEMENTS) throw invalidArgument(TOO_MANY);
    }
  }
  // Earth Engine lists collections in asset order: by time, then tile.
  scenes.sort((a, b) => a.timeStart - b.timeStart || (a.index < b.index ? -1 : 1));
  for (const scene of scenes) {
    elements.push(
      new ImageValue(
        imageOfScene(scene),
        `${source.collection}/${scene.index}`,
        versionOf(scene.properties),
      ),
    );
  }
  return elements;
}

/** Earth Engine's asset versions are microsecond timestamps of the last update. */
export function versionOf(properties: Record<string, unknown>): number {
  const generated = Number(properties.GENERATION_TIME ?? properties["system:time_start"] ?? 0);
  return generated * 1000 + 123;
}

export function materialize(collection: CollectionValue): CollectionElement[] {
  let elements =
    collection.source.kind === "scenes"
      ? sceneElements(collection.source)
      : collection.source.elements;
  for (const op of collection.ops) {
    if (op.kind === "filter")
      elements = elements.filter((element) => testFilter(op.filter, element));
    else if (op.kind === "map") {
      const mapped: CollectionElement[] = [];
      for (const element of elements) {
        const result = op.fn.call({ [op.fn.argumentNames[0] ?? "_"]: element });
        if (result === null) {
          if (op.dropNulls) continue;
          throw invalidArgument(
            "Collection.map: A mapped algorithm must return a Feature or Image.",
          );
        }
        if (!(result instanceof ImageValue || result instanceof FeatureValue)) {
          throw invalidArgument(
            "Collection.map: A mapped algorithm must return a Feature or Image.",
          );
        }
        mapped.push(result);
      }
      elements = mapped;
    } else {
      let sorted = elements;
      if (op.key !== null) {
        const key = op.key;
        const direction = op.ascending ? 1 : -1;
        sorted = elements
          .map((element, i) => ({ element, i, value: elementProperties(element)[key] }))
          .sort((a, b) => compareValues(a.value, b.value) * direction || a.i - b.i)
          .map((entry) => entry.element);
      }
      elements = op.limit === null ? sorted : sorted.slice(0, Math.max(0, op.limit));
    }
  }
  return elements;
}

/** Orders numbers and strings; missing values sort last, as Earth Engine's sort does. */
export function compareValues(a: unknown, b: unknown): number {
  const missingA = a === undefined || a === null;
  const missingB = b === undefined || b === null;
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function valuesEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sideValue(element: CollectionElement, field: string | null, value: EeValue): unknown {
  if (field === null) return value;
  if (field === ".all" || field === ".geo") return elementGeometry(element);
  const properties = elementProperties(element);
  return Object.hasOwn(properties, field) ? properties[field] : undefined;
}

export function testFilter(filter: FilterNode, element: CollectionElement): boolean {
  switch (filter.op) {
    case "and":
      return filter.filters.every((f) => testFilter(f, element));
    case "or":
      return filter.filters.some((f) => testFilter(f, element));
    case "not":
      return !testFilter(filter.filter, element);
    default: {
      const left = sideValue(element, filter.leftField, filter.leftValue);
      const right = sideValue(element, filter.rightField, filter.rightValue);
      // A missing property fails every comparison, as in Earth Engine.
      if (left === undefined || right === undefined) return false;
      switch (filter.op) {
        case "lessThan":
          return left !== null && right !== null && compareValues(left, right) < 0;
        case "greaterThan":
          return left !== null && right !== null && compareValues(left, right) > 0;
        case "equals":
          return valuesEqual(left, right);
        case "notEquals":
          return !valuesEqual(left, right);
        case "inList":
          return Array.isArray(right) && right.some((item) => valuesEqual(item, left));
        case "dateRangeContains": {
          const range = left as { start?: number; end?: number };
          const t =
            typeof right === "object" && right !== null && "ms" in right
              ? (right as { ms: number }).ms
              : right;
          return typeof t === "number" &&
            typeof range.start === "number" &&
            typeof range.end === "number"
            ? range.start <= t && t < range.end
            : false;
        }
        case "intersects": {
          const a = left as Geometry | null;
          const b = (right as Geometry | null) ?? null;
          const ga = a && "type" in a ? a : geometryOf(left as EeValue);
          const gb = b && "type" in b ? b : geometryOf(right as EeValue);
          return ga !== null && gb !== null && intersects(ga, gb);
        }
      }
    }
  }
}
