/**
 * Inline maps (Leaflet) in one notebook output each: the AOI over each scene's Earth Engine
 * tiles, with a layer per scene and a tool to draw the next AOI; and the downloaded
 * snippets where they landed, read back from their GeoTIFFs.
 *
 *     import { showMap, showSnippetMap } from "./src/display/map";
 *     await showMap(session, { aoi: aoi, images: images });
 *
 * Tiles come from Earth Engine's maps API: the kernel asks for a map per scene (the client's
 * getMapId, POST .../maps) and the page loads `{tileBase}/v1/projects/{p}/maps/{id}/tiles/
 * {z}/{x}/{y}` itself. The page sends no credentials: a map name is what grants its tiles,
 * on Earth Engine as in the emulator, and Earth Engine forgets it after a few hours, so a
 * saved notebook's scene layers go blank then (rerun the cell); the AOI, footprints and
 * drawing keep working. With the emulator, the page must reach 127.0.0.1 of the kernel's
 * machine (a browser on another machine cannot load the tiles).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fromArrayBuffer } from "geotiff";
import { crsFromEpsg } from "../core/crs";
import {
  type ComputeRoute,
  createMap,
  type Ee,
  type EeImage,
  evaluate,
  getMapId,
  type VisParams,
} from "../ee/client";
import type { Aoi, AoiGeometry } from "../snippets/aoi";
import type { ImageInfo } from "../snippets/search";
import { TUTORIAL_STYLE } from "../snippets/snippet-image";
import { geotiffThumbnail } from "./gallery";
import { loadLibrary, type PageLibrary, packed } from "./loader";
import { displayBundle, inKernel, type MimeBundle, scriptSafeJson } from "./output";
import { escapeHtml } from "./timing";

export class MapInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MapInputError";
  }
}

type Bounds = [number, number, number, number];

/** GeoJSON the page draws (polygons and rings in lon/lat). */
export type MapGeometry =
  | AoiGeometry
  | { type: "LinearRing" | "LineString"; coordinates: number[][] };

/** One entry of the layer switcher: a scene's tiles, or a downloaded snippet. */
export interface MapLayer {
  /** Shown in the layer switcher, e.g. "2024-01-05 · cloud 12%". Plain text. */
  label: string;
  /** Leaflet tile URL template ({z}/{x}/{y}). */
  tileUrl?: string;
  /** A picture laid over imageBounds ([west, south, east, north]). */
  imageUrl?: string;
  imageBounds?: Bounds;
  /** An outline drawn with the layer (a snippet's extent). */
  outline?: MapGeometry;
}

/** Everything the page needs to draw one map; plain JSON. */
export interface MapSpec {
  /** The output's element id; unique per map. */
  id: string;
  height: number;
  maxZoom: number;
  /** [west, south, east, north] the map opens on. */
  fit: Bounds;
  aoi?: { name: string; geometry: AoiGeometry };
  /** One switcher entry each; one is shown at a time, the first at the start. */
  layers: MapLayer[];
  /** Outlines of every scene, as one overlay. */
  footprints?: MapGeometry[];
  /** Attribution of the scene tiles. */
  tileAttribution?: string;
  /** An online basemap under everything (skipped when the page is offline). */
  basemap?: { name: string; url: string; attribution: string } | null;
  /** Show the draw tool and its parameter lines. */
  draw: boolean;
}

export interface SceneMapOptions {
  aoi: Aoi;
  images: readonly ImageInfo[];
  /** Visualization of every scene layer; default the snippets' (B8/B4/B3, 0..5000, gamma 1.35). */
  vis?: VisParams;
  /** OpenStreetMap under the scenes when the page is online (default true). */
  basemap?: boolean;
  /** The draw tool (default true). */
  draw?: boolean;
  /** Pixels (default 520). */
  height?: number;
}

export interface SnippetMapItem {
  /** A downloaded GeoTIFF. */
  path: string;
  /** Switcher label; default the file name. */
  label?: string;
}

export interface SnippetMapOptions {
  aoi?: Aoi;
  basemap?: boolean;
  height?: number;
  /** Longer side of each snippet's preview laid on the map (default 384 px). */
  previewSide?: number;
  /**
   * Pictures only up to this many files (default 12), extents always: each picture is stored
   * in the notebook (about 20 kB as JPEG), and the gallery already shows every snippet.
   */
  maxPreviews?: number;
}

