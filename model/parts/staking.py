"""Yield-driven staking and unstaking in whole nodes, liquidations, and the 15-day unlock.

Stakers compare the node's net yield, (SESH reward * price - USD operating cost) / stake value, with
a noisy hurdle rate. Above it, nodes join at a rate that grows with the gap up to
`max_entry_rate` of the network a day; below it, unlocked nodes leave the same way. Expected counts
become whole nodes by stochastic rounding (floor(x + u), u uniform), which is unbiased. New stake
comes from wallets (`circulating`) above the share holders keep liquid, or from rewards saved for
restaking (staked only while the yield beats the hurdle). Exits wait
UNLOCK_DAYS = 15 days (OXEND UNLOCK_DURATION) in the unstaking queue. Liquidated nodes lose
0.03% to the liquidator and 0.17% to the pool; 99.80% goes back through the queue
(ServiceNodeRewards.sol liquidation ratios 3:17:9980). Stake from lockups A and F cannot leave
while locked.
"""

from __future__ import annotations

import numpy as np

from model.constants import (
    DAYS_PER_YEAR,
    LIQUIDATION_POOL_SHARE,
    LIQUIDATION_RETURNED_SHARE,
    LIQUIDATOR_SHARE,
)
from model.parts.amm import price_of_token
from model.parts.emissions import contract_payout
from model.stochastic import shock
from model.types import Number, Params, State
from model.utils import market_circulating_supply


def node_yields(node_reward_per_day, price_usd, staking_requirement, opex_usd_per_month):
    """(APR in SESH, net APR in USD terms after operating cost) of one node's stake."""
    apr_sesh = node_reward_per_day * DAYS_PER_YEAR / staking_requirement
    stake_value = staking_requirement * np.maximum(price_usd, 1e-12)
    net_apr = apr_sesh - opex_usd_per_month * 12.0 / stake_value
    return apr_sesh, net_apr


def whole_nodes(expected, uniform_draw):
    """Stochastic rounding of an expected count to whole nodes: floor(x + u)."""
    return np.floor(np.maximum(expected, 0.0) + uniform_draw)


def flow_intensity(gap, sensitivity, max_rate, nodes):
    """Expected nodes moving per day for a yield gap: linear in the gap, capped at max_rate."""
    return np.clip(gap / sensitivity, 0.0, 1.0) * max_rate * nodes


def _net_yield_gap(params, state):
    price = price_of_token(state["amm_sesh"], state["amm_quote"]) * state["eth_usd"]
    # With no nodes nothing is paid today; a first node would earn the pool rule alone.
    first_node = contract_payout(state["reward_pool"], params["pool_payout_rate"], 1.0)
    node_reward = np.where(state["nodes"] > 0, state["reward_per_node"], first_node)
    _, net_apr = node_yields(
        node_reward,
        price,
        params["staking_requirement"],
        params["node_opex_usd_per_month"],
    )
    hurdle = params["hurdle_apr"] + params["hurdle_noise"] * shock(params, state, "hurdle_shock")
    return net_apr - hurdle


def free_nodes(state, staking_requirement):
    """Nodes whose stake is not under a lockup and so may leave."""
    locked = state["locked_staked_a"] + state["locked_staked_f"]
    return np.maximum(np.floor((state["staked"] - locked) / staking_requirement + 1e-9), 0.0)


def policy_stake(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide how many whole nodes join today, from wallets and from saved rewards."""
    req = params["staking_requirement"]
    gap = _net_yield_gap(params, previous_state)
    wallets = previous_state["circulating"]
    # Entry scales with the network, but even a tiny one draws entrants as if it had
    # `entry_base_nodes`; holders keep `liquid_float_floor` of the supply unstaked.
    base = np.maximum(previous_state["nodes"], params["entry_base_nodes"])
    joiners = whole_nodes(
        flow_intensity(gap, params["yield_sensitivity"], params["max_entry_rate"], base),
        shock(params, previous_state, "entry_draw"),
    )
    floor = params["liquid_float_floor"] * market_circulating_supply(previous_state)
    joiners = np.minimum(joiners, np.floor(np.maximum(wallets - floor, 0.0) / req + 1e-9))
    # Saved rewards are staked only while staking pays.
    savings = np.minimum(previous_state["restake_pending"], wallets)
    restakers = np.where(gap > 0.0, np.floor(savings / req + 1e-9), 0.0)
    new_nodes = np.minimum(joiners + restakers, np.floor(wallets / req + 1e-9))
    from_savings = np.minimum(restakers, new_nodes) * req
    return {
        "d_staked": new_nodes * req,
        "d_nodes": new_nodes,
        "d_circulating": -new_nodes * req,
        "d_restake_pending": -from_savings,
        "daily_nodes_joined": new_nodes,
    }


def policy_unstake(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide how many whole nodes leave or are liquidated today into the unlock queue."""
    req = params["staking_requirement"]
    day = previous_state["day"]
    gap = _net_yield_gap(params, previous_state)
    nodes = previous_state["nodes"]
    leavable = free_nodes(previous_state, req)
    stressed = np.where(day == params["stress_day"], params["stress_exit_share"], 0.0)
    expected = (
        flow_intensity(-gap, params["yield_sensitivity"], params["max_exit_rate"], nodes)
        + stressed * leavable
    )
    leavers = np.minimum(
        whole_nodes(expected, shock(params, previous_state, "exit_draw")), leavable
    )
    liquidated = np.minimum(
        whole_nodes(
            nodes * params["liquidation_rate"] / DAYS_PER_YEAR,
            shock(params, previous_state, "liquidation_draw"),
        ),
        leavable - leavers,
    )
    returned = leavers * req + liquidated * req * LIQUIDATION_RETURNED_SHARE
    to_pool = liquidated * req * LIQUIDATION_POOL_SHARE
    queue = previous_state["unstake_queue"]
    entering = np.zeros_like(queue)
    entering[..., -1] = returned
    return {
        "d_staked": -(leavers + liquidated) * req,
        "d_nodes": -(leavers + liquidated),
        "d_unstake_queue": entering,
        "d_unstaking": returned,
        "d_circulating": liquidated * req * LIQUIDATOR_SHARE,
        "d_reward_pool": to_pool,
        "d_daily_pool_inflow": to_pool,
        "d_cum_pool_inflow": to_pool,
        "daily_nodes_left": leavers + liquidated,
    }
