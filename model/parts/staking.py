"""Yield-driven staking and unstaking in whole nodes, treasury nodes, liquidations, the unlock.

Operators differ. Each has a running cost (USD a year) and a hurdle (a net USD yield it wants on
its stake); a node's gross SESH APR at the opening price covers operator i when
apr_sesh >= cost_i / stake value + hurdle_i. Costs are log-normal around `node_opex_usd_per_month`
(log spread `node_opex_spread`), hurdles normal around the entry / exit hurdles (spread
`entry_hurdle_spread`). Cost and hurdle are taken comonotone (one operator "type" z, standard
normal: cost = median x exp(spread x z), hurdle = centre + spread x z), so operators are ordered
the same way at every price, and the operator at rank share q has z = Phi^-1(q) in closed form
(`required_apr`): no per-operator objects, a few array operations a day.

Two cohorts. Migrated nodes (the non-treasury nodes at TGE: Oxen operators automatically restaked
at the swap) only leave; their exit hurdles are centred `migrated_hurdle_offset` from the exit
hurdle with their own spread `migrated_hurdle_spread` and costs x `migrated_opex_factor`: they did
not choose to enter at SESH yields, so the cohort was not screened by them. The ones with the
highest thresholds leave first; the last one still running leaves when its threshold exceeds the
yield. New entrants come from a pool of `entrant_pool_nodes` potential operators who must stake
SESH: the next one enters when the yield beats its entry threshold, and an entrant leaves below
its exit threshold (its entry threshold less the band entry - exit hurdle). So the network follows
a supply curve (`supply_curve`: the nodes whose thresholds are covered at a yield), at the old
rates: the expected flow is linear in the marginal operator's yield gap, capped at
`max_entry_rate` / `max_exit_rate` of the network a day (reached at a gap of `yield_sensitivity`),
and never more than the operators on the wrong side of their threshold. With zero spreads every
operator has the same thresholds and the old rule comes back. All hurdles move with one daily
noise.

Expected counts become whole nodes by stochastic rounding (floor(x + u), u uniform), which is
unbiased. New stake comes first from rewards saved for restaking; of the other entrants
`stake_buy_share` buy their stake on the market (it enters the day's net flow), the rest stake
wallet holdings above the share holders keep liquid. The treasury keeps `treasury_node_share` of
the nodes from its node fund (locked lockup A first, then its unlocked reserve), whatever the
yield, and never exits for yield; it stops nodes only to stay within its share. Exits wait
UNLOCK_DAYS = 15 days (OXEND UNLOCK_DURATION) in the unstaking queue. Liquidated nodes lose 0.03%
to the liquidator and 0.17% to the pool; 99.80% goes back through the queue (ServiceNodeRewards.sol
liquidation ratios 3:17:9980). Stake from lockup F cannot leave while locked.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

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


# Operators are ranked by share q in (0, 1); the extreme ranks are held to these shares so that
# z = Phi^-1(q) stays finite (|z| <= 3.72) and a zero spread times z is zero.
RANK_SHARE_MIN = 1e-4


def operator_z(rank_share):
    """The operator type z (standard normal) of the operator at rank share `rank_share`."""
    return ndtri(clip(rank_share, RANK_SHARE_MIN, 1.0 - RANK_SHARE_MIN))


def required_apr(z, opex_usd_per_year, opex_spread, hurdle, hurdle_spread, stake_value):
    """The gross SESH APR operator type z needs: its cost over the stake value plus its hurdle.

    Cost is log-normal (median `opex_usd_per_year`, log spread `opex_spread`), the hurdle normal
    (centre `hurdle`, spread `hurdle_spread`), both increasing in z (comonotone).
    """
    return opex_usd_per_year * np.exp(opex_spread * z) / stake_value + hurdle + hurdle_spread * z


def stake_value_open(params, state):
    """USD value of one node's stake at the opening price."""
    return params["staking_requirement"] * np.maximum(state["price_usd"], 1e-12)


def apr_sesh_open(params, state):
    """A node's SESH APR at the opening reward (what entrants and incumbents see)."""
    # With no nodes nothing is paid today; a first node would earn the pool rule alone.
    first_node = daily_payout(state["reward_pool"], params["pool_payout_rate"])
    node_reward = np.where(state["nodes"] > 0, state["reward_per_node"], first_node)
    return node_reward * DAYS_PER_YEAR / params["staking_requirement"]


def net_apr_open(params, state):
    """The median-cost node's net APR in USD terms at the opening price."""
    return apr_sesh_open(params, state) - params["node_opex_usd_per_year"] / stake_value_open(
        params, state
    )


