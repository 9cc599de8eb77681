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
 * The expression whose masked pixels carry `nodata`: unchanged without one (Earth Engine fills
 * masked pixels with its type's default, see core's maskedFill, which is then the file's
 * nodata), else wrapped in Image.unmask(Image.constant(nodata), sameFootprint false), as the
 * official client serializes `image.unmask(nodata, false)`: unmask's `value` is an Image, and
 * the client promotes a number to Image.constant. A nodata equal to the type's fill is still
 * unmasked, because the output's type is known only after this expression was evaluated.
 */
export function withNodata(
  expression: CloudExpression,
  nodata: number | undefined,
): CloudExpression {
  if (nodata === undefined) return expression;
  const unmaskId = freshId(expression.values, "download_unmask");
  const constantId = freshId(expression.values, "download_nodata");
  return {
    result: unmaskId,
    values: {
      ...expression.values,
      [constantId]: {
        functionInvocationValue: {
          functionName: "Image.constant",
          arguments: { value: { constantValue: nodata } },
        },
      },
      [unmaskId]: {
        functionInvocationValue: {
          functionName: "Image.unmask",
          arguments: {
            input: { valueReference: expression.result },
            value: { valueReference: constantId },
            sameFootprint: { constantValue: false },
          },
        },
      },
    },
  };
}

function freshId(values: Record<string, unknown>, base: string): string {
  let id = base;
  while (id in values) id += "_";
  return id;
}
