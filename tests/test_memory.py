"""Memory: every path is sized by one model before it runs, and refused (or streamed) up front.

The available memory comes from one function (`experiments.memory.available_bytes`), replaced
here by a tiny budget: a run that would not fit must stop with one line, exit 2, before any
engine is called and without writing anything. The bootstrap's memory must not grow with the
square of the pairs (measured with tracemalloc at two sizes), and its batches must not change
the interval. No timings or absolute peaks are asserted: they depend on the machine.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
from cli_support import main as _main

from experiments import cli, memory
from experiments import plan as plans
from experiments.analysis import compare
from experiments.engines import registry, streaming

TINY = 10**6  # one megabyte "available"


def _no_engine(monkeypatch) -> list:
    """Make every way into an engine fail loudly; returns the list of calls (must stay empty)."""
    calls: list = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("an engine ran although the run should have been refused")

    for target, name in (
        (registry, "simulate"),
        (plans, "simulate"),
        (plans, "stream_kpis"),
        (plans, "execute"),
        (streaming, "run_batch"),
        (streaming, "run_vectorized"),
    ):
        monkeypatch.setattr(target, name, refuse)
    return calls


PATHS = {
    "full in memory": ["baseline", "--runs", "20", "--years", "1"],
    "full, radCAD": ["baseline", "--runs", "2", "--years", "1", "--engine", "radcad"],
    "streamed (frame over 2 GB)": ["baseline", "--runs", "3000", "--years", "5"],
    "KPI-only": ["baseline", "--runs", "20", "--years", "1", "--kpi-only"],
    "KPI-only thinned": ["baseline", "--runs", "20", "--years", "1", "--kpi-only", "--thin", "7"],
    "two subsets, KPI-only": ["fee_split", "--runs", "20", "--years", "1", "--kpi-only"],
    "two subsets, full": ["fee_split", "--runs", "20", "--years", "1"],
}


@pytest.mark.parametrize("args", PATHS.values(), ids=PATHS.keys())
def test_a_run_that_does_not_fit_is_refused_before_any_simulation(
    args, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(memory, "available_bytes", lambda: TINY)
    calls = _no_engine(monkeypatch)
    out = tmp_path / "out"
    assert _main("run", *args, "--out", str(out)) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: run too large"), err
    assert "memory" in err[0] and "available" in err[0]
    assert calls == []
    assert list(tmp_path.iterdir()) == []


def test_the_same_runs_go_ahead_when_the_memory_is_there(tmp_path):
    for args in PATHS.values():
        plan = cli.plan_run(cli.build_parser().parse_args(["run", *args, "--out", str(tmp_path)]))
        assert plans.size_problem(plan, available=10**13) is None
        if plan.kpi_only or plan.engine != "vectorized":  # one way to run: its peak decides
            need = plans.estimated_peak_bytes(plan)
            assert plans.size_problem(plan, available=need) is None
            assert plans.size_problem(plan, available=need - 1) is not None


def test_a_full_run_streams_when_only_the_streamed_peak_fits(tmp_path):
    parser = cli.build_parser()
    plan = cli.plan_run(parser.parse_args(["run", "baseline", "--runs", "1500", "--years", "5"]))
    in_memory = plans.estimated_peak_bytes(plan, streamed=False)
    streamed = plans.estimated_peak_bytes(plan, streamed=True)
    assert streamed < in_memory
    assert not plans.streams_timeseries(plan, available=in_memory)
    assert plans.streams_timeseries(plan, available=in_memory - 1)
    assert plans.size_problem(plan, available=streamed) is None  # streamed instead of refused


def test_every_path_grows_with_its_rows_and_runs():
    """The model is linear in what a run holds: twice the rows need more, never less."""
    for rows, runs in ((10**6, 1000), (10**7, 10**4)):
        small = (rows, runs)
        large = (2 * rows, 2 * runs)
        assert memory.full_run(*large, 1) > memory.full_run(*small, 1)
        assert memory.report(*large) > memory.report(*small)
        assert memory.streamed_run(*large, 1, 10**9, 2) >= memory.streamed_run(*small, 1, 10**9, 2)
        assert memory.kpi_only(large[1], 2, 0, 10**9, 2) > memory.kpi_only(small[1], 2, 0, 10**9, 2)
        assert memory.explorer_download(*large, 2) > memory.explorer_view(*large, 2)
    assert memory.comparison(10**6, 1) == 0 < memory.comparison(10**6, 2)


def test_an_absurd_run_count_is_refused_at_once_in_one_line(tmp_path, monkeypatch, capsys):
    calls = _no_engine(monkeypatch)
    out = tmp_path / "out"
    runs = "10000000000000000000"
    args = ("run", "baseline", "--runs", runs, "--years", "0.003", "--kpi-only", "--out", str(out))
    assert _main(*args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: run too large"), err
    assert calls == [] and list(tmp_path.iterdir()) == []


def test_batches_are_made_lazily_even_for_an_absurd_count():
    ranges = streaming.batches(10**19, 2500)
    assert list(itertools.islice(ranges, 3)) == [
        range(0, 2500),
        range(2500, 5000),
        range(5000, 7500),
    ]
    assert streaming.batch_count(10**19, 2500) == 4 * 10**15
    assert [len(r) for r in streaming.batches(7, 3)] == [3, 3, 1]


def _bootstrap_peak(pairs: int) -> int:
    differences = np.random.default_rng(pairs).normal(size=pairs)
    tracemalloc.start()
    try:
        compare.interval(differences)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_bootstraps_memory_does_not_grow_with_the_square_of_the_pairs():
    small, large = _bootstrap_peak(2_000), _bootstrap_peak(8_000)
    # unbatched, BCa's jackknife alone is n x n: 16x for 4x the pairs
    assert large < 3 * small, (small, large)


def test_batching_the_bootstrap_leaves_the_interval_bit_identical(monkeypatch):
    differences = np.random.default_rng(7).normal(0.3, 1.0, size=500)
    whole = compare.interval(differences)  # 500 pairs: one batch of every resample
    assert compare.bootstrap_batch(500) == compare.RESAMPLES
    monkeypatch.setattr(compare, "BOOTSTRAP_MEMORY_BYTES", 40 * 500 * 37)  # batches of 37
    assert compare.bootstrap_batch(500) == 37
    assert compare.interval(differences) == whole


def test_a_report_that_does_not_fit_is_refused_before_reading(tmp_path, monkeypatch, capsys):
    out = tmp_path / "res"
    assert _main("run", "baseline", "--runs", "2", "--years", "0.1", "--out", str(out)) == 0
    before = (out / "report.html").read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(memory, "available_bytes", lambda: TINY)
    from experiments.reporting import report

    monkeypatch.setattr(report, "write_report", lambda *a, **k: pytest.fail("report built"))
    assert _main("report", str(out)) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "would need" in err[0] and "available" in err[0], err
    assert (out / "report.html").read_bytes() == before


def test_publish_refuses_a_report_it_would_build_that_does_not_fit(tmp_path, monkeypatch, capsys):
    results = tmp_path / "R"
    assert (
        _main("run", "baseline", "--runs", "2", "--years", "0.1", "--out", str(results / "b")) == 0
    )
    (results / "b" / "report.html").unlink()  # publish must build it from the timeseries
    capsys.readouterr()
    monkeypatch.setattr(memory, "available_bytes", lambda: TINY)
    assert _main("publish", str(results), str(tmp_path / "site")) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "RESULTS_DIR" in err[0] and "would need" in err[0], err
    assert not (tmp_path / "site").exists()


def _cgroup(tmp_path, proc_line, files):
    proc = tmp_path / "cgroup"
    proc.write_text(proc_line + "\n")
    for name, text in files.items():
        path = tmp_path / "fs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return proc, tmp_path / "fs"


def test_a_cgroup_v2_limit_bounds_the_memory_available(tmp_path):
    proc, root = _cgroup(
        tmp_path, "0::/job", {"job/memory.max": "3000000000\n", "job/memory.current": "1000000000"}
    )
    assert memory.cgroup_headroom(proc, root) == 2_000_000_000
    (root / "job" / "memory.max").write_text("max\n")
    assert memory.cgroup_headroom(proc, root) is None


def test_a_cgroup_v1_limit_bounds_the_memory_available(tmp_path, monkeypatch):
    proc, root = _cgroup(
        tmp_path,
        "4:memory:/docker/abc",
        {
            "memory/docker/abc/memory.limit_in_bytes": "2000000000",
            "memory/docker/abc/memory.usage_in_bytes": "500000000",
            "memory/memory.limit_in_bytes": "9223372036854771712",  # the host: no limit
            "memory/memory.usage_in_bytes": "7000000000",
        },
    )
    assert memory.cgroup_headroom(proc, root) == 1_500_000_000
    monkeypatch.setattr(memory, "cgroup_headroom", lambda: 1_500_000_000)
    assert memory.available_bytes() <= 1_500_000_000
