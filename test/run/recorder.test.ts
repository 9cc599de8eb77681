import assert from "node:assert/strict";
import { test } from "node:test";
import pLimit from "p-limit";
import { RunRecorder } from "../../src/run/recorder";
import type { RunReport } from "../../src/run/run";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a plain for loop with await, timed item by item, reports a sequential run", async () => {
  const run = new RunRecorder<{ bytes: number }>({ mode: "sequential", progress: false });
  for (const id of ["a", "b", "c"]) {
    await run.time(id, async () => {
      await sleep(5);
      return { bytes: id.charCodeAt(0) };
    });
  }
  const report = await run.finish();
  assert.equal(report.mode, "sequential");
  assert.equal(report.limit, 1);
  assert.deepEqual(
    report.items.map((item) => [item.index, item.key, item.ok]),
    [
      [0, "a", true],
      [1, "b", true],
      [2, "c", true],
    ],
  );
  assert.equal(report.bytes, 97 + 98 + 99);
  for (let i = 1; i < report.items.length; i++) {
    assert.ok(report.items[i].startMs >= report.items[i - 1].endMs, "no overlap");
  }
  assert.ok(report.wallMs >= report.items[2].endMs);
});

test("p-limit and Promise.all, timed item by item, overlap up to the limit; failures are recorded, not thrown", async () => {
  const limit = pLimit(3);
  let active = 0;
  let peak = 0;
  const saved: RunReport<number>[] = [];
  const run = new RunRecorder<number>({
    mode: "concurrent",
    limit: 3,
    label: "x3",
    progress: false,
    onFinish: (report) => {
      saved.push(report);
    },
  });
  const ids = Array.from({ length: 10 }, (_, i) => i);
  const records = await Promise.all(
    ids.map((i) =>
      limit(() =>
        run.time(`img${i}`, async () => {
          active++;
          peak = Math.max(peak, active);
          await sleep(4 + (i % 3));
          active--;
          if (i === 4) throw new Error("boom img4");
          return i;
        }),
      ),
    ),
  );
  assert.equal(records[4].ok, false, "Promise.all resolves: time() records the failure");
  const report = await run.finish();
  assert.equal(peak, 3);
  assert.equal(report.mode, "concurrent");
  assert.equal(report.limit, 3);
  assert.equal(report.label, "x3");
  assert.equal(report.failed, 1);
  assert.equal(report.succeeded, 9);
  assert.equal(report.items[4].error, "boom img4");
  assert.equal(report.items[7].value, 7);
  assert.deepEqual(saved, [report], "onFinish gets the report once");
  assert.equal(await run.finish(), report, "finishing again returns the same report");
  const overlapping = report.items.some((a) =>
    report.items.some((b) => a !== b && a.startMs < b.endMs && b.startMs < a.endMs),
  );
  assert.ok(overlapping, "items overlap in time");
});

test("an aborted run records the items it did not start, and a finished run takes no more", async () => {
  const controller = new AbortController();
  const run = new RunRecorder({ mode: "sequential", signal: controller.signal, progress: false });
  await run.time("first", async (signal) => {
    assert.equal(signal.aborted, false);
    return 1;
  });
  controller.abort(new Error("stop"));
  let started = false;
  const item = await run.time("second", async () => {
    started = true;
    return 2;
  });
  assert.equal(started, false);
  assert.equal(item.error, "not started: stop");
  const report = await run.finish();
  assert.equal(report.aborted, true);
  assert.equal(report.failed, 1);
  await assert.rejects(
    run.time("third", async () => 3),
    /is finished: start a new RunRecorder/,
  );
});

test("RunRecorder refuses a limit that is not a whole number of at least 1", () => {
  assert.throws(
    () => new RunRecorder({ mode: "concurrent", limit: 0, stopOnInterrupt: false }),
    /whole-number limit of at least 1, got 0/,
  );
});
