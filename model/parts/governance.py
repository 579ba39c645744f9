"""Governance levers as state, and a rule that moves one of them (issue 21, item 6).

The contracts' owner may change the staking requirement (`setStakingRequirement`) and the
network claim cap (`claimThreshold`) of ServiceNodeRewards (facts F§2, F§3); the payout rate is a
constant of RewardRatePool (F§2), so changing it takes a new pool contract, which the owner of the
rewards contract may also point to. The model keeps the three as state variables
(`gov_staking_requirement`, `gov_claim_cap_per_day`, `gov_pool_payout_rate`), starting at the
parameters of the same names, so with no rule the run is the one the parameters describe. The
mechanisms read the state: emissions the payout rate, rewards the claim cap, staking (and the
metrics) the requirement, through `governed`.

The rule (off by default, `gov_rule_on`): when the active nodes at the end of the day stay below
`gov_node_level` for `gov_node_days` consecutive days, the requirement is lowered by
`gov_requirement_step`, never below `gov_requirement_floor`, and the count starts again. A change
of the requirement applies to every node at once, as re-registration at the new size would: each
node's stake above the new requirement is released (ASSUMPTIONS L1): treasury nodes' excess back
to the locked node fund (while lockup A holds it) or the node-fund reserve, other nodes' excess
into the 15-day unlock queue like any returned stake. So `staked` stays nodes x requirement and
the 240M identity holds (stake moves between stocks only). Raising the requirement is not a rule
here (it would need every node to top up or leave).

Element-wise numpy throughout; the one branch is on the parameters (no trajectory has the rule on:
nothing to work out).
"""

from __future__ import annotations

from collections import ChainMap

import numpy as np

from model.types import Number, Params, State

LEVERS = ("gov_staking_requirement", "gov_claim_cap_per_day", "gov_pool_payout_rate")


def governed(params: Params, state: State) -> Params:
    """`params` with the levers' current values (state) in place of the parameters, and the
    derived entries that depend on the staking requirement worked out again."""
    req = state["gov_staking_requirement"]
    ratio = req / params["staking_requirement"]  # exactly 1 while the lever is the parameter
    # an overlay, not a copy: every other key is read from `params` itself
    return ChainMap(
        {
            "staking_requirement": req,
            "claim_cap_per_day": state["gov_claim_cap_per_day"],
            "pool_payout_rate": state["gov_pool_payout_rate"],
            # the derived entries proportional to the requirement (`model.derived.derived`)
            "stake_from_holdings_per_node": params["stake_from_holdings_per_node"] * ratio,
            "operator_stake": params["operator_stake"] * ratio,
        },
        params,
    )


def low_node_days(counter, nodes, level):
    """Consecutive days with active nodes below `level`, counting today's closing count."""
    return np.where(nodes < level, counter + 1.0, 0.0)


def requirement_cut(requirement, counter, rule_on, days, step, floor):
    """How much the rule lowers the requirement today (0 unless it fires)."""
    room = np.maximum(requirement - floor, 0.0)
    return np.where(rule_on & (counter >= days), np.minimum(step, room), 0.0)


def released_stake(state: State, cut):
    """Where each node's stake above the lowered requirement goes: (to locked lockup A, to the
    node-fund reserve, into the unlock queue), for a requirement lowered by `cut`."""
    treasury = state["treasury_nodes"] * cut
    to_locked = np.minimum(treasury, state["locked_staked_a"])
    to_reserve = treasury - to_locked
    others = np.maximum(state["nodes"] - state["treasury_nodes"], 0.0) * cut
    # locked lockup F stake cannot leave its nodes: what the others keep covers it
    kept = state["staked"] - state["treasury_nodes"] * state["gov_staking_requirement"]
    to_queue = np.minimum(others, np.maximum(kept - state["locked_staked_f"], 0.0))
    return to_locked, to_reserve, to_queue


# The signals of a day the rule does not run in any trajectory: the levers keep their values.
NO_RELEASE = dict.fromkeys(
    (
        "d_staked",
        "d_locked_a",
        "d_locked_staked_a",
        "d_vesting_locked",
        "d_circulating",
        "d_node_fund_reserve",
        "d_unstake_queue",
        "d_unstaking",
    ),
    0.0,
)


def policy_governance(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the day's lever values: the requirement rule, and the stake a lowered one frees."""
    s = previous_state
    signal = {name: s[name] for name in LEVERS}
    if not np.any(params["gov_rule_on"]):  # a branch on the parameters: no lever moves
        return {**signal, "gov_low_node_days": s["gov_low_node_days"], **NO_RELEASE}
    counter = np.where(
        params["gov_rule_on"],
        low_node_days(s["gov_low_node_days"], s["nodes"], params["gov_node_level"]),
        0.0,
    )
    cut = requirement_cut(
        s["gov_staking_requirement"],
        counter,
        params["gov_rule_on"],
        params["gov_node_days"],
        params["gov_requirement_step"],
        params["gov_requirement_floor"],
    )
    to_locked, to_reserve, to_queue = released_stake(s, cut)
    entering = np.zeros_like(s["unstake_queue"])  # a new array: the state's is never written
    entering[..., -1] = to_queue
    freed = to_locked + to_reserve + to_queue
    signal.update(
        gov_staking_requirement=s["gov_staking_requirement"] - cut,
        gov_low_node_days=np.where(cut > 0.0, 0.0, counter),
        d_staked=-freed,
        d_locked_a=to_locked,
        d_locked_staked_a=-to_locked,
        d_vesting_locked=to_locked,
        d_circulating=to_reserve,
        d_node_fund_reserve=to_reserve,
        d_unstake_queue=entering,
        d_unstaking=to_queue,
    )
    return signal
