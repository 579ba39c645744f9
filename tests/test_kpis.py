"""The KPIs: hand-computed trajectories, the records, the array functions against the pandas
reference in kpi_reference.py on simulated runs, the rolling mean against pandas bit for bit, and
the reduction across runs."""

from __future__ import annotations

import math
from pathlib import Path

import kpi_reference as reference
import numpy as np
import pandas as pd
import pytest

from experiments.analysis import kpis
from model import Parameters
from model.constants import DAYS_PER_YEAR, MAX_SUPPLY

REFERENCE = reference.REFERENCE

# The pandas version whose rolling mean `kpis.rolling_mean_day_major` was checked to repeat bit for
# bit (pandas/_libs/window/aggregations.pyx, roll_mean / add_mean / remove_mean / calc_mean).
ROLLING_MEAN_VERIFIED_ON_PANDAS = "3.0.6"
NAMES = [k.name for k in kpis.RUN_KPIS]
Y = DAYS_PER_YEAR


def trajectory(days: int, **columns) -> pd.DataFrame:
    """Timesteps 0..days; columns default to zero, or take a constant or one value per timestep."""
    frame = pd.DataFrame({"subset": 0, "run": 1, "timestep": np.arange(days + 1)})
    for name in kpis.KPI_COLUMNS:
        frame[name] = np.broadcast_to(np.asarray(columns.get(name, 0.0), dtype=float), days + 1)
    return frame


def value(name: str, one: pd.DataFrame) -> float:
    """KPI `name` of one trajectory from its array function, once the pandas reference has
    given the same number."""
    ours = float(kpis.per_run(one, (kpis.REGISTRY[name],))[name].iloc[0])
    assert ours == pytest.approx(REFERENCE[name](one), rel=1e-12, nan_ok=True), name
    return ours


def paths(one: pd.DataFrame) -> kpis.Paths:
    return kpis.paths_of(one)[0]


# --- hand-computed trajectories -------------------------------------------------------------------


def test_value_at_a_year_or_nan_when_the_run_is_shorter():
    pool = np.arange(800) * 2.0
    assert value("reward_pool_1y", trajectory(799, reward_pool=pool)) == 730.0
    assert value("reward_pool_2y", trajectory(799, reward_pool=pool)) == 1460.0
    assert math.isnan(value("reward_pool_1y", trajectory(300)))


def test_fee_parity_day_uses_trailing_means():
    days = 200
    inflow = np.where(np.arange(days + 1) >= 100, 10.0, 0.0)
    t = trajectory(days, daily_pool_inflow=inflow, daily_emission=5.0)
    # a 30-day window ending on day d holds days d-29..d; from day 114 half of it (15 days) is
    # at 10, so the mean inflow reaches the emission of 5
    assert value("fee_parity_day", t) == 114.0
    for window, day in ((1, 100.0), (4, 101.0)):  # (0 + 0 + 10 + 10) / 4 = 5
        assert kpis.first_parity_day(paths(t), window)[0] == day
        assert kpis.fee_parity_day(t, window) == day  # the rule on one trajectory's frame
        assert reference.fee_parity_day(t, window) == day


def test_fee_parity_ignores_single_lucky_days_and_the_tge_row():
    inflow = np.zeros(101)
    inflow[50] = 1_000.0  # one spike far above emission: a 30-day mean of 33 stays below 50
    t = trajectory(100, daily_pool_inflow=inflow, daily_emission=50.0)
    assert math.isnan(value("fee_parity_day", t))
    # no flows at all (timestep 0 is the TGE state, everything 0): 0 >= 0 is not parity
    assert math.isnan(value("fee_parity_day", trajectory(100)))
    # the TGE row is not a day of flows: a huge inflow there changes nothing
    tge = trajectory(40, daily_pool_inflow=np.r_[1e9, np.zeros(40)], daily_emission=5.0)
    assert math.isnan(value("fee_parity_day", tge)) and math.isnan(kpis.fee_parity_day(tge))


