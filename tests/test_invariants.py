"""Invariants checked on every timestep of whole multi-run, 5-year simulations."""

import numpy as np
import pytest

from model.constants import MAX_SUPPLY
from model.parts.metrics import STOCKS

RUN_FIXTURES = ["baseline_runs", "unsmoothed_runs", "stressed_runs"]


@pytest.fixture(params=RUN_FIXTURES)
def frame(request):
    return request.getfixturevalue(request.param)


def test_horizon_and_shape(frame):
    assert frame["timestep"].max() == 1825
    assert len(frame) == frame["run"].nunique() * 1826


def test_seven_stocks_hold_the_max_supply_every_day(frame):
    total = frame[list(STOCKS)].sum(axis=1)
    assert np.max(np.abs(total / MAX_SUPPLY - 1.0)) < 1e-6
    assert np.max(np.abs(frame["conservation_residual"])) < 1e-6 * MAX_SUPPLY


def test_no_stock_is_negative(frame):
    columns = list(STOCKS) + [
        "amm_quote",
        "locked_a",
        "locked_b",
        "locked_d",
        "locked_f",
        "locked_staked_a",
        "locked_staked_f",
        "restake_pending",
        "node_fund_reserve",
        "treasury_nodes",
        "nodes",
        "price_usd",
        "eth_usd",
    ]
    assert (frame[columns] >= -1e-6).all().all(), frame[columns].min()[frame[columns].min() < 0]


def test_pool_identity(frame):
    for _, t in frame.groupby(["subset", "run"]):
        pool = t["reward_pool"].to_numpy()
        expected = (
            pool[:-1] + t["daily_pool_inflow"].to_numpy()[1:] - t["daily_emission"].to_numpy()[1:]
        )
        np.testing.assert_allclose(pool[1:], expected, rtol=1e-12, atol=1e-6)


def test_emissions_never_exceed_the_pool(frame):
    for _, t in frame.groupby(["subset", "run"]):
        assert (t["daily_emission"].to_numpy()[1:] <= t["reward_pool"].to_numpy()[:-1]).all()


def test_amm_k_never_falls(frame):
    # no liquidity is ever withdrawn, and every swap leaves its fee in the pool
    for _, t in frame.groupby(["subset", "run"]):
        k = (t["amm_sesh"] * t["amm_quote"]).to_numpy()
        assert (np.diff(k) >= -1e-9 * k[1:]).all()


def test_stake_is_whole_nodes_and_locked_detail_adds_up(frame):
    np.testing.assert_allclose(frame["staked"], frame["nodes"] * 25_000, rtol=1e-12)
    locked = frame[["locked_a", "locked_b", "locked_d", "locked_f"]].sum(axis=1)
    np.testing.assert_allclose(frame["vesting_locked"], locked, rtol=1e-12, atol=1e-6)
    assert (frame["locked_staked_a"] + frame["locked_staked_f"] <= frame["staked"] + 1e-6).all()


def test_lockups_are_empty_after_three_years(frame):
    after = frame[frame["timestep"] >= 1096]
    assert (after["vesting_locked"].abs() < 1e-6).all()
    assert (after["locked_staked_a"] == 0).all() and (after["locked_staked_f"] == 0).all()


def test_pool_price_matches_reserves_and_arbitrage_reaches_the_price(frame):
    price = frame["amm_quote"] * frame["eth_usd"] / frame["amm_sesh"]
    np.testing.assert_allclose(frame["pool_price_usd"], price, rtol=1e-12)
    # arbitrage takes the pool to the market price unless a trade cap or wallets stop it
    met = frame[frame["daily_unmet_trade"] <= 0]
    np.testing.assert_allclose(met["price_usd"], met["pool_price_usd"], rtol=1e-9)


def test_stress_scenario_drains_through_the_queue(stressed_runs):
    day = stressed_runs[stressed_runs["timestep"] == 400]
    before = stressed_runs[stressed_runs["timestep"] == 399]
    assert (day["nodes"].to_numpy() < before["nodes"].to_numpy() * 0.8).all()
    assert (day["unstaking"].to_numpy() > before["unstaking"].to_numpy()).all()
