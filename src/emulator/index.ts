/**
 * The emulator's entry point: starts it as a child process (the official client's
 * synchronous mode would deadlock a server living in the same process) and hands back its
 * URL and controls. The one module outside src/emulator may import (see README.md here).
 *
 *     const emulator = await startEmulator({ latencyMs: 50 });
 *     // ee.initialize(emulator.url, emulator.url, ok, fail, null, emulator.project)
 *     console.log((await emulator.status()).stats.requests);
 *     await emulator.stop();
 *
 * For an emulator started elsewhere (a bench, a notebook given only the URL):
 * emulatorStatus(url) and resetEmulatorStats(url).
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { COST_FLAGS, type CostModel, type CostModelOverrides } from "./costs";
import { READY_PREFIX, RESET_STATS_PATH, STATUS_PATH } from "./protocol";
import type { AuthOptions, EmulatorStatus } from "./server";

export type { CostModel, FaultOptions } from "./costs";
export type { AuthOptions, EmulatorStats, EmulatorStatus } from "./server";

export interface EmulatorOptions extends CostModelOverrides {
  auth?: AuthOptions;
  /** Cloud project name used in REST paths; any valid id works with the emulator. */
  project?: string;
  /** Port on 127.0.0.1; default 0 (a free port). */
  port?: number;
  maxBodyBytes?: number;
  /** Threads rendering pixels in the emulator; default: 1 on <= 2 cores, else cores-1, at most 4. */
  renderThreads?: number;
  /** How long to wait for the child's ready line. */
  startupTimeoutMs?: number;
}

export interface RunningEmulator {
  /** REST root without trailing slash, e.g. "http://127.0.0.1:40123". */
  url: string;
  project: string;
  model: CostModel;
  stop(): Promise<void>;
  /** The cost model, request counts since the last reset, and render threads. */
  status(signal?: AbortSignal): Promise<EmulatorStatus>;
  /** Zeroes the request counts and CPU time (a benchmark calls it between scenarios). */
  resetStats(signal?: AbortSignal): Promise<EmulatorStatus>;
}

/** The emulator process did not start or did not report ready; the message has its stderr. */
export class EmulatorStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EmulatorStartError";
  }
}

/** The emulator's admin endpoint did not answer as the emulator would: wrong URL, or it stopped. */
export class EmulatorStatusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EmulatorStatusError";
  }
}

async function admin(
  url: string,
  method: "GET" | "POST",
  path: string,
  signal?: AbortSignal,
): Promise<EmulatorStatus> {
  const response = await fetch(`${url}${path}`, { method, signal });
  if (!response.ok)
    throw new EmulatorStatusError(
      `${method} ${url}${path} answered ${response.status}: is this the ee-snippets emulator, and is it running?`,
    );
  return (await response.json()) as EmulatorStatus;
}

/** The status of the emulator at `url` (its REST root, e.g. "http://127.0.0.1:40123"). */
export function emulatorStatus(url: string, signal?: AbortSignal): Promise<EmulatorStatus> {
  return admin(url, "GET", STATUS_PATH, signal);
}

/** Zeroes the request counts of the emulator at `url`; returns the status after the reset. */
export function resetEmulatorStats(url: string, signal?: AbortSignal): Promise<EmulatorStatus> {
  return admin(url, "POST", RESET_STATS_PATH, signal);
}

export const DEFAULT_EMULATOR_PROJECT = "ee-snippets-emulator";

const ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(__dirname, "cli.ts");

function cliArgs(options: EmulatorOptions): string[] {
  const args = ["--port", String(options.port ?? 0), "--exit-with-stdin"];
  for (const spec of COST_FLAGS) {
    const [head, tail] = spec.key.split(".");
    const source = (tail ? options.faults : options) as Record<string, unknown> | undefined;
    const value = source?.[tail ?? head];
    if (value === undefined) continue;
    args.push(spec.flag, String(typeof value === "boolean" ? Number(value) : value));
  }
  if (options.auth?.tokenTtlSeconds !== undefined)
    args.push("--token-ttl-seconds", String(options.auth.tokenTtlSeconds));
  if (options.maxBodyBytes !== undefined)
    args.push("--max-body-bytes", String(options.maxBodyBytes));
  if (options.renderThreads !== undefined)
    args.push("--render-threads", String(options.renderThreads));
  return args;
}

/** Secrets travel by environment, not argv, so they never show in process listings. */
function childEnv(options: EmulatorOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith("EMULATOR_")) env[key] = value;
  const auth = options.auth;
  if (auth?.accessTokens?.length) env.EMULATOR_ACCESS_TOKENS = auth.accessTokens.join(",");
  if (auth?.refreshToken) env.EMULATOR_REFRESH_TOKEN = auth.refreshToken;
  if (auth?.serviceAccountPublicKeyPem)
    env.EMULATOR_SERVICE_ACCOUNT_PUBLIC_KEY = auth.serviceAccountPublicKeyPem;
  return env;
}

export function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const project = options.project ?? DEFAULT_EMULATOR_PROJECT;
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...cliArgs(options)], {
    cwd: ROOT,
    env: childEnv(options),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  return new Promise<RunningEmulator>((resolve, reject) => {
    let stdout = "";
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(
        new EmulatorStartError(
          `The Earth Engine emulator did not start: ${reason}${stderr ? `\n--- emulator stderr ---\n${stderr.trim()}` : ""}`,
        ),
      );
    };
    const timer = setTimeout(
      () => fail(`no ready line within ${options.startupTimeoutMs ?? 30_000} ms`),
      options.startupTimeoutMs ?? 30_000,
    );
    child.once("error", (error) => fail(error.message));
    child.once("exit", (code, signal) =>
      fail(`the process exited (code ${code}, signal ${signal})`),
    );
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      if (settled) return;
      stdout += chunk;
      const line = stdout.split("\n").find((l) => l.startsWith(READY_PREFIX));
      if (!line) return;
      settled = true;
      clearTimeout(timer);
      const ready = JSON.parse(line.slice(READY_PREFIX.length)) as {
        url: string;
        model: CostModel;
      };
      // The child must not keep a finished notebook or test alive; it exits when our stdin pipe closes.
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr]) {
        (stream as unknown as { unref?: () => void } | null)?.unref?.();
      }
      resolve(running(child, exited, ready.url, project, ready.model));
    });
  });
}

function running(
  child: ChildProcess,
  exited: Promise<void>,
  url: string,
  project: string,
  model: CostModel,
): RunningEmulator {
  let stopping: Promise<void> | undefined;
  return {
    url,
    project,
    model,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        // Re-ref so the event loop waits for the exit we are awaiting.
        child.ref();
        child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), 5000);
        });
        const outcome = await Promise.race([exited.then(() => "exited" as const), timeout]);
        clearTimeout(timer);
        if (outcome === "timeout") {
          child.kill("SIGKILL");
          await exited;
        }
      })();
      return stopping;
    },
    status: (signal) => emulatorStatus(url, signal),
    resetStats: (signal) => resetEmulatorStats(url, signal),
  };
}