def test_fee_parity_day_of_a_frame_without_the_tge_row_reads_its_timesteps():
    # the charts pass median paths from day 1 on: the answer is a timestep, not a position
    t = trajectory(200, daily_pool_inflow=np.where(np.arange(201) >= 100, 10.0, 0.0))
    t["daily_emission"] = 5.0
    assert kpis.fee_parity_day(t[t["timestep"] >= 1].reset_index(drop=True)) == 114.0
    assert math.isnan(kpis.fee_parity_day(t.iloc[:20]))  # shorter than the window


def test_share_of_runs_reaching_parity_within_730_days():
    per_run = pd.DataFrame({"fee_parity_day": [100.0, 800.0, math.nan, 730.0], "last_day": 1825})
    assert kpis.share_within(730)(per_run) == 0.5
    # a run that ended on day 365 without parity might still reach it by day 730
    short = pd.DataFrame({"fee_parity_day": [100.0, math.nan], "last_day": 365})
    assert math.isnan(kpis.share_within(730)(short))
    assert kpis.share_within(730)(short.iloc[:1]) == 1.0  # every run already there


def test_last_year_mean_and_path_extremes():
    t = trajectory(400, node_apr_sesh=np.arange(401.0), price_usd=np.sin(np.arange(401.0)))
    assert value("node_apr_sesh_last_year", t) == pytest.approx((36 + 400) / 2)  # days 36..400
    short = trajectory(10, node_apr_sesh=np.arange(11.0))
    assert value("node_apr_sesh_last_year", short) == pytest.approx(5.5)  # days 1..10
    assert value("price_usd_min", t) == np.sin(np.arange(401.0)).min()
    assert value("price_usd_max", t) == np.sin(np.arange(401.0)).max()
    assert value("price_usd_end", t) == math.sin(400.0)


def test_supply_share_ratio_and_residual():
    t = trajectory(
        1825,
        circulating_supply=120e6,
        cum_emission=np.linspace(0, 40.0, 1826),
        cum_pool_inflow=np.linspace(0, 10.0, 1826),
        conservation_residual=np.where(np.arange(1826) == 7, -3e-6, 1e-6),
    )
    assert value("circulating_share_5y", t) == pytest.approx(120e6 / MAX_SUPPLY)
    assert value("inflow_to_emission_end", t) == pytest.approx(0.25)
    assert value("max_abs_conservation_residual", t) == 3e-6
    assert math.isnan(value("inflow_to_emission_end", trajectory(5)))  # nothing emitted yet


def test_sustained_parity_counts_the_final_year_only():
    days = 800
    t = np.arange(days + 1)
    # inflow 10 from day 100 to day 599, then 0; emission 5 throughout
    inflow = np.where((t >= 100) & (t < 600), 10.0, 0.0)
    traj = trajectory(days, daily_pool_inflow=inflow, daily_emission=5.0)
    # final 365 days: 436..800. The 30-day mean holds >= 5 while at least 15 of the window's
    # days are at 10: windows ending on days up to 599 + 15 - 1... = 613 (window 584..613 has
    # days 584..599 = 16 at 10; window 585..614 has 15). So days 436..614 are at parity: 179.
    assert value("fee_parity_sustained_share", traj) == pytest.approx(179 / 365)
    assert value("fee_parity_day", traj) == 114.0  # the first crossing still says 114
    assert value("fee_parity_lost", traj) == 1.0


def test_parity_from_day_one_and_never():
    always = trajectory(400, daily_pool_inflow=10.0, daily_emission=5.0)
    assert value("fee_parity_day", always) == 30.0  # the first full 30-day window
    assert value("fee_parity_sustained_share", always) == 1.0
    assert value("fee_parity_lost", always) == 0.0
    never = trajectory(400, daily_pool_inflow=1.0, daily_emission=5.0)
    assert math.isnan(value("fee_parity_day", never))
    assert value("fee_parity_sustained_share", never) == 0.0
    assert math.isnan(value("fee_parity_lost", never))
    short = trajectory(300, daily_pool_inflow=10.0)
    assert math.isnan(value("fee_parity_sustained_share", short))


