#!/usr/bin/env python3
"""Executes a notebook headless on the tslab kernel, then signs it and optionally exports HTML.

    python3 scripts/execute_notebook.py notebooks/x.ipynb --output out.ipynb [--html out.html]
        [--set NAME=VALUE ...] [--timeout SECONDS] [--kernel tslab]

--set replaces `const NAME = ...;` in the cell tagged "parameters" (VALUE is a TypeScript
expression, e.g. '"2024-03-01"' or 8), so tests and scripts change settings without editing
the notebook. On failure it prints the failing cell's source and its stream output (tslab
reports errors on stderr, with no traceback), saves what ran so far, and exits 1.
Run it with the Python that has nbclient (scripts/find-python.sh prints it).
"""

import argparse
import atexit
import os
import re
import sys
import time

# ipykernel's debugger import prints a warning per process on Python 3.11 otherwise.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

try:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbformat.sign import NotebookNotary
except ImportError as error:
    sys.exit(
        f"execute_notebook: {error}. This Python ({sys.executable}) lacks Jupyter's tools: "
        "run scripts/setup.sh, then use the Python that scripts/find-python.sh prints."
    )

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# This checkout's kernel spec (scripts/setup.sh writes it) comes first, so the user's own
# tslab registered for other projects is neither used nor changed.
os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (os.path.join(ROOT, ".jupyter-data"), os.environ.get("JUPYTER_PATH")) if p)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("--output", required=True, help="where to write the executed notebook")
    parser.add_argument("--html", help="also export the executed notebook to this HTML file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--kernel", default="tslab")
    return parser.parse_args()


def check_kernel(name):
    """Fails early, with the fix, when the kernel is missing or belongs to another checkout."""
    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        sys.exit(f"execute_notebook: no Jupyter kernel named {name!r}: run scripts/setup.sh to register tslab.")
    # A spec whose program is gone (its checkout was deleted) would fail deep in the kernel
    # launcher with a Python traceback.
    missing = [arg for arg in spec.argv[:2] if os.path.isabs(arg) and not os.path.exists(arg)]
    if missing:
        sys.exit(
            f"execute_notebook: the {name!r} kernel in {spec.resource_dir} runs {', '.join(missing)}, "
            "which does not exist: run scripts/setup.sh to register this checkout's."
        )
    expected = os.path.join(ROOT, "node_modules", "tslab", "bin", "tslab")
    if name == "tslab" and os.path.realpath(spec.argv[1] if len(spec.argv) > 1 else "") != os.path.realpath(expected):
        print(
            f"execute_notebook: warning: the tslab kernel runs {spec.argv[1:2]}, not this checkout's "
            f"{expected}; run scripts/setup.sh to register this one.",
            file=sys.stderr,
        )


def apply_parameters(nb, assignments):
    if not assignments:
        return
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        sys.exit("execute_notebook: --set needs a code cell tagged 'parameters' in the notebook.")
    cell = cells[0]
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
            sys.exit(f"execute_notebook: --set {assignment!r} is not NAME=VALUE.")
        pattern = re.compile(rf"^(\s*(?:export\s+)?(?:const|let)\s+{re.escape(name)}\b[^=\n]*=\s*).*?;[ \t]*(//.*)?$", re.M)
        source, count = pattern.subn(lambda m: f"{m.group(1)}{value}; // set by --set", cell.source, count=1)
        if count == 0:
            sys.exit(f"execute_notebook: the parameters cell has no one-line `const {name} = ...;` to set.")
        cell.source = source


def stream_text(cell):
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(f"[{output.get('name')}] {output.get('text', '')}")
        elif output.get("output_type") == "error":
            parts.append("\n".join(output.get("traceback", [])) or f"{output.get('ename')}: {output.get('evalue')}")
    return "".join(parts).rstrip() or "(no output: the kernel reported the error without a message)"


def main():
    args = parse_args()
    check_kernel(args.kernel)
    nb = nbformat.read(args.notebook, as_version=4)
    apply_parameters(nb, args.set)
    workdir = os.path.dirname(os.path.abspath(args.notebook))
    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        resources={"metadata": {"path": workdir}},
        # A failing cell must stop the run: tslab aborts requests that arrive in the next
        # 200 ms, so later cells would be skipped silently anyway.
        allow_errors=False,
        record_timing=True,
    )
    started = time.monotonic()
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        failure = error
    except (OSError, RuntimeError) as error:
        # The kernel did not start (its program could not run, or it died before replying).
        # nbclient's exit hook would then fail on the kernel it never got, with a traceback.
        atexit.unregister(client._cleanup_kernel)
        sys.exit(f"execute_notebook: the {args.kernel!r} kernel could not start: {error}. Run scripts/setup.sh, then retry.")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)) or ".", exist_ok=True)
    if failure is not None:
        nbformat.write(nb, args.output)
        index, cell = failing_cell(nb)
        print(f"execute_notebook: {args.notebook} failed", file=sys.stderr)
        if cell is not None:
            print(f"--- cell {index} source ---\n{cell.source}\n--- cell {index} output ---\n{stream_text(cell)}", file=sys.stderr)
        print(f"--- error ---\n{type(failure).__name__}: {str(failure).strip()[:2000]}", file=sys.stderr)
        print(f"(partial notebook saved to {args.output})", file=sys.stderr)
        return 1
    # Executed headless, the notebook is unsigned: Jupyter would not run its outputs' scripts
    # (the plots) when opened. Signing records it as trusted for this user.
    NotebookNotary().sign(nb)
    nbformat.write(nb, args.output)
    seconds = time.monotonic() - started
    print(f"execute_notebook: ran {sum(c.cell_type == 'code' for c in nb.cells)} code cells of {args.notebook} in {seconds:.1f} s -> {args.output} (signed)")
    if args.html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        with open(args.html, "w", encoding="utf-8") as f:
            f.write(body)
        print(f"execute_notebook: HTML -> {args.html}")
    return 0


def failing_cell(nb):
    """The last code cell that has started executing (nbclient stops at the failing one)."""
    found = (None, None)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        timing = cell.get("metadata", {}).get("execution", {})
        if timing.get("iopub.execute_input") or cell.get("outputs"):
            found = (index, cell)
    return found


if __name__ == "__main__":
    sys.exit(main())
