/**
 * The emulator's cost model: what a request costs in time (latency, compute per megapixel,
 * bandwidth), which quotas refuse it (concurrency, requests per second) and which faults
 * strike it (5xx, resets, truncated bodies, stalls), so offline timings and retry logic mean
 * something. Faults come from a seeded PRNG: the same seed and request order give the same
 * faults.
 */
import { seededRandom } from "./random";

export interface FaultOptions {
  /** Fraction of requests answered 500/503. */
  serverErrorRate: number;
  /** Fraction of requests whose connection is destroyed before any byte is sent. */
  resetRate: number;
  /** Fraction of responses cut short after promising their full Content-Length. */
  truncateRate: number;
  /** Fraction of requests that stall for stallMs before being answered. */
  stallRate: number;
  stallMs: number;
  /** computePixels/getPixels above this many output pixels fail with "User memory limit exceeded." (0: off). */
  memoryLimitPixels: number;
  /**
   * computePixels/getPixels above this many output pixels fail with 400 "Computation timed
   * out." (0: off): Earth Engine's deterministic deadline, which a smaller window passes.
   */
  computeTimeoutPixels: number;
  /** Apply faults to /algorithms and admin endpoints too (off: initialize always works). */
  includeMetadata: boolean;
}

export interface CostModel {
  /** Fixed time per request before the answer starts, like Earth Engine's round trip. */
  latencyMs: number;
  /** Compute time per megapixel of output (computePixels, getPixels). */
  msPerMegapixel: number;
  /** Body write speed; 0 means unlimited. */
  bandwidthMBps: number;
  /** Requests in flight beyond this get 429 (Earth Engine: 40 per project). */
  maxConcurrent: number;
  /** Requests per sliding second beyond this get 429 (Earth Engine: 100 per project). */
  maxRequestsPerSecond: number;
  faults: FaultOptions;
  seed: number;
}

export const DEFAULT_FAULTS: FaultOptions = {
  serverErrorRate: 0,
  resetRate: 0,
  truncateRate: 0,
  stallRate: 0,
  stallMs: 5000,
  memoryLimitPixels: 0,
  computeTimeoutPixels: 0,
  includeMetadata: false,
};

/**
 * On the fast side of what Earth Engine's computePixels takes (hundreds of ms to seconds per
 * request), so a default notebook run stays quick. The compute charge is set above the
 * emulator's own render cost (~80-150 ms per megapixel of visualized RGB on one core) so that
 * its real CPU time hides inside the modelled time and timings measure the client.
 */
export const DEFAULT_COST_MODEL: CostModel = {
  latencyMs: 300,
  msPerMegapixel: 200,
  bandwidthMBps: 200,
  maxConcurrent: 40,
  maxRequestsPerSecond: 100,
  faults: DEFAULT_FAULTS,
  seed: 1,
};

export class CostModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CostModelError";
  }
}

/** Flag name, env var, and where the value goes; the single source for CLI, env and docs. */
export const COST_FLAGS: { flag: string; env: string; key: string; help: string }[] = [
  {
    flag: "--latency-ms",
    env: "EMULATOR_LATENCY_MS",
    key: "latencyMs",
    help: "fixed delay per request (ms)",
  },
  {
    flag: "--ms-per-megapixel",
    env: "EMULATOR_MS_PER_MEGAPIXEL",
    key: "msPerMegapixel",
    help: "compute time per output megapixel",
  },
  {
    flag: "--bandwidth-mbps",
    env: "EMULATOR_BANDWIDTH_MBPS",
    key: "bandwidthMBps",
    help: "response body speed in MB/s (0: unlimited)",
  },
  {
    flag: "--max-concurrent",
    env: "EMULATOR_MAX_CONCURRENT",
    key: "maxConcurrent",
    help: "requests in flight before 429",
  },
  {
    flag: "--max-requests-per-second",
    env: "EMULATOR_MAX_REQUESTS_PER_SECOND",
    key: "maxRequestsPerSecond",
    help: "requests per sliding second before 429",
  },
  { flag: "--seed", env: "EMULATOR_SEED", key: "seed", help: "fault PRNG seed" },
  {
    flag: "--server-error-rate",
    env: "EMULATOR_SERVER_ERROR_RATE",
    key: "faults.serverErrorRate",
    help: "fraction answered 500/503",
  },
  {
    flag: "--reset-rate",
    env: "EMULATOR_RESET_RATE",
    key: "faults.resetRate",
    help: "fraction of connections reset",
  },
  {
    flag: "--truncate-rate",
    env: "EMULATOR_TRUNCATE_RATE",
    key: "faults.truncateRate",
    help: "fraction of bodies cut short",
  },
  {
    flag: "--stall-rate",
    env: "EMULATOR_STALL_RATE",
    key: "faults.stallRate",
    help: "fraction of requests that stall",
  },
  {
    flag: "--stall-ms",
    env: "EMULATOR_STALL_MS",
    key: "faults.stallMs",
    help: "stall duration (ms)",
  },
  {
    flag: "--memory-limit-pixels",
    env: "EMULATOR_MEMORY_LIMIT_PIXELS",
    key: "faults.memoryLimitPixels",
    help: "pixels per request before 'User memory limit exceeded.' (0: off)",
  },
  {
    flag: "--compute-timeout-pixels",
    env: "EMULATOR_COMPUTE_TIMEOUT_PIXELS",
    key: "faults.computeTimeoutPixels",
    help: "pixels per request before 'Computation timed out.' (0: off)",
  },
  {
    flag: "--faults-on-metadata",
    env: "EMULATOR_FAULTS_ON_METADATA",
    key: "faults.includeMetadata",
    help: "also fault /algorithms and admin endpoints (0/1)",
  },
];

