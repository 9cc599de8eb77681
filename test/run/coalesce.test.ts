import assert from "node:assert/strict";
import { test } from "node:test";
import { Coalescer } from "../../src/run/coalesce";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("callers share runs: a request waits for a run that began after it, never for one before", async () => {
  let state = 0;
  const snapshots: number[] = [];
  const saver = new Coalescer(async () => {
    const seen = state;
    await sleep(10);
    snapshots.push(seen);
  });
  state = 1;
  const first = saver.request();
  // While the first run is going, ten more changes each ask for a save.
  await sleep(2);
  const later = Array.from({ length: 10 }, () => {
    state++;
    const mine = state;
    return saver.request().then(() => mine);
  });
  await first;
  assert.deepEqual(snapshots, [1], "the first caller is served by the first run");
  const served = await Promise.all(later);
  assert.equal(snapshots.length, 2, `one shared run for the ten: ${snapshots}`);
  for (const mine of served)
    assert.ok(snapshots[1] >= mine, "every change is in the run that served it");
  assert.equal(saver.busy, false);
});

test("a failed run rejects the requests it covered; the next request runs again", async () => {
  let fail = true;
  let runs = 0;
  const job = new Coalescer(async () => {
    runs++;
    await sleep(1);
    if (fail) throw new Error("disk full");
  });
  const results = await Promise.allSettled([job.request(), job.request(), job.request()]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["rejected", "rejected", "rejected"],
  );
  assert.match(String((results[0] as PromiseRejectedResult).reason), /disk full/);
  assert.equal(runs, 1);
  fail = false;
  await job.request();
  assert.equal(runs, 2);
});
