/**
 * GeoTIFF write throughput: an 8192x8192 RGB uint8 image written tile by tile with
 * GeoTiffWriter (several settings), the same with encodeGeoTiff in memory, and deflate on the
 * main thread vs the thread pool. Each case runs in its own process so peak RSS is its own.
 *
 *   node --import tsx bench/geotiff-write.ts            # all cases
 *   node --import tsx bench/geotiff-write.ts --size 4096
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { deflate, deflateSync } from "node:zlib";
import { encodeGeoTiff } from "../src/geotiff/encode";
import type { GeoTiffSpec } from "../src/geotiff/spec";
import { GeoTiffWriter } from "../src/geotiff/writer";

const TILE = 512;
const BANDS = 3;
/** Distinct sample tiles, reused cyclically so generating pixels stays out of the timings. */
const SAMPLE_TILES = 16;

interface Result {
  rawBytes: number;
  fileBytes?: number;
  ms: number;
}

interface Case {
  name: string;
  run(size: number): Promise<Result>;
}

/** Imagery-like RGB: smooth fields (fields, roads, relief) plus sensor-like noise. */
function sampleTile(k: number): Uint8Array {
  const t = new Uint8Array(TILE * TILE * BANDS);
  let h = (k + 1) * 2654435761;
  for (let y = 0; y < TILE; y++) {
    for (let x = 0; x < TILE; x++) {
      h = (Math.imul(h ^ (h >>> 13), 1274126177) + 1) | 0;
      const noise = (h & 15) - 8;
      for (let b = 0; b < BANDS; b++) {
        const v = 128 + 60 * Math.sin((x + k * 97) / 50 + b) * Math.cos((y + k * 31) / 70) + noise;
        t[(y * TILE + x) * BANDS + b] = Math.max(0, Math.min(255, v));
      }
    }
  }
  return t;
}

function specFor(size: number, over: Partial<GeoTiffSpec> = {}): GeoTiffSpec {
  return {
    width: size,
    height: size,
    bands: BANDS,
    sampleType: "uint8",
    epsg: 32617,
    transform: [2, 0, 340000, 0, -2, 935000],
    ...over,
  };
}

