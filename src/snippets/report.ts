/**
 * report.json beside manifest.json: what each downloadSnippets run in OUT_DIR did (mode,
 * limit, scale, images, wall time, files), newest last. Scripts (`npm start`) read it instead
 * of the notebook carrying a summary cell for them.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { RunReport } from "../run/run";

export const REPORT_FILE_NAME = "report.json";
/** Enough for a notebook session's reruns; older runs are dropped so the file stays small. */
const MAX_RUNS = 50;

export interface RunSummary {
  label: string;
  mode: RunReport["mode"];
  limit: number;
  backend: string;
  collection: string;
  aoi: string;
  scale: number;
  images: number;
  succeeded: number;
  failed: number;
  bytes: number;
  wallMs: number;
  startedAt: string;
  /** Absolute paths of the GeoTIFFs this run wrote or kept. */
  files: string[];
  errors: string[];
}

export interface RunReportFile {
  runs: RunSummary[];
}

/** The runs recorded in `outDir`'s report.json (none when it does not exist). */
export async function readRunReports(outDir: string): Promise<RunSummary[]> {
  try {
    const text = await readFile(join(outDir, REPORT_FILE_NAME), "utf8");
    const parsed = JSON.parse(text) as Partial<RunReportFile>;
    return Array.isArray(parsed.runs) ? parsed.runs : [];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    // A damaged report only loses history; the run itself must not fail for it.
    if (error instanceof SyntaxError) return [];
    throw error;
  }
}

/** Appends one run to `outDir`/report.json (written whole to a temporary file, then renamed). */
export async function appendRunReport(outDir: string, summary: RunSummary): Promise<void> {
  const runs = [...(await readRunReports(outDir)), summary].slice(-MAX_RUNS);
  const path = join(outDir, REPORT_FILE_NAME);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ runs }, null, 2)}\n`);
  await rename(temporary, path);
}

/** The summary of a finished run, as report.json stores it. */
export function summarizeRun(
  report: RunReport<{ path: string }>,
  context: { backend: string; collection: string; aoi: string; scale: number },
): RunSummary {
  return {
    label: report.label,
    mode: report.mode,
    limit: report.limit,
    ...context,
    images: report.items.length,
    succeeded: report.succeeded,
    failed: report.failed,
    bytes: report.bytes,
    wallMs: Math.round(report.wallMs),
    startedAt: new Date(report.startedAt).toISOString(),
    files: report.items.flatMap((item) =>
      item.ok && item.value ? [resolve(item.value.path)] : [],
    ),
    errors: report.items.flatMap((item) => (item.ok ? [] : [`${item.key}: ${item.error}`])),
  };
}
