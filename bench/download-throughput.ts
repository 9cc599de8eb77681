/**
 * Throughput and peak memory of downloadImage against three baselines from the same server:
 *   plain     the same byte counts as plain HTTP bodies (what the link and Node can move)
 *   fetch     the very same computePixels windows, bodies discarded (server + HTTP)
 *   download  downloadImage: windows -> tiles -> deflate -> GeoTIFF on disk
 * Each phase runs in a fresh child process, so its peak RSS is its own.
 *
 * Servers: "canned" (default) answers computePixels with precomputed NPY bodies at ~zero
 * cost, in this (parent) process, so the client's own cost is what is measured; "emulator"
 * renders real snippets (its renderer then dominates; plain then comes from a side server).
 *
 *   node --import tsx bench/download-throughput.ts [side=0.18] [scale=2] [canned|emulator]
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePixelsNpy } from "../src/core/npy";
import { downloadImage, planGrid, planTiles, RequestLimiter } from "../src/download";
import { DEFAULT_BYTE_BUDGET } from "../src/download/budget";
import { type Backend, projectUrl } from "../src/ee/backend";
import { type CloudExpression, initializeEe, serializeExpression } from "../src/ee/client";
import { httpPost } from "../src/ee/transport";
import { bbox } from "../src/snippets/aoi";
import { findImages } from "../src/snippets/search";
import { snippetImage } from "../src/snippets/snippet-image";

interface Emulator {
  url: string;
  project: string;
  stop(): Promise<void>;
}

interface PhaseResult {
  phase: string;
  seconds: number;
  bytes: number;
  peakRss: number;
  fileBytes?: number;
  windows?: number;
}

const BANDS = ["vis-red", "vis-green", "vis-blue"];
const mb = (bytes: number) => bytes / 1e6;

/** Same as downloadImage's planning (16 MiB windows within the default budget). */
function windowsFor(grid: { width: number; height: number }) {
  const preferred = Math.min(16 * 1024 * 1024, DEFAULT_BYTE_BUDGET / 6);
  return planTiles(grid, {
    bandBytes: [1, 1, 1],
    minWindows: Math.max(4, Math.ceil((grid.width * grid.height * 4) / preferred)),
  });
}

/** A synthetic snippet-like body: 5x5 px blocks (the tutorial's 2 m over 10 m bands). */
function cannedNpy(width: number, height: number): Uint8Array {
  const samples = new Uint8Array(width * height * 3);
  let i = 0;
  for (let y = 0; y < height; y++) {
    const by = Math.floor(y / 5);
    for (let x = 0; x < width; x++) {
      const bx = Math.floor(x / 5);
      const v = (bx * 7 + by * 13 + ((bx * by) % 17)) & 255;
      samples[i++] = v;
      samples[i++] = (v + 50) & 255;
      samples[i++] = (v * 3) & 255;
    }
  }
  return encodePixelsNpy(samples, { width, height, bands: BANDS, type: "uint8" });
}

async function startCanned(): Promise<{ url: string; stop(): Promise<void> }> {
  const cache = new Map<string, Uint8Array>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "";
      if (url.startsWith("/plain/")) {
        const n = Number(url.slice(7));
        const key = `plain${n}`;
        const body = cache.get(key) ?? Buffer.alloc(n, 1);
        cache.set(key, body);
        res.writeHead(200, { "content-length": body.length }).end(body);
        return;
      }
      if (url.endsWith("/value:compute")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            result: {
              type: "Image",
              bands: BANDS.map((id) => ({
                id,
                data_type: { type: "PixelType", precision: "int", min: 0, max: 255 },
              })),
            },
          }),
        );
        return;
      }
      const { width, height } = JSON.parse(Buffer.concat(chunks).toString()).grid.dimensions;
      const key = `${width}x${height}`;
      const body = cache.get(key) ?? cannedNpy(width, height);
      cache.set(key, body);
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A child process's phase: prints one JSON line. */
async function child(args: Record<string, string>): Promise<void> {
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 10);
  const backend: Backend = {
    kind: "emulator",
    apiUrl: args.url,
    project: args.project,
    authorization: async () => undefined,
  };
  const aoi = bbox(-82.435, 8.3958, Number(args.side), "bench");
  const grid = planGrid(aoi, { scale: Number(args.scale) });
  const windows = windowsFor(grid);
  const expression = JSON.parse(args.expression) as CloudExpression;
  const limiter = new RequestLimiter();
  const started = performance.now();
  const out: PhaseResult = { phase: args.phase, seconds: 0, bytes: 0, peakRss: 0 };
  if (args.phase === "download") {
    const dir = await mkdtemp(join(tmpdir(), "bench-download-"));
    try {
      const result = await downloadImage(
        { backend, requests: limiter },
        expression,
        join(dir, "b.tif"),
        {
          region: aoi,
          scale: Number(args.scale),
          checksum: false,
          ...(args.level ? { deflateLevel: Number(args.level) } : {}),
        },
      );
      out.bytes = result.pixelBytes;
      out.fileBytes = result.bytes;
      out.windows = result.tiles;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } else {
    const [sx, , tx, , sy, ty] = grid.transform;
    await Promise.all(
      windows.map((w) =>
        limiter.run(async () => {
          const npyBytes = w.width * w.height * 3 + 128;
          let n = 0;
          const sink = () => ({
            write: (c: Buffer) => {
              n += c.length;
            },
            end: () => {},
          });
          if (args.phase === "plain") {
            await httpPost(`${args.plainUrl}/plain/${npyBytes}`, "{}", { sink });
          } else {
            await httpPost(
              `${projectUrl(backend)}/image:computePixels`,
              JSON.stringify({
                expression,
                fileFormat: "NPY",
                bandIds: BANDS,
                grid: {
                  crsCode: grid.crsCode,
                  affineTransform: {
                    scaleX: sx,
                    shearX: 0,
                    translateX: tx + w.x0 * sx,
                    shearY: 0,
                    scaleY: sy,
                    translateY: ty + w.y0 * sy,
                  },
                  dimensions: { width: w.width, height: w.height },
                },
              }),
              { sink },
            );
          }
          out.bytes += n;
        }),
      ),
    );
  }
  out.seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  out.peakRss = Math.max(peakRss, process.memoryUsage.rss());
  console.log(JSON.stringify(out));
}

