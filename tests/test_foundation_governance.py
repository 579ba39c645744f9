"""The foundation's budget and the app's health (issue 21 item 2), governance levers as rules
(issue 21 item 6): hand-computed days, paired runs on common draws, invariants on whole runs."""

import numpy as np
import pytest

from experiments import definitions
from experiments.engines.vectorized import run_vectorized
from model import Parameters, initial_state
from model.constants import UNLOCK_DAYS
from model.derived import with_derived
from model.parts.foundation import (
    ECOSYSTEM_AT_TGE,
    TREASURY_AT_TGE,
    TREASURY_OPS_LOCKED,
    policy_foundation,
    released_on,
)
from model.parts.governance import LEVERS, policy_governance
from model.utils import liquid_wallets

RUNS = 8


def _paired(overrides_a, overrides_b, runs=RUNS, years=3, seed=11):
    sets = [Parameters(**overrides_a), Parameters(**overrides_b)]
    frame = run_vectorized(sets, runs, int(365 * years), seed, common_draws=True)
    return frame[frame.subset == 0], frame[frame.subset == 1]


def _params(**overrides):
    return with_derived(Parameters(**overrides).to_dict())


# --- the foundation, one day by hand -------------------------------------------------------------


def _foundation_day(state_overrides, **overrides):
    params = _params(**overrides)
    state = dict(initial_state(Parameters(**overrides)), **state_overrides)
    return policy_foundation(params, 2, [], state)


def test_a_funded_day_pays_the_full_cost_and_keeps_health():
    out = _foundation_day({"day": 10, "foundation_cash_usd": 1e6})
    assert out["foundation_cash_usd"] == pytest.approx(1e6 - 2_740.0)
    assert out["daily_foundation_sold"] == 0.0  # a long runway: nothing sold
    assert out["foundation_cost_cut"] == 0.0 and out["foundation_funded_share"] == 1.0
    assert out["app_health"] == 1.0


def test_a_short_runway_sells_its_share_at_the_opening_price_and_cuts_when_short():
    # cash 1,000 < the full cost: sells 1% of 6M = 60,000 SESH at $0.10 = $6,000, pays the full
    # cost from 7,000 (no cut); at cash 0 and a tiny sale it cuts to the reduced cost
    out = _foundation_day(
        {"day": 10, "foundation_cash_usd": 1_000.0, "price_usd": 0.10},
        foundation_sell_share_per_day=0.01,
    )
    assert out["daily_foundation_sold"] == pytest.approx(60_000.0)
    assert out["foundation_sesh"] == pytest.approx(TREASURY_AT_TGE - 60_000.0)
    assert out["d_daily_net_flow"] == pytest.approx(-60_000.0)
    assert out["foundation_cash_usd"] == pytest.approx(7_000.0 - 2_740.0)
    assert out["foundation_cost_cut"] == 0.0
    out = _foundation_day(
        {"day": 10, "foundation_cash_usd": 0.0, "price_usd": 0.10},
        foundation_sell_share_per_day=0.0005,  # 3,000 SESH = $300
        foundation_reduced_cost_usd_per_day=600.0,
        app_health_decay_per_day=0.1,
    )
    assert out["foundation_cost_cut"] == 1.0
    assert out["foundation_cash_usd"] == 0.0  # never below zero
    assert out["foundation_funded_share"] == pytest.approx(0.5)  # $300 of $600
    assert out["app_health"] == pytest.approx(1.0 - 0.1 * 0.5)


def test_unlocked_treasury_ops_are_received_and_their_unlock_sales_pay_into_cash():
    day = 400  # inside lockup D's linear window
    share = released_on(day, "d")
    assert share == pytest.approx(1.0 / (1096 - 365), rel=1e-3)
    out = _foundation_day({"day": day, "foundation_cash_usd": 1e6, "price_usd": 0.2})
    ops = TREASURY_OPS_LOCKED * share
    assert out["foundation_sesh"] == pytest.approx(TREASURY_AT_TGE + 0.8 * ops)
    # day 400 is after the appeal: the lasting donations ($722) come in too
    assert out["foundation_cash_usd"] == pytest.approx(1e6 + 0.2 * ops * 0.2 + 722.0 - 2_740.0)


def test_holdings_at_tge_follow_the_holdings_choice():
    both = initial_state(Parameters(foundation_holdings="treasury_ops_and_ecosystem"))
    assert initial_state()["foundation_sesh"] == TREASURY_AT_TGE
    assert both["foundation_sesh"] == TREASURY_AT_TGE + ECOSYSTEM_AT_TGE


