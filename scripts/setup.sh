#!/usr/bin/env bash
# Installs what the notebooks need, only what is missing, and is safe to rerun:
#   - npm packages (npm install when node_modules is missing or older than package-lock.json)
#   - Jupyter (Debian packages when root, pip otherwise)
#   - the tslab kernel, registered to THIS checkout's tslab and node
#   - Chromium for the browser test, only with --browser
#   - everything the tests need (Chromium and GDAL's gdalinfo) with --tests
# Usage: scripts/setup.sh [--browser] [--tests] [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

WANT_BROWSER=0
WANT_GDAL=0
QUIET=0
for arg in "$@"; do
  case "$arg" in
    --browser) WANT_BROWSER=1 ;;
    --tests)
      WANT_BROWSER=1
      WANT_GDAL=1
      ;;
    --quiet) QUIET=1 ;;
    -h | --help)
      sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown option $arg (use --browser, --tests, --quiet)" >&2
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
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm install (node_modules missing or older than package-lock.json)"
  # Not `npm ci`: npm 11 leaves Biome's other-platform optional packages out of the lock
  # file and then refuses its own lock in ci mode. install still follows the lock's versions.
  npm install --no-audit --no-fund
else
  say "npm packages up to date"
fi
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
# The kernel spec is written directly rather than with `tslab install`, whose spec runs
# `tslab` from PATH: that may be another checkout's tslab or missing when Jupyter is started
# from a desktop launcher. Absolute paths to node and this tslab avoid both.
KERNEL_DIR=$("$PY" -c 'from jupyter_core.paths import jupyter_data_dir; import os; print(os.path.join(jupyter_data_dir(), "kernels", "tslab"))')
mkdir -p "$KERNEL_DIR"
SPEC=$(NODE="$NODE" TSLAB="$TSLAB" node -e '
  const spec = {
    argv: [process.env.NODE, process.env.TSLAB, "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript",
    language: "typescript",
    metadata: { "ee-snippets": { checkout: process.cwd() } },
  };
  process.stdout.write(JSON.stringify(spec, null, 2) + "\n");')
if [ ! -f "$KERNEL_DIR/kernel.json" ] || [ "$(cat "$KERNEL_DIR/kernel.json")" != "$SPEC" ]; then
  printf '%s' "$SPEC" >"$KERNEL_DIR/kernel.json"
  say "registered the tslab kernel in $KERNEL_DIR"
else
  say "tslab kernel already registered in $KERNEL_DIR"
fi
# Another tslab spec earlier on the Jupyter path (JUPYTER_PATH, a venv) would win: check
# which one Jupyter actually resolves.
RESOLVED=$("$PY" -c 'from jupyter_client.kernelspec import KernelSpecManager; s = KernelSpecManager().get_kernel_spec("tslab"); print(s.argv[1], s.resource_dir)')
case "$RESOLVED" in
  "$TSLAB "*) ;;
  *) fail "Jupyter resolves the tslab kernel to another spec ($RESOLVED), not this checkout's $TSLAB. Remove that spec (jupyter kernelspec remove tslab) or unset JUPYTER_PATH, then rerun." ;;
esac

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
say "done"
