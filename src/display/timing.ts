import type { RunItem, RunReport } from "../run/run";
import {
  type Annotation,
  COLORS,
  DEFAULT_CONFIG,
  type Figure,
  type Layout,
  type Trace,
} from "./figure";

/** One download of a run, as src/run/run.ts reports it (times in ms since the run began). */
export type TimedItem = Pick<RunItem, "key" | "startMs" | "endMs" | "ok" | "error" | "bytes">;

/** What the timing figures need from a RunReport (src/run/run.ts); any RunReport fits. */
export interface TimedRun extends Pick<RunReport, "mode" | "limit" | "wallMs"> {
  label?: string;
  items: readonly TimedItem[];
}

export class PlotInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlotInputError";
  }
}

/** How many times faster `run` was than `baseline` (wall time ratio). */
export function speedup(baseline: TimedRun, run: TimedRun): number {
  if (!(run.wallMs > 0)) return Number.NaN;
  return baseline.wallMs / run.wallMs;
}

export function runLabel(run: TimedRun): string {
  return run.label ?? (run.mode === "sequential" ? "sequential" : `concurrent x${run.limit}`);
}

const seconds = (ms: number): number => Math.round(ms) / 1000;
const formatS = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/**
 * Wall time of each run side by side; the speedup of every run over the first sequential
 * one (or the first run) is written above its bar and in the title.
 */
export function wallTimeFigure(runs: readonly TimedRun[]): Figure {
  requireRuns(runs, "wallTimeFigure");
  const baseline = runs.find((run) => run.mode === "sequential") ?? runs[0];
  const labels = uniqueLabels(runs);
  const texts = runs.map((run) =>
    run === baseline
      ? formatS(run.wallMs)
      : `${formatS(run.wallMs)} · ${speedup(baseline, run).toFixed(1)}x`,
  );
  const trace: Trace = {
    type: "bar",
    name: "wall time",
    x: labels,
    y: runs.map((run) => seconds(run.wallMs)),
    text: texts,
    textposition: "outside",
    marker: {
      color: runs.map((run) =>
        run.items.some((item) => !item.ok)
          ? COLORS.failed
          : run.mode === "sequential"
            ? COLORS.sequential
            : COLORS.concurrent,
      ),
    },
    hovertext: runs.map(
      (run) =>
        `${runLabel(run)}: ${run.items.length} downloads, ${countFailed(run)} failed, ${formatS(run.wallMs)}`,
    ),
    hoverinfo: "text",
  };
  const best = runs.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  const factor = speedup(baseline, best);
  const headline =
    best === baseline
      ? `Wall time (${runLabel(baseline)} fastest)`
      : `Wall time: ${runLabel(best)} is ${factor.toFixed(1)}x faster than ${runLabel(baseline)}`;
  const maxS = Math.max(...runs.map((run) => seconds(run.wallMs)));
  return {
    data: [trace],
    layout: {
      title: { text: headline },
      xaxis: { type: "category", automargin: true },
      // Headroom so the text above the tallest bar is not clipped.
      yaxis: { title: { text: "wall time (s)" }, range: [0, maxS * 1.2 || 1] },
      height: 380,
      margin: { t: 60, b: 60 },
      showlegend: false,
    },
    config: { ...DEFAULT_CONFIG },
    summary: `${headline}. ${runs.map((run, i) => `${labels[i]} ${formatS(run.wallMs)}`).join(", ")}.`,
  };
}

/**
 * One horizontal bar per download, from its start to its end, one row per download and a
 * block of rows per run: sequential bars form a staircase, concurrent ones overlap.
 */
