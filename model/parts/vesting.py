"""Lockup releases (classes A, B, D, F) and the selling of part of what unlocks, per holder group.

Releases follow DOCS genesis-tokenomics.md: A at month 24 (a cliff, as TokenVestingStaking
releases everything at `end`), B linear over months 13-24, D linear over months 13-36, F at day 90.
Tokens of the stakable classes A and F that sit in nodes stay staked when they unlock: they only
stop counting as locked stake. Each holder group (strategic sale, ecosystem, treasury operations,
contributors; F§1) sells its own share of what it receives; the treasury node fund never sells
and goes to `node_fund_reserve`, a sub-ledger of `circulating` that only treasury nodes draw on.
"""

from __future__ import annotations

import numpy as np

from model.constants import LOCKUP_A_STRATEGIC, LOCKUP_GROUPS, STAKABLE_LOCKUPS, VESTING_WINDOWS
from model.types import Number, Params, State
from model.utils import clip, today


def vested_fraction(day, start_day, end_day):
    """Share of a lockup released by the end of `day` for a linear release over (start, end]."""
    return clip((day - start_day) / (end_day - start_day), 0.0, 1.0)


def release_share(day, start_day, end_day):
    """Share of what is still locked at the start of `day` that the day releases."""
    before = vested_fraction(day - 1, start_day, end_day)
    now = vested_fraction(day, start_day, end_day)
    return np.where(before < 1.0, (now - before) / np.maximum(1.0 - before, 1e-300), 0.0)


def release_schedule(last_day: int) -> list[dict[str, float]]:
    """Each lockup class's `release_share` on every day 0..last_day, worked out at once."""
    days = np.arange(last_day + 1)
    shares = {cls: release_share(days, *window) for cls, window in VESTING_WINDOWS.items()}
    return [{cls: float(shares[cls][day]) for cls in shares} for day in days]


# The windows are constants, so what each class releases depends on the day alone: the schedule
# is worked out once, and after the last window nothing is released.
LAST_RELEASE_DAY = max(end for _, end in VESTING_WINDOWS.values())
RELEASE_SCHEDULE = release_schedule(LAST_RELEASE_DAY + 1)


def release_shares_on(day: int) -> dict[str, float]:
    """Each lockup class's `release_share` on `day` (from the schedule)."""
    return RELEASE_SCHEDULE[min(day, LAST_RELEASE_DAY + 1)]


def unlock_sell_shares(params):
    """Share of each lockup class's release that is sold: its groups' sell shares, weighted.

    Every group of a class releases the same share of its balance, so the weights of B, D and F
    are the genesis table's. Class A's node fund never sells (it funds treasury nodes, F§1); its
    strategic part's weight is applied to the day's release in `policy_vesting`.
    """
    by_group = {
        "strategic": params["unlock_sell_share_strategic"],
        "ecosystem": params["unlock_sell_share_ecosystem"],
        "testnet": params["unlock_sell_share_ecosystem"],
        "treasury_ops": params["unlock_sell_share_treasury_ops"],
        "contributors": params["unlock_sell_share_contributors"],
        "advisors": params["unlock_sell_share_contributors"],
        "node_fund": 0.0,
    }
    shares = {}
    for cls in ("b", "d", "f"):
        groups = LOCKUP_GROUPS[cls]
        total = sum(groups.values())
        shares[cls] = sum(amount / total * by_group[g] for g, amount in groups.items())
    return shares


def node_fund_locked(locked_a):
    """The treasury node fund's part of lockup A's unstaked balance (the rest is strategic)."""
    return np.maximum(locked_a - LOCKUP_A_STRATEGIC, 0.0)


def policy_vesting(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide what each lockup releases today (the day advances) and what each group sells."""
    s = previous_state
    day = s["day"] + 1
    release = release_shares_on(today(s) + 1)
    signal = {}
    released = 0.0
    unlocked_stake = 0.0
    still_locked = 0.0
    sold = 0.0
    to_reserve = 0.0
    shares = params["unlock_sell_share_by_class"]  # `unlock_sell_shares`, once per run
    for cls, share in release.items():
        if not share:  # nothing of this class unlocks today (most days): nothing moves
            still_locked = still_locked + s[f"locked_{cls}"]
            signal[f"d_locked_{cls}"] = 0.0
            if cls in STAKABLE_LOCKUPS:
                signal[f"d_locked_staked_{cls}"] = 0.0
            continue
        from_wallet_lock = s[f"locked_{cls}"] * share
        signal[f"d_locked_{cls}"] = -from_wallet_lock
        still_locked = still_locked + (s[f"locked_{cls}"] - from_wallet_lock)
        released = released + from_wallet_lock
        if cls == "a":
            fund = node_fund_locked(s["locked_a"]) * share
            to_reserve = to_reserve + fund
            sold = sold + (from_wallet_lock - fund) * params["unlock_sell_share_strategic"]
        else:
            sold = sold + from_wallet_lock * shares[cls]
        if cls in STAKABLE_LOCKUPS:
            freed = s[f"locked_staked_{cls}"] * share
            signal[f"d_locked_staked_{cls}"] = -freed
            unlocked_stake = unlocked_stake + freed
    # Sales settle at the opening price with the rest of the market (wallets) as counterparty:
    # the stock moves locked -> circulating, and the sale enters the day's net flow.
    signal.update(
        day=day,
        vesting_locked=still_locked,
        d_circulating=released,
        d_node_fund_reserve=to_reserve,
        daily_net_flow=-sold,
        daily_unmet_trade=released * 0.0,
        d_cum_unlocked=released + unlocked_stake,
        d_cum_sold=sold,
    )
    return signal
