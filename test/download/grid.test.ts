import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crsFromCode } from "../../src/core/crs";
import { DownloadParameterError } from "../../src/download/errors";
import { gridPoint, planGrid } from "../../src/download/grid";

function box(lon: number, lat: number, side: number) {
  const h = side / 2;
  return {
    type: "Polygon" as const,
    coordinates: [
      [
        [lon - h, lat - h],
        [lon + h, lat - h],
        [lon + h, lat + h],
        [lon - h, lat + h],
        [lon - h, lat - h],
      ],
    ],
  };
}

/** Projected extent of the AOI's densified ring, to compare against the grid. */
function projectedBounds(region: ReturnType<typeof box>, code: string) {
  const crs = crsFromCode(code);
  const ring = region.coordinates[0];
  let [xmin, ymin, xmax, ymax] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < ring.length - 1; i++) {
    for (let t = 0; t <= 1000; t++) {
      const lon = ring[i][0] + ((ring[i + 1][0] - ring[i][0]) * t) / 1000;
      const lat = ring[i][1] + ((ring[i + 1][1] - ring[i][1]) * t) / 1000;
      const [x, y] = crs.forward(lon, lat);
      xmin = Math.min(xmin, x);
      xmax = Math.max(xmax, x);
      ymin = Math.min(ymin, y);
      ymax = Math.max(ymax, y);
    }
  }
  return { xmin, ymin, xmax, ymax };
}

function assertContainsWithinPixel(
  region: ReturnType<typeof box>,
  grid: ReturnType<typeof planGrid>,
) {
  const scale = grid.transform[0];
  const [left, top] = gridPoint(grid, 0, 0);
  const [right, bottom] = gridPoint(grid, grid.width, grid.height);
  const b = projectedBounds(region, grid.crsCode);
  // Contains the AOI (tolerance for densification: far below a pixel)...
  const tol = scale * 1e-3;
  assert.ok(
    left <= b.xmin + tol && right >= b.xmax - tol,
    `x ${left}..${right} vs ${b.xmin}..${b.xmax}`,
  );
  assert.ok(
    bottom <= b.ymin + tol && top >= b.ymax - tol,
    `y ${bottom}..${top} vs ${b.ymin}..${b.ymax}`,
  );
  // ...and is no more than one pixel larger on any side.
  assert.ok(b.xmin - left < scale && right - b.xmax < scale);
  assert.ok(b.ymin - bottom < scale && top - b.ymax < scale);
}

describe("planGrid", () => {
  it("puts the tutorial's Panama AOI in UTM 17N, snapped to the scale", () => {
    const region = box(-82.435, 8.3958, 0.09);
    const grid = planGrid(region, { scale: 2 });
    assert.equal(grid.crsCode, "EPSG:32617");
    assert.equal(grid.epsg, 32617);
    const [sx, shx, tx, shy, sy, ty] = grid.transform;
    assert.deepEqual([sx, shx, shy, sy], [2, 0, 0, -2]);
    assert.equal(tx % 2, 0);
    assert.equal(ty % 2, 0);
    // 0.09 degrees near the equator is ~9.9 km: about 4950 px at 2 m.
    assert.ok(grid.width > 4900 && grid.width < 5050, `width ${grid.width}`);
    assert.ok(grid.height > 4900 && grid.height < 5050, `height ${grid.height}`);
    assertContainsWithinPixel(region, grid);
  });

  it("uses the southern UTM zone in Tanzania (EPSG:32736)", () => {
    const region = box(35.75, -6.17, 0.09);
    const grid = planGrid(region, { scale: 10 });
    assert.equal(grid.crsCode, "EPSG:32736");
    assert.ok(grid.transform[5] > 9_000_000, "southern false northing");
    assertContainsWithinPixel(region, grid);
  });

  it("honours an explicit EPSG:4326 with the scale in degrees", () => {
    const region = box(-82.435, 8.3958, 0.09);
    const grid = planGrid(region, { scale: 0.0001, crs: "EPSG:4326" });
    assert.equal(grid.epsg, 4326);
    assert.ok(Math.abs(grid.width - 900) <= 2, `width ${grid.width}`);
    assertContainsWithinPixel(region, grid);
  });

  it("aligns grids of overlapping AOIs to the same pixel edges", () => {
    const a = planGrid(box(-82.435, 8.3958, 0.09), { scale: 10 });
    const b = planGrid(box(-82.431, 8.3911, 0.05), { scale: 10 });
    assert.equal(a.crsCode, b.crsCode);
    assert.equal(Math.abs((a.transform[2] - b.transform[2]) % 10), 0);
    assert.equal(Math.abs((a.transform[5] - b.transform[5]) % 10), 0);
  });

  it("densifies edges: a wide box's UTM bounds include the bulge of its parallels", () => {
    const region = box(-81, 40, 4);
    const grid = planGrid(region, { scale: 100, crs: "EPSG:32617" });
    assertContainsWithinPixel(region, grid);
  });

  it("accepts an AOI object with .geometry", () => {
    const grid = planGrid({ geometry: box(-82.435, 8.3958, 0.09) }, { scale: 10 });
    assert.equal(grid.epsg, 32617);
  });

  it("refuses bad scales, swapped coordinates and unsupported CRSs with a message", () => {
    const region = box(-82.435, 8.3958, 0.09);
    assert.throws(() => planGrid(region, { scale: 0 }), DownloadParameterError);
    assert.throws(() => planGrid(region, { scale: -2 }), /positive/);
    assert.throws(() => planGrid(box(8.3958, -182.435, 0.09), { scale: 2 }), /\[lon, lat\]/);
    assert.throws(() => planGrid(region, { scale: 2, crs: "EPSG:2154" }), /Unsupported CRS/);
    assert.throws(
      () => planGrid({ type: "Point", coordinates: [0, 0] }, { scale: 2 }),
      /Polygon or MultiPolygon/,
    );
  });
});