def cohorts(state):
    """(migrated, entrant) nodes running: the non-treasury nodes split by where they came from."""
    others = np.maximum(state["nodes"] - state["treasury_nodes"], 0.0)
    migrated = np.minimum(np.maximum(state["migrated_nodes"], 0.0), others)
    return migrated, others - migrated


class Gaps(NamedTuple):
    """Yield gaps of the marginal operators, in APR: positive means that operator moves."""

    entry: Number  # the next entrant's: yield over its entry threshold
    exit_migrated: Number  # the last migrated node still running: its threshold over the yield
    exit_entrants: Number  # the last entrant still running: its exit threshold over the yield


def hurdle_gaps(params, state) -> Gaps:
    """The marginal operators' yield gaps (entry, and exit for each cohort).

    All thresholds move with the same daily noise; with zero spreads the entry gap is the net APR
    over the entry hurdle and both exit gaps the exit hurdle over the net APR, and between them
    (the hysteresis band) nodes neither join nor leave.
    """
    apr = apr_sesh_open(params, state)
    value = stake_value_open(params, state)
    noise = params["hurdle_noise"] * shock(params, state, "hurdle_shock")
    noise = noise + params["app_failure_hurdle_premium"] * (1.0 - state["app_health"])  # issue 21
    migrated, entrants = cohorts(state)
    pool = np.maximum(params["entrant_pool_nodes"], 1e-9)
    spread = params["node_opex_spread"]
    opex = params["node_opex_usd_per_year"]
    h_spread = params["entry_hurdle_spread"]
    z_next = operator_z((entrants + 0.5) / pool)
    z_last = operator_z((entrants - 0.5) / pool)
    z_migrated = operator_z((migrated - 0.5) / np.maximum(params["migrated_nodes_at_tge"], 1e-9))
    entry_hurdle = params["node_entry_hurdle_apr"] + noise
    exit_hurdle = params["node_exit_hurdle_apr"] + noise
    return Gaps(
        entry=apr - required_apr(z_next, opex, spread, entry_hurdle, h_spread, value),
        exit_migrated=required_apr(
            z_migrated,
            params["migrated_opex_usd_per_year"],
            spread,
            exit_hurdle + params["migrated_hurdle_offset"],
            params["migrated_hurdle_spread"],
            value,
        )
        - apr,
        exit_entrants=required_apr(z_last, opex, spread, exit_hurdle, h_spread, value) - apr,
    )


def covered_share(apr_sesh, stake_value, opex_usd_per_year, opex_spread, hurdle, hurdle_spread):
    """Share of a cohort whose threshold the gross APR covers (on a fine grid of types)."""
    z = operator_z((np.arange(SUPPLY_GRID) + 0.5) / SUPPLY_GRID)
    need = required_apr(
        z,
        np.asarray(opex_usd_per_year)[..., None],
        np.asarray(opex_spread)[..., None],
        np.asarray(hurdle)[..., None],
        np.asarray(hurdle_spread)[..., None],
        np.asarray(stake_value)[..., None],
    )
    return np.mean(need <= np.asarray(apr_sesh)[..., None], axis=-1)


SUPPLY_GRID = 2000  # operator types on the supply curve's grid (steps of 1/2000 of a cohort)


def supply_curve(params, apr_sesh, price_usd, entering=True):
    """Non-treasury nodes whose thresholds a gross SESH APR covers at a price: the migrated
    cohort still running plus the entrants in (`entering`: at their entry thresholds; otherwise
    at their exit thresholds, where incumbents stay). Noise not included. For reading and tests:
    the daily rule moves nodes towards it at the marginal operators' gaps."""
    value = params["staking_requirement"] * np.maximum(price_usd, 1e-12)
    spread = params["node_opex_spread"]
    migrated = params["migrated_nodes_at_tge"] * covered_share(
        apr_sesh,
        value,
        params["migrated_opex_usd_per_year"],
        spread,
        params["node_exit_hurdle_apr"] + params["migrated_hurdle_offset"],
        params["migrated_hurdle_spread"],
    )
    hurdle = params["node_entry_hurdle_apr"] if entering else params["node_exit_hurdle_apr"]
    entrants = params["entrant_pool_nodes"] * covered_share(
        apr_sesh,
        value,
        params["node_opex_usd_per_year"],
        spread,
        hurdle,
        params["entry_hurdle_spread"],
    )
    return migrated + entrants


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
    """Decide the nodes that join and leave today, from the marginal operators' yield gaps."""
    params = governed(params, previous_state)  # issue 21: the levers (model.parts.governance)
    # one `hurdle_gaps` for both decisions; their signals summed as cadCAD sums a block's policies
    gaps = hurdle_gaps(params, previous_state)
    return summed(
        joining(params, previous_state, gaps.entry), leaving(params, previous_state, gaps)
    )