def test_usd_kpis_value_each_day_at_its_price():
    price = np.linspace(0.1, 0.2, 11)
    traj = trajectory(10, daily_pool_inflow=100.0, price_usd=price, reward_pool=1_000.0)
    # day 0 (TGE) is not an inflow day; day d's inflow is bought at its open, day d-1's close
    assert value("cum_pool_inflow_usd_end", traj) == pytest.approx(100.0 * price[:-1].sum())
    assert value("reward_pool_usd_end", traj) == pytest.approx(1_000.0 * 0.2)


def test_unmet_trade_counts_days_after_tge():
    unmet = np.array([7.0, 0.0, 2.5, 0.0, 1.5, 0.0])  # the TGE row's 7 is not a day of trades
    traj = trajectory(5, daily_unmet_trade=unmet)
    assert value("unmet_trade_total", traj) == 4.0
    assert value("unmet_trade_days", traj) == 2.0


def test_share_of_runs_that_lose_parity_counts_only_runs_that_reached_it():
    per_run = pd.DataFrame({"fee_parity_lost": [1.0, 0.0, math.nan, 1.0, 0.0]})
    assert kpis.share_lost(per_run) == 0.5
    assert math.isnan(kpis.share_lost(pd.DataFrame({"fee_parity_lost": [math.nan]})))


# --- the records --------------------------------------------------------------------------------


def test_every_kpi_has_a_unit_a_meaning_and_columns():
    for kpi in kpis.REGISTRY.values():
        assert kpi.unit and kpi.description, kpi.name
    for kpi in kpis.RUN_KPIS:
        assert kpi.columns and len(set(kpi.columns)) == len(kpi.columns), kpi.name
    assert len(kpis.REGISTRY) == len(kpis.RUN_KPIS) + len(kpis.SUBSET_KPIS)  # names unique


def test_every_kpi_has_a_pandas_reference():
    missing = sorted(set(NAMES) - set(REFERENCE))
    assert not missing, f"write the pandas reference of {missing} in tests/kpi_reference.py"
    assert not set(REFERENCE) - set(NAMES), "a reference for a KPI that no longer exists"


class Reading(dict):
    """Paths that note which columns a KPI function reads."""

    def __init__(self, columns: dict):
        super().__init__(columns)
        self.read: set[str] = set()

    def __getitem__(self, column: str):
        self.read.add(column)
        return super().__getitem__(column)


def test_each_kpi_reads_exactly_the_columns_its_record_names():
    rng = np.random.default_rng(4)
    for kpi in kpis.RUN_KPIS:
        # only the named columns: reading another one is a KeyError
        given = Reading({c: rng.lognormal(0, 1, (3, 800)) for c in kpi.columns})
        assert kpi.function(given).shape == (3,), kpi.name
        assert given.read == set(kpi.columns), kpi.name


def test_the_column_list_is_the_records_columns():
    named = [c for k in kpis.RUN_KPIS for c in k.columns]
    assert sorted(kpis.KPI_COLUMNS) == sorted(set(named))
    assert len(kpis.KPI_COLUMNS) == len(set(kpis.KPI_COLUMNS))
    # a table of some KPIs needs only their columns
    t = trajectory(40, price_usd=2.0)[["subset", "run", "timestep", "price_usd"]]
    table = kpis.per_run(t, (kpis.REGISTRY["price_usd_end"], kpis.REGISTRY["price_usd_min"]))
    assert list(table.columns) == ["subset", "run", "last_day", "price_usd_end", "price_usd_min"]
    assert table.iloc[0].tolist() == [0, 1, 40, 2.0, 2.0]


def test_a_kpi_has_a_value_from_its_minimum_horizon_on():
    # positive everywhere, parity from the first full window: every KPI has a value once the
    # run is long enough, and `not_available` says so exactly when it is not
    values = {c: 1.0 for c in kpis.KPI_COLUMNS} | {"daily_pool_inflow": 10.0}
    for kpi in kpis.RUN_KPIS:
        enough = trajectory(kpi.min_days, **values)
        assert not math.isnan(value(kpi.name, enough)), kpi.name
        if kpi.min_days > 1:
            short = trajectory(kpi.min_days - 1, **values)
            assert math.isnan(value(kpi.name, short)), kpi.name
            table = kpis.per_run(short)
            note = kpis.not_available(table)[0][kpi.name]
            assert note == (
                f"not available: needs a horizon of {kpi.min_days} days, "
                f"the run has {kpi.min_days - 1}"
            )