def test_the_failure_day_stops_development_and_payments():
    out = _foundation_day({"day": 413, "foundation_cash_usd": 1e6}, foundation_failure_day=413)
    assert out["foundation_funded_share"] == 0.0
    # nothing paid, no runway sale, no donation: the cash moves only by the day's unlock
    # proceeds (lockup D's treasury-operations sale at the opening price), kept unspent
    params = _params(foundation_failure_day=413)
    proceeds = 27_000_000.0 / 731.0 * params["unlock_sell_share_treasury_ops"] * 0.1
    assert out["foundation_cash_usd"] == pytest.approx(1e6 + proceeds, rel=1e-2)
    assert out["daily_foundation_sold"] == 0.0
    assert out["app_health"] == pytest.approx(0.99)


# --- whole runs ---------------------------------------------------------------------------------


def test_funding_failure_lowers_demand_and_nodes_on_every_pair():
    routed = {"pro_revenue_route": "pool"}
    base, failed = _paired(routed, {**routed, "foundation_failure_day": 413}, years=3)
    late = lambda f: f[f.timestep > 600].groupby("run")  # noqa: E731
    fee_base, fee_failed = late(base).daily_fee_usd.mean(), late(failed).daily_fee_usd.mean()
    assert (fee_failed < fee_base).all(), (fee_failed, fee_base)
    end = base.timestep.max()
    nodes_base = base[base.timestep == end].set_index("run").nodes
    nodes_failed = failed[failed.timestep == end].set_index("run").nodes
    assert (nodes_failed < nodes_base).all(), (nodes_failed, nodes_base)
    # before the failure day the pairs are the same runs
    early = lambda f: f[f.timestep < 413].reset_index(drop=True)  # noqa: E731
    assert np.array_equal(early(base).drop(columns="subset"), early(failed).drop(columns="subset"))


def test_the_app_health_switch_is_paired_and_scales_spending_exactly():
    # no decay: spending is unchanged (health stays 1; the foundation's stopped sales move the
    # price, not the USD spent); full decay: no spending at all after the failure day
    base, same = _paired({}, {"foundation_failure_day": 413, "app_health_decay_per_day": 0.0})
    assert (same.app_health == 1.0).all()
    assert np.array_equal(base.daily_fee_usd.to_numpy(), same.daily_fee_usd.to_numpy())
    _, dead = _paired({}, {"foundation_failure_day": 413, "app_health_decay_per_day": 1.0})
    assert (dead[dead.timestep > 413].daily_fee_usd == 0.0).all()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"foundation_failure_day": 413, "gov_rule_on": True, "gov_node_level": 5_000.0},
        {  # a hungry foundation: sells everything it holds the first short day, no donations
            "foundation_sell_share_per_day": 1.0,
            "foundation_donations_usd_per_day": 0.0,
            "foundation_donations_after_usd_per_day": 0.0,
            "foundation_holdings": "treasury_ops_and_ecosystem",
            "pro_revenue_route": "pool",
        },
    ],
)
def test_the_foundation_never_sells_more_than_it_holds_and_the_supply_is_conserved(overrides):
    frame = run_vectorized([Parameters(**overrides)], RUNS, 5 * 365, 5)
    assert (frame.foundation_cash_usd >= 0.0).all()
    assert (frame.foundation_sesh >= 0.0).all()
    # the holdings sit in wallets, beside the other sub-ledgers, and never leave by others' trades
    wallets = frame.circulating - frame.restake_pending - frame.node_fund_reserve
    assert (frame.foundation_sesh <= wallets + 1e-6).all()
    assert np.allclose(liquid_wallets(frame), np.maximum(wallets - frame.foundation_sesh, 0.0))
    sold_all = frame.daily_foundation_sold > 0
    if overrides.get("foundation_sell_share_per_day") == 1.0:
        assert sold_all.any()
        assert (frame.foundation_sesh[sold_all] == 0.0).all()  # all of it, never more
    assert frame.conservation_residual.abs().max() < 1e-6 * 240e6
    assert frame.app_health.between(0.0, 1.0).all()


# --- governance ----------------------------------------------------------------------------------


