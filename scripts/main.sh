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
rm -f "$SNIPPETS/summary.json"

echo "main: running $NOTEBOOK on the $EE_BACKEND backend"
"$PY" scripts/execute_notebook.py "$NOTEBOOK" --output "$EXECUTED" --html "$HTML" \
  --set "OUT_DIR=\"$SNIPPETS\""

[ -f "$SNIPPETS/summary.json" ] || {
  echo "main: the notebook ran but wrote no $SNIPPETS/summary.json" >&2
  exit 1
}
SUMMARY="$SNIPPETS/summary.json" EXECUTED="$ROOT/$EXECUTED" HTML="$ROOT/$HTML" node -e '
  const s = JSON.parse(require("fs").readFileSync(process.env.SUMMARY, "utf8"));
  const sec = (ms) => (ms / 1000).toFixed(2) + " s";
  const lines = [
    "",
    `Backend       ${s.backend}`,
    `Collection    ${s.collection}, ${s.dates[0]} to ${s.dates[1]} (end exclusive), AOI ${s.aoi}, ${s.scale} m`,
    `Images        ${s.images} found, ${s.downloaded} downloaded, ${s.failed} failed, ${(s.bytes / 1e6).toFixed(1)} MB`,
    `Sequential    ${sec(s.sequentialMs)}`,
    `Concurrent    ${sec(s.concurrentMs)} (limit ${s.limit})`,
    `Speedup       ${s.speedup.toFixed(2)}x`,
    `GeoTIFFs      ${s.outDir}`,
    `Notebook      ${process.env.EXECUTED} (signed: plots render when opened)`,
    `HTML          ${process.env.HTML}`,
    "",
    "Open the notebooks interactively with: npm run notebook",
  ];
  console.log(lines.join("\n"));
  process.exit(s.failed > 0 ? 1 : 0);
'
