"""Known answers of the price layer (design T1-T7): decay to the permanent share with the stated
half-life, a flat price with no flows, a bounded offset under steady flow, the drift convention,
the exogenous reference, the trade cap, and the pool-only model kept for comparison."""

import numpy as np
import pytest

from experiments.engines.draws import StackedDraws, TrajectoryDraws
from experiments.engines.registry import MAX_YEARS, RunSpec, simulate
from model import Parameters, initial_state
from model.derived import with_derived
from model.parts.amm import capped_swap
from model.parts.market import (
    LOG_LEVEL_BOUND,
    gbm_step,
    impact_decay,
    impact_step,
    impulse,
    level_bounds,
    policy_market,
)

L0 = 8_950_000.0  # 5M pool + 0.05 x 79M outside depth


def _kept(theta, half_life, days):
    """(A + J) / f0 after `days` days without flow, from a one-off impulse on day 0."""
    f0 = impulse(-1_000_000.0, L0)
    a, j = impact_step(0.0, 0.0, f0, theta, half_life)
    for _ in range(days):
        a, j = impact_step(a, j, 0.0, theta, half_life)
    return (a + j) / f0


def test_one_off_impulse_value():
    assert impulse(-1_000_000.0, L0) == pytest.approx(-0.211838, abs=1e-6)
    assert impulse(0.0, L0) == 0.0
    assert impulse(1_000_000.0, L0) == -impulse(-1_000_000.0, L0)


@pytest.mark.parametrize(
    "theta, days, kept",
    [
        (0.2, 30, 0.6),
        (0.2, 60, 0.4),
        (0.2, 90, 0.3),
        (0.2, 180, 0.2125),
        (0.2, 365, 0.200174),
        (0.2, 1000, 0.2),
        (0.0, 30, 0.5),
        (0.0, 60, 0.25),
        (0.0, 90, 0.125),
    ],
)
def test_one_off_impact_decays_to_its_permanent_share(theta, days, kept):
    assert _kept(theta, 30.0, days) == pytest.approx(kept, abs=1e-6 if days == 365 else 1e-9)


def test_half_life_property_for_random_theta_and_half_life():
    rng = np.random.default_rng(4)
    for theta, h in zip(rng.uniform(0, 0.9, 10), rng.integers(1, 200, 10), strict=True):
        g = _kept(theta, float(h), int(h))
        assert (g - theta) / (1 - theta) == pytest.approx(0.5, abs=1e-12)


def test_steady_flow_gives_the_documented_bounded_offset():
    q, delta = 15_000.0, impact_decay(30.0)
    f = impulse(-q, L0)
    a = j = 0.0
    for _ in range(365):
        a, j = impact_step(a, j, f, 0.0, 30.0)
    bound = (1 + q / L0) ** (-2 / (1 - delta))
    assert bound == pytest.approx(0.863609, abs=1e-6)
    assert np.exp(a + j) == pytest.approx(bound, abs=1e-4)
    for _ in range(365):  # the flow stops: the offset goes away
        a, j = impact_step(a, j, 0.0, 0.0, 30.0)
    assert np.exp(a + j) > 0.9999
    # theta = 0.1: a linear log drift theta * f a day, and a bounded transient part
    a = j = 0.0
    for _ in range(1000):
        a_before = a
        a, j = impact_step(a, j, f, 0.1, 30.0)
        assert abs(j) <= 0.9 * abs(f) / (1 - delta) + 1e-12
    assert a - a_before == pytest.approx(-3.349e-4, abs=1e-7)
    assert 0.1 * f == pytest.approx(-3.349e-4, abs=1e-7)
    assert 0.9 * abs(f) / (1 - delta) == pytest.approx(0.13197, abs=1e-5)


def _market_only(days, net_flow, **overrides):
    """The market block alone, `days` times, with a fixed daily net flow (the design's prototype)."""
    parameters = Parameters(eth_volatility=0.0, ref_volatility=0.0, **overrides)
    params = with_derived(parameters.to_dict())
    params["_drivers"] = TrajectoryDraws(seed=0, subset=0, runs=1, timesteps=days + 1)
    state = initial_state(parameters)
    state.update(run=1, daily_net_flow=net_flow)
    prices = []
    for day in range(1, days + 1):
        state["day"] = day
        signal = policy_market(params, None, [], state)
        for key, value in signal.items():
            if key.startswith("d_"):
                state[key[2:]] = state[key[2:]] + value
            else:
                state[key] = value
        state["daily_unmet_trade"] = 0.0
        prices.append(state["price_usd"])
    return np.array(prices), state


