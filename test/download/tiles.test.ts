import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAX_REQUEST_BYTES,
  MAX_REQUEST_SIDE,
  planTiles,
  type RequestTile,
  requestBytes,
  splitWindow,
} from "../../src/download/tiles";

function assertCoversOnce(grid: { width: number; height: number }, windows: RequestTile[]) {
  const seen = new Uint8Array(grid.width * grid.height);
  for (const w of windows) {
    assert.ok(w.width > 0 && w.height > 0);
    assert.ok(
      w.x0 >= 0 && w.y0 >= 0 && w.x0 + w.width <= grid.width && w.y0 + w.height <= grid.height,
    );
    for (let y = w.y0; y < w.y0 + w.height; y++) {
      for (let x = w.x0; x < w.x0 + w.width; x++) seen[y * grid.width + x]++;
    }
  }
  assert.ok(
    seen.every((n) => n === 1),
    "every pixel in exactly one window",
  );
}

describe("planTiles", () => {
  it("splits the tutorial's 5000x5000 RGB snippet under 48 MiB, aligned to 512", () => {
    const grid = { width: 5000, height: 5000 };
    const bandBytes = [1, 1, 1];
    const windows = planTiles(grid, { bandBytes });
    assert.ok(windows.length >= 3, `${windows.length} windows`);
    for (const w of windows) {
      assert.ok(requestBytes(w.width, w.height, bandBytes) <= MAX_REQUEST_BYTES);
      assert.equal(w.x0 % 512, 0);
      assert.equal(w.y0 % 512, 0);
      assert.ok(w.width % 512 === 0 || w.x0 + w.width === 5000);
      assert.ok(w.height % 512 === 0 || w.y0 + w.height === 5000);
    }
    assertCoversOnce(grid, windows);
  });

  it("keeps every side within 32768 px even for a thin, cheap grid", () => {
    const grid = { width: 100_000, height: 300 };
    const windows = planTiles(grid, { bandBytes: [1], maxRequestBytes: 1e12 });
    for (const w of windows) assert.ok(w.width <= MAX_REQUEST_SIDE);
    assertCoversOnce(grid, windows);
  });

  it("balances window shapes and counts", () => {
    const windows = planTiles({ width: 10_000, height: 10_000 }, { bandBytes: [1, 1, 1] });
    const widths = new Set(windows.map((w) => w.width));
    const heights = new Set(windows.map((w) => w.height));
    // Evenly spread: at most a full-tile size, one tile less, and the clipped edge.
    assert.ok(widths.size <= 3 && heights.size <= 3, `${[...widths]} / ${[...heights]}`);
    for (const w of windows)
      assert.ok(Math.max(w.width, w.height) / Math.min(w.width, w.height) <= 2.5);
  });

  it("plans at least minWindows when there are enough tiles", () => {
    const grid = { width: 2048, height: 2048 };
    assert.equal(planTiles(grid, { bandBytes: [1] }).length, 1);
    const windows = planTiles(grid, { bandBytes: [1], minWindows: 4 });
    assert.equal(windows.length, 4);
    assertCoversOnce(grid, windows);
  });

  it("is deterministic and row-major", () => {
    const a = planTiles({ width: 7000, height: 6000 }, { bandBytes: [2, 2, 2, 2] });
    const b = planTiles({ width: 7000, height: 6000 }, { bandBytes: [2, 2, 2, 2] });
    assert.deepEqual(a, b);
    for (let i = 1; i < a.length; i++) {
      assert.ok(a[i].y0 > a[i - 1].y0 || (a[i].y0 === a[i - 1].y0 && a[i].x0 > a[i - 1].x0));
    }
  });

  it("goes below one tile when a single tile is over the byte limit", () => {
    const grid = { width: 1000, height: 700 };
    const bandBytes = new Array(200).fill(8); // 512*512*1601 > 48 MiB... and then some
    const windows = planTiles(grid, { bandBytes, maxRequestBytes: 50_000_000 });
    for (const w of windows) assert.ok(requestBytes(w.width, w.height, bandBytes) <= 50_000_000);
    assertCoversOnce(grid, windows);
  });

  it("refuses a tile size TIFF cannot store", () => {
    assert.throws(
      () => planTiles({ width: 10, height: 10 }, { bandBytes: [1], tileSize: 500 }),
      /16/,
    );
  });
});

