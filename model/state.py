"""The state at TGE (2025-05-21), from the genesis table plus the documented assumptions."""

from __future__ import annotations

import numpy as np

from model.constants import (
    BLOCKS_PER_DAY,
    GENESIS_UNLOCKED_C,
    LOCKUP_A,
    LOCKUP_B,
    LOCKUP_D,
    LOCKUP_F,
    POOL_AT_TGE,
    UNLOCK_DAYS,
)
from model.derived import with_derived
from model.parameters import Parameters, tge_stake
from model.parts.emissions import clamped_basis_day, daily_payout
from model.parts.foundation import holdings_at_tge
from model.parts.metrics import policy_metrics
from model.types import State


def initial_state(parameters: Parameters | None = None) -> State:
    """Every state variable at timestep 0. Stocks sum to the 240,000,000 max supply."""
    p = parameters or Parameters()
    # the same SESH is staked at TGE whatever the requirement; testnet stake sits in the
    # non-treasury nodes, so it cannot exceed them
    nodes, treasury_nodes, staked, staked_a, staked_f = tge_stake(p)
    amm_quote = p.initial_amm_sesh * p.initial_price_usd / p.initial_eth_usd
    if p.launch_smoothing:
        basis = p.reward_basis_initial
        first_day = clamped_basis_day(basis, POOL_AT_TGE)[0] / BLOCKS_PER_DAY
    else:
        basis = first_day = POOL_AT_TGE
    state = {
        "day": 0,  # days since TGE; the vesting block (first of the day) advances it
        # the seven stocks
        "circulating": GENESIS_UNLOCKED_C - (staked - staked_a - staked_f) - p.initial_amm_sesh,
        "vesting_locked": LOCKUP_A - staked_a + LOCKUP_B + LOCKUP_D + LOCKUP_F - staked_f,
        "reward_pool": POOL_AT_TGE,
        "staked": staked,
        "unstaking": 0.0,
        "unclaimed_rewards": 0.0,
        "amm_sesh": p.initial_amm_sesh,
        # lockup detail: unstaked locked balances, and locked tokens that sit in nodes
        "locked_a": LOCKUP_A - staked_a,
        "locked_b": LOCKUP_B,
        "locked_d": LOCKUP_D,
        "locked_f": LOCKUP_F - staked_f,
        "locked_staked_a": float(staked_a),
        "locked_staked_f": staked_f,
        # market
        "amm_quote": amm_quote,
        "amm_lp_supply": float(np.sqrt(p.initial_amm_sesh * amm_quote)),
        "pol_lp": 0.0,
        "eth_usd": p.initial_eth_usd,
        "price_usd": p.initial_price_usd,
        "ref_price_usd": p.initial_price_usd,
        "pool_price_usd": p.initial_price_usd,
        "market_depth": p.initial_amm_sesh + p.outside_depth_share * GENESIS_UNLOCKED_C,
        "impact_permanent": 0.0,
        "impact_transient": 0.0,
        # network
        "nodes": float(nodes),
        "treasury_nodes": float(treasury_nodes),
        "migrated_nodes": float(nodes - treasury_nodes),
        "node_fund_reserve": 0.0,
        "reward_basis": basis,
        "reward_per_node": daily_payout(first_day, p.pool_payout_rate) / max(nodes, 1),
        "restake_pending": 0.0,
        "unstake_queue": np.zeros(UNLOCK_DAYS + 1),
        # demand: monthly users from the launch figure; the launch days are drawn on day 1 (until
        # then the earliest day of each window stands in)
        "monthly_users": float(p.initial_monthly_users),
        "pro_launch_day_drawn": float(p.pro_launch_day_earliest),
        "sns_launch_day_drawn": float(p.sns_launch_day_earliest),
        "pro_subscribers": 0.0,
        "sns_names": 0.0,
        # the day's flows
        "daily_emission": 0.0,
        "daily_pool_inflow": 0.0,
        "daily_fee_usd": 0.0,
        "daily_fee_spent": 0.0,
        "daily_pol_added": 0.0,
        "daily_claimed": 0.0,
        "daily_nodes_joined": 0.0,
        "daily_nodes_left": 0.0,
        "daily_net_flow": 0.0,
        "daily_unmet_trade": 0.0,
        # cumulative flows since TGE
        "cum_emission": 0.0,
        "cum_pool_inflow": 0.0,
        "cum_pol_added": 0.0,
        "cum_fee_usd": 0.0,
        "cum_sold": 0.0,
        "cum_unlocked": 0.0,
        "cliff_sold": 0.0,
        # the foundation and the app (issue 21 item 2)
        "foundation_cash_usd": p.foundation_cash_at_tge_usd,
        "foundation_sesh": float(holdings_at_tge(p.to_dict())),
        "foundation_cost_cut": 0.0,
        "foundation_funded_share": 1.0,
        "app_health": 1.0,
        "daily_foundation_sold": 0.0,
        # governance levers, at the parameters' values (issue 21 item 6)
        "gov_staking_requirement": p.staking_requirement,
        "gov_claim_cap_per_day": p.claim_cap_per_day,
        "gov_pool_payout_rate": p.pool_payout_rate,
        "gov_low_node_days": 0.0,
    }
    state.update(policy_metrics(with_derived(p.to_dict()), None, [], state))
    return state
