import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { RunReport } from "../../src/run/run";
import { appendRunReport, readRunReports, summarizeRun } from "../../src/snippets/report";

const dir = mkdtempSync(join(tmpdir(), "report-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const run: RunReport<{ path: string }> = {
  mode: "concurrent",
  limit: 4,
  label: "concurrent x4",
  startedAt: Date.UTC(2024, 0, 1),
  wallMs: 1234.6,
  items: [
    {
      index: 0,
      key: "a",
      startMs: 0,
      endMs: 5,
      ok: true,
      bytes: 10,
      value: { path: join(dir, "a.tif") },
    },
    { index: 1, key: "b", startMs: 0, endMs: 6, ok: false, error: "HTTP 500" },
  ],
  succeeded: 1,
  failed: 1,
  bytes: 10,
  aborted: false,
};
const context = { backend: "emulator", collection: "C", aoi: "David", scale: 20 };

test("report.json keeps every run in order, with settings, files and errors", async () => {
  assert.deepEqual(await readRunReports(dir), [], "no report yet");
  await appendRunReport(dir, summarizeRun({ ...run, mode: "sequential", limit: 1 }, context));
  await appendRunReport(dir, summarizeRun(run, context));
  const runs = await readRunReports(dir);
  assert.deepEqual(
    runs.map((r) => [r.mode, r.limit, r.scale, r.images]),
    [
      ["sequential", 1, 20, 2],
      ["concurrent", 4, 20, 2],
    ],
  );
  assert.equal(runs[1].wallMs, 1235);
  assert.deepEqual(runs[1].files, [join(dir, "a.tif")]);
  assert.deepEqual(runs[1].errors, ["b: HTTP 500"]);
  assert.equal(runs[1].startedAt, "2024-01-01T00:00:00.000Z");
  assert.ok(JSON.parse(readFileSync(join(dir, "report.json"), "utf8")).runs.length === 2);
});

test("a damaged report.json loses its history, not the run", async () => {
  writeFileSync(join(dir, "report.json"), "{ not json");
  assert.deepEqual(await readRunReports(dir), []);
  await appendRunReport(dir, summarizeRun(run, context));
  assert.equal((await readRunReports(dir)).length, 1);
});
