"""Pro and name demand from monthly users x conversion x adoption ramp since a drawn launch day,
and fee buys filled against the consolidated depth (issue 21, items 1 and 5)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.analysis.tolerances import assert_frames_close
from experiments.engines.guard import NEGATIVE_LIMIT
from experiments.run import simulate
from model import Parameters
from model.constants import MAX_SUPPLY
from model.parts.metrics import STOCKS
from model.parts.spending import adoption_ramp, fill_against_depth, launch_day
from model.stochastic import DRIVERS, draw_drivers, run_seed_sequence

# The drivers as they were before issue 21 appended its three, in their spawn order.
OLD_DRIVERS = (
    ("eth_shock", "normal"),
    ("ref_shock", "normal"),
    ("demand_shock", "normal"),
    ("hurdle_shock", "normal"),
    ("entry_draw", "uniform"),
    ("exit_draw", "uniform"),
    ("liquidation_draw", "uniform"),
)


def test_old_drivers_keep_their_streams():
    """Appending drivers leaves every existing driver's draws unchanged (paired draws)."""
    assert DRIVERS[: len(OLD_DRIVERS)] == tuple(name for name, _ in OLD_DRIVERS)
    assert DRIVERS[len(OLD_DRIVERS) :] == ("users_shock", "pro_launch_draw", "sns_launch_draw")
    for seed, subset, run in [(0, 0, 1), (7, 3, 12)]:
        # the former scheme, written out: one child stream per driver, spawned in order
        streams = run_seed_sequence(seed, subset, run).spawn(len(OLD_DRIVERS))
        now = draw_drivers(seed, subset, run, 50)
        for (name, kind), stream in zip(OLD_DRIVERS, streams, strict=True):
            rng = np.random.default_rng(stream)
            before = rng.standard_normal(51) if kind == "normal" else rng.random(51)
            np.testing.assert_array_equal(now[name], before, err_msg=name)
    # the new ones are their own streams, of their kind
    new = draw_drivers(0, 0, 1, 5000)
    assert abs(np.mean(new["users_shock"])) < 0.1 and abs(np.std(new["users_shock"]) - 1) < 0.05
    assert 0.0 <= new["pro_launch_draw"].min() and new["pro_launch_draw"].max() < 1.0


def test_launch_day_is_uniform_on_whole_days_of_the_window():
    draws = np.linspace(0.0, 1.0, 10_000, endpoint=False)
    days = launch_day(draws, 385, 730)
    assert days.min() == 385 and days.max() == 730
    assert set(np.unique(days)) == set(range(385, 731))
    counts = np.bincount((days - 385).astype(int))
    assert counts.max() - counts.min() <= 1  # equal shares of the draw's range
    assert launch_day(0.999999, 400, 400) == 400 and launch_day(0.0, 400, 400) == 400


def test_launch_windows_must_be_ordered():
    with pytest.raises(ValueError, match="pro_launch_day_earliest.*pro_launch_day_latest"):
        Parameters(pro_launch_day_earliest=500, pro_launch_day_latest=400)
    with pytest.raises(ValueError, match="pro_ramp_early_days.*pro_ramp_full_days"):
        Parameters(pro_ramp_early_days=200.0, pro_ramp_full_days=100.0)


# --- hand-computed subscriber paths ----------------------------------------------------------

KNOWN_USERS = dict(
    monthly_users_volatility=0.0,
    monthly_users_growth=0.5,
    initial_monthly_users=2e6,
    pro_launch_day_earliest=100,
    pro_launch_day_latest=100,
    pro_conversion=0.004,
    pro_ramp_early_days=60.0,
    pro_ramp_early_share=0.6,
    pro_ramp_full_days=300.0,
    demand_volatility=0.0,
)


