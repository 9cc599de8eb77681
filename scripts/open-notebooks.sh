#!/usr/bin/env bash
# `npm run notebook`: opens the notebooks in JupyterLab where it is installed, classic
# Notebook otherwise, on 127.0.0.1 only. Extra arguments go to Jupyter (e.g. --port 9999).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --quiet
PY=$(scripts/find-python.sh)
# Jupyter refuses to run as root without this (containers, CI machines).
ROOT_FLAG=()
[ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-root)

# JupyterLab may live in another Python (pip --user, a venv) than Debian's notebook tools.
for candidate in "$PY" "$(command -v python3 || true)"; do
  if [ -n "$candidate" ] && "$candidate" -c 'import jupyterlab' >/dev/null 2>&1; then
    echo "open-notebooks: JupyterLab ($candidate)"
    exec "$candidate" -m jupyterlab --ip=127.0.0.1 --notebook-dir=notebooks "${ROOT_FLAG[@]}" "$@"
  fi
done
if "$PY" -c 'import notebook' >/dev/null 2>&1; then
  echo "open-notebooks: classic Notebook ($PY); install JupyterLab (pip install jupyterlab) to use it instead"
  exec "$PY" -m notebook --ip=127.0.0.1 --notebook-dir=notebooks "${ROOT_FLAG[@]}" "$@"
fi
echo "open-notebooks: no Jupyter server found: run scripts/setup.sh" >&2
exit 1