# --- the array functions equal the pandas reference on simulated runs ----------------------------


def _assert_equals_reference(frame: pd.DataFrame) -> pd.DataFrame:
    """kpis.per_run(frame) against the reference, column by column; returns the table."""
    fast, expected = kpis.per_run(frame), reference.per_run_reference(frame, NAMES)
    assert list(fast.columns) == list(expected.columns)
    for column in expected.columns:
        a, b = fast[column].to_numpy(float), expected[column].to_numpy(float)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True, err_msg=column)
    return fast


@pytest.fixture(scope="module")
def fee_runs() -> pd.DataFrame:
    """Six 5-year runs each at 90% and 100% of fees to the pool, Pro and names routed to it: runs
    that reach parity and keep it, lose it, reach it late, and run out of tradable SESH."""
    from experiments.run import simulate

    route = {"pro_revenue_route": "pool", "sns_deployed": True}
    sets = [Parameters(**route, fee_pool_share=share) for share in (0.9, 1.0)]
    return simulate(sets, runs=6, years=5, seed=3, engine="vectorized")


def test_array_kpis_equal_the_reference_on_simulated_runs(fee_runs):
    table = _assert_equals_reference(fee_runs)
    # the runs cover the cases the parity KPIs distinguish, and a limit being hit
    assert set(table["fee_parity_lost"]) == {0.0, 1.0}
    assert table["fee_parity_day"].between(30, 1825).all()
    assert (table["unmet_trade_days"] > 0).any() and (table["unmet_trade_days"] == 0).any()
    assert not table[NAMES].isna().any().any()  # 5 years: every KPI has a value


@pytest.mark.parametrize("horizon", [20, 200, 400, 800, 1100])
def test_array_kpis_equal_the_reference_on_short_horizons(fee_runs, horizon):
    short = fee_runs[fee_runs["timestep"] <= horizon].reset_index(drop=True)
    table = _assert_equals_reference(short)
    unavailable = {k.name for k in kpis.RUN_KPIS if k.min_days > horizon}
    for name in NAMES:
        if name in unavailable:  # NaN, not the last day's value
            assert table[name].isna().all(), name
        elif name not in ("fee_parity_day", "fee_parity_lost"):  # NaN: parity not reached yet
            assert table[name].notna().all(), name
    assert unavailable  # the 5-year KPIs at least
    if horizon == 1100:  # some runs reached parity by then, some not yet
        assert table["fee_parity_day"].isna().any() and table["fee_parity_day"].notna().any()


def test_array_kpis_equal_the_reference_on_cadcad_runs(baseline_runs):
    _assert_equals_reference(baseline_runs)


def test_runs_of_different_horizons_in_any_order(fee_runs):
    # run 1 of subset 0 stops at day 700, run 2 of subset 1 at day 20; the rows shuffled
    keys = fee_runs[["subset", "run"]]
    drop = ((keys["subset"] == 0) & (keys["run"] == 1) & (fee_runs["timestep"] > 700)) | (
        (keys["subset"] == 1) & (keys["run"] == 2) & (fee_runs["timestep"] > 20)
    )
    ragged = fee_runs[~drop].sample(frac=1.0, random_state=1)
    table = _assert_equals_reference(ragged)
    assert table[["subset", "run"]].to_numpy().tolist() == sorted(
        fee_runs[["subset", "run"]].drop_duplicates().to_numpy().tolist()
    )
    last = table.set_index(["subset", "run"])["last_day"]
    assert (last[(0, 1)], last[(1, 2)], last[(0, 2)]) == (700, 20, 1825)


def test_a_trajectory_that_misses_a_day_is_refused():
    frame = trajectory(40, daily_pool_inflow=10.0, daily_emission=5.0)
    with pytest.raises(ValueError, match="every day"):
        kpis.per_run(frame[frame["timestep"] != 17])


# --- the rolling mean is pandas', bit for bit ------------------------------------------------------


