"""Yield-driven staking and unstaking in whole nodes, treasury nodes, liquidations, the unlock.

Nodes compare their net USD yield at the opening price, (SESH reward * price - USD operating cost)
/ stake value, with two hurdles that share one daily noise: an outside entrant needs the entry
hurdle (risk-free rate plus a premium: they buy SESH and take its price risk); an incumbent leaves
only below the exit hurdle (the shut-down condition: cash cost not covered). Between them nodes
neither join nor leave. Above the entry hurdle nodes join at a rate that grows with the gap up to
`max_entry_rate` of the network a day; below the exit hurdle free nodes leave the same way.
Expected counts become whole nodes by stochastic rounding (floor(x + u), u uniform), which is
unbiased. New stake comes first from rewards saved for restaking; of the other entrants
`stake_buy_share` buy their stake on the market (it enters the day's net flow), the rest stake
wallet holdings above the share holders keep liquid. The treasury keeps `treasury_node_share` of
the nodes from its node fund (locked lockup A first, then its unlocked reserve), whatever the
yield, and never exits for yield; it stops nodes only to stay within its share. Exits wait UNLOCK_DAYS = 15 days (OXEND UNLOCK_DURATION) in the unstaking
queue. Liquidated nodes lose 0.03% to the liquidator and 0.17% to the pool; 99.80% goes back
through the queue (ServiceNodeRewards.sol liquidation ratios 3:17:9980). Stake from lockup F
cannot leave while locked.
"""

from __future__ import annotations

import numpy as np

from model.constants import (
    DAYS_PER_YEAR,
    LIQUIDATION_POOL_SHARE,
    LIQUIDATION_RETURNED_SHARE,
    LIQUIDATOR_SHARE,
)
from model.parts.emissions import daily_payout
from model.parts.governance import governed
from model.parts.vesting import node_fund_locked
from model.stochastic import shock
from model.types import Number, Params, State
from model.utils import clip, liquid_wallets, market_circulating_supply, on_stress_day, summed


def node_yields(node_reward_per_day, price_usd, staking_requirement, opex_usd_per_year):
    """(APR in SESH, net APR in USD terms after operating cost) of one node's stake."""
    apr_sesh = node_reward_per_day * DAYS_PER_YEAR / staking_requirement
    stake_value = staking_requirement * np.maximum(price_usd, 1e-12)
    net_apr = apr_sesh - opex_usd_per_year / stake_value
    return apr_sesh, net_apr


def whole_nodes(expected, uniform_draw):
    """Stochastic rounding of an expected count to whole nodes: floor(x + u)."""
    return np.floor(np.maximum(expected, 0.0) + uniform_draw)


def flow_intensity(gap, sensitivity, max_rate, nodes):
    """Expected nodes moving per day for a yield gap: linear in the gap, capped at max_rate."""
    return clip(gap / sensitivity, 0.0, 1.0) * max_rate * nodes


def net_apr_open(params, state):
    """A node's net APR in USD terms at the opening price (what entrants and incumbents see)."""
    # With no nodes nothing is paid today; a first node would earn the pool rule alone.
    first_node = daily_payout(state["reward_pool"], params["pool_payout_rate"])
    node_reward = np.where(state["nodes"] > 0, state["reward_per_node"], first_node)
    _, net_apr = node_yields(
        node_reward,
        state["price_usd"],
        params["staking_requirement"],
        params["node_opex_usd_per_year"],
    )
    return net_apr


def hurdle_gaps(params, state):
    """(entry gap, exit gap): net APR over the entry hurdle, and the exit hurdle over net APR.

    Both hurdles move with the same daily noise; between them (the hysteresis band) nodes
    neither join nor leave.
    """
    net_apr = net_apr_open(params, state)
    noise = params["hurdle_noise"] * shock(params, state, "hurdle_shock")
    noise = noise + params["app_failure_hurdle_premium"] * (1.0 - state["app_health"])  # issue 21
    entry_gap = net_apr - (params["node_entry_hurdle_apr"] + noise)
    exit_gap = (params["node_exit_hurdle_apr"] + noise) - net_apr
    return entry_gap, exit_gap


def free_nodes(state, staking_requirement):
    """Nodes that may leave: not staked from a lockup and not run by the treasury."""
    fixed = state["treasury_nodes"] * staking_requirement + state["locked_staked_f"]
    return np.maximum(np.floor((state["staked"] - fixed) / staking_requirement + 1e-9), 0.0)


