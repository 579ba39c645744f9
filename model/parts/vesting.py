"""Lockup releases (classes A, B, D, F) and the selling of part of what unlocks, per holder group.

Releases follow DOCS genesis-tokenomics.md: A at month 24 (a cliff, as TokenVestingStaking
releases everything at `end`), B linear over months 13-24, D linear over months 13-36, F at day 90.
Tokens of the stakable classes A and F that sit in nodes stay staked when they unlock: they only
stop counting as locked stake. Each holder group (strategic sale, ecosystem, treasury operations,
contributors; F§1) sells its own share of what it receives; the treasury node fund never sells
and goes to `node_fund_reserve`, a sub-ledger of `circulating` that only treasury nodes draw on.

The class A cliff is a public, dated unlock, so its strategic holders sell its share over a window
instead of on the day (`cliff_sale`): `cliff_presell_share` of the sale spread evenly over the
days from `cliff_sell_start_day` to the day before the cliff, sold from SESH they already hold
(their retained class B releases: never more than those, nor than liquid wallets), and the rest
spread evenly over the days from the cliff to `cliff_sell_end_day`, from the released tokens. The total equals the
one-day sale; `cliff_sold` keeps the running sum (a memo: a sale moves no stock, only the day's
net flow). Linear releases (B, D) and the small F cliff sell on the day they release.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from model.constants import (
    LOCKUP_A_STRATEGIC,
    LOCKUP_B,
    LOCKUP_GROUPS,
    STAKABLE_LOCKUPS,
    VESTING_WINDOWS,
)
from model.types import Number, Params, State
from model.utils import clip, liquid_wallets, today


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


# The class A cliff: the day its whole balance releases (TokenVestingStaking `end`).
CLIFF_DAY = VESTING_WINDOWS["a"][1]
# The strategic sale's share of class B: what its holders receive before the cliff.
STRATEGIC_SHARE_OF_B = LOCKUP_GROUPS["b"]["strategic"] / LOCKUP_B


class CliffPlan(NamedTuple):
    """The class A cliff's selling window, worked out once per run (`cliff_plan`)."""

    first: int  # first day some trajectory sells (a branch on the parameters)
    last: int  # last day some trajectory sells
    start: Number  # each trajectory's first selling day (`cliff_sell_start_day`)
    end: Number  # and last (`cliff_sell_end_day`)
    total: Number  # SESH sold in all: the strategic holders' sell share of their part of A
    presale_per_day: Number  # the even daily sale ahead of the cliff, before the wallet cap


def cliff_plan(params) -> CliffPlan:
    """The class A cliff's selling window from the parameters."""
    start = np.asarray(params["cliff_sell_start_day"])
    end = np.asarray(params["cliff_sell_end_day"])
    total = LOCKUP_A_STRATEGIC * np.asarray(params["unlock_sell_share_strategic"], dtype=float)
    ahead_days = np.maximum(CLIFF_DAY - start, 1)
    return CliffPlan(
        first=int(np.min(start)),
        last=int(np.max(end)),
        start=start,
        end=end,
        total=total,
        presale_per_day=total * params["cliff_presell_share"] / ahead_days,
    )


def cliff_sale(params, s, day: int):
    """The class A cliff's sale on `day` (0 outside the window), from the state at its start."""
    plan = params["cliff_plan"]
    sold = s["cliff_sold"]
    # Ahead of the cliff: an even share of the presale, from what the holders already hold:
    # their class B releases up to yesterday that they kept, less what they have presold.
    kept_b = (LOCKUP_B - s["locked_b"]) * STRATEGIC_SHARE_OF_B
    held = kept_b * (1.0 - params["unlock_sell_share_strategic"]) - sold
    presale = np.minimum(plan.presale_per_day, np.maximum(np.minimum(held, liquid_wallets(s)), 0.0))
    ahead = (day >= plan.start) & (day < CLIFF_DAY)
    # From the cliff on: what is left, spread evenly over the days left in the window.
    behind = (day >= CLIFF_DAY) & (day <= plan.end)
    rest = np.maximum(plan.total - sold, 0.0) / np.maximum(plan.end - day + 1, 1)
    return np.where(ahead, presale, np.where(behind, rest, 0.0))


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
            # the strategic part's sale is spread around the cliff (`cliff_sale`)
        else:
            sold = sold + from_wallet_lock * shares[cls]
        if cls in STAKABLE_LOCKUPS:
            freed = s[f"locked_staked_{cls}"] * share
            signal[f"d_locked_staked_{cls}"] = -freed
            unlocked_stake = unlocked_stake + freed
    plan = params["cliff_plan"]
    if plan.first <= today(s) + 1 <= plan.last:
        from_cliff = cliff_sale(params, s, today(s) + 1)
        sold = sold + from_cliff
    else:
        from_cliff = s["cliff_sold"] * 0.0
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
        d_cliff_sold=from_cliff,
    )
    return signal
