"""Helpers that make most state-update functions one line.

Policies return signals: `d_<variable>` is a change to add (cadCAD sums the signals of the
policies in one block, so several policies may move the same stock), and `<variable>` is a new
value to set (one policy per block emits it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from model.constants import MAX_SUPPLY
from model.types import SESH, Number, Params, State

StateUpdate = Callable[[Params, int, list, State, dict[str, Number]], tuple[str, Number]]


def add_delta(variable: str) -> StateUpdate:
    """State update: variable += signal['d_<variable>']."""
    key = "d_" + variable

    def update(
        params: Params,
        substep: int,
        state_history: list,
        previous_state: State,
        policy_input: dict[str, Number],
    ) -> tuple[str, Number]:
        return variable, previous_state[variable] + policy_input[key]

    update.__name__ = update.__qualname__ = f"add_{variable}"
    update.adds = (variable, key)  # what it does, for engines that apply it without the call
    return update


def set_value(variable: str) -> StateUpdate:
    """State update: variable = signal['<variable>']."""

    def update(
        params: Params,
        substep: int,
        state_history: list,
        previous_state: State,
        policy_input: dict[str, Number],
    ) -> tuple[str, Number]:
        return variable, policy_input[variable]

    update.__name__ = update.__qualname__ = f"set_{variable}"
    update.sets = variable  # what it does, for engines that apply it without the call
    return update


def summed(*signals: dict[str, Number]) -> dict[str, Number]:
    """Signals of several decisions as one: values of a key present in more than one are added
    in order (what cadCAD's default `policy_ops` does with a block's policies)."""
    total: dict[str, Number] = {}
    for signal in signals:
        for key, value in signal.items():
            total[key] = total[key] + value if key in total else value
    return total


def clip(values, low, high):
    """`numpy.clip` for arrays or scalars, as two ufunc calls: the same values (NaN stays NaN),
    without `np.clip`'s per-call dispatch, which costs several times the arithmetic on the small
    arrays the model steps."""
    return np.minimum(np.maximum(values, low), high)


def today(state: State) -> int:
    """The state's day as an int: every trajectory stepped together is on the same day."""
    day = state["day"]
    return int(day[0]) if type(day) is np.ndarray and day.ndim else int(day)


def on_stress_day(params: Params, state: State, value, otherwise):
    """`value` for the trajectories on their stress day, `otherwise` for the rest; None on a day
    no trajectory has its stress event (a branch on the parameters and the day: skip the work)."""
    if today(state) not in params["stress_days"]:
        return None
    return np.where(state["day"] == params["stress_day"], value, otherwise)


def market_circulating_supply(state: State) -> SESH:
    """Circulating supply as markets count it: max supply less locked tokens and the pool.

    At TGE this is the genesis table's 79,000,000. It counts every token not under a lockup and
    not in the Staking Reward Pool: wallets, unlocked stake, the unstaking queue, unclaimed
    rewards and both sides' SESH in the AMM (protocol-owned liquidity included).
    """
    locked = state["vesting_locked"] + state["locked_staked_a"] + state["locked_staked_f"]
    return MAX_SUPPLY - locked - state["reward_pool"]


def liquid_wallets(state: State) -> SESH:
    """SESH in wallets that traders can buy or sell: less rewards saved to restake and the
    treasury's node-fund reserve and the foundation's SESH (sub-ledgers of `circulating` that
    never trade; the foundation sells its own, `model.parts.foundation`)."""
    return np.maximum(
        state["circulating"]
        - state["restake_pending"]
        - state["node_fund_reserve"]
        - state["foundation_sesh"],
        0.0,
    )