const OSM = {
  name: "OpenStreetMap",
  url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
  attribution:
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
};
// Sentinel-2 is 10 m; zoom 18 (0.6 m pixels at the equator) already magnifies 16x.
const MAX_ZOOM = 18;
const DEFAULT_HEIGHT = 520;

/** The snippets' look, as visualization parameters for getMapId. */
export const SNIPPET_VIS: VisParams = {
  bands: TUTORIAL_STYLE.bands,
  min: TUTORIAL_STYLE.min,
  max: TUTORIAL_STYLE.max,
  gamma: TUTORIAL_STYLE.gamma,
};

/** Switcher label of a scene: date and cloud cover (of the AOI too, when the search measured it). */
export function sceneLabel(image: ImageInfo): string {
  const tile = `cloud ${formatPercent(image.cloudPercent)} (tile)`;
  const aoiCloud = image.aoiCloudPercent;
  const aoi =
    typeof aoiCloud === "number"
      ? `, ${formatPercent(aoiCloud)} over the AOI`
      : aoiCloud === null
        ? ", no data over the AOI"
        : "";
  return `${image.date} · ${tile}${aoi}`;
}

function formatPercent(value: number): string {
  return Number.isFinite(value) ? `${value < 10 ? value.toFixed(1) : value.toFixed(0)}%` : "?%";
}

/** What a map needs of a session: the client, and (connect() gives them) its backend and limiter. */
export interface MapSession {
  ee: Ee;
  backend?: ComputeRoute["backend"];
  requests?: ComputeRoute["requests"];
}

/**
 * The scene map's spec: one map per image and the scenes' footprints (one value:compute).
 * With a connected session the maps are created through its limiter, all at once; with only
 * `ee`, through the client's getMapId (its throttle spaces calls ~350 ms apart). Needs no
 * kernel: tests and scripts can check it.
 */
export async function sceneMapSpec(
  session: MapSession,
  options: SceneMapOptions,
): Promise<MapSpec> {
  const { aoi, images } = options;
  if (!aoi || !Array.isArray(aoi.bounds)) {
    throw new MapInputError("showMap needs { aoi: aoi } (from bbox() or aoiFromGeoJSON()).");
  }
  if (!Array.isArray(images) || images.length === 0) {
    throw new MapInputError(
      "showMap needs { images: images } with at least one image: run the search cell first.",
    );
  }
  const { ee } = session;
  const vis = options.vis ?? SNIPPET_VIS;
  const sources: EeImage[] = images.map((image) => ee.Image(image.assetId));
  const route =
    session.backend && session.requests
      ? { backend: session.backend, requests: session.requests }
      : undefined;
  const [maps, footprints] = await Promise.all([
    Promise.all(
      sources.map((image) => (route ? createMap(route, image, vis) : getMapId(image, vis))),
    ),
    evaluate<unknown[]>(ee.List(sources.map((image) => image.get("system:footprint"))), {
      session: route,
    }),
  ]);
  return {
    id: nextMapId(),
    height: options.height ?? DEFAULT_HEIGHT,
    maxZoom: MAX_ZOOM,
    fit: aoi.bounds,
    aoi: { name: aoi.name, geometry: aoi.geometry },
    layers: images.map((image, i) => ({ label: sceneLabel(image), tileUrl: maps[i].urlFormat })),
    footprints: footprints.filter(isGeometry).map(asLeafletGeometry),
    tileAttribution: "Earth Engine",
    basemap: options.basemap === false ? null : OSM,
    draw: options.draw !== false,
  };
}

/** Earth Engine's footprints are LinearRings, which GeoJSON (and Leaflet) do not have. */
function asLeafletGeometry(geometry: MapGeometry): MapGeometry {
  return geometry.type === "LinearRing"
    ? { type: "Polygon", coordinates: [geometry.coordinates] }
    : geometry;
}

function isGeometry(value: unknown): value is MapGeometry {
  const g = value as { type?: unknown; coordinates?: unknown } | null;
  return (
    typeof g === "object" &&
    g !== null &&
    typeof g.type === "string" &&
    ["Polygon", "MultiPolygon", "LinearRing", "LineString"].includes(g.type) &&
    Array.isArray(g.coordinates)
  );
}

/**
 * Shows the AOI, the scenes' footprints and one Earth Engine tile layer per image (visualized
 * like the snippets), with a layer switcher by date and cloud cover and a draw tool that
 * writes the parameter lines for a new AOI. One output; text elsewhere.
 */
