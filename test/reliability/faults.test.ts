/**
 * Under every fault the emulator can inject, every snippet still completes and decodes to
 * exactly the pixels of a fault-free run (the emulator is deterministic). Retries per run are
 * printed as a diagnostic for the report.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Ee } from "../../src/ee/client";
import { bbox } from "../../src/snippets/aoi";
import { downloadSnippets, type SnippetResult } from "../../src/snippets/batch";
import type { ImageInfo } from "../../src/snippets/search";
import {
  assertSameRaster,
  CENTER,
  type EmulatorOptions,
  eeFor,
  firstScenes,
  pixelRequests,
  type Raster,
  type RequestLimiterOptions,
  type RunningEmulator,
  readRaster,
  sessionFor,
  startEmulator,
  strayFiles,
} from "./helpers";

/** Quick, so that faults, not the cost model, dominate the run time. */
const FAST: EmulatorOptions = { latencyMs: 2, msPerMegapixel: 0, bandwidthMBps: 0, seed: 1 };
const aoi = bbox(CENTER[0], CENTER[1], 0.09, "David");
// 10 m over 0.09 degrees is ~990x995 px: the engine plans 4 windows per image.
const SCALE = 10;

let base: string;
let clean: RunningEmulator;
let ee: Ee;
let images: ImageInfo[];
const expected = new Map<string, Raster>();

before(async () => {
  base = await mkdtemp(join(tmpdir(), "faults-test-"));
  clean = await startEmulator(FAST);
  ee = await eeFor(clean);
  const session = await sessionFor(clean, ee);
  images = await firstScenes(session, aoi, 3);
  assert.equal(images.length, 3, "the emulator should have scenes every 5 days");
  const outDir = join(base, "clean");
  const report = await downloadSnippets(session, images, {
    outDir,
    aoi,
    scale: SCALE,
    progress: false,
  });
  assert.equal(report.failed, 0, report.items.map((i) => i.error).join("; "));
  for (const item of report.items) {
    const result = item.value as SnippetResult;
    assert.equal(result.retries, 0, "the fault-free run needed retries");
    expected.set(result.id, await readRaster(result.path));
  }
});

after(async () => {
  await clean?.stop();
  await rm(base, { recursive: true, force: true });
});

interface Scenario {
  name: string;
  emulator: EmulatorOptions;
  limiter?: RequestLimiterOptions;
  requestTimeoutMs?: number;
  retries?: number;
  /** What proves the fault happened: retries, or splits for size refusals. */
  expect: "retries" | "splits";
}

const scenarios: Scenario[] = [
  {
    name: "429 storm: the server allows 2 in flight and 5/s, the client sends 16 at once",
    // Slow replies, so that requests overlap and the quotas bite.
    emulator: { ...FAST, latencyMs: 150, maxConcurrent: 2, maxRequestsPerSecond: 5 },
    limiter: { maxInFlight: 16, maxPerSecond: 1000 },
    retries: 12,
    expect: "retries",
  },
  {
    name: "20% of requests answer 5xx",
    emulator: { ...FAST, faults: { serverErrorRate: 0.2 } },
    expect: "retries",
  },
  {
    name: "20% of connections are reset",
    emulator: { ...FAST, faults: { resetRate: 0.2 } },
    expect: "retries",
  },
  {
    name: "20% of bodies are truncated",
    emulator: { ...FAST, faults: { truncateRate: 0.2 } },
    expect: "retries",
  },
  {
    name: "20% of replies stall past a short request timeout",
    emulator: { ...FAST, faults: { stallRate: 0.2, stallMs: 20_000 } },
    requestTimeoutMs: 1500,
    expect: "retries",
  },
  {
    name: "windows over 100k pixels get 'User memory limit exceeded' 400s",
    emulator: { ...FAST, faults: { memoryLimitPixels: 100_000 } },
    expect: "splits",
  },
  {
    name: "windows over 100k pixels get 'Computation timed out.' 400s",
    emulator: { ...FAST, faults: { computeTimeoutPixels: 100_000 } },
    expect: "splits",
  },
  {
    name: "everything at once, at lower rates",
    emulator: {
      ...FAST,
      maxConcurrent: 4,
      faults: {
        serverErrorRate: 0.05,
        resetRate: 0.05,
        truncateRate: 0.05,
        stallRate: 0.03,
        stallMs: 20_000,
        memoryLimitPixels: 150_000,
      },
    },
    limiter: { maxInFlight: 8 },
    requestTimeoutMs: 1500,
    retries: 12,
    expect: "retries",
  },
];

describe("downloads under injected faults", () => {
  for (const [index, scenario] of scenarios.entries()) {
    it(scenario.name, async (t) => {
      const faulty = await startEmulator({ ...scenario.emulator, seed: 100 + index });
      try {
        const session = await sessionFor(faulty, ee, scenario.limiter);
        const outDir = join(base, `faulty-${index}`);
        const report = await downloadSnippets(session, images, {
          outDir,
          aoi,
          scale: SCALE,
          progress: false,
          requestTimeoutMs: scenario.requestTimeoutMs,
          retries: scenario.retries ?? 8,
          limit: 3,
        });
        assert.equal(
          report.failed,
          0,
          `failures: ${report.items
            .map((i) => i.error)
            .filter(Boolean)
            .join("; ")}`,
        );
        const results = report.items.map((item) => item.value as SnippetResult);
        const retries = results.reduce((sum, r) => sum + r.retries, 0);
        const splits = results.reduce((sum, r) => sum + r.splits, 0);
        const requests = results.reduce((sum, r) => sum + r.requests, 0);
        t.diagnostic(
          `retries ${retries}, splits ${splits}, client requests ${requests}, server computePixels ${await pixelRequests(faulty)}`,
        );
        if (scenario.expect === "retries") assert.ok(retries > 0, "no fault was injected");
        else {
          assert.ok(splits > 0, "no window was split");
          // Deterministic refusals: a refused window is split at once, never sent again.
          assert.equal(retries, 0, "a window refused for its cost was retried unchanged");
        }
        for (const result of results) {
          assert.equal(result.skipped, false);
          const reference = expected.get(result.id);
          assert.ok(reference, `no fault-free raster for ${result.id}`);
          assertSameRaster(await readRaster(result.path), reference, result.id);
        }
        assert.deepEqual(await strayFiles(outDir), [], "temporary files left behind");
      } finally {
        await faulty.stop();
      }
    });
  }
});
