"""Operators who differ: the node supply curve, the marginal operators' gaps, the two cohorts
(migrated at TGE, new entrants), and whole runs (paired draws, conservation, no negative stock)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.engines.draws import TrajectoryDraws
from experiments.engines.registry import RunSpec, simulate
from model import Parameters, initial_state
from model.constants import MAX_SUPPLY
from model.derived import with_derived
from model.parts.metrics import STOCKS
from model.parts.staking import (
    covered_share,
    hurdle_gaps,
    joining,
    leaving,
    operator_z,
    required_apr,
    supply_curve,
)

ALIKE = {
    "node_opex_spread": 0.0,
    "entry_hurdle_spread": 0.0,
    "migrated_hurdle_spread": 0.0,
    "entrant_pool_nodes": 100_000.0,
}
DAY1_POOL_REWARD = 0.151 * 63_177_550 / 365  # a day of the pool rule on the TGE balance


def _setup(day=40, **overrides):
    parameters = Parameters(**overrides)
    params = with_derived(parameters.to_dict())
    params["_drivers"] = TrajectoryDraws(seed=0, subset=0, runs=1, timesteps=2000)
    state = initial_state(parameters)
    state.update(day=day, run=1, timestep=day)
    return params, state


# --- the supply curve -------------------------------------------------------------------------

spreads = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    opex_spread=st.floats(0.0, 2.0),
    entry_spread=spreads,
    migrated_spread=spreads,
    offset=st.floats(-0.5, 0.5),
    pool=st.floats(0.0, 20_000.0),
    price=st.floats(0.001, 10.0),
    low=st.floats(-0.5, 2.0),
    rise=st.floats(0.0, 1.0),
)
def test_the_supply_curve_is_monotone_in_yield_and_price(
    opex_spread, entry_spread, migrated_spread, offset, pool, price, low, rise
):
    params = with_derived(
        Parameters(
            node_opex_spread=opex_spread,
            entry_hurdle_spread=entry_spread,
            migrated_hurdle_spread=migrated_spread,
            migrated_hurdle_offset=offset,
            entrant_pool_nodes=pool,
        ).to_dict()
    )
    for entering in (True, False):
        at_low = supply_curve(params, low, price, entering)
        assert supply_curve(params, low + rise, price, entering) >= at_low
        assert supply_curve(params, low, price * (1 + rise), entering) >= at_low
        assert 0.0 <= at_low <= params["migrated_nodes_at_tge"] + pool + 1e-9
    # incumbents stay where outsiders would not enter (the band): never fewer staying
    assert supply_curve(params, low, price, False) >= supply_curve(params, low, price, True)


def test_a_degenerate_distribution_is_a_step_at_the_old_thresholds():
    params = with_derived(Parameters(**ALIKE).to_dict())
    # at $0.10 the cost is 240 / 2,500 = 9.6% of the stake: migrated stay from 9.6% gross APR
    # (exit hurdle 0), entrants enter from 19.6% (entry hurdle 10%)
    assert supply_curve(params, 0.0959, 0.10) == 0.0
    assert supply_curve(params, 0.0961, 0.10) == 1350.0
    assert supply_curve(params, 0.1959, 0.10) == 1350.0
    assert supply_curve(params, 0.1961, 0.10) == 1350.0 + 100_000.0
    assert supply_curve(params, 0.0961, 0.10, entering=False) == 1350.0 + 100_000.0


def test_required_apr_hand_values():
    # the median operator (z = 0): cost over stake value plus the hurdle's centre
    assert required_apr(0.0, 240.0, 0.6, 0.10, 0.05, 2_500.0) == pytest.approx(0.196)
    # one sd up: cost x e^0.6, hurdle + 5 points
    want = 240 * np.exp(0.6) / 2_500 + 0.15
    assert required_apr(1.0, 240.0, 0.6, 0.10, 0.05, 2_500.0) == pytest.approx(want)
    assert operator_z(0.5) == 0.0 and np.isfinite(operator_z(np.array([-1.0, 0.0, 1.0, 2.0]))).all()
    # on the grid: half the operators need at most the median's APR
    assert covered_share(0.196, 2_500.0, 240.0, 0.6, 0.10, 0.05) == pytest.approx(0.5)


def test_the_daily_rule_stops_where_the_supply_curve_says():
    params, state = _setup(hurdle_noise=0.0, liquidation_rate=0.0)
    pool = params["entrant_pool_nodes"]
    reward = DAY1_POOL_REWARD
    state["migrated_nodes"] = 1350.0
    apr = reward / 2000 * 365 / 25_000
    state["reward_per_node"] = reward / 2000
    target = pool * covered_share(apr, 2_500.0, 240.0, 0.6, 0.10, 0.05)
    stay = pool * covered_share(apr, 2_500.0, 240.0, 0.6, 0.0, 0.05)
    assert 50 < target < stay < pool
    for entrants, joins, leaves in (
        (target - 3, True, False),
        (target + 3, False, False),
        (stay - 3, False, False),
        (stay + 3, False, True),
    ):
        state["nodes"] = 150 + 1350 + np.round(entrants)
        gaps = hurdle_gaps(params, state)
        assert (gaps.entry > 0) == joins
        assert (gaps.exit_entrants > 0) == leaves


def test_entry_never_exceeds_the_potential_entrants_left():
    params, state = _setup(
        node_entry_hurdle_apr=-1.0,
        node_exit_hurdle_apr=-1.0,
        max_entry_rate=1.0,
        entrant_pool_nodes=40.0,
        stake_buy_share=0.0,
    )
    state["nodes"] = 1500.0 + 30.0  # 30 entrants already in: 10 left outside
    assert joining(params, state, hurdle_gaps(params, state).entry)["d_nodes"] == 10.0


def test_migrated_nodes_leave_from_their_own_cohort_and_never_re_enter():
    # the costliest migrated operators are uncovered at launch yields; no entrant leaves
    params, state = _setup(liquidation_rate=0.0, max_exit_rate=0.05, hurdle_noise=0.0)
    state["nodes"] = 1500.0 + 20.0  # 20 cheap entrants
    gaps = hurdle_gaps(params, state)
    assert gaps.exit_migrated > 0 and gaps.exit_entrants < 0
    signal = leaving(params, state, gaps)
    assert signal["d_migrated_nodes"] == signal["d_nodes"] < 0
    assert "d_migrated_nodes" not in joining(params, state, gaps.entry)


def test_cohort_sizes_split_every_leaver_and_liquidation():
    params, state = _setup(
        node_entry_hurdle_apr=5.0,
        node_exit_hurdle_apr=5.0,
        max_exit_rate=0.01,
        liquidation_rate=365.0 / 1350 * 3,
    )
    state["nodes"] = 1500.0 + 500.0
    signal = leaving(params, state, hurdle_gaps(params, state))
    left, migrated = -signal["d_nodes"], -signal["d_migrated_nodes"]
    # 1% of 1,350 migrated and of 500 entrants, plus about 4 liquidations
    assert 0 < migrated < left
    assert migrated == pytest.approx(13.5 + 3 * 1350 / 1850, abs=2)


# --- whole runs -------------------------------------------------------------------------------


def _paths(overrides_list, runs=8, years=2.0, seed=5):
    sets = [Parameters(**o) for o in overrides_list]
    spec = RunSpec(runs=runs, years=years, engine="vectorized", seed=seed, common_draws=True)
    frame = simulate(sets, spec)
    return [
        frame[frame["subset"] == k].pivot(index="timestep", columns="run", values="nodes")
        for k in range(len(sets))
    ], frame


def test_a_lower_payout_rate_gives_no_more_nodes_on_common_draws():
    # exogenous prices: the pair sees the same price path, so only the yield differs
    common = {"price_model": "exogenous"}
    (high, low), _ = _paths([common, {**common, "pool_payout_rate": 0.11}])
    assert (low.to_numpy() <= high.to_numpy()).all()
    assert (low.loc[365] < high.loc[365]).all()


def test_low_yields_make_the_node_count_fall_in_the_first_weeks():
    # no price noise, half the launch price: most migrated operators' costs are not covered
    calm = {"price_model": "exogenous", "ref_volatility": 0.0, "eth_volatility": 0.0}
    (low, high), _ = _paths([{**calm, "initial_price_usd": 0.02}, calm], runs=4, years=0.2)
    assert (low.loc[30] < 1500).all() and (low.loc[30] < low.loc[7]).all()
    assert (high.loc[30] > 1500).all()


def test_cohorts_conserve_and_no_stock_goes_negative_on_whole_runs():
    wide = {"node_opex_spread": 1.5, "migrated_hurdle_spread": 0.5, "entrant_pool_nodes": 500.0}
    stress = {"stress_day": 200, "stress_price_drop": 0.8, "stress_exit_share": 0.5}
    _, frame = _paths([{}, wide, stress], runs=4, years=3.0)
    total = frame[list(STOCKS)].sum(axis=1)
    assert np.max(np.abs(total / MAX_SUPPLY - 1.0)) < 1e-9
    assert (frame[list(STOCKS)] >= -1e-6).all().all()
    others = frame["nodes"] - frame["treasury_nodes"]
    assert (frame["migrated_nodes"] >= 0).all()
    assert (frame["migrated_nodes"] <= others + 1e-9).all()
    # the migrated cohort only shrinks
    for _, t in frame.groupby(["subset", "run"]):
        assert (np.diff(t["migrated_nodes"].to_numpy()) <= 0).all()
    assert (frame["staked"] == frame["nodes"] * 25_000).all()


# --- the class A cliff on whole runs (the vesting side of the same issue) ----------------------


def _largest_fall(frame, subset, first=690, last=780):
    prices = frame[frame["subset"] == subset].pivot(
        index="timestep", columns="run", values="price_usd"
    )
    moves = np.log(prices / prices.shift(1)).loc[first:last]
    return moves.min(), moves.loc[730]


@pytest.mark.parametrize("calm", [True, False])
def test_a_window_makes_the_largest_one_day_fall_around_the_cliff_smaller(calm):
    base = {"ref_volatility": 0.0, "eth_volatility": 0.0} if calm else {}
    one_day = {**base, "cliff_sell_start_day": 730, "cliff_sell_end_day": 730}
    sets = [Parameters(**one_day), Parameters(**base)]
    spec = RunSpec(runs=8, years=2.2, engine="vectorized", seed=3, common_draws=True)
    frame = simulate(sets, spec)
    fall_one, day_one = _largest_fall(frame, 0)
    fall_window, day_window = _largest_fall(frame, 1)
    assert (day_window > day_one).all()  # the cliff day's own move, pair by pair
    if calm:
        assert (fall_window > fall_one).all()
    else:
        assert fall_window.median() > fall_one.median()
    total = frame[list(STOCKS)].sum(axis=1)
    assert np.max(np.abs(total / MAX_SUPPLY - 1.0)) < 1e-9
    assert (frame[list(STOCKS)] >= -1e-6).all().all()
    last = frame[frame["timestep"] == frame["timestep"].max()]
    np.testing.assert_allclose(last["cliff_sold"], 4_489_700 * 0.5)
