/**
 * Throughput of downloadImage against the emulator at zero modelled cost, compared with
 * fetching the very same computePixels windows and discarding them (the server's and HTTP's
 * share) and with a plain loopback HTTP transfer of the same byte count (Node's ceiling).
 * Peak RSS is sampled throughout, to show memory is bounded by requests in flight.
 *
 *   node --import tsx bench/download-throughput.ts [sideDegrees=0.18] [scale=2]
 */
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bbox } from "../src/aoi";
import { type Backend, projectUrl } from "../src/backend";
import { downloadImage, planGrid, planTiles, RequestLimiter } from "../src/download";
import { httpPost } from "../src/download/transport";
import { initializeEe, serializeExpression } from "../src/ee/client";
import { findImages } from "../src/search";
import { snippetImage } from "../src/snippet";

interface Emulator {
  url: string;
  project: string;
  stop(): Promise<void>;
}

const side = Number(process.argv[2] ?? 0.18);
const scale = Number(process.argv[3] ?? 2);

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);

const mb = (bytes: number) => bytes / 1e6;

async function main(): Promise<void> {
  const { startEmulator } = require("../src/emulator/index") as {
    startEmulator(o: Record<string, unknown>): Promise<Emulator>;
  };
  const emu = await startEmulator({ latencyMs: 0, msPerMegapixel: 0, seed: 1 });
  const dir = await mkdtemp(join(tmpdir(), "bench-download-"));
  try {
    const backend: Backend = {
      kind: "emulator",
      apiUrl: emu.url,
      project: emu.project,
      authorization: async () => undefined,
    };
    const ee = await initializeEe({ apiUrl: emu.url, project: emu.project });
    const aoi = bbox(-82.435, 8.3958, side, "bench");
    const [first] = await findImages(
      { ee },
      { aoi, start: "2024-01-01", end: "2024-07-31", onWarning: () => {} },
    );
    const image = snippetImage({ ee }, first.id, { aoi });
    const grid = planGrid(aoi, { scale });
    console.log(
      `grid ${grid.width}x${grid.height} ${grid.crsCode}, ${mb(grid.width * grid.height * 3).toFixed(0)} MB RGB`,
    );

    // The same windows fetched and thrown away: what the server and HTTP cost by themselves.
    const expression = serializeExpression(image);
    const windows = planTiles(grid, { bandBytes: [1, 1, 1], minWindows: 4 });
    const [sx, , tx, , sy, ty] = grid.transform;
    const limiter = new RequestLimiter();
    peakRss = process.memoryUsage.rss();
    let t0 = performance.now();
    let fetched = 0;
    await Promise.all(
      windows.map((w) =>
        limiter.run(async () => {
          const r = await httpPost(
            `${projectUrl(backend)}/image:computePixels`,
            JSON.stringify({
              expression,
              fileFormat: "NPY",
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
          );
          const n = r.body.length;
          fetched += n;
        }),
      ),
    );
    let s = (performance.now() - t0) / 1000;
    console.log(
      `same windows, fetch only: ${s.toFixed(2)} s, ${(mb(fetched) / s).toFixed(0)} MB/s, peak RSS ${mb(peakRss).toFixed(0)} MB`,
    );

    const rssBefore = process.memoryUsage.rss();
    peakRss = rssBefore;
    const requests = new RequestLimiter();
    const result = await downloadImage({ backend, requests }, image, join(dir, "bench.tif"), {
      region: aoi,
      scale,
      checksum: false,
    });
    const dlPeak = peakRss;
    const dlRate = mb(result.pixelBytes) / (result.ms / 1000);
    console.log(
      `downloadImage: ${(result.ms / 1000).toFixed(2)} s, ${dlRate.toFixed(0)} MB/s of pixels, ${result.tiles} windows, ${result.requests} requests, file ${mb(result.bytes).toFixed(1)} MB, peak RSS ${mb(dlPeak).toFixed(0)} MB (start ${mb(rssBefore).toFixed(0)} MB)`,
    );

    // Plain loopback HTTP of the same byte count, 40 requests in parallel.
    const chunk = Buffer.alloc(Math.ceil(fetched / windows.length), 1);
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-length": chunk.length });
      res.end(chunk);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    t0 = performance.now();
    let plain = 0;
    await Promise.all(
      windows.map(() =>
        limiter.run(async () => {
          const n = (await httpPost(url, "{}")).body.length;
          plain += n;
        }),
      ),
    );
    s = (performance.now() - t0) / 1000;
    server.close();
    console.log(
      `plain loopback HTTP, same bytes: ${s.toFixed(2)} s, ${(mb(plain) / s).toFixed(0)} MB/s`,
    );
  } finally {
    clearInterval(sampler);
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
