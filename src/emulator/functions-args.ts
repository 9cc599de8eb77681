/**
 * Argument coercion for the function implementations: each checks one argument's type and
 * fails with Earth Engine's "Fn, argument 'x': Invalid type" wording. At the end, checks that
 * refuse argument values the emulator does not implement.
 */
import { crsFromCode } from "../core/crs";
import { invalidArgument } from "./errors";
import { geometryOf } from "./functions-collection";
import {
  CollectionValue,
  DateValue,
  type EeValue,
  GeometryValue,
  ImageValue,
  ProjectionValue,
} from "./functions-values";
import * as images from "./image";
import type { Geometry } from "./model";

// Argument coercion: messages follow Earth Engine's "Fn, argument 'x': Invalid type" form.

export function typeError(fn: string, arg: string, expected: string, value: EeValue): never {
  const actual =
    value === null
      ? "null"
      : Array.isArray(value)
        ? "List"
        : typeof value === "object"
          ? value.constructor.name.replace(/Value$/, "")
          : typeof value;
  throw invalidArgument(
    `${fn}, argument '${arg}': Invalid type.\nExpected type: ${expected}.\nActual type: ${actual}.`,
  );
}

export function image(fn: string, arg: string, value: EeValue): ImageValue {
  if (value instanceof ImageValue) return value;
  if (typeof value === "number") return new ImageValue(images.constantImage(value));
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
    return new ImageValue(images.constantImage(value as number[]));
  }
  return typeError(fn, arg, "Image<unknown bands>", value);
}

export function geometry(fn: string, arg: string, value: EeValue): Geometry {
  if (value instanceof GeometryValue) return value.geometry;
  const g = geometryOf(value);
  if (g) return g;
  return typeError(fn, arg, "Geometry", value);
}

export function collection(fn: string, arg: string, value: EeValue): CollectionValue {
  if (value instanceof CollectionValue) return value;
  return typeError(fn, arg, "FeatureCollection", value);
}

export function str(fn: string, arg: string, value: EeValue): string {
  if (typeof value === "string") return value;
  return typeError(fn, arg, "String", value);
}

export function optionalNumber(fn: string, arg: string, value: EeValue): number | null {
  if (value === null) return null;
  if (typeof value === "number") return value;
  return typeError(fn, arg, "Number", value);
}

export function stringList(fn: string, arg: string, value: EeValue): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
  return typeError(fn, arg, "List<String>", value);
}

export function numberList(fn: string, arg: string, value: EeValue): number[] | null {
  if (value === null) return null;
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) return value as number[];
  return typeError(fn, arg, "List<Float>", value);
}

export function projection(fn: string, arg: string, value: EeValue): ProjectionValue {
  if (value instanceof ProjectionValue) return value;
  if (typeof value === "string") return makeProjection(value, null);
  return typeError(fn, arg, "Projection", value);
}

export function makeProjection(crs: string, transform: number[] | null): ProjectionValue {
  try {
    const parsed = crsFromCode(crs);
    return new ProjectionValue(parsed.code, transform ?? [1, 0, 0, 0, 1, 0]);
  } catch (error) {
    throw invalidArgument(`Projection: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Earth Engine's date strings are UTC unless they say otherwise; JS would read some as local. */
export function parseDate(fn: string, value: EeValue): number {
  if (value instanceof DateValue) return value.ms;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const text = value.trim();
    const m =
      /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
        text,
      );
    if (m) {
      const [, y, mo = "1", d = "1", h = "0", mi = "0", s = "0", frac = "", zone] = m;
      const utc = Date.UTC(
        Number(y),
        Number(mo) - 1,
        Number(d),
        Number(h),
        Number(mi),
        Number(s),
        Math.round(Number(`0${frac}`) * 1000),
      );
      if (!zone || zone === "Z") return utc;
      const sign = zone.startsWith("-") ? -1 : 1;
      const digits = zone.slice(1).replace(":", "");
      return utc - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
  }
  throw invalidArgument(
    `${fn}: Unable to parse date ${JSON.stringify(value)}: use 'YYYY-MM-DD' or milliseconds since 1970.`,
  );
}

/**
 * An argument the emulator does not implement, given a value that would change the answer:
 * a 400 naming it rather than an answer computed as if it were absent.
 */
export function unsupported(fn: string, arg: string, value: EeValue, fix: string): never {
  throw invalidArgument(
    `${fn}: argument '${arg}' = ${JSON.stringify(value)} is not implemented by the emulator; ${fix}.`,
  );
}

export function lonLatOnly(fn: string, arg: string, value: EeValue): void {
  if (value === null || value === undefined) return;
  const code = value instanceof ProjectionValue ? value.crs : value;
  const identity =
    !(value instanceof ProjectionValue) ||
    value.transform.every((v, i) => v === [1, 0, 0, 0, 1, 0][i]);
  if (typeof code === "string" && code.toUpperCase() === "EPSG:4326" && identity) return;
  unsupported(fn, arg, code, "omit it (results are in EPSG:4326)");
}

export function utcOnly(fn: string, value: EeValue): void {
  if (value === null || value === undefined) return;
  if (typeof value === "string" && /^(utc|etc\/utc|gmt|z)$/i.test(value.trim())) return;
  unsupported(fn, "timeZone", value, "omit it or pass 'UTC' (dates are read as UTC)");
}
