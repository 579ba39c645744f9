"""Spending on Session Pro and Session names, and where the SESH it buys goes.

Pro is a fiat app-store subscription at the published plan prices (F§4), net of the store's
commission; whether its revenue buys SESH is the scenario switch `pro_revenue_route` ("none" as
the public facts stand, "pool" as the docs intend). Names (SNS) are paid on-chain once
`sns_deployed`. Demand is built from observable quantities: monthly users (a GBM from the launch
figure) x conversion (the Telegram Premium benchmark) x an adoption ramp since a launch day drawn
per run in a window after the evidence (ASSUMPTIONS D7-D11). Fees are priced in USD through
oracles (DOCS session-pro.md) and buy SESH against the consolidated depth (the AMM plus outside
venues, `model.parts.market.consolidated_depth`) at the price impact of their size, at most what
the sellers' wallets hold; the buy enters the day's net flow. Of what is bought,
`fee_pool_share` goes to the Staking Reward Pool and the rest
becomes protocol-owned liquidity (DOCS tokenomics/README.md), added by the zap rule in
`model.parts.amm.add_liquidity_single_sided`: swap just enough SESH for ETH that the remainder and
the proceeds match the pool's ratio, then deposit both. After `pol_review_day` the non-pool share
either stays POL ("keep"), goes to the pool too ("pool") or to the treasury's wallet ("treasury").
"""

from __future__ import annotations

import numpy as np

from model.constants import (
    PRO_PRICE_MONTHLY_USD,
    PRO_PRICE_QUARTERLY_USD,
    PRO_PRICE_YEARLY_USD,
)
from model.parts.amm import add_liquidity_single_sided
from model.parts.market import consolidated_depth
from model.stochastic import shock
from model.types import Number, Params, State
from model.utils import clip, liquid_wallets, today

# A guard, not economics: monthly users never pass the world's population (UN World Population
# Prospects 2024: about 8.2 billion), so a high trend over a long horizon stays finite.
WORLD_POPULATION = 8.2e9


def adoption_ramp(elapsed, early_days, early_share, full_days):
    """Share of the full level reached after `elapsed` days of sales (0 before the launch).

    Piecewise linear: from 0 to `early_share` over the first `early_days`, then to 1 at
    `full_days` (>= early_days), 1 after. Day 1 of sales is the launch day itself.
    """
    early = early_share * np.minimum(elapsed / np.maximum(early_days, 1e-9), 1.0)
    late_span = np.maximum(full_days - early_days, 1e-9)
    late = (1.0 - early_share) * clip((elapsed - early_days) / late_span, 0.0, 1.0)
    return np.where(elapsed > 0, early + late, 0.0)


def launch_day(draw, earliest, latest):
    """A whole launch day drawn uniformly in [earliest, latest] from a uniform draw in [0, 1)."""
    span = latest - earliest + 1
    return np.minimum(earliest + np.floor(draw * span), latest)


def monthly_users_today(params, s):
    """Monthly users after today's step: a GBM with its own log trend and noise, at most
    WORLD_POPULATION (a guard: a user count cannot pass the people there are)."""
    step = params["users_log_drift_per_day"] + params["users_volatility_per_day"] * shock(
        params, s, "users_shock"
    )
    return np.minimum(s["monthly_users"] * np.exp(step), WORLD_POPULATION)


def launch_days_today(params, s):
    """(Pro, names) launch days: drawn once per run on day 1 (every trajectory stepped together
    is on the same day, so this is a branch on the day), kept in the state after."""
    if today(s) != 1:
        return s["pro_launch_day_drawn"], s["sns_launch_day_drawn"]
    pro = launch_day(
        shock(params, s, "pro_launch_draw"),
        params["pro_launch_day_earliest"],
        params["pro_launch_day_latest"],
    )
    sns = launch_day(
        shock(params, s, "sns_launch_draw"),
        params["sns_launch_day_earliest"],
        params["sns_launch_day_latest"],
    )
    return pro * 1.0, sns * 1.0