function writerCase(name: string, inFlight: number, over: Partial<GeoTiffSpec>): Case {
  return {
    name,
    async run(size) {
      const tiles = Array.from({ length: SAMPLE_TILES }, (_, k) => sampleTile(k));
      const dir = mkdtempSync(join(tmpdir(), "geotiff-bench-"));
      try {
        const start = performance.now();
        const writer = await GeoTiffWriter.open(join(dir, "bench.tif"), specFor(size, over));
        const jobs: [number, number][] = [];
        for (let r = 0; r < writer.tilesDown; r++)
          for (let c = 0; c < writer.tilesAcross; c++) jobs.push([c, r]);
        let next = 0;
        const worker = async () => {
          while (next < jobs.length) {
            const i = next++;
            const [c, r] = jobs[i];
            await writer.writeTile(c, r, tiles[i % SAMPLE_TILES]);
          }
        };
        await Promise.all(Array.from({ length: inFlight }, worker));
        const { bytes } = await writer.finish();
        const ms = performance.now() - start;
        return { rawBytes: size * size * BANDS, fileBytes: bytes, ms };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function encodeCase(name: string, over: Partial<GeoTiffSpec>): Case {
  return {
    name,
    async run(size) {
      const tiles = Array.from({ length: SAMPLE_TILES }, (_, k) => sampleTile(k));
      const pixels = new Uint8Array(size * size * BANDS);
      const row = TILE * BANDS;
      for (let ty = 0; ty < size / TILE; ty++) {
        for (let tx = 0; tx < size / TILE; tx++) {
          const t = tiles[(ty * (size / TILE) + tx) % SAMPLE_TILES];
          for (let y = 0; y < TILE; y++) {
            pixels.set(
              t.subarray(y * row, (y + 1) * row),
              ((ty * TILE + y) * size + tx * TILE) * BANDS,
            );
          }
        }
      }
      const start = performance.now();
      const file = encodeGeoTiff(specFor(size, over), pixels);
      return { rawBytes: pixels.length, fileBytes: file.length, ms: performance.now() - start };
    },
  };
}

/** Deflate alone, level 6: the main thread vs libuv's pool with N jobs queued. */
function compressorCase(name: string, mode: "sync" | number): Case {
  return {
    name,
    async run(size) {
      const tiles = Array.from({ length: SAMPLE_TILES }, (_, k) => sampleTile(k));
      const count = (size / TILE) ** 2;
      const start = performance.now();
      if (mode === "sync") {
        for (let i = 0; i < count; i++) deflateSync(tiles[i % SAMPLE_TILES], { level: 6 });
      } else {
        let next = 0;
        const worker = async () => {
          while (next < count) {
            const t = tiles[next++ % SAMPLE_TILES];
            await new Promise((res, rej) =>
              deflate(t, { level: 6 }, (e, out) => (e ? rej(e) : res(out))),
            );
          }
        };
        await Promise.all(Array.from({ length: mode }, worker));
      }
      return { rawBytes: count * TILE * TILE * BANDS, ms: performance.now() - start };
    },
  };
}

const CASES: Case[] = [
  writerCase("writer deflate6+predictor, 1 tile at a time", 1, {}),
  writerCase("writer deflate6+predictor, 4 tiles in flight", 4, {}),
  writerCase("writer deflate6, no predictor, 4 in flight", 4, { predictor: false }),
  writerCase("writer deflate1+predictor, 4 in flight", 4, { deflateLevel: 1 }),
  writerCase("writer uncompressed, 4 in flight", 4, { compression: "none" }),
  encodeCase("encodeGeoTiff uncompressed strips (default)", {}),
  encodeCase("encodeGeoTiff uncompressed 512 tiles", { tileSize: 512 }),
  encodeCase("encodeGeoTiff deflate6+predictor strips", { compression: "deflate" }),
  compressorCase("deflateSync on the main thread", "sync"),
  compressorCase("async deflate, 2 in flight", 2),
  compressorCase("async deflate, 4 in flight", 4),
];

async function child(index: number, size: number): Promise<void> {
  const result = (await CASES[index].run(size)) as {
    rawBytes: number;
    fileBytes?: number;
    ms: number;
  };
  process.stdout.write(JSON.stringify({ ...result, maxRssKiB: process.resourceUsage().maxRSS }));
}

function main(): void {
  const args = process.argv.slice(2);
  const size = Number(args[args.indexOf("--size") + 1] || 8192);
  if (!args.includes("--size")) args.push("--size", String(size));
  const caseArg = args.indexOf("--case");
  if (caseArg >= 0) {
    void child(Number(args[caseArg + 1]), size);
    return;
  }
  console.log(
    `GeoTIFF write, ${size}x${size} RGB uint8 (${((size * size * BANDS) / 1e6).toFixed(0)} MB raw), ${availableParallelism()} cores, Node ${process.version}`,
  );
  console.log(
    "case".padEnd(48),
    "MB/s".padStart(8),
    "ms".padStart(8),
    "ratio".padStart(7),
    "peak RSS".padStart(10),
  );
  CASES.forEach((c, i) => {
    const out = execFileSync(
      process.execPath,
      [...process.execArgv, __filename, "--case", String(i), "--size", String(size)],
      {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      },
    );
    const r = JSON.parse(out) as {
      rawBytes: number;
      fileBytes?: number;
      ms: number;
      maxRssKiB: number;
    };
    const ratio = r.fileBytes ? (r.rawBytes / r.fileBytes).toFixed(2) : "";
    console.log(
      c.name.padEnd(48),
      (r.rawBytes / 1e6 / (r.ms / 1000)).toFixed(0).padStart(8),
      r.ms.toFixed(0).padStart(8),
      ratio.padStart(7),
      `${(r.maxRssKiB / 1024).toFixed(0)} MiB`.padStart(10),
    );
  });
}

main();
