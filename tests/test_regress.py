"""The KPI regression gate: tolerances from Monte Carlo noise, and failure on drift."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.analysis.regress import (
    CASES,
    GOLDEN_DIR,
    compare,
    noise_tolerance,
    rounding_tolerance,
    share_tolerance,
    within,
)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.engines
KEYS = ("subset", "label", "kpi", "stat", "reason")


def test_every_case_has_a_committed_golden_file_with_reasons():
    for name, case in CASES.items():
        document = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
        assert document["seed"] == case.seed and document["runs"] == case.runs
        rows = document["kpis"]
        assert {"reward_pool_5y", "fee_parity_day", "fee_parity_within_730d"} <= {
            r["kpi"] for r in rows
        }
        assert all(r["reason"] and r["tolerance"] >= 0 for r in rows)


def test_noise_tolerance_is_twice_the_bootstrap_error():
    values = pd.Series(np.random.default_rng(0).normal(100.0, 10.0, size=400))
    tolerance, reason = noise_tolerance(values, "mean")
    assert tolerance == pytest.approx(2 * 10.0 / np.sqrt(400), rel=0.15)
    assert "bootstrap" in reason


def test_tolerance_floor_and_exact_counts():
    flat = pd.Series([5.0] * 10)
    assert noise_tolerance(flat, "p50")[0] == pytest.approx(5e-9)
    assert noise_tolerance(flat, "n")[0] == 0.0


def test_a_rounding_kpi_is_held_to_its_order_of_magnitude():
    # the conservation residual is float rounding: a reordered sum moves it by its own size
    tolerance, reason = rounding_tolerance("max_abs_conservation_residual", 1.3e-6, 6e-8, "s.e.")
    assert tolerance == 1.3e-6 and "rounding" in reason
    assert within(1.3e-6, 2.5e-6, tolerance) and not within(1.3e-6, 2.7e-6, tolerance)
    # other KPIs keep their noise tolerance, and a larger noise tolerance stays
    assert rounding_tolerance("reward_pool_5y", 3e7, 1e5, "s.e.") == (1e5, "s.e.")
    assert rounding_tolerance("max_abs_conservation_residual", 1e-7, 1e-6, "s.e.") == (1e-6, "s.e.")


def test_share_tolerance_is_binomial_with_a_one_run_floor():
    runs = pd.DataFrame({"x": range(100)})
    assert share_tolerance(runs, 0.5)[0] == pytest.approx(2 * np.sqrt(0.25 / 100))
    assert share_tolerance(runs, 1.0)[0] == pytest.approx(0.01)


def test_within_treats_undefined_values_strictly():
    assert within(None, float("nan"), 0.0)
    assert not within(None, 3.0, 10.0)
    assert not within(3.0, None, 10.0)
    assert within(3.0, 3.5, 0.5) and not within(3.0, 3.6, 0.5)


def test_compare_flags_missing_and_new_statistics():
    golden = [
        {"subset": 0, "label": "b", "kpi": "a", "stat": "mean", "golden": 1.0, "tolerance": 0.1}
    ]
    now = [{"subset": 0, "label": "b", "kpi": "c", "stat": "mean", "golden": 1.0, "tolerance": 0.1}]
    assert sorted(compare(golden, now)["status"]) == ["MISSING", "NEW"]


def test_regress_fails_with_a_readable_table_when_a_golden_value_drifts(tmp_path):
    document = json.loads((GOLDEN_DIR / "baseline.json").read_text())
    rows = document["kpis"]
    inside = next(r for r in rows if r["kpi"] == "reward_pool_1y" and r["stat"] == "mean")
    outside = next(r for r in rows if r["kpi"] == "reward_pool_5y" and r["stat"] == "p50")
    inside["golden"] += 0.5 * inside["tolerance"]
    outside["golden"] += 3.0 * outside["tolerance"]
    (tmp_path / "baseline.json").write_text(json.dumps(document))
    result = subprocess.run(
        [sys.executable, "-m", "experiments", "regress", "baseline", "--golden-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert "KPI" in result.stdout and "tolerance" in result.stdout
    failing = [line for line in result.stdout.splitlines() if line.rstrip().endswith("FAIL")]
    assert len(failing) == 1 and failing[0].startswith("reward_pool_5y.p50")


def test_update_rewrites_golden_files_and_prints_what_moved(tmp_path):
    document = json.loads((GOLDEN_DIR / "baseline.json").read_text())
    moved = next(r for r in document["kpis"] if r["kpi"] == "nodes_end" and r["stat"] == "p50")
    moved["golden"] = 1.0
    (tmp_path / "baseline.json").write_text(json.dumps(document))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments",
            "regress",
            "baseline",
            "--update",
            "--golden-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "nodes_end.p50 [baseline]: 1 -> " in result.stdout
    rewritten = json.loads((tmp_path / "baseline.json").read_text())
    committed = json.loads((GOLDEN_DIR / "baseline.json").read_text())
    assert {k: v for k, v in rewritten.items() if k != "kpis"} == {
        k: v for k, v in committed.items() if k != "kpis"
    }
    # the same rows; values within the committed tolerance (float rounding differs by CPU: the
    # conservation residual is pure rounding, and summation order moves the last bits elsewhere)
    assert len(rewritten["kpis"]) == len(committed["kpis"])
    for new, old in zip(rewritten["kpis"], committed["kpis"], strict=True):
        assert {k: new[k] for k in KEYS} == {k: old[k] for k in KEYS}
        assert within(old["golden"], new["golden"], old["tolerance"]), new


def test_fee_split_golden_covers_the_paired_comparison():
    document = json.loads((GOLDEN_DIR / "fee_split.json").read_text())
    rows = [r for r in document["kpis"] if r["stat"].startswith("paired_")]
    stats = {r["stat"] for r in rows}
    assert stats == {
        "paired_mean_difference",
        "paired_ci_low",
        "paired_ci_high",
        "paired_share_positive",
        "paired_n",
    }
    pool = {r["stat"]: r for r in rows if r["kpi"] == "reward_pool_5y"}
    assert pool["paired_n"]["golden"] == document["runs"] and pool["paired_n"]["tolerance"] == 0
    low, mean, high = (
        pool[f"paired_{k}"]["golden"] for k in ("ci_low", "mean_difference", "ci_high")
    )
    assert low <= mean <= high
    assert pool["paired_mean_difference"]["tolerance"] > 0
    assert "bootstrap s.e." in pool["paired_mean_difference"]["reason"]
