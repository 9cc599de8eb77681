/**
 * The image as an Earth Engine expression graph, and the edits a download makes to it. The
 * graph is the REST API's: `values` maps ids to nodes, `result` names the output node.
 */
import { type CloudExpression, type EeImage, serializeExpression } from "../ee/client";
import { DownloadParameterError } from "./errors";

function isCloudExpression(x: unknown): x is CloudExpression {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as CloudExpression).result === "string" &&
    typeof (x as CloudExpression).values === "object" &&
    typeof (x as { evaluate?: unknown }).evaluate !== "function"
  );
}

/**
 * Expressions of images already serialized. The client's serializer hashes every sub-node
 * (MD5 of its JSON) to share repeats, ~4 ms for a clipped, painted snippet: more than the
 * rest of a small download's client work. Client images are immutable (every method returns a
 * new object), so one serialization per object is enough.
 */
const serialized = new WeakMap<object, CloudExpression>();

/** The expression of an ee.Image, or the expression itself when given one. */
export function toExpression(image: EeImage | CloudExpression): CloudExpression {
  if (isCloudExpression(image)) return image;
  if (!image || typeof (image as EeImage).evaluate !== "function") {
    throw new DownloadParameterError(
      "downloadImage needs an ee.Image (or its serialized expression).",
    );
  }
  let expression = serialized.get(image);
  if (!expression) {
    expression = serializeExpression(image);
    serialized.set(image, expression);
  }
  return expression;
}

/**
 * The expression whose masked pixels carry `nodata`: unchanged for 0 (what computePixels
 * fills masked pixels with anyway), else wrapped in Image.unmask(nodata).
 */
export function withNodata(
  expression: CloudExpression,
  nodata: number | undefined,
): CloudExpression {
  if (nodata === undefined || nodata === 0) return expression;
  let id = "download_unmask";
  while (id in expression.values) id += "_";
  return {
    result: id,
    values: {
      ...expression.values,
      [id]: {
        functionInvocationValue: {
          functionName: "Image.unmask",
          arguments: {
            input: { valueReference: expression.result },
            value: { constantValue: nodata },
            sameFootprint: { constantValue: false },
          },
        },
      },
    },
  };
}