def test_the_rolling_mean_was_verified_on_this_pandas_version():
    assert pd.__version__ == ROLLING_MEAN_VERIFIED_ON_PANDAS, (
        f"kpis.rolling_mean_day_major repeats the rolling mean of pandas "
        f"{ROLLING_MEAN_VERIFIED_ON_PANDAS} step by step, and the fee parity days depend on it to "
        f"the last bit; this is pandas {pd.__version__}. Compare roll_mean in "
        f"pandas/_libs/window/aggregations.pyx between the two versions, make the bit-for-bit "
        f"tests in tests/test_kpis.py pass, then set ROLLING_MEAN_VERIFIED_ON_PANDAS to "
        f"{pd.__version__!r}."
    )


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


def test_rolling_mean_of_simulated_flows_repeats_pandas_bit_for_bit(fee_runs):
    # the series the parity rule reads, where a last-bit difference would move a parity day
    for column in ("daily_pool_inflow", "daily_emission"):
        values = fee_runs.pivot(index="timestep", columns=["subset", "run"], values=column)
        ours = kpis.rolling_mean_day_major(values.to_numpy()[1:], kpis.PARITY_WINDOW_DAYS)
        expected = values.iloc[1:].rolling(kpis.PARITY_WINDOW_DAYS).mean().to_numpy()
        np.testing.assert_array_equal(ours.view("int64"), expected.view("int64"), err_msg=column)


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


# --- the reduction across runs --------------------------------------------------------------------


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


# --- how reports present a KPI: fields of its record ----------------------------------------------


def test_every_record_says_how_it_is_shown_and_what_it_hangs_on():
    rows = (Path(__file__).resolve().parents[1] / "ASSUMPTIONS.md").read_text()
    for record in kpis.REGISTRY.values():
        assert record.kind in (kpis.AMOUNT, kpis.FLAG, kpis.SHARE), record.name
        assert record.heading, record.name
        assert record.resolution >= 0, record.name
        for ident in record.assumptions:
            assert f"| {ident} |" in rows, (record.name, ident)  # a row of ASSUMPTIONS.md
    for record in kpis.SUBSET_KPIS:
        assert record.kind == kpis.SHARE
        assert not record.over or record.over in {k.name for k in kpis.RUN_KPIS}, record.name
    # the parity KPIs: a day only for the runs that reach parity, a flag shown as a share
    assert kpis.REGISTRY["fee_parity_day"].defined_for
    assert kpis.REGISTRY["fee_parity_lost"].kind == kpis.FLAG
    assert kpis.REGISTRY["fee_parity_lost_share"].over == "fee_parity_lost"


def test_a_flag_kpi_is_zero_or_one_per_run():
    """What makes `kind=FLAG` true of a record: every value it gives is 0, 1 or none."""
    rng = np.random.default_rng(3)
    days = 800
    trend = np.linspace(0.2, 2.0, days + 1)  # paths that rise through 1: some cross, some fall
    flags = [k for k in kpis.RUN_KPIS if k.kind == kpis.FLAG]
    assert flags
    for record in flags:
        paths = {c: rng.lognormal(0.0, 0.3, (8, days + 1)) * trend for c in record.columns}
        paths |= {"daily_emission": np.ones((8, days + 1))} if "daily_emission" in paths else {}
        values = record.function(paths)
        assert set(values[~np.isnan(values)]) <= {0.0, 1.0}, record.name
        assert (~np.isnan(values)).any(), record.name


# --- the trailing inflow/emission ratio and P* against the pool -------------------------------------

RATE = 0.151  # the contract's payout rate


