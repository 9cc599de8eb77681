/**
 * A minimal Earth Engine REST stand-in for download-engine tests: value:compute answers the
 * image's band list, computePixels answers NPY whose values are a pure function of the global
 * pixel position, so any window of any plan must reproduce the same pixels. Faults are
 * injected deterministically by request number.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { encodePixelsNpy } from "../../src/core/npy";
import type { Backend } from "../../src/ee/backend";

export interface FakeFaults {
  /** Every nth computePixels request fails with this (0 = never). */
  serverErrorEvery?: number;
  resetEvery?: number;
  truncateEvery?: number;
  throttleEvery?: number;
  stallEvery?: number;
  /** computePixels windows with more pixels than this get a "User memory limit exceeded" 400. */
  memoryLimitPixels?: number;
  /** Wait this long before answering each computePixels (lets tests abort mid-run). */
  delayMs?: number;
}

export interface FakeEe {
  backend: Backend;
  requests: { method: string; width?: number; height?: number }[];
  inFlight: number;
  maxInFlight: number;
  faults: FakeFaults;
  bands: string[];
  stop(): Promise<void>;
}

/** The expected value of band b at global pixel (gx, gy) of a grid anchored at the CRS origin. */
export function pixelValue(gx: number, gy: number, b: number): number {
  return (gx * 7 + gy * 13 + b * 50) & 255;
}

export async function startFakeEe(
  options: { bands?: string[]; faults?: FakeFaults } = {},
): Promise<FakeEe> {
  const bands = options.bands ?? ["vis-red", "vis-green", "vis-blue"];
  const sockets = new Set<Socket>();
  let pixelCalls = 0;
  const state: FakeEe = {
    backend: undefined as unknown as Backend,
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    faults: options.faults ?? {},
    bands,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      res.on("close", () => state.inFlight--);
      const body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
      const url = req.url ?? "";
      if (url.endsWith("/value:compute")) {
        state.requests.push({ method: "value:compute" });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            result: {
              type: "Image",
              bands: bands.map((id) => ({
                id,
                data_type: { type: "PixelType", precision: "int", min: 0, max: 255 },
                crs: "EPSG:32617",
                crs_transform: [10, 0, 0, 0, -10, 0],
              })),
            },
          }),
        );
        return;
      }
      if (!url.endsWith("/image:computePixels")) {
        res.writeHead(404).end();
        return;
      }
      const unknown = (body.bandIds as string[] | undefined)?.find((id) => !bands.includes(id));
      if (unknown !== undefined) {
        state.requests.push({ method: "computePixels" });
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: {
              code: 400,
              message: `Image.select: Pattern '${unknown}' did not match any bands.`,
            },
          }),
        );
        return;
      }
      const n = ++pixelCalls;
      const { affineTransform: t, dimensions } = body.grid;
      const { width, height } = dimensions;
      state.requests.push({ method: "computePixels", width, height });
      const f = state.faults;
      if (f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
      const every = (k?: number) => k !== undefined && k > 0 && n % k === 0;
      if (every(f.resetEvery)) {
        req.socket.destroy();
        return;
      }
      if (every(f.serverErrorEvery)) {
        res.writeHead(503, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: { code: 503, message: "The service is currently unavailable." },
          }),
        );
        return;
      }
      if (every(f.throttleEvery)) {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "0" });
        res.end(JSON.stringify({ error: { code: 429, message: "Too many concurrent requests." } }));
        return;
      }
      if (every(f.stallEvery)) return; // never answers: the client's timeout must fire
      if (f.memoryLimitPixels !== undefined && width * height > f.memoryLimitPixels) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: 400, message: "User memory limit exceeded." } }));
        return;
      }
      const gx0 = Math.round(t.translateX / t.scaleX);
      const gy0 = Math.round(t.translateY / t.scaleY);
      const samples = new Uint8Array(width * height * bands.length);
      let i = 0;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          for (let b = 0; b < bands.length; b++) samples[i++] = pixelValue(gx0 + x, gy0 + y, b);
        }
      }
      const npy = encodePixelsNpy(samples, { width, height, bands, type: "uint8" });
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": npy.length,
      });
      if (every(f.truncateEvery)) {
        res.write(npy.subarray(0, npy.length >> 1));
        setTimeout(() => req.socket.destroy(), 5);
        return;
      }
      res.end(npy);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  state.backend = {
    kind: "emulator",
    apiUrl: `http://127.0.0.1:${port}`,
    project: "test",
    authorization: async () => undefined,
  };
  return state;
}
