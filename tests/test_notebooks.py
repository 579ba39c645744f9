"""The research notebooks: committed clean, papermill parameters, and every one runs.

Each notebook runs through papermill in a fresh kernel with small parameters injected after its
`parameters` cell (experiments.reporting.notebooks), and fails on the first cell that raises. How
long they take is not checked here: timings belong in the benchmarks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import nbformat
import pytest

from experiments.reporting import notebooks

PATHS = notebooks.notebook_paths()
# Smaller than the notebooks' own defaults: CI checks that they run, not what they show.
SMALL = {"RUNS": 3, "SAMPLES": 4}


def _read(path):
    return nbformat.read(path, as_version=4)


def test_the_numbered_notebooks_are_all_there():
    assert [p.name[:3] for p in PATHS] == ["00_", "01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_committed_without_outputs(path):
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_says_what_it_answers_and_has_a_parameters_cell(path):
    notebook = _read(path)
    nbformat.validate(notebook)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    cell = notebook.cells[notebooks.parameters_cell_index(notebook)]
    assert cell.cell_type == "code"
    source = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert 'pio.renderers.default = "notebook"' in source
    assert "from experiments" in source  # the project's API, not copied model code


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_runs_without_error(path, tmp_path):
    parameters = {**SMALL, "OUT": str(tmp_path / "results")}  # 01 writes its results there
    before = sorted(path.parent.iterdir())
    executed = notebooks.execute(path, notebooks._known(path, parameters))
    assert sorted(path.parent.iterdir()) == before  # no executed copy beside the notebook
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == (1 if notebooks._known(path, parameters) else 0)


def _tiny_notebook(path, check: str):
    parameters = nbformat.v4.new_code_cell("X = 1")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# tiny"),
            parameters,
            nbformat.v4.new_code_cell(check),
        ]
    )
    nbformat.write(notebook, path)
    return path


def test_command_exports_html_and_fails_on_an_error(tmp_path, capsys):
    good = _tiny_notebook(tmp_path / "01_good.ipynb", "assert X == 2")
    out = tmp_path / "html"
    assert notebooks.main([str(good), "--set", "X=2", "--out", str(out)]) == 0
    assert "<html" in (out / "01_good.html").read_text()
    assert _read(good).cells[2].outputs == []  # the source notebook is not touched
    assert notebooks.main([str(good), "--out", str(out)]) == 1  # X stays 1: the assert fails
    assert "FAILED 01_good.ipynb: AssertionError" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_good.ipynb", "html"]
    assert notebooks.main([str(tmp_path / "missing.ipynb")]) == 2
    assert notebooks.main([str(good), "--set", "X"]) == 2
    assert notebooks.main([str(good), "--set", "X=(1, 2)"]) == 2  # papermill would pass "(1, 2)"
    err = capsys.readouterr().err.splitlines()
    assert [line.startswith("error: invalid --set") for line in err[-2:]] == [True, True]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lab_starts_headless_and_answers_on_loopback():
    """`make lab` starts JupyterLab without a browser (for root too, which Jupyter refuses without
    --allow-root) and serves on 127.0.0.1; stopped as soon as it answers."""
    port = _free_port()
    lab = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_PORT={port}"],
        cwd=notebooks.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: make and jupyter stop together
    )
    answer = None
    try:
        deadline = time.monotonic() + 90
        while answer is None and time.monotonic() < deadline and lab.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as reply:
                    answer = json.load(reply)
            except OSError:
                time.sleep(0.5)
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
        output = lab.communicate(timeout=30)[0]
    assert answer is not None and "version" in answer, output[-2000:]
    assert "--no-browser" in output and "Running as root is not recommended" not in output
