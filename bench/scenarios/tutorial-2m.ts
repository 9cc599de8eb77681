/**
 * Scenario 2, the tutorial at its own scale: the AOI at 2 m (about 5000 x 5000 px, several
 * computePixels windows per image), sequential against concurrent at limit 8, under the
 * emulator's default cost model (300 ms + 200 ms per output megapixel).
 *
 * At 2 m every pixel the emulator sends is one it computed, so its own CPU could set the
 * pace instead of the cost model: the speedup shows whether concurrency still buys what the
 * model says it should (issue 10, point 15).
 */
import { join } from "node:path";
import { downloadImage } from "../../src/download";
import { type RunReport, runConcurrent, runSequential } from "../../src/run/run";
import { SNIPPET_BANDS } from "../../src/snippets/batch";
import { type CostModel, requestMs, simulateMakespan } from "../ideal";
import {
  type BenchMode,
  countEndpoint,
  log,
  type Measured,
  measureWindow,
  reportedCostModel,
  round,
  type ScenarioResult,
  scratchDir,
  sessionEmulator,
  target,
} from "./common";
import { emulatorSession, TUTORIAL_AOI, tutorialJobs } from "./tutorial";

/** The emulator's defaults (src/emulator/costs.ts DEFAULT_COST_MODEL). */
export const DEFAULT_MODEL: CostModel = {
  latencyMs: 300,
  msPerMegapixel: 200,
  bandwidthMBps: 200,
  maxConcurrent: 40,
  maxRequestsPerSecond: 100,
};

export const FINE_SCALE = 2;
const LIMIT = 8;

/**
 * Images per run. Quick mode takes the first 8 of the tutorial's dates (one round at limit
 * 8 would flatter it, so 16 when full), smoke 2 (at 20 m, to stay quick).
 */
export function fineConfig(mode: BenchMode): { images: number; scale: number } {
  if (mode === "smoke") return { images: 2, scale: 20 };
  if (mode === "quick") return { images: 8, scale: FINE_SCALE };
  return { images: 37, scale: FINE_SCALE };
}

