/**
 * Scenario 3, one large snippet: throughput of the whole download-and-write path (requests,
 * NPY decoding, tiled deflate GeoTIFF, rename) against a plain transfer of the same pixels
 * from the same emulator (the same grid in computePixels windows, bodies discarded unread),
 * and peak RSS at two sizes, each size in a fresh child process.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startEmulator } from "../../src/emulator/index";
import { type BenchMode, log, round, type ScenarioResult, scratchDir, target } from "./common";
import { LARGE_MODEL, LARGE_SCALE, type LargeSnippetMeasurement } from "./large-snippet-child";

const MB = 1e6;
/** Whatever the image size, the download must fit in this (the bound). */
const RSS_LIMIT_BYTES = 300 * 1024 * 1024;

export function largeSnippetSizes(mode: BenchMode): number[] {
  if (mode === "smoke") return [256, 512];
  // The emulator renders a few megapixels per second on one core, so sizes are what a run
  // can afford: quick stays under its two minutes, full includes the 20000 x 20000.
  if (mode === "quick") return [1500, 3000];
  return [5000, 20000];
}

function runChild(
  size: number,
  dir: string,
  emulator: { url: string; project: string },
): Promise<LargeSnippetMeasurement> {
  const script = join(__dirname, "large-snippet-child.ts");
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--expose-gc",
        script,
        JSON.stringify({ size, dir, apiUrl: emulator.url, project: emulator.project }),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0) {
        reject(new Error(`The large-snippet child (size ${size}) exited with code ${code}.`));
        return;
      }
      try {
        resolve(JSON.parse(line) as LargeSnippetMeasurement);
      } catch {
        reject(new Error(`The large-snippet child (size ${size}) printed no result: ${line}`));
      }
    });
  });
}