def test_steady_sale_on_the_arbitraged_pool_matches_the_prototype():
    prices, _ = _market_only(365, -15_000.0)
    assert prices[-1] == pytest.approx(0.0869, abs=1e-3)
    assert prices.min() > 0.08  # bounded: no trend


def test_pool_only_keeps_todays_ratchet():
    prices, _ = _market_only(1825, -15_000.0, price_model="pool_only")
    assert prices[-1] == pytest.approx(0.0180, abs=5e-4)


def test_permanent_share_gives_a_trend_only_when_asked():
    flat, _ = _market_only(730, -15_000.0)
    trend, _ = _market_only(730, -15_000.0, impact_permanent_share=0.2)
    assert flat[-1] == pytest.approx(flat[364], rel=2e-3)
    assert trend[-1] < 0.8 * trend[364]


def test_trade_cap_executes_part_and_records_the_rest():
    x, y = 5e6, 5e6 * 0.1 / 2550
    x2, y2, out, unmet = capped_swap(x, y, 50e6, 0.003, 0.5)
    assert x2 - x == pytest.approx(2.5e6) and unmet == pytest.approx(47.5e6)
    assert y2 > 0 and out < y
    factor = (y2 / x2) / (y / x)
    assert factor == pytest.approx(0.445, abs=1e-3) and factor >= 1.5**-2


@pytest.mark.parametrize("convention, median, mean", [("median", 1.0, 1.377), ("mean", 0.726, 1.0)])
def test_drift_convention(convention, median, mean):
    z = np.random.default_rng(1).standard_normal((365, 20_000))
    level = np.ones(20_000)
    for day in range(365):
        level = gbm_step(level, 0.0, 0.8, z[day], convention)
    assert np.median(level) == pytest.approx(median, abs=0.02)
    assert level.mean() == pytest.approx(mean, abs=0.03)


NO_FLOWS = {
    "unlock_sell_share_strategic": 0.0,
    "unlock_sell_share_ecosystem": 0.0,
    "unlock_sell_share_treasury_ops": 0.0,
    "unlock_sell_share_contributors": 0.0,
    "reward_sell_share": 0.0,
    "exit_sell_share": 0.0,
    "stake_buy_share": 0.0,
    "max_entry_rate": 0.0,
    "max_exit_rate": 0.0,
    "eth_volatility": 0.0,
    "ref_volatility": 0.0,
    "hurdle_noise": 0.0,
    "demand_volatility": 0.0,
    "foundation_sell_share_per_day": 0.0,  # the foundation's sales (issue 21) are a flow too
}


@pytest.mark.parametrize("price_model", ["impact", "exogenous", "pool_only"])
def test_no_flows_and_no_volatility_give_a_flat_price(price_model):
    sets = [Parameters(price_model=price_model, **NO_FLOWS)]
    frame = simulate(sets, RunSpec(runs=1, years=5, engine="vectorized"))
    assert (frame["daily_net_flow"].abs() == 0).all()
    for column in ("price_usd", "pool_price_usd"):
        assert np.max(np.abs(frame[column] / 0.10 - 1)) < 1e-12, column


def test_exogenous_price_ignores_flows_on_common_draws():
    sets = [
        Parameters(price_model="exogenous", **{n: v for n, v in NO_FLOWS.items() if "unlock" in n}),
        Parameters(
            price_model="exogenous",
            unlock_sell_share_strategic=1.0,
            unlock_sell_share_ecosystem=1.0,
            unlock_sell_share_treasury_ops=1.0,
            unlock_sell_share_contributors=1.0,
        ),
    ]
    frame = simulate(sets, RunSpec(runs=2, years=3, engine="vectorized", common_draws=True))
    a, b = (frame[frame["subset"] == s].reset_index(drop=True) for s in (0, 1))
    assert not np.array_equal(a["daily_net_flow"], b["daily_net_flow"])
    np.testing.assert_array_equal(a["price_usd"], b["price_usd"])


# --- the GBM levels over the longest horizon (issue 19, section 5) ------------------------------


def _market_day_with_shocks(state, eth_shock, ref_shock, **overrides):
    """One market block on `state` with today's normal draws given (the vectorized table)."""
    parameters = Parameters(**overrides)
    params = with_derived(parameters.to_dict())
    day = state["day"]
    draws = {name: np.zeros(day + 1) for name in ("eth_shock", "ref_shock")}
    draws["eth_shock"][day], draws["ref_shock"][day] = eth_shock, ref_shock
    params["_drivers"] = StackedDraws(draws)
    return params, policy_market(params, None, [], state)