export function timelineFigure(runs: readonly TimedRun[]): Figure {
  requireRuns(runs, "timelineFigure");
  const labels = uniqueLabels(runs);
  const categories: string[] = [];
  const data: Trace[] = [];
  runs.forEach((run, r) => {
    const rows = run.items.map((_, i) => `${labels[r]} · ${i + 1}`);
    categories.push(...rows);
    const color = run.mode === "sequential" ? COLORS.sequential : COLORS.concurrent;
    for (const ok of [true, false]) {
      const picked = run.items
        .map((item, i) => ({ item, row: rows[i] }))
        .filter((p) => p.item.ok === ok);
      if (picked.length === 0) continue;
      data.push({
        type: "bar",
        orientation: "h",
        name: ok ? labels[r] : `${labels[r]} (failed)`,
        legendgroup: labels[r],
        y: picked.map((p) => p.row),
        base: picked.map((p) => seconds(p.item.startMs)),
        x: picked.map((p) => seconds(Math.max(0, p.item.endMs - p.item.startMs))),
        hovertext: picked.map(
          (p) =>
            `${p.item.key}<br>${formatS(p.item.startMs)} → ${formatS(p.item.endMs)} (${formatS(p.item.endMs - p.item.startMs)})` +
            (p.item.bytes !== undefined ? `<br>${(p.item.bytes / 1e6).toFixed(2)} MB` : "") +
            (p.item.error ? `<br>${escapeHtml(p.item.error)}` : ""),
        ),
        hoverinfo: "text",
        marker: {
          color: ok ? (r % 2 === 0 || runs.length === 1 ? color : COLORS.accent) : COLORS.failed,
        },
        width: 0.8,
      });
    }
  });
  const rowCount = categories.length;
  const maxEnd = Math.max(
    ...runs.flatMap((run) => run.items.map((item) => seconds(item.endMs))),
    ...runs.map((run) => seconds(run.wallMs)),
  );
  return {
    data,
    layout: {
      title: { text: "Timeline: one bar per download, from request to file written" },
      barmode: "overlay",
      xaxis: { title: { text: "seconds since the run started" }, range: [0, maxEnd * 1.02 || 1] },
      yaxis: {
        type: "category",
        categoryorder: "array",
        categoryarray: categories,
        autorange: "reversed",
        automargin: true,
      },
      // Rows stay readable (about 14 px each) without letting 80 downloads fill a screen.
      height: Math.min(1400, Math.max(300, 120 + rowCount * 14)),
      margin: { t: 80 },
      // Above the plot: below it, the legend collides with the axis title on short figures.
      legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom" },
      hovermode: "closest",
    },
    config: { ...DEFAULT_CONFIG },
    summary: `Timeline of ${runs.length} run(s): ${runs
      .map(
        (run, r) =>
          `${labels[r]} ${run.items.length} downloads in ${formatS(run.wallMs)}, peak overlap ${peakOverlap(run)}`,
      )
      .join("; ")}.`,
  };
}

/** How many downloads of a run were in flight at the same time, at most. */
export function peakOverlap(run: TimedRun): number {
  const events = run.items.flatMap((item) => [
    { t: item.startMs, d: 1 },
    { t: item.endMs, d: -1 },
  ]);
  // Ends sort before starts at the same instant: back-to-back downloads do not overlap.
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let current = 0;
  let peak = 0;
  for (const event of events) {
    current += event.d;
    peak = Math.max(peak, current);
  }
  return peak;
}