def test_ratio_on_a_step_path_by_hand():
    # inflow 0 until day 99, then 10 a day; emission 5 a day. The window ending on day d holds
    # days d-29..d, so from day 100 it holds d - 99 days at 10: the mean inflow is
    # 10 (d - 99) / 30 and the ratio (d - 99) / 15, 1 on day 114 (the first parity day), 2
    # from day 129 on
    days = 800
    inflow = np.where(np.arange(days + 1) >= 100, 10.0, 0.0)
    t = trajectory(days, daily_pool_inflow=inflow, daily_emission=5.0)
    p = paths(t)
    ratio = kpis.trailing_ratio(p["daily_pool_inflow"][:, 1:], p["daily_emission"][:, 1:])[0]
    assert np.isnan(ratio[:29]).all()  # days 1..29: no full window yet
    assert ratio[29] == 0.0  # day 30
    for day in (100, 107, 114, 120, 128):
        assert ratio[day - 1] == pytest.approx((day - 99) / 15, rel=1e-12), day
    assert (ratio[128:] == 2.0).all()
    assert value("fee_parity_day", t) == 114.0
    assert value("inflow_emission_ratio_end", t) == 2.0
    assert value("inflow_emission_ratio_2y", t) == 2.0
    # a run that ends on day 110: the ratio then is 11 / 15; no 2-year value
    short = t[t["timestep"] <= 110]
    assert value("inflow_emission_ratio_end", short) == pytest.approx(11 / 15, rel=1e-12)
    assert math.isnan(value("inflow_emission_ratio_2y", short))
    assert math.isnan(value("inflow_emission_ratio_end", t[t["timestep"] <= 29]))


def test_ratio_at_two_years_reads_day_730_not_the_end():
    days = 1000
    t = np.arange(days + 1)
    # inflow 8 a day up to day 730, then 2; emission 4 throughout
    traj = trajectory(days, daily_pool_inflow=np.where(t <= 730, 8.0, 2.0), daily_emission=4.0)
    assert value("inflow_emission_ratio_2y", traj) == 2.0
    assert value("inflow_emission_ratio_end", traj) == 0.5


def test_ratio_is_none_without_emission_and_zero_without_inflow():
    # no nodes for a whole window: nothing is paid, no rate to compare with
    no_payout = trajectory(100, daily_pool_inflow=3.0, daily_emission=0.0)
    assert math.isnan(value("inflow_emission_ratio_end", no_payout))
    assert value("inflow_emission_ratio_end", trajectory(100, daily_emission=5.0)) == 0.0


def test_pool_at_its_equilibrium_by_hand():
    # constant inflow I; P* = 365 I / r. The pool pays r/365 of the balance the payout is taken
    # from, the end-of-day pool plus the payout: with the pool held at P* the payout is
    # e = r (P* + e) / 365, so e = r P* / (365 - r) = 365 I / (365 - r)
    name = "pool_equilibrium_share_end"
    inflow = 1_000.0
    equilibrium = 365 * inflow / RATE
    paid = RATE * equilibrium / (365 - RATE)
    at = trajectory(400, daily_pool_inflow=inflow, daily_emission=paid, reward_pool=equilibrium)
    assert value(name, at) == pytest.approx(1.0, rel=1e-12)
    assert value("inflow_emission_ratio_end", at) == pytest.approx(inflow / paid, rel=1e-12)
    # the steady state of the model's day (buys, then the payout): emission equals inflow, so the
    # ratio is 1 and the end-of-day pool is P* less one day's inflow, (1 - r/365) P*
    steady = trajectory(
        400, daily_pool_inflow=inflow, daily_emission=inflow, reward_pool=equilibrium - inflow
    )
    assert value("inflow_emission_ratio_end", steady) == 1.0
    assert value(name, steady) == pytest.approx(1 / (1 - RATE / 365), rel=1e-12)
    # twice the balance at the same inflow: twice the payout, P* half the pool
    double = trajectory(
        400, daily_pool_inflow=inflow, daily_emission=2 * paid, reward_pool=2 * equilibrium
    )
    assert value(name, double) == pytest.approx(0.5, rel=1e-12)
    assert value("inflow_emission_ratio_end", double) == pytest.approx(inflow / paid / 2)


def test_equilibrium_reads_the_trailing_inflow_and_is_zero_without_one():
    # the last 30 days' inflow (days 371..400) is 2,000 a day, twice the earlier 1,000: P*
    # doubles, twice the same pool
    name = "pool_equilibrium_share_end"
    inflow = np.where(np.arange(401) > 370, 2_000.0, 1_000.0)
    equilibrium = 365 * 1_000.0 / RATE
    paid = RATE * equilibrium / (365 - RATE)
    t = trajectory(400, daily_pool_inflow=inflow, daily_emission=paid, reward_pool=equilibrium)
    assert value(name, t) == pytest.approx(2.0, rel=1e-12)
    # no inflow: P* = 0, the pool drains; float dust in the inflow is ~0 too, not a blow-up
    none_in = trajectory(400, daily_pool_inflow=0.0, daily_emission=paid, reward_pool=equilibrium)
    assert value(name, none_in) == 0.0
    dust = trajectory(400, daily_pool_inflow=1e-9, daily_emission=paid, reward_pool=equilibrium)
    assert 0 < value(name, dust) < 1e-11
    none_paid = trajectory(400, daily_pool_inflow=5.0, daily_emission=0.0, reward_pool=1e6)
    assert math.isnan(value(name, none_paid))  # no nodes: no payout, no rate
    short = trajectory(29, daily_pool_inflow=5.0, daily_emission=1.0, reward_pool=1e6)
    assert math.isnan(value(name, short))


