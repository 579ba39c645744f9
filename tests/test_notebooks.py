"""The research notebooks: committed clean, papermill parameters, and every one runs.

Each notebook runs through papermill in a fresh kernel with small parameters injected after its
`parameters` cell (experiments.reporting.notebooks), and fails on the first cell that raises. How
long they take is not checked here: timings belong in the benchmarks.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import nbformat
import numpy as np
import pytest

from experiments import definitions
from experiments.analysis import compare, kpis
from experiments.engines import registry
from experiments.reporting import findings, notebooks, numbers, plots
from experiments.run import RunSpec

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


PARITY_SENTENCE = re.compile(
    r"^(?P<label>[^:]+): (?:(?P<reached>[\d,]+) of (?P<runs>[\d,]+) runs reach fee parity .*?"
    r"first on day (?P<p50>[\d,]+) at the median|No run of (?P<none>[\d,]+) reaches fee parity)"
    r".*At fee parity within 730 days: (?P<within>[\d.]+%) of (?P<of>[\d,]+) runs"
)


def _texts(executed, kind: str) -> list[str]:
    """Every code cell's stream text (`kind` 'stream') or markdown display ('text/markdown')."""
    return [
        o.text if kind == "stream" else o.data[kind]
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if (o.output_type == "stream" if kind == "stream" else kind in o.get("data", {}))
    ]


def test_02_states_parity_per_run_as_the_kpi_table_does_and_concludes():
    """Notebook 02's parity sentences are the report's (experiments.reporting.findings) and give
    the counts, median day and share of its KPI table and of the fee_parity_day KPI of the same
    runs (simulated again here); the notebook ends on a computed conclusion that quotes them and
    the report's paired differences of the same runs, with no NaN anywhere in its text."""
    runs, years, seed = 8, 3, 1
    path = notebooks.NOTEBOOKS_DIR / "02_reward_pool_sustainability.ipynb"
    executed = notebooks.execute(path, {"RUNS": runs, "YEARS": years, "SEED": seed})
    printed = "".join(_texts(executed, "stream"))
    sentences = [PARITY_SENTENCE.match(line) for line in printed.splitlines() if "parity" in line]

    experiment = definitions.get("fee_split")
    subsets = experiment.subsets()
    spec = RunSpec(runs=runs, years=years, seed=seed, engine="vectorized", common_draws=True)
    frame = registry.simulate([s.parameters for s in subsets], spec)
    summary, per_run = kpis.summarize(frame), kpis.per_run(frame)
    assert len(sentences) == len(subsets) and all(sentences), printed
    assert sum(summary[s.index]["fee_parity_day"]["n"] for s in subsets) > 0  # not vacuous
    table = next(
        line.split()
        for o in executed.cells
        if o.cell_type == "code"
        for out in o.outputs
        for line in out.get("data", {}).get("text/plain", "").splitlines()
        if line.startswith("fee_parity_day ")
    )
    for subset, sentence in zip(subsets, sentences, strict=True):
        parity = summary[subset.index]["fee_parity_day"]
        assert sentence["label"] == subset.label
        if parity["n"]:
            assert (int(sentence["reached"]), int(sentence["runs"])) == (parity["n"], runs)
            assert sentence["p50"] == plots.format_value(parity["p50"], "day")
            assert sentence["p50"] in table  # the table's median parity day is the same
        else:
            assert sentence["reached"] is None and int(sentence["none"]) == runs
        within = summary[subset.index]["fee_parity_within_730d"]["value"]
        assert sentence["within"] == numbers.format_value(within, "share")
        assert int(sentence["of"]) == runs

    last = executed.cells[-1]
    assert last.cell_type == "code" and last.outputs
    conclusion = "".join(_texts(executed, "text/markdown"))
    assert conclusion == last.outputs[-1].data["text/markdown"]
    for sentence in sentences:
        assert sentence.string in conclusion
    # the paired differences as the report writes them, from the same runs
    compared = compare.comparison_table(per_run, ["reward_pool_2y", "fee_parity_day"], 0)
    for row in compared.to_dict(orient="records"):
        text = findings.difference_text(row, kpis.REGISTRY[row["kpi"]].unit, row["kpi"])
        assert text and f"`{row['kpi']}`: {text}" in conclusion
    assert "pairs" in conclusion and "ASSUMPTIONS.md" in conclusion
    assert "nan" not in (printed + conclusion).lower()


def test_01_writes_its_results_outside_results():
    """01's default output folder is under build/ (ignored by git and not published), not
    results/, which `python -m experiments publish results site` reads."""
    notebook = _read(notebooks.NOTEBOOKS_DIR / "01_quick_start.ipynb")
    namespace: dict = {}
    exec(notebook.cells[notebooks.parameters_cell_index(notebook)].source, namespace)
    out = (notebooks.ROOT / namespace["OUT"]).resolve()
    assert not out.is_relative_to(notebooks.ROOT / "results")
    assert out.is_relative_to(notebooks.ROOT / "build")
    assert "build/" in (notebooks.ROOT / ".gitignore").read_text().splitlines()


SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def _plotly_traces(html: str) -> list[dict]:
    """The traces of every figure that plotly's `notebook` renderer wrote into `html`."""
    decoder = json.JSONDecoder()
    traces = []
    for call in re.finditer(r'Plotly\.newPlot\(\s*"[^"]*",\s*', html):
        traces += decoder.raw_decode(html, call.end())[0]
    return traces


def _values(data) -> np.ndarray:
    """A trace's array: a list, or plotly's typed array ({"dtype", "bdata": base64})."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).astype(float)
    return np.asarray(data, dtype="float64")


def test_05_table_is_plain_numbers_and_mu_star_bars_stay_above_zero():
    """Notebook 05's table has no scientific notation, and every mu* error bar ends at or above
    zero (the interval clipped at 0), asymmetric where the clip applies."""
    path = notebooks.NOTEBOOKS_DIR / "05_sensitivity.ipynb"
    executed = notebooks.execute(path, {"SAMPLES": 4})
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    tables = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert tables and "mu* 95% interval" in tables[0]
    assert not SCIENTIFIC.search(tables[0]), SCIENTIFIC.search(tables[0])
    bars = [
        trace for html in tables[1:] for trace in _plotly_traces(html) if trace["type"] == "bar"
    ]
    assert bars
    clipped = 0
    for trace in bars:
        error = trace["error_x"]
        assert error["symmetric"] is False
        x, below, above = (_values(v) for v in (trace["x"], error["arrayminus"], error["array"]))
        assert (below >= 0).all() and (above >= 0).all()
        assert (x - below >= -1e-9 * np.maximum(1.0, np.abs(x))).all()  # the low end is >= 0
        clipped += int((below < above).sum())
    assert clipped > 0  # at 4 samples some symmetric intervals would have gone below zero