def test_subscribers_follow_users_x_conversion_x_ramp_on_a_known_users_path():
    frame = simulate([Parameters(**KNOWN_USERS)], runs=2, years=1.5, seed=3, engine="vectorized")
    run = frame[frame["run"] == 1].set_index("timestep")
    day = run.index.to_numpy(dtype=float)
    users = 2e6 * np.exp(0.5 * day / 365)  # no noise: the users' path is the trend alone
    np.testing.assert_allclose(run["monthly_users"], users, rtol=1e-9)
    # day 100 is the first day of sales: 0.6 x d/60 for d = 1..60 days of sales, then to 1 by 300
    sales = day - 100 + 1
    ramp = np.where(
        sales <= 0,
        0.0,
        np.where(sales <= 60, 0.6 * sales / 60, np.minimum(0.6 + 0.4 * (sales - 60) / 240, 1.0)),
    )
    want = users * 0.004 * ramp
    np.testing.assert_allclose(run["pro_subscribers"], want, rtol=1e-9, atol=1e-9)
    # a few values by hand
    assert run.loc[99, "pro_subscribers"] == 0.0
    assert run.loc[100, "pro_subscribers"] == pytest.approx(
        2e6 * np.exp(0.5 * 100 / 365) * 0.004 * 0.01
    )
    assert run.loc[399, "pro_subscribers"] == pytest.approx(2e6 * np.exp(0.5 * 399 / 365) * 0.004)
    # revenue: subscribers x $22.74 a year net of the 15% store commission
    np.testing.assert_allclose(run["daily_fee_usd"], want * 22.74 / 365 * 0.85, rtol=1e-9)
    # both runs: the same users' path (no noise), the same launch day
    np.testing.assert_allclose(
        frame[frame["run"] == 2]["pro_subscribers"].to_numpy(), run["pro_subscribers"].to_numpy()
    )


def test_noisy_users_still_give_users_x_conversion_x_ramp():
    p = dict(KNOWN_USERS, monthly_users_volatility=0.5)
    frame = simulate([Parameters(**p)], runs=3, years=1.2, seed=9, engine="vectorized")
    sales = frame["timestep"] - 100 + 1
    ramp = adoption_ramp(sales.to_numpy(dtype=float), 60.0, 0.6, 300.0)
    np.testing.assert_allclose(
        frame["pro_subscribers"], frame["monthly_users"] * 0.004 * ramp, rtol=1e-12
    )
    # the noise is on: runs differ, and a run's log users move by about 0.5 / sqrt(365) a day
    last = frame[frame["timestep"] == frame["timestep"].max()]
    assert last["monthly_users"].nunique() == 3
    steps = np.diff(np.log(frame[frame["run"] == 1]["monthly_users"].to_numpy()))
    assert np.std(steps) == pytest.approx(0.5 / np.sqrt(365), rel=0.15)


def test_names_follow_users_x_names_per_user_x_linear_ramp():
    p = dict(
        KNOWN_USERS,
        sns_deployed=True,
        sns_launch_day_earliest=50,
        sns_launch_day_latest=50,
        sns_names_per_user=0.02,
        sns_ramp_days=100.0,
    )
    frame = simulate([Parameters(**p)], runs=1, years=0.6, seed=3, engine="vectorized")
    run = frame.set_index("timestep")
    day = run.index.to_numpy(dtype=float)
    ramp = np.clip((day - 50 + 1) / 100, 0.0, 1.0)
    np.testing.assert_allclose(run["sns_names"], run["monthly_users"] * 0.02 * ramp, rtol=1e-12)
    assert run.loc[49, "sns_names"] == 0.0 and run.loc[50, "sns_names"] > 0


# --- the drawn launch day, on every engine -------------------------------------------------------

EARLY_LAUNCH = dict(
    pro_launch_day_earliest=20,
    pro_launch_day_latest=60,
    sns_deployed=True,
    sns_launch_day_earliest=30,
    sns_launch_day_latest=70,
    pro_revenue_route="pool",
    pro_conversion=0.02,
)


@pytest.mark.engines
def test_launch_day_is_respected_on_every_engine():
    sets = [Parameters(**EARLY_LAUNCH), Parameters(**dict(EARLY_LAUNCH, pro_conversion=0.01))]
    frames = {
        engine: simulate(sets, runs=3, years=0.25, seed=13, engine=engine)
        for engine in ("cadcad", "radcad", "vectorized")
    }
    for engine, frame in frames.items():
        for (subset, run), path in frame.groupby(["subset", "run"]):
            draws = draw_drivers(13, subset, run, 100)
            pro_day = launch_day(draws["pro_launch_draw"][1], 20, 60)
            sns_day = launch_day(draws["sns_launch_draw"][1], 30, 70)
            days = path["timestep"]
            assert (path.loc[days >= 1, "pro_launch_day_drawn"] == pro_day).all(), engine
            assert (path.loc[days >= 1, "sns_launch_day_drawn"] == sns_day).all(), engine
            assert (path.loc[days < pro_day, "pro_subscribers"] == 0).all(), engine
            assert (path.loc[days >= pro_day, "pro_subscribers"] > 0).all(), engine
            assert (path.loc[days < sns_day, "sns_names"] == 0).all(), engine
            assert (path.loc[days >= sns_day, "sns_names"] > 0).all(), engine
            # nothing bought before the first launch
            first = min(pro_day, sns_day)
            assert (path.loc[days < first, "daily_fee_spent"] == 0).all(), engine
            assert (path.loc[days >= first, "daily_fee_spent"] > 0).all(), engine
    # the engines agree on every column, fee buys included
    pd.testing.assert_frame_equal(frames["cadcad"], frames["radcad"])
    assert_frames_close(frames["vectorized"], frames["cadcad"])
    # runs draw different launch days
    assert frames["vectorized"].groupby("run")["pro_launch_day_drawn"].last().nunique() > 1