/** Wall time of every timed run so far, in order, so reruns with new settings compare. */
export function runHistoryFigure(history: readonly TimedRun[]): Figure {
  requireRuns(history, "runHistoryFigure");
  const data: Trace[] = [];
  for (const mode of ["sequential", "concurrent"] as const) {
    const points = history
      .map((run, i) => ({ run, n: i + 1 }))
      .filter((point) => point.run.mode === mode);
    if (points.length === 0) continue;
    data.push({
      type: "scatter",
      mode: "lines+markers+text",
      name: mode,
      x: points.map((point) => point.n),
      y: points.map((point) => seconds(point.run.wallMs)),
      // A labelled run shows its label (the notebook's carry limit, scale and image count), so
      // runs at different settings are told apart on the chart, not only on hover.
      text: points.map(
        (point) => point.run.label ?? (mode === "sequential" ? "seq" : `x${point.run.limit}`),
      ),
      textposition: "top center",
      marker: { color: COLORS[mode], size: 9 },
      line: { color: COLORS[mode], width: 1, dash: "dot" },
      hovertext: points.map(
        (point) =>
          `run ${point.n}: ${runLabel(point.run)}, ${point.run.items.length} downloads, ${formatS(point.run.wallMs)}`,
      ),
      hoverinfo: "text",
    });
  }
  const last = history[history.length - 1];
  const maxS = Math.max(...history.map((run) => seconds(run.wallMs)));
  return {
    data,
    layout: {
      title: { text: `Run history: ${history.length} timed run(s) in this kernel` },
      xaxis: { title: { text: "run number" }, dtick: 1, range: [0.5, history.length + 0.5] },
      // Headroom for the labels above the highest point.
      yaxis: { title: { text: "wall time (s)" }, range: [0, maxS * 1.2 || 1] },
      height: 360,
      legend: { orientation: "h", y: -0.2 },
      hovermode: "closest",
    },
    config: { ...DEFAULT_CONFIG },
    summary: `Run history (${history.length} runs): ${history
      .map((run, i) => `${i + 1}. ${runLabel(run)} ${formatS(run.wallMs)}`)
      .join(", ")}; latest ${runLabel(last)}.`,
  };
}

export interface SpeedupPoint {
  limit: number;
  wallMs: number;
  /** HTTP 429 answers seen during the run, if known. */
  throttled?: number;
}

export interface SpeedupFigureOptions {
  /** Wall time of the same downloads one at a time. */
  baselineMs: number;
  measured: readonly SpeedupPoint[];
  /** What a cost model predicts, e.g. from the emulator's latency, compute and bandwidth. */
  ideal?: readonly { limit: number; speedup: number }[];
  /** Draws a marker line at the server's concurrency quota (Earth Engine: 40). */
  quota?: number;
  title?: string;
}

/** Measured speedup against the concurrency limit, the model's ideal, and y = limit. */
export function speedupFigure(options: SpeedupFigureOptions): Figure {
  const { baselineMs, measured } = options;
  if (!(baselineMs > 0)) {
    throw new PlotInputError(
      `speedupFigure needs the sequential wall time (baselineMs > 0), got ${baselineMs}.`,
    );
  }
  if (measured.length === 0) {
    throw new PlotInputError("speedupFigure needs at least one measured point.");
  }
  const points = [...measured].sort((a, b) => a.limit - b.limit);
  const maxLimit = Math.max(...points.map((point) => point.limit));
  const data: Trace[] = [
    {
      type: "scatter",
      mode: "lines",
      name: "linear (limit x)",
      x: [1, maxLimit],
      y: [1, maxLimit],
      line: { color: "#bbbbbb", dash: "dot", width: 1 },
      hoverinfo: "skip",
    },
  ];
  if (options.ideal && options.ideal.length > 0) {
    const ideal = [...options.ideal].sort((a, b) => a.limit - b.limit);
    data.push({
      type: "scatter",
      mode: "lines",
      name: "ideal (cost model)",
      x: ideal.map((point) => point.limit),
      y: ideal.map((point) => round2(point.speedup)),
      line: { color: COLORS.ideal, dash: "dash", width: 2 },
    });
  }
  data.push({
    type: "scatter",
    mode: "lines+markers",
    name: "measured",
    x: points.map((point) => point.limit),
    y: points.map((point) => round2(baselineMs / point.wallMs)),
    marker: {
      color: points.map((point) =>
        (point.throttled ?? 0) > 0 ? COLORS.failed : COLORS.concurrent,
      ),
      size: 8,
    },
    line: { color: COLORS.concurrent, width: 2 },
    hovertext: points.map(
      (point) =>
        `limit ${point.limit}: ${formatS(point.wallMs)}, ${(baselineMs / point.wallMs).toFixed(1)}x` +
        (point.throttled ? `, ${point.throttled} x HTTP 429` : ""),
    ),
    hoverinfo: "text",
  });
  const annotations: Annotation[] = [];
  const best = points.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  annotations.push({
    text: `best: ${(baselineMs / best.wallMs).toFixed(1)}x at limit ${best.limit}`,
    x: best.limit,
    y: round2(baselineMs / best.wallMs),
    xref: "x",
    yref: "y",
    showarrow: true,
  });
  const layout: Layout = {
    title: {
      text: options.title ?? "Speedup over a sequential loop against the concurrency limit",
    },
    xaxis: { title: { text: "concurrency limit (p-limit)" }, rangemode: "tozero" },
    yaxis: { title: { text: "speedup (x)" }, rangemode: "tozero" },
    height: 420,
    annotations,
    legend: { orientation: "h", y: -0.2 },
    hovermode: "closest",
  };
  if (options.quota !== undefined) {
    data.push({
      type: "scatter",
      mode: "lines",
      name: `quota (${options.quota} concurrent)`,
      x: [options.quota, options.quota],
      y: [0, Math.max(maxLimit, ...points.map((p) => baselineMs / p.wallMs))],
      line: { color: COLORS.failed, dash: "dot", width: 1 },
      hoverinfo: "skip",
    });
  }
  return {
    data,
    layout,
    config: { ...DEFAULT_CONFIG },
    summary: `Speedup vs limit: ${points
      .map((point) => `${point.limit}: ${(baselineMs / point.wallMs).toFixed(1)}x`)
      .join(", ")} (best ${(baselineMs / best.wallMs).toFixed(1)}x at ${best.limit}).`,
  };
}

