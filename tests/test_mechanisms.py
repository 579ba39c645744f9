"""Spending, rewards, staking and market mechanisms, one policy call at a time."""

import numpy as np
import pytest

from experiments.engines.draws import TrajectoryDraws
from model import Parameters, initial_state
from model.constants import LIQUIDATION_POOL_SHARE, LIQUIDATION_RETURNED_SHARE
from model.derived import with_derived
from model.parts.market import arbitrage_swap, consolidated_depth, gbm_step, policy_market
from model.parts.rewards import (
    advance_queue,
    operator_daily_reward,
    policy_rewards,
    reward_per_node,
    split_claims,
)
from model.parts.spending import adoption_ramp, policy_spend
from model.parts.staking import flow_intensity, hurdle_gaps, joining, leaving, node_yields
from model.stochastic import draw_drivers
from model.utils import liquid_wallets

ALWAYS_JOIN = {"node_entry_hurdle_apr": -1.0, "node_exit_hurdle_apr": -1.0}
ALWAYS_LEAVE = {"node_entry_hurdle_apr": 5.0, "node_exit_hurdle_apr": 5.0}


def _setup(day=200, **overrides):
    parameters = Parameters(**overrides)
    params = with_derived(parameters.to_dict())
    params["_drivers"] = TrajectoryDraws(seed=0, subset=0, runs=1, timesteps=2000)
    state = initial_state(parameters)
    state.update(day=day, run=1, timestep=day)
    return params, state


# --- spending --------------------------------------------------------------------------------


def test_adoption_ramp_hand_values():
    # 0 before the first day of sales; 0.74 x t/90 to day 90; then +0.26 over days 90..540
    ramp = adoption_ramp(
        np.array([-5.0, 0.0, 1.0, 45.0, 90.0, 315.0, 540.0, 2000.0]), 90, 0.74, 540
    )
    want = [0.0, 0.0, 0.74 / 90, 0.37, 0.74, 0.74 + 0.26 * 0.5, 1.0, 1.0]
    np.testing.assert_allclose(ramp, want)
    # no early phase or no late phase: a step to the early share, or a linear ramp to 1
    assert adoption_ramp(1.0, 0.0, 0.5, 100.0) == pytest.approx(0.5 + 0.5 / 100)
    assert adoption_ramp(50.0, 100.0, 1.0, 100.0) == pytest.approx(0.5)


def test_spend_splits_bought_sesh_between_pool_and_pol():
    params, state = _setup(day=400, demand_volatility=0.0, pro_revenue_route="pool")
    state["monthly_users"] = 2e6
    state["pro_launch_day_drawn"] = 390.0  # the 11th day of sales on day 400
    signal = policy_spend(params, None, [], state)
    bought = signal["daily_fee_spent"]
    assert bought > 0
    assert signal["d_reward_pool"] == pytest.approx(0.9 * bought)
    assert signal["daily_pol_added"] == pytest.approx(0.1 * bought)
    # payers buy from wallets at the opening price; the zap puts all the POL SESH in the pool
    assert signal["d_circulating"] == pytest.approx(-bought)
    # the order enters the net flow as its size at the open (checked below)
    assert signal["d_amm_sesh"] == pytest.approx(0.1 * bought)
    assert signal["d_amm_quote"] == pytest.approx(0.0, abs=1e-9)
    usd = signal["daily_fee_usd"]
    # users x conversion x ramp, the users after today's step of the users' GBM
    users = signal["monthly_users"]
    growth = np.exp(
        0.6 / 365 + 0.3 / np.sqrt(365) * draw_drivers(0, 0, 1, 2000)["users_shock"][400]
    )
    assert users == pytest.approx(2e6 * growth)
    subscribers = users * 0.005 * 0.74 * 11 / 90
    assert signal["pro_subscribers"] == pytest.approx(subscribers)
    assert usd == pytest.approx(subscribers * 22.74 / 365 * 0.85)
    # filled against the consolidated depth at the impact price: R a / (R + a), a = USD / open
    depth = min(consolidated_depth(state, 0.05), liquid_wallets(state))
    at_open = usd / state["price_usd"]
    assert bought == pytest.approx(depth * at_open / (depth + at_open))
    assert bought < at_open
    assert signal["d_daily_net_flow"] == pytest.approx(at_open)
    assert signal["d_pol_lp"] > 0


def test_spend_after_pol_review_follows_the_chosen_rule():
    for rule, pool_share, pol_share, treasury in [
        ("keep", 0.9, 0.1, 0.0),
        ("pool", 1.0, 0.0, 0.0),
        ("treasury", 0.9, 0.0, 0.1),
    ]:
        params, state = _setup(
            day=1900, pol_after_review=rule, demand_volatility=0.0, pro_revenue_route="pool"
        )
        signal = policy_spend(params, None, [], state)
        bought = signal["daily_fee_spent"]
        assert signal["d_reward_pool"] == pytest.approx(pool_share * bought)
        assert signal["daily_pol_added"] == pytest.approx(pol_share * bought)
        # the treasury's share stays in wallets; the rest leaves them
        assert signal["d_circulating"] == pytest.approx(-(1 - treasury) * bought)


