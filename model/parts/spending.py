"""Spending on Session Pro and Session names, and where the SESH it buys goes.

Pro is a fiat app-store subscription at the published plan prices (F§4), net of the store's
commission; whether its revenue buys SESH is the scenario switch `pro_revenue_route` ("none" as
the public facts stand, "pool" as the docs intend). Names (SNS) are paid on-chain once
`sns_deployed`. Fees are priced in USD through oracles (DOCS session-pro.md), so the SESH bought
is USD / the opening price, from wallets; the buy enters the day's net flow. Of what is bought,
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
from model.stochastic import shock
from model.types import Number, Params, State
from model.utils import liquid_wallets


def logistic_odds(at_launch, maximum):
    """What a logistic curve that starts at `at_launch` needs of its parameters: (capacity,
    (capacity - start) / start, whether it has any users at all)."""
    capacity = np.maximum(maximum, 1e-12)
    start = np.maximum(at_launch, 1e-12)
    return capacity, (capacity - start) / start, maximum > 0


def logistic_level(day, launch_day, odds, growth_rate):
    """Users on `day` of a logistic curve with `logistic_odds` `odds` (0 before launch and for a
    curve whose maximum is 0)."""
    capacity, initial_odds, active = odds
    elapsed = np.maximum(day - launch_day, 0.0)
    level = capacity / (1.0 + initial_odds * np.exp(-growth_rate * elapsed))
    return np.where((day >= launch_day) & active, level, 0.0)


def logistic_adoption(day, launch_day, at_launch, maximum, growth_rate):
    """Users on `day` of a logistic curve that starts at `at_launch` on `launch_day` (0 before)."""
    return logistic_level(day, launch_day, logistic_odds(at_launch, maximum), growth_rate)


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


def daily_spend_usd(params, day, noise):
    """(subscribers, names, Pro USD net of store commission, SNS USD) spent that day.

    `params` with its derived entries (`model.derived`): the Pro revenue per subscriber-day and
    the curves' odds are worked out once per run."""
    subscribers = logistic_level(
        day, params["pro_launch_day"], params["pro_odds_at_launch"], params["pro_growth_rate"]
    )
    names = 0.0
    if params["any_sns_deployed"]:  # a branch on the parameters (names not yet deployed)
        names = np.where(
            params["sns_deployed"],
            logistic_level(
                day,
                params["sns_launch_day"],
                params["sns_odds_at_launch"],
                params["sns_growth_rate"],
            ),
            0.0,
        )
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
    subscribers, names, pro_usd, sns_usd = daily_spend_usd(
        params, s["day"], shock(params, s, "demand_shock")
    )
    pro_usd, sns_usd = pro_usd * s["app_health"], sns_usd * s["app_health"]  # issue 21: app health
    fee_usd = pro_usd + sns_usd
    signal = {
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


def fee_purchases(params: Params, s: State, to_market_usd) -> dict[str, Number]:
    """The SESH that `to_market_usd` of fees buys today and where it goes: the pool's share to
    the Staking Reward Pool, the rest zapped into protocol-owned liquidity (or, after the POL
    review, to the pool or the treasury)."""
    day = s["day"]
    # Oracle-priced fees settle at the opening price, bought from wallets (the rest of the
    # market); the purchase enters the day's net flow and moves the price in the market block.
    price = np.maximum(s["price_usd"], 1e-300)
    wanted = to_market_usd / price
    bought = np.minimum(wanted, liquid_wallets(s))
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
        "d_daily_net_flow": bought,
        "d_daily_unmet_trade": (wanted - bought) + (rest - to_treasury - to_pol),
    }
