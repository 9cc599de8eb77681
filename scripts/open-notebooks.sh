#!/usr/bin/env bash
# `npm run notebook`: opens the notebooks in JupyterLab on 127.0.0.1 only:
#   1. the user's own JupyterLab (jupyter-lab on PATH, or a Python that imports jupyterlab);
#   2. otherwise ours: JupyterLab 3.6 built from npm in jupyterlab-app/ on first use (then cached),
#      served by Debian's jupyter_server and jupyterlab_server;
#   3. classic Notebook only when neither can run, saying why.
# The kernel is this checkout's tslab (.jupyter-data, first on JUPYTER_PATH), whatever tslab
# the user has registered for other projects. Extra arguments go to the server
# (e.g. --port=9999; ours and classic take --ServerApp.* / --NotebookApp.* options).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/setup.sh --quiet
PY=$(scripts/find-python.sh)
export JUPYTER_PATH="$ROOT/.jupyter-data${JUPYTER_PATH:+:$JUPYTER_PATH}"
# Jupyter refuses to run as root without this (containers, CI machines).
ROOT_FLAG=()
LAB_ROOT_FLAG=()
if [ "$(id -u)" = 0 ]; then
  ROOT_FLAG=(--allow-root)
  LAB_ROOT_FLAG=(--ServerApp.allow_root=True)
fi

if command -v jupyter-lab >/dev/null; then
  echo "open-notebooks: your JupyterLab ($(command -v jupyter-lab))"
  exec jupyter-lab --ip=127.0.0.1 --notebook-dir=notebooks "${ROOT_FLAG[@]}" "$@"
fi
# JupyterLab may live in another Python (pip --user, a venv) than Debian's notebook tools.
for candidate in "$PY" "$(command -v python3 || true)"; do
  if [ -n "$candidate" ] && "$candidate" -c 'import jupyterlab.labapp' >/dev/null 2>&1; then
    echo "open-notebooks: your JupyterLab ($candidate -m jupyterlab)"
    exec "$candidate" -m jupyterlab --ip=127.0.0.1 --notebook-dir=notebooks "${ROOT_FLAG[@]}" "$@"
  fi
done

LAB_ERRORS=$(mktemp)
trap 'rm -f "$LAB_ERRORS"' EXIT
if bash scripts/setup.sh --quiet --lab 2> >(tee "$LAB_ERRORS" >&2); then
  LAB_PY=$(scripts/find-python.sh jupyter_server jupyterlab_server)
  echo "open-notebooks: JupyterLab 3.6 from jupyterlab-app/ (no JupyterLab is installed; pip install jupyterlab to use your own)"
  rm -f "$LAB_ERRORS"
  exec "$LAB_PY" jupyterlab-app/main.py --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks \
    "${LAB_ROOT_FLAG[@]}" "$@"
fi
WHY=$(tail -1 "$LAB_ERRORS")
if "$PY" -c 'import notebook' >/dev/null 2>&1; then
  echo "open-notebooks: classic Notebook ($PY), because JupyterLab could not be set up: ${WHY:-see above}" >&2
  exec "$PY" -m notebook --ip=127.0.0.1 --notebook-dir=notebooks "${ROOT_FLAG[@]}" "$@"
fi
echo "open-notebooks: no Jupyter server can run: JupyterLab could not be set up (${WHY:-see above}) and classic Notebook is not installed; run scripts/setup.sh --lab" >&2
exit 1
