/**
 * Scenario 2, request rate: many tiny snippets with no latency, so only the request-rate
 * quota (100/s) limits how fast they can go. Our direct computePixels path should run at the
 * quota; the client's getDownloadURL path is held to ~3/s by the client's own throttle.
 */
import { join } from "node:path";
import { downloadImage, planGrid } from "../../src/download";
import { serializeExpression } from "../../src/ee/client";
import { runConcurrent } from "../../src/run/run";
import { bbox } from "../../src/snippets/aoi";
import { SNIPPET_BANDS } from "../../src/snippets/batch";
import type { CostModel } from "../ideal";
import {
  type BenchMode,
  countEndpoint,
  countStatus,
  log,
  type Measured,
  measureWindow,
  round,
  type ScenarioResult,
  scratchDir,
  sessionEmulator,
  target,
  transportRequest,
  workRequests,
} from "./common";
import { emulatorSession, TUTORIAL_COLLECTION, tutorialDownload, tutorialJobs } from "./tutorial";

const QUOTA_PER_SECOND = 100;

/** Zero latency and compute: the rate quota is the only limit. */
export const RATE_MODEL: CostModel = {
  latencyMs: 0,
  msPerMegapixel: 0,
  bandwidthMBps: Number.POSITIVE_INFINITY,
  maxConcurrent: 40,
  maxRequestsPerSecond: QUOTA_PER_SECOND,
};

/** 8 x 8 px at 10 m: an 80 m box (degrees of latitude are ~110.6 km near the equator). */
const TINY_SCALE = 10;
const TINY_AOI = bbox(-82.435, 8.3958, (8 * TINY_SCALE) / 110_600, "8x8 px");

/** The emulator counts requests over a sliding second: each run starts with it empty. */
function quotaWindowPasses(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100));
}

export function requestRateConfig(mode: BenchMode): { direct: number; viaDownloadUrl: number } {
  if (mode === "smoke") return { direct: 20, viaDownloadUrl: 3 };
  if (mode === "quick") return { direct: 300, viaDownloadUrl: 15 };
  return { direct: 1000, viaDownloadUrl: 40 };
}

