import assert from "node:assert/strict";
import { test } from "node:test";
import proj4 from "proj4";
import {
  crsFromCode,
  UnsupportedCrsError,
  WEB_MERCATOR_HALF_WORLD,
  WEB_MERCATOR_MAX_LAT,
} from "../../src/core/crs";

test("EPSG:3857 projects as proj4's Web Mercator, both ways", () => {
  const crs = crsFromCode("epsg:3857");
  assert.equal(crs.code, "EPSG:3857");
  assert.equal(crs.units, "metre");
  const reference = proj4("EPSG:4326", "EPSG:3857");
  for (const [lon, lat] of [
    [-82.435, 8.3958],
    [0, 0],
    [179.9, -60],
    [-45.5, 84],
    [12.3, 47.8],
  ]) {
    const [x, y] = crs.forward(lon, lat);
    const [rx, ry] = reference.forward([lon, lat]);
    assert.ok(
      Math.abs(x - rx) < 1e-6 && Math.abs(y - ry) < 1e-6,
      `${lon},${lat}: ${x},${y} vs ${rx},${ry}`,
    );
    const [backLon, backLat] = crs.inverse(x, y);
    assert.ok(Math.abs(backLon - lon) < 1e-9 && Math.abs(backLat - lat) < 1e-9);
  }
});

test("the Web Mercator world is a square from -20037508.34 to 20037508.34 m", () => {
  const crs = crsFromCode("EPSG:3857");
  assert.ok(Math.abs(WEB_MERCATOR_HALF_WORLD - 20037508.342789244) < 1e-6);
  const [x, y] = crs.forward(180, WEB_MERCATOR_MAX_LAT);
  assert.ok(Math.abs(x - WEB_MERCATOR_HALF_WORLD) < 1e-6);
  assert.ok(Math.abs(y - WEB_MERCATOR_HALF_WORLD) < 1e-6);
  assert.ok(Math.abs(WEB_MERCATOR_MAX_LAT - 85.0511287798066) < 1e-9);
});

test("an unsupported code names the ones that work, Web Mercator included", () => {
  assert.throws(
    () => crsFromCode("EPSG:2056"),
    (error: unknown) => {
      assert.ok(error instanceof UnsupportedCrsError);
      assert.match(error.message, /EPSG:3857/);
      return true;
    },
  );
});
