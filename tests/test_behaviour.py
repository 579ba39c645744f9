"""Known answers of the behaviour layer (design T8-T11): unlock selling per holder group, treasury
nodes, the TGE stake held fixed, Pro from the published plans, and the entry/exit band."""

import numpy as np
import pytest

from experiments.engines.draws import TrajectoryDraws
from experiments.engines.registry import RunSpec, simulate
from model import Parameters, initial_state
from model.constants import LOCKUP_B, LOCKUP_D, VESTING_WINDOWS
from model.derived import with_derived
from model.parts.spending import policy_spend, pro_usd_per_subscriber_year
from model.parts.staking import hurdle_gaps, joining, leaving
from model.parts.vesting import policy_vesting, vested_fraction

B_PER_DAY = (3_000_000 + 4_166_375 + 300_000) / 365
D_PER_DAY = (5_400_000 + 3_300_000) / 731


def _state_on(day, **overrides):
    """The TGE state with lockups B and D already released up to `day` (nothing else moved)."""
    parameters = Parameters(**overrides)
    state = initial_state(parameters)
    state.update(day=day, run=1, timestep=day)
    for cls, total in (("b", LOCKUP_B), ("d", LOCKUP_D)):
        state[f"locked_{cls}"] = total * (1 - vested_fraction(day, *VESTING_WINDOWS[cls]))
    params = with_derived(parameters.to_dict())
    params["_drivers"] = TrajectoryDraws(seed=0, subset=0, runs=1, timesteps=2000)
    return params, state


def test_classes_b_and_d_sell_their_groups_shares():
    assert B_PER_DAY == pytest.approx(20_455.8, abs=0.1)
    assert D_PER_DAY == pytest.approx(11_901.5, abs=0.1)
    params, state = _state_on(399)
    signal = policy_vesting(params, None, [], state)
    assert -signal["daily_net_flow"] == pytest.approx(B_PER_DAY + D_PER_DAY)
    assert signal["d_node_fund_reserve"] == 0.0


def test_class_a_cliff_sells_the_strategic_half_and_reserves_the_node_fund():
    # the cliff sold on its day alone (no window): the former rule
    params, state = _state_on(729, cliff_sell_start_day=730, cliff_sell_end_day=730)
    signal = policy_vesting(params, None, [], state)
    assert signal["d_node_fund_reserve"] == pytest.approx(11_250_000.0)
    assert -signal["daily_net_flow"] == pytest.approx(2_244_850.0 + B_PER_DAY + D_PER_DAY)


def test_node_funds_reach_the_reserve_and_treasury_nodes_stay_within_ten_percent():
    sets = [Parameters(max_entry_rate=0.0)]
    frame = simulate(sets, RunSpec(runs=2, years=2.2, engine="vectorized"))
    for _, t in frame.groupby("run"):
        nodes = t["nodes"].to_numpy()
        treasury = t["treasury_nodes"].to_numpy()
        assert (treasury[1:] <= 0.10 * nodes[:-1] + 1e-9).all()
        assert (t["node_fund_reserve"] >= 0).all()
        after = t[t["timestep"] == 731]
        assert float(after["node_fund_reserve"].iloc[0]) > 0
    assert (frame["node_fund_reserve"] <= frame["circulating"] + 1e-6).all()


def test_the_tge_stake_is_held_fixed_across_requirements():
    small, big = initial_state(Parameters()), initial_state(Parameters(staking_requirement=50_000))
    assert big["nodes"] == 750 and big["staked"] == 37_500_000.0
    assert small["nodes"] == 1500 and small["staked"] == 37_500_000.0
    assert big["circulating"] == small["circulating"]


def test_pro_revenue_per_subscriber_from_the_published_plans():
    params = with_derived(Parameters().to_dict())
    assert pro_usd_per_subscriber_year(params) == pytest.approx(22.74, abs=0.005)
    assert pro_usd_per_subscriber_year(params) * 0.85 == pytest.approx(19.329, abs=1e-3)


def test_unrouted_pro_buys_nothing_but_is_reported():
    params, state = _state_on(400, demand_volatility=0.0)
    signal = policy_spend(params, None, [], state)
    assert signal["pro_subscribers"] > 0 and signal["daily_fee_usd"] > 0
    assert signal["d_reward_pool"] == 0.0 and signal["d_daily_net_flow"] == 0.0


# Every operator alike (zero spreads, an unbounded pool of entrants): the former rule's thresholds.
ALIKE = {
    "node_opex_spread": 0.0,
    "entry_hurdle_spread": 0.0,
    "migrated_hurdle_spread": 0.0,
    "entrant_pool_nodes": 100_000.0,
}


def _exits(gaps):
    """Whether either cohort's marginal node would leave (they agree when operators are alike)."""
    assert (gaps.exit_migrated > 0) == (gaps.exit_entrants > 0)
    return bool(gaps.exit_migrated > 0)


def test_inside_the_hysteresis_band_nodes_neither_join_nor_leave():
    params, state = _state_on(40, hurdle_noise=0.0, liquidation_rate=0.0, **ALIKE)
    # 2,000 nodes: net APR = 0.151 x 63.18M / (2,000 x 25,000) - 9.6% = 9.5%, inside [0, 10%]
    state["nodes"] = 2000.0
    state["reward_per_node"] = 0.151 * 63_177_550 / 365 / 2000
    gaps = hurdle_gaps(params, state)
    assert gaps.entry < 0 and not _exits(gaps)
    assert joining(params, state, gaps.entry)["d_nodes"] == 0
    assert leaving(params, state, gaps)["d_nodes"] == 0


def test_entry_stops_near_the_documented_node_count():
    params, state = _state_on(40, hurdle_noise=0.0, **ALIKE)
    reward = 0.151 * 63_177_550 / 365
    for nodes, joins in ((1800, True), (2100, False)):
        state["nodes"], state["reward_per_node"] = float(nodes), reward / nodes
        assert (hurdle_gaps(params, state).entry > 0) == joins
    # exit needs a net APR below 0: at 1,500 nodes a price under about $0.038
    state["nodes"], state["reward_per_node"] = 1500.0, reward / 1500
    for price, leaves in ((0.04, False), (0.036, True)):
        state["price_usd"] = price
        assert _exits(hurdle_gaps(params, state)) == leaves


def test_a_price_only_drop_cannot_make_entry_and_exit_symmetric():
    params, state = _state_on(40, hurdle_noise=0.0, **ALIKE)
    gaps = hurdle_gaps(params, state)
    assert np.isclose(
        -(gaps.entry + gaps.exit_entrants), 0.10
    )  # the band is the hurdles' difference
