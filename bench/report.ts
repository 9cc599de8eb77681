/**
 * The bench's three outputs from one set of scenario results: report.json (everything),
 * report.md (the summary table a README can paste, then each scenario's detail table), and
 * report.html (the same tables and the Plotly figures, plotly.js inlined so the file works
 * offline and from file://).
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import type { BenchMode, ScenarioResult, Target } from "./scenarios/common";

export interface BenchReport {
  mode: BenchMode;
  startedAt: string;
  durationMs: number;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    /** 1-minute load average at start and end: other work on the machine skews timings. */
    loadAverage: { start: number; end: number };
  };
  scenarios: ScenarioResult[];
  /** Scenarios that threw, with the error, so a partial report still says what is missing. */
  failures: { id: string; error: string }[];
  targetsMet: number;
  targetsTotal: number;
}

export function buildReport(
  mode: BenchMode,
  startedAt: Date,
  startLoad: number,
  scenarios: ScenarioResult[],
  failures: { id: string; error: string }[],
): BenchReport {
  const targets = scenarios.flatMap((s) => s.targets);
  return {
    mode,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      loadAverage: { start: startLoad, end: loadavg()[0] },
    },
    scenarios,
    failures,
    targetsMet: targets.filter((t) => t.met).length,
    targetsTotal: targets.length,
  };
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function targetCells(scenario: ScenarioResult, t: Target): string[] {
  return [
    scenario.id,
    t.name,
    formatValue(t.value),
    `${t.comparator} ${t.threshold}`,
    t.met ? "met" : "**missed**",
  ];
}

/** The headline table: every target, its measured ratio, and whether it was met. */
export function summaryMarkdown(report: BenchReport): string {
  const rows = report.scenarios.flatMap((s) => s.targets.map((t) => targetCells(s, t)));
  for (const f of report.failures)
    rows.push([f.id, `did not run: ${f.error}`, "-", "-", "**missed**"]);
  return markdownTable(
    ["scenario", "figure (ratio in the same run)", "value", "target", "result"],
    rows,
  );
}

function cpuMarkdown(report: BenchReport): string {
  return markdownTable(
    ["scenario", "wall s", "client CPU s", "emulator CPU s (separate process)"],
    report.scenarios.map((s) => [
      s.id,
      (s.wallMs / 1000).toFixed(2),
      (s.clientCpuMs / 1000).toFixed(2),
      (s.emulatorCpuMs / 1000).toFixed(2),
    ]),
  );
}

function detailMarkdown(scenario: ScenarioResult): string {
  const header = Object.keys(scenario.rows[0] ?? {});
  const table =
    header.length > 0
      ? markdownTable(
          header,
          scenario.rows.map((row) => header.map((h) => String(row[h] ?? ""))),
        )
      : "";
  const notes = scenario.notes.map((n) => `- ${n}`).join("\n");
  return [`### ${scenario.title}`, table, notes].filter(Boolean).join("\n\n");
}

export function reportMarkdown(report: BenchReport): string {
  const m = report.machine;
  return [
    `## Benchmark (${report.mode} mode, ${report.startedAt})`,
    `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}, load average ${m.loadAverage.start.toFixed(1)} at start and ${m.loadAverage.end.toFixed(1)} at end. Every figure is a ratio against a baseline measured or a bound computed in the same run. ${report.targetsMet} of ${report.targetsTotal} targets met.`,
    summaryMarkdown(report),
    "CPU time per scenario (the emulator runs in its own process, so the client's CPU is what was measured):",
    cpuMarkdown(report),
    ...report.scenarios.map(detailMarkdown),
  ].join("\n\n");
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function htmlTable(header: string[], rows: string[][]): string {
  const head = header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map(
      (r) => `<tr>${r.map((c) => `<td>${escapeHtml(c.replace(/\*\*/g, ""))}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** JSON inside a <script>: "</" must not close the element early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/<\//g, "<\\/");
}

export function reportHtml(report: BenchReport, plotlySource: string): string {
  const summaryRows = report.scenarios.flatMap((s) => s.targets.map((t) => targetCells(s, t)));
  const figures = report.scenarios.flatMap((s) => s.figures);
  const sections = report.scenarios
    .map((s) => {
      const header = Object.keys(s.rows[0] ?? {});
      const rows = s.rows.map((row) => header.map((h) => String(row[h] ?? "")));
      const figureDivs = s.figures
        .map((f) => `<div class="figure" id="figure-${figures.indexOf(f)}"></div>`)
        .join("\n");
      const notes = s.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("");
      return `<section><h2>${escapeHtml(s.title)}</h2>${htmlTable(header, rows)}<ul>${notes}</ul>${figureDivs}</section>`;
    })
    .join("\n");
  const m = report.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ee-snippets benchmark (${report.mode})</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 80em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, td:nth-child(2) { text-align: left; }
.figure { width: 100%; height: 420px; }
</style>
<script>${plotlySource}</script>
</head><body>
<h1>ee-snippets benchmark (${report.mode} mode)</h1>
<p>${escapeHtml(`${report.startedAt}; ${m.cpus} x ${m.cpuModel}, Node ${m.node}, load average ${m.loadAverage.start.toFixed(1)}/${m.loadAverage.end.toFixed(1)} (start/end). ${report.targetsMet} of ${report.targetsTotal} targets met. Every figure is a ratio against a baseline or bound from the same run.`)}</p>
${htmlTable(["scenario", "figure", "value", "target", "result"], summaryRows)}
${sections}
<script>
const figures = ${scriptJson(figures)};
figures.forEach((f, i) => Plotly.newPlot("figure-" + i, f.data, f.layout, { responsive: true }));
</script>
</body></html>
`;
}

/** Writes report.json, report.md and report.html into dir; returns their paths. */
export async function writeReport(report: BenchReport, dir: string) {
  await mkdir(dir, { recursive: true });
  const plotlySource = readFileSync(require.resolve("plotly.js-dist"), "utf8");
  const paths = {
    json: join(dir, "report.json"),
    markdown: join(dir, "report.md"),
    html: join(dir, "report.html"),
  };
  await writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(paths.markdown, `${reportMarkdown(report)}\n`);
  await writeFile(paths.html, reportHtml(report, plotlySource));
  return paths;
}
