/**
 * `npm run bench`: how close the product gets to what the (emulated) Earth Engine allows.
 *
 *   npm run bench                 quick mode (under 2 minutes)
 *   npm run bench -- --full       full sizes (the README's table)
 *   npm run bench -- --smoke      a handful of requests per scenario (the smoke test)
 *   npm run bench -- --only tutorial,requestRate --out /tmp/bench
 *
 * Writes report.json, report.md and report.html to bench/out/ (or --out) and prints the
 * markdown summary. Exit code 0 when the bench ran, whatever the targets; 1 if a scenario
 * could not run at all.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { buildReport, reportMarkdown, writeReport } from "./report";
import { type BenchMode, log, type ScenarioResult } from "./scenarios/common";
import { runLargeSnippetScenario } from "./scenarios/large-snippet";
import { runRequestRateScenario } from "./scenarios/request-rate";
import { runSearchScenario } from "./scenarios/search";
import { runTutorialScenario } from "./scenarios/tutorial";
import { runTutorial2mScenario } from "./scenarios/tutorial-2m";
import { runUnknownQuotaScenario } from "./scenarios/unknown-quota";

export const SCENARIOS: Record<string, (mode: BenchMode) => Promise<ScenarioResult>> = {
  tutorial: runTutorialScenario,
  tutorial2m: runTutorial2mScenario,
  requestRate: runRequestRateScenario,
  largeSnippet: runLargeSnippetScenario,
  unknownQuota: runUnknownQuotaScenario,
  search: runSearchScenario,
};

interface Args {
  mode: BenchMode;
  only: string[];
  out: string;
}

function parseArgs(argv: string[]): Args {
  let mode: BenchMode = "quick";
  let only = Object.keys(SCENARIOS);
  let out = join(__dirname, "out");
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") mode = "quick";
    else if (arg === "--full") mode = "full";
    else if (arg === "--smoke") mode = "smoke";
    else if (arg === "--only") {
      only = (argv[++i] ?? "").split(",").filter(Boolean);
      const unknown = only.filter((id) => !(id in SCENARIOS));
      if (unknown.length > 0) {
        throw new Error(
          `Unknown scenario ${unknown.join(", ")}; pick from ${Object.keys(SCENARIOS).join(", ")}.`,
        );
      }
    } else if (arg === "--out") {
      out = argv[++i] ?? out;
    } else {
      throw new Error(
        `Unknown argument ${arg}. Use --quick (default), --full, --smoke, --only <ids>, --out <dir>.`,
      );
    }
  }
  return { mode, only, out };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const startLoad = loadavg()[0];
  log(`mode ${args.mode}; scenarios ${args.only.join(", ")}`);
  const results: ScenarioResult[] = [];
  const failures: { id: string; error: string }[] = [];
  for (const id of args.only) {
    const t0 = performance.now();
    try {
      results.push(await SCENARIOS[id](args.mode));
      log(`${id} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${id} FAILED: ${error instanceof Error ? (error.stack ?? message) : message}`);
      failures.push({ id, error: message });
    }
  }
  const report = buildReport(args.mode, startedAt, startLoad, results, failures);
  const paths = await writeReport(report, args.out);
  process.stdout.write(`${reportMarkdown(report)}\n\n`);
  log(`wrote ${paths.json}, ${paths.markdown}, ${paths.html}`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