# --- paired draws: conversion ------------------------------------------------------------------


def test_demand_is_monotone_in_conversion_on_common_draws():
    conversions = [0.0, 0.001, 0.005, 0.02]
    sets = [Parameters(pro_conversion=c, pro_revenue_route="pool") for c in conversions]
    frame = simulate(sets, runs=4, years=2.5, seed=5, engine="vectorized", common_draws=True)
    by = {s: frame[frame["subset"] == s].reset_index(drop=True) for s in range(len(sets))}
    for low, high in zip(range(len(sets) - 1), range(1, len(sets)), strict=True):
        # common draws: the same users and launch days whatever the conversion
        np.testing.assert_array_equal(by[low]["monthly_users"], by[high]["monthly_users"])
        np.testing.assert_array_equal(
            by[low]["pro_launch_day_drawn"], by[high]["pro_launch_day_drawn"]
        )
        assert (by[high]["pro_subscribers"] >= by[low]["pro_subscribers"]).all()
        assert (by[high]["daily_fee_usd"] >= by[low]["daily_fee_usd"]).all()
        assert (by[high]["cum_fee_usd"] >= by[low]["cum_fee_usd"]).all()
        last = by[high]["timestep"] == by[high]["timestep"].max()
        assert (by[high].loc[last, "cum_fee_usd"] > by[low].loc[last, "cum_fee_usd"]).all()
        assert (by[high].loc[last, "cum_pool_inflow"] > by[low].loc[last, "cum_pool_inflow"]).all()
    # exactly proportional: subscribers scale with conversion
    np.testing.assert_allclose(by[3]["pro_subscribers"], 4 * by[2]["pro_subscribers"], rtol=1e-12)
    assert (by[0]["pro_subscribers"] == 0).all() and (by[0]["daily_fee_spent"] == 0).all()


# --- fee buys against the consolidated depth (item 5) ---------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    usd=st.floats(0.0, 1e30, allow_subnormal=False),
    price=st.floats(1e-300, 1e12),
    reserve=st.floats(0.0, 1e12, allow_subnormal=False),
    more=st.floats(1.0, 1e6),
)
def test_a_fill_never_reaches_the_reserve_and_pays_more_for_more(usd, price, reserve, more):
    bought = fill_against_depth(usd, price, reserve)
    assert np.isfinite(bought) and 0.0 <= bought <= reserve
    with np.errstate(over="ignore"):
        at_open = usd / price
    assert bought <= at_open * (1 + 1e-12) + 1e-300  # never better than the opening price
    if reserve > 0 and usd > 0:
        assert bought < reserve or bought == pytest.approx(reserve)
    # a larger order gets more SESH, at a worse average price
    larger = fill_against_depth(usd * more, price, reserve)
    assert larger >= bought * (1 - 1e-12)
    with np.errstate(over="ignore"):
        paid, paid_larger = usd / bought if bought else 0.0, usd * more / larger if larger else 0.0
    if bought > 0 and np.isfinite(paid_larger):
        assert paid_larger >= paid * (1 - 1e-9)


def test_fill_hand_values():
    # a = 1,000 SESH at the open on a 9,000-SESH reserve: 9,000 x 1,000 / 10,000 = 900
    assert fill_against_depth(100.0, 0.1, 9_000.0) == pytest.approx(900.0)
    # small orders fill at the open; nothing from an empty market
    assert fill_against_depth(1e-6, 0.1, 1e9) == pytest.approx(1e-5)
    assert fill_against_depth(100.0, 0.1, 0.0) == 0.0
    # an astronomically large order at a tiny price takes (almost) the reserve, never more
    assert fill_against_depth(1e30, 1e-300, 5e6) == pytest.approx(5e6)
    assert fill_against_depth(1e30, 1e-300, 5e6) <= 5e6