export async function runRequestRateScenario(mode: BenchMode): Promise<ScenarioResult> {
  const config = requestRateConfig(mode);
  const session = await emulatorSession(RATE_MODEL, {
    maxInFlight: 40,
    maxPerSecond: QUOTA_PER_SECOND,
  });
  const out = scratchDir("rate");
  try {
    const [job] = await tutorialJobs(session, 1, TINY_AOI);
    const items = Array.from({ length: config.direct }, (_, i) => i);
    const direct = (i: number) =>
      downloadImage(session, job.image, join(out.path, `tiny-${i}.tif`), {
        region: TINY_AOI,
        scale: TINY_SCALE,
        overwrite: true,
        bands: SNIPPET_BANDS,
      });
    const probe = await direct(-1);
    await quotaWindowPasses();

    log(`request rate: ${config.direct} direct computePixels downloads`);
    let stop = await measureWindow(sessionEmulator(session));
    const directReport = await runConcurrent(items, (i) => direct(i), {
      limit: 40,
      progress: false,
    });
    const directMeasured = await stop();

    log(`request rate: ${config.direct} bare computePixels requests (transport only)`);
    const expression = serializeExpression(job.image);
    const grid = planGrid(TINY_AOI, { scale: TINY_SCALE });
    await quotaWindowPasses();
    stop = await measureWindow(sessionEmulator(session));
    const transportReport = await runConcurrent(
      items,
      () => transportRequest(session, expression, grid),
      { limit: 40, progress: false },
    );
    const transportMeasured = await stop();

    await quotaWindowPasses();
    log(`request rate: ${config.viaDownloadUrl} downloads via getDownloadURL`);
    stop = await measureWindow(sessionEmulator(session));
    const viaUrlReport = await runConcurrent(
      items.slice(0, config.viaDownloadUrl),
      (i) => tutorialDownload(job.image, out.path, `url-${i}`, TINY_AOI, TINY_SCALE),
      { limit: 40, progress: false },
    );
    const viaUrlMeasured = await stop();

    for (const [label, report] of [
      ["direct", directReport],
      ["transport", transportReport],
      ["getDownloadURL", viaUrlReport],
    ] as const) {
      if (report.failed > 0) {
        const first = report.items.find((item) => !item.ok);
        throw new Error(`request rate, ${label}: ${report.failed} failed: ${first?.error}`);
      }
    }

    // Useful work is pixels: one computePixels (or getPixels) request per image.
    const directRate = (config.direct * 1000) / directReport.wallMs;
    const transportRate = (config.direct * 1000) / transportReport.wallMs;
    const viaUrlRate = (config.viaDownloadUrl * 1000) / viaUrlReport.wallMs;
    const ratioToQuota = directRate / QUOTA_PER_SECOND;
    const transportToQuota = transportRate / QUOTA_PER_SECOND;
    const ratioToUrl = directRate / viaUrlRate;
    const row = (label: string, n: number, wallMs: number, rate: number, m: Measured) => ({
      path: label,
      images: n,
      "wall ms": round(wallMs, 0),
      "images/s": round(rate, 2),
      "requests at emulator": workRequests(m.emulator),
      "requests/s at emulator": round((workRequests(m.emulator) * 1000) / wallMs, 1),
      computePixels: countEndpoint(m.emulator, "computePixels"),
      "429s": countStatus(m.emulator, 429),
      "emulator CPU ms": round(m.emulator.cpuMs, 0),
      "client CPU ms": round(m.clientCpuMs, 0),
    });
    return {
      id: "requestRate",
      title: `Request rate: ${probe.width}x${probe.height} px snippets, zero latency, quota ${QUOTA_PER_SECOND}/s`,
      model: { ...RATE_MODEL, collection: TUTORIAL_COLLECTION },
      ratios: {
        directRateVsQuota: round(ratioToQuota, 4),
        transportRateVsQuota: round(transportToQuota, 4),
        directVsDownloadUrl: round(ratioToUrl, 2),
      },
      targets: [
        target("downloadImage: images (computePixels) per s / quota", ratioToQuota, ">=", 0.95),
        target("bare computePixels requests per s / quota", transportToQuota, ">=", 0.95),
        target("downloadImage rate / getDownloadURL rate", ratioToUrl, ">=", 20),
      ],
      rows: [
        row(
          "downloadImage (direct computePixels)",
          config.direct,
          directReport.wallMs,
          directRate,
          directMeasured,
        ),
        row(
          "bare computePixels (transport only)",
          config.direct,
          transportReport.wallMs,
          transportRate,
          transportMeasured,
        ),
        row(
          "getDownloadURL + GET",
          config.viaDownloadUrl,
          viaUrlReport.wallMs,
          viaUrlRate,
          viaUrlMeasured,
        ),
      ],
      emulatorCpuMs: round(
        directMeasured.emulator.cpuMs +
          transportMeasured.emulator.cpuMs +
          viaUrlMeasured.emulator.cpuMs,
        0,
      ),
      clientCpuMs: round(
        directMeasured.clientCpuMs + transportMeasured.clientCpuMs + viaUrlMeasured.clientCpuMs,
        0,
      ),
      wallMs: round(directMeasured.wallMs + transportMeasured.wallMs + viaUrlMeasured.wallMs, 0),
      figures: [
        {
          title: "Request rate",
          data: [
            {
              type: "bar",
              x: ["downloadImage", "bare computePixels", "getDownloadURL", "quota"],
              y: [directRate, transportRate, viaUrlRate, QUOTA_PER_SECOND],
              marker: { color: ["#1f77b4", "#2ca02c", "#ff7f0e", "#999999"] },
            },
          ],
          layout: {
            title: { text: "Tiny snippets per second (zero latency, quota 100/s)" },
            yaxis: { title: { text: "images per second" } },
          },
        },
      ],
      notes: [
        "Rate = images completed / wall time of the run. An image needs one pixel request: computePixels on the direct paths, the getPixels GET on the getDownloadURL path (after its throttled thumbnails POST). Any other request (downloadImage's value:compute for band types, which the bands hint passed here avoids) counts against the same 100/s quota, so it shows as lost rate.",
      ],
    };
  } finally {
    out.remove();
    await session.close();
  }
}