def pro_subscribers(params, day, users, launch):
    """Pro subscribers: users x conversion x the adoption ramp since `launch` (0 before)."""
    ramp = adoption_ramp(
        day - launch + 1.0,
        params["pro_ramp_early_days"],
        params["pro_ramp_early_share"],
        params["pro_ramp_full_days"],
    )
    return users * params["pro_conversion"] * ramp


def sns_names(params, day, users, launch):
    """Registered names: users x names per user x a linear ramp since `launch` (0 before)."""
    days = params["sns_ramp_days"]
    ramp = adoption_ramp(day - launch + 1.0, days, 1.0, days)
    return users * params["sns_names_per_user"] * ramp


def pro_usd_per_subscriber_year(params):
    """Gross USD a Pro subscriber pays a year at the published prices and the plan mix."""
    monthly = params["pro_plan_share_monthly"]
    quarterly = params["pro_plan_share_quarterly"]
    yearly = np.maximum(1.0 - monthly - quarterly, 0.0)
    return (
        monthly * PRO_PRICE_MONTHLY_USD * 12.0
        + quarterly * PRO_PRICE_QUARTERLY_USD * 4.0
        + yearly * PRO_PRICE_YEARLY_USD
    )


def daily_spend_usd(params, day, users, launches, noise):
    """(subscribers, names, Pro USD net of store commission, SNS USD) spent that day, from the
    day's monthly users and the run's (Pro, names) launch days.

    `params` with its derived entries (`model.derived`): the Pro revenue per subscriber-day is
    worked out once per run."""
    pro_launch, sns_launch = launches
    subscribers = pro_subscribers(params, day, users, pro_launch)
    names = 0.0
    if params["any_sns_deployed"]:  # a branch on the parameters (names not yet deployed)
        names = np.where(params["sns_deployed"], sns_names(params, day, users, sns_launch), 0.0)
    # demand noise with mean 1: exp(sigma z - sigma^2 / 2)
    factor = np.exp(params["demand_volatility"] * noise - params["demand_mean_correction"])
    pro = subscribers * params["pro_net_usd_per_subscriber_day"] * factor
    # SNS is paid on-chain: no store commission
    sns = names * params["sns_usd_per_name_day"] * factor
    return subscribers, names, pro, sns


def pool_share_on(params, after_review):
    """Share of fee SESH that goes to the pool on a day before or `after_review` (the POL review
    may change it)."""
    return np.where(
        after_review & params["pol_to_pool_after_review"], 1.0, params["fee_pool_share"]
    )


