"""The command line end to end, bad input, atomic writes, sweeps, and the Ray backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psutil
import pytest
from cli_support import main as _main

from experiments import definitions, plan, results
from experiments.analysis import headlines
from experiments.files import write_folder_atomically
from experiments.run import ENGINES, simulate
from model import ParameterError, Parameters

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_COLUMNS = (
    "subset run timestep circulating vesting_locked reward_pool staked unstaking "
    "unclaimed_rewards amm_sesh amm_quote eth_usd price_usd nodes daily_emission "
    "daily_pool_inflow daily_fee_spent daily_pol_added"
).split()
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **RAY_ENV},
        timeout=300,
    )


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# --- end to end -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "baseline"
    done = _cli(
        "run", "baseline", "--runs", "2", "--years", "0.2", "--seed", "5", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    return out


def test_run_writes_every_file_with_the_right_shape(baseline_out):
    assert sorted(p.name for p in baseline_out.iterdir()) == sorted(results.RESULT_FILES)
    frame = pd.read_parquet(baseline_out / "timeseries.parquet")
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert len(frame) == 2 * (73 + 1)  # runs x (timesteps + 1), 0.2 years = 73 days
    assert sorted(frame["run"].unique()) == [1, 2]
    assert [p.name for p in baseline_out.parent.iterdir()] == ["baseline"]  # no temp dirs left


def test_manifest_records_the_run(baseline_out):
    manifest = json.loads((baseline_out / "manifest.json").read_text())
    assert manifest["seed"] == 5
    # the command line's default engine is the vectorized one
    assert (manifest["runs"], manifest["timesteps"], manifest["engine"]) == (2, 73, "vectorized")
    assert manifest["data"] == {
        "tge": "2025-05-21",
        "start": "2025-05-21",
        "end": "2025-08-02",
        "days": 73,
    }
    assert manifest["subsets"][0]["parameters"] == Parameters().to_dict()
    assert set(manifest["packages"]) == set(results.PACKAGES)
    assert manifest["packages"]["pandas"] == pd.__version__
    assert manifest["wall_time_seconds"] > 0


def test_kpi_files_agree(baseline_out):
    document = json.loads((baseline_out / "kpis.json").read_text())
    table = pd.read_csv(baseline_out / "kpis.csv")
    assert list(table.columns) == ["subset", "label", "kpi", "unit", "stat", "value"]
    stats = document["subsets"]["0"]["kpis"]["price_usd_end"]
    row = table[(table.kpi == "price_usd_end") & (table.stat == "p50")]
    assert row["value"].iloc[0] == pytest.approx(stats["p50"])
    assert document["subsets"]["0"]["label"] == "baseline"
    assert stats["n"] == 2
    # a 73-day run has no value at 1 year: null, not the last day's balance
    assert document["subsets"]["0"]["kpis"]["reward_pool_1y"]["mean"] is None


def test_rerun_with_the_same_seed_replaces_the_directory_with_identical_data(baseline_out):
    before = pd.read_parquet(baseline_out / "timeseries.parquet")
    done = _cli(
        "run",
        "baseline",
        "--runs",
        "2",
        "--years",
        "0.2",
        "--seed",
        "5",
        "--out",
        str(baseline_out),
    )
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(baseline_out / "timeseries.parquet"), before)
    assert [p.name for p in baseline_out.parent.iterdir()] == ["baseline"]


# --- bad input ----------------------------------------------------------------------------------

BAD_INPUT = {
    "unknown experiment": ["run", "nope"],
    "unknown parameter": ["run", "baseline", "--set", "fee_pool_sahre=0.5"],
    "value out of range": ["run", "baseline", "--set", "fee_pool_share=1.5"],
    "value of the wrong type": ["run", "baseline", "--set", "launch_smoothing=maybe"],
    "malformed --set": ["run", "baseline", "--set", "fee_pool_share"],
    "swept parameter set": ["run", "fee_split", "--set", "fee_pool_share=1"],
    "inconsistent parameters": ["run", "baseline", "--set", "initial_amm_sesh=79000000"],
    "zero runs": ["run", "baseline", "--runs", "0"],
    "non-integer runs": ["run", "baseline", "--runs", "two"],
    "negative seed": ["run", "baseline", "--seed", "-1"],
    "zero years": ["run", "baseline", "--years", "0"],
    "bad engine": ["run", "baseline", "--engine", "fast"],
    "bad backend": ["run", "baseline", "--backend", "gpu"],
    "backend without radcad": ["run", "baseline", "--engine", "cadcad", "--backend", "ray"],
    "ray address without ray": ["run", "baseline", "--ray-address", "10.0.0.1:6379"],
    "zero processes": ["run", "baseline", "--processes", "0"],
    "unknown command": ["simulate"],
    "too large": ["run", "baseline", "--runs", "100000", "--years", "100"],
    "nobody at the ray address": [
        *("run", "baseline", "--runs", "1", "--years", "0.01"),
        *("--backend", "ray", "--ray-address", "127.0.0.1:1"),
    ],
}


@pytest.mark.parametrize("args", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_line_and_writes_nothing(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # default output is results/NAME under the working directory
    assert _main(*args) == 2
    err = _error_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert list(tmp_path.iterdir()) == []


def test_run_that_would_not_fit_in_memory_stops_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(psutil, "virtual_memory", lambda: type("M", (), {"available": 10**6}))
    assert _main("run", "baseline", "--runs", "10", "--out", str(tmp_path / "out")) == 2
    assert "memory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_input_from_the_shell(tmp_path):
    for args in (["run", "baseline", "--runs", "0"], ["run", "baseline", "--runs"]):
        done = _cli(*args, "--out", str(tmp_path / "out"))
        assert done.returncode == 2
        assert len(_error_lines(done.stderr)) == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_replace_a_directory_that_is_not_results(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert _main("run", "baseline", "--runs", "1", "--years", "0.01", "--out", str(tmp_path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


# --- atomic writes --------------------------------------------------------------------------------


def _failing_writer(tmp: Path) -> None:
    (tmp / "timeseries.parquet").write_text("half")
    raise RuntimeError("disk full")


def test_failed_write_leaves_no_directory_and_no_temp_dir(tmp_path):
    out = tmp_path / "results" / "baseline"
    with pytest.raises(RuntimeError):
        write_folder_atomically(out, _failing_writer)
    assert list(tmp_path.iterdir()) == []  # the results/ folder it made is gone too


def test_failed_write_keeps_the_previous_results(tmp_path):
    out = tmp_path / "baseline"
    out.mkdir()
    (out / "manifest.json").write_text("old")
    with pytest.raises(RuntimeError):
        write_folder_atomically(out, _failing_writer)
    assert [p.name for p in tmp_path.iterdir()] == ["baseline"]
    assert (out / "manifest.json").read_text() == "old"


def _manifest(text: str) -> str:
    """A manifest of this project's, as a run writes it (it lists itself)."""
    return json.dumps(
        {"written_by": "sesh-economy-model", "note": text, "files": ["manifest.json"]}
    )