def test_no_spending_before_launch():
    params, state = _setup(day=10)
    signal = policy_spend(params, None, [], state)
    assert signal["daily_fee_spent"] == 0.0 and signal["d_reward_pool"] == 0.0


# --- rewards -----------------------------------------------------------------------------------


def test_equal_split_and_operator_share():
    assert reward_per_node(26_136.0, 1500) == pytest.approx(17.424)
    # docs example: a 1,000 SESH reward, 10% fee -> operator 100 + its 25% of the other 900
    assert operator_daily_reward(1000.0, 0.10, 0.25) == pytest.approx(100 + 225)


def test_claims_share_the_cap_pro_rata():
    assert split_claims(500.0, 300.0, 2_000_000.0) == (500.0, 300.0)
    rewards, stake = split_claims(3e6, 1e6, 2e6)
    assert (rewards, stake) == (pytest.approx(1.5e6), pytest.approx(0.5e6))


def test_queue_matures_after_fifteen_days():
    queue = np.zeros(16)
    queue[-1] = 25_000.0  # requested today
    matured_on = None
    for day in range(1, 20):
        queue, matured = advance_queue(queue)
        if matured > 0 and matured_on is None:
            matured_on = day
    assert matured_on == 15
    assert queue.sum() == pytest.approx(25_000.0)


def test_rewards_policy_pays_claims_and_sells_the_configured_share():
    params, state = _setup(reward_claim_rate=0.5, reward_sell_share=0.4, exit_sell_share=0.0)
    state["unclaimed_rewards"] = 100_000.0
    state["daily_emission"] = 30_000.0
    signal = policy_rewards(params, None, [], state)
    assert signal["daily_claimed"] == pytest.approx(50_000.0)
    # claims reach wallets; the sale settles with the market and enters the net flow
    assert signal["d_circulating"] == pytest.approx(50_000.0)
    assert signal["d_daily_net_flow"] == pytest.approx(-50_000.0 * 0.4)
    assert signal["d_restake_pending"] == pytest.approx(50_000.0 * 0.2)
    assert signal["reward_per_node"] == pytest.approx(30_000.0 / 1500)


# --- staking -----------------------------------------------------------------------------------


def test_node_yields_hand_values():
    apr, net = node_yields(20.0, 0.1, 25_000.0, 20.0 * 12)  # $20 a month
    assert apr == pytest.approx(20 * 365 / 25_000)
    assert net == pytest.approx(apr - 240 / 2_500)


def test_flow_intensity_is_capped_and_one_sided():
    assert flow_intensity(0.05, 0.10, 0.01, 1000) == pytest.approx(5.0)
    assert flow_intensity(0.50, 0.10, 0.01, 1000) == pytest.approx(10.0)
    assert flow_intensity(-0.05, 0.10, 0.01, 1000) == 0.0


def test_stochastic_rounding_is_unbiased_over_a_run():
    draws = draw_drivers(5, 0, 1, 20_000)["entry_draw"]
    assert np.floor(2.3 + draws).mean() == pytest.approx(2.3, abs=0.02)


def test_high_yield_adds_whole_nodes_from_wallets():
    params, state = _setup(**ALWAYS_JOIN, max_entry_rate=0.01, hurdle_noise=0.0)
    signal = joining(params, state, hurdle_gaps(params, state)[0])
    assert signal["d_nodes"] == 15  # the gap saturates: 1% of 1500 nodes, a whole number already
    assert signal["d_staked"] == signal["d_nodes"] * 25_000
    assert signal["d_circulating"] == -signal["d_staked"]


def test_low_yield_removes_only_unlocked_nodes_and_queues_their_stake():
    params, state = _setup(**ALWAYS_LEAVE, max_exit_rate=1.0, liquidation_rate=0.0)
    signal = leaving(params, state, hurdle_gaps(params, state))
    locked_nodes = (state["locked_staked_a"] + state["locked_staked_f"]) / 25_000
    assert -signal["d_nodes"] == np.floor(1500 - locked_nodes)
    assert signal["d_unstake_queue"][-1] == -signal["d_staked"]
    assert signal["d_unstaking"] == -signal["d_staked"]


