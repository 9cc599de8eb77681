#!/usr/bin/env bash
# Prints the Python that can import the given modules (by default Jupyter's notebook tools:
# nbclient, nbconvert, nbformat, jupyter_client), or exits 1. Debian's packages live in
# /usr/bin/python3, which a pyenv or venv python3 earlier on PATH does not see, so that one
# is tried first.
# Usage: scripts/find-python.sh [MODULE ...]   e.g. scripts/find-python.sh jupyterlab_server
set -euo pipefail
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(nbclient nbconvert nbformat jupyter_client)
imports=$(
  IFS=,
  echo "${modules[*]}"
)
for candidate in /usr/bin/python3 "$(command -v python3 || true)" "$(command -v python || true)"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  if "$candidate" -c "import $imports" >/dev/null 2>&1; then
    echo "$candidate"
    exit 0
  fi
done
exit 1