def test_failure_between_the_renames_puts_the_previous_results_back(tmp_path, monkeypatch):
    out = tmp_path / "baseline"
    out.mkdir()
    (out / "manifest.json").write_text(_manifest("old"))
    rename = Path.rename

    def failing_rename(self, target):
        if self.name.startswith(".baseline.tmp-"):  # the new results moving in
            raise OSError("disk gone")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(OSError):
        write_folder_atomically(
            out, lambda tmp: (tmp / "manifest.json").write_text(_manifest("new"))
        )
    assert [p.name for p in tmp_path.iterdir()] == ["baseline"]
    assert (out / "manifest.json").read_text() == _manifest("old")


def test_interrupted_run_writes_nothing(tmp_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(plan, "simulate", interrupt)
    out = tmp_path / "out"
    assert _main("run", "baseline", "--runs", "1", "--years", "0.01", "--out", str(out)) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- experiments and sweeps -----------------------------------------------------------------------


def test_cartesian_sweep_gives_one_subset_per_combination():
    experiment = definitions.Experiment(
        "grid", "2 x 2", sweep={"fee_pool_share": [0.9, 1.0], "pool_payout_rate": [0.1, 0.2]}
    )
    subsets = experiment.subsets({"stress_day": 3})
    assert [s.label for s in subsets] == [
        "fee_pool_share=0.9, pool_payout_rate=0.1",
        "fee_pool_share=0.9, pool_payout_rate=0.2",
        "fee_pool_share=1, pool_payout_rate=0.1",
        "fee_pool_share=1, pool_payout_rate=0.2",
    ]
    pairs = {(s.parameters.fee_pool_share, s.parameters.pool_payout_rate) for s in subsets}
    assert pairs == {(0.9, 0.1), (0.9, 0.2), (1.0, 0.1), (1.0, 0.2)}
    assert all(s.parameters.stress_day == 3 for s in subsets)
    frame = pd.concat(
        simulate([s.parameters], runs=1, years=0.02, seed=1, first_subset=s.index) for s in subsets
    )
    assert sorted(frame["subset"].unique()) == [0, 1, 2, 3]


def test_levels_move_parameters_together_and_combine_with_a_sweep():
    experiment = definitions.Experiment(
        "mixed",
        "levels x sweep",
        levels=definitions._ADOPTION_LEVELS,
        sweep={"fee_pool_share": [0.9, 1.0]},
    )
    subsets = experiment.subsets()
    assert len(subsets) == 6
    assert subsets[0].label == "low demand, fee_pool_share=0.9"
    assert (subsets[0].parameters.pro_conversion, subsets[0].parameters.sns_names_per_user) == (
        0.00125,
        0.0025,
    )
    assert [s.index for s in subsets] == list(range(6))


def test_named_experiments_expand_to_valid_subsets():
    shapes = {name: len(e.subsets()) for name, e in definitions.EXPERIMENTS.items()}
    assert shapes == {
        "baseline": 1,
        "fee_split": 2,
        "adoption": 3,
        "emission_rate": 5,
        "staking_requirement": 4,
        "stress": 1,
        "contract_only": 1,
        "price_model": 3,
        "scenarios": 8,
        "sensitivity": 32 * (len(definitions.EXPERIMENTS["sensitivity"].parameters) + 1),
        "headline_sensitivity": len(headlines.points()),
        "funding_failure": 2,
        "governance_rule": 2,
    }
    assert definitions.EXPERIMENTS["baseline"].runs == 100
    stress = definitions.EXPERIMENTS["stress"].subsets()[0].parameters
    assert (stress.stress_day, stress.stress_price_drop, stress.stress_exit_share) == (
        400,
        0.6,
        0.3,
    )
    with pytest.raises(ParameterError, match="unknown experiment"):
        definitions.get("nope")


@pytest.mark.parametrize("engine", ENGINES)
def test_one_subset_at_a_time_equals_one_call_over_all(engine):
    # the CLI runs subsets one by one for its progress bar: the seeds must not change
    sets = [Parameters(), Parameters(fee_pool_share=1.0, staking_requirement=20_000.0)]
    together = simulate(sets, runs=2, years=0.05, seed=9, engine=engine)
    one_by_one = pd.concat(
        [
            simulate([p], runs=2, years=0.05, seed=9, engine=engine, first_subset=i)
            for i, p in enumerate(sets)
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(one_by_one, together)


def test_list_and_params(capsys):
    assert _main("list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(definitions.EXPERIMENTS)
    assert _main("params") == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == len(Parameters.names()) + 1
    assert "fee_pool_share" in out and "RewardRatePool.sol" in out


# --- Ray ------------------------------------------------------------------------------------------


def test_ray_backend_on_a_local_instance_equals_single_process(monkeypatch):
    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)
    import ray

    from experiments.engines.ray_cluster import RAY_TEMP_DIR, ray_session

    single = simulate([Parameters()], runs=2, years=0.2, seed=3)
    # a call on its own starts Ray and stops it again
    on_ray = simulate([Parameters()], runs=2, years=0.2, seed=3, backend="ray", processes=2)
    assert not ray.is_initialized()
    # inside a session, calls join the running instance and leave it running
    with ray_session(processes=2):
        again = simulate([Parameters()], runs=2, years=0.2, seed=3, backend="ray", processes=2)
        assert ray.is_initialized()
    assert not ray.is_initialized()
    pd.testing.assert_frame_equal(on_ray, single)
    pd.testing.assert_frame_equal(again, single)
    assert RAY_TEMP_DIR.is_dir() and any(RAY_TEMP_DIR.iterdir())  # its files stay in build/ray
