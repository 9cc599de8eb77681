#!/usr/bin/env bash
# Installs what the notebooks need, only what is missing, and is safe to rerun:
#   - npm packages (npm ci from package-lock.json when node_modules does not match it)
#   - Jupyter (Debian packages when root, pip otherwise)
#   - the tslab kernel of THIS checkout in .jupyter-data (the project's launches put it first
#     on JUPYTER_PATH); the user's global tslab spec only where none exists, or with
#     --global-kernel; a global spec left dead by a deleted checkout is reported and repaired
#   - our JupyterLab (jupyterlab-app/, built once per lock file) with --lab
#   - Chromium for the browser tests, only with --browser
#   - everything the tests need (JupyterLab, Chromium, GDAL's gdalinfo) with --tests
# Usage: scripts/setup.sh [--lab] [--browser] [--tests] [--global-kernel] [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

WANT_BROWSER=0
WANT_GDAL=0
WANT_LAB=0
GLOBAL_KERNEL=()
QUIET=0
QUIET_FLAG=()
for arg in "$@"; do
  case "$arg" in
    --browser) WANT_BROWSER=1 ;;
    --lab) WANT_LAB=1 ;;
    --tests)
      WANT_BROWSER=1
      WANT_GDAL=1
      WANT_LAB=1
      ;;
    --global-kernel) GLOBAL_KERNEL=(--global) ;;
    --quiet)
      QUIET=1
      QUIET_FLAG=(--quiet)
      ;;
    -h | --help)
      sed -n 2,13p "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown option $arg (use --lab, --browser, --tests, --global-kernel, --quiet)" >&2
      exit 2
      ;;
  esac
done

say() { [ "$QUIET" = 1 ] || echo "setup: $*"; }
fail() {
  echo "setup: $*" >&2
  exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }

APT_UPDATED=0
apt_install() {
  # A fresh container has empty package lists: update once, only when an install needs it.
  if [ "$APT_UPDATED" = 0 ]; then
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; then
      return 0
    fi
    say "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# --- Node and npm packages -------------------------------------------------------------
command -v node >/dev/null || fail "node is not installed: install Node.js 20.19 or newer (https://nodejs.org)."
NODE=$(command -v node)
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  fail "node $(node --version) is too old: p-limit 7 is ESM-only and tslab loads it with require(esm), which needs Node 20.19 or newer."
fi
# Whether DIR/node_modules holds what DIR/package-lock.json pins. npm records what it
# installed in node_modules/.package-lock.json; the lock also lists other platforms'
# optional packages (Biome's binaries), which are never installed here.
installed_as_locked() {
  node -e '
    const fs = require("node:fs");
    const path = require("node:path");
    const read = (file) => JSON.parse(fs.readFileSync(path.join(process.argv[1], file), "utf8")).packages;
    let locked, installed;
    try {
      locked = read("package-lock.json");
      installed = read("node_modules/.package-lock.json");
    } catch {
      process.exit(1);
    }
    for (const [name, entry] of Object.entries(locked)) {
      if (!name.startsWith("node_modules/")) continue;
      const have = installed[name];
      if (have ? have.version !== entry.version : !entry.optional) process.exit(1);
    }
    for (const name of Object.keys(installed)) if (!(name in locked)) process.exit(1);
  ' "$1"
}

# npm ci for DIR (installs exactly the lock, fails if package.json and the lock disagree),
# npm install where there is no lock yet.
npm_install_in() {
  local dir=$1
  if installed_as_locked "$dir"; then
    say "npm packages in $dir match its package-lock.json"
  elif [ -L "$dir/node_modules" ]; then
    # npm ci deletes node_modules first: never through a link to an install others share.
    say "warning: $dir/node_modules is a link to $(readlink "$dir/node_modules") and does not match $dir/package-lock.json; run npm ci there"
  elif [ -f "$dir/package-lock.json" ]; then
    say "npm ci in $dir (node_modules does not match package-lock.json)"
    (cd "$dir" && npm ci --no-audit --no-fund) ||
      fail "npm ci in $dir failed (see npm's messages above: is the npm registry reachable?)"
  else
    say "npm install in $dir (no package-lock.json)"
    (cd "$dir" && npm install --no-audit --no-fund) ||
      fail "npm install in $dir failed (see npm's messages above: is the npm registry reachable?)"
  fi
}
npm_install_in "$ROOT"
TSLAB="$ROOT/node_modules/tslab/bin/tslab"
[ -f "$TSLAB" ] || fail "$TSLAB is missing after npm install: check that tslab is in package.json."

# --- Jupyter ---------------------------------------------------------------------------
if ! PY=$(scripts/find-python.sh); then
  if is_root && command -v apt-get >/dev/null; then
    say "installing Jupyter from Debian packages"
    apt_install jupyter-notebook python3-nbclient python3-nbconvert jupyter-client
  elif command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then
    say "installing Jupyter with pip (--user)"
    python3 -m pip install --user --quiet notebook nbclient nbconvert nbformat jupyter_client ||
      python3 -m pip install --user --quiet --break-system-packages notebook nbclient nbconvert nbformat jupyter_client
  else
    fail "Jupyter is not installed and this script cannot install it (not root with apt-get, no pip).
  Install it yourself, e.g.: sudo apt-get install jupyter-notebook python3-nbclient python3-nbconvert
  or: python3 -m pip install --user notebook nbclient nbconvert  -- then rerun scripts/setup.sh."
  fi
  PY=$(scripts/find-python.sh) || fail "Jupyter was installed but no python can import nbclient, nbconvert and jupyter_client; check the output above."
fi
# `jupyter kernelspec list` (the first thing to try when a kernel is "not found") comes
# from Debian's jupyter-client package, which jupyter-notebook does not pull in.
if ! command -v jupyter-kernelspec >/dev/null && is_root && command -v apt-get >/dev/null; then
  apt_install jupyter-client >/dev/null || say "could not install jupyter-client (jupyter kernelspec); continuing"
fi
say "Jupyter tools: $PY ($("$PY" -c 'import notebook; print("notebook", notebook.__version__)' 2>/dev/null || echo 'no notebook server'))"

# --- tslab kernel ----------------------------------------------------------------------
"$PY" scripts/kernel_spec.py --node "$NODE" --tslab "$TSLAB" "${GLOBAL_KERNEL[@]}" "${QUIET_FLAG[@]}"
# Check what the project's launches resolve, with the JUPYTER_PATH they set.
RESOLVED=$(JUPYTER_PATH="$ROOT/.jupyter-data${JUPYTER_PATH:+:$JUPYTER_PATH}" "$PY" -c 'from jupyter_client.kernelspec import KernelSpecManager; s = KernelSpecManager().get_kernel_spec("tslab"); print(s.argv[1], s.resource_dir)')
case "$RESOLVED" in
  "$TSLAB "*) ;;
  *) fail "Jupyter resolves the tslab kernel to $RESOLVED, not this checkout's $TSLAB, even with $ROOT/.jupyter-data first on JUPYTER_PATH; check JUPYTER_PATH and rerun." ;;
