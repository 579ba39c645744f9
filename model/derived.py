"""Quantities that depend on the parameters alone, worked out once per run instead of every day.

Some of the model's expressions read nothing but parameters: which price model a trajectory uses,
the Pro revenue per subscriber, the geometric Brownian motions' (ETH, valuation, monthly users)
drift and scale per day, the impact's daily retention, the holder groups' weighted sell shares. Evaluated inside the policies
they cost an array operation each, every day, on every engine; in the vectorized engine a day's
cost is mostly the count of such operations (each costs about a microsecond whatever the number
of trajectories), so they are worked out here once. Every engine builds its params dict through
`with_derived` (scalars for cadCAD and radCAD, one array element per trajectory for the
vectorized engine), and the policies read the results by name.

Some entries are plain Python values for branches on the parameters (never on the state):
whether any trajectory uses the pool_only price model (or all the impact model), has names
deployed, buys SESH with fees at all (Pro routed to the pool, or names), has launch smoothing on
(any, all), and the days some trajectory has its stress event. A branch skips only arithmetic
whose result no trajectory uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from model.constants import DAYS_PER_YEAR
from model.parts.market import gbm_scales, impact_rates, level_bounds
from model.parts.rewards import operator_daily_reward
from model.parts.spending import pro_usd_per_subscriber_year
from model.parts.vesting import cliff_plan, unlock_sell_shares

# The derived entries a params dict gets (none is a parameter name: tested).
DERIVED = (
    "impact_on",
    "pool_only",
    "any_pool_only",
    "all_impact",
    "stress_days",
    "any_smoothing",
    "all_smoothing",
    "eth_log_drift_per_day",
    "eth_volatility_per_day",
    "ref_log_drift_per_day",
    "ref_volatility_per_day",
    "eth_usd_bounds",
    "ref_price_bounds",
    "impact_retention",
    "impact_transient_share",
    "stress_price_factor",
    "pro_route_pool",
    "pol_to_pool_after_review",
    "pol_to_treasury_after_review",
    "pro_net_usd_per_subscriber_day",
    "sns_usd_per_name_day",
    "users_log_drift_per_day",
    "users_volatility_per_day",
    "any_sns_deployed",
    "any_fee_buys",
    "demand_mean_correction",
    "node_opex_usd_per_year",
    "node_opex_usd_per_day",
    "stake_from_holdings_per_node",
    "operator_reward_share",
    "operator_stake",
    "unlock_sell_share_by_class",
    "migrated_nodes_at_tge",
    "migrated_opex_usd_per_year",
    "cliff_plan",
)


def derived(params: Mapping[str, Any]) -> dict[str, Any]:
    """The derived entries of a params dict (values of one run, or arrays of many)."""
    model = np.asarray(params["price_model"])
    pool_only = model == "pool_only"
    convention = params["drift_convention"]
    eth_drift, eth_volatility = gbm_scales(
        params["eth_drift"], params["eth_volatility"], convention
    )
    ref_drift, ref_volatility = gbm_scales(
        params["ref_drift"], params["ref_volatility"], convention
    )
    retention, transient_share = impact_rates(
        params["impact_permanent_share"], params["impact_half_life_days"]
    )
    after_review = np.asarray(params["pol_after_review"])
    route_pool = np.asarray(params["pro_revenue_route"]) == "pool"
    sns = params["sns_deployed"]
    opex_year = params["node_opex_usd_per_month"] * 12.0
    users_drift, users_volatility = gbm_scales(
        params["monthly_users_growth"], params["monthly_users_volatility"]
    )
    tge_nodes = np.floor(np.asarray(params["initial_stake_sesh"]) / params["staking_requirement"])
    migrated_at_tge = tge_nodes - np.floor(params["treasury_node_share"] * tge_nodes)
    return {
        "impact_on": model == "impact",
        "pool_only": pool_only,
        "any_pool_only": bool(np.any(pool_only)),
        "all_impact": bool(np.all(model == "impact")),
        # the days some trajectory has its stress event (0: none)
        "stress_days": frozenset(np.atleast_1d(params["stress_day"]).tolist()) - {0},
        "any_smoothing": bool(np.any(params["launch_smoothing"])),
        "all_smoothing": bool(np.all(params["launch_smoothing"])),
        "eth_log_drift_per_day": eth_drift,
        "eth_volatility_per_day": eth_volatility,
        "ref_log_drift_per_day": ref_drift,
        "ref_volatility_per_day": ref_volatility,
        # the numerical guard's range for each level (`model.parts.market.LOG_LEVEL_BOUND`)
        "eth_usd_bounds": level_bounds(params["initial_eth_usd"]),
        "ref_price_bounds": level_bounds(params["initial_price_usd"]),
        "impact_retention": retention,
        "impact_transient_share": transient_share,
        "stress_price_factor": 1.0 - params["stress_price_drop"],
        "pro_route_pool": route_pool,
        "pol_to_pool_after_review": after_review == "pool",
        "pol_to_treasury_after_review": after_review == "treasury",
        "pro_net_usd_per_subscriber_day": pro_usd_per_subscriber_year(params)
        / DAYS_PER_YEAR
        * (1.0 - params["app_store_commission"]),
        "sns_usd_per_name_day": params["sns_fee_usd_per_year"] / DAYS_PER_YEAR,
        # monthly users: a GBM whose trend is its log drift (median-flat at 0)
        "users_log_drift_per_day": users_drift,
        "users_volatility_per_day": users_volatility,
        "any_sns_deployed": bool(np.any(sns)),
        "any_fee_buys": bool(np.any(route_pool | sns)),
        "demand_mean_correction": 0.5 * params["demand_volatility"] ** 2,
        "node_opex_usd_per_year": opex_year,
        "node_opex_usd_per_day": opex_year / DAYS_PER_YEAR,
        "stake_from_holdings_per_node": np.maximum(
            params["staking_requirement"] * (1.0 - params["stake_buy_share"]), 1e-300
        ),
        # the share of a node's reward its operator takes (`operator_daily_reward` of 1)
        "operator_reward_share": operator_daily_reward(
            1.0, params["operator_fee"], params["operator_stake_share"]
        ),
        "operator_stake": params["staking_requirement"] * params["operator_stake_share"],
        "unlock_sell_share_by_class": unlock_sell_shares(params),
        # the non-treasury nodes at TGE (`model.parameters.tge_stake`): the migrated cohort
        "migrated_nodes_at_tge": migrated_at_tge,
        "migrated_opex_usd_per_year": opex_year * params["migrated_opex_factor"],
        "cliff_plan": cliff_plan(params),
    }


def with_derived(params: Mapping[str, Any]) -> dict[str, Any]:
    """A params dict with its derived entries (see the module docstring): what policies read."""
    return {**params, **derived(params)}