function runChild(args: Record<string, string>): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ["--import", "tsx", __filename, "--child", JSON.stringify(args)],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let text = "";
    proc.stdout.on("data", (c: Buffer) => {
      text += c.toString();
    });
    proc.on("error", reject);
    proc.on("close", (code) => {
      const line = text.trim().split("\n").pop() ?? "";
      if (code !== 0) reject(new Error(`phase ${args.phase} exited ${code}: ${text}`));
      else resolve(JSON.parse(line) as PhaseResult);
    });
  });
}

async function main(): Promise<void> {
  const side = process.argv[2] ?? "0.18";
  const scale = process.argv[3] ?? "2";
  const server = process.argv[4] ?? "canned";
  const levels = (process.argv[5] ?? "1").split(",");
  const canned = await startCanned();
  let emu: Emulator | undefined;
  try {
    let url = canned.url;
    let project = "bench";
    let expression: CloudExpression = { result: "0", values: { "0": { constantValue: 0 } } };
    if (server === "emulator") {
      const { startEmulator } = require("../src/emulator/index") as {
        startEmulator(o: Record<string, unknown>): Promise<Emulator>;
      };
      emu = await startEmulator({ latencyMs: 0, msPerMegapixel: 0, seed: 1 });
      url = emu.url;
      project = emu.project;
      const ee = await initializeEe({ apiUrl: emu.url, project: emu.project });
      const aoi = bbox(-82.435, 8.3958, Number(side), "bench");
      const [first] = await findImages(
        { ee },
        { aoi, start: "2024-01-01", end: "2024-07-31", onWarning: () => {} },
      );
      expression = serializeExpression(snippetImage({ ee }, first.id, { aoi }));
    }
    const grid = planGrid(bbox(-82.435, 8.3958, Number(side), "bench"), { scale: Number(scale) });
    console.log(
      `grid ${grid.width}x${grid.height}, ${mb(grid.width * grid.height * 3).toFixed(0)} MB RGB, ${windowsFor(grid).length} windows, server ${server}`,
    );
    const base = {
      url,
      project,
      side,
      scale,
      expression: JSON.stringify(expression),
      plainUrl: canned.url,
    };
    const results: PhaseResult[] = [];
    for (const phase of ["plain", "fetch"]) results.push(await runChild({ ...base, phase }));
    for (const level of levels) {
      const r = await runChild({ ...base, phase: "download", level });
      results.push({ ...r, phase: `download (deflate ${level})` });
    }
    const plainRate = results[0].bytes / results[0].seconds;
    console.log("| phase | s | MB/s | vs plain | peak RSS MB | file MB |");
    console.log("|---|---|---|---|---|---|");
    for (const r of results) {
      const rate = r.bytes / r.seconds;
      console.log(
        `| ${r.phase} | ${r.seconds.toFixed(2)} | ${mb(rate).toFixed(0)} | ${(rate / plainRate).toFixed(2)} | ${mb(r.peakRss).toFixed(0)} | ${r.fileBytes ? mb(r.fileBytes).toFixed(1) : ""} |`,
      );
    }
  } finally {
    await emu?.stop();
    await canned.stop();
  }
}

const at = process.argv.indexOf("--child");
if (at >= 0) {
  child(JSON.parse(process.argv[at + 1]) as Record<string, string>).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