def test_with_the_rule_off_the_levers_never_move_and_the_run_is_unchanged():
    off, unreachable = _paired({}, {"gov_rule_on": True, "gov_node_level": 0.0}, years=2)
    p = Parameters()
    assert (off.gov_staking_requirement == p.staking_requirement).all()
    assert (off.gov_claim_cap_per_day == p.claim_cap_per_day).all()
    assert (off.gov_pool_payout_rate == p.pool_payout_rate).all()
    assert (off.gov_low_node_days == 0.0).all()
    # the rule on but never firing computes the same economy
    cols = [c for c in off.columns if c != "subset"]
    assert np.array_equal(off[cols].to_numpy(), unreachable[cols].to_numpy())


def _governance_state(**overrides):
    state = initial_state()
    state.update(overrides)
    return state


def test_the_rule_counts_low_days_and_lowers_the_requirement_by_its_step():
    params = _params(gov_rule_on=True, gov_node_level=1_000.0, gov_node_days=3.0)
    state = _governance_state(nodes=900.0, treasury_nodes=90.0, staked=900 * 25_000.0)
    state.update(locked_staked_a=90 * 25_000.0, locked_staked_f=0.0)
    counts = []
    for _ in range(3):
        out = policy_governance(params, 1, [], state)
        counts.append(float(out["gov_low_node_days"]))
        fired = out["gov_staking_requirement"] < 25_000.0
        state = dict(state, gov_low_node_days=out["gov_low_node_days"])
    assert counts == [1.0, 2.0, 0.0]  # the third low day fires and starts the count again
    assert fired and out["gov_staking_requirement"] == 22_500.0
    # each node's 2,500 above the new requirement is freed: treasury nodes' to locked lockup A,
    # the others' into the last slot of the unlock queue
    assert out["d_locked_staked_a"] == -90 * 2_500.0 and out["d_locked_a"] == 90 * 2_500.0
    assert out["d_staked"] == -900 * 2_500.0
    assert out["d_unstaking"] == 810 * 2_500.0
    assert out["d_unstake_queue"].shape == (UNLOCK_DAYS + 1,)
    assert out["d_unstake_queue"][-1] == 810 * 2_500.0
    # staked after = nodes x the new requirement
    assert state["staked"] + out["d_staked"] == 900 * 22_500.0
    # a day above the level resets the count
    state = _governance_state(nodes=1_200.0, gov_low_node_days=2.0)
    assert policy_governance(params, 1, [], state)["gov_low_node_days"] == 0.0


def test_the_rule_stops_at_the_floor():
    params = _params(gov_rule_on=True, gov_node_level=1_000.0, gov_node_days=1.0)
    state = _governance_state(nodes=900.0, gov_staking_requirement=16_000.0)
    out = policy_governance(params, 1, [], state)
    assert out["gov_staking_requirement"] == 15_000.0  # 1,000 left to the floor, not 2,500
    state = _governance_state(nodes=900.0, gov_staking_requirement=15_000.0)
    assert policy_governance(params, 1, [], state)["gov_staking_requirement"] == 15_000.0


def test_the_rule_fires_in_a_whole_run_and_the_supply_is_conserved():
    # a level above every run's node count: the rule fires every 30 days to the floor
    frame = run_vectorized(
        [Parameters(gov_rule_on=True, gov_node_level=100_000.0)], 3, 400, 3, common_draws=True
    )
    req = frame.pivot(index="timestep", columns="run", values="gov_staking_requirement")
    # day d counts the close of day d - 1: days 1..30 are 30 low days, the cut comes on day 30
    assert (req.loc[29] == 25_000.0).all() and (req.loc[30] == 22_500.0).all()
    assert (req.loc[59] == 22_500.0).all() and (req.loc[60] == 20_000.0).all()
    assert (req.iloc[-1] == 15_000.0).all()
    assert (req.diff().fillna(0.0) <= 0.0).all().all()
    assert frame.conservation_residual.abs().max() < 1e-6 * 240e6
    # staked stays whole nodes of the requirement in force
    assert np.allclose(frame.staked, frame.nodes * frame.gov_staking_requirement)


def test_the_new_experiments_are_paired_against_the_baseline():
    for name in ("funding_failure", "governance_rule"):
        experiment = definitions.EXPERIMENTS[name]
        subsets = experiment.subsets()
        assert experiment.common_draws and experiment.reference == 0
        assert subsets[0].overrides == {} and len(subsets) == 2
    assert list(definitions.EXPERIMENTS)[-2:] == ["funding_failure", "governance_rule"]


def test_levers_are_state_variables_read_by_the_mechanisms():
    for lever in LEVERS:
        assert lever in initial_state()
    # a payout rate lever of 0 stops emissions even though the parameter says 0.151
    state = dict(initial_state(), gov_pool_payout_rate=0.0)
    from model.parts.emissions import policy_emission

    assert policy_emission(_params(), 3, [], state)["daily_emission"] == 0.0


