/**
 * One large snippet, measured in a process of its own so that its peak RSS is the download's
 * and nothing else's. Run by large-snippet.ts against an emulator it started; prints one JSON
 * line (LargeSnippetMeasurement) on stdout.
 *
 *   node --import tsx bench/scenarios/large-snippet-child.ts \
 *     '{"size":4000,"dir":"/tmp/x","apiUrl":"http://127.0.0.1:40123","project":"p"}'
 */
import http from "node:http";
import { join } from "node:path";
import { downloadImage } from "../../src/download";
import { planGrid } from "../../src/download/grid";
import { planTiles, type RequestTile } from "../../src/download/tiles";
import { type Backend, projectUrl } from "../../src/ee/backend";
import { type Ee, initializeEe, serializeExpression } from "../../src/ee/client";
import { RequestLimiter } from "../../src/ee/limiter";
import { bbox } from "../../src/snippets/aoi";
import { snippetImage } from "../../src/snippets/snippet-image";
import type { CostModel } from "../ideal";
import { emulatorAt, measureWindow, workRequests } from "./common";
import { TUTORIAL_COLLECTION, tutorialJobs } from "./tutorial";

/** What the child needs of a session; built directly so it can share the parent's emulator. */
interface ChildSession {
  backend: Backend;
  ee: Ee;
  requests: RequestLimiter;
}

async function attach(apiUrl: string, project: string): Promise<ChildSession> {
  const ee = await initializeEe({ apiUrl, project });
  return {
    backend: { kind: "emulator", apiUrl, project, authorization: async () => undefined },
    ee,
    requests: new RequestLimiter({ maxInFlight: 40, maxPerSecond: 100 }),
  };
}

/** Zero latency and compute cost: the emulator's own rendering and the client are measured. */
export const LARGE_MODEL: CostModel = {
  latencyMs: 0,
  msPerMegapixel: 0,
  bandwidthMBps: Number.POSITIVE_INFINITY,
  maxConcurrent: 40,
  maxRequestsPerSecond: 100,
};

/** The tutorial's 2 m scale (Sentinel-2's 10 m bands upsampled). */
export const LARGE_SCALE = 2;

export interface LargeSnippetMeasurement {
  size: number;
  width: number;
  height: number;
  /** Pixel bytes of the image (w * h * 3 bands of uint8). */
  pixelBytes: number;
  /** The download writes a COG with overviews (the default). */
  fileBytes: number;
  overviews: number;
  /** The same download with cog: false (no overviews, streamed layout): what they cost. */
  plain: { wallMs: number; fileBytes: number; peakRssBytes: number };
  download: {
    wallMs: number;
    requests: number;
    peakRssBytes: number;
    baseRssBytes: number;
    emulatorCpuMs: number;
    clientCpuMs: number;
  };
  /** Means of the plain transfer run before and after the download. */
  transfer: {
    wallMs: number;
    wallMsRuns: number[];
    requests: number;
    bodyBytes: number;
    peakRssBytes: number;
    emulatorCpuMs: number;
    clientCpuMs: number;
  };
}

/** Samples RSS every 50 ms; the peak includes a sample at start and at stop. */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss);
  };
}

const agent = new http.Agent({ keepAlive: true });

/** POSTs one computePixels request and discards the reply as it arrives: the plain transfer. */
function drain(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    request.on("error", reject);
    request.on("response", (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on("error", reject);
      res.on("end", () => {
        if (res.statusCode !== 200) {
          reject(new Error(`computePixels answered HTTP ${res.statusCode} to the plain transfer.`));
        } else resolve(bytes);
      });
    });
    request.end(body);
  });
}

async function plainTransfer(
  session: ChildSession,
  expression: unknown,
  grid: ReturnType<typeof planGrid>,
  windows: RequestTile[],
): Promise<number> {
  const url = `${projectUrl(session.backend)}/image:computePixels`;
  const [scaleX, shearX, translateX, shearY, scaleY, translateY] = grid.transform;
  const sizes = await Promise.all(
    windows.map((w) =>
      session.requests.run(() =>
        drain(
          url,
          JSON.stringify({
            expression,
            fileFormat: "NPY",
            grid: {
              crsCode: grid.crsCode,
              affineTransform: {
                scaleX,
                shearX,
                translateX: translateX + w.x0 * scaleX,
                shearY,
                scaleY,
                translateY: translateY + w.y0 * scaleY,
              },
              dimensions: { width: w.width, height: w.height },
            },
          }),
        ),
      ),
    ),
  );
  return sizes.reduce((s, n) => s + n, 0);
}

