"""KPI functions against small trajectories computed by hand, and the reduction across runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from experiments.analysis import kpis
from model.constants import MAX_SUPPLY

KPI_COLUMNS = (
    "reward_pool circulating_supply staking_ratio nodes node_apr_sesh node_net_usd_per_day "
    "price_usd pol_value_usd cum_emission cum_pool_inflow conservation_residual "
    "daily_pool_inflow daily_emission daily_unmet_trade"
).split()


def trajectory(days: int, **columns) -> pd.DataFrame:
    """Timesteps 0..days; columns default to zero, or take a constant or one value per timestep."""
    frame = pd.DataFrame({"subset": 0, "run": 1, "timestep": np.arange(days + 1)})
    for name in KPI_COLUMNS:
        frame[name] = np.broadcast_to(np.asarray(columns.get(name, 0.0), dtype=float), days + 1)
    return frame


def test_value_at_a_year_or_nan_when_the_run_is_shorter():
    pool = np.arange(800) * 2.0
    assert kpis.at_day("reward_pool", 365)(trajectory(799, reward_pool=pool)) == 730.0
    assert kpis.at_day("reward_pool", 730)(trajectory(799, reward_pool=pool)) == 1460.0
    assert math.isnan(kpis.at_day("reward_pool", 365)(trajectory(300)))


def test_fee_parity_day_uses_trailing_means():
    days = 200
    inflow = np.where(np.arange(days + 1) >= 100, 10.0, 0.0)
    t = trajectory(days, daily_pool_inflow=inflow, daily_emission=5.0)
    # a 30-day window ending on day d holds days d-29..d; from day 114 half of it (15 days) is
    # at 10, so the mean inflow reaches the emission of 5
    assert kpis.fee_parity_day(t) == 114.0
    assert kpis.fee_parity_day(t, window=1) == 100.0
    assert kpis.fee_parity_day(t, window=4) == 101.0  # (0 + 0 + 10 + 10) / 4 = 5


def test_fee_parity_ignores_single_lucky_days_and_the_tge_row():
    inflow = np.zeros(101)
    inflow[50] = 1_000.0  # one spike far above emission: a 30-day mean of 33 stays below 50
    t = trajectory(100, daily_pool_inflow=inflow, daily_emission=50.0)
    assert math.isnan(kpis.fee_parity_day(t))
    # no flows at all (timestep 0 is the TGE state, everything 0): 0 >= 0 is not parity
    assert math.isnan(kpis.fee_parity_day(trajectory(100)))


def test_share_of_runs_reaching_parity_within_730_days():
    per_run = pd.DataFrame({"fee_parity_day": [100.0, 800.0, math.nan, 730.0], "last_day": 1825})
    assert kpis.share_within(730)(per_run) == 0.5
    # a run that ended on day 365 without parity might still reach it by day 730
    short = pd.DataFrame({"fee_parity_day": [100.0, math.nan], "last_day": 365})
    assert math.isnan(kpis.share_within(730)(short))
    assert kpis.share_within(730)(short.iloc[:1]) == 1.0  # every run already there


def test_last_year_mean_and_path_extremes():
    t = trajectory(400, node_apr_sesh=np.arange(401.0), price_usd=np.sin(np.arange(401.0)))
    assert kpis.last_year_mean("node_apr_sesh")(t) == pytest.approx((36 + 400) / 2)  # days 36..400
    short = trajectory(10, node_apr_sesh=np.arange(11.0))
    assert kpis.last_year_mean("node_apr_sesh")(short) == pytest.approx(5.5)  # days 1..10
    assert kpis.path_min("price_usd")(t) == pytest.approx(np.sin(np.arange(401.0)).min())
    assert kpis.at_end("price_usd")(t) == pytest.approx(math.sin(400.0))


def test_supply_share_ratio_and_residual():
    t = trajectory(
        1825,
        circulating_supply=120e6,
        cum_emission=np.linspace(0, 40.0, 1826),
        cum_pool_inflow=np.linspace(0, 10.0, 1826),
        conservation_residual=np.where(np.arange(1826) == 7, -3e-6, 1e-6),
    )
    assert kpis.circulating_share_5y(t) == pytest.approx(120e6 / MAX_SUPPLY)
    assert kpis.inflow_to_emission_end(t) == pytest.approx(0.25)
    assert kpis.max_abs_residual(t) == pytest.approx(3e-6)
    assert math.isnan(kpis.inflow_to_emission_end(trajectory(5)))  # nothing emitted yet


def test_describe_skips_nan_runs():
    stats = kpis.describe(pd.Series([*range(1, 102), math.nan]))  # 1..101
    assert stats == {"mean": 51.0, "p5": 6.0, "p50": 51.0, "p95": 96.0, "n": 101}
    empty = kpis.describe(pd.Series([math.nan, math.nan]))
    assert empty["n"] == 0 and math.isnan(empty["mean"]) and math.isnan(empty["p50"])


def test_summarize_and_tidy_per_subset():
    runs = []
    for subset in (0, 1):
        for run, price in ((1, 1.0), (2, 3.0)):
            t = trajectory(20, price_usd=price * (subset + 1))
            runs.append(t.assign(subset=subset, run=run))
    frame = pd.concat(runs, ignore_index=True)
    summary = kpis.summarize(frame)
    assert sorted(summary) == [0, 1]
    assert summary[1]["price_usd_end"]["mean"] == 4.0  # runs at 2 and 6
    assert math.isnan(summary[0]["fee_parity_within_730d"]["value"])  # 20 days: undecided
    assert set(summary[0]) == set(kpis.REGISTRY)

    table = kpis.tidy(summary, {0: "a", 1: "b"})
    assert list(table.columns) == ["subset", "label", "kpi", "unit", "stat", "value"]
    row = table[(table.subset == 1) & (table.kpi == "price_usd_end") & (table.stat == "p50")]
    assert (row["label"].iloc[0], row["unit"].iloc[0], row["value"].iloc[0]) == (
        "b",
        "USD/SESH",
        4.0,
    )


def test_every_kpi_has_a_unit_and_a_description():
    for kpi in kpis.REGISTRY.values():
        assert kpi.unit and kpi.description, kpi.name


def test_kpis_on_a_real_trajectory(baseline_runs):
    summary = kpis.summarize(baseline_runs)[0]
    assert summary["max_abs_conservation_residual"]["p95"] < 1e-3
    assert summary["reward_pool_5y"]["n"] == 5
    assert 0 < summary["circulating_share_5y"]["p50"] < 1
    # the subset share equals the share of runs whose own parity day is within 730 days
    days = [kpis.fee_parity_day(t) for _, t in baseline_runs.groupby("run")]
    within = sum(1 for d in days if d == d and d <= 730) / len(days)
    assert summary["fee_parity_within_730d"]["value"] == within
    # and the pool KPI is read off the 5-year row
    pools = baseline_runs[baseline_runs["timestep"] == 1825]["reward_pool"]
    assert summary["reward_pool_5y"]["p50"] == pytest.approx(pools.median())


# --- sustained parity, lost parity, USD twins (hand-computed trajectories) ------------------------


def test_sustained_parity_counts_the_final_year_only():
    days = 800
    t = np.arange(days + 1)
    # inflow 10 from day 100 to day 599, then 0; emission 5 throughout
    inflow = np.where((t >= 100) & (t < 600), 10.0, 0.0)
    traj = trajectory(days, daily_pool_inflow=inflow, daily_emission=5.0)
    # final 365 days: 436..800. The 30-day mean holds >= 5 while at least 15 of the window's
    # days are at 10: windows ending on days up to 599 + 15 - 1... = 613 (window 584..613 has
    # days 584..599 = 16 at 10; window 585..614 has 15). So days 436..614 are at parity: 179.
    assert kpis.fee_parity_sustained_share(traj) == pytest.approx(179 / 365)
    assert kpis.fee_parity_day(traj) == 114.0  # the first crossing still says 114
    assert kpis.fee_parity_lost(traj) == 1.0


def test_parity_from_day_one_and_never():
    always = trajectory(400, daily_pool_inflow=10.0, daily_emission=5.0)
    assert kpis.fee_parity_day(always) == 30.0  # the first full 30-day window
    assert kpis.fee_parity_sustained_share(always) == 1.0
    assert kpis.fee_parity_lost(always) == 0.0
    never = trajectory(400, daily_pool_inflow=1.0, daily_emission=5.0)
    assert math.isnan(kpis.fee_parity_day(never))
    assert kpis.fee_parity_sustained_share(never) == 0.0
    assert math.isnan(kpis.fee_parity_lost(never))
    assert math.isnan(kpis.fee_parity_sustained_share(trajectory(300, daily_pool_inflow=10.0)))


def test_share_of_runs_that_lose_parity_counts_only_runs_that_reached_it():
    per_run = pd.DataFrame({"fee_parity_lost": [1.0, 0.0, math.nan, 1.0, 0.0]})
    assert kpis.share_lost(per_run) == 0.5
    assert math.isnan(kpis.share_lost(pd.DataFrame({"fee_parity_lost": [math.nan]})))


def test_usd_twins_value_each_day_at_its_price():
    price = np.linspace(0.1, 0.2, 11)
    traj = trajectory(10, daily_pool_inflow=100.0, price_usd=price, reward_pool=1_000.0)
    # day 0 (TGE) is not an inflow day; day d's inflow is bought at its open, day d-1's close
    assert kpis.pool_inflow_usd(traj) == pytest.approx(100.0 * price[:-1].sum())
    assert kpis.reward_pool_usd_end(traj) == pytest.approx(1_000.0 * 0.2)


# --- the numpy KPIs equal the pandas reference -----------------------------------------------------


def _assert_tables_equal(fast: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(fast.columns) == list(reference.columns)
    for column in reference.columns:
        a, b = fast[column].to_numpy(float), reference[column].to_numpy(float)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True, err_msg=column)


def _frame(trajectories: list[pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for i, t in enumerate(trajectories):
        parts.append(t.assign(subset=i // 2, run=i % 2 + 1))
    return pd.concat(parts, ignore_index=True)


def test_numpy_kpis_equal_pandas_on_edge_trajectories():
    days = 800
    t = np.arange(days + 1)
    rng = np.random.default_rng(5)
    noisy = rng.lognormal(2.0, 0.6, days + 1)
    cases = [
        trajectory(days, daily_pool_inflow=10.0, daily_emission=5.0),  # parity from day 30
        trajectory(days, daily_pool_inflow=1.0, daily_emission=5.0),  # never
        trajectory(days, daily_pool_inflow=np.where(t < 400, 10.0, 0.0), daily_emission=5.0),
        trajectory(days, daily_pool_inflow=noisy, daily_emission=7.0, price_usd=noisy / 50),
        trajectory(days, daily_pool_inflow=5.0, daily_emission=5.0),  # exactly at parity
        trajectory(days, nodes=np.maximum(1500 - t, 3.0), reward_pool=t * 1e5, price_usd=0.1),
    ]
    frame = _frame(cases)
    _assert_tables_equal(kpis.per_run(frame), kpis.per_run_reference(frame))


def test_numpy_kpis_equal_pandas_on_simulated_runs():
    from experiments.run import simulate
    from model import Parameters

    sets = [Parameters(), Parameters(fee_pool_share=1.0, pool_payout_rate=0.2)]
    frame = simulate(sets, runs=6, years=2.2, seed=9, engine="vectorized")
    _assert_tables_equal(kpis.per_run(frame), kpis.per_run_reference(frame))


def test_rolling_mean_repeats_pandas_bit_for_bit():
    rng = np.random.default_rng(2)
    values = rng.lognormal(3, 2, (4, 300)) * rng.choice([-1, 1], (4, 300))
    values[1, 50:120] = 7.0  # a run of identical values
    values[2] = np.round(values[2])
    ours = kpis.rolling_mean(values, 30)
    for row, mine in zip(values, ours, strict=True):
        np.testing.assert_array_equal(mine, pd.Series(row).rolling(30).mean().to_numpy())


def test_day_major_rolling_mean_of_many_series_repeats_pandas_bit_for_bit():
    # columns are series, as parity_days stacks inflow and emission: runs of identical values
    # (positive, negative, zeros of both signs), all-negative and all-positive stretches, and
    # horizons shorter than the window
    rng = np.random.default_rng(11)
    for days, series, window in ((400, 9, 30), (40, 3, 30), (29, 2, 30), (120, 5, 1), (90, 4, 7)):
        values = rng.lognormal(1, 2, (days, series)) * rng.choice([-1, 1], (days, series))
        values[:, 1] = np.round(values[:, 1])
        values[: days // 2, 2 % series] = -3.5
        values[days // 3 :, 3 % series] = np.where(np.arange(days - days // 3) % 2, 0.0, -0.0)
        values[:, 4 % series] = np.abs(values[:, 4 % series]) * 1e-12
        ours = kpis.rolling_mean_day_major(values, window)
        assert ours.shape == values.shape
        for column in range(series):
            expected = pd.Series(values[:, column]).rolling(window).mean().to_numpy()
            # bit for bit: the same floats, and -0.0 where pandas gives -0.0
            np.testing.assert_array_equal(ours[:, column].view("int64"), expected.view("int64"))


def test_parity_days_stacks_inflow_and_emission_as_two_rolling_means():
    rng = np.random.default_rng(3)
    paths = {
        "daily_pool_inflow": rng.lognormal(2, 1, (6, 200)) - 3.0,
        "daily_emission": rng.lognormal(2, 0.5, (6, 200)),
    }
    inflow = kpis.rolling_mean(paths["daily_pool_inflow"][:, 1:], kpis.PARITY_WINDOW_DAYS)
    emission = kpis.rolling_mean(paths["daily_emission"][:, 1:], kpis.PARITY_WINDOW_DAYS)
    expected = (inflow > 0) & (inflow >= emission)
    reached = kpis.parity_days(paths)
    assert reached.any() and not reached.all()
    np.testing.assert_array_equal(reached, expected)


def test_a_frame_out_of_order_falls_back_to_the_reference():
    frame = _frame([trajectory(40, daily_pool_inflow=10.0, daily_emission=5.0)] * 2)
    shuffled = frame.sample(frac=1.0, random_state=1)
    _assert_tables_equal(kpis.per_run(shuffled), kpis.per_run_reference(frame))
