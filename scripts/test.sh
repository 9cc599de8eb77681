#!/usr/bin/env bash
# The whole test suite on a fresh clone: installs what the tests need (npm packages with
# npm ci, Jupyter, the tslab kernel, our JupyterLab, Chromium, gdalinfo), then types,
# lint/format, and every test file with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests --quiet
# This checkout's tslab kernel spec first, whatever tslab the user registered elsewhere.
export JUPYTER_PATH="$(pwd)/.jupyter-data${JUPYTER_PATH:+:$JUPYTER_PATH}"
# By path: node_modules/.bin/tsc may be tslab's bundled TypeScript 5.0, depending on install order.
node node_modules/typescript/bin/tsc --noEmit -p .
npx biome check .
# One file at a time keeps emulator processes and ports from piling up on a 2-core machine.
files=$(find test -name '*.test.ts' -not -path 'test/artifacts/*' | sort)
exec node --import tsx --test --test-concurrency=1 ${TEST_REPORTER:+--test-reporter=$TEST_REPORTER} $files
