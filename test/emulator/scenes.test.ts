import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FIRST_ACQUISITION_MS,
  REVISIT_DAYS,
  sceneFromIndex,
  scenesInRange,
  tileAt,
  tileById,
  tilesIntersectingBox,
} from "../../src/emulator/scenes";

test("tiles carry real MGRS ids (zone, latitude band, 100 km square)", () => {
  assert.equal(tileAt(-82.435, 8.3958)?.id, "17PLK"); // David, Panama
  assert.equal(tileAt(2.35, 48.85)?.id, "31UDQ"); // Paris
  assert.equal(tileAt(151.2, -33.87)?.id, "56HLH"); // Sydney
  assert.equal(tileAt(13.4, 52.5)?.id, "33UUU"); // Berlin
  const david = tileById("17PLK");
  assert.equal(david?.epsg, 32617);
  assert.deepEqual(david?.utmBounds, { xmin: 300000, ymin: 900000, xmax: 409800, ymax: 1009800 });
  assert.equal(tileById("17PZZ"), undefined);
});

test("tile ids round-trip everywhere between 80 S and 84 N", () => {
  for (let lon = -179.5; lon < 180; lon += 7.3) {
    for (let lat = -79; lat < 83; lat += 5.9) {
      const tile = tileAt(lon, lat);
      assert.ok(tile, `no tile at ${lon},${lat}`);
      assert.equal(tileById(tile.id)?.id, tile.id);
    }
  }
});

test("an AOI enumerates only the tiles under it", () => {
  const ids = tilesIntersectingBox({ west: -82.48, south: 8.35, east: -82.39, north: 8.44 }).map(
    (t) => t.id,
  );
  assert.deepEqual(ids, ["17PLK"]);
});

test("scenes come every 5 days with parseable, existing indexes", () => {
  const tile = tileById("17PLK");
  assert.ok(tile);
  const scenes = scenesInRange(
    "COPERNICUS/S2_SR_HARMONIZED",
    tile,
    Date.UTC(2024, 0, 1),
    Date.UTC(2024, 6, 31),
  );
  assert.ok(scenes.length >= 41 && scenes.length <= 43, `got ${scenes.length}`);
  for (let i = 1; i < scenes.length; i++) {
    const days = (scenes[i].timeStart - scenes[i - 1].timeStart) / 86_400_000;
    assert.ok(Math.abs(days - REVISIT_DAYS) < 0.01);
  }
  const first = scenes[0];
  assert.match(first.index, /^\d{8}T\d{6}_\d{8}T\d{6}_T17PLK$/);
  assert.equal(first.properties["system:index"], first.index);
  assert.equal(first.properties.MGRS_TILE, "17PLK");
  assert.match(String(first.properties.SPACECRAFT_NAME), /^Sentinel-2[ABC]$/);
  assert.deepEqual(sceneFromIndex("COPERNICUS/S2_SR_HARMONIZED", first.index), first);
  assert.equal(
    sceneFromIndex("COPERNICUS/S2_SR_HARMONIZED", first.index.replace("T17PLK", "T17PMK")),
    undefined,
  );
  assert.equal(sceneFromIndex("COPERNICUS/NOPE", first.index), undefined);
  const clouds = scenes.map((s) => s.cloudPercent);
  assert.ok(
    clouds.some((c) => c < 5) && clouds.some((c) => c > 85),
    "mix of clear and very cloudy scenes",
  );
  assert.ok(scenesInRange("COPERNICUS/S2_SR", tile, 0, FIRST_ACQUISITION_MS).length === 0);
});
