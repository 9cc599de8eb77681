import assert from "node:assert/strict";
import { test } from "node:test";
import { ProgressBar } from "../../src/display/progress";
import { runConcurrent, runSequential, type TaskContext } from "../../src/run/run";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("runSequential runs one item at a time and reports every item", async () => {
  let active = 0;
  let peak = 0;
  const report = await runSequential(
    ["a", "b", "c"],
    async (item) => {
      active++;
      peak = Math.max(peak, active);
      await sleep(5);
      active--;
      return { bytes: item.charCodeAt(0) };
    },
    { progress: false },
  );
  assert.equal(peak, 1);
  assert.equal(report.mode, "sequential");
  assert.equal(report.limit, 1);
  assert.deepEqual(
    report.items.map((item) => item.key),
    ["a", "b", "c"],
  );
  assert.equal(report.bytes, 97 + 98 + 99);
  for (let i = 1; i < report.items.length; i++) {
    assert.ok(
      report.items[i].startMs >= report.items[i - 1].endMs,
      "no overlap in a sequential run",
    );
  }
});

test("runConcurrent never exceeds its limit and keeps going after failures", async () => {
  let active = 0;
  let peak = 0;
  const items = Array.from({ length: 20 }, (_, i) => ({ id: `img${i}` }));
  const report = await runConcurrent(
    items,
    async (item, { index }) => {
      active++;
      peak = Math.max(peak, active);
      await sleep(3 + (index % 3));
      active--;
      if (index % 7 === 3) throw new Error(`boom ${item.id}`);
      return index;
    },
    { limit: 4, progress: false },
  );
  assert.equal(peak, 4);
  assert.equal(report.items.length, 20);
  assert.equal(report.failed, 3);
  assert.equal(report.succeeded, 17);
  assert.equal(report.items[3].error, "boom img3");
  assert.equal(report.items[5].value, 5);
  assert.ok(report.items.every((item) => item.endMs >= item.startMs));
});

test("runConcurrent rejects a limit that is not a positive whole number", () => {
  assert.throws(
    () => runConcurrent([1], async () => 1, { limit: 0 }),
    /whole-number limit of at least 1/,
  );
  assert.throws(() => runConcurrent([1], async () => 1, { limit: 2.5 }), /whole-number limit/);
});

test("an aborted run starts nothing new and says so per item", async () => {
  const controller = new AbortController();
  const report = await runSequential(
    [1, 2, 3],
    async (n) => {
      if (n === 1) controller.abort(new Error("stopped by user"));
      return n;
    },
    { signal: controller.signal, progress: false },
  );
  assert.equal(report.aborted, true);
  assert.equal(report.items[0].ok, true);
  assert.deepEqual(
    report.items.slice(1).map((item) => item.error),
    ["not started: stopped by user", "not started: stopped by user"],
  );
});

test("the progress bar throttles redraws in place and prints quarters in logs", () => {
  let clock = 0;
  const lines: string[] = [];
  const inPlace = new ProgressBar({
    label: "dl",
    total: 100,
    inPlace: true,
    intervalMs: 500,
    write: (t) => lines.push(t),
    now: () => clock,
  });
  for (let i = 0; i < 100; i++) {
    clock += 10;
    inPlace.tick({ bytes: 1e6 });
  }
  inPlace.done();
  assert.equal(
    lines.length,
    3,
    "1000 ms of ticks at a 500 ms throttle draw twice plus the final line",
  );
  assert.match(
    lines[lines.length - 1],
    /^\rdl \[#{24}\] 100\/100 100\.0 MB 100\.0 MB\/s 1\.0s *\n$/,
  );

  const logged: string[] = [];
  const log = new ProgressBar({
    label: "dl",
    total: 8,
    inPlace: false,
    write: (t) => logged.push(t),
    now: () => clock,
  });
  for (let i = 0; i < 8; i++) log.tick({ failed: i === 0 });
  log.done();
  assert.equal(logged.length, 4, "one line per quarter, no duplicate at the end");
  assert.match(logged[3], /8\/8 .* 1 failed\n$/);
});

test("SIGINT (Ctrl-C, Jupyter's interrupt) aborts a running run and its tasks", async () => {
  const seen: boolean[] = [];
  const report = await runConcurrent(
    [1, 2, 3, 4],
    async (n, { signal }) => {
      await sleep(2);
      if (n === 1) process.emit("SIGINT");
      await sleep(5);
      seen.push(signal?.aborted ?? false);
      return n;
    },
    { limit: 2, progress: false },
  );
  assert.equal(report.aborted, true);
  assert.deepEqual(seen, [true, true], "both running tasks saw the abort");
  assert.match(report.items[2].error ?? "", /not started: interrupted \(SIGINT\)/);
  assert.equal(process.listenerCount("SIGINT"), 0, "the run removed its SIGINT listener");
});

test("an in-place redraw pads over the tail of a longer previous line", () => {
  let clock = 0;
  const writes: string[] = [];
  const bar = new ProgressBar({
    label: "dl",
    total: 2,
    inPlace: true,
    intervalMs: 0,
    write: (t) => writes.push(t),
    now: () => clock,
  });
  clock = 500_000; // a long elapsed time makes the first line's ETA long
  bar.tick();
  clock = 500_001;
  bar.done();
  const [first, last] = writes.map((w) => w.replace(/\n$/, ""));
  assert.ok(last.length >= first.length, "the final line covers the whole previous one");
});

test("release() hands a concurrent slot to the next item while the first finishes; runSequential ignores it", async () => {
  const task = async (_item: string, context: TaskContext) => {
    await sleep(5);
    context.release(); // the "network" part is done
    context.release(); // twice is harmless
    await sleep(30); // the "file" part
    return {};
  };
  const concurrent = await runConcurrent(["a", "b", "c"], task, { limit: 1, progress: false });
  assert.equal(concurrent.succeeded, 3);
  const [a, b, c] = concurrent.items;
  assert.ok(b.startMs < a.endMs, "b started while a was still finishing");
  assert.ok(c.startMs < b.endMs, "c started while b was still finishing");
  assert.ok(b.startMs >= a.startMs + 4, "but not before a released its slot");

  const sequential = await runSequential(["a", "b", "c"], task, { progress: false });
  for (let i = 1; i < sequential.items.length; i++) {
    assert.ok(sequential.items[i].startMs >= sequential.items[i - 1].endMs, "no overlap");
  }
});
