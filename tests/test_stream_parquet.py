"""A full run too big to hold streams batch by batch into timeseries.parquet: same file content,
same KPI tables as the in-memory path; a breach mid-stream leaves nothing; the report reads back
only the columns it draws."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from experiments import cli, plan
from experiments.engines import streaming, vectorized
from experiments.engines.guard import InvariantError
from experiments.reporting import report

COMMON = ["--runs", "4", "--years", "0.3", "--seed", "3", "--engine", "vectorized"]
DAYS = 110 + 1  # 0.3 years


def _main(*args: str) -> int:
    try:
        return cli.main(list(args))
    except SystemExit as stop:
        return stop.code


@pytest.fixture
def tiny_budget(monkeypatch):
    """Every full vectorized run streams, in batches of at most 3 trajectories, evened out
    (4 runs: two batches of 2)."""
    monkeypatch.setattr(plan, "FRAME_MEMORY_BYTES", 0)
    per_trajectory = streaming.BYTES_PER_TRAJECTORY_DAY["full"] * DAYS
    monkeypatch.setattr(streaming, "FRAME_STREAM_MEMORY_BYTES", 3 * per_trajectory)


def _plan(tmp_path, *args: str) -> plan.Plan:
    return cli.plan_run(cli.build_parser().parse_args(["run", *args, "--out", str(tmp_path)]))


def test_only_big_full_vectorized_runs_stream(tmp_path, monkeypatch):
    small = _plan(tmp_path, "baseline", *COMMON)
    assert not plan.streams_timeseries(small)  # today's in-memory path, unchanged
    monkeypatch.setattr(plan, "FRAME_MEMORY_BYTES", 0)
    assert plan.streams_timeseries(small)
    assert not plan.streams_timeseries(_plan(tmp_path, "baseline", *COMMON, "--kpi-only"))
    assert not plan.streams_timeseries(_plan(tmp_path, "baseline", "--engine", "radcad"))


def test_a_frame_over_the_budget_streams_and_its_peak_is_that_of_a_batch(tmp_path):
    long = _plan(tmp_path, "baseline", "--runs", "1000", "--years", "20")
    assert plan.streams_timeseries(long)
    peak = plan.estimated_peak_bytes(long)
    assert peak < plan.estimated_peak_bytes(long, streamed=False)
    assert peak <= 4 * 10**9  # the 4 GB for 1,000 runs x 20 years


def test_a_streamed_run_writes_the_same_files_as_the_in_memory_run(tmp_path, monkeypatch):
    assert _main("run", "fee_split", *COMMON, "--out", str(tmp_path / "held")) == 0
    monkeypatch.setattr(plan, "FRAME_MEMORY_BYTES", 0)
    per_trajectory = streaming.BYTES_PER_TRAJECTORY_DAY["full"] * DAYS
    monkeypatch.setattr(streaming, "FRAME_STREAM_MEMORY_BYTES", 3 * per_trajectory)
    assert _main("run", "fee_split", *COMMON, "--out", str(tmp_path / "streamed")) == 0
    held, streamed = tmp_path / "held", tmp_path / "streamed"
    path = "timeseries.parquet"
    assert pq.ParquetFile(streamed / path).num_row_groups > 1  # written batch by batch
    assert pq.read_schema(streamed / path).equals(pq.read_schema(held / path), check_metadata=True)
    pd.testing.assert_frame_equal(
        pd.read_parquet(streamed / path), pd.read_parquet(held / path), check_exact=True
    )
    for name in ("kpis.json", "kpis.csv", "comparison.csv"):
        assert (streamed / name).read_text() == (held / name).read_text(), name
    manifest = json.loads((streamed / "manifest.json").read_text())
    assert sorted(p.name for p in streamed.iterdir()) == sorted(manifest["files"])
    assert manifest["files"] == json.loads((held / "manifest.json").read_text())["files"]


def test_an_invariant_breach_mid_stream_exits_3_and_writes_nothing(
    tmp_path, monkeypatch, tiny_budget, capsys
):
    check_days = vectorized.check_days

    def breaks_after_the_first_batch(values, names, first_day, subsets, runs, parameters_of):
        if first_day <= 5 < first_day + values.shape[1] and runs.max() == 4:  # batch 2 of 2
            raise InvariantError("invariant broken: test in subset 0 run 4 on day 5")
        check_days(values, names, first_day, subsets, runs, parameters_of)

    written = []
    write_table = pq.ParquetWriter.write_table

    def counted(self, table, *args, **kwargs):
        written.append(len(table))
        return write_table(self, table, *args, **kwargs)

    monkeypatch.setattr(vectorized, "check_days", breaks_after_the_first_batch)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", counted)
    out = tmp_path / "out"
    assert _main("run", "baseline", *COMMON, "--out", str(out)) == 3
    assert written == [2 * DAYS]  # the first batch had reached the file
    assert "invariant broken: test" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_report_of_a_streamed_run_reads_only_the_columns_it_draws(
    tmp_path, monkeypatch, tiny_budget
):
    reads = []
    read_parquet = pd.read_parquet

    def recorded(path, *args, **kwargs):
        reads.append(kwargs.get("columns"))
        return read_parquet(path, *args, **kwargs)

    monkeypatch.setattr(report.pd, "read_parquet", recorded)
    assert _main("run", "baseline", *COMMON, "--out", str(tmp_path / "out")) == 0
    assert reads == [["subset", "run", "timestep", *report.NEEDED_COLUMNS]]
    assert plan.REPORT_COLUMNS == len(reads[0])  # the memory estimate counts those columns
    assert (tmp_path / "out" / "report.html").is_file()


def test_planning_a_run_loads_no_plotting_library():
    # the planner counts the report's columns without importing the report (plotly, Jinja2)
    probe = "import sys, experiments.plan; print(sorted({'plotly', 'jinja2'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