def policy_spend(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the day's Pro and name spending, the SESH it buys and where that goes."""
    s = previous_state
    users = monthly_users_today(params, s)
    launches = launch_days_today(params, s)
    subscribers, names, pro_usd, sns_usd = daily_spend_usd(
        params, s["day"], users, launches, shock(params, s, "demand_shock")
    )
    pro_usd, sns_usd = pro_usd * s["app_health"], sns_usd * s["app_health"]  # issue 21: app health
    fee_usd = pro_usd + sns_usd
    signal = {
        "monthly_users": users,
        "pro_launch_day_drawn": launches[0],
        "sns_launch_day_drawn": launches[1],
        "pro_subscribers": subscribers,
        "sns_names": names,
        "daily_fee_usd": fee_usd,
        "d_cum_fee_usd": fee_usd,
    }
    # With Pro revenue not routed to SESH and names not deployed (the facts as they stand) no
    # trajectory buys anything: a branch on the parameters skips arithmetic that gives zeros.
    if params["any_fee_buys"]:
        signal.update(
            fee_purchases(params, s, np.where(params["pro_route_pool"], pro_usd, 0.0) + sns_usd)
        )
    else:
        signal.update(NO_FEE_PURCHASES)
    return signal


# What `fee_purchases` gives when no fee reaches the market: nothing bought, nothing moves.
NO_FEE_PURCHASES = dict.fromkeys(
    (
        "daily_fee_spent",
        "daily_pool_inflow",
        "daily_pol_added",
        "d_reward_pool",
        "d_circulating",
        "d_amm_sesh",
        "d_amm_quote",
        "d_amm_lp_supply",
        "d_pol_lp",
        "d_cum_pool_inflow",
        "d_cum_pol_added",
        "d_daily_net_flow",
        "d_daily_unmet_trade",
    ),
    0.0,
)


def at_open_price(usd, open_price):
    """SESH that `usd` is worth at the opening price (the order's size; at most 1e300, a guard)."""
    price = np.maximum(open_price, 1e-300)
    # the order is capped before the division, so it never overflows
    return np.minimum(np.minimum(usd, 1e300 * np.minimum(price, 1.0)) / price, 1e300)


def fill_against_depth(usd, open_price, reserve):
    """SESH that `usd` buys from a constant-product market of SESH reserve `reserve` priced at
    `open_price`: reserve x a / (reserve + a), with a = usd / open_price the SESH at the open.

    The average price paid is open_price x (1 + a / reserve): a larger buy pays more per SESH,
    and no buy, however large or however low the price, gets `reserve` or more.
    """
    at_open = at_open_price(usd, open_price)
    reserve = np.maximum(reserve, 0.0)
    return reserve * (at_open / np.maximum(reserve + at_open, 1e-300))


def fee_purchases(params: Params, s: State, to_market_usd) -> dict[str, Number]:
    """The SESH that `to_market_usd` of fees buys today and where it goes: the pool's share to
    the Staking Reward Pool, the rest zapped into protocol-owned liquidity (or, after the POL
    review, to the pool or the treasury)."""
    day = s["day"]
    # Oracle-priced fees buy against the consolidated depth at the price impact of their size
    # (`fill_against_depth`), never more than the sellers' wallets hold. The order enters the
    # day's net flow as its size at the open (USD / open price, the unit of every other trade,
    # which all settle at the open): on a depth L the market block's impulse 2 ln(1 + a / L) is
    # then the constant-product pool's own move for the fill, so buying more moves the price more.
    reserve = np.minimum(consolidated_depth(s, params["outside_depth_share"]), liquid_wallets(s))
    bought = fill_against_depth(to_market_usd, s["price_usd"], reserve)
    after_review = day > params["pol_review_day"]
    to_pool = bought * pool_share_on(params, after_review)
    rest = bought - to_pool
    to_treasury = np.where(after_review & params["pol_to_treasury_after_review"], rest, 0.0)
    # protocol-owned liquidity: zapped into the pool, at most the trade cap of the SESH reserve;
    # what the cap leaves stays in the treasury's wallet
    fee = params["amm_fee"]
    to_pol = np.minimum(rest - to_treasury, params["max_trade_reserve_share"] * s["amm_sesh"])
    amm_sesh, amm_quote, lp_supply, minted = add_liquidity_single_sided(
        s["amm_sesh"], s["amm_quote"], s["amm_lp_supply"], to_pol, fee
    )
    return {
        "daily_fee_spent": bought,
        "daily_pool_inflow": to_pool,
        "daily_pol_added": to_pol,
        "d_reward_pool": to_pool,
        "d_circulating": -(to_pool + to_pol),
        "d_amm_sesh": amm_sesh - s["amm_sesh"],
        "d_amm_quote": amm_quote - s["amm_quote"],
        "d_amm_lp_supply": lp_supply - s["amm_lp_supply"],
        "d_pol_lp": minted,
        "d_cum_pool_inflow": to_pool,
        "d_cum_pol_added": to_pol,
        "d_daily_net_flow": at_open_price(to_market_usd, s["price_usd"]),
        "d_daily_unmet_trade": rest - to_treasury - to_pol,
    }
