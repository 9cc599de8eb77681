/**
 * The values expressions evaluate to. JSON-like values (numbers, strings, lists,
 * dictionaries) stay plain; Earth Engine objects are classes so functions can tell them apart
 * from dictionaries a user wrote.
 */
import type { EmImage } from "./image";
import type { Geometry } from "./model";

export type EeValue =
  | null
  | boolean
  | number
  | string
  | EeValue[]
  | { [key: string]: EeValue }
  | EeObject;

export type EeObject =
  | GeometryValue
  | FeatureValue
  | ImageValue
  | CollectionValue
  | FilterValue
  | DateValue
  | DateRangeValue
  | ProjectionValue
  | ReducerValue
  | Closure;

/** A function's implementation: Earth Engine's named arguments, catalog defaults applied. */
export type Implementation = (args: Record<string, EeValue>) => EeValue;

export class GeometryValue {
  constructor(readonly geometry: Geometry) {}
}

export class FeatureValue {
  constructor(
    readonly geometry: Geometry | null,
    readonly properties: Record<string, EeValue>,
  ) {}
}

/** An image plus its asset identity, which Earth Engine reports only for loaded assets. */
export class ImageValue {
  constructor(
    readonly image: EmImage,
    readonly id?: string,
    readonly version?: number,
  ) {}
}

export class DateValue {
  constructor(readonly ms: number) {}
}

/** [start, end): Earth Engine's date ranges exclude their end. */
export class DateRangeValue {
  constructor(
    readonly start: number,
    readonly end: number,
  ) {}
}

export class ProjectionValue {
  constructor(
    readonly crs: string,
    readonly transform: number[],
  ) {}
}

export class ReducerValue {
  constructor(
    readonly kind: "toList" | "mean",
    readonly tupleSize: number | null,
  ) {}
}

/** A functionDefinitionValue bound to its scope; called with named arguments. */
export class Closure {
  constructor(
    readonly argumentNames: string[],
    readonly call: (args: Record<string, EeValue>) => EeValue,
  ) {}
}

export type FilterNode =
  | { op: "and" | "or"; filters: FilterNode[] }
  | { op: "not"; filter: FilterNode }
  | {
      op:
        | "lessThan"
        | "greaterThan"
        | "equals"
        | "notEquals"
        | "inList"
        | "dateRangeContains"
        | "intersects";
      leftField: string | null;
      leftValue: EeValue;
      rightField: string | null;
      rightValue: EeValue;
    };

export class FilterValue {
  constructor(readonly node: FilterNode) {}
}

export type CollectionElement = ImageValue | FeatureValue;

/** Where a collection's elements come from before its operations run. */
export type CollectionSource =
  | {
      kind: "scenes";
      collection: string;
      start: number | null;
      end: number | null;
      /** Every scene's footprint must intersect each of these. */
      regions: Geometry[];
    }
  | { kind: "list"; elements: CollectionElement[] };

export type CollectionOp =
  | { kind: "filter"; filter: FilterNode }
  | { kind: "map"; fn: Closure; dropNulls: boolean }
  | { kind: "limit"; limit: number | null; key: string | null; ascending: boolean };

/** A lazy collection: a source plus operations, materialized only when a value is needed. */
export class CollectionValue {
  constructor(
    readonly elementType: "Image" | "Feature",
    readonly source: CollectionSource,
    readonly ops: CollectionOp[],
    readonly id?: string,
    readonly version?: number,
  ) {}

  with(op: CollectionOp, elementType: "Image" | "Feature" = this.elementType): CollectionValue {
    return new CollectionValue(elementType, this.source, [...this.ops, op], this.id, this.version);
  }
}
