/**
 * What every scenario reports and the helpers they share: emulator status deltas (so each
 * figure carries the emulator's own CPU time and the HTTP statuses it answered), client CPU
 * time, and the target bookkeeping that marks each goal met or missed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutputGrid } from "../../src/download/grid";
import { projectUrl } from "../../src/ee/backend";
import { withRetries } from "../../src/ee/retry";
import type { Session } from "../../src/ee/session";
import { eeRequest } from "../../src/ee/transport";
import { type EmulatorStatus, emulatorStatus, resetEmulatorStats } from "../../src/emulator/index";
import type { CostModel } from "../ideal";

export type BenchMode = "smoke" | "quick" | "full";

export interface Target {
  /** What is compared, e.g. "efficiency at limit 8 (ideal / measured)". */
  name: string;
  value: number;
  threshold: number;
  comparator: ">=" | ">" | "<=" | "<";
  met: boolean;
}

/** One Plotly figure: traces and layout exactly as Plotly.newPlot takes them. */
export interface Figure {
  title: string;
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** The emulator's cost model and quotas in force (as the emulator reported them). */
  model: Record<string, unknown>;
  /** Every headline figure of the scenario, each a ratio against a same-run baseline or bound. */
  ratios: Record<string, number>;
  targets: Target[];
  /** Rows of the scenario's detail table (one per measured run). */
  rows: Record<string, string | number>[];
  /** Emulator process CPU time over the measured runs, ms. */
  emulatorCpuMs: number;
  /** This (client) process's CPU time over the measured runs, ms. */
  clientCpuMs: number;
  /** Wall time over the measured runs, ms. */
  wallMs: number;
  figures: Figure[];
  notes: string[];
}

export function target(
  name: string,
  value: number,
  comparator: Target["comparator"],
  threshold: number,
): Target {
  const compare = {
    ">=": (a: number, b: number) => a >= b,
    ">": (a: number, b: number) => a > b,
    "<=": (a: number, b: number) => a <= b,
    "<": (a: number, b: number) => a < b,
  }[comparator];
  const met = Number.isFinite(value) && compare(value, threshold);
  return { name, value, threshold, comparator, met };
}

/** The emulator's admin status (its own type: RunningEmulator.status() returns it). */
export type { EmulatorStatus } from "../../src/emulator/index";

/** What measureWindow needs of an emulator: a session's `emulator` (RunningEmulator) fits. */
export interface EmulatorHandle {
  url: string;
  status(): Promise<EmulatorStatus>;
}

/** The emulator a session started (RunningEmulator.status() is how its status is read). */
export function sessionEmulator(session: Session): EmulatorHandle {
  if (!session.emulator) {
    throw new Error('This scenario measures the emulator: connect with { backend: "emulator" }.');
  }
  return session.emulator;
}

/**
 * An emulator another process started (the large-snippet child only knows its URL, so it
 * has no RunningEmulator); everything else reads the status through session.emulator.
 */
export function emulatorAt(url: string): EmulatorHandle {
  return { url, status: () => emulatorStatus(url) };
}

/** What happened at the emulator and in this process between start() and the returned stop(). */
export interface Measured {
  wallMs: number;
  clientCpuMs: number;
  emulator: EmulatorStatus["stats"];
}

/**
 * Resets the emulator's counters (requests, statuses, CPU time), then returns a function
 * that reads them with the wall and client CPU time elapsed since.
 */
export async function measureWindow(emulator: EmulatorHandle): Promise<() => Promise<Measured>> {
  await resetEmulatorStats(emulator.url);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return async () => {
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const after = await emulator.status();
    return { wallMs, clientCpuMs: (cpu.user + cpu.system) / 1000, emulator: after.stats };
  };
}

/** Endpoints that do work and count against the quotas (not /algorithms or admin calls). */
const WORK_ENDPOINTS = ["compute", "computePixels", "thumbnails", "getPixels"];

/** Requests to work endpoints in a measured window (the status read itself excluded). */
export function workRequests(stats: EmulatorStatus["stats"]): number {
  return WORK_ENDPOINTS.reduce((n, name) => n + (stats.byEndpoint[name]?.requests ?? 0), 0);
}

/** Requests the emulator answered with `status` in a measured window. */
export function countStatus(stats: EmulatorStatus["stats"], status: number): number {
  return stats.byStatus[String(status)] ?? 0;
}

/** Requests to one endpoint class ("compute", "computePixels", "thumbnails", "getPixels"). */
export function countEndpoint(stats: EmulatorStatus["stats"], endpoint: string): number {
  return stats.byEndpoint[endpoint]?.requests ?? 0;
}

/** Reads a number from the emulator's reported model, falling back to what the bench asked. */
export function reportedCostModel(reported: Record<string, unknown>, asked: CostModel): CostModel {
  const pick = (key: keyof CostModel): number => {
    const value = reported[key];
    if (typeof value === "number") return value;
    // The emulator reports "no quota" as 0 or null; the model's Infinity means the same.
    if (value === null || value === 0) {
      return key === "latencyMs" || key === "msPerMegapixel" ? 0 : Number.POSITIVE_INFINITY;
    }
    return asked[key];
  };
  return {
    latencyMs: pick("latencyMs"),
    msPerMegapixel: pick("msPerMegapixel"),
    bandwidthMBps: pick("bandwidthMBps"),
    maxConcurrent: pick("maxConcurrent"),
    maxRequestsPerSecond: pick("maxRequestsPerSecond"),
  };
}

/** A scratch directory for output files, removed by the returned cleanup. */
export function scratchDir(label: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `ee-bench-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Logs progress to stderr so stdout stays the report (and the smoke test can parse it). */
export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/**
 * One computePixels request for a whole grid, through the session's limiter and the download
 * engine's retry policy (as downloadImage sends its requests), without the metadata round
 * trip, the NPY decoding or the file: the transport alone.
 */
export function transportRequest(session: Session, expression: unknown, grid: OutputGrid) {
  const [scaleX, shearX, translateX, shearY, scaleY, translateY] = grid.transform;
  const body = {
    expression,
    fileFormat: "NPY",
    grid: {
      crsCode: grid.crsCode,
      affineTransform: { scaleX, shearX, translateX, shearY, scaleY, translateY },
      dimensions: { width: grid.width, height: grid.height },
    },
  };
  const url = `${projectUrl(session.backend)}/image:computePixels`;
  return withRetries(() =>
    session.requests.run(async () => ({
      bytes: (await eeRequest(session.backend, url, body)).byteLength,
    })),
  );
}