def test_liquidation_shares_follow_the_contract_ratios():
    # treasury nodes are never liquidated: the rate applies to the 1,350 others
    params, state = _setup(**ALWAYS_JOIN, liquidation_rate=365.0 / 1350 * 3)
    signal = leaving(params, state, hurdle_gaps(params, state))
    liquidated = -signal["d_nodes"]
    assert liquidated in (3, 4)
    assert signal["d_reward_pool"] == pytest.approx(liquidated * 25_000 * LIQUIDATION_POOL_SHARE)
    assert signal["d_unstaking"] == pytest.approx(liquidated * 25_000 * LIQUIDATION_RETURNED_SHARE)


# --- market ------------------------------------------------------------------------------------


def test_gbm_step_hand_value():
    assert gbm_step(100.0, 0.0, 0.0, 1.3) == 100.0
    # median-flat (default): the drift is the log drift
    want = 100 * np.exp(0.6 * np.sqrt(1 / 365) * 1.0)
    assert gbm_step(100.0, 0.0, 0.6, 1.0) == pytest.approx(want)
    mean_flat = 100 * np.exp(-0.5 * 0.36 / 365 + 0.6 * np.sqrt(1 / 365) * 1.0)
    assert gbm_step(100.0, 0.0, 0.6, 1.0, "mean") == pytest.approx(mean_flat)


def test_arbitrage_moves_the_pool_to_the_target_both_ways():
    sesh, eth = 5e6, 200.0
    for factor in (1.3, 0.7):
        target = factor * eth / sesh
        new_sesh, new_eth, net, unmet = arbitrage_swap(sesh, eth, target, 0.003, 1e9, 0.5)
        assert new_eth / new_sesh == pytest.approx(target, rel=1e-10)
        assert unmet == 0.0
        assert np.sign(net) == (1 if factor > 1 else -1)


def test_arbitrage_sells_no_more_than_wallets_hold():
    new_sesh, _, net, unmet = arbitrage_swap(5e6, 200.0, 0.5 * 200.0 / 5e6, 0.003, 1_000.0, 0.5)
    assert net == pytest.approx(-1_000.0)
    assert unmet > 0
    assert new_sesh == pytest.approx(5e6 + 1_000.0)


def test_market_crash_on_stress_day():
    params, state = _setup(
        day=400, stress_day=400, stress_price_drop=0.5, eth_volatility=0.0, ref_volatility=0.0
    )
    signal = policy_market(params, None, [], state)
    assert signal["eth_usd"] == pytest.approx(0.5 * state["eth_usd"])
    assert signal["ref_price_usd"] == pytest.approx(0.5 * state["ref_price_usd"])


# --- edge cases found in review ----------------------------------------------------------------


def test_draws_do_not_depend_on_the_horizon():
    short, long = draw_drivers(3, 1, 2, 100), draw_drivers(3, 1, 2, 1000)
    for name in short:
        np.testing.assert_array_equal(short[name], long[name][:101])


def test_zero_conversion_means_no_subscribers():
    params, state = _setup(day=800, pro_conversion=0.0, pro_revenue_route="pool")
    signal = policy_spend(params, None, [], state)
    assert signal["pro_subscribers"] == 0.0 and signal["daily_fee_spent"] == 0.0
    assert signal["monthly_users"] > 0


def test_holders_keep_a_liquid_floor():
    params, state = _setup(
        **ALWAYS_JOIN, max_entry_rate=1.0, liquid_float_floor=0.4, stake_buy_share=0.0
    )
    signal = joining(params, state, hurdle_gaps(params, state)[0])
    floor = 0.4 * state["circulating_supply"]
    # the foundation's SESH (issue 21) is not the holders' to stake
    holders = state["circulating"] - state["foundation_sesh"]
    assert holders + signal["d_circulating"] >= floor - 25_000
    assert signal["d_nodes"] == np.floor((holders - floor) / 25_000)


def test_saved_rewards_are_staked_only_while_staking_pays():
    for hurdles, joined in [(ALWAYS_JOIN, True), (ALWAYS_LEAVE, False)]:
        params, state = _setup(**hurdles, max_entry_rate=0.0, max_exit_rate=0.0)
        state["restake_pending"] = 60_000.0
        signal = joining(params, state, hurdle_gaps(params, state)[0])
        assert signal["d_nodes"] == (2 if joined else 0)


def test_an_empty_network_restarts_and_pays_nothing_meanwhile():
    from model.parts.emissions import policy_emission

    params, state = _setup(initial_stake_sesh=0.0, hurdle_noise=0.0)
    assert policy_emission(params, None, [], state)["daily_emission"] == 0.0
    # 0.5% a day of the 100-node entry base, stochastically rounded
    assert joining(params, state, hurdle_gaps(params, state)[0])["d_nodes"] in (0.0, 1.0)
    assert _net_gap_positive(params, state)


def _net_gap_positive(params, state):
    from model.parts.staking import hurdle_gaps

    return bool(hurdle_gaps(params, state).entry > 0)
