/**
 * Features, element properties and geometries by wire name. Coordinates in a geometry's own
 * crs are converted to lon/lat (functions-geometry.ts). Merged into FUNCTIONS (functions.ts).
 */
import { invalidArgument } from "./errors";
import { geometry, lonLatOnly, str, typeError } from "./functions-args";
import { elementGeometry, elementProperties } from "./functions-collection";
import {
  boxPolygon,
  geometryBox,
  geometryOptions,
  makeGeometry,
  makeRectangle,
  toLonLatGeometry,
} from "./functions-geometry";
import {
  type EeValue,
  FeatureValue,
  GeometryValue,
  ImageValue,
  type Implementation,
} from "./functions-values";
import * as images from "./image";
import type { Geometry } from "./model";

function withProperties(fn: string, element: EeValue, props: Record<string, EeValue>): EeValue {
  if (element instanceof ImageValue) {
    return new ImageValue(images.setProperties(element.image, props), element.id, element.version);
  }
  if (element instanceof FeatureValue)
    return new FeatureValue(element.geometry, { ...element.properties, ...props });
  return typeError(fn, "object", "Element", element);
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

export const FEATURE_FUNCTIONS: Record<string, Implementation> = {
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
};