export type CostModelOverrides = Partial<Omit<CostModel, "faults">> & {
  faults?: Partial<FaultOptions>;
};

/** Merges overrides into the defaults and checks every number is sensible. */
export function resolveCostModel(overrides: CostModelOverrides = {}): CostModel {
  const model: CostModel = {
    ...DEFAULT_COST_MODEL,
    ...stripUndefined(overrides),
    faults: { ...DEFAULT_FAULTS, ...stripUndefined(overrides.faults ?? {}) },
  };
  const nonNegative: [string, number][] = [
    ["latencyMs", model.latencyMs],
    ["msPerMegapixel", model.msPerMegapixel],
    ["bandwidthMBps", model.bandwidthMBps],
    ["faults.stallMs", model.faults.stallMs],
    ["faults.memoryLimitPixels", model.faults.memoryLimitPixels],
    ["faults.computeTimeoutPixels", model.faults.computeTimeoutPixels],
  ];
  for (const [name, value] of nonNegative) {
    if (!Number.isFinite(value) || value < 0)
      throw new CostModelError(`${name} must be a number >= 0, got ${value}.`);
  }
  for (const [name, value] of [
    ["maxConcurrent", model.maxConcurrent],
    ["maxRequestsPerSecond", model.maxRequestsPerSecond],
  ] as [string, number][]) {
    if (!Number.isInteger(value) || value < 1)
      throw new CostModelError(`${name} must be an integer >= 1, got ${value}.`);
  }
  for (const key of ["serverErrorRate", "resetRate", "truncateRate", "stallRate"] as const) {
    const rate = model.faults[key];
    if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new CostModelError(`faults.${key} must be between 0 and 1, got ${rate}.`);
    }
  }
  if (!Number.isInteger(model.seed))
    throw new CostModelError(`seed must be an integer, got ${model.seed}.`);
  return model;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Overrides from EMULATOR_* environment variables. */
export function costOverridesFromEnv(env: NodeJS.ProcessEnv): CostModelOverrides {
  const out: CostModelOverrides = {};
  for (const spec of COST_FLAGS) {
    const raw = env[spec.env];
    if (raw !== undefined && raw !== "") setPath(out, spec.key, parseNumber(spec.env, raw));
  }
  return out;
}

export function parseNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value))
    throw new CostModelError(`${name} expects a number, got "${raw}".`);
  return value;
}

export function setPath(target: CostModelOverrides, key: string, value: number): void {
  if (key.startsWith("faults.")) {
    const faultKey = key.slice(7) as keyof FaultOptions;
    target.faults = {
      ...target.faults,
      [faultKey]: faultKey === "includeMetadata" ? value !== 0 : value,
    };
  } else {
    (target as Record<string, unknown>)[key] = value;
  }
}

/** One line per setting, for the CLI banner. */
export function describeCostModel(model: CostModel): string {
  const f = model.faults;
  return [
    `latency ${model.latencyMs} ms/request, ${model.msPerMegapixel} ms/megapixel, bandwidth ${model.bandwidthMBps === 0 ? "unlimited" : `${model.bandwidthMBps} MB/s`}`,
    `quotas: ${model.maxConcurrent} concurrent requests, ${model.maxRequestsPerSecond} requests/s (429 beyond)`,
    `faults (seed ${model.seed}): 5xx ${f.serverErrorRate}, resets ${f.resetRate}, truncated ${f.truncateRate}, stalls ${f.stallRate} x ${f.stallMs} ms, memory limit ${f.memoryLimitPixels === 0 ? "off" : `${f.memoryLimitPixels} px`}, compute timeout ${f.computeTimeoutPixels === 0 ? "off" : `${f.computeTimeoutPixels} px`}`,
  ].join("\n");
}

export type Fault =
  | { kind: "none" }
  | { kind: "serverError"; status: 500 | 503 }
  | { kind: "reset" }
  | { kind: "truncate" }
  | { kind: "stall"; ms: number };

/** Draws at most one fault per request, in a fixed order so rates add up predictably. */
export class FaultInjector {
  private readonly random: () => number;

  constructor(
    private readonly faults: FaultOptions,
    seed: number,
  ) {
    this.random = seededRandom(seed);
  }

  next(): Fault {
    const f = this.faults;
    // Draw every time, even with zero rates, so changing one rate does not reshuffle others.
    const roll = this.random();
    const which = this.random();
    let edge = f.serverErrorRate;
    if (roll < edge) return { kind: "serverError", status: which < 0.5 ? 500 : 503 };
    edge += f.resetRate;
    if (roll < edge) return { kind: "reset" };
    edge += f.truncateRate;
    if (roll < edge) return { kind: "truncate" };
    edge += f.stallRate;
    if (roll < edge) return { kind: "stall", ms: f.stallMs };
    return { kind: "none" };
  }
}

/** Requests admitted in the last second, for the requests-per-second quota. */
export class SlidingWindow {
  private readonly times: number[] = [];

  constructor(private readonly windowMs = 1000) {}

  /** Records a request at `now` if under `limit`; false when the window is full. */
  tryAdmit(now: number, limit: number): boolean {
    while (this.times.length > 0 && this.times[0] <= now - this.windowMs) this.times.shift();
    if (this.times.length >= limit) return false;
    this.times.push(now);
    return true;
  }
}
