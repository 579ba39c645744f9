"""Run the research notebooks headless and export them to HTML: `python -m experiments.reporting.notebooks`.

`make notebooks` calls this. Each notebook is executed by papermill in a fresh `python3` kernel whose
working directory is the notebook's folder, and fails on the first cell that raises. No executed
.ipynb is written (papermill's output path is None): the committed notebook stays without outputs
and only the HTML export goes to build/notebooks/ (ignored by git). Parameters are papermill's: a
cell tagged `injected-parameters` holding the new assignments is inserted after the cell tagged
`parameters`, so the notebook's own defaults stay visible above it. Only the names that cell
assigns are passed, so one `--set` can serve every notebook that has the parameter.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
OUT_DIR = ROOT / "build" / "notebooks"
PARAMETERS_TAG = "parameters"
TIMEOUT_SECONDS = 300  # per cell
ANSI_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")  # colours in tracebacks


class NotebookError(Exception):
    """A notebook that cannot be run as asked (one-line message)."""


def notebook_paths(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (`NN_name.ipynb`), in order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def parameters_cell_index(notebook: nbformat.NotebookNode) -> int:
    for index, cell in enumerate(notebook.cells):
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return index
    raise NotebookError(f"no cell tagged '{PARAMETERS_TAG}'")


def execute(
    path: Path,
    parameters: Mapping[str, Any] | None = None,
    timeout: int = TIMEOUT_SECONDS,
) -> nbformat.NotebookNode:
    """Run the notebook at `path` with papermill and return it with its outputs.

    Nothing is written: neither the notebook at `path` nor an executed copy. Raises NotebookError
    when parameters are given and no cell is tagged `parameters` (papermill would only warn and
    inject them at the top), and papermill's PapermillExecutionError on the first failing cell.
    """
    import papermill

    parameters = dict(parameters or {})
    if parameters:
        parameters_cell_index(nbformat.read(path, as_version=4))
    return papermill.execute_notebook(
        str(path),
        None,  # no output notebook
        parameters=parameters,
        kernel_name="python3",
        language="python",
        cwd=str(path.parent),
        progress_bar=False,
        request_save_on_cell_execute=False,
        execution_timeout=timeout,
    )


def export_html(notebook: nbformat.NotebookNode, target: Path) -> Path:
    """Write the executed notebook as one HTML page."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


def _parse_parameter(item: str) -> tuple[str, Any]:
    """`NAME=VALUE` with a Python literal value (`RUNS=3`, `ENGINE='vectorized'`)."""
    name, sep, text = item.partition("=")
    if not sep or not name.strip().isidentifier():
        raise NotebookError(f"invalid --set {item!r}: expected NAME=VALUE")
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise NotebookError(f"invalid --set {item!r}: VALUE must be a Python literal") from None
    if not _passable(value):
        raise NotebookError(
            f"invalid --set {item!r}: VALUE must be None, a bool, number or string, "
            "or a list or dict (string keys) of those"
        )
    return name.strip(), value


def _passable(value: Any) -> bool:
    """What papermill's Python translator writes back as the same value (it would turn a tuple,
    set, bytes or complex number into a string)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_passable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _passable(v) for k, v in value.items())
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.reporting.notebooks",
        description="Execute the notebooks and export them to HTML.",
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="HTML folder (build/notebooks)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_SECONDS, help="seconds per cell")
    parser.add_argument(
        "--set",
        dest="parameters",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter in every notebook that has it (repeatable)",
    )
    args = parser.parse_intermixed_args(argv)  # notebooks may follow --set
    try:
        parameters = dict(_parse_parameter(item) for item in args.parameters)
    except NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = args.notebooks or notebook_paths()
    missing = [p for p in paths if not p.is_file()]
    if missing or not paths:
        print(
            f"error: no notebook at '{missing[0] if missing else NOTEBOOKS_DIR}'", file=sys.stderr
        )
        return 2
    failed = []
    for path in paths:
        started = time.perf_counter()
        try:
            notebook = execute(path, _known(path, parameters), timeout=args.timeout)
        except Exception as error:  # a failing cell, a kernel that died, a timeout: report all
            failed.append(path.name)
            print(f"FAILED {path.name}: {_reason(error)}", file=sys.stderr)
            continue
        target = export_html(notebook, args.out / f"{path.stem}.html")
        print(f"ran {path.name} in {time.perf_counter() - started:.1f} s -> {target}")
    if failed:
        print(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _reason(error: Exception) -> str:
    """One line: the failing cell's exception (papermill's error carries it), else the first line
    of the message (a cell timeout, a kernel that died)."""
    if getattr(error, "ename", None):
        value = str(getattr(error, "evalue", "") or "").strip().splitlines()
        return f"{error.ename}: {value[0]}" if value else error.ename
    lines = ANSI_ESCAPES.sub("", str(error)).strip().splitlines()
    return (lines or [type(error).__name__])[0]


def _known(path: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides that this notebook's parameters cell defines (others would be noise)."""
    if not parameters:
        return {}
    notebook = nbformat.read(path, as_version=4)
    try:
        source = notebook.cells[parameters_cell_index(notebook)].source
    except NotebookError:  # no parameters cell: it defines none of them
        return {}
    names = {
        target.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return {k: v for k, v in parameters.items() if k in names}


if __name__ == "__main__":
    raise SystemExit(main())