export async function measureLargeSnippet(
  size: number,
  dir: string,
  apiUrl: string,
  project: string,
): Promise<LargeSnippetMeasurement> {
  const session = await attach(apiUrl, project);
  try {
    // A square AOI whose UTM grid at 2 m is about size x size px near the equator.
    const side = (size * LARGE_SCALE) / 110_600;
    const aoi = bbox(-82.435, 8.3958, side, `${size} px`);
    const [job] = await tutorialJobs(session, 1, aoi);
    const image = job.image;

    // Warm-up at a small size: JIT and sockets on both sides, not measured.
    const small = bbox(-82.435, 8.3958, 0.01, "warm-up");
    await downloadImage(
      session,
      snippetImage(session, job.id, { collection: TUTORIAL_COLLECTION, aoi: small }),
      join(dir, "w.tif"),
      {
        region: small,
        scale: 20,
        overwrite: true,
      },
    );
    // The same grid in the plain plan's windows (uint8 RGB at the 48 MiB limit, at least 4),
    // fetched and thrown away undecoded: what a client that only moves bytes would ask for.
    const grid = planGrid(aoi, { scale: LARGE_SCALE });
    const windows = planTiles(grid, { bandBytes: [1, 1, 1], minWindows: 4 });
    const expression = serializeExpression(image);
    const transfer = async () => {
      const stopRss = rssSampler();
      const stop = await measureWindow(emulatorAt(apiUrl));
      const bodyBytes = await plainTransfer(session, expression, grid, windows);
      return { measured: await stop(), peakRss: stopRss(), bodyBytes };
    };

    // Transfer, download, transfer: the baseline is the mean of the runs either side, so
    // neither path gains from running second (the emulator's caches and JIT warm up).
    const before = await transfer();
    global.gc?.();
    const baseRss = process.memoryUsage().rss;
    const stopRss = rssSampler();
    const stop = await measureWindow(emulatorAt(apiUrl));
    const result = await downloadImage(session, image, join(dir, `large-${size}.tif`), {
      region: aoi,
      scale: LARGE_SCALE,
      overwrite: true,
      allowLarge: true,
    });
    const downloaded = await stop();
    const downloadPeak = stopRss();
    const after = await transfer();
    global.gc?.();
    const stopPlainRss = rssSampler();
    const plainStop = await measureWindow(emulatorAt(apiUrl));
    const plain = await downloadImage(session, image, join(dir, `large-${size}-plain.tif`), {
      region: aoi,
      scale: LARGE_SCALE,
      overwrite: true,
      allowLarge: true,
      cog: false,
    });
    const plainMeasured = await plainStop();
    const plainPeak = stopPlainRss();
    const mean = (f: (t: typeof before) => number) => (f(before) + f(after)) / 2;

    return {
      size,
      width: result.width,
      height: result.height,
      pixelBytes: result.width * result.height * 3,
      fileBytes: result.bytes,
      overviews: result.overviews,
      plain: { wallMs: plainMeasured.wallMs, fileBytes: plain.bytes, peakRssBytes: plainPeak },
      download: {
        wallMs: downloaded.wallMs,
        requests: workRequests(downloaded.emulator),
        peakRssBytes: downloadPeak,
        baseRssBytes: baseRss,
        emulatorCpuMs: downloaded.emulator.cpuMs,
        clientCpuMs: downloaded.clientCpuMs,
      },
      transfer: {
        wallMs: mean((t) => t.measured.wallMs),
        wallMsRuns: [before.measured.wallMs, after.measured.wallMs],
        requests: workRequests(after.measured.emulator),
        bodyBytes: after.bodyBytes,
        peakRssBytes: Math.max(before.peakRss, after.peakRss),
        emulatorCpuMs: mean((t) => t.measured.emulator.cpuMs),
        clientCpuMs: mean((t) => t.measured.clientCpuMs),
      },
    };
  } finally {
    agent.destroy();
  }
}

if (require.main === module) {
  const args = JSON.parse(process.argv[2] ?? "{}") as {
    size?: number;
    dir?: string;
    apiUrl?: string;
    project?: string;
  };
  if (
    typeof args.size !== "number" ||
    typeof args.dir !== "string" ||
    typeof args.apiUrl !== "string" ||
    typeof args.project !== "string"
  ) {
    process.stderr.write(
      'usage: large-snippet-child.ts \'{"size": 4000, "dir": "/tmp/out", "apiUrl": "http://127.0.0.1:PORT", "project": "p"}\'\n',
    );
    process.exit(2);
  }
  measureLargeSnippet(args.size, args.dir, args.apiUrl, args.project).then(
    (measurement) => {
      process.stdout.write(`${JSON.stringify(measurement)}\n`);
      // The EE client and keep-alive sockets may hold the loop open; the answer is out.
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
      process.exitCode = 1;
    },
  );
}
