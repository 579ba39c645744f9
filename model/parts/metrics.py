"""End-of-day metrics: yields, supply measures, pool flow, POL depth and the conservation residual."""

from __future__ import annotations

import numpy as np

from model.constants import DAYS_PER_YEAR, MAX_SUPPLY
from model.parts.governance import governed
from model.parts.staking import node_yields
from model.types import Number, Params, State
from model.utils import market_circulating_supply

# The seven disjoint stocks that always hold the whole max supply (DESIGN.md section 2).
STOCKS = (
    "circulating",
    "vesting_locked",
    "reward_pool",
    "staked",
    "unstaking",
    "unclaimed_rewards",
    "amm_sesh",
)


def conservation_residual(state):
    """Sum of the stocks minus the max supply: zero up to float rounding."""
    first, *rest = STOCKS
    return sum((state[name] for name in rest), state[first]) - MAX_SUPPLY


def policy_metrics(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Compute the day's closing metrics: yields, supply measures, pool flow, POL, residual."""
    params = governed(params, previous_state)  # issue 21: the levers (model.parts.governance)
    s = previous_state
    price = s["price_usd"]
    per_node = s["reward_per_node"]
    apr_sesh, net_apr = node_yields(
        per_node,
        price,
        params["staking_requirement"],
        params["node_opex_usd_per_year"],
    )
    # the operator's fee and its pro-rata share of the rest (`operator_daily_reward`)
    operator_reward = per_node * params["operator_reward_share"]
    supply = market_circulating_supply(s)
    pol_share = s["pol_lp"] / s["amm_lp_supply"]
    return {
        "circulating_supply": supply,
        # stake over every token that could be staked: the market supply plus locked stake
        "staking_ratio": s["staked"] / (supply + s["locked_staked_a"] + s["locked_staked_f"]),
        "node_apr_sesh": apr_sesh,
        "node_net_apr": net_apr,
        "node_net_usd_per_day": per_node * price - params["node_opex_usd_per_day"],
        "operator_apr_sesh": operator_reward * DAYS_PER_YEAR / params["operator_stake"],
        "net_pool_flow": s["daily_pool_inflow"] - s["daily_emission"],
        "pol_value_usd": pol_share * 2.0 * s["amm_quote"] * s["eth_usd"],
        "market_cap_usd": supply * price,
        "impact_factor": np.exp(s["impact_permanent"] + s["impact_transient"]),
        "conservation_residual": conservation_residual(s),
    }
