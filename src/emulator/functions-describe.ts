/**
 * value:compute results: evaluated values in the JSON shapes Earth Engine's getInfo returns
 * (Image, ImageCollection, Feature, FeatureCollection, Projection, Date, ...).
 */
import { INTEGER_RANGES } from "../core/samples";
import { invalidArgument } from "./errors";
import { materialize } from "./functions-collection";
import {
  Closure,
  CollectionValue,
  DateRangeValue,
  DateValue,
  type EeValue,
  FeatureValue,
  FilterValue,
  GeometryValue,
  ImageValue,
  ProjectionValue,
  ReducerValue,
} from "./functions-values";
import type { BandInfo } from "./model";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function pixelType(band: BandInfo): Json {
  switch (band.dataType) {
    case "float32":
      return { type: "PixelType", precision: "float" };
    case "float64":
      return { type: "PixelType", precision: "double" };
    default: {
      const [min, max] = band.range ?? (INTEGER_RANGES[band.dataType] as readonly [number, number]);
      return { type: "PixelType", precision: "int", min, max };
    }
  }
}

function describeBand(band: BandInfo): Json {
  const out: { [key: string]: Json } = { id: band.id, data_type: pixelType(band) };
  if (band.dimensions) out.dimensions = [...band.dimensions];
  out.crs = band.crsCode;
  out.crs_transform = [...band.crsTransform];
  return out;
}

function describeImage(value: ImageValue): Json {
  const out: { [key: string]: Json } = {
    type: "Image",
    bands: value.image.bands.map(describeBand),
  };
  if (value.id !== undefined) out.id = value.id;
  if (value.version !== undefined) out.version = value.version;
  const properties = toJson(value.image.properties as EeValue);
  if (properties && typeof properties === "object" && Object.keys(properties).length > 0) {
    out.properties = properties;
  }
  return out;
}

function describeFeature(value: FeatureValue): Json {
  return {
    type: "Feature",
    geometry: value.geometry as unknown as Json,
    properties: toJson(value.properties),
  };
}

function describeCollection(value: CollectionValue): Json {
  const elements = materialize(value);
  const features = elements.map((e) =>
    e instanceof ImageValue ? describeImage(e) : describeFeature(e),
  );
  if (value.elementType === "Image") {
    const out: { [key: string]: Json } = { type: "ImageCollection", bands: [] };
    if (value.id !== undefined) out.id = value.id;
    if (value.version !== undefined) out.version = value.version;
    out.properties = {};
    out.features = features;
    return out;
  }
  const columns: { [key: string]: Json } = {};
  for (const e of elements) {
    for (const [k, v] of Object.entries(
      e instanceof FeatureValue ? e.properties : e.image.properties,
    )) {
      columns[k] = typeof v === "number" ? "Number" : typeof v === "string" ? "String" : "Object";
    }
  }
  columns["system:index"] = "String";
  return {
    type: "FeatureCollection",
    columns,
    features: features.map((f, i) =>
      typeof f === "object" && f !== null && !Array.isArray(f) ? { ...f, id: String(i) } : f,
    ),
  };
}

/** Converts an evaluated value to getInfo's JSON. */
export function toJson(value: EeValue): Json {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return null;
    return value as Json;
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof ImageValue) return describeImage(value);
  if (value instanceof CollectionValue) return describeCollection(value);
  if (value instanceof FeatureValue) return describeFeature(value);
  if (value instanceof GeometryValue) return value.geometry as unknown as Json;
  if (value instanceof ProjectionValue)
    return { type: "Projection", crs: value.crs, transform: [...value.transform] };
  if (value instanceof DateValue) return { type: "Date", value: value.ms };
  if (value instanceof DateRangeValue)
    return { type: "DateRange", dates: [value.start, value.end] };
  if (value instanceof FilterValue) return { type: "Filter" };
  if (value instanceof ReducerValue) return { type: "Reducer" };
  if (value instanceof Closure) throw invalidArgument("A function cannot be computed to a value.");
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJson(v as EeValue);
  return out;
}
