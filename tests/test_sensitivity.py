"""Morris sensitivity: the ranked table's shape, a case with a known answer, the CLI experiment."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments import cli, definitions
from experiments.analysis import sensitivity
from experiments.analysis.sensitivity import sensitivity_analysis
from model import ParameterError, Parameters

FEW = [
    "pool_payout_rate",
    "pro_conversion",
    "unlock_sell_share_strategic",
    "node_entry_hurdle_apr",
    "ref_volatility",
]
SPENDING_OFF = {
    "pro_conversion": 0.0,
    "sns_names_per_user": 0.0,
    "liquidation_rate": 0.0,
    "max_exit_rate": 0.0,  # no network death: a pool with no nodes stops paying
}


@pytest.fixture(scope="module")
def few():
    return sensitivity_analysis(samples=4, seed=2, parameters=FEW)


def test_ranked_table_has_one_row_per_kpi_and_parameter(few):
    assert list(few.columns) == ["kpi", "parameter", "mu_star", "mu_star_conf", "sigma", "rank"]
    assert list(few["kpi"].unique()) == list(sensitivity.KPIS)
    assert len(few) == len(sensitivity.KPIS) * len(FEW)
    for _, rows in few.groupby("kpi", sort=False):
        assert sorted(rows["parameter"]) == sorted(FEW)
        assert list(rows["rank"]) == [1, 2, 3, 4, 5]  # sorted by rank within each KPI
        assert rows["mu_star"].is_monotonic_decreasing
        assert (rows["mu_star"] >= 0).all() and (rows["sigma"] >= 0).all()
    assert few[["mu_star", "mu_star_conf", "sigma"]].notna().all().all()
    assert few["rank"].dtype == "int64"


def test_mu_star_interval_is_clipped_at_zero_and_contains_mu_star(few):
    """mu_star is a mean of absolute effects: its interval never goes below 0, and where SALib's
    symmetric half-width stays above 0 the interval is mu_star -/+ that half-width."""
    table = pd.DataFrame(
        {"mu_star": [2.0, 0.5, 0.0], "mu_star_conf": [1.0, 0.8, 0.0], "sigma": [1.0, 1.0, 0.0]}
    )
    bounds = sensitivity.mu_star_bounds(table)
    assert list(bounds["mu_star_low"]) == [1.0, 0.0, 0.0]
    assert list(bounds["mu_star_high"]) == [3.0, 1.3, 0.0]
    real = sensitivity.mu_star_bounds(few)
    assert list(real.columns[:6]) == sensitivity.COLUMNS  # the table itself is unchanged
    assert (real["mu_star_low"] >= 0).all()
    assert (real["mu_star_low"] <= real["mu_star"]).all()
    assert (real["mu_star"] <= real["mu_star_high"]).all()


def test_same_seed_same_table_and_global_random_state_untouched(few):
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    again = sensitivity_analysis(samples=4, seed=2, parameters=FEW)
    assert np.random.random() == before  # SALib's global draws were put back
    pd.testing.assert_frame_equal(again, few)


def test_pool_at_5_years_depends_on_the_payout_rate_alone_without_spending():
    table = sensitivity_analysis(samples=4, seed=1, overrides=SPENDING_OFF)
    pool = table[table["kpi"] == "reward_pool_5y"].set_index("parameter")
    # every default parameter the overrides leave free is varied, the payout rate among them
    assert set(pool.index) == set(sensitivity.PARAMETERS) - set(SPENDING_OFF)
    assert pool["rank"].idxmin() == "pool_payout_rate"
    top = pool.loc["pool_payout_rate", "mu_star"]
    assert top > 1e6  # SESH per normalised step of the payout rate
    assert (pool.drop(index="pool_payout_rate")["mu_star"] < 1e-6 * top).all()


def test_default_bounds_lie_inside_the_allowed_ranges_around_the_defaults():
    info = Parameters.field_info()
    for name in sensitivity.PARAMETERS:
        lo, hi = sensitivity.bounds(name)
        assert info[name]["min"] <= lo < hi <= info[name]["max"], name
        assert lo <= info[name]["default"] <= hi, name
    # a parameter without a table entry: default -50% / +50%, clipped to its range
    assert sensitivity.bounds("eth_volatility") == pytest.approx((0.3, 0.9))


BAD = {
    "unknown parameter": dict(parameters=["pool_payout_rate", "nope"]),
    "integer parameter": dict(parameters=["pool_payout_rate", "stress_day"]),
    "one parameter": dict(parameters=["pool_payout_rate"]),
    "too few samples": dict(samples=1, parameters=FEW),
    "short horizon": dict(years=2, parameters=FEW),
    "overridden and varied": dict(parameters=FEW, overrides={"node_entry_hurdle_apr": 0.1}),
}


@pytest.mark.parametrize("kwargs", BAD.values(), ids=BAD.keys())
def test_bad_input_raises_a_one_line_parameter_error(kwargs):
    with pytest.raises(ParameterError) as error:
        sensitivity_analysis(**kwargs)
    assert "\n" not in str(error.value)


def test_cli_run_sensitivity_writes_the_ranked_table(tmp_path, monkeypatch, few):
    small = definitions.sensitivity_experiment(samples=4, parameters=FEW)
    monkeypatch.setitem(definitions.EXPERIMENTS, "sensitivity", small)
    out = tmp_path / "sensitivity"
    assert cli.main(["run", "sensitivity", "--seed", "2", "--out", str(out)]) == 0
    written = pd.read_csv(out / "sensitivity.csv")
    pd.testing.assert_frame_equal(written, few, check_exact=False, rtol=1e-12)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["engine"], manifest["kpi_only"], manifest["runs"]) == ("vectorized", True, 1)
    assert "spawn_key=(0, run)" in manifest["seeding"]
    assert sorted(p.name for p in out.iterdir()) == sorted(manifest["files"])
    assert "sensitivity.csv" in manifest["files"] and "timeseries.parquet" not in manifest["files"]
    document = json.loads((out / "kpis.json").read_text())
    assert len(document["subsets"]) == 4 * (len(FEW) + 1)
