import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fromFile } from "geotiff";
import { SAMPLE_ARRAYS } from "../../src/core/samples";
import {
  GeoTiffDirectoryError,
  GeoTiffDiskFullError,
  GeoTiffExistsError,
  GeoTiffIncompleteError,
  GeoTiffTileError,
} from "../../src/geotiff/errors";
import { type GeoTiffSpec, resolveSpec, type SampleType } from "../../src/geotiff/spec";
import { IN_MEMORY_FILE_BYTES } from "../../src/geotiff/spooled-file";
import { GeoTiffWriter } from "../../src/geotiff/writer";
import { bytesOf, rng, SAMPLE_TYPES, scratchDirs, utmSpec as spec } from "./fixtures";

type Samples = InstanceType<(typeof SAMPLE_ARRAYS)[SampleType]>;

const freshDir = scratchDirs("geotiff-writer-");

/** Smooth fields plus noise across each type's whole range, so the predictor wraps around. */
function image(type: SampleType, width: number, height: number, bands: number, seed = 1): Samples {
  const next = rng(seed);
  const out = new SAMPLE_ARRAYS[type](width * height * bands);
  const float = type.startsWith("float");
  for (let i = 0; i < out.length; i++) {
    const smooth = Math.sin(i / 1013) * 100;
    out[i] = float ? smooth + next() / 2 ** 32 : i % 7 === 0 ? next() : Math.round(smooth + 100);
  }
  return out;
}

