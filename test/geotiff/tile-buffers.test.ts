import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { inflateSync } from "node:zlib";
import { fromArrayBuffer } from "geotiff";
import { recycleTileBuffer, takeTileBuffer } from "../../src/geotiff/tile-buffers";
import { GeoTiffWriter } from "../../src/geotiff/writer";

const root = mkdtempSync(join(tmpdir(), "geotiff-tile-buffers-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("takeTileBuffer reuses a recycled buffer, zeroed on request; views are not recycled", () => {
  const bytes = 1234;
  const dirty = new Uint8Array(bytes).fill(7);
  recycleTileBuffer(dirty);
  assert.equal(takeTileBuffer(bytes), dirty);
  recycleTileBuffer(dirty);
  const zeroed = takeTileBuffer(bytes, true);
  assert.equal(zeroed, dirty);
  assert.ok(zeroed.every((v) => v === 0));
  const view = new Uint8Array(2 * bytes).subarray(bytes);
  recycleTileBuffer(view);
  assert.notEqual(takeTileBuffer(bytes), view);
});

test("recycled buffers full of old pixels leave no trace in edge tiles' padding or overviews", async () => {
  const ts = 16;
  const bands = 3;
  const tileBytes = ts * ts * bands;
  // Old pixels everywhere in the buffers the writer and its pyramid will take.
  for (let i = 0; i < 64; i++) recycleTileBuffer(new Uint8Array(tileBytes).fill(0xab));
  const width = 40;
  const height = 37;
  const path = join(root, "edges.tif");
  const writer = await GeoTiffWriter.open(path, {
    width,
    height,
    bands,
    sampleType: "uint8",
    epsg: 32617,
    transform: [2, 0, 340000, 0, -2, 935000],
    nodata: 0,
    tileSize: ts,
    overviews: "average",
    cloudOptimized: true,
  });
  const value = (x: number, y: number, b: number) => 1 + ((x * 7 + y * 3 + b * 11) % 200);
  for (let row = 0; row < writer.tilesDown; row++) {
    for (let col = 0; col < writer.tilesAcross; col++) {
      // A recycled buffer, as the download's scatter fills it: only the valid pixels.
      const tile = takeTileBuffer(tileBytes);
      const w = Math.min(ts, width - col * ts);
      const h = Math.min(ts, height - row * ts);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let b = 0; b < bands; b++) {
            tile[(y * ts + x) * bands + b] = value(col * ts + x, row * ts + y, b);
          }
        }
      }
      await writer.writeTile(col, row, tile, { transfer: true });
    }
  }
  await writer.finish();
  const file = readFileSync(path);
  const tiff = await fromArrayBuffer(
    file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength),
  );
  assert.ok((await tiff.getImageCount()) > 1, "the file has overviews");
  for (let level = 0; level < (await tiff.getImageCount()); level++) {
    const image = await tiff.getImage(level);
    const offsets = Array.from(
      (await image.fileDirectory.loadValue("TileOffsets")) as ArrayLike<number>,
    );
    const counts = Array.from(
      (await image.fileDirectory.loadValue("TileByteCounts")) as ArrayLike<number>,
    );
    for (let t = 0; t < offsets.length; t++) {
      const raw = inflateSync(file.subarray(offsets[t], offsets[t] + counts[t]));
      const col = t % Math.ceil(image.getWidth() / ts);
      const row = Math.floor(t / Math.ceil(image.getWidth() / ts));
      const w = Math.min(ts, image.getWidth() - col * ts);
      const h = Math.min(ts, image.getHeight() - row * ts);
      // Undo the predictor (horizontal differences), then the padding must be zeros.
      for (let y = 0; y < ts; y++) {
        for (let i = bands; i < ts * bands; i++) {
          raw[y * ts * bands + i] += raw[y * ts * bands + i - bands];
        }
      }
      for (let y = 0; y < ts; y++) {
        for (let x = y < h ? w : 0; x < ts; x++) {
          for (let b = 0; b < bands; b++) assert.equal(raw[(y * ts + x) * bands + b], 0);
        }
      }
    }
  }
  const full = (await (
    await tiff.getImage(0)
  ).readRasters({ interleave: true })) as unknown as Uint8Array;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let b = 0; b < bands; b++)
        assert.equal(full[(y * width + x) * bands + b], value(x, y, b));
    }
  }
});
