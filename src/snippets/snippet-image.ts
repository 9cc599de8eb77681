import { type CloudExpression, type Ee, type EeImage, serializeExpression } from "../ee/client";
import { type Aoi, aoiToEe } from "./aoi";
import { type CloudSource, checkCloudSource, maskClouds } from "./cloud-mask";
import { DEFAULT_COLLECTION } from "./collections";

/** How a snippet looks: the tutorial's false-colour rendering and blue outline by default. */
export interface SnippetStyle {
  collection?: string;
  aoi: Aoi;
  /** Three bands mapped to red, green, blue. NIR/red/green shows vegetation red. */
  bands?: [string, string, string];
  min?: number;
  max?: number;
  gamma?: number;
  /**
   * Passed to Image.paint as its `color` argument. The tutorial passes the string
   * "0000ffff"; Earth Engine reads a string there as a feature property name.
   */
  outlineColor?: number | string;
  /**
   * "tutorial" (default): paint the outline into the snippet with `outlineColor`, as the
   * tutorial does (so not blue on Earth Engine, see outlineColor). "blue": the blue outline the
   * tutorial means, done the Earth Engine way: painted into an empty image, visualized with
   * palette 0000ff and blended over the snippet (`outlineColor` is not used).
   */
  outline?: "tutorial" | "blue";
  /** Outline width in output pixels; 0 draws no outline. */
  outlineWidth?: number;
  /**
   * Mask cloud and cloud-shadow pixels (nodata in the GeoTIFF), classified as the search's
   * AOI statistics do: "scl" or "cloudScorePlus". Off by default, as in the tutorial.
   */
  maskClouds?: CloudSource | false;
  /** Cloud Score+ only: cs_cdf below this is masked (default 0.6). */
  cloudScoreThreshold?: number;
}

export const TUTORIAL_STYLE = {
  bands: ["B8", "B4", "B3"] as [string, string, string],
  // Sentinel-2 L2A reflectance is scaled by 10000; 5000 (50%) keeps bright soil and
  // vegetation in NIR from saturating while water stays dark.
  min: 0,
  max: 5000,
  gamma: 1.35,
  outlineColor: "0000ffff" as number | string,
  outlineWidth: 2,
};

/**
 * The tutorial's snippet: the image clipped to the AOI, visualized as 8-bit RGB, clipped again
 * (visualize drops the clip's footprint from the metadata) and outlined with the AOI.
 */
export function snippetImage(session: { ee: Ee }, imageId: string, style: SnippetStyle): EeImage {
  const { ee } = session;
  const collection = style.collection ?? DEFAULT_COLLECTION;
  const assetId = imageId.includes("/") ? imageId : `${collection}/${imageId}`;
  const region = aoiToEe(ee, style.aoi);
  const gamma = style.gamma ?? TUTORIAL_STYLE.gamma;
  let source = ee.Image(assetId);
  if (style.maskClouds) {
    checkCloudSource(collection, style.maskClouds, style.cloudScoreThreshold);
    source = maskClouds(ee, source, {
      source: style.maskClouds,
      threshold: style.cloudScoreThreshold,
    });
  }
  const visualized = source
    .clip(region)
    .visualize({
      bands: style.bands ?? TUTORIAL_STYLE.bands,
      min: style.min ?? TUTORIAL_STYLE.min,
      max: style.max ?? TUTORIAL_STYLE.max,
      gamma: [gamma, gamma, gamma],
    })
    .clip(region);
  const width = style.outlineWidth ?? TUTORIAL_STYLE.outlineWidth;
  if (width <= 0) return visualized;
  if (style.outline === "blue") {
    const outline = ee
      .Image()
      .toByte()
      .paint(region, 1, width)
      .visualize({ palette: ["0000ff"] });
    return visualized.blend(outline);
  }
  return visualized.paint(region, style.outlineColor ?? TUTORIAL_STYLE.outlineColor, width);
}

/** Stands for the image id in a serialized snippet template; no Earth Engine id looks like it. */
const ID_PLACEHOLDER = "ee-snippets/image-id-placeholder";
/** Serialized snippets per collection and style, as JSON text with the id left open. */
const templates = new Map<string, { before: string; after: string } | null>();
const MAX_TEMPLATES = 32;

/**
 * snippetImage's serialized expression, what computePixels is sent. The Earth Engine client
 * takes 2-3 ms to build and serialize one snippet (it hashes every node), and a batch runs it
 * once per image on the main thread before that image's first request; the images of a batch
 * differ only in their id, so the client serializes the style once and each image fills the
 * id into that template. Whenever the template's shape is not what is expected (a client
 * that inlines the id elsewhere), every image is serialized in full instead.
 */
export function snippetExpression(
  session: { ee: Ee },
  imageId: string,
  style: SnippetStyle,
): CloudExpression {
  const collection = style.collection ?? DEFAULT_COLLECTION;
  const assetId = imageId.includes("/") ? imageId : `${collection}/${imageId}`;
  const key = JSON.stringify([collection, style.aoi.geometry, { ...style, aoi: undefined }]);
  let template = templates.get(key);
  if (template === undefined) {
    template = makeTemplate(serializeExpression(snippetImage(session, ID_PLACEHOLDER, style)));
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value as string);
    templates.set(key, template);
  }
  if (!template) return serializeExpression(snippetImage(session, assetId, style));
  return JSON.parse(
    `${template.before}${JSON.stringify(assetId)}${template.after}`,
  ) as CloudExpression;
}

function makeTemplate(expression: CloudExpression): { before: string; after: string } | null {
  const text = JSON.stringify(expression);
  const parts = text.split(JSON.stringify(ID_PLACEHOLDER));
  return parts.length === 2 ? { before: parts[0], after: parts[1] } : null;
}
