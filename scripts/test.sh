#!/usr/bin/env bash
# The whole test suite: types, lint/format, then every test file with node's test runner.
# Notebook and browser tests skip themselves with a reason only when Jupyter or Chromium
# is absent; scripts/setup.sh installs both, and CI runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc --noEmit -p .
npx biome check .
# One file at a time keeps emulator processes and ports from piling up on a 2-core machine.
files=$(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 ${TEST_REPORTER:+--test-reporter=$TEST_REPORTER} $files
