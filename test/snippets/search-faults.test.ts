/**
 * The search survives transient server failures the way pixel requests do: its value:compute
 * calls go through the session's limiter with backoff, fail with a clear error after the last
 * attempt, and stop at once when aborted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EarthEngineError, type Ee } from "../../src/ee/client";
import { bbox } from "../../src/snippets/aoi";
import { findImages, type ImageInfo } from "../../src/snippets/search";
import {
  CENTER,
  type EmulatorOptions,
  eeFor,
  endpointCount,
  type RunningEmulator,
  sessionFor,
  startEmulator,
} from "../reliability/helpers";

const FAST: EmulatorOptions = { latencyMs: 2, msPerMegapixel: 0, bandwidthMBps: 0 };
const aoi = bbox(CENTER[0], CENTER[1], 0.09, "David");
const search = { aoi, start: "2024-01-01", end: "2024-07-31", onWarning: () => undefined };

let clean: RunningEmulator;
let ee: Ee;
let expected: ImageInfo[];
before(async () => {
  clean = await startEmulator(FAST);
  ee = await eeFor(clean);
  expected = await findImages(await sessionFor(clean, ee), search);
  assert.ok(expected.length > 10, `${expected.length} images over David`);
});
after(async () => {
  await clean?.stop();
});

async function withFaulty<T>(
  serverErrorRate: number,
  fn: (emulator: RunningEmulator) => Promise<T>,
): Promise<T> {
  const emulator = await startEmulator({ ...FAST, seed: 7, faults: { serverErrorRate } });
  try {
    return await fn(emulator);
  } finally {
    await emulator.stop();
  }
}

describe("findImages under server errors", () => {
  it("finds the same images when 20% of requests answer 5xx", async () => {
    await withFaulty(0.2, async (faulty) => {
      // Several searches, so that some of their requests meet a 5xx.
      for (let i = 0; i < 8; i++) {
        const found = await findImages(await sessionFor(faulty, ee), {
          ...search,
          retries: 10,
        });
        assert.deepEqual(found, expected);
      }
      const computes = await endpointCount(faulty, "compute");
      assert.ok(computes > 8, `${computes} value:compute requests for 8 searches: none retried`);
    });
  });

  it("fails with a clear error after the last attempt when every request answers 5xx", async () => {
    await withFaulty(1, async (faulty) => {
      const session = await sessionFor(faulty, ee);
      await assert.rejects(findImages(session, { ...search, retries: 2 }), (error: unknown) => {
        assert.ok(error instanceof EarthEngineError, String(error));
        assert.match(error.message, /after 3 attempts/);
        assert.match(error.message, /HTTP 50[03]/);
        return true;
      });
      assert.equal(await endpointCount(faulty, "compute"), 3);
      assert.equal(session.requests.stats().started, 3, "every attempt went through the limiter");
    });
  });

  it("stops promptly when aborted during its backoff", async () => {
    await withFaulty(1, async (faulty) => {
      const controller = new AbortController();
      const started = performance.now();
      setTimeout(() => controller.abort(), 300);
      await assert.rejects(
        findImages(await sessionFor(faulty, ee), {
          ...search,
          retries: 20,
          signal: controller.signal,
        }),
        { name: "AbortError" },
      );
      const ms = performance.now() - started;
      assert.ok(ms < 1500, `took ${Math.round(ms)} ms to stop`);
    });
  });
});
