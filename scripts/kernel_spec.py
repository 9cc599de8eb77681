#!/usr/bin/env python3
"""Registers the tslab kernel for this checkout without taking over the user's own.

    python3 scripts/kernel_spec.py --node /usr/bin/node --tslab $ROOT/node_modules/tslab/bin/tslab
        [--global] [--quiet]

- Always writes this checkout's spec to .jupyter-data/kernels/tslab (git-ignored). The
  project's launches (npm start, npm test, npm run notebook) put .jupyter-data first on
  JUPYTER_PATH, which Jupyter searches before the user's and the system's kernel folders, so
  they run this checkout's tslab whatever else is registered.
- Registers it globally (the user's Jupyter data folder) only where no tslab spec exists, or
  with --global. A user's tslab for other projects, or another clone's, is left alone.
- A global tslab spec whose program is gone (its checkout was deleted) gives every notebook
  a dead kernel: it is reported and repaired to point here.
Run it with the Python that has jupyter_client (scripts/find-python.sh prints it).
"""

import argparse
import json
import os
import sys

try:
    from jupyter_core.paths import jupyter_data_dir, jupyter_path
except ImportError as error:
    sys.exit(f"kernel_spec: {error}: run it with the Python that scripts/find-python.sh prints.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_DATA = os.path.join(ROOT, ".jupyter-data")
NAME = "tslab"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--node", required=True, help="absolute path of node")
    parser.add_argument("--tslab", required=True, help="absolute path of this checkout's tslab")
    parser.add_argument("--global", dest="register_global", action="store_true", help="also make it the user's tslab kernel")
    parser.add_argument("--data-dir", default=LOCAL_DATA, help=f"where this checkout's spec goes (default {LOCAL_DATA})")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args()


def spec_for(node, tslab):
    # Absolute paths: a spec running `tslab` from PATH may find another checkout's tslab, or
    # none when Jupyter is started from a desktop launcher.
    return {
        "argv": [node, tslab, "kernel", "--config-path", "{connection_file}"],
        "display_name": "TypeScript",
        "language": "typescript",
        "metadata": {"ee-snippets": {"checkout": ROOT}},
    }


def write_spec(folder, spec):
    """Writes kernel.json; returns whether anything changed."""
    path = os.path.join(folder, "kernel.json")
    text = json.dumps(spec, indent=2) + "\n"
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return True


def read_spec(folder):
    try:
        with open(os.path.join(folder, "kernel.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def missing_programs(spec):
    """Absolute paths the spec runs that do not exist (a deleted checkout, a removed node)."""
    argv = (spec or {}).get("argv") or []
    return [arg for arg in argv[:2] if os.path.isabs(arg) and not os.path.exists(arg)]


def global_spec_folder(local_data):
    """The tslab spec Jupyter finds outside this checkout's own folder, or None."""
    local = os.path.realpath(local_data)
    for folder in jupyter_path("kernels"):
        if os.path.realpath(os.path.dirname(folder)) == local:
            continue
        candidate = os.path.join(folder, NAME)
        if os.path.isfile(os.path.join(candidate, "kernel.json")):
            return candidate
    return None


def main():
    args = parse_args()
    say = (lambda message: None) if args.quiet else (lambda message: print(f"setup: {message}"))
    spec = spec_for(args.node, args.tslab)

    local = os.path.join(args.data_dir, "kernels", NAME)
    if write_spec(local, spec):
        say(f"wrote this checkout's tslab kernel spec to {local} (used through JUPYTER_PATH)")

    user_folder = os.path.join(jupyter_data_dir(), "kernels", NAME)
    found = global_spec_folder(args.data_dir)
    if args.register_global:
        write_spec(user_folder, spec)
        # Always said: the user asked for it, and it replaces whatever was there.
        print(f"setup: registered this checkout's tslab as the user's kernel in {user_folder} (--global)")
    elif found is None:
        write_spec(user_folder, spec)
        say(f"no tslab kernel was registered: registered this checkout's in {user_folder}")
    else:
        existing = read_spec(found)
        dead = missing_programs(existing) if existing else ["(unreadable kernel.json)"]
        if dead:
            checkout = ((existing or {}).get("metadata") or {}).get("ee-snippets", {}).get("checkout")
            where = f" (registered by the checkout {checkout})" if checkout else ""
            # Always said, even with --quiet: it changes the user's configuration.
            print(f"setup: the tslab kernel in {found}{where} runs {', '.join(dead)}, which no longer exists")
            if os.access(found, os.W_OK):
                write_spec(found, spec)
                print(f"setup: repaired it to run this checkout's tslab ({args.tslab})")
            else:
                print(
                    f"setup: cannot rewrite {found}: remove it (jupyter kernelspec remove {NAME}) "
                    "or rerun scripts/setup.sh --global-kernel to register this checkout's in your own Jupyter folder",
                    file=sys.stderr,
                )
        elif os.path.realpath(found) != os.path.realpath(user_folder) or (existing or {}).get("argv") != spec["argv"]:
            say(f"kept the tslab kernel in {found} for your other notebooks (rerun scripts/setup.sh --global-kernel to make it this checkout's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