export interface Series {
  name: string;
  x: number[] | string[];
  y: number[];
  /** Draw as bars instead of a line with markers. */
  bars?: boolean;
  color?: string;
  /** A label at each point, e.g. the number of requests behind a time. */
  text?: string[];
}

/** A small generic line/bar chart for the notebooks' one-off comparisons (tile size, 429s). */
export function seriesFigure(options: {
  title: string;
  xTitle: string;
  yTitle: string;
  series: readonly Series[];
  logX?: boolean;
}): Figure {
  if (options.series.length === 0) {
    throw new PlotInputError(`seriesFigure "${options.title}" needs at least one series.`);
  }
  const data: Trace[] = options.series.map((series) => ({
    type: series.bars ? "bar" : "scatter",
    mode: series.bars ? undefined : series.text ? "lines+markers+text" : "lines+markers",
    name: series.name,
    x: [...series.x],
    y: series.y.map(round2),
    text: series.text,
    textposition: series.text ? (series.bars ? "outside" : "top center") : undefined,
    marker: series.color ? { color: series.color } : undefined,
  }));
  return {
    data,
    layout: {
      title: { text: options.title },
      xaxis: { title: { text: options.xTitle }, type: options.logX ? "log" : undefined },
      yaxis: { title: { text: options.yTitle }, rangemode: "tozero" },
      barmode: "group",
      height: 380,
      legend: { orientation: "h", y: -0.2 },
    },
    config: { ...DEFAULT_CONFIG },
    summary: `${options.title}: ${options.series
      .map(
        (series) =>
          `${series.name} ${series.y.map((v, i) => `${series.x[i]}→${round2(v)}`).join(" ")}`,
      )
      .join("; ")}.`,
  };
}

function requireRuns(runs: readonly TimedRun[], name: string): void {
  if (!Array.isArray(runs) || runs.length === 0) {
    throw new PlotInputError(
      `${name} needs at least one run report (from runSequential or runConcurrent).`,
    );
  }
  for (const run of runs) {
    if (!run || !Array.isArray(run.items) || typeof run.wallMs !== "number") {
      throw new PlotInputError(
        `${name} got something that is not a run report: pass what runSequential/runConcurrent return.`,
      );
    }
  }
}

/** Labels as categories must be distinct, or Plotly stacks reruns onto one bar. */
function uniqueLabels(runs: readonly TimedRun[]): string[] {
  const seen = new Map<string, number>();
  return runs.map((run) => {
    const label = runLabel(run);
    const count = (seen.get(label) ?? 0) + 1;
    seen.set(label, count);
    return count === 1 ? label : `${label} (${count})`;
  });
}

function countFailed(run: TimedRun): number {
  return run.items.filter((item) => !item.ok).length;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}
