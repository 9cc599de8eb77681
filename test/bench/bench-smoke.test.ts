import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { BenchReport } from "../../bench/report";

const root = join(__dirname, "..", "..");

/** Each scenario's headline ratios: the report is useless to a reader without them. */
const EXPECTED_RATIOS: Record<string, string[]> = {
  tutorial: ["efficiencyAtLimit4", "defaultVsTutorialSpeedup", "sequentialEfficiency"],
  tutorial2m: ["speedupAtLimit8", "efficiencyAtLimit8", "emulatorCpuVsModelled"],
  requestRate: ["directRateVsQuota", "transportRateVsQuota", "directVsDownloadUrl"],
  largeSnippet: [
    "throughputVsTransfer256",
    "peakRssMiB256",
    "throughputVsTransfer512",
    "peakRssMiB512",
  ],
  unknownQuota: ["efficiency", "share429"],
  search: ["sclOverhead", "csPlusOverhead"],
};

test("npm run bench -- --smoke runs every scenario and writes a complete report", () => {
  const out = mkdtempSync(join(tmpdir(), "bench-smoke-"));
  try {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", join(root, "bench", "run.ts"), "--smoke", "--out", out],
      { cwd: root, encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(run.status, 0, `bench exited with ${run.status}:\n${run.stderr}`);

    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as BenchReport;
    assert.equal(report.mode, "smoke");
    assert.deepEqual(report.failures, []);
    assert.deepEqual(
      report.scenarios.map((s) => s.id),
      Object.keys(EXPECTED_RATIOS),
    );
    for (const scenario of report.scenarios) {
      for (const key of EXPECTED_RATIOS[scenario.id]) {
        const value = scenario.ratios[key];
        assert.ok(
          // A share of 429s can be 0; no ratio can be negative.
          typeof value === "number" && Number.isFinite(value) && value >= 0,
          `${scenario.id}.ratios.${key} should be a number >= 0, got ${value}`,
        );
      }
      assert.ok(scenario.targets.length > 0, `${scenario.id} has no targets`);
      for (const t of scenario.targets) assert.equal(typeof t.met, "boolean");
      assert.ok(scenario.emulatorCpuMs >= 0, `${scenario.id} reports no emulator CPU time`);
      assert.ok(scenario.figures.length > 0, `${scenario.id} has no figure`);
    }

    const markdown = readFileSync(join(out, "report.md"), "utf8");
    assert.match(
      markdown,
      /\| scenario \| figure \(ratio in the same run\) \| value \| target \| result \|/,
    );
    for (const id of Object.keys(EXPECTED_RATIOS)) assert.ok(markdown.includes(`| ${id} |`), id);
    assert.ok(run.stdout.includes("| scenario |"), "the markdown table is printed at the end");

    const html = readFileSync(join(out, "report.html"), "utf8");
    assert.ok(html.length > 1_000_000, "plotly.js is inlined, so the page works offline");
    assert.ok(!/<script[^>]+src=/.test(html), "no external scripts");
    assert.match(html, /Plotly\.newPlot/);
    assert.ok(existsSync(join(out, "report.md")));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
