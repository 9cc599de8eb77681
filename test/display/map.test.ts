/** The inline maps' kernel half: specs, HTML, Leaflet's loader, GeoTIFF extents. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { PNG } from "pngjs";
import proj4 from "proj4";
import { libraryLoaderBundle } from "../../src/display/loader";
import {
  geotiffExtent,
  leafletLibrary,
  MapInputError,
  type MapSpec,
  mapHtml,
  sceneLabel,
  sceneMapSpec,
  snippetMapSpec,
} from "../../src/display/map";
import { plotlyLoaderBundle } from "../../src/display/output";
import { connect, type Session } from "../../src/ee/session";
import { encodeGeoTiff } from "../../src/geotiff/index";
import { aoiFromGeoJSON, bbox } from "../../src/snippets/aoi";
import { findImages, type ImageInfo } from "../../src/snippets/search";

const scratch = mkdtempSync(join(tmpdir(), "map-test-"));
let session: Session;

before(async () => {
  session = await connect({
    backend: "emulator",
    quiet: true,
    emulator: { latencyMs: 0, msPerMegapixel: 0, bandwidthMBps: 0 },
    env: {},
  });
});

after(async () => {
  await session?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function spec(overrides: Partial<MapSpec> = {}): MapSpec {
  return {
    id: "ee-map-test",
    height: 400,
    maxZoom: 18,
    fit: [-82.48, 8.35, -82.39, 8.44],
    layers: [{ label: "2024-01-05 · cloud 12% </script><b>", tileUrl: "http://x/{z}/{x}/{y}" }],
    draw: true,
    ...overrides,
  };
}

test("Leaflet comes from node_modules with its icons inlined, packed by the plotly.js loader", () => {
  const { library, source, version } = leafletLibrary();
  assert.match(version, /^1\.9\./);
  assert.match(source, /window\.L\s*=/, "the UMD build assigns window.L");
  assert.equal(library.global, "L");
  assert.ok(library.css?.includes(".leaflet-control-layers"), "the stylesheet is Leaflet's");
  assert.doesNotMatch(library.css ?? "", /url\(images\//, "no relative image URLs left");
  assert.match(library.css ?? "", /url\(data:image\/png;base64,/);
  const gzipBase64 = gzipSync(source).toString("base64");
  const html = libraryLoaderBundle(library, gzipBase64)["text/html"];
  assert.match(html, /if \(window\["L"\] \|\| loading\["L"\]\) return;/);
  assert.match(html, /new DecompressionStream\("gzip"\)/);
  assert.match(html, /class="ee-snippets-leaflet-loader"/);
  assert.ok(html.includes(gzipBase64));
  assert.equal(gunzipSync(Buffer.from(gzipBase64, "base64")).toString(), source);
  const script = /<script type="text\/javascript">([\s\S]*)<\/script>/.exec(html)?.[1] ?? "";
  assert.doesNotThrow(() => new Function(script), "the loader script is valid JavaScript");
  // The same mechanism draws plotly.js.
  assert.match(String(plotlyLoaderBundle()["text/html"]), /class="ee-snippets-plotly-loader"/);
});

test("a map's HTML is one div, a draw panel and a script whose labels cannot break out", () => {
  const html = mapHtml(spec());
  assert.match(
    html,
    /<div id="ee-map-test" class="ee-snippets-map" style="width:100%;height:400px/,
  );
  assert.match(html, /<div id="ee-map-test-draw" class="ee-map-draw-panel"/);
  assert.equal(html.match(/<\/script>/gi)?.length, 1);
  assert.match(html, /cloud 12% &lt;\/script&gt;&lt;b&gt;/, "labels are escaped for the switcher");
  const script = /<script type="text\/javascript">([\s\S]*)<\/script>/.exec(html)?.[1] ?? "";
  // The page script parses as JavaScript (it is run by the browser, not compiled here).
  assert.doesNotThrow(() => new Function(script));
  assert.doesNotMatch(mapHtml(spec({ draw: false })), /ee-map-draw-panel/);
});

test("sceneLabel gives date and tile cloud cover, and the AOI's when the search measured it", () => {
  const image: ImageInfo = {
    id: "x",
    assetId: "C/x",
    collection: "C",
    time: 0,
    date: "2024-01-05",
    cloudPercent: 12.34,
  };
  assert.equal(sceneLabel(image), "2024-01-05 · cloud 12% (tile)");
  assert.equal(sceneLabel({ ...image, cloudPercent: 3.21 }), "2024-01-05 · cloud 3.2% (tile)");
  assert.equal(
    sceneLabel({ ...image, aoiCloudPercent: 0.5 }),
    "2024-01-05 · cloud 12% (tile), 0.5% over the AOI",
  );
  assert.equal(
    sceneLabel({ ...image, aoiCloudPercent: null }),
    "2024-01-05 · cloud 12% (tile), no data over the AOI",
  );
});

test("sceneMapSpec makes one tile layer per image through getMapId, with footprints", async () => {
  const aoi = bbox(-82.435, 8.3958, 0.09, "David");
  const images = await findImages(session, { aoi, start: "2024-01-01", end: "2024-02-01" });
  const startedBefore = session.requests.stats().started;
  const map = await sceneMapSpec(session, { aoi, images });
  assert.equal(map.layers.length, images.length);
  // A connected session creates the maps itself, through its limiter (not the client's
  // throttle): one request per map plus the footprints' value:compute.
  assert.equal(session.requests.stats().started - startedBefore, images.length + 1);
  assert.deepEqual(map.fit, aoi.bounds);
  assert.deepEqual(map.aoi?.geometry, aoi.geometry);
  assert.equal(map.footprints?.length, images.length);
  const url = session.emulator?.url;
  for (const [i, layer] of map.layers.entries()) {
    assert.equal(layer.label, sceneLabel(images[i]));
    assert.match(
      layer.tileUrl ?? "",
      new RegExp(`^${url}/v1/projects/[^/]+/maps/[0-9a-f]+/tiles/\\{z\\}/\\{x\\}/\\{y\\}$`),
    );
  }
  // The footprint holds the AOI's centre.
  const footprint = map.footprints?.[0] as { type: string; coordinates: number[][][] } | undefined;
  assert.ok(footprint, "a footprint per image");
  assert.equal(footprint.type, "Polygon", "Earth Engine's LinearRing as GeoJSON Leaflet draws");
  const ring = footprint.coordinates[0];
  const lons = ring.map((p) => p[0]);
  const lats = ring.map((p) => p[1]);
  assert.ok(Math.min(...lons) < -82.435 && Math.max(...lons) > -82.435);
  assert.ok(Math.min(...lats) < 8.3958 && Math.max(...lats) > 8.3958);
  // The page's request for the AOI's tile at zoom 12 is answered with a PNG.
  const tile = (layer: string) =>
    layer.replace("{z}", "12").replace("{x}", "1110").replace("{y}", "1951");
  const response = await fetch(tile(map.layers[0].tileUrl ?? ""));
  assert.equal(response.status, 200);
  const png = PNG.sync.read(Buffer.from(await response.arrayBuffer()));
  assert.equal(png.width, 256);
  // With only the client, getMapId makes the same tile URLs.
  const viaClient = await sceneMapSpec({ ee: session.ee }, { aoi, images: images.slice(0, 1) });
  assert.match(
    viaClient.layers[0].tileUrl ?? "",
    new RegExp(`^${url}/v1/projects/[^/]+/maps/[0-9a-f]+/tiles/\\{z\\}/\\{x\\}/\\{y\\}$`),
  );
  await assert.rejects(
    sceneMapSpec(session, { aoi, images: [] }),
    (error: unknown) => error instanceof MapInputError && /run the search cell/.test(error.message),
  );
});

test("a snippet's extent is read from its GeoTIFF and projected to lon/lat", async () => {
  // 100 x 80 px at 20 m in UTM 17N, top-left corner at (344000, 934000).
  const path = join(scratch, "snippet.tif");
  writeFileSync(
    path,
    encodeGeoTiff(
      {
        width: 100,
        height: 80,
        bands: 3,
        sampleType: "uint8",
        epsg: 32617,
        transform: [20, 0, 344000, 0, -20, 934000],
        nodata: 0,
        bandNames: ["vis-red", "vis-green", "vis-blue"],
      },
      new Uint8Array(100 * 80 * 3).fill(128),
    ),
  );
  const extent = await geotiffExtent(path);
  assert.equal(extent.epsg, 32617);
  const utm = proj4("+proj=utm +zone=17 +datum=WGS84 +units=m +no_defs", "EPSG:4326");
  const corners = [
    [344000, 934000],
    [346000, 934000],
    [346000, 932400],
    [344000, 932400],
  ].map((c) => utm.forward(c) as number[]);
  for (const corner of corners) {
    assert.ok(
      extent.ring.some((p) => Math.hypot(p[0] - corner[0], p[1] - corner[1]) < 1e-9),
      `corner ${corner} is on the outline`,
    );
  }
  const lons = corners.map((c) => c[0]);
  const lats = corners.map((c) => c[1]);
  assert.ok(Math.abs(extent.bounds[0] - Math.min(...lons)) < 1e-9);
  assert.ok(Math.abs(extent.bounds[3] - Math.max(...lats)) < 1e-9);

  const map = await snippetMapSpec([{ path, label: "one snippet" }]);
  assert.equal(map.layers.length, 1);
  assert.equal(map.layers[0].label, "one snippet");
  assert.match(map.layers[0].imageUrl ?? "", /^data:image\/jpeg;base64,/);
  assert.deepEqual(map.layers[0].imageBounds, extent.bounds);
  assert.equal(map.draw, false);
  const outlinesOnly = await snippetMapSpec([{ path }], { maxPreviews: 0 });
  assert.equal(outlinesOnly.layers[0].imageUrl, undefined, "no picture past maxPreviews");
  assert.equal(outlinesOnly.layers[0].label, "snippet.tif");
  assert.deepEqual(outlinesOnly.layers[0].outline, { type: "Polygon", coordinates: [extent.ring] });
  await assert.rejects(snippetMapSpec([]), /run the download cells first/);
});

test("the draw tool's GeoJSON line is an AOI: aoiFromGeoJSON reads GeoJSON text", () => {
  const ring = [
    [-82.5, 8.3],
    [-82.4, 8.3],
    [-82.45, 8.42],
    [-82.5, 8.3],
  ];
  const aoi = aoiFromGeoJSON(JSON.stringify({ type: "Polygon", coordinates: [ring] }));
  assert.equal(aoi.name, "drawn AOI");
  assert.deepEqual(aoi.bounds, [-82.5, 8.3, -82.4, 8.42]);
  assert.throws(() => aoiFromGeoJSON('{"type": "Polygon", '), /not valid GeoJSON/);
});