export async function runLargeSnippetScenario(mode: BenchMode): Promise<ScenarioResult> {
  const sizes = largeSnippetSizes(mode);
  const out = scratchDir("large");
  const emulator = await startEmulator({
    latencyMs: LARGE_MODEL.latencyMs,
    msPerMegapixel: LARGE_MODEL.msPerMegapixel,
    bandwidthMBps: 0, // unlimited
    maxConcurrent: LARGE_MODEL.maxConcurrent,
    maxRequestsPerSecond: LARGE_MODEL.maxRequestsPerSecond,
    seed: 1,
  });
  try {
    const measurements: LargeSnippetMeasurement[] = [];
    for (const size of sizes) {
      log(`large snippet: ${size} x ${size} px in a child process`);
      measurements.push(await runChild(size, out.path, emulator));
    }
    const ratios: Record<string, number> = {};
    const targets = [];
    const rows: Record<string, string | number>[] = [];
    for (const m of measurements) {
      const downloadMBps = m.pixelBytes / MB / (m.download.wallMs / 1000);
      const transferMBps = m.pixelBytes / MB / (m.transfer.wallMs / 1000);
      const ratio = downloadMBps / transferMBps;
      const rssMiB = m.download.peakRssBytes / 1024 / 1024;
      ratios[`throughputVsTransfer${m.size}`] = round(ratio, 4);
      ratios[`peakRssMiB${m.size}`] = round(rssMiB, 1);
      ratios[`cogWallVsPlain${m.size}`] = round(m.download.wallMs / m.plain.wallMs, 4);
      ratios[`cogBytesVsPlain${m.size}`] = round(m.fileBytes / m.plain.fileBytes, 4);
      ratios[`peakRssShareOfLimit${m.size}`] = round(m.download.peakRssBytes / RSS_LIMIT_BYTES, 4);
      targets.push(
        target(`${m.width}x${m.height}: download / plain transfer throughput`, ratio, ">=", 0.7),
        target(`${m.width}x${m.height}: peak RSS (MiB)`, rssMiB, "<=", 300),
      );
      rows.push({
        size: `${m.width}x${m.height}`,
        "pixel MB": round(m.pixelBytes / MB, 1),
        "file MB": round(m.fileBytes / MB, 1),
        overviews: m.overviews,
        "download s": round(m.download.wallMs / 1000, 2),
        "file MB (cog: false)": round(m.plain.fileBytes / MB, 1),
        "download s (cog: false)": round(m.plain.wallMs / 1000, 2),
        "peak RSS MiB (cog: false)": round(m.plain.peakRssBytes / 1024 / 1024, 1),
        "download MB/s": round(downloadMBps, 1),
        "transfer s": round(m.transfer.wallMs / 1000, 2),
        "transfer MB/s": round(transferMBps, 1),
        ratio: round(ratio, 3),
        "requests (download/transfer)": `${m.download.requests}/${m.transfer.requests}`,
        "RSS MiB before": round(m.download.baseRssBytes / 1024 / 1024, 1),
        "peak RSS MiB (download)": round(rssMiB, 1),
        "peak RSS MiB (transfer)": round(m.transfer.peakRssBytes / 1024 / 1024, 1),
        "emulator CPU ms (download/transfer)": `${round(m.download.emulatorCpuMs, 0)}/${round(m.transfer.emulatorCpuMs, 0)}`,
        "client CPU ms (download/transfer)": `${round(m.download.clientCpuMs, 0)}/${round(m.transfer.clientCpuMs, 0)}`,
      });
    }
    const labels = measurements.map((m) => `${m.width}x${m.height}`);
    return {
      id: "largeSnippet",
      title: `One large snippet at ${LARGE_SCALE} m: ${labels.join(" and ")} px RGB, zero latency`,
      model: { ...LARGE_MODEL, scale: LARGE_SCALE, sizes },
      ratios,
      targets,
      rows,
      emulatorCpuMs: round(
        measurements.reduce((s, m) => s + m.download.emulatorCpuMs + m.transfer.emulatorCpuMs, 0),
        0,
      ),
      clientCpuMs: round(
        measurements.reduce((s, m) => s + m.download.clientCpuMs + m.transfer.clientCpuMs, 0),
        0,
      ),
      wallMs: round(
        measurements.reduce((s, m) => s + m.download.wallMs + m.transfer.wallMs, 0),
        0,
      ),
      figures: [
        {
          title: "Large snippet throughput",
          data: [
            {
              type: "bar",
              name: "download and write (MB/s)",
              x: labels,
              y: measurements.map((m) => m.pixelBytes / MB / (m.download.wallMs / 1000)),
            },
            {
              type: "bar",
              name: "plain transfer (MB/s)",
              x: labels,
              y: measurements.map((m) => m.pixelBytes / MB / (m.transfer.wallMs / 1000)),
            },
            {
              type: "scatter",
              mode: "markers+lines",
              name: "peak RSS (MiB)",
              x: labels,
              y: measurements.map((m) => m.download.peakRssBytes / 1024 / 1024),
              yaxis: "y2",
            },
          ],
          layout: {
            title: { text: "Large snippet: throughput vs plain transfer, and peak RSS" },
            barmode: "group",
            yaxis: { title: { text: "MB/s of pixels" } },
            yaxis2: { title: { text: "peak RSS (MiB)" }, overlaying: "y", side: "right" },
          },
        },
      ],
      notes: [
        "Throughput counts pixel bytes (width x height x 3) per second on both sides. The plain transfer requests the same grid as computePixels NPY windows of the plain plan (planTiles at the 48 MiB request limit, at least 4 windows; downloadImage may choose smaller windows, see the request counts), through a limiter with the same settings, and discards the bodies as they arrive; it runs once before and once after the download and its time is the mean of the two.",
        "downloadImage's path includes its value:compute metadata round trip, NPY decoding, deflate-compressed tiled GeoTIFF writing with overviews (averaged) and the COG layout (the default; the copy into COG order at the end is timed), rename, and the SHA-256 of the file (on by default).",
        "The cog: false columns are the same download without overviews (streamed layout, IFDs after the tiles), run after the second transfer: the difference is what overviews and the COG layout cost.",
        "Each size runs in a fresh child process (the emulator is a third process, shared by both sizes); RSS is sampled every 50 ms during the download only.",
      ],
    };
  } finally {
    out.remove();
    await emulator.stop();
  }
}
