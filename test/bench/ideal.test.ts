import assert from "node:assert/strict";
import { test } from "node:test";
import {
  idealMakespanMs,
  idealRequestRate,
  makespanBounds,
  requestMs,
  simulateMakespan,
} from "../../bench/ideal";

const model = {
  latencyMs: 300,
  msPerMegapixel: 50,
  bandwidthMBps: 100,
  maxConcurrent: 40,
  maxRequestsPerSecond: 100,
};
const none = { quota: Number.POSITIVE_INFINITY, perSecond: Number.POSITIVE_INFINITY };

test("a request costs latency + compute per megapixel + transfer", () => {
  // 1000 x 1000 px: 1 MP at 50 ms; 3 MB at 100 MB/s is 30 ms.
  assert.equal(requestMs(model, { width: 1000, height: 1000, bytes: 3e6 }), 300 + 50 + 30);
  // The emulator's bandwidth 0 means unlimited.
  assert.equal(requestMs({ ...model, bandwidthMBps: 0 }, { width: 0, height: 0, bytes: 1e9 }), 300);
});

test("sequential is N * T; concurrency packs waves of min(limit, quota)", () => {
  assert.equal(idealMakespanMs(24, 300, { concurrency: 1, ...none }), 24 * 300);
  assert.equal(idealMakespanMs(24, 300, { concurrency: 8, ...none }), 3 * 300);
  assert.equal(idealMakespanMs(25, 300, { concurrency: 8, ...none }), 4 * 300);
  assert.equal(idealMakespanMs(24, 300, { concurrency: 40, quota: 12, perSecond: 100 }), 600);
});

test("the sliding-second rate quota admits bursts of r, then one per freed slot", () => {
  // 24 requests at limit 40 and 100/s: all start at once.
  assert.equal(idealMakespanMs(24, 300, { concurrency: 40, quota: 40, perSecond: 100 }), 300);
  // 300 instant requests at 100/s: bursts at 0, 1000 and 2000 ms.
  assert.equal(idealMakespanMs(300, 1, { concurrency: 1000, quota: 1000, perSecond: 100 }), 2001);
  assert.equal(idealRequestRate(0, { concurrency: 40, quota: 40, perSecond: 100 }), 100);
  assert.equal(idealRequestRate(1000, { concurrency: 8, quota: 40, perSecond: 100 }), 8);
});

test("the ideal is never below either bound, and equals the larger when one never binds", () => {
  for (const n of [1, 5, 24, 97, 301]) {
    for (const t of [0, 1, 50, 303.5, 1000]) {
      for (const k of [1, 4, 12, 40]) {
        const limits = { concurrency: k, quota: 40, perSecond: 100 };
        const ideal = idealMakespanMs(n, t, limits);
        const bounds = makespanBounds(n, t, limits);
        assert.ok(
          ideal >= Math.max(bounds.concurrency, bounds.rate) - 1e-9,
          `n=${n} t=${t} k=${k}`,
        );
        if (n <= 100 || (k * 1000) / t <= 100) {
          assert.ok(
            Math.abs(ideal - Math.max(bounds.concurrency, bounds.rate)) < 1e-9,
            `n=${n} t=${t} k=${k}`,
          );
        }
      }
    }
  }
});

test("unequal requests: the greedy schedule fills the earliest free slot", () => {
  // Two slots: 100 and 300 start at 0; 200 takes the slot freed at 100, ends at 300.
  assert.equal(simulateMakespan([100, 300, 200], { concurrency: 2, ...none }), 300);
});
