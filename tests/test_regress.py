"""The KPI regression gate: tolerances from Monte Carlo noise, and failure on drift."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import cli
from experiments.analysis import tolerances
from experiments.analysis.regress import (
    CASES,
    GOLDEN_DIR,
    compare,
    floored,
    noise_tolerance,
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
    assert noise_tolerance(flat, "p50")[0] == 0.0
    days = CASES["baseline"].days
    assert days == 1825
    tolerance, reason = floored("reward_pool_5y", "p50", 5.0, days, 0.0, "spread")
    assert tolerance == pytest.approx(5.0 * tolerances.relative_tolerance(days))
    assert "ulps a day" in reason
    assert floored("reward_pool_5y", "n", 10, days, 0.0, "count") == (0.0, "count")
    # a noise tolerance above the floor stays
    assert floored("reward_pool_5y", "p50", 3e7, days, 1e5, "s.e.") == (1e5, "s.e.")


def test_a_rounding_kpi_is_held_to_the_residual_absolute_tolerance():
    # the conservation residual is float rounding: compared absolutely, even against 0.0
    days = CASES["baseline"].days
    bound = tolerances.residual_tolerance(days)
    tolerance, reason = floored("max_abs_conservation_residual", "p50", 0.0, days, 0.0, "s.e.")
    assert tolerance == pytest.approx(bound) and "rounding" in reason
    assert within(0.0, tolerances.ULP_AT_MAX_SUPPLY, tolerance)
    assert not within(0.0, 1e-3, tolerance)  # a thousandth of a token is not rounding


def _row(kpi, stat, golden, tolerance, subset=0):
    return {
        "subset": subset,
        "label": "b",
        "kpi": kpi,
        "stat": stat,
        "golden": golden,
        "tolerance": tolerance,
    }


def test_compare_applies_the_float_floor_to_golden_files_written_elsewhere():
    # as a CPU without AVX-512 writes them: a residual of 0.0, tolerances of 0 (no spread)
    ulp = tolerances.ULP_AT_MAX_SUPPLY
    golden = [
        _row("max_abs_conservation_residual", "p50", 0.0, 0.0),
        _row("max_abs_conservation_residual", "paired_share_positive", 0.3, 0.1, subset=1),
        _row("reward_pool_5y", "p50", 3e7, 0.0),
        _row("reward_pool_5y", "n", 60, 0.0),
    ]
    # the same statistics on an AVX-512 CPU: last bits moved
    now = [
        _row("max_abs_conservation_residual", "p50", ulp, 0.0),
        _row("max_abs_conservation_residual", "paired_share_positive", 0.7, 0.0, subset=1),
        _row("reward_pool_5y", "p50", 3e7 * (1 + 20 * tolerances.EPS), 0.0),
        _row("reward_pool_5y", "n", 60, 0.0),
    ]
    assert list(compare(golden, now, days=1826)["status"]) == ["PASS"] * 4
    drifted = [dict(r) for r in now]
    drifted[0]["golden"] = 1e-3  # a leak, not rounding
    drifted[2]["golden"] = 3e7 * (1 + 1e-9)  # beyond float rounding, with no Monte Carlo spread
    drifted[3]["golden"] = 59
    status = compare(golden, drifted, days=1826).set_index(["kpi", "stat"])["status"]
    assert status[("max_abs_conservation_residual", "p50")] == "FAIL"
    assert status[("reward_pool_5y", "p50")] == "FAIL"
    assert status[("reward_pool_5y", "n")] == "FAIL"


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


# --- golden files of the right shape with wrong types: one line, exit 2 --------------------------

BAD_FIELDS = [
    ("golden", "abc", "field 'golden' must be a finite number or null, not \"abc\""),
    ("tolerance", "abc", "field 'tolerance' must be a finite number >= 0, not \"abc\""),
    ("tolerance", None, "field 'tolerance' must be a finite number >= 0, not null"),
    ("tolerance", -1.0, "field 'tolerance' must be a finite number >= 0, not -1.0"),
    ("golden", [1, 2], "field 'golden' must be a finite number or null, not [1, 2]"),
    ("golden", True, "field 'golden' must be a finite number or null, not true"),
    ("subset", "0", "field 'subset' must be an integer, not \"0\""),
    ("stat", 5, "field 'stat' must be text, not 5"),
]


def _broken_golden(tmp_path, field, value, index=3):
    document = json.loads((GOLDEN_DIR / "baseline.json").read_text())
    row = document["kpis"][index]
    row[field] = value
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(document))
    return path, row


@pytest.mark.parametrize("field, value, message", BAD_FIELDS)
def test_a_golden_field_of_the_wrong_type_is_one_line_naming_file_and_field(
    tmp_path, capsys, field, value, message
):
    path, row = _broken_golden(tmp_path, field, value)
    status = cli.main(["regress", "baseline", "--golden-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    line = captured.err.strip()
    assert "\n" not in line and line.startswith(f"error: invalid golden file '{path}': kpis[3]")
    assert line.endswith(message)
    if field != "stat":
        assert "(reward_pool_1y.p95)" in line


def test_a_wrong_type_fails_before_any_run_without_a_traceback(tmp_path):
    path, _ = _broken_golden(tmp_path, "tolerance", "abc")
    # the other cases' files are fine: the broken one is still found before the first run
    for name in ("fee_split", "stress"):
        (tmp_path / f"{name}.json").write_text((GOLDEN_DIR / f"{name}.json").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "experiments", "regress", "--golden-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"'{path}'" in result.stderr and "'tolerance'" in result.stderr


def test_non_finite_numbers_in_a_golden_file_are_refused(tmp_path, capsys):
    path = tmp_path / "baseline.json"
    text = (GOLDEN_DIR / "baseline.json").read_text()
    first = text.index('"tolerance": ') + len('"tolerance": ')
    end = text.index(",", first)
    path.write_text(text[:first] + "NaN" + text[end:])  # Python's json reads NaN
    assert cli.main(["regress", "baseline", "--golden-dir", str(tmp_path)]) == 2
    assert "field 'tolerance' must be a finite number >= 0, not nan" in capsys.readouterr().err


def test_a_golden_dir_that_is_missing_or_lacks_a_case_is_one_line_before_any_run(
    tmp_path, capsys, monkeypatch
):
    from experiments.analysis import regress as module

    monkeypatch.setattr(module, "simulate", lambda *a, **k: pytest.fail("a case ran"))
    assert cli.main(["regress", "--golden-dir", str(tmp_path / "typo")]) == 2
    assert "not a folder of golden files" in capsys.readouterr().err
    (tmp_path / "baseline.json").write_text((GOLDEN_DIR / "baseline.json").read_text())
    assert cli.main(["regress", "--golden-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no golden file fee_split.json" in err


def test_a_golden_number_beyond_float_range_or_nested_json_is_one_line(tmp_path, capsys):
    text = (GOLDEN_DIR / "baseline.json").read_text()
    first = text.index('"golden": ') + len('"golden": ')
    end = text.index(",", first)
    path = tmp_path / "baseline.json"
    path.write_text(text[:first] + "1" + "0" * 400 + text[end:])
    assert cli.main(["regress", "baseline", "--golden-dir", str(tmp_path)]) == 2
    assert "field 'golden' must be a finite number" in capsys.readouterr().err
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert cli.main(["regress", "baseline", "--golden-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err
