#!/usr/bin/env bash
# `npm start`: set up what is missing, run the tutorial notebook headless (on the emulator
# unless EE_BACKEND says otherwise), sign it so its plots render when opened, export HTML,
# and print what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/setup.sh
PY=$(scripts/find-python.sh)

export EE_BACKEND="${EE_BACKEND:-emulator}"
NOTEBOOK=notebooks/download_s2_snippets.ipynb
OUT=data/out
SNIPPETS="$ROOT/$OUT/snippets"
EXECUTED="$OUT/download_s2_snippets.ipynb"
HTML="$OUT/download_s2_snippets.html"
mkdir -p "$OUT"
# The library appends every run to report.json beside manifest.json; start from an empty one.
rm -f "$SNIPPETS/report.json"

echo "main: running $NOTEBOOK on the $EE_BACKEND backend"
"$PY" scripts/execute_notebook.py "$NOTEBOOK" --output "$EXECUTED" --html "$HTML" \
  --set "OUT_DIR=\"$SNIPPETS\""

[ -f "$SNIPPETS/report.json" ] || {
  echo "main: the notebook ran but the library wrote no $SNIPPETS/report.json" >&2
  exit 1
}
REPORT="$SNIPPETS/report.json" EXECUTED="$ROOT/$EXECUTED" HTML="$ROOT/$HTML" node -e '
  const { runs } = JSON.parse(require("fs").readFileSync(process.env.REPORT, "utf8"));
  const last = (mode) => runs.filter((r) => r.mode === mode).at(-1);
  const seq = last("sequential");
  const con = last("concurrent");
  if (!seq || !con) {
    console.error("main: report.json lacks a sequential or a concurrent run");
    process.exit(1);
  }
  const sec = (ms) => (ms / 1000).toFixed(2) + " s";
  const failed = seq.failed + con.failed;
  const lines = [
    "",
    `Backend       ${con.backend}`,
    `Collection    ${con.collection}, AOI ${con.aoi}, ${con.scale} m`,
    `Images        ${con.images}, ${con.succeeded} downloaded, ${failed} failed, ${(con.bytes / 1e6).toFixed(1)} MB`,
    `Sequential    ${sec(seq.wallMs)}`,
    `Concurrent    ${sec(con.wallMs)} (limit ${con.limit})`,
    `Speedup       ${(seq.wallMs / con.wallMs).toFixed(2)}x`,
    `GeoTIFFs      ${require("path").dirname(process.env.REPORT)}`,
    `Notebook      ${process.env.EXECUTED} (signed: plots render when opened)`,
    `HTML          ${process.env.HTML}`,
    "",
    "Open the notebooks interactively with: npm run notebook",
  ];
  console.log(lines.join("\n"));
  for (const error of [...seq.errors, ...con.errors]) console.error(`failed: ${error}`);
  process.exit(failed > 0 ? 1 : 0);
'