esac

# --- JupyterLab (ours, for machines without one; the browser tests use it) ----------------
if [ "$WANT_LAB" = 1 ]; then
  if ! LAB_PY=$(scripts/find-python.sh jupyter_server jupyterlab_server); then
    if is_root && command -v apt-get >/dev/null; then
      say "installing JupyterLab's server half from Debian packages"
      apt_install python3-jupyter-server python3-jupyterlab-server
    else
      fail "JupyterLab's server (jupyter_server, jupyterlab_server) is missing: sudo apt-get install python3-jupyter-server python3-jupyterlab-server"
    fi
    LAB_PY=$(scripts/find-python.sh jupyter_server jupyterlab_server) || fail "no python can import jupyter_server and jupyterlab_server after installing them"
  fi
  npm_install_in "$ROOT/jupyterlab-app"
  # The build is keyed on everything that goes into it; a changed lock rebuilds it.
  LAB_KEY=$(cat jupyterlab-app/package-lock.json jupyterlab-app/package.json jupyterlab-app/index.js jupyterlab-app/webpack.config.js | sha256sum | cut -d' ' -f1)
  if [ "$(cat jupyterlab-app/build/.build-key 2>/dev/null)" != "$LAB_KEY" ]; then
    say "building JupyterLab in jupyterlab-app/build (once per lock file, ~20 s)"
    rm -rf jupyterlab-app/build
    (cd jupyterlab-app && node node_modules/webpack-cli/bin/cli.js >build.log 2>&1) || {
      tail -30 jupyterlab-app/build.log >&2
      fail "the JupyterLab build failed (full log: jupyterlab-app/build.log)"
    }
    echo "$LAB_KEY" >jupyterlab-app/build/.build-key
  else
    say "JupyterLab build is current (jupyterlab-app/build)"
  fi
fi

# --- Chromium (browser test only) ------------------------------------------------------
if [ "$WANT_BROWSER" = 1 ]; then
  if [ -x /usr/bin/chromium ]; then
    say "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
  elif is_root && command -v apt-get >/dev/null; then
    say "installing chromium"
    apt_install chromium
  else
    fail "Chromium is missing: install it (sudo apt-get install chromium) for the browser test."
  fi
fi
# --- GDAL (tests check GeoTIFFs with gdalinfo, an independent reader) -------------------
if [ "$WANT_GDAL" = 1 ] && ! command -v gdalinfo >/dev/null; then
  if is_root && command -v apt-get >/dev/null; then
    say "installing gdal-bin"
    apt_install gdal-bin
  else
    fail "gdalinfo is missing: install it (sudo apt-get install gdal-bin) for the GeoTIFF tests."
  fi
fi
# --- Python packages the tests use as independent checkers ------------------------------
# GDAL's own COG validator (python3-gdal) and Google's discovery-document client
# (python3-googleapi), which must be able to build a client from the emulator's document.
if [ "$WANT_GDAL" = 1 ]; then
  missing=()
  [ -f /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py ] ||
    missing+=(python3-gdal)
  /usr/bin/python3 -c 'import googleapiclient.discovery' 2>/dev/null || missing+=(python3-googleapi)
  if [ "${#missing[@]}" -gt 0 ]; then
    if is_root && command -v apt-get >/dev/null; then
      say "installing ${missing[*]}"
      apt_install "${missing[@]}"
    else
      fail "${missing[*]} missing: install with sudo apt-get install ${missing[*]} (the tests' independent checkers)."
    fi
  fi
fi
say "done"
