"""KPI-only streaming equals the full run, batch by batch and on Ray; the CLI's KPI-only mode."""

from __future__ import annotations

import json
import math

import pandas as pd
import psutil
import pytest

from experiments import cli, plan
from experiments.analysis import kpis
from experiments.engines.streaming import batches
from experiments.run import simulate, simulate_kpis
from model import ParameterError, Parameters

SUBSETS = [
    Parameters(),
    Parameters(fee_pool_share=1.0, stress_day=120, stress_price_drop=0.5, stress_exit_share=0.3),
]
RUNS, YEARS, SEED = 30, 1, 17
BATCH = 7  # 60 trajectories: 8 full batches and a tail of 4, two of them spanning both subsets
THIN = 7
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def full():
    return simulate(SUBSETS, runs=RUNS, years=YEARS, seed=SEED, engine="vectorized")


@pytest.fixture(scope="module")
def streamed():
    return simulate_kpis(SUBSETS, runs=RUNS, years=YEARS, seed=SEED, thin=THIN, batch_size=BATCH)


def _same_summary(a: dict, b: dict) -> None:
    """Equal statistics, NaN equal to NaN (json turns both into the same text)."""
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_batches_cover_every_trajectory_once_with_an_uneven_tail():
    ranges = list(batches(2 * RUNS, BATCH))
    assert [len(r) for r in ranges] == [7] * 8 + [4]
    assert [i for r in ranges for i in r] == list(range(2 * RUNS))


def test_streamed_kpis_equal_kpis_of_the_full_timeseries(full, streamed):
    pd.testing.assert_frame_equal(streamed.per_run, kpis.per_run(full), check_exact=True)
    _same_summary(kpis.summarize_runs(streamed.per_run), kpis.summarize(full))
    summary = kpis.summarize_runs(streamed.per_run)
    assert set(summary) == {0, 1}
    assert summary[1]["reward_pool_1y"]["n"] == RUNS
    assert not math.isnan(summary[0]["price_usd_end"]["p50"])


def test_thinned_timeseries_equals_the_full_one_on_those_days(full, streamed):
    expected = full[full["timestep"] % THIN == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(streamed.timeseries, expected, check_exact=True)
    assert list(streamed.timeseries.columns) == list(full.columns)
    assert sorted(streamed.timeseries["timestep"].unique()) == list(range(0, 366, THIN))


def test_without_thin_there_is_no_timeseries_and_the_batch_size_does_not_matter(streamed):
    one_batch = simulate_kpis(SUBSETS, runs=RUNS, years=YEARS, seed=SEED, batch_size=1000)
    assert one_batch.timeseries is None
    pd.testing.assert_frame_equal(one_batch.per_run, streamed.per_run, check_exact=True)


def test_batches_recorded_into_one_reused_block_keep_their_own_kpis(full, monkeypatch):
    from experiments.engines import streaming

    blocks = []
    reused_block = streaming.reused_block
    monkeypatch.setattr(
        streaming, "reused_block", lambda size: blocks.append(size) or reused_block(size)
    )
    result = simulate_kpis(SUBSETS, runs=RUNS, years=YEARS, seed=SEED, batch_size=BATCH)
    assert len(blocks) == 9  # every batch asked for the block: one array, written over 9 times
    pd.testing.assert_frame_equal(result.per_run, kpis.per_run(full), check_exact=True)
    assert not streaming._BLOCK  # given back when the run is over


def test_kpi_only_rejects_other_engines_and_bad_settings():
    with pytest.raises(ParameterError, match="must be vectorized"):
        simulate_kpis(SUBSETS, runs=1, years=0.1, engine="radcad")
    with pytest.raises(ParameterError, match="invalid thin"):
        simulate_kpis(SUBSETS, runs=1, years=0.1, thin=0)
    with pytest.raises(ParameterError, match="invalid batch_size"):
        simulate_kpis(SUBSETS, runs=1, years=0.1, batch_size=2.5)


# --- Ray ------------------------------------------------------------------------------------------


def test_vectorized_batches_on_ray_equal_single_process(monkeypatch, full, streamed):
    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)
    from experiments.engines.ray_cluster import ray_session

    with ray_session(processes=2):  # one instance for both calls
        on_ray = simulate(
            SUBSETS,
            runs=RUNS,
            years=YEARS,
            seed=SEED,
            engine="vectorized",
            backend="ray",
            processes=2,  # two batches of 30 trajectories
        )
        kpis_on_ray = simulate_kpis(
            SUBSETS,
            runs=RUNS,
            years=YEARS,
            seed=SEED,
            backend="ray",
            processes=2,
            thin=THIN,
            batch_size=BATCH,
        )
    pd.testing.assert_frame_equal(on_ray, full, check_exact=True)
    pd.testing.assert_frame_equal(kpis_on_ray.per_run, streamed.per_run, check_exact=True)
    pd.testing.assert_frame_equal(kpis_on_ray.timeseries, streamed.timeseries, check_exact=True)


# --- the command line -----------------------------------------------------------------------------


def _main(*args: str) -> int:
    try:
        return cli.main(list(args))
    except SystemExit as stop:
        return stop.code


