/**
 * A few worker threads that render and encode pixel jobs, so the server's event loop keeps
 * accepting, timestamping and answering requests while pixels are computed. Without it the
 * emulator's own CPU time serializes concurrent requests and becomes what a benchmark
 * measures, instead of the cost model.
 *
 *     const pool = new RenderPool({ threads: 2 });
 *     const { bytes, contentType } = await pool.run(job);
 *     await pool.close();
 */
import { availableParallelism, cpus } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { EeApiError, type EeStatus, EmulatorInputError } from "./errors";
import {
  type JobMessage,
  type PixelJob,
  type PixelResult,
  RENDER_WORKER_ROLE,
  type ResultMessage,
  type SerializedError,
} from "./render-worker";

export interface RenderPoolOptions {
  /** Worker threads; each renders one job at a time. */
  threads: number;
  /** The worker module; tests substitute their own. Default: render-worker.ts beside this file. */
  entry?: string;
}

export interface RenderPoolStats {
  threads: number;
  /** Jobs being rendered now. */
  busy: number;
  /** Jobs waiting for a free thread. */
  queued: number;
  /** Jobs finished (rendered or failed) since the pool started. */
  jobs: number;
  /** Workers that died mid-job or at startup and were replaced. */
  crashes: number;
}

/** Above this the threads only compete with each other and with the client for cores. */
export const MAX_DEFAULT_RENDER_THREADS = 4;
/** A sanity bound for explicit settings: each thread holds a whole image's bands in memory. */
export const MAX_RENDER_THREADS = 64;

/**
 * One thread on machines with two cores or fewer (the client measuring us needs the other),
 * else one fewer than the cores, at most MAX_DEFAULT_RENDER_THREADS.
 */
export function defaultRenderThreads(cores: number = coreCount()): number {
  if (cores <= 2) return 1;
  return Math.min(MAX_DEFAULT_RENDER_THREADS, cores - 1);
}

function coreCount(): number {
  return typeof availableParallelism === "function" ? availableParallelism() : cpus().length;
}

export class RenderThreadsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderThreadsError";
  }
}

/** Checks an explicit thread count (flag or env) and says what is allowed. */
export function checkRenderThreads(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_RENDER_THREADS) {
    throw new RenderThreadsError(
      `${name} must be an integer from 1 to ${MAX_RENDER_THREADS}, got ${value}.`,
    );
  }
  return value;
}

/** The pool was closed while the job waited or ran (the server is shutting down). */
export class RenderPoolClosedError extends Error {
  constructor() {
    super("The emulator is shutting down: the render pool is closed.");
    this.name = "RenderPoolClosedError";
  }
}

interface Task {
  id: number;
  job: PixelJob;
  resolve(result: PixelResult): void;
  reject(error: Error): void;
}

interface Slot {
  worker?: Worker;
  current?: Task;
  /** The uncaught error a dying worker reported, for the crash message. */
  lastError?: Error;
}

const DEFAULT_ENTRY = path.join(__dirname, "render-worker.ts");

export class RenderPool {
  readonly threads: number;
  private readonly entry: string;
  private readonly slots: Slot[];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private jobs = 0;
  private crashes = 0;
  private closed = false;

  constructor(options: RenderPoolOptions) {
    this.threads = checkRenderThreads("threads", options.threads);
    this.entry = options.entry ?? DEFAULT_ENTRY;
    this.slots = Array.from({ length: this.threads }, () => ({}));
  }

  /** Starts every thread now, so the first requests do not wait for module loading. */
  warm(): void {
    if (this.closed) return;
    for (const slot of this.slots) if (!slot.worker) this.spawn(slot);
  }

  /** Renders a job on a free thread (FIFO when all are busy); rejects with the job's own error. */
  run(job: PixelJob): Promise<PixelResult> {
    if (this.closed) return Promise.reject(new RenderPoolClosedError());
    return new Promise<PixelResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.dispatch();
    });
  }

  stats(): RenderPoolStats {
    return {
      threads: this.threads,
      busy: this.slots.filter((slot) => slot.current).length,
      queued: this.queue.length,
      jobs: this.jobs,
      crashes: this.crashes,
    };
  }

  /** Fails waiting and running jobs and stops every thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new RenderPoolClosedError());
    const stopping: Promise<number>[] = [];
    for (const slot of this.slots) {
      slot.current?.reject(new RenderPoolClosedError());
      slot.current = undefined;
      if (slot.worker) stopping.push(slot.worker.terminate());
      slot.worker = undefined;
    }
    await Promise.all(stopping);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.current) continue;
      const task = this.queue.shift() as Task;
      const worker = slot.worker ?? this.spawn(slot);
      slot.current = task;
      // Only a thread with work may keep the process alive; idle ones must not block exit.
      worker.ref();
      const message: JobMessage = { id: task.id, job: task.job };
      worker.postMessage(message);
    }
  }

  private spawn(slot: Slot): Worker {
    const worker = new Worker(this.entry, {
      // The sources are TypeScript: tsx's CommonJS hook compiles them in the thread too.
      // Resolved here, so the worker finds tsx whatever the process's working directory.
      execArgv: ["--require", require.resolve("tsx/cjs")],
      workerData: { role: RENDER_WORKER_ROLE },
    });
    worker.unref();
    slot.worker = worker;
    slot.lastError = undefined;
    worker.on("message", (message: ResultMessage) => this.finish(slot, worker, message));
    worker.on("error", (error: Error) => {
      slot.lastError = error;
    });
    worker.on("exit", (code) => this.replace(slot, worker, code));
    return worker;
  }

  private finish(slot: Slot, worker: Worker, message: ResultMessage): void {
    const task = slot.current;
    if (slot.worker !== worker || !task || task.id !== message.id) return;
    slot.current = undefined;
    worker.unref();
    this.jobs++;
    if (message.kind === "bytes") {
      task.resolve({
        bytes: new Uint8Array(message.buffer),
        contentType: message.contentType,
        pixels: message.pixels,
      });
    } else {
      task.reject(rebuildError(message.error));
    }
    this.dispatch();
  }

  /** A dead worker costs its current job (answered 500) and is replaced when work arrives. */
  private replace(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker || this.closed) return;
    slot.worker = undefined;
    this.crashes++;
    const task = slot.current;
    slot.current = undefined;
    if (task) {
      this.jobs++;
      const reason = slot.lastError ? slot.lastError.message : `exit code ${code}`;
      task.reject(
        new EeApiError(
          500,
          "INTERNAL",
          `Emulator internal error: the render thread died while computing this request (${reason}); retry it.`,
        ),
      );
    }
    this.dispatch();
  }
}

/** The worker's error as the main thread would have thrown it, so the HTTP answer is the same. */
function rebuildError(serialized: SerializedError): Error {
  if (serialized.httpStatus !== undefined && serialized.status !== undefined) {
    return new EeApiError(serialized.httpStatus, serialized.status as EeStatus, serialized.message);
  }
  const error = serialized.input
    ? new EmulatorInputError(serialized.message)
    : new Error(serialized.message);
  error.name = serialized.name;
  return error;
}