function shuffle<T>(items: T[], seed: number): T[] {
  const next = rng(seed);
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Tile (col,row) of a chunky image: full tileSize^2 with garbage padding, or just the valid pixels. */
function cutTile(
  px: Samples,
  spec: GeoTiffSpec,
  ts: number,
  col: number,
  row: number,
  padded: boolean,
): Samples {
  const w = Math.min(ts, spec.width - col * ts);
  const h = Math.min(ts, spec.height - row * ts);
  const stride = padded ? ts : w;
  const Ctor = SAMPLE_ARRAYS[spec.sampleType];
  const tile = new Ctor(stride * (padded ? ts : h) * spec.bands);
  if (padded) tile.fill(77 as never);
  for (let y = 0; y < h; y++) {
    const s = ((row * ts + y) * spec.width + col * ts) * spec.bands;
    tile.set(px.subarray(s, s + w * spec.bands) as never, y * stride * spec.bands);
  }
  return tile;
}

function windowOf(
  px: Samples,
  spec: GeoTiffSpec,
  x0: number,
  y0: number,
  w: number,
  h: number,
): Samples {
  const out = new SAMPLE_ARRAYS[spec.sampleType](w * h * spec.bands);
  for (let y = 0; y < h; y++) {
    const s = ((y0 + y) * spec.width + x0) * spec.bands;
    out.set(px.subarray(s, s + w * spec.bands) as never, y * w * spec.bands);
  }
  return out;
}

async function readBack(path: string): Promise<Buffer> {
  const tiff = await fromFile(path);
  try {
    const img = await tiff.getImage();
    const data = (await img.readRasters({ interleave: true })) as unknown as ArrayBufferView;
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } finally {
    await tiff.close();
  }
}

const hasGdal = (() => {
  try {
    execFileSync("gdalinfo", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

function allTiles(across: number, down: number): [number, number][] {
  const tiles: [number, number][] = [];
  for (let r = 0; r < down; r++) for (let c = 0; c < across; c++) tiles.push([c, r]);
  return tiles;
}

describe("GeoTiffWriter.writeTile", () => {
  for (const type of SAMPLE_TYPES) {
    test(`${type}: 1000x777, tiles in random order and concurrently, read back pixel for pixel`, async () => {
      const dir = freshDir();
      const s = spec({ sampleType: type, tileSize: 256 });
      const px = image(type, s.width, s.height, s.bands, 3);
      const path = join(dir, "out.tif");
      const writer = await GeoTiffWriter.open(path, s);
      assert.equal(writer.tilesAcross, 4);
      assert.equal(writer.tilesDown, 4);
      const tiles = shuffle(allTiles(4, 4), 11);
      // Edge tiles alternate between padded full tiles and exact valid-size data.
      await Promise.all(
        tiles.map(([c, r], i) => writer.writeTile(c, r, cutTile(px, s, 256, c, r, i % 2 === 0))),
      );
      assert.equal(existsSync(path), false, "the final name appears only at finish()");
      const { bytes } = await writer.finish();
      assert.equal(bytes, readFileSync(path).length);
      assert.deepEqual(readdirSync(dir), ["out.tif"], "no temporary file left behind");
      assert.ok((await readBack(path)).equals(bytesOf(px)));
    });
  }

  test("BigTIFF when forced: gdalinfo and geotiff.js both read it", {
    skip: !hasGdal && "gdalinfo not installed",
  }, async () => {
    const dir = freshDir();
    const s = spec({ sampleType: "int16", bigTiff: true, nodata: -9999, bandNames: ["VV", "VH"] });
    const px = image("int16", s.width, s.height, s.bands, 5);
    const path = join(dir, "big.tif");
    const writer = await GeoTiffWriter.open(path, s);
    for (const [c, r] of shuffle(allTiles(2, 2), 2))
      await writer.writeTile(c, r, cutTile(px, s, 512, c, r, true));
    await writer.finish();
    assert.equal(readFileSync(path).readUInt16LE(2), 43);
    assert.ok((await readBack(path)).equals(bytesOf(px)));
    const info = JSON.parse(
      execFileSync("gdalinfo", ["-json", "-stats", path], { encoding: "utf8" }),
    );
    assert.deepEqual(info.size, [1000, 777]);
    assert.equal(info.metadata.IMAGE_STRUCTURE.COMPRESSION, "DEFLATE");
    assert.deepEqual(
      info.bands.map((b: { description: string; noDataValue: number; block: number[] }) => [
        b.description,
        b.noDataValue,
        b.block,
      ]),
      [
        ["VV", -9999, [512, 512]],
        ["VH", -9999, [512, 512]],
      ],
    );
  });

  test("gdalinfo: 4326, nodata, descriptions, 512x512 DEFLATE blocks, statistics match the data", {
    skip: !hasGdal && "gdalinfo not installed",
  }, async () => {
    const dir = freshDir();
    const s = spec({
      sampleType: "uint8",
      bands: 3,
      epsg: 4326,
      transform: [0.0001, 0, -82.48, 0, -0.0001, 8.44],
      nodata: 0,
      bandNames: ["B8", "B4", "B3"],
    });
    const px = image("uint8", s.width, s.height, 3, 9);
    const path = join(dir, "rgb.tif");
    const writer = await GeoTiffWriter.open(path, s);
    await Promise.all(
      allTiles(2, 2).map(([c, r]) => writer.writeTile(c, r, cutTile(px, s, 512, c, r, false))),
    );
    await writer.finish();
    const info = JSON.parse(
      execFileSync("gdalinfo", ["-json", "-stats", path], { encoding: "utf8" }),
    );
    assert.match(info.coordinateSystem.wkt, /ID\["EPSG",4326\]\]$/);
    assert.deepEqual(info.cornerCoordinates.upperLeft, [-82.48, 8.44]);
    assert.ok(Math.abs(info.cornerCoordinates.lowerRight[0] - (-82.48 + 0.1)) < 1e-9);
    assert.ok(Math.abs(info.cornerCoordinates.lowerRight[1] - (8.44 - 0.0777)) < 1e-9);
    assert.equal(info.metadata.IMAGE_STRUCTURE.COMPRESSION, "DEFLATE");
    assert.equal(info.metadata.IMAGE_STRUCTURE.PREDICTOR, "2");
    let max = 0;
    for (let i = 0; i < px.length; i += 3) max = Math.max(max, px[i]);
    assert.equal(info.bands[0].maximum, max);
    assert.deepEqual(
      info.bands.map(
        (b: {
          description: string;
          noDataValue: number;
          block: number[];
          colorInterpretation: string;
        }) => [b.description, b.noDataValue, b.block, b.colorInterpretation],
      ),
      [
        ["B8", 0, [512, 512], "Red"],
        ["B4", 0, [512, 512], "Green"],
        ["B3", 0, [512, 512], "Blue"],
      ],
    );
  });

  test("rejects tiles outside the grid, of the wrong size or type, and written twice", async () => {
    const writer = await GeoTiffWriter.open(join(freshDir(), "x.tif"), spec());
    try {
      await assert.rejects(
        writer.writeTile(2, 0, new Uint16Array(512 * 512 * 2)),
        (e: Error) => e instanceof GeoTiffTileError && /outside the 2x2 tile grid/.test(e.message),
      );
      await assert.rejects(
        writer.writeTile(0, 0, new Uint16Array(10)),
        /expected 524288 or 524288 uint16 samples/,
      );
      await assert.rejects(writer.writeTile(0, 0, new Int32Array(512 * 512)), /pass a Uint16Array/);
      await writer.writeTile(0, 0, new Uint16Array(512 * 512 * 2));
      await assert.rejects(
        writer.writeTile(0, 0, new Uint16Array(512 * 512 * 2)),
        /already written/,
      );
      // Edge tile (1,1) is 488x265 inside the image: that size is accepted as well.
      await writer.writeTile(1, 1, new Uint16Array(488 * 265 * 2));
    } finally {
      await writer.abort();
    }
  });
});

describe("GeoTiffWriter.writeWindow", () => {
  test("unaligned windows in random order fill the tiles exactly", async () => {
    const dir = freshDir();
    const s = spec({ sampleType: "float32", bands: 3, tileSize: 128 });
    const px = image("float32", s.width, s.height, 3, 4);
    const path = join(dir, "w.tif");
    const writer = await GeoTiffWriter.open(path, s);
    const windows: [number, number, number, number][] = [];
    const xs = [0, 130, 301, 555, 1000];
    const ys = [0, 77, 400, 777];
    for (let i = 0; i + 1 < ys.length; i++) {
      for (let j = 0; j + 1 < xs.length; j++)
        windows.push([xs[j], ys[i], xs[j + 1] - xs[j], ys[i + 1] - ys[i]]);
    }
    const order = shuffle(windows, 8);
    await Promise.all(
      order
        .slice(0, 6)
        .map(([x, y, w, h]) => writer.writeWindow(x, y, w, h, windowOf(px, s, x, y, w, h))),
    );
    assert.ok(writer.progress().partialTiles > 0, "tiles straddling windows wait in memory");
    for (const [x, y, w, h] of order.slice(6))
      await writer.writeWindow(x, y, w, h, windowOf(px, s, x, y, w, h));
    assert.equal(writer.progress().partialTiles, 0);
    await writer.finish();
    assert.ok((await readBack(path)).equals(bytesOf(px)));
  });

  test("one request covering many tiles, and overlap with a written tile is refused", async () => {
    const dir = freshDir();
    const s = spec({ sampleType: "uint8", bands: 1, tileSize: 256 });
    const px = image("uint8", s.width, s.height, 1, 6);
    const writer = await GeoTiffWriter.open(join(dir, "m.tif"), s);
    await writer.writeWindow(0, 0, 1000, 512, windowOf(px, s, 0, 0, 1000, 512));
    await assert.rejects(
      writer.writeWindow(0, 500, 10, 10, windowOf(px, s, 0, 500, 10, 10)),
      /overlaps tile \(0,1\), which was already written/,
    );
    await assert.rejects(
      writer.writeWindow(990, 700, 20, 10, new Uint8Array(200)),
      /not inside the 1000x777 image/,
    );
    await writer.writeWindow(0, 512, 1000, 265, windowOf(px, s, 0, 512, 1000, 265));
    const { path } = await writer.finish();
    assert.ok((await readBack(path)).equals(bytesOf(px)));
  });
});

describe("GeoTiffWriter safety", () => {
  test("finish() names missing and partial tiles, keeps the writer usable, then succeeds", async () => {
    const dir = freshDir();
    const s = spec({ sampleType: "uint8", bands: 1 });
    const px = image("uint8", s.width, s.height, 1, 2);
    const path = join(dir, "inc.tif");
    const writer = await GeoTiffWriter.open(path, s);
    await writer.writeTile(0, 0, cutTile(px, s, 512, 0, 0, true));
    await writer.writeWindow(512, 0, 100, 100, windowOf(px, s, 512, 0, 100, 100));
    await assert.rejects(writer.finish(), (e: Error) => {
      assert.ok(e instanceof GeoTiffIncompleteError);
      assert.deepEqual(e.missing, [
        [0, 1],
        [1, 1],
      ]);
      assert.deepEqual(e.partial, [[1, 0]]);
      assert.match(
        e.message,
        /missing tiles \(col,row\) \(0,1\), \(1,1\); partly written tiles \(1,0\) of 4/,
      );
      return true;
    });
    assert.equal(existsSync(path), false);
    await writer.writeWindow(512, 100, 488, 412, windowOf(px, s, 512, 100, 488, 412));
    await writer.writeWindow(612, 0, 388, 100, windowOf(px, s, 612, 0, 388, 100));
    await writer.writeTile(0, 1, cutTile(px, s, 512, 0, 1, false));
    await writer.writeTile(1, 1, cutTile(px, s, 512, 1, 1, false));
    await writer.finish();
    assert.ok((await readBack(path)).equals(bytesOf(px)));
  });

  test("abort() after a failed finish deletes the temporary file; twice is fine", async () => {
    const dir = freshDir();
    const writer = await GeoTiffWriter.open(join(dir, "a.tif"), spec());
    await writer.writeTile(0, 0, new Uint16Array(512 * 512 * 2));
    assert.equal(readdirSync(dir).length, 1);
    await assert.rejects(writer.finish(), GeoTiffIncompleteError);
    await writer.abort();
    await writer.abort();
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(writer.writeTile(1, 0, new Uint16Array(512 * 512 * 2)), {
      name: "AbortError",
    });
    await assert.rejects(writer.finish(), { name: "AbortError" });
  });

  test("an existing file is never replaced without overwrite; with it, only at finish()", async () => {
    const dir = freshDir();
    const path = join(dir, "e.tif");
    writeFileSync(path, "old");
    await assert.rejects(
      GeoTiffWriter.open(path, spec()),
      (e: Error) => e instanceof GeoTiffExistsError && /overwrite: true/.test(e.message),
    );
    const s = spec({ width: 20, height: 20, bands: 1, sampleType: "uint8", tileSize: 16 });
    const writer = await GeoTiffWriter.open(path, s, { overwrite: true });
    await writer.writeWindow(0, 0, 20, 20, new Uint8Array(400).fill(5));
    assert.equal(readFileSync(path, "utf8"), "old");
    await writer.finish();
    assert.ok((await readBack(path)).equals(Buffer.alloc(400, 5)));
  });

  test("a file created at the path while writing is kept; finish() refuses and abort() cleans up", async () => {
    const dir = freshDir();
    const path = join(dir, "race.tif");
    const s = spec({ width: 20, height: 20, bands: 1, sampleType: "uint8", tileSize: 16 });
    const writer = await GeoTiffWriter.open(path, s);
    await writer.writeWindow(0, 0, 20, 20, new Uint8Array(400));
    writeFileSync(path, "someone else's");
    await assert.rejects(writer.finish(), GeoTiffExistsError);
    assert.equal(readFileSync(path, "utf8"), "someone else's");
    await writer.abort();
    assert.deepEqual(readdirSync(dir), ["race.tif"]);
  });

  test("a missing or unwritable directory fails at open() with what to fix", async () => {
    await assert.rejects(
      GeoTiffWriter.open(join(freshDir(), "nope", "x.tif"), spec()),
      (e: Error) =>
        e instanceof GeoTiffDirectoryError && /does not exist; create it first/.test(e.message),
    );
    const file = join(freshDir(), "plain");
    writeFileSync(file, "");
    await assert.rejects(GeoTiffWriter.open(join(file, "x.tif"), spec()), /not a directory/);
    const ro = freshDir();
    if (process.getuid?.() === 0) {
      // root ignores permission bits: a read-only mount is what stops it.
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro], {
          stdio: "ignore",
        });
      } catch {
        return;
      }
      try {
        await assert.rejects(GeoTiffWriter.open(join(ro, "x.tif"), spec()), /not writable/);
      } finally {
        execFileSync("umount", [ro]);
      }
    } else {
      execFileSync("chmod", ["555", ro]);
      await assert.rejects(GeoTiffWriter.open(join(ro, "x.tif"), spec()), /not writable/);
    }
  });

  test("an AbortSignal aborts: pending and later writes reject, the temporary file is deleted", async () => {
    const dir = freshDir();
    const controller = new AbortController();
    const s = spec({ sampleType: "float64", bands: 4, tileSize: 128 });
    const writer = await GeoTiffWriter.open(join(dir, "s.tif"), s, { signal: controller.signal });
    const tile = () => new Float64Array(128 * 128 * 4).map((_, i) => Math.sin(i));
    await writer.writeTile(0, 0, tile());
    const pending = Promise.allSettled([1, 2, 3, 4, 5].map((c) => writer.writeTile(c, 0, tile())));
    controller.abort(new Error("user stopped"));
    const settled = await pending;
    assert.ok(
      settled.some((r) => r.status === "rejected" && (r.reason as Error).name === "AbortError"),
    );
    await assert.rejects(writer.writeTile(6, 0, tile()), { name: "AbortError" });
    await assert.rejects(writer.finish(), { name: "AbortError" });
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(GeoTiffWriter.open(join(dir, "t.tif"), s, { signal: controller.signal }), {
      name: "AbortError",
    });
  });

  test("abort() after the signal fired returns only once the temporary file is deleted", async () => {
    const dir = freshDir();
    const controller = new AbortController();
    const writer = await GeoTiffWriter.open(join(dir, "a.tif"), spec(), {
      signal: controller.signal,
    });
    assert.equal(readdirSync(dir).length, 1);
    controller.abort(new Error("user stopped"));
    await writer.abort();
    assert.deepEqual(readdirSync(dir), []);
    await writer.abort();
    await assert.rejects(writer.finish(), { name: "AbortError" });
  });

  test("a full disk aborts with the bytes needed and deletes the temporary file", async (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root to mount a tiny tmpfs");
    const dir = freshDir();
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir], { stdio: "ignore" });
    } catch {
      return t.skip("cannot mount tmpfs here");
    }
    try {
      const s = spec({
        width: 1024,
        height: 1024,
        bands: 1,
        sampleType: "uint32",
        predictor: false,
      });
      const writer = await GeoTiffWriter.open(join(dir, "full.tif"), s);
      const next = rng(1);
      const noise = () => new Uint32Array(512 * 512).map(() => next());
      let error: unknown;
      try {
        for (const [c, r] of allTiles(2, 2)) await writer.writeTile(c, r, noise());
        await writer.finish();
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof GeoTiffDiskFullError, String(error));
      assert.match(
        error.message,
        /The disk is full: writing .*full\.tif needs about 4\.\d MiB \([\d.]+ (B|KiB|MiB) written before the failure, \d+ B free\)/,
      );
      assert.ok(error.bytesNeeded >= 4 * 1024 * 1024);
      assert.ok(error.bytesWritten <= 256 * 1024, `${error.bytesWritten} B fit a 256 KiB disk`);
      assert.deepEqual(readdirSync(dir), []);
      await writer.abort();
    } finally {
      execFileSync("umount", [dir]);
    }
  });
});