def joining(params: Params, s: State, entry_gap) -> dict[str, Number]:
    """The whole nodes that join today at the next entrant's `entry_gap` (from `hurdle_gaps`),
    from saved rewards, market buys and wallets. They join the entrant cohort."""
    req = params["staking_requirement"]
    # Entry scales with the network, but even a tiny one draws entrants as if it had
    # `entry_base_nodes`; never more than the potential entrants left outside.
    base = np.maximum(s["nodes"], params["entry_base_nodes"])
    _, entrants = cohorts(s)
    outside = np.maximum(params["entrant_pool_nodes"] - entrants, 0.0)
    expected = np.minimum(
        flow_intensity(entry_gap, params["yield_sensitivity"], params["max_entry_rate"], base),
        outside,
    )
    joiners = whole_nodes(expected, shock(params, s, "entry_draw"))
    liquid = liquid_wallets(s)
    # Of the entrants, `stake_buy_share` buy their stake on the market (from liquid wallets,
    # entering the net flow); the rest stake holdings above the share holders keep liquid.
    buy = params["stake_buy_share"]
    above_floor = np.maximum(
        liquid - params["liquid_float_floor"] * market_circulating_supply(s), 0.0
    )
    holder_cap = np.floor(above_floor / params["stake_from_holdings_per_node"] + 1e-9)
    joiners = np.minimum(joiners, np.minimum(holder_cap, np.floor(liquid / req + 1e-9)))
    # Saved rewards are staked only while the next entrant's threshold is beaten.
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


def split_whole(total, weight, first_cap, second_cap):
    """Split whole nodes `total` into (first, second): first ~ round(total x weight), each within
    its cap (total <= first_cap + second_cap)."""
    first = np.minimum(np.floor(total * weight + 0.5), first_cap)
    second = np.minimum(total - first, second_cap)
    return total - second, second


def leaving(params: Params, s: State, gaps: Gaps) -> dict[str, Number]:
    """The whole nodes that leave today at the marginal operators' exit gaps (`hurdle_gaps`) or
    are liquidated, into the unlock queue; each cohort loses its own."""
    req = params["staking_requirement"]
    nodes = np.maximum(s["nodes"] - s["treasury_nodes"], 0.0)
    leavable = free_nodes(s, req)
    migrated, entrants = cohorts(s)
    # Stake still under lockup F sits in migrated nodes (testnet stakers at TGE).
    entrants_free = np.minimum(entrants, leavable)
    migrated_free = leavable - entrants_free
    sensitivity, rate = params["yield_sensitivity"], params["max_exit_rate"]
    from_migrated = flow_intensity(gaps.exit_migrated, sensitivity, rate, migrated)
    from_entrants = flow_intensity(gaps.exit_entrants, sensitivity, rate, entrants)
    stressed = on_stress_day(params, s, params["stress_exit_share"], 0.0)
    if stressed is not None:
        from_migrated = from_migrated + stressed * migrated_free
        from_entrants = from_entrants + stressed * entrants_free
    expected = from_migrated + from_entrants
    leavers = np.minimum(whole_nodes(expected, shock(params, s, "exit_draw")), leavable)
    weight = from_migrated / np.maximum(expected, 1e-300)
    left_migrated, left_entrants = split_whole(leavers, weight, migrated_free, entrants_free)
    liquidated = np.minimum(
        whole_nodes(
            nodes * params["liquidation_rate"] / DAYS_PER_YEAR,
            shock(params, s, "liquidation_draw"),
        ),
        leavable - leavers,
    )
    # liquidations hit the cohorts in proportion to their nodes
    liquidated_migrated, _ = split_whole(
        liquidated,
        migrated / np.maximum(nodes, 1e-300),
        migrated_free - left_migrated,
        entrants_free - left_entrants,
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
        "d_migrated_nodes": -(left_migrated + liquidated_migrated),
        "d_unstake_queue": entering,
        "d_unstaking": returned,
        "d_circulating": liquidated_stake * LIQUIDATOR_SHARE,
        "d_reward_pool": to_pool,
        "d_daily_pool_inflow": to_pool,
        "d_cum_pool_inflow": to_pool,
        "daily_nodes_left": left,
    }
