#!/usr/bin/env bash
# Prints the Python that has Jupyter's notebook tools (nbclient, nbconvert, nbformat,
# jupyter_client), or exits 1. Debian's packages live in /usr/bin/python3, which a pyenv or
# venv python3 earlier on PATH does not see, so that one is tried first.
set -euo pipefail
for candidate in /usr/bin/python3 "$(command -v python3 || true)" "$(command -v python || true)"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  if "$candidate" -c 'import nbclient, nbconvert, nbformat, jupyter_client' >/dev/null 2>&1; then
    echo "$candidate"
    exit 0
  fi
done
exit 1
