"""Known answers of the price layer (design T1-T7): decay to the permanent share with the stated
half-life, a flat price with no flows, a bounded offset under steady flow, the drift convention,
the exogenous reference, the trade cap, and the pool-only model kept for comparison."""

import numpy as np
import pytest

from experiments.engines.registry import RunSpec, simulate
from model import Parameters, initial_state
from model.derived import with_derived
from model.parts.amm import capped_swap
from model.parts.market import gbm_step, impact_decay, impact_step, impulse, policy_market

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
    params.update(_seed=0, _subset=0, _runs=1, _timesteps=days + 1)
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