def test_cli_kpi_only_writes_the_same_kpis_as_a_full_run(tmp_path):
    common = ["--runs", "4", "--years", "0.3", "--seed", "3", "--engine", "vectorized"]
    assert _main("run", "fee_split", *common, "--out", str(tmp_path / "full")) == 0
    thin = ["--kpi-only", "--thin", "10"]
    assert _main("run", "fee_split", *common, *thin, "--out", str(tmp_path / "kpi")) == 0
    assert _main("run", "fee_split", *common, "--kpi-only", "--out", str(tmp_path / "bare")) == 0
    for name in ("kpis.json", "kpis.csv"):
        text = (tmp_path / "full" / name).read_text()
        assert (tmp_path / "kpi" / name).read_text() == text
        assert (tmp_path / "bare" / name).read_text() == text
    manifest = json.loads((tmp_path / "kpi" / "manifest.json").read_text())
    assert (manifest["kpi_only"], manifest["thin"]) == (True, 10)
    assert "timeseries.parquet" in manifest["files"]
    frame = pd.read_parquet(tmp_path / "full" / "timeseries.parquet")
    thinned = pd.read_parquet(tmp_path / "kpi" / "timeseries.parquet")
    pd.testing.assert_frame_equal(
        thinned, frame[frame["timestep"] % 10 == 0].reset_index(drop=True)
    )
    bare = json.loads((tmp_path / "bare" / "manifest.json").read_text())
    assert (bare["kpi_only"], bare["thin"]) == (True, None)
    assert not (tmp_path / "bare" / "timeseries.parquet").exists()
    assert "timeseries.parquet" not in bare["files"]
    assert sorted(p.name for p in (tmp_path / "bare").iterdir()) == sorted(bare["files"])
    full_manifest = json.loads((tmp_path / "full" / "manifest.json").read_text())
    assert (full_manifest["kpi_only"], full_manifest["thin"]) == (False, None)


def _plan(tmp_path, *args: str) -> plan.Plan:
    return cli.plan_run(
        cli.build_parser().parse_args(["run", "baseline", *args, "--out", str(tmp_path)])
    )


def test_memory_guard_offers_kpi_only_and_lets_it_run(tmp_path, monkeypatch):
    available = type("Memory", (), {"available": 4 * 10**9})  # the 4 GB the issue allows
    monkeypatch.setattr(psutil, "virtual_memory", lambda: available)
    big = ("--runs", "20000", "--engine", "vectorized")
    problem = plan.size_problem(_plan(tmp_path, *big))
    assert problem and "--kpi-only" in problem and "\n" not in problem
    assert plan.size_problem(_plan(tmp_path, *big, "--kpi-only")) is None
    assert plan.size_problem(_plan(tmp_path, *big, "--kpi-only", "--thin", "30")) is None
    too_fine = plan.size_problem(
        _plan(tmp_path, "--runs", "100000", *big[2:], "--kpi-only", "--thin", "1")
    )
    assert too_fine and "--thin" in too_fine


KPI_ONLY_BAD_INPUT = {
    "kpi-only on radcad": ["--engine", "radcad", "--kpi-only"],
    "thin without kpi-only": ["--engine", "vectorized", "--thin", "5"],
    "zero thin": ["--engine", "vectorized", "--kpi-only", "--thin", "0"],
    "vectorized on pathos": ["--engine", "vectorized", "--backend", "pathos"],
}


@pytest.mark.parametrize("args", KPI_ONLY_BAD_INPUT.values(), ids=KPI_ONLY_BAD_INPUT.keys())
def test_bad_kpi_only_input_exits_2_with_one_line(args, tmp_path, capsys):
    out = tmp_path / "out"
    assert _main("run", "baseline", "--runs", "1", "--years", "0.01", *args, "--out", str(out)) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert list(tmp_path.iterdir()) == []


# --- batch size from memory, and every core --------------------------------------------------------


def test_batch_size_keeps_the_batches_in_flight_within_the_memory_budget():
    from experiments.engines import streaming

    for days in (30, 365, 1825, 7300, 36500):
        for workers in (1, 2, 8):
            for kpi_only in (False, True):
                size = streaming.stream_batch_size(days, workers, kpi_only)
                per_day = streaming.BYTES_PER_TRAJECTORY_DAY["kpi" if kpi_only else "full"]
                assert 1 <= size <= streaming.STREAM_BATCH_MAX
                if size > 1:
                    assert workers * size * per_day * (days + 1) <= streaming.STREAM_MEMORY_BYTES
    # KPI-only records less, so its batches may be larger
    assert streaming.stream_batch_size(1825, 2, True) > streaming.stream_batch_size(1825, 2, False)


def test_kpi_only_on_a_process_pool_equals_one_process(streamed):
    pooled = simulate_kpis(
        SUBSETS, runs=RUNS, years=YEARS, seed=SEED, thin=THIN, batch_size=BATCH, processes=2
    )
    pd.testing.assert_frame_equal(pooled.per_run, streamed.per_run, check_exact=True)
    pd.testing.assert_frame_equal(pooled.timeseries, streamed.timeseries, check_exact=True)
    alone = simulate_kpis(SUBSETS, runs=RUNS, years=YEARS, seed=SEED, processes=2, batch_size=11)
    pd.testing.assert_frame_equal(alone.per_run, streamed.per_run, check_exact=True)


def test_thinned_rows_of_one_trajectory_batches_are_copies_not_views(full):
    """With one trajectory per batch and every day kept, the day-major block transposes to a
    contiguous view: the rows must still be copied out before the block is reused."""
    result = simulate_kpis(SUBSETS, runs=RUNS, years=YEARS, seed=SEED, thin=1, batch_size=1)
    pd.testing.assert_frame_equal(result.timeseries, full, check_exact=True)


def test_batches_are_submitted_a_few_ahead_never_all_at_once():
    """A pool or Ray is fed from a lazy range generator: taking three results of a 10^19-batch
    run submits only those and the few allowed ahead, and never lists the rest."""
    import itertools

    from experiments.engines.streaming import _in_order

    submitted = []

    def submit(batch):
        submitted.append(batch)
        return batch

    results = _in_order(batches(10**19, 1), submit, lambda handle: handle.start, None, ahead=4)
    assert list(itertools.islice(results, 3)) == [0, 1, 2]
    assert len(submitted) <= 3 + 4