def policy_treasury_stake(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the treasury nodes started (locked fund first, then reserve) or stopped today."""
    params = governed(params, previous_state)  # issue 21: the levers (model.parts.governance)
    s = previous_state
    req = params["staking_requirement"]
    target = np.floor(params["treasury_node_share"] * s["nodes"] + 1e-9)
    want = np.maximum(target - s["treasury_nodes"], 0.0)
    from_locked = np.minimum(want, np.floor(node_fund_locked(s["locked_a"]) / req + 1e-9))
    from_reserve = np.minimum(
        want - from_locked, np.floor(np.maximum(s["node_fund_reserve"], 0.0) / req + 1e-9)
    )
    # Above its share (the network shrank) the treasury stops nodes: stake still under the
    # lockup goes back to it, unlocked stake back to the node-fund reserve (no market sale).
    excess = np.maximum(s["treasury_nodes"] - target, 0.0)
    to_locked = np.minimum(excess, np.floor(s["locked_staked_a"] / req + 1e-9))
    to_reserve = excess - to_locked
    locked_move = (from_locked - to_locked) * req
    reserve_move = (from_reserve - to_reserve) * req
    started = from_locked + from_reserve - excess
    unlocked, spent = -locked_move, -reserve_move
    return {
        "d_staked": started * req,
        "d_nodes": started,
        "d_treasury_nodes": started,
        "d_locked_a": unlocked,
        "d_locked_staked_a": locked_move,
        "d_vesting_locked": unlocked,
        "d_circulating": spent,
        "d_node_fund_reserve": spent,
    }


def policy_node_flows(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the nodes that join and leave today, from one comparison with the two hurdles."""
    params = governed(params, previous_state)  # issue 21: the levers (model.parts.governance)
    # one `hurdle_gaps` for both decisions; their signals summed as cadCAD sums a block's policies
    entry_gap, exit_gap = hurdle_gaps(params, previous_state)
    return summed(
        joining(params, previous_state, entry_gap), leaving(params, previous_state, exit_gap)
    )


def joining(params: Params, s: State, entry_gap) -> dict[str, Number]:
    """The whole nodes that join today at `entry_gap` (from `hurdle_gaps`), from saved rewards,
    market buys and wallets."""
    req = params["staking_requirement"]
    # Entry scales with the network, but even a tiny one draws entrants as if it had
    # `entry_base_nodes`.
    base = np.maximum(s["nodes"], params["entry_base_nodes"])
    joiners = whole_nodes(
        flow_intensity(entry_gap, params["yield_sensitivity"], params["max_entry_rate"], base),
        shock(params, s, "entry_draw"),
    )
    liquid = liquid_wallets(s)
    # Of the entrants, `stake_buy_share` buy their stake on the market (from liquid wallets,
    # entering the net flow); the rest stake holdings above the share holders keep liquid.
    buy = params["stake_buy_share"]
    above_floor = np.maximum(
        liquid - params["liquid_float_floor"] * market_circulating_supply(s), 0.0
    )
    holder_cap = np.floor(above_floor / params["stake_from_holdings_per_node"] + 1e-9)
    joiners = np.minimum(joiners, np.minimum(holder_cap, np.floor(liquid / req + 1e-9)))
    # Saved rewards are staked only while staking beats the entry hurdle.
    savings = np.minimum(s["restake_pending"], s["circulating"])
    restakers = np.where(entry_gap > 0.0, np.floor(savings / req + 1e-9), 0.0)
    new_nodes = np.minimum(joiners + restakers, np.floor((liquid + savings) / req + 1e-9))
    from_savings = np.minimum(restakers, new_nodes)
    bought = (new_nodes - from_savings) * req * buy
    staked = new_nodes * req
    return {
        "d_staked": staked,
        "d_nodes": new_nodes,
        "d_circulating": -staked,
        "d_restake_pending": -from_savings * req,
        "d_daily_net_flow": bought,
        "daily_nodes_joined": new_nodes,
    }


def leaving(params: Params, s: State, exit_gap) -> dict[str, Number]:
    """The whole nodes that leave today at `exit_gap` (from `hurdle_gaps`) or are liquidated,
    into the unlock queue."""
    req = params["staking_requirement"]
    nodes = np.maximum(s["nodes"] - s["treasury_nodes"], 0.0)
    leavable = free_nodes(s, req)
    expected = flow_intensity(exit_gap, params["yield_sensitivity"], params["max_exit_rate"], nodes)
    stressed = on_stress_day(params, s, params["stress_exit_share"], 0.0)
    if stressed is not None:
        expected = expected + stressed * leavable
    leavers = np.minimum(whole_nodes(expected, shock(params, s, "exit_draw")), leavable)
    liquidated = np.minimum(
        whole_nodes(
            nodes * params["liquidation_rate"] / DAYS_PER_YEAR,
            shock(params, s, "liquidation_draw"),
        ),
        leavable - leavers,
    )
    left = leavers + liquidated
    liquidated_stake = liquidated * req
    returned = leavers * req + liquidated_stake * LIQUIDATION_RETURNED_SHARE
    to_pool = liquidated_stake * LIQUIDATION_POOL_SHARE
    entering = np.zeros_like(s["unstake_queue"])  # a new array: the state's is never written
    entering[..., -1] = returned
    return {
        "d_staked": -(left * req),
        "d_nodes": -left,
        "d_unstake_queue": entering,
        "d_unstaking": returned,
        "d_circulating": liquidated_stake * LIQUIDATOR_SHARE,
        "d_reward_pool": to_pool,
        "d_daily_pool_inflow": to_pool,
        "d_cum_pool_inflow": to_pool,
        "daily_nodes_left": left,
    }
