/**
 * Replays a downloaded GeoTIFF's full-resolution pixels through GeoTiffWriter as the download
 * engine hands them over (rows of 512 px tiles, transferred), and reports the writer's CPU
 * time per image and the output's SHA-256: a quick loop for profiling the writer on real
 * imagery without the emulator.
 *
 *   node --import tsx bench/replay-write.ts FILE.tif [repeats]
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromArrayBuffer } from "geotiff";
import type { GeoTiffSpec } from "../src/geotiff/spec";
import { GeoTiffWriter } from "../src/geotiff/writer";

async function main(): Promise<void> {
  const [file, repeatsArg] = process.argv.slice(2);
  if (!file) throw new Error("Usage: bench/replay-write.ts FILE.tif [repeats]");
  const repeats = Number(repeatsArg ?? 3);
  const bytes = readFileSync(file);
  const tiff = await fromArrayBuffer(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const image = await tiff.getImage(0);
  const width = image.getWidth();
  const height = image.getHeight();
  const bands = image.getSamplesPerPixel();
  const pixels = (await image.readRasters({ interleave: true })) as unknown as Uint8Array;
  const tileSize = image.getTileWidth();
  const spec: GeoTiffSpec = {
    width,
    height,
    bands,
    sampleType: "uint8",
    epsg: 32617,
    transform: [2, 0, 340000, 0, -2, 935000],
    nodata: 0,
    tileSize,
    compression: "deflate",
    deflateLevel: 1,
    overviews: "average",
    cloudOptimized: true,
  };
  const dir = mkdtempSync(join(tmpdir(), "replay-write-"));
  try {
    const across = Math.ceil(width / tileSize);
    const down = Math.ceil(height / tileSize);
    const rowBytes = width * bands;
    for (let r = 0; r < repeats; r++) {
      const out = join(dir, `out-${r}.tif`);
      // Tiles cut outside the measured window, as the NPY scatter fills them.
      const rows: Uint8Array[][] = [];
      for (let ty = 0; ty < down; ty++) {
        const tiles: Uint8Array[] = [];
        for (let tx = 0; tx < across; tx++) {
          const tile = new Uint8Array(tileSize * tileSize * bands);
          const w = Math.min(tileSize, width - tx * tileSize);
          const h = Math.min(tileSize, height - ty * tileSize);
          for (let y = 0; y < h; y++) {
            const s = (ty * tileSize + y) * rowBytes + tx * tileSize * bands;
            tile.set(pixels.subarray(s, s + w * bands), y * tileSize * bands);
          }
          tiles.push(tile);
        }
        rows.push(tiles);
      }
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const writer = await GeoTiffWriter.open(out, spec);
      const writes: Promise<void>[] = [];
      for (let ty = 0; ty < down; ty++) {
        for (const [tx, tile] of rows[ty].entries()) {
          writes.push(writer.writeTile(tx, ty, tile, { transfer: true }));
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(writes);
      const finished = await writer.finish();
      const cpu = process.cpuUsage(cpu0);
      const sha = createHash("sha256").update(readFileSync(out)).digest("hex");
      process.stdout.write(
        `${width}x${height}x${bands}: wall ${(performance.now() - t0).toFixed(0)} ms, CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, ${finished.bytes} bytes, sha256 ${sha}${finished.sha256 === sha ? "" : " (writer's sha256 differs!)"}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exitCode = 1;
});
