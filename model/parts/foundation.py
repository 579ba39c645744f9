"""The foundation as an agent with a USD budget, and the app's health (issue 21, item 2).

Evidence (../shared/observed/observed.csv): all paid staff left on 2026-04-09 (day 323); the app
needs about $1M a year to operate (medium trust); about $65,000 was donated by 2026-04-09 and
about $192,000 by about 2026-06-01, some 75 days after the appeal of mid-March 2026 (low trust);
work went on with a 1-3 person team; a shutdown on 2026-07-08 (day 413) was announced and then
averted ("runway restored", low trust).

Each day, after the lockups have released (the block runs after `vesting`, before `spend`):
1. the foundation receives the SESH it controls that unlocked today and was not sold at the
   unlock: treasury operations (lockup D) and, with `foundation_holdings` =
   "treasury_ops_and_ecosystem", the ecosystem fund (lockup B); its holdings start with the
   6,000,000 treasury (and 13,000,000 ecosystem) SESH circulating at TGE. `foundation_sesh` is a
   sub-ledger of `circulating` that never trades except by the foundation's own sales (so it is
   not in `model.utils.liquid_wallets`), which keeps the 240M identity without a new stock;
2. the treasury-operations share of today's unlock sales (ASSUMPTIONS V2) pays into its cash at
   the opening price: those sales are the foundation's;
3. donations arrive at `foundation_donations_usd_per_day` for `foundation_appeal_days` from
   `foundation_appeal_day`, then at `foundation_donations_after_usd_per_day`;
4. when its cash is below `foundation_runway_days` of the day's cost it sells
   `foundation_sell_share_per_day` of its holdings at the opening price (never more than it
   holds); the sale enters the day's net flow like every other sale;
5. it pays the day's cost: the full operating cost until the first day it cannot, then the
   reduced cost for good (the cut: paid staff out, a small team goes on). Cash never goes below 0;
6. the day's cost paid in full keeps development going. The share left unpaid is the share of
   development that stops: `app_health` (1 while funded) falls by `app_health_decay_per_day`
   x that share a day, and never recovers in the model (users who left are not won back).
From `foundation_failure_day` (0: never) development stops whatever the money: the foundation
pays nothing, makes no runway sales and receives no donations (the funds of a failed appeal go
elsewhere, as the appeal said); the proceeds of its unlocks' sales (which the vesting block makes
whatever the foundation's state) still land in its cash, kept unspent.

`app_health` multiplies the USD spent on Pro and names (`model.parts.spending`) and raises the
nodes' hurdles by `app_failure_hurdle_premium` x (1 - app_health) (`model.parts.staking`).
"""

from __future__ import annotations

import numpy as np

from model.constants import LOCKUP_GROUPS, VESTING_WINDOWS
from model.parts.vesting import vested_fraction
from model.types import Number, Params, State
from model.utils import today

# Unlocked at TGE: 6M treasury + 13M ecosystem of the 79M circulating (DOCS genesis-tokenomics.md,
# observed.csv 2025-05-21 circulating_sesh note).
TREASURY_AT_TGE = 6_000_000.0
ECOSYSTEM_AT_TGE = 13_000_000.0
TREASURY_OPS_LOCKED = LOCKUP_GROUPS["d"]["treasury_ops"]
ECOSYSTEM_LOCKED = LOCKUP_GROUPS["b"]["ecosystem"]


def includes_ecosystem(params):
    """Whether the foundation may sell the ecosystem fund too (per trajectory)."""
    return np.asarray(params["foundation_holdings"]) == "treasury_ops_and_ecosystem"


def holdings_at_tge(params):
    """The SESH the foundation controls at TGE."""
    return TREASURY_AT_TGE + np.where(includes_ecosystem(params), ECOSYSTEM_AT_TGE, 0.0)


def released_on(day: int, lockup: str) -> float:
    """Share of a lockup class's genesis amount that `day` releases (the vesting schedule)."""
    start, end = VESTING_WINDOWS[lockup]
    return float(vested_fraction(day, start, end) - vested_fraction(day - 1, start, end))


def day_cost(params, cut):
    """The day's operating cost: full until the cut, reduced after it."""
    return np.where(
        cut > 0.0,
        params["foundation_reduced_cost_usd_per_day"],
        params["foundation_cost_usd_per_day"],
    )


def decayed_health(health, unfunded_share, decay):
    """App health after a day with `unfunded_share` of development unpaid."""
    return health * (1.0 - decay * unfunded_share)


def policy_foundation(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the foundation's receipts, donations, SESH sales, cost paid and the app's health."""
    s = previous_state
    day = today(s)  # the vesting block has moved the day on: this is today
    price = np.maximum(s["price_usd"], 1e-300)  # the opening price
    failed = (params["foundation_failure_day"] > 0) & (s["day"] >= params["foundation_failure_day"])
    active = np.logical_not(failed)
    # 1-2. today's unlocks: what the foundation keeps, and its unlock sales' proceeds
    ops = TREASURY_OPS_LOCKED * released_on(day, "d")
    eco = ECOSYSTEM_LOCKED * released_on(day, "b")
    ops_sold = ops * params["unlock_sell_share_treasury_ops"]
    received = (ops - ops_sold) + np.where(
        includes_ecosystem(params), eco * (1.0 - params["unlock_sell_share_ecosystem"]), 0.0
    )
    held = s["foundation_sesh"] + received
    # 3. donations
    since_appeal = s["day"] - params["foundation_appeal_day"]
    rate = np.where(
        since_appeal < params["foundation_appeal_days"],
        params["foundation_donations_usd_per_day"],
        params["foundation_donations_after_usd_per_day"],
    )
    donations = np.where(active & (since_appeal >= 0), rate, 0.0)
    # its unlocks' sales are its own, failed or not: their USD is always its cash (a failed
    # foundation spends nothing, so it is kept); the ecosystem's too when it holds that fund
    eco_sold = np.where(
        includes_ecosystem(params), eco * params["unlock_sell_share_ecosystem"], 0.0
    )
    cash = s["foundation_cash_usd"] + (ops_sold + eco_sold) * price + donations
    # 4. sales when the runway is short (at the cost it pays now)
    short = cash < params["foundation_runway_days"] * day_cost(params, s["foundation_cost_cut"])
    sold = np.where(active & short, params["foundation_sell_share_per_day"] * held, 0.0)
    cash = cash + sold * price
    # 5. the cut, for good, on the first day the full cost cannot be paid
    cut = np.where(
        active & (cash < params["foundation_cost_usd_per_day"]), 1.0, s["foundation_cost_cut"]
    )
    cost = day_cost(params, cut)
    paid = np.where(active, np.minimum(cost, cash), 0.0)
    # 6. development runs on what is paid
    funded = np.where(active, np.where(cost > 0.0, paid / np.maximum(cost, 1e-300), 1.0), 0.0)
    health = decayed_health(s["app_health"], 1.0 - funded, params["app_health_decay_per_day"])
    return {
        "foundation_cash_usd": cash - paid,
        "foundation_sesh": held - sold,
        "foundation_cost_cut": cut,
        "foundation_funded_share": funded,
        "app_health": health,
        "daily_foundation_sold": sold,
        "d_daily_net_flow": -sold,
        "d_cum_sold": sold,
    }