# The corner that exhausted the float before: a billion users all paying, names at the top of
# their range, at a millionth of a dollar, in a 1-SESH pool.
FLOAT_CORNER = dict(
    initial_price_usd=1e-6,
    initial_amm_sesh=1.0,
    initial_monthly_users=1e9,
    monthly_users_growth=2.0,
    pro_conversion=1.0,
    pro_launch_day_earliest=1,
    pro_launch_day_latest=5,
    pro_ramp_early_days=0.0,
    pro_ramp_early_share=1.0,
    pro_ramp_full_days=0.0,
    pro_revenue_route="pool",
    sns_deployed=True,
    sns_launch_day_earliest=1,
    sns_launch_day_latest=1,
    sns_names_per_user=10.0,
    sns_ramp_days=0.0,
    sns_fee_usd_per_year=10_000.0,
)


@pytest.mark.parametrize("price_model", ["impact", "exogenous", "pool_only"])
def test_huge_demand_at_a_tiny_price_stays_finite_and_buys_what_exists(price_model):
    sets = [Parameters(price_model=price_model, **FLOAT_CORNER)]
    frame = simulate(sets, runs=2, years=1.0, seed=4, engine="vectorized")
    numbers = frame.drop(columns=["subset", "run", "timestep"]).to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    stocks = frame[list(STOCKS)]
    assert (stocks >= NEGATIVE_LIMIT).all().all(), stocks.min()
    assert np.max(np.abs(stocks.sum(axis=1) - MAX_SUPPLY)) <= 1e-6 * MAX_SUPPLY
    for _, path in frame.groupby("run"):
        path = path.sort_values("timestep")
        # what the day's buy could take: yesterday's wallets plus the day's unlocks
        available = path["circulating"].shift() + path["cum_unlocked"].diff()
        spent = path["daily_fee_spent"]
        assert (spent.iloc[1:] <= available.iloc[1:] * (1 + 1e-9)).all()
        assert (spent > 0).sum() > 300  # the buys happen, every day after the launch
    assert (frame["price_usd"] > 0).all()


def test_whole_runs_with_fee_buys_conserve_supply_on_every_price_model():
    sets = [
        Parameters(price_model=m, pro_revenue_route="pool", sns_deployed=True, pro_conversion=0.03)
        for m in ("impact", "exogenous", "pool_only")
    ]
    frame = simulate(sets, runs=2, years=4, seed=8, engine="vectorized")
    stocks = frame[list(STOCKS)]
    assert (stocks >= NEGATIVE_LIMIT).all().all()
    assert np.max(np.abs(stocks.sum(axis=1) - MAX_SUPPLY)) <= 1e-6 * MAX_SUPPLY
    assert (frame["cum_pool_inflow"].groupby(frame["subset"]).max() > 0).all()


def test_a_fee_buy_takes_at_most_the_depth_and_its_size_moves_the_price():
    from experiments.engines.draws import TrajectoryDraws
    from model import initial_state
    from model.derived import with_derived
    from model.parts.market import consolidated_depth
    from model.parts.spending import fee_purchases
    from model.utils import liquid_wallets

    parameters = Parameters(pro_revenue_route="pool")
    params = with_derived(parameters.to_dict())
    params["_drivers"] = TrajectoryDraws(seed=0, subset=0, runs=1, timesteps=10)
    state = dict(initial_state(parameters), day=5, run=1, timestep=5)
    depth = consolidated_depth(state, 0.05)
    wallets = liquid_wallets(state)
    assert depth < wallets  # the depth binds, not the wallets
    small, large, huge = (fee_purchases(params, state, usd) for usd in (10.0, 1e6, 1e20))
    # a small buy fills at the open; a large one at a worse price; the largest gets under the depth
    assert small["daily_fee_spent"] == pytest.approx(10.0 / 0.10, rel=1e-4)
    assert large["daily_fee_spent"] < 1e6 / 0.10
    assert huge["daily_fee_spent"] < depth and huge["daily_fee_spent"] == pytest.approx(depth)
    # the former rule took USD / open price from wallets: the whole float here
    assert huge["daily_fee_spent"] < 0.5 * wallets
    # the order's size enters the net flow: buying more moves the price more
    flows = [s["d_daily_net_flow"] for s in (small, large, huge)]
    assert flows[0] < flows[1] < flows[2] and flows[1] == pytest.approx(1e6 / 0.10)
    assert all(s["d_daily_unmet_trade"] == 0.0 for s in (small, large, huge))