describe("splitWindow", () => {
  it("cuts along the longer side at a tile boundary", () => {
    const halves = splitWindow({ x0: 512, y0: 0, width: 2048, height: 1024 }, 512);
    assert.deepEqual(halves, [
      { x0: 512, y0: 0, width: 1024, height: 1024 },
      { x0: 1536, y0: 0, width: 1024, height: 1024 },
    ]);
  });

  it("cuts an edge window at a boundary, and a single tile in the middle", () => {
    const [a, b] = splitWindow({ x0: 0, y0: 4608, width: 512, height: 392 + 512 }, 512) ?? [];
    assert.deepEqual(a, { x0: 0, y0: 4608, width: 512, height: 512 });
    assert.deepEqual(b, { x0: 0, y0: 5120, width: 512, height: 392 });
    const [c, d] = splitWindow({ x0: 0, y0: 0, width: 512, height: 512 }, 512) ?? [];
    assert.deepEqual(c, { x0: 0, y0: 0, width: 256, height: 512 });
    assert.deepEqual(d, { x0: 256, y0: 0, width: 256, height: 512 });
    assert.equal(splitWindow({ x0: 3, y0: 4, width: 1, height: 1 }, 512), undefined);
  });
});

describe("requestBytes: the largest of the three counts of a request's size", () => {
  it("matches the captured refusal: 1845x1727 px of 8 int16 bands is 57353670 bytes", () => {
    const eightInt16 = Array(8).fill(2);
    assert.equal(requestBytes(1845, 1727, eightInt16), 57_353_670);
    // The REST reference's count and the old one are both smaller; the planner uses the largest.
    assert.ok(1845 * 1727 * 8 * 2 < 57_353_670);
    assert.ok(1845 * 1727 * (16 + 1) < 57_353_670);
  });

  it("counts bands at their common type, which can be wider than any band", () => {
    // uint16 with int16 is sent as int32: 4 bytes per sample, 3 samples with the mask.
    assert.equal(requestBytes(10, 10, [2, 2], 4), 10 * 10 * 4 * 3);
    // One uint8 band: bytes*(bands+1) = 2 = sum+1; no formula is above it.
    assert.equal(requestBytes(10, 10, [1]), 200);
  });

  // Grids whose single window sits between two formulas' limits: a smaller count (the old
  // sum of band bytes + 1, or the REST reference's) lets it through, the observed
  // bytes * (bands + 1) does not.
  const cases = [
    { name: "8 int16 bands", bandBytes: Array(8).fill(2), side: 1712 },
    { name: "3 uint8 bands", bandBytes: [1, 1, 1], side: 3600 },
    { name: "2 float32 bands", bandBytes: [4, 4], side: 2100 },
  ];
  for (const c of cases) {
    it(`plans ${c.name} on a ${c.side} px square under every formula`, () => {
      const n = c.bandBytes.length;
      const bytes = Math.max(...c.bandBytes);
      const sum = c.bandBytes.reduce((s, b) => s + b, 0);
      const px = c.side * c.side;
      // The case is near the boundary: one window fits the old count, not the observed one.
      assert.ok(px * (sum + 1) <= MAX_REQUEST_BYTES || px * n * bytes <= MAX_REQUEST_BYTES);
      assert.ok(px * bytes * (n + 1) > MAX_REQUEST_BYTES);
      const grid = { width: c.side, height: c.side };
      const windows = planTiles(grid, { bandBytes: c.bandBytes, tileSize: 16 });
      assert.ok(windows.length >= 2, `${windows.length} windows`);
      assertCoversOnce(grid, windows);
      for (const w of windows) {
        const area = w.width * w.height;
        assert.ok(area * n * bytes <= MAX_REQUEST_BYTES, "REST reference");
        assert.ok(area * bytes * (n + 1) <= MAX_REQUEST_BYTES, "captured refusal");
        assert.ok(area * (sum + 1) <= MAX_REQUEST_BYTES, "old count");
      }
    });
  }

  it("keeps one window when it fits the observed formula with a pixel row to spare", () => {
    // 8 int16 bands: 18 bytes per pixel; 1664 x 1680 px is 50319360 bytes, under 50331648.
    const windows = planTiles(
      { width: 1664, height: 1680 },
      { bandBytes: Array(8).fill(2), tileSize: 16 },
    );
    assert.equal(windows.length, 1);
  });
});