@pytest.mark.parametrize("side, shock", [("low", -10.0), ("high", 10.0)])
def test_gbm_levels_stay_inside_the_numerical_bound(side, shock):
    overrides = dict(drift_convention="mean", eth_volatility=5.0, ref_volatility=5.0)
    state = initial_state(Parameters(**overrides))
    eth_low, eth_high = level_bounds(state["eth_usd"])
    ref_low, ref_high = level_bounds(state["ref_price_usd"])
    assert eth_high / eth_low == pytest.approx(np.exp(2 * LOG_LEVEL_BOUND))
    at = (eth_low, ref_low) if side == "low" else (eth_high, ref_high)
    state.update(day=1, run=1, eth_usd=at[0], ref_price_usd=at[1])
    _, signal = _market_day_with_shocks(state, shock, shock, **overrides)
    # a day's step past the bound stays on it (without the bound: 1.7e-22 x e^-2.6 and so on)
    assert signal["eth_usd"] == at[0] and signal["ref_price_usd"] == at[1]
    assert np.isfinite([float(np.asarray(v)) for v in signal.values()]).all()
    assert signal["price_usd"] > 0
    # and a step back inside leaves the bound
    state.update(day=2, eth_usd=at[0], ref_price_usd=at[1])
    _, back = _market_day_with_shocks(state, -shock, -shock, **overrides)
    assert eth_low < back["eth_usd"] < eth_high and ref_low < back["ref_price_usd"] < ref_high


def test_the_bound_never_binds_on_the_default_model():
    """The guard is numerical only: on the default model no ETH or valuation path of 50 runs
    over 20 years comes within half of it (in logs), so it changes none of those numbers."""
    parameters = Parameters()
    frame = simulate([parameters], RunSpec(runs=50, years=20, engine="vectorized"))
    for column, launch in (
        ("eth_usd", parameters.initial_eth_usd),
        ("ref_price_usd", parameters.initial_price_usd),
    ):
        distance = np.abs(np.log(frame[column].to_numpy() / launch)).max()
        assert distance < LOG_LEVEL_BOUND / 2, (column, distance)


# The reproductions: `run baseline --runs 5 --years 100 --kpi-only --set
# drift_convention=mean` with eth_volatility=5 (non-finite on day 13048), ref_volatility=5 (day
# 18761), and the latter under price_model=exogenous. With common draws every subset gets subset
# 0's draws, the command's own (seed 0, runs 1-5), so one pass runs all three.
LONG_RUN_CASES = [
    {"drift_convention": "mean", "eth_volatility": 5.0},
    {"drift_convention": "mean", "ref_volatility": 5.0},
    {"drift_convention": "mean", "ref_volatility": 5.0, "price_model": "exogenous"},
]


def test_mean_flat_500_percent_volatility_runs_the_longest_horizon():
    sets = [Parameters(**case) for case in LONG_RUN_CASES]
    # the invariant guard checks every day of every run (conservation, stocks >= 0, finite values,
    # price > 0) and raises InvariantError on a breach
    frame = simulate(sets, RunSpec(runs=5, years=MAX_YEARS, engine="vectorized", common_draws=True))
    assert frame["timestep"].max() == round(MAX_YEARS * 365)
    numbers = frame.drop(columns=["subset", "run", "timestep"]).to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    assert (frame["price_usd"] > 0).all() and (frame["amm_sesh"] > 0).all()
    for subset, parameters in enumerate(sets):
        runs = frame[frame["subset"] == subset]
        for column, start in (
            ("eth_usd", parameters.initial_eth_usd),
            ("ref_price_usd", parameters.initial_price_usd),
        ):
            low, high = level_bounds(start)
            assert runs[column].between(low, high).all(), (subset, column)
    # the mean-flat drift at 500%/yr (-12.5 a year in log) takes the level to the bound, where the
    # old arithmetic underflowed to 0: the bound is what keeps these runs finite
    eth_low, _ = level_bounds(sets[0].initial_eth_usd)
    ref_low, _ = level_bounds(sets[1].initial_price_usd)
    assert frame.loc[frame["subset"] == 0, "eth_usd"].min() == eth_low
    assert frame.loc[frame["subset"] == 1, "ref_price_usd"].min() == ref_low