export async function runTutorial2mScenario(mode: BenchMode): Promise<ScenarioResult> {
  const config = fineConfig(mode);
  const session = await emulatorSession(DEFAULT_MODEL, { maxInFlight: 40, maxPerSecond: 100 });
  const out = scratchDir("tutorial-2m");
  try {
    const jobs = await tutorialJobs(session, config.images);
    const download = (index: number) =>
      downloadImage(session, jobs[index].image, join(out.path, `${jobs[index].id}.tif`), {
        region: TUTORIAL_AOI,
        scale: config.scale,
        overwrite: true,
        bands: SNIPPET_BANDS,
      });
    // Warm-up (not measured), and the image's shape for the ideal.
    const probe = await download(0);
    const measured = async (label: string, run: () => Promise<RunReport>) => {
      log(`tutorial at ${config.scale} m: ${label}`);
      const stop = await measureWindow(sessionEmulator(session));
      const report = await run();
      const m: Measured = await stop();
      if (report.failed > 0) {
        const first = report.items.find((item) => !item.ok);
        throw new Error(
          `tutorial ${config.scale} m ${label}: ${report.failed} failed: ${first?.error}`,
        );
      }
      return { label, report, measured: m };
    };
    const indices = jobs.map((_, i) => i);
    const sequential = await measured("sequential", () =>
      runSequential(indices, (i) => download(i), { progress: false }),
    );
    const concurrent = await measured(`concurrent x${LIMIT}`, () =>
      runConcurrent(indices, (i) => download(i), { limit: LIMIT, progress: false }),
    );

    const status = await sessionEmulator(session).status();
    const model = reportedCostModel({ ...status.model }, DEFAULT_MODEL);
    // The ideal: each image's windows (as planned for the probe: same AOI, same grid) as
    // equal requests of the probe's mean window, all of an image's windows in flight at
    // once, at most `limit` images at a time, within the server's quotas.
    const perImage = probe.tiles;
    const meanPixels = (probe.width * probe.height) / perImage;
    const serviceMs = requestMs(model, {
      width: Math.sqrt(meanPixels),
      height: Math.sqrt(meanPixels),
      bytes: meanPixels * 3,
    });
    const idealFor = (limit: number) =>
      simulateMakespan(new Array(jobs.length * perImage).fill(serviceMs), {
        concurrency: limit * perImage,
        quota: model.maxConcurrent,
        perSecond: model.maxRequestsPerSecond,
      });
    const rows = [sequential, concurrent].map((run, k) => {
      const limit = k === 0 ? 1 : LIMIT;
      const ideal = idealFor(limit);
      return {
        run: run.label,
        images: run.report.items.length,
        "scale m": config.scale,
        "image px": `${probe.width}x${probe.height}`,
        "windows per image": perImage,
        limit,
        "wall ms": round(run.report.wallMs, 0),
        "ideal ms": round(ideal, 0),
        "efficiency (ideal/measured)": round(ideal / run.report.wallMs),
        computePixels: countEndpoint(run.measured.emulator, "computePixels"),
        "emulator CPU ms": round(run.measured.emulator.cpuMs, 0),
        "modelled compute ms": round(
          countEndpoint(run.measured.emulator, "computePixels") * (serviceMs - model.latencyMs),
          0,
        ),
        "client CPU ms": round(run.measured.clientCpuMs, 0),
      };
    });
    const speedup = sequential.report.wallMs / concurrent.report.wallMs;
    const idealSpeedup = idealFor(1) / idealFor(LIMIT);
    const emulatorCpuMs = sequential.measured.emulator.cpuMs + concurrent.measured.emulator.cpuMs;
    return {
      id: "tutorial2m",
      title: `Tutorial at ${config.scale} m: ${jobs.length} images of ${probe.width}x${probe.height} px, sequential vs ${LIMIT} at once`,
      model: { ...model, serviceMsPerWindow: round(serviceMs, 1), windowsPerImage: perImage },
      ratios: {
        speedupAtLimit8: round(speedup, 3),
        idealSpeedupAtLimit8: round(idealSpeedup, 3),
        efficiencyAtLimit8: round(idealFor(LIMIT) / concurrent.report.wallMs, 4),
        sequentialEfficiency: round(idealFor(1) / sequential.report.wallMs, 4),
        emulatorCpuVsModelled: round(
          emulatorCpuMs /
            ((countEndpoint(sequential.measured.emulator, "computePixels") +
              countEndpoint(concurrent.measured.emulator, "computePixels")) *
              (serviceMs - model.latencyMs)),
          4,
        ),
      },
      targets: [target(`speedup at limit ${LIMIT} vs sequential`, speedup, ">=", 4)],
      rows,
      emulatorCpuMs: round(emulatorCpuMs, 0),
      clientCpuMs: round(sequential.measured.clientCpuMs + concurrent.measured.clientCpuMs, 0),
      wallMs: round(sequential.measured.wallMs + concurrent.measured.wallMs, 0),
      figures: [
        {
          title: `Tutorial at ${config.scale} m: makespan, measured and ideal`,
          data: [
            {
              type: "bar",
              name: "measured",
              x: rows.map((r) => r.run),
              y: rows.map((r) => r["wall ms"]),
            },
            {
              type: "bar",
              name: "ideal (cost model)",
              x: rows.map((r) => r.run),
              y: rows.map((r) => r["ideal ms"]),
            },
          ],
          layout: { barmode: "group", yaxis: { title: "ms" } },
        },
      ],
      notes: [
        `Images: the first ${jobs.length} the tutorial's search finds (David, Panama, 2024-01-01..2024-07-31), one warm-up download first.${mode === "quick" ? " Quick mode takes 8 of the 37; --full takes all." : ""}`,
        `Ideal (bench/ideal.ts simulateMakespan): ${perImage} windows per image of T=${round(serviceMs, 0)} ms each (latency + ${model.msPerMegapixel} ms/MP + transfer), an image's windows in flight together, ${LIMIT} images at a time, at most ${model.maxConcurrent} requests in flight and ${model.maxRequestsPerSecond}/s.`,
        `"emulator CPU ms" against "modelled compute ms" (the per-megapixel part of the model for the same requests): below 1 means the cost model, not the emulator's CPU, sets the pace.`,
      ],
    };
  } finally {
    out.remove();
    await session.close();
  }
}