def test_sustained_share_is_the_final_year_share_of_days_with_ratio_at_least_one(fee_runs):
    # the share of the final year's days at parity (fee_parity_sustained_share) counts the days
    # on which the trailing ratio is 1 or more (emission is paid every day of these runs)
    p, _, _ = kpis.paths_of(fee_runs)
    inflow, emission = p["daily_pool_inflow"][:, 1:], p["daily_emission"][:, 1:]
    ratio = kpis.trailing_ratio(inflow, emission)
    assert (emission > 0).all()
    share = (ratio[:, -Y:] >= 1).mean(axis=1)
    table = kpis.per_run(fee_runs)
    np.testing.assert_array_equal(table["fee_parity_sustained_share"].to_numpy(), share)
    assert ((share > 0) & (share < 1)).any()  # some run is at parity on some days only
    # the ratio KPIs are the path's values on their days
    np.testing.assert_array_equal(table["inflow_emission_ratio_end"].to_numpy(), ratio[:, -1])
    np.testing.assert_array_equal(table["inflow_emission_ratio_2y"].to_numpy(), ratio[:, 2 * Y - 1])


def test_the_payout_rate_read_off_a_run_is_its_parameter():
    # P* needs the run's payout rate; the paths carry no parameters, so the KPI reads it off the
    # last payout. Against the parameter itself on a sweep of the rate, fees routed to the pool:
    from experiments.run import simulate

    rates = (0.10, 0.20)
    route = {"pro_revenue_route": "pool", "sns_deployed": True}
    sets = [Parameters(**route, pool_payout_rate=r) for r in rates]
    frame = simulate(sets, runs=3, years=2, seed=5, engine="vectorized", common_draws=True)
    table = kpis.per_run(frame)
    for subset, rate in enumerate(rates):
        runs = frame[frame["subset"] == subset]
        p, _, _ = kpis.paths_of(runs.reset_index(drop=True))
        inflow = kpis.rolling_mean(p["daily_pool_inflow"][:, 1:], kpis.PARITY_WINDOW_DAYS)[:, -1]
        with_parameter = 365 * inflow / rate / p["reward_pool"][:, -1]
        ours = table[table["subset"] == subset]["pool_equilibrium_share_end"].to_numpy()
        np.testing.assert_allclose(ours, with_parameter, rtol=1e-4)
        assert (ours > 0).all()
        # the contract's rate in place of the run's would be off by a fifth or more
        wrong = 365 * inflow / RATE / p["reward_pool"][:, -1]
        assert (np.abs(ours / wrong - 1) > 0.2).all()


def test_ratio_kpis_of_a_kpi_only_streamed_run_equal_the_full_run():
    # the KPI-only path records what the records name, batch by batch, and reduces each batch
    from experiments.run import simulate, simulate_kpis

    route = {"pro_revenue_route": "pool", "sns_deployed": True}
    sets = [Parameters(**route), Parameters(**route, fee_pool_share=1.0)]
    settings = dict(runs=5, years=2.1, seed=7, common_draws=True)
    streamed = simulate_kpis(sets, batch_size=3, **settings).per_run
    full = kpis.per_run(simulate(sets, engine="vectorized", **settings))
    names = ["inflow_emission_ratio_2y", "inflow_emission_ratio_end"]
    names += ["pool_equilibrium_share_end", "fee_parity_sustained_share"]
    pd.testing.assert_frame_equal(streamed[names], full[names], check_exact=True)
    assert full[names].notna().all().all()