describe("BigTIFF choice", () => {
  test('"auto" picks BigTIFF only when the file could pass 4 GiB', () => {
    const base = spec({ sampleType: "uint8", bands: 3 });
    assert.equal(resolveSpec({ ...base, width: 8192, height: 8192 }, "deflate").bigTiff, false);
    assert.equal(resolveSpec({ ...base, width: 40000, height: 40000 }, "deflate").bigTiff, true);
    assert.equal(
      resolveSpec({ ...base, width: 40000, height: 40000, bigTiff: false }, "deflate").bigTiff,
      false,
    );
  });
});

describe("GeoTiffWriter small and large files", () => {
  test("a small file is assembled in memory: one write at finish(), its SHA-256 returned", async () => {
    const dir = freshDir();
    const s = spec({ width: 100, height: 101, bands: 3, sampleType: "uint8", tileSize: 112 });
    const px = image("uint8", 100, 101, 3, 5);
    const path = join(dir, "small.tif");
    const writer = await GeoTiffWriter.open(path, s);
    const temporary = readdirSync(dir);
    assert.equal(temporary.length, 1, "the temporary file exists from open() on");
    await writer.writeWindow(0, 0, 100, 101, px);
    assert.equal(statSync(join(dir, temporary[0])).size, 0, "nothing written before finish()");
    const finished = await writer.finish();
    const onDisk = readFileSync(path);
    assert.equal(finished.bytes, onDisk.length);
    assert.equal(finished.sha256, createHash("sha256").update(onDisk).digest("hex"));
    assert.ok((await readBack(path)).equals(bytesOf(px)));
    assert.deepEqual(readdirSync(dir), ["small.tif"]);
  });

  test(`a file over ${IN_MEMORY_FILE_BYTES} bytes spills to disk on the way and reads back the same`, async () => {
    const dir = freshDir();
    const s = spec({ width: 1024, height: 1024, bands: 1, sampleType: "uint32", predictor: false });
    const next = rng(9);
    // Noise does not compress: 4 MiB of tiles, twice the in-memory limit.
    const px = new Uint32Array(1024 * 1024).map(() => next());
    const path = join(dir, "large.tif");
    const writer = await GeoTiffWriter.open(path, s);
    const order = shuffle(allTiles(2, 2), 3);
    for (const [c, r] of order) await writer.writeTile(c, r, cutTile(px, s, 512, c, r, false));
    const temporary = readdirSync(dir)[0];
    assert.ok(statSync(join(dir, temporary)).size > IN_MEMORY_FILE_BYTES, "tiles streamed to disk");
    const finished = await writer.finish();
    assert.equal(finished.sha256, undefined, "large files are not hashed in memory");
    assert.equal(finished.bytes, statSync(path).size);
    assert.ok((await readBack(path)).equals(bytesOf(px)));
  });
});