export async function showMap(session: MapSession, options: SceneMapOptions): Promise<void> {
  const spec = await sceneMapSpec(session, options);
  if (inKernel()) loadLeaflet();
  displayBundle(mapBundle(spec, sceneMapText(spec, options)));
}

function sceneMapText(spec: MapSpec, options: SceneMapOptions): string {
  const [w, s, e, n] = options.aoi.bounds;
  const lines = [
    `Map of ${options.aoi.name} (west ${w}, south ${s}, east ${e}, north ${n}): ${spec.layers.length} scene layers from Earth Engine's maps API`,
    ...spec.layers.map((layer) => `  ${layer.label}`),
    "Open the notebook in Jupyter to see the map and draw a new AOI.",
  ];
  return lines.join("\n");
}

/** Corners and edges of a GeoTIFF in lon/lat: its extent as a ring, and the ring's bounds. */
export async function geotiffExtent(
  path: string,
): Promise<{ ring: number[][]; bounds: Bounds; epsg: number }> {
  const bytes = readFileSync(path);
  const tiff = await fromArrayBuffer(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  );
  const image = await tiff.getImage();
  const keys = (image.getGeoKeys() ?? {}) as Record<string, number | undefined>;
  const epsg = keys.ProjectedCSTypeGeoKey ?? keys.GeographicTypeGeoKey;
  if (typeof epsg !== "number") {
    throw new MapInputError(
      `${path} has no EPSG code in its GeoKeys: it is not a snippet GeoTIFF.`,
    );
  }
  const [xmin, ymin, xmax, ymax] = image.getBoundingBox();
  const crs = crsFromEpsg(epsg);
  // UTM edges are curves in lon/lat: 8 points per edge keep the outline on them.
  const ring: number[][] = [];
  const corners = [
    [xmin, ymax],
    [xmax, ymax],
    [xmax, ymin],
    [xmin, ymin],
  ];
  for (let c = 0; c < 4; c++) {
    const [x0, y0] = corners[c];
    const [x1, y1] = corners[(c + 1) % 4];
    for (let k = 0; k < 8; k++)
      ring.push(crs.inverse(x0 + ((x1 - x0) * k) / 8, y0 + ((y1 - y0) * k) / 8));
  }
  ring.push([...ring[0]]);
  const lons = ring.map((p) => p[0]);
  const lats = ring.map((p) => p[1]);
  return {
    ring,
    bounds: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
    epsg,
  };
}

/** The snippet map's spec: each GeoTIFF's extent and a preview of it, read from the files. */
export async function snippetMapSpec(
  items: readonly SnippetMapItem[],
  options: SnippetMapOptions = {},
): Promise<MapSpec> {
  if (!Array.isArray(items) || items.length === 0) {
    throw new MapInputError(
      "showSnippetMap needs the downloaded files ({ path } each): run the download cells first.",
    );
  }
  const layers: MapLayer[] = [];
  const pictures = items.length <= (options.maxPreviews ?? 12);
  let fit: Bounds | undefined;
  for (const item of items) {
    const extent = await geotiffExtent(item.path);
    // A north-up picture over the extent's lon/lat bounds: UTM's tilt against lon/lat is a
    // fraction of a pixel at snippet sizes; the outline shows the exact extent.
    const preview = pictures
      ? await geotiffThumbnail(item.path, options.previewSide ?? 384)
      : undefined;
    layers.push({
      label: item.label ?? item.path.replace(/^.*[\\/]/, ""),
      imageUrl: preview && `data:image/jpeg;base64,${preview.jpeg().toString("base64")}`,
      imageBounds: extent.bounds,
      outline: { type: "Polygon", coordinates: [extent.ring] },
    });
    fit = fit ? union(fit, extent.bounds) : extent.bounds;
  }
  return {
    id: nextMapId(),
    height: options.height ?? DEFAULT_HEIGHT,
    maxZoom: MAX_ZOOM,
    fit: options.aoi ? union(fit as Bounds, options.aoi.bounds) : (fit as Bounds),
    aoi: options.aoi ? { name: options.aoi.name, geometry: options.aoi.geometry } : undefined,
    layers,
    basemap: options.basemap === false ? null : OSM,
    draw: false,
  };
}

