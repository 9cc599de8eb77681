import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { fromArrayBuffer } from "geotiff";
import * as jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { escapeHtml } from "./timing";

export class ThumbnailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ThumbnailError";
  }
}

export interface Thumbnail {
  png: Buffer;
  /** The same pixels as JPEG (no alpha): a fifth of the PNG's size for imagery. */
  jpeg(quality?: number): Buffer;
  width: number;
  height: number;
  /** Size of the GeoTIFF it was made from. */
  sourceWidth: number;
  sourceHeight: number;
  bands: number;
}

/**
 * A small PNG of a downloaded snippet, at most `maxSide` pixels on its longer side. Three or
 * more bands are drawn as RGB (a visualized snippet is 8-bit RGB), one as grey; other pixel
 * types are stretched from their minimum to their maximum. A fourth band, when present, is
 * the alpha channel.
 */
export async function geotiffThumbnail(path: string, maxSide = 192): Promise<Thumbnail> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ThumbnailError(
      `Cannot read the snippet ${path} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}): run the download cell first.`,
    );
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  let tiff: Awaited<ReturnType<typeof fromArrayBuffer>>;
  try {
    tiff = await fromArrayBuffer(buffer as ArrayBuffer);
  } catch (error) {
    throw new ThumbnailError(
      `${path} is not a readable GeoTIFF (${(error as Error).message}): delete it and download again.`,
    );
  }
  const image = await tiff.getImage();
  const sourceWidth = image.getWidth();
  const sourceHeight = image.getHeight();
  const bands = image.getSamplesPerPixel();
  const scale = Math.min(1, maxSide / Math.max(sourceWidth, sourceHeight));
  const width = Math.max(1, Math.round(sourceWidth * scale));
  const height = Math.max(1, Math.round(sourceHeight * scale));
  // geotiff.js resamples while reading (nearest neighbour), so a 5000 px snippet never has to
  // be decoded into memory at full size just to draw 192 px.
  const rasters = (await image.readRasters({
    width,
    height,
    resampleMethod: "nearest",
    interleave: false,
  })) as unknown as ArrayLike<number>[];
  const channels = bands >= 3 ? [0, 1, 2] : [0, 0, 0];
  const stretch = channels.map((band) => stretchOf(rasters[band]));
  const alpha = bands >= 4 ? rasters[3] : undefined;
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      png.data[i * 4 + c] = stretch[c](rasters[channels[c]][i]);
    }
    png.data[i * 4 + 3] = alpha ? Math.min(255, Math.max(0, alpha[i])) : 255;
  }
  return {
    png: PNG.sync.write(png),
    jpeg: (quality = JPEG_QUALITY) =>
      jpeg.encode({ data: png.data, width, height }, quality).data as Buffer,
    width,
    height,
    sourceWidth,
    sourceHeight,
    bands,
  };
}

function stretchOf(values: ArrayLike<number>): (value: number) => number {
  if (values instanceof Uint8Array || values instanceof Uint8ClampedArray) return (v) => v;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  const range = max - min || 1;
  return (v) => (Number.isFinite(v) ? Math.round(((v - min) / range) * 255) : 0);
}

/**
 * JPEG quality of gallery thumbnails. At 85 a 192 px snippet is ~13 KB instead of ~75 KB as
 * PNG, with no artefacts visible at that size; every executed notebook stores the gallery.
 */
const JPEG_QUALITY = 85;

export interface GalleryItem {
  path: string;
  /** Caption lines, e.g. the acquisition date and cloud percentage. */
  date?: string;
  /** The tile-wide cloud percentage (CLOUDY_PIXEL_PERCENTAGE). */
  cloudPercent?: number;
  /** Cloud and shadow over the AOI, percent of its pixels with data (search's aoiStats). */
  aoiCloudPercent?: number | null;
  /** Percent of the AOI with data. */
  aoiFillPercent?: number;
  title?: string;
}

/** "AOI 12.3% cloud, 100% fill · tile 4.5%": the AOI first, since that is what the snippet shows. */
function cloudCaption(item: {
  cloudPercent?: number;
  aoiCloudPercent?: number | null;
  aoiFillPercent?: number;
}): string | undefined {
  const tile = item.cloudPercent !== undefined ? `${item.cloudPercent.toFixed(1)}%` : undefined;
  if (item.aoiCloudPercent === undefined) return tile && `${tile} cloud`;
  const aoi =
    item.aoiCloudPercent === null ? "no data" : `${item.aoiCloudPercent.toFixed(1)}% cloud`;
  const fill = item.aoiFillPercent !== undefined ? `, ${formatFill(item.aoiFillPercent)} fill` : "";
  return `AOI ${aoi}${fill}${tile ? ` · tile ${tile}` : ""}`;
}

function formatFill(percent: number): string {
  return percent >= 99.95 ? "100%" : `${percent.toFixed(1)}%`;
}

