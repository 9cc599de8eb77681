#!/usr/bin/env bash
# `npm run notebook`: opens the notebooks in JupyterLab on 127.0.0.1 only:
#   1. the user's own JupyterLab (jupyter-lab on PATH, or a Python that imports jupyterlab);
#   2. otherwise ours: JupyterLab 3.6 built from npm in jupyterlab-app/ on first use (then
#      cached), served by Debian's jupyter_server and jupyterlab_server;
#   3. classic Notebook only when neither can run, saying why.
# The kernel is this checkout's tslab (.jupyter-data, first on JUPYTER_PATH), whatever tslab
# the user has registered for other projects. Extra arguments go to the server (e.g.
# --port=9999 for the user's JupyterLab or classic, --ServerApp.port=9999 for ours).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export JUPYTER_PATH="$ROOT/.jupyter-data${JUPYTER_PATH:+:$JUPYTER_PATH}"
# Jupyter refuses to run as root without this (containers, CI machines).
ROOT_FLAG=()
LAB_ROOT_FLAG=()
if [ "$(id -u)" = 0 ]; then
  ROOT_FLAG=(--allow-root)
  LAB_ROOT_FLAG=(--ServerApp.allow_root=True)
fi

# The user's JupyterLab, which may live in another Python (pip --user, a venv) than Debian's
# notebook tools. jupyterlab.labapp, not jupyterlab: ./jupyterlab-app is no package, but a
# folder named jupyterlab would import as one from here.
USER_LAB=()
if command -v jupyter-lab >/dev/null; then
  USER_LAB=("$(command -v jupyter-lab)")
else
  for candidate in /usr/bin/python3 "$(command -v python3 || true)"; do
    if [ -n "$candidate" ] && "$candidate" -c 'import jupyterlab.labapp' >/dev/null 2>&1; then
      USER_LAB=("$candidate" -m jupyterlab)
      break
    fi
  done
fi
if [ ${#USER_LAB[@]} -gt 0 ]; then
  bash scripts/setup.sh --quiet
  echo "open-notebooks: your JupyterLab (${USER_LAB[*]})"
  exec "${USER_LAB[@]}" --ip=127.0.0.1 --notebook-dir=notebooks "${ROOT_FLAG[@]}" "$@"
fi

LAB_ERRORS=$(mktemp)
if bash scripts/setup.sh --quiet --lab 2> >(tee "$LAB_ERRORS" >&2); then
  rm -f "$LAB_ERRORS"
  LAB_PY=$(scripts/find-python.sh jupyter_server jupyterlab_server)
  echo "open-notebooks: JupyterLab 3.6 from jupyterlab-app/ (no JupyterLab is installed; pip install jupyterlab to use your own)"
  exec "$LAB_PY" jupyterlab-app/main.py --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks \
    "${LAB_ROOT_FLAG[@]}" "$@"
fi
WHY=$(grep -v '^\s*$' "$LAB_ERRORS" | tail -1 || true)
rm -f "$LAB_ERRORS"
# Without --lab: what the kernel and classic Notebook need may still be in place.
bash scripts/setup.sh --quiet
PY=$(scripts/find-python.sh)
if "$PY" -c 'import notebook' >/dev/null 2>&1; then
  echo "open-notebooks: classic Notebook ($PY), because JupyterLab could not be set up: ${WHY:-see above}" >&2
  exec "$PY" -m notebook --ip=127.0.0.1 --notebook-dir=notebooks "${ROOT_FLAG[@]}" "$@"
fi
echo "open-notebooks: no Jupyter server can run: JupyterLab could not be set up (${WHY:-see above}) and classic Notebook is not installed; run scripts/setup.sh --lab" >&2
exit 1