# --- engines --------------------------------------------------------------------------------------

NEW_PATHS = [
    Parameters(),
    Parameters(
        foundation_failure_day=30,
        foundation_cash_at_tge_usd=50_000.0,  # short from day 1: sells, cuts, stops
        gov_rule_on=True,
        gov_node_level=100_000.0,
        gov_node_days=10.0,
    ),
]


@pytest.mark.engines
def test_cadcad_equals_vectorized_through_a_failure_and_the_rule_firing():
    from experiments.analysis.tolerances import assert_frames_close
    from experiments.run import simulate

    vectorized = simulate(NEW_PATHS, runs=2, years=0.25, seed=5, engine="vectorized")
    cadcad = simulate(NEW_PATHS, runs=2, years=0.25, seed=5, engine="cadcad")
    assert_frames_close(vectorized, cadcad)
    moved = vectorized[vectorized.subset == 1]
    assert moved.gov_staking_requirement.min() < 25_000.0 and moved.app_health.min() < 1.0
    assert moved.daily_foundation_sold.max() > 0.0


def test_a_trajectory_is_the_same_alone_or_beside_one_with_the_rule_on():
    mixed = run_vectorized(NEW_PATHS, runs=2, timesteps=90, seed=3)
    for subset, parameters in enumerate(NEW_PATHS):
        alone = run_vectorized([parameters], runs=2, timesteps=90, seed=3, first_subset=subset)
        mine = mixed[mixed["subset"] == subset].reset_index(drop=True)
        assert mine.equals(alone)


def test_a_failing_app_raises_both_node_hurdles_by_the_premium():
    from experiments.engines.draws import TrajectoryDraws
    from model.parts.staking import hurdle_gaps

    params = _params(app_failure_hurdle_premium=0.3)
    params["_drivers"] = TrajectoryDraws(seed=0, subset=0, runs=1, timesteps=10)
    state = dict(initial_state(), day=5, run=1)
    well = hurdle_gaps(params, state)
    sick = hurdle_gaps(params, dict(state, app_health=0.5))
    # every operator's threshold rises by the premium: the entry gap falls, both exit gaps rise
    assert sick.entry == pytest.approx(well.entry - 0.15)
    assert sick.exit_migrated == pytest.approx(well.exit_migrated + 0.15)
    assert sick.exit_entrants == pytest.approx(well.exit_entrants + 0.15)


def test_funding_failure_lowers_nodes_on_every_pair_when_fees_buy_nothing():
    # route none: no fee reaches the pool, so the nodes fall through their hurdles alone
    base, failed = _paired({}, {"foundation_failure_day": 413}, years=3)
    end = base.timestep.max()
    nodes_base = base[base.timestep == end].set_index("run").nodes
    nodes_failed = failed[failed.timestep == end].set_index("run").nodes
    assert (nodes_failed < nodes_base).all(), (nodes_failed, nodes_base)


def test_unlock_sale_proceeds_reach_the_cash_after_a_failure_and_from_the_ecosystem():
    """The USD of every unlock sale the foundation's holdings make lands in its cash: after the
    failure day (nothing is spent, so cash rises by exactly those proceeds) and, when it holds
    the ecosystem fund, from the ecosystem's sales too (found in review: both vanished)."""
    from model.parts.foundation import policy_foundation

    params = _params(foundation_failure_day=400)
    state = dict(initial_state(), day=401, foundation_cash_usd=1_000.0, price_usd=0.5)
    out = policy_foundation(params, 0, [], state)
    ops = 27_000_000.0 / 730.0 * params["unlock_sell_share_treasury_ops"]  # lockup D, months 13-36
    assert out["foundation_cash_usd"] == pytest.approx(1_000.0 + ops * 0.5, rel=1e-2)
    eco_params = _params(foundation_holdings="treasury_ops_and_ecosystem")
    day = dict(state, day=500, foundation_cash_usd=10_000_000.0)
    with_eco = policy_foundation(eco_params, 0, [], day)["foundation_cash_usd"]
    without = policy_foundation(_params(), 0, [], day)["foundation_cash_usd"]
    eco = 30_000_000.0 / 365.0 * eco_params["unlock_sell_share_ecosystem"]  # lockup B, year 2
    assert with_eco - without == pytest.approx(eco * 0.5, rel=1e-2)  # calendar-month window