export interface Gallery {
  html: string;
  text: string;
  /** Files that could not be drawn, with the reason (the gallery shows the rest). */
  failures: { path: string; error: string }[];
}

export interface GalleryOptions {
  /** Longer side of a thumbnail, px; default 192. */
  maxSide?: number;
  /** "jpeg" (default; small) or "png" (lossless, keeps a fourth band as alpha). */
  format?: "jpeg" | "png";
}

/**
 * A wrap-around grid of snippet thumbnails with date and cloud %, as inline JPEGs (PNG for
 * snippets with an alpha band, or when asked).
 */
export async function galleryHtml(
  items: readonly GalleryItem[],
  options: GalleryOptions = {},
): Promise<Gallery> {
  const maxSide = options.maxSide ?? 192;
  if (options.format !== undefined && options.format !== "jpeg" && options.format !== "png") {
    throw new TypeError(`format is "jpeg" or "png", got ${JSON.stringify(options.format)}.`);
  }
  const cards: string[] = [];
  const lines: string[] = [];
  const failures: Gallery["failures"] = [];
  for (const item of items) {
    const caption = [item.date, cloudCaption(item)].filter(Boolean).join(" · ");
    const title = item.title ?? basename(item.path);
    try {
      const thumb = await geotiffThumbnail(item.path, maxSide);
      const asPng = options.format === "png" || thumb.bands >= 4;
      const src = asPng
        ? `data:image/png;base64,${thumb.png.toString("base64")}`
        : `data:image/jpeg;base64,${thumb.jpeg().toString("base64")}`;
      cards.push(
        `<figure style="margin:4px;text-align:center;font-size:12px">` +
          `<img src="${src}" width="${thumb.width}" height="${thumb.height}" alt="${escapeHtml(title)}" title="${escapeHtml(`${title} (${thumb.sourceWidth}x${thumb.sourceHeight} px)`)}" style="image-rendering:pixelated;border:1px solid #ccc"/>` +
          `<figcaption>${escapeHtml(caption || title)}</figcaption></figure>`,
      );
      lines.push(
        `${title}: ${thumb.sourceWidth}x${thumb.sourceHeight} px${caption ? `, ${caption}` : ""}`,
      );
    } catch (error) {
      const message = (error as Error).message;
      failures.push({ path: item.path, error: message });
      cards.push(
        `<figure style="margin:4px;width:${maxSide}px;font-size:12px;color:#d62728">${escapeHtml(title)}<br>${escapeHtml(message)}</figure>`,
      );
      lines.push(`${title}: ${message}`);
    }
  }
  return {
    html: `<div class="ee-snippets-gallery" style="display:flex;flex-wrap:wrap;align-items:flex-start">${cards.join("")}</div>`,
    text: `${items.length} snippet(s):\n${lines.join("\n")}`,
    failures,
  };
}

export interface TableImage {
  id: string;
  date: string;
  cloudPercent: number;
  mgrsTile?: string;
  /** From a search with AOI statistics; the columns appear when any image has them. */
  aoiCloudPercent?: number | null;
  aoiFillPercent?: number;
}

/** The images found, as an HTML table and a text table with the same columns. */
export function imageTableHtml(images: readonly TableImage[]): { html: string; text: string } {
  const withTile = images.some((image) => image.mgrsTile);
  const withAoi = images.some((image) => image.aoiCloudPercent !== undefined);
  const head = [
    "#",
    "id",
    "date",
    withAoi ? "tile cloud %" : "cloud %",
    ...(withAoi ? ["AOI cloud %", "AOI fill %"] : []),
    ...(withTile ? ["MGRS tile"] : []),
  ];
  const rows = images.map((image, i) => [
    String(i + 1),
    image.id,
    image.date,
    image.cloudPercent.toFixed(1),
    ...(withAoi
      ? [
          image.aoiCloudPercent == null ? "-" : image.aoiCloudPercent.toFixed(1),
          image.aoiFillPercent === undefined ? "-" : image.aoiFillPercent.toFixed(1),
        ]
      : []),
    ...(withTile ? [image.mgrsTile ?? ""] : []),
  ]);
  const cell = (tag: string, value: string, right: boolean) =>
    `<${tag} style="text-align:${right ? "right" : "left"}">${escapeHtml(value)}</${tag}>`;
  const numeric = (column: number) => column === 0 || (column >= 3 && column <= (withAoi ? 5 : 3));
  const html =
    `<table class="ee-snippets-images"><thead><tr>${head.map((h, c) => cell("th", h, numeric(c))).join("")}</tr></thead>` +
    `<tbody>${rows.map((row) => `<tr>${row.map((v, c) => cell("td", v, numeric(c))).join("")}</tr>`).join("")}</tbody></table>` +
    `<p style="font-size:smaller">${images.length} image(s)</p>`;
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row.map((v, c) => (numeric(c) ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join("  ");
  const text = [line(head), ...rows.map(line), `${images.length} image(s)`].join("\n");
  return { html, text };
}