/**
 * Shows the downloaded snippets on a map: each file's extent (and its picture, for up to
 * maxPreviews files), one at a time from the switcher.
 */
export async function showSnippetMap(
  items: readonly SnippetMapItem[],
  options: SnippetMapOptions = {},
): Promise<void> {
  const spec = await snippetMapSpec(items, options);
  if (inKernel()) loadLeaflet();
  const text = [
    `Map of ${spec.layers.length} downloaded snippets, extents read from their GeoTIFFs:`,
    ...spec.layers.map((layer, i) => {
      const b = spec.layers[i].imageBounds as Bounds;
      return `  ${layer.label}: west ${b[0].toFixed(5)}, south ${b[1].toFixed(5)}, east ${b[2].toFixed(5)}, north ${b[3].toFixed(5)}`;
    }),
  ].join("\n");
  displayBundle(mapBundle(spec, text));
}

function union(a: Bounds, b: Bounds): Bounds {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

/** The map's output: its div, the draw panel, and the page script with the spec. */
export function mapHtml(spec: MapSpec): string {
  const safe: MapSpec = {
    ...spec,
    // The switcher inserts labels as HTML.
    layers: spec.layers.map((layer) => ({ ...layer, label: escapeHtml(layer.label) })),
    aoi: spec.aoi ? { ...spec.aoi, name: escapeHtml(spec.aoi.name) } : undefined,
  };
  const draw = spec.draw
    ? `<div id="${spec.id}-draw" class="ee-map-draw-panel" style="display:none;margin-top:6px;font-size:13px">
<div class="ee-map-status" style="color:#555;margin-bottom:4px"></div>
<pre class="ee-map-params" style="margin:0 0 4px 0;padding:6px;background:#f6f6f6;border:1px solid #ddd;white-space:pre-wrap;word-break:break-all"></pre>
<button type="button" class="ee-map-copy">Copy</button>
</div>`
    : "";
  return `<div class="ee-snippets-map-output">
<div id="${spec.id}" class="ee-snippets-map" style="width:100%;height:${spec.height}px;background:#dde3ea"></div>
${draw}
<script type="text/javascript">
(${mapPageScript()})(${scriptSafeJson(safe)});
</script>
</div>`;
}

export function mapBundle(spec: MapSpec, text: string): MimeBundle {
  return { "text/html": mapHtml(spec), "text/plain": text };
}

function mapPageScript(): string {
  return readFileSync(join(__dirname, "map-page.js"), "utf8")
    .replace(/^\s*\/\/.*\n/gm, "")
    .trim()
    .replace(/;$/, "");
}

/**
 * Puts Leaflet into the page, once per notebook, from the installed leaflet package (offline;
 * no CDN), through the loader plotly.js uses. `showMap` calls it by itself if no cell did.
 */
export function loadLeaflet(): void {
  loadLibrary(leafletLoader, "L", displayBundle);
}

function leafletLoader(): { library: PageLibrary; gzipBase64: string } {
  const { library, source } = leafletLibrary();
  return { library, gzipBase64: packed(`leaflet_${library.what}`, () => source) };
}

/** Leaflet's browser build and stylesheet, its control icons inlined (the page has no folder). */
export function leafletLibrary(): { library: PageLibrary; source: string; version: string } {
  const packageJson = require.resolve("leaflet/package.json");
  const version = (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
  const dist = join(dirname(packageJson), "dist");
  const css = readFileSync(join(dist, "leaflet.css"), "utf8").replace(
    /url\(images\/([\w.-]+\.png)\)/g,
    (_match, file: string) =>
      `url(data:image/png;base64,${readFileSync(join(dist, "images", file)).toString("base64")})`,
  );
  return {
    library: { what: `Leaflet ${version}`, global: "L", slug: "leaflet", css },
    source: readFileSync(join(dist, "leaflet.js"), "utf8"),
    version,
  };
}

// Kept on globalThis: tslab reloads this module when a cell imports it again.
const COUNT_KEY = "__eeSnippetsMapCount";
function nextMapId(): string {
  const holder = globalThis as unknown as Record<string, number | undefined>;
  holder[COUNT_KEY] = (holder[COUNT_KEY] ?? 0) + 1;
  // Random part: ids must stay unique when a notebook's saved outputs and new ones share a page.
  return `ee-map-${Date.now().toString(36)}-${holder[COUNT_KEY]}-${Math.random().toString(36).slice(2, 8)}`;
}
