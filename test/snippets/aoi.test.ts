import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AoiError, aoiFromGeoJSON, bbox } from "../../src/snippets/aoi";

test("bbox builds the tutorial's box around David, Panama", () => {
  const aoi = bbox(-82.435, 8.3958, 0.09);
  const [west, south, east, north] = aoi.bounds;
  assert.ok(Math.abs(west - -82.48) < 1e-9 && Math.abs(east - -82.39) < 1e-9);
  assert.ok(Math.abs(south - 8.3508) < 1e-9 && Math.abs(north - 8.4408) < 1e-9);
  assert.equal(aoi.geometry.type, "Polygon");
  const ring = aoi.geometry.coordinates[0] as number[][];
  assert.deepEqual(ring[0], ring[ring.length - 1], "ring is closed");
  assert.deepEqual(aoi.center, [-82.435, 8.3958]);
});

test("bbox refuses swapped, degenerate and oversized boxes with the fix in the message", () => {
  assert.throws(
    () => bbox(8.3958, -182.435, 0.09),
    (e: Error) => e instanceof AoiError && /latitude .* outside -90..90/.test(e.message),
  );
  assert.throws(() => bbox(-200, 8, 0.09), /longitude -200 is outside -180..180/);
  assert.throws(() => bbox(-82, 8, 0), /positive number of degrees/);
  assert.throws(() => bbox(-82, 8, -1), /positive number of degrees/);
  assert.throws(() => bbox(-82, 8, 9), /larger than 5/);
  assert.throws(() => bbox(-82, 89.99, 0.09), /crosses a pole/);
  assert.throws(() => bbox(179.99, 0, 0.09), /antimeridian/);
  assert.throws(() => bbox(Number.NaN, 0, 0.09), /finite number/);
});

test("aoiFromGeoJSON reads Polygon, Feature and FeatureCollection files and objects", () => {
  const dir = mkdtempSync(join(tmpdir(), "aoi-"));
  const ring = [
    [-82.5, 8.3],
    [-82.4, 8.3],
    [-82.4, 8.4],
    [-82.5, 8.4],
    [-82.5, 8.3],
  ];
  const feature = {
    type: "Feature",
    properties: {},
    geometry: { type: "Polygon", coordinates: [ring] },
  };
  const path = join(dir, "field.geojson");
  writeFileSync(path, JSON.stringify({ type: "FeatureCollection", features: [feature] }));
  const fromFile = aoiFromGeoJSON(path);
  assert.equal(fromFile.name, "field");
  assert.deepEqual(fromFile.bounds, [-82.5, 8.3, -82.4, 8.4]);
  assert.equal(fromFile.geometry.type, "Polygon");

  const shifted = ring.map(([lon, lat]) => [lon + 1, lat]);
  const two = aoiFromGeoJSON({
    type: "FeatureCollection",
    features: [feature, { ...feature, geometry: { type: "Polygon", coordinates: [shifted] } }],
  });
  assert.equal(two.geometry.type, "MultiPolygon");
  assert.deepEqual(two.bounds, [-82.5, 8.3, -81.4, 8.4]);
});

test("aoiFromGeoJSON explains what is wrong with bad GeoJSON", () => {
  const ring = [
    [-82.5, 8.3],
    [-82.4, 8.3],
    [-82.4, 8.4],
    [-82.5, 8.3],
  ];
  assert.throws(
    () => aoiFromGeoJSON("/nonexistent/aoi.geojson"),
    /Cannot read the AOI file .*ENOENT/,
  );
  assert.throws(
    () => aoiFromGeoJSON({ type: "Point", coordinates: [0, 0] }),
    /no Polygon or MultiPolygon/,
  );
  assert.throws(
    () => aoiFromGeoJSON({ type: "Polygon", coordinates: [ring.slice(0, 3)] }),
    /at least 4 positions/,
  );
  assert.throws(
    () =>
      aoiFromGeoJSON({
        type: "Polygon",
        coordinates: [
          [
            [8.3, -182.5],
            [8.4, -182.5],
            [8.4, -182.4],
            [8.3, -182.5],
          ],
        ],
      }),
    /Swapped axes/,
  );
  assert.throws(
    () =>
      aoiFromGeoJSON({
        type: "Polygon",
        coordinates: [
          [
            [0, 0],
            [1, 1],
            [2, 2],
            [0, 0],
          ],
        ],
      }),
    /no area/,
  );
  assert.throws(
    () =>
      aoiFromGeoJSON({
        type: "Polygon",
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 1],
          ],
        ],
      }),
    /not closed/,
  );
  assert.throws(() => aoiFromGeoJSON({ type: "Circle" }), /unknown GeoJSON type "Circle"/);
});
