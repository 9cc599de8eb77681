/**
 * Scenario 4, unknown quota: the emulator allows 12 concurrent requests and the client is not
 * told. With the adaptive limiter (AIMD: grow while requests succeed, halve on a 429) the run
 * should come close to what a client that knew the quota could do, without hammering the
 * server with requests it will refuse.
 */
import { join } from "node:path";
import { downloadImage } from "../../src/download";
import { runConcurrent } from "../../src/run/run";
import { SNIPPET_BANDS } from "../../src/snippets/batch";
import { type CostModel, idealMakespanMs, requestMs } from "../ideal";
import {
  type BenchMode,
  countEndpoint,
  countStatus,
  log,
  measureWindow,
  round,
  type ScenarioResult,
  scratchDir,
  sessionEmulator,
  target,
  workRequests,
} from "./common";
import {
  emulatorSession,
  SMALL_SNIPPET_SCALE,
  TUTORIAL_AOI,
  tutorialJobs,
  tutorialModel,
} from "./tutorial";

const HIDDEN_QUOTA = 12;

export function unknownQuotaModel(mode: BenchMode): CostModel {
  return { ...tutorialModel(mode), maxConcurrent: HIDDEN_QUOTA };
}

export function unknownQuotaConfig(mode: BenchMode): { images: number } {
  if (mode === "smoke") return { images: 16 };
  if (mode === "quick") return { images: 144 };
  return { images: 480 };
}

export async function runUnknownQuotaScenario(mode: BenchMode): Promise<ScenarioResult> {
  const { images } = unknownQuotaConfig(mode);
  const model = unknownQuotaModel(mode);
  // The client keeps Earth Engine's documented ceiling (40) and learns the real one.
  const session = await emulatorSession(model, {
    maxInFlight: 40,
    maxPerSecond: 100,
    adaptive: true,
  });
  const out = scratchDir("quota");
  try {
    const jobs = await tutorialJobs(session, images);
    const download = (index: number) =>
      downloadImage(session, jobs[index].image, join(out.path, `${jobs[index].id}.tif`), {
        region: TUTORIAL_AOI,
        scale: SMALL_SNIPPET_SCALE,
        overwrite: true,
        bands: SNIPPET_BANDS,
      });
    const probe = await download(0);

    log(`unknown quota: ${images} snippets, adaptive limiter, hidden quota ${HIDDEN_QUOTA}`);
    const trace: { t: number; limit: number; inFlight: number }[] = [];
    const t0 = performance.now();
    const sampler = setInterval(() => {
      const stats = session.requests.stats();
      trace.push({
        t: (performance.now() - t0) / 1000,
        limit: stats.currentLimit,
        inFlight: stats.inFlight,
      });
    }, 50);
    const stop = await measureWindow(sessionEmulator(session));
    const report = await runConcurrent(
      jobs.map((_, i) => i),
      (i) => download(i),
      { limit: 40, progress: false },
    );
    const measured = await stop();
    clearInterval(sampler);
    if (report.failed > 0) {
      const first = report.items.find((item) => !item.ok);
      throw new Error(`unknown quota: ${report.failed} downloads failed: ${first?.error}`);
    }

    const serviceMs = requestMs(model, {
      width: probe.width,
      height: probe.height,
      bytes: probe.width * probe.height * 3,
    });
    const ideal = idealMakespanMs(images, serviceMs, {
      concurrency: 40,
      quota: HIDDEN_QUOTA,
      perSecond: model.maxRequestsPerSecond,
    });
    const efficiency = ideal / report.wallMs;
    // For the reader: the same bound for downloadImage's two requests per image.
    const ownPattern = idealMakespanMs(images, model.latencyMs + serviceMs, {
      concurrency: 40,
      quota: HIDDEN_QUOTA,
      perSecond: model.maxRequestsPerSecond / 2,
    });
    const throttled = countStatus(measured.emulator, 429);
    const pixelRequests = countEndpoint(measured.emulator, "computePixels");
    const share429 = throttled / Math.max(1, workRequests(measured.emulator));
    return {
      id: "unknownQuota",
      title: `Unknown quota: ${images} snippets, emulator quota ${HIDDEN_QUOTA} concurrent (client not told)`,
      model: { ...model, serviceMsPerRequest: round(serviceMs, 2), images },
      ratios: {
        efficiency: round(efficiency, 4),
        share429: round(share429, 4),
      },
      targets: [
        target(
          `efficiency at hidden quota ${HIDDEN_QUOTA} (ideal / measured)`,
          efficiency,
          ">=",
          0.9,
        ),
        target("share of requests answered 429", share429, "<", 0.05),
      ],
      rows: [
        {
          run: "adaptive limiter (max 40)",
          images,
          "wall ms": round(report.wallMs, 0),
          "ideal ms": round(ideal, 0),
          "efficiency (ideal/measured)": round(efficiency),
          "ideal ms, 2 requests/image": round(ownPattern, 0),
          "requests at emulator": workRequests(measured.emulator),
          computePixels: pixelRequests,
          "429s": throttled,
          "emulator max in flight": measured.emulator.maxInFlight,
          "final limit": session.requests.stats().currentLimit,
          "emulator CPU ms": round(measured.emulator.cpuMs, 0),
          "client CPU ms": round(measured.clientCpuMs, 0),
        },
      ],
      emulatorCpuMs: round(measured.emulator.cpuMs, 0),
      clientCpuMs: round(measured.clientCpuMs, 0),
      wallMs: round(measured.wallMs, 0),
      figures: [
        {
          title: "Adaptive limiter",
          data: [
            {
              type: "scatter",
              mode: "lines",
              name: "limit",
              x: trace.map((p) => p.t),
              y: trace.map((p) => p.limit),
              line: { shape: "hv" },
            },
            {
              type: "scatter",
              mode: "lines",
              name: "in flight",
              x: trace.map((p) => p.t),
              y: trace.map((p) => p.inFlight),
              line: { shape: "hv" },
            },
            {
              type: "scatter",
              mode: "lines",
              name: "hidden quota",
              x: [0, report.wallMs / 1000],
              y: [HIDDEN_QUOTA, HIDDEN_QUOTA],
              line: { dash: "dash", color: "#999" },
            },
          ],
          layout: {
            title: { text: `Adaptive limiter against a hidden quota of ${HIDDEN_QUOTA}` },
            xaxis: { title: { text: "seconds" } },
            yaxis: { title: { text: "requests" } },
          },
        },
      ],
      notes: [
        `Ideal: the makespan a client that knew the quota would get with one computePixels per image, max(ceil(N/12)*T, floor((N-1)/100)*1000 + T), N=${images}, T=${round(serviceMs, 1)} ms.`,
        "429 share counts every reply the emulator answered 429 over all requests it received in the run (retries included).",
      ],
    };
  } finally {
    out.remove();
    await session.close();
  }
}
