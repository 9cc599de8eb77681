/**
 * The emulator's algorithm catalog: exactly the functions it implements, each with Earth
 * Engine's own signature (argument names, types, optional flags, defaults), because the
 * official client builds its whole `ee.*` API from this list at initialize time and
 * serializes calls with these argument names.
 *
 * Signatures mirror Earth Engine's `GET /v1/projects/{p}/algorithms` reply (descriptions
 * shortened to their first sentence).
 */

export interface AlgorithmArgument {
  argumentName: string;
  type: string;
  description?: string;
  optional?: boolean;
  defaultValue?: unknown;
}

export interface Algorithm {
  /** "algorithms/Image.clip" */
  name: string;
  description: string;
  returnType: string;
  arguments: AlgorithmArgument[];
  deprecated?: boolean;
  deprecationReason?: string;
}

/** The body of `GET .../algorithms`, as Earth Engine's ListAlgorithmsResponse. */
export interface ListAlgorithmsResponse {
  algorithms: Algorithm[];
}

const ALGORITHMS: Algorithm[] = [
  {
    name: "algorithms/ImageCollection.load",
    description: "Returns the image collection given its ID.",
    returnType: "ImageCollection",
    arguments: [
      {
        argumentName: "id",
        type: "String",
        description: "The asset ID of the image collection.",
      },
      {
        argumentName: "version",
        type: "Long",
        description: "The version of the asset.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/ImageCollection.fromImages",
    description: "Returns the image collection containing the given images.",
    returnType: "ImageCollection",
    arguments: [
      {
        argumentName: "images",
        type: "List<Image<unknown bands>>",
        description: "The images to include in the collection.",
      },
    ],
  },
  {
    name: "algorithms/Collection",
    description: "Returns a Collection containing the specified features.",
    returnType: "FeatureCollection",
    arguments: [
      {
        argumentName: "features",
        type: "List<Element>",
        description: "The features comprising the collection.",
      },
    ],
  },
  {
    name: "algorithms/Collection.filter",
    description: "Applies a filter to a given collection.",
    returnType: "FeatureCollection",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The collection to filter.",
      },
      {
        argumentName: "filter",
        type: "Object",
        description: "The filter to apply to the collection.",
      },
    ],
  },
  {
    name: "algorithms/Collection.map",
    description: "Maps an algorithm over a collection.",
    returnType: "FeatureCollection",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The collection of the elements to which the algorithm is applied.",
      },
      {
        argumentName: "baseAlgorithm",
        type: "Algorithm",
        description: "The algorithm being applied to each element.",
      },
      {
        argumentName: "dropNulls",
        type: "Boolean",
        description:
          "If true, the mapped algorithm is allowed to return nulls, and the elements for which it returns nulls will be dropped.",
        optional: true,
        defaultValue: false,
      },
    ],
  },
  {
    name: "algorithms/Collection.size",
    description: "Returns the number of elements in the collection.",
    returnType: "Integer",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The collection to count.",
      },
    ],
  },
  {
    name: "algorithms/Collection.limit",
    description: "Applies an ordering and limit to a given collection.",
    returnType: "FeatureCollection",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The collection to limit or order.",
      },
      {
        argumentName: "limit",
        type: "Integer",
        description: "The maximum number of items in the output collection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "key",
        type: "String",
        description: "The property on which the collection is sorted.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "ascending",
        type: "Boolean",
        description: "Whether the sorting is ascending rather than descending.",
        optional: true,
        defaultValue: true,
      },
    ],
  },
  {
    name: "algorithms/Collection.first",
    description: "Returns the first entry from a given collection.",
    returnType: "Element",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The collection from which to select the first entry.",
      },
    ],
  },
  {
    name: "algorithms/Collection.toList",
    description: "Returns the elements of a collection as a list.",
    returnType: "List<Object>",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The input collection to fetch.",
      },
      {
        argumentName: "count",
        type: "Integer",
        description: "The maximum number of elements to fetch.",
      },
      {
        argumentName: "offset",
        type: "Integer",
        description: "The number of elements to discard from the start.",
        optional: true,
        defaultValue: 0.0,
      },
    ],
  },
  {
    name: "algorithms/Collection.reduceColumns",
    description:
      "Apply a reducer to each element of a collection, using the given selectors to determine the inputs.",
    returnType: "Dictionary<Object>",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The collection to aggregate over.",
      },
      {
        argumentName: "reducer",
        type: "Reducer",
        description: "The reducer to apply.",
      },
      {
        argumentName: "selectors",
        type: "List<String>",
        description: "A selector for each input of the reducer.",
      },
      {
        argumentName: "weightSelectors",
        type: "List<String>",
        description: "A selector for each weighted input of the reducer.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/AggregateFeatureCollection.array",
    description:
      "Aggregates over a given property of the objects in a collection, calculating a list of all the values of the selected property.",
    returnType: "List<Object>",
    arguments: [
      {
        argumentName: "collection",
        type: "FeatureCollection",
        description: "The collection to aggregate over.",
      },
      {
        argumentName: "property",
        type: "String",
        description: "The property to use from each element of the collection.",
      },
    ],
  },
  {
    name: "algorithms/Filter.dateRangeContains",
    description:
      "Creates a unary or binary filter that passes if the left operand, a date range, contains the right operand, a date.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "leftField",
        type: "String",
        description: "A selector for the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightValue",
        type: "Object",
        description: "The value of the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightField",
        type: "String",
        description: "A selector for the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "leftValue",
        type: "Object",
        description: "The value of the left operand.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Filter.intersects",
    description:
      "Creates a unary or binary filter that passes if the left geometry intersects the right geometry.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "leftField",
        type: "String",
        description: "A selector for the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightValue",
        type: "Object",
        description: "The value of the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightField",
        type: "String",
        description: "A selector for the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "leftValue",
        type: "Object",
        description: "The value of the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "maxError",
        type: "ErrorMargin",
        description: "The maximum reprojection error allowed during filter application.",
        optional: true,
        defaultValue: {
          type: "ErrorMargin",
          unit: "meters",
          value: 0.1,
        },
      },
    ],
  },
  {
    name: "algorithms/Filter.lessThan",
    description:
      "Creates a unary or binary filter that passes if the left operand is less than the right operand.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "leftField",
        type: "String",
        description: "A selector for the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightValue",
        type: "Object",
        description: "The value of the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightField",
        type: "String",
        description: "A selector for the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "leftValue",
        type: "Object",
        description: "The value of the left operand.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Filter.greaterThan",
    description:
      "Creates a unary or binary filter that passes if the left operand is greater than the right operand.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "leftField",
        type: "String",
        description: "A selector for the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightValue",
        type: "Object",
        description: "The value of the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightField",
        type: "String",
        description: "A selector for the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "leftValue",
        type: "Object",
        description: "The value of the left operand.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Filter.equals",
    description: "Creates a unary or binary filter that passes if the two operands are equals.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "leftField",
        type: "String",
        description: "A selector for the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightValue",
        type: "Object",
        description: "The value of the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightField",
        type: "String",
        description: "A selector for the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "leftValue",
        type: "Object",
        description: "The value of the left operand.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Filter.notEquals",
    description: "Creates a unary or binary filter that passes unless the two operands are equals.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "leftField",
        type: "String",
        description: "A selector for the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightValue",
        type: "Object",
        description: "The value of the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightField",
        type: "String",
        description: "A selector for the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "leftValue",
        type: "Object",
        description: "The value of the left operand.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Filter.and",
    description: "Returns a filter that passes if each of the component filters pass.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "filters",
        type: "List<Filter>",
        description: "The filters to conjunct.",
      },
    ],
  },
  {
    name: "algorithms/Filter.or",
    description: "Returns a filter that passes if any of the component filters pass.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "filters",
        type: "List<Filter>",
        description: "The filters to disjunct.",
      },
    ],
  },
  {
    name: "algorithms/Filter.not",
    description: "Returns a filter that passes if the provided filter fails.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "filter",
        type: "Filter",
        description: "The filter to negate.",
      },
    ],
  },
  {
    name: "algorithms/Filter.inList",
    description:
      "Creates a unary or binary filter that passes if the left operand, a list, contains the right operand.",
    returnType: "Filter",
    arguments: [
      {
        argumentName: "leftField",
        type: "String",
        description: "A selector for the left operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightValue",
        type: "Object",
        description: "The value of the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "rightField",
        type: "String",
        description: "A selector for the right operand.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "leftValue",
        type: "Object",
        description: "The value of the left operand.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/DateRange",
    description:
      "Creates a DateRange with the given start (inclusive) and end (exclusive), which may be Dates, numbers (interpreted as milliseconds since 1970-01-01T00:00:00Z), or strings (such as '1996-01-01T08:00').",
    returnType: "DateRange",
    arguments: [
      {
        argumentName: "start",
        type: "Object",
      },
      {
        argumentName: "end",
        type: "Object",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "timeZone",
        type: "String",
        description:
          "If start and/or end are provided as strings, the time zone in which to interpret them; defaults to UTC.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Date",
    description: "Creates a Date.",
    returnType: "Date",
    arguments: [
      {
        argumentName: "value",
        type: "Object",
        description:
          "A number (interpreted as milliseconds since 1970-01-01T00:00:00Z), or string such as '1996-01-01' or '1996-001' or '1996-01-01T08:00'.",
      },
      {
        argumentName: "timeZone",
        type: "String",
        description: "The time zone (e.g., 'America/Los_Angeles'); defaults to UTC.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Feature",
    description: "Returns a Feature composed of the given geometry and metadata.",
    returnType: "Feature",
    arguments: [
      {
        argumentName: "geometry",
        type: "Geometry",
        description: "The geometry of the feature.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "metadata",
        type: "Dictionary<Object>",
        description: "The properties of the feature.",
        optional: true,
        defaultValue: {},
      },
      {
        argumentName: "geometryKey",
        type: "String",
        description: "Obsolete; has no effect.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Feature.geometry",
    description: "Returns the geometry of a given feature in a given projection.",
    returnType: "Geometry",
    arguments: [
      {
        argumentName: "feature",
        type: "Element",
        description: "The feature from which the geometry is taken.",
      },
      {
        argumentName: "maxError",
        type: "ErrorMargin",
        description:
          "The maximum amount of error tolerated when performing any necessary reprojection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "proj",
        type: "Projection",
        description: "If specified, the geometry will be in this projection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "geodesics",
        type: "Boolean",
        description: "If true, the geometry will have geodesic edges.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Element.get",
    description: "Extract a property from a feature.",
    returnType: "<any>",
    arguments: [
      {
        argumentName: "object",
        type: "Element",
        description: "The feature to extract the property from.",
      },
      {
        argumentName: "property",
        type: "String",
        description: "The property to extract.",
      },
    ],
  },
  {
    name: "algorithms/Element.set",
    description: "Overrides a metadata property of an object.",
    returnType: "Element",
    arguments: [
      {
        argumentName: "object",
        type: "Element",
        description: "The object on which to set the property.",
      },
      {
        argumentName: "key",
        type: "String",
        description: "The name of the property to set.",
      },
      {
        argumentName: "value",
        type: "Object",
        description: "The new value of the property.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Element.setMulti",
    description: "Overrides one or more metadata properties of an object.",
    returnType: "Element",
    arguments: [
      {
        argumentName: "object",
        type: "Element",
        description: "The object whose properties to override.",
      },
      {
        argumentName: "properties",
        type: "Dictionary<Object>",
        description: "The property values to override.",
      },
    ],
  },
  {
    name: "algorithms/Element.propertyNames",
    description: "Returns the names of properties on this element.",
    returnType: "List<Object>",
    arguments: [
      {
        argumentName: "element",
        type: "Element",
      },
    ],
  },
  {
    name: "algorithms/GeometryConstructors.Polygon",
    description: "Constructs a Polygon from the given coordinates.",
    returnType: "Geometry",
    arguments: [
      {
        argumentName: "coordinates",
        type: "List<Object>",
        description:
          "A list of LinearRings where the first is the shell and the rest are holes, or for a simple polygon, a list of Points or pairs of Numbers in x,y order.",
      },
      {
        argumentName: "crs",
        type: "Projection",
        description: "The coordinate reference system of the coordinates.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "geodesic",
        type: "Boolean",
        description: "If false, edges are straight in the projection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "maxError",
        type: "ErrorMargin",
        description:
          "Max error when input geometry must be reprojected to an explicitly requested result projection or geodesic state.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "evenOdd",
        type: "Boolean",
        description:
          "If true, polygon interiors will be determined by the even/odd rule, where a point is inside if it crosses an odd number of edges to reach a point at infinity.",
        optional: true,
        defaultValue: true,
      },
    ],
  },
  {
    name: "algorithms/GeometryConstructors.Rectangle",
    description: "Constructs a rectangular polygon from the given corner points.",
    returnType: "Geometry",
    arguments: [
      {
        argumentName: "coordinates",
        type: "List<Object>",
        description:
          "The low and then high corners of the Rectangle, as a list of Points or pairs of Numbers in x,y order.",
      },
      {
        argumentName: "crs",
        type: "Projection",
        description: "The coordinate reference system of the coordinates.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "geodesic",
        type: "Boolean",
        description: "If false, edges are straight in the projection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "evenOdd",
        type: "Boolean",
        description:
          "If true, polygon interiors will be determined by the even/odd rule, where a point is inside if it crosses an odd number of edges to reach a point at infinity.",
        optional: true,
        defaultValue: true,
      },
    ],
  },
  {
    name: "algorithms/GeometryConstructors.Point",
    description: "Constructs a new Point from the given x,y coordinates.",
    returnType: "Geometry",
    arguments: [
      {
        argumentName: "coordinates",
        type: "List<Number>",
        description: "The coordinates of this Point in x,y order.",
      },
      {
        argumentName: "crs",
        type: "Projection",
        description: "The coordinate reference system of the coordinates.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/GeometryConstructors.MultiPolygon",
    description: "Constructs a MultiPolygon from the given coordinates.",
    returnType: "Geometry",
    arguments: [
      {
        argumentName: "coordinates",
        type: "List<Object>",
        description:
          "A list of Polygons, or for one simple polygon, a list of Points or pairs of Numbers in x,y order.",
      },
      {
        argumentName: "crs",
        type: "Projection",
        description: "The coordinate reference system of the coordinates.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "geodesic",
        type: "Boolean",
        description: "If false, edges are straight in the projection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "maxError",
        type: "ErrorMargin",
        description:
          "Max error when input geometry must be reprojected to an explicitly requested result projection or geodesic state.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "evenOdd",
        type: "Boolean",
        description:
          "If true, polygon interiors will be determined by the even/odd rule, where a point is inside if it crosses an odd number of edges to reach a point at infinity.",
        optional: true,
        defaultValue: true,
      },
    ],
  },
  {
    name: "algorithms/GeometryConstructors.LineString",
    description: "Constructs a LineString from the given coordinates.",
    returnType: "Geometry",
    arguments: [
      {
        argumentName: "coordinates",
        type: "List<Object>",
        description: "The list of Points or pairs of Numbers in x,y order.",
      },
      {
        argumentName: "crs",
        type: "Projection",
        description: "The coordinate reference system of the coordinates.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "geodesic",
        type: "Boolean",
        description: "If false, edges are straight in the projection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "maxError",
        type: "ErrorMargin",
        description:
          "Max error when input geometry must be reprojected to an explicitly requested result projection or geodesic state.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Geometry.bounds",
    description: "Returns the bounding rectangle of the geometry.",
    returnType: "Geometry",
    arguments: [
      {
        argumentName: "geometry",
        type: "Geometry",
        description: "Return the bounding box of this geometry.",
      },
      {
        argumentName: "maxError",
        type: "ErrorMargin",
        description:
          "The maximum amount of error tolerated when performing any necessary reprojection.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "proj",
        type: "Projection",
        description: "If specified, the result will be in this projection.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Image.load",
    description: "Returns the image given its ID.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "id",
        type: "String",
        description: "The asset ID of the image.",
      },
      {
        argumentName: "version",
        type: "Long",
        description: "The version of the asset.",
        optional: true,
        defaultValue: -1.0,
      },
    ],
  },
  {
    name: "algorithms/Image.constant",
    description: "Generates an image containing a constant value everywhere.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "value",
        type: "Object",
        description: "The value of the pixels in the constant image.",
      },
    ],
  },
  {
    name: "algorithms/Image.clip",
    description:
      "Clips an image to a Geometry or Feature (use clipToCollection to clip an image to a FeatureCollection).",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "input",
        type: "Image<unknown bands>",
        description: "The image to clip.",
      },
      {
        argumentName: "geometry",
        type: "Object",
        description: "The Geometry or Feature to clip to.",
      },
    ],
  },
  {
    name: "algorithms/Image.unmask",
    description:
      "Replaces mask and value of the input image with the mask and value of another image at all positions where the input mask is zero.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "input",
        type: "Image<unknown bands>",
        description: "Input image.",
      },
      {
        argumentName: "value",
        type: "Image<unknown bands>",
        description: "New value and mask for the masked pixels of the input image.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "sameFootprint",
        type: "Boolean",
        description:
          "If true (or unspecified), the output retains the footprint of the input image.",
        optional: true,
        defaultValue: true,
      },
    ],
  },
  {
    name: "algorithms/Image.visualize",
    description: "Produces an RGB or grayscale visualization of an image.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "image",
        type: "Image<unknown bands>",
        description: "The image to visualize.",
      },
      {
        argumentName: "bands",
        type: "Object",
        description: "A list of the bands to visualize.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "gain",
        type: "Object",
        description: "The visualization gain(s) to use.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "bias",
        type: "Object",
        description: "The visualization bias(es) to use.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "min",
        type: "Object",
        description: "The value(s) to map to RGB8 value 0.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "max",
        type: "Object",
        description: "The value(s) to map to RGB8 value 255.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "gamma",
        type: "Object",
        description: "The gamma correction factor(s) to use.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "opacity",
        type: "Number",
        description: "The opacity scaling factor to use.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "palette",
        type: "Object",
        description: "The color palette to use.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "forceRgbOutput",
        type: "Boolean",
        description: "Whether to produce RGB output even for single-band inputs.",
        optional: true,
        defaultValue: false,
      },
    ],
  },
  {
    name: "algorithms/Image.paint",
    description:
      "Paints the geometries of a collection onto an image, using the given 'color' value to replace each band's values where any geometry covers the image (or, if a line width is specified, where the perime",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "image",
        type: "Image<unknown bands>",
        description: "The image on which the collection is painted.",
      },
      {
        argumentName: "featureCollection",
        type: "FeatureCollection",
        description: "The collection painted onto the image.",
      },
      {
        argumentName: "color",
        type: "Object",
        description:
          "The pixel value to paint into every band of the input image, either as a number which will be used for all features, or the name of a numeric property to take from each feature in the collection.",
        optional: true,
        defaultValue: 0.0,
      },
      {
        argumentName: "width",
        type: "Object",
        description:
          "Line width, either as a number which will be the line width for all geometries, or the name of a numeric property to take from each feature in the collection.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Image.select",
    description:
      "Selects bands from an image by name, RE2-compatible regex, or index and optionally renames them.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "input",
        type: "Image<unknown bands>",
        description: "The image to select bands from.",
      },
      {
        argumentName: "bandSelectors",
        type: "List<Object>",
        description: "A list of names, regexes, or numeric indices specifying the bands to select.",
      },
      {
        argumentName: "newNames",
        type: "List<String>",
        description: "Optional new names for the output bands.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Image.rename",
    description: "Renames the bands of an image.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "input",
        type: "Image<unknown bands>",
        description: "The image to select bands from.",
      },
      {
        argumentName: "names",
        type: "List<String>",
        description: "New names for the image's bands.",
      },
    ],
  },
  {
    name: "algorithms/Image.reproject",
    description: "Force an image to be computed in a given projection and resolution.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "image",
        type: "Image<unknown bands>",
        description: "The image to reproject.",
      },
      {
        argumentName: "crs",
        type: "Projection",
        description: "The CRS to project the image to.",
      },
      {
        argumentName: "crsTransform",
        type: "List<Float>",
        description: "The list of CRS transform values.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "scale",
        type: "Float",
        description:
          "If scale is specified, then the projection is scaled by dividing the specified scale value by the nominal size of a meter in the specified projection.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Image.setDefaultProjection",
    description: "Set a default projection to be applied to this image.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "image",
        type: "Image<unknown bands>",
        description: "The image to reproject.",
      },
      {
        argumentName: "crs",
        type: "Projection",
        description: "The CRS to project the image to.",
      },
      {
        argumentName: "crsTransform",
        type: "List<Float>",
        description: "The list of CRS transform values.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "scale",
        type: "Float",
        description:
          "If scale is specified, then the projection is scaled by dividing the specified scale value by the nominal size of a meter in the specified projection.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Image.clipToBoundsAndScale",
    description:
      "Clips an image to the bounds of a Geometry, and scales the clipped image to a particular size or scale.",
    returnType: "Image<unknown bands>",
    arguments: [
      {
        argumentName: "input",
        type: "Image<unknown bands>",
        description: "The image to clip and scale.",
      },
      {
        argumentName: "geometry",
        type: "Geometry",
        description: "The Geometry to clip the image to.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "width",
        type: "Integer",
        description: "The width to scale the image to, in pixels.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "height",
        type: "Integer",
        description: "The height to scale the image to, in pixels.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "maxDimension",
        type: "Integer",
        description: "The maximum dimension to scale the image to, in pixels.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "scale",
        type: "Float",
        description:
          "If scale is specified, then the projection is scaled by dividing the specified scale value by the nominal size of a meter in the image's projection.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Image.projection",
    description: "Returns the default projection of an Image.",
    returnType: "Projection",
    arguments: [
      {
        argumentName: "image",
        type: "Image<unknown bands>",
        description: "The image from which to get the projection.",
      },
    ],
  },
  {
    name: "algorithms/Image.bandNames",
    description: "Returns a list containing the names of the bands of an image.",
    returnType: "List<Object>",
    arguments: [
      {
        argumentName: "image",
        type: "Image<unknown bands>",
        description: "The image from which to get band names.",
      },
    ],
  },
  {
    name: "algorithms/Projection",
    description:
      "Returns a Projection with the given base coordinate system and the given transform between projected coordinates and the base.",
    returnType: "Projection",
    arguments: [
      {
        argumentName: "crs",
        type: "Object",
        description:
          "The base coordinate reference system of this Projection, given as a well-known authority code (e.g., 'EPSG:4326') or a WKT string.",
      },
      {
        argumentName: "transform",
        type: "List<Object>",
        description:
          "The transform between projected coordinates and the base coordinate system, specified as a 2x3 affine transform matrix in row-major order: [xScale, xShearing, xTranslation, yShearing, yScale, yTransla",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "transformWkt",
        type: "String",
        description:
          "The transform between projected coordinates and the base coordinate system, specified as a WKT string.",
        optional: true,
        defaultValue: null,
      },
    ],
  },
  {
    name: "algorithms/Projection.crs",
    description:
      "Returns the authority code (e.g., 'EPSG:4326') for the base coordinate system of this projection, or null if the base coordinate system is not found in any available database.",
    returnType: "String",
    arguments: [
      {
        argumentName: "projection",
        type: "Projection",
      },
    ],
  },
  {
    name: "algorithms/Projection.nominalScale",
    description:
      "Returns the linear scale in meters of the units of this projection, as measured at the point of true scale.",
    returnType: "Float",
    arguments: [
      {
        argumentName: "proj",
        type: "Projection",
      },
    ],
  },
  {
    name: "algorithms/Reducer.toList",
    description:
      "Creates a reducer that collects its inputs into a list, optionally grouped into tuples.",
    returnType: "Reducer",
    arguments: [
      {
        argumentName: "tupleSize",
        type: "Integer",
        description: "The size of each output tuple, or null for no grouping.",
        optional: true,
        defaultValue: null,
      },
      {
        argumentName: "numOptional",
        type: "Integer",
        description:
          "The last numOptional inputs will be considered optional; the other inputs must be non-null or the input tuple will be dropped.",
        optional: true,
        defaultValue: 0.0,
      },
    ],
  },
];

const byName = new Map<string, Algorithm>(
  ALGORITHMS.map((algorithm) => [algorithm.name.replace(/^algorithms\//, ""), algorithm]),
);

/** The `GET .../algorithms` reply. */
export function listAlgorithms(): ListAlgorithmsResponse {
  return { algorithms: ALGORITHMS };
}

/** A function's signature by its wire name ("Image.clip"), or undefined if not implemented. */
export function algorithmSignature(functionName: string): Algorithm | undefined {
  return byName.get(functionName);
}

/** Wire names of every implemented function, sorted. */
export function implementedFunctionNames(): string[] {
  return [...byName.keys()].sort();
}
