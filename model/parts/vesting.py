"""Lockup releases (classes A, B, D, F) and the selling of part of what unlocks.

Releases follow DOCS genesis-tokenomics.md: A at month 24 (a cliff, as TokenVestingStaking
releases everything at `end`), B linear over months 13-24, D linear over months 13-36, F at day 90.
Tokens of the stakable classes A and F that sit in nodes stay staked when they unlock: they only
stop counting as locked stake.
"""

from __future__ import annotations

import numpy as np

from model.constants import STAKABLE_LOCKUPS, VESTING_WINDOWS
from model.parts.amm import swap
from model.types import Number, Params, State


def vested_fraction(day, start_day, end_day):
    """Share of a lockup released by the end of `day` for a linear release over (start, end]."""
    return np.clip((day - start_day) / (end_day - start_day), 0.0, 1.0)


def release_share(day, start_day, end_day):
    """Share of what is still locked at the start of `day` that the day releases."""
    before = vested_fraction(day - 1, start_day, end_day)
    now = vested_fraction(day, start_day, end_day)
    return np.where(before < 1.0, (now - before) / np.maximum(1.0 - before, 1e-300), 0.0)


def policy_vesting(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide what each lockup releases today (the day advances) and how much is sold."""
    day = previous_state["day"] + 1
    signal = {}
    released = 0.0
    unlocked_stake = 0.0
    still_locked = 0.0
    for cls, (start, end) in VESTING_WINDOWS.items():
        share = release_share(day, start, end)
        from_wallet_lock = previous_state[f"locked_{cls}"] * share
        signal[f"d_locked_{cls}"] = -from_wallet_lock
        still_locked = still_locked + (previous_state[f"locked_{cls}"] - from_wallet_lock)
        released = released + from_wallet_lock
        if cls in STAKABLE_LOCKUPS:
            freed = previous_state[f"locked_staked_{cls}"] * share
            signal[f"d_locked_staked_{cls}"] = -freed
            unlocked_stake = unlocked_stake + freed
    sold = released * params["unlock_sell_share"]
    amm_sesh, amm_quote, quote_out = swap(
        previous_state["amm_sesh"], previous_state["amm_quote"], sold, params["amm_fee"]
    )
    signal.update(
        day=day,
        vesting_locked=still_locked,
        d_circulating=released - sold,
        d_amm_sesh=amm_sesh - previous_state["amm_sesh"],
        d_amm_quote=amm_quote - previous_state["amm_quote"],
        d_cum_unlocked=released + unlocked_stake,
        d_cum_sold=sold,
    )
    return signal
