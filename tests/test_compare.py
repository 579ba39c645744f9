"""Common random numbers by default, and paired comparisons with bootstrap intervals."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from cli_support import main as _main

from experiments import definitions
from experiments.analysis import compare, kpis
from experiments.analysis.tolerances import assert_frames_close
from experiments.run import simulate
from model import Parameters

DRIVEN = ["eth_usd", "ref_price_usd"]  # moved by the exogenous shocks


def test_identical_subset_gives_zero_difference_with_zero_width():
    per_run = pd.DataFrame(
        {"subset": [0, 0, 0, 1, 1, 1], "run": [1, 2, 3, 1, 2, 3], "x": [1.0, 5.0, 2.0] * 2}
    )
    table = compare.comparison_table(per_run, ["x"])
    row = table.iloc[0]
    assert (row.mean_difference, row.ci_low, row.ci_high, row.share_positive, row.n) == (
        0.0,
        0.0,
        0.0,
        0.0,
        3,
    )


def test_pairs_are_matched_by_run_and_n_counts_pairs_with_values():
    per_run = pd.DataFrame(
        {
            "subset": [0, 0, 0, 0, 1, 1, 1],
            "run": [1, 2, 3, 4, 3, 1, 2],  # subset 1 listed out of order, run 4 missing
            "x": [1.0, 2.0, 3.0, 4.0, 30.0, 10.0, math.nan],
        }
    )
    d = compare.paired(per_run, "x", 1, 0)
    assert sorted(d) == [9.0, 27.0]
    row = compare.comparison_table(per_run, ["x"]).iloc[0]
    assert row.n == 2 and row.mean_difference == 18.0 and row.share_positive == 1.0


def test_pairs_of_subsets_with_the_same_runs_equal_the_join_by_run():
    # the usual table (every subset the same runs, in order) takes a shortcut: same pairs
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 1.0, 3 * 50)
    x[rng.random(x.size) < 0.2] = math.nan
    per_run = pd.DataFrame({"subset": np.repeat([0, 1, 2], 50), "run": np.tile(range(50), 3)})
    per_run["x"] = x
    for subset in (1, 2):
        a = per_run[per_run["subset"] == subset].set_index("run")["x"]
        b = per_run[per_run["subset"] == 0].set_index("run")["x"]
        both = pd.concat([a, b], axis=1, keys=["a", "b"], join="inner").dropna()
        expected = (both["a"] - both["b"]).to_numpy()
        np.testing.assert_array_equal(compare.paired(per_run, "x", subset, 0), expected)


def test_the_interval_contains_the_mean_and_narrows_with_more_pairs():
    rng = np.random.default_rng(1)
    widths = []
    for n in (20, 500):
        d = rng.normal(2.0, 1.0, n)
        low, high = compare.interval(d)
        assert low <= d.mean() <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 3
    assert all(math.isnan(v) for v in compare.interval(np.array([1.0])))


@pytest.mark.engines
def test_common_draws_give_every_subset_the_same_shocks_on_every_engine():
    sets = [Parameters(), Parameters(fee_pool_share=1.0)]
    frames = {}
    for engine in ("vectorized", "radcad"):
        from experiments.engines.registry import RunSpec
        from experiments.engines.registry import simulate as run_spec

        spec = RunSpec(runs=2, years=0.2, seed=4, engine=engine, common_draws=True)
        frames[engine] = run_spec(sets, spec)
    for frame in frames.values():
        a, b = (frame[frame.subset == s].reset_index(drop=True) for s in (0, 1))
        pd.testing.assert_series_equal(a["eth_usd"], b["eth_usd"])
    # float rounding may differ by engine and CPU (arrays and scalars take different kernels)
    assert_frames_close(frames["vectorized"], frames["radcad"])
    independent = simulate(sets, runs=2, years=0.2, seed=4, engine="vectorized")
    a, b = (independent[independent.subset == s].reset_index(drop=True) for s in (0, 1))
    assert not np.allclose(a["eth_usd"], b["eth_usd"])


def test_a_monotone_parameter_gives_share_positive_one():
    experiment = definitions.Experiment(
        "payout", "test", sweep={"pool_payout_rate": [0.10, 0.20]}, runs=8
    )
    from experiments.run import simulate_kpis

    subsets = experiment.subsets()
    result = simulate_kpis(
        [s.parameters for s in subsets], runs=8, years=0.5, seed=2, common_draws=True
    )
    table = compare.comparison_table(result.per_run, ["cum_emission_end"])
    row = table.iloc[0]
    assert row.share_positive == 1.0 and row.n == 8 and row.ci_low > 0


def test_cli_writes_the_comparison_and_records_the_draws(tmp_path):
    out = tmp_path / "fs"
    assert _main("run", "fee_split", "--runs", "6", "--years", "0.3", "--out", str(out)) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.columns) == compare.COLUMNS
    assert set(table["kpi"]) == {k.name for k in kpis.RUN_KPIS}
    assert (table["subset"] == 1).all() and (table["reference_subset"] == 0).all()
    assert (table["n"] <= 6).all()
    document = json.loads((out / "kpis.json").read_text())
    assert len(document["comparison"]) == len(table)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["common_draws"] is True and manifest["reference_subset"] == 0
    frame = pd.read_parquet(out / "timeseries.parquet")
    a, b = (frame[frame.subset == s].reset_index(drop=True) for s in (0, 1))
    pd.testing.assert_series_equal(a["eth_usd"], b["eth_usd"])

    alone = tmp_path / "alone"
    args = ("run", "fee_split", "--runs", "6", "--years", "0.3", "--independent-draws")
    assert _main(*args, "--out", str(alone)) == 0
    manifest = json.loads((alone / "manifest.json").read_text())
    assert manifest["common_draws"] is False
    frame = pd.read_parquet(alone / "timeseries.parquet")
    a, b = (frame[frame.subset == s].reset_index(drop=True) for s in (0, 1))
    assert not np.allclose(a["eth_usd"], b["eth_usd"])


def test_a_single_subset_run_has_no_comparison(tmp_path):
    out = tmp_path / "b"
    assert _main("run", "baseline", "--runs", "2", "--years", "0.1", "--out", str(out)) == 0
    assert not (out / "comparison.csv").exists()
    assert "comparison" not in json.loads((out / "kpis.json").read_text())


@pytest.mark.parametrize("name", [n for n, e in definitions.EXPERIMENTS.items()])
def test_every_named_experiment_uses_common_draws(name):
    assert definitions.EXPERIMENTS[name].common_draws


def _scipy_bca(differences):
    """The reference: scipy's own BCa bootstrap with the project's generator and batches."""
    from scipy.stats import bootstrap

    result = bootstrap(
        (differences,),
        np.mean,
        confidence_level=compare.CONFIDENCE,
        n_resamples=compare.RESAMPLES,
        batch=compare.bootstrap_batch(len(differences)),
        method="BCa",
        random_state=np.random.default_rng(compare.BOOTSTRAP_SEED),
    )
    return result.confidence_interval


@pytest.mark.parametrize(
    "sample",
    [
        lambda g: g.normal(0.3, 1.0, 400),
        lambda g: g.lognormal(0.0, 2.0, 300) - 2.0,  # heavy right tail, like price KPIs
        lambda g: -g.pareto(1.5, 250),  # heavy left tail
        lambda g: g.integers(-3, 4, 200).astype(float),  # many ties
    ],
)
def test_the_interval_is_scipys_bca_without_its_jackknife(sample):
    differences = sample(np.random.default_rng(5))
    low, high = compare.interval(differences)
    ref_low, ref_high = _scipy_bca(differences)
    mean = differences.mean()
    # equal but for the acceleration's rounding (closed form vs n recomputed means)
    assert low == pytest.approx(min(ref_low, mean), rel=1e-9, abs=1e-12)
    assert high == pytest.approx(max(ref_high, mean), rel=1e-9, abs=1e-12)


def test_the_interval_reduces_each_pair_once_per_resample_only(monkeypatch):
    """Time linear in the pairs: the values averaged are the resamples' (RESAMPLES x n) and the
    sample's own, not a jackknife of n means over n - 1 values each (scipy's n x n)."""
    averaged = []
    real_mean = np.mean

    def counted(values, *args, **kwargs):
        averaged.append(np.size(values))
        return real_mean(values, *args, **kwargs)

    monkeypatch.setattr(np, "mean", counted)
    n = 3_000
    compare.interval(np.random.default_rng(2).normal(size=n))
    assert 0 < sum(averaged) <= (compare.RESAMPLES + 2) * n, sum(averaged)


# --- the reference: one rule --------------------------------------------------------------------


def test_the_reference_is_explicit_else_the_subset_at_the_defaults_else_the_first():
    defaults = {"a": 1.0, "b": "x"}
    swept = [{"a": 0.5, "b": "x"}, {"a": 1.0, "b": "y"}, {"a": 1.0, "b": "x"}]
    assert compare.reference_subset(swept, defaults) == 2  # every swept value at its default
    assert compare.reference_subset(swept, defaults, explicit=1) == 1
    assert compare.reference_subset(swept[:2], defaults) == 0  # none at the defaults
    assert compare.reference_subset([], defaults) == 0


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("emission_rate", "pool_payout_rate=0.151"),  # the contract's rate, not the first value
        ("fee_split", "fee_pool_share=0.9"),
        ("adoption", "base demand"),
        ("staking_requirement", "staking_requirement=25000"),
        ("price_model", "price_model=impact"),
    ],
)
def test_named_experiments_compare_with_the_subset_at_the_model_defaults(name, label):
    experiment = definitions.EXPERIMENTS[name]
    assert experiment.subsets()[experiment.reference].label == label


def test_an_explicit_reference_wins_and_comparison_csv_uses_the_experiments(tmp_path):
    sweep = {"pool_payout_rate": [0.10, 0.151, 0.20]}
    assert definitions.Experiment("x", "", sweep=sweep).reference == 1
    explicit = definitions.Experiment("x", "", sweep=sweep, reference=2)
    assert explicit.reference == 2
    out = tmp_path / "e"
    args = ["run", "emission_rate", "--runs", "2", "--years", "0.1", "--out", str(out)]
    assert _main(*args, "--engine", "vectorized") == 0
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["reference_subset"]) == {2}
    assert sorted(set(table["subset"])) == [0, 1, 3, 4]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reference_subset"] == 2


# --- paired medians beside paired means ----------------------------------------------------------


def test_the_median_interval_is_the_binomial_order_statistics_by_hand():
    # n = 10: P(B <= 1) = 11/1024 = 1.07% <= 2.5% < P(B <= 2) = 56/1024 = 5.47%, so j = 2: the
    # 2nd smallest and the 2nd largest, covering 1 - 2 x 11/1024 = 97.9%
    d = np.array([7.0, -3.0, 1.0, 12.0, 0.5, 4.0, -1.0, 9.0, 2.0, 30.0])
    assert compare.median_rank(10) == 2
    assert compare.median_interval(d) == (-1.0, 12.0)
    # n = 6: P(B = 0) = 1/64 = 1.6%: the extremes; n = 5: 1/32 = 3.1% > 2.5%, no interval
    assert compare.median_rank(6) == 1 and compare.median_rank(5) == 0
    assert compare.median_interval(d[:6]) == (-3.0, 12.0)
    assert all(math.isnan(v) for v in compare.median_interval(d[:5]))
    # n = 25: P(B <= 7) = 2.16%, P(B <= 8) = 5.39%: the 8th and 18th of 25
    assert compare.median_rank(25) == 8
    assert all(math.isnan(v) for v in compare.median_interval(np.array([1.0])))
    assert compare.median_interval(np.full(3, 4.0)) == (4.0, 4.0)  # no spread


def test_the_median_interval_covers_the_true_median_at_least_95_percent_of_the_time():
    # 4,000 samples of 25 skewed differences (lognormal minus 1: true median 0); the exact
    # coverage at n = 25 is 1 - 2 x 2.16% = 95.7%, the sampling s.e. 0.3 points
    rng = np.random.default_rng(8)
    samples = rng.lognormal(0.0, 1.5, (4000, 25)) - 1.0
    bounds = np.array([compare.median_interval(s) for s in samples])
    covered = ((bounds[:, 0] <= 0.0) & (0.0 <= bounds[:, 1])).mean()
    assert 0.945 <= covered <= 0.97, covered


def test_comparison_table_has_paired_medians_with_intervals_beside_the_means():
    # subset 1 is subset 0 plus 1 in most runs and plus 1,000 in two: the mean difference is
    # carried by the two, the median is 1
    rng = np.random.default_rng(3)
    base = rng.integers(-20, 20, 40).astype(float)  # whole numbers: exact differences
    shift = np.where(np.arange(40) < 2, 1_000.0, 1.0)
    per_run = pd.DataFrame(
        {
            "subset": np.repeat([0, 1], 40),
            "run": np.tile(range(40), 2),
            "x": [*base, *(base + shift)],
        }
    )
    row = compare.comparison_table(per_run, ["x"]).iloc[0]
    assert row.mean_difference == pytest.approx((2 * 1_000 + 38) / 40)
    assert row.median_difference == 1.0
    assert (row.median_ci_low, row.median_ci_high) == (1.0, 1.0)  # 38 of 40 pairs at exactly 1
    assert row.ci_high > 100.0  # the mean's interval spans the tail's two runs
    # the median and its interval are of the paired differences, not the two subsets' medians
    d = compare.paired(per_run, "x", 1, 0)
    assert row.median_difference == np.median(d)
    assert list(compare.comparison_table(per_run, ["x"]).columns) == compare.COLUMNS
    # an identical subset: zero, zero width; no pair: NaN
    same = per_run.assign(x=np.tile(base, 2))
    row = compare.comparison_table(same, ["x"]).iloc[0]
    assert (row.median_difference, row.median_ci_low, row.median_ci_high) == (0.0, 0.0, 0.0)
    none = per_run.assign(x=np.where(per_run["subset"] == 1, math.nan, 1.0))
    row = compare.comparison_table(none, ["x"]).iloc[0]
    assert row.n == 0 and math.isnan(row.median_difference) and math.isnan(row.median_ci_low)


def test_the_median_interval_contains_the_median_and_ignores_the_tail():
    rng = np.random.default_rng(6)
    for n in (6, 7, 50, 501, 20_000):
        d = rng.standard_cauchy(n)
        low, high = compare.median_interval(d)
        assert low <= np.median(d) <= high, n
        if compare.median_rank(n) > 1:  # the bounds are not the extremes
            d[np.argmax(d)] = 1e12  # the largest value further out: no change
            assert compare.median_interval(d) == (low, high), n
