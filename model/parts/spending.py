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
    DAYS_PER_YEAR,
    PRO_PRICE_MONTHLY_USD,
    PRO_PRICE_QUARTERLY_USD,
    PRO_PRICE_YEARLY_USD,
)
from model.parts.amm import add_liquidity_single_sided
from model.stochastic import shock
from model.types import Number, Params, State
from model.utils import liquid_wallets


def logistic_adoption(day, launch_day, at_launch, maximum, growth_rate):
    """Users on `day` of a logistic curve that starts at `at_launch` on `launch_day` (0 before)."""
    capacity = np.maximum(maximum, 1e-12)
    start = np.maximum(at_launch, 1e-12)
    elapsed = np.maximum(day - launch_day, 0.0)
    level = capacity / (1.0 + (capacity - start) / start * np.exp(-growth_rate * elapsed))
    return np.where((day >= launch_day) & (maximum > 0), level, 0.0)


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
    """(subscribers, names, Pro USD net of store commission, SNS USD) spent that day."""
    subscribers = logistic_adoption(
        day,
        params["pro_launch_day"],
        params["pro_subscribers_at_launch"],
        params["pro_subscribers_max"],
        params["pro_growth_rate"],
    )
    names = 0.0
    if np.any(params["sns_deployed"]):  # a branch on the parameters (names not yet deployed)
        names = np.where(
            params["sns_deployed"],
            logistic_adoption(
                day,
                params["sns_launch_day"],
                params["sns_names_at_launch"],
                params["sns_names_max"],
                params["sns_growth_rate"],
            ),
            0.0,
        )
    sigma = params["demand_volatility"]
    factor = np.exp(sigma * noise - 0.5 * sigma**2)
    pro = (
        subscribers
        * pro_usd_per_subscriber_year(params)
        / DAYS_PER_YEAR
        * (1.0 - params["app_store_commission"])
        * factor
    )
    # SNS is paid on-chain: no store commission
    sns = names * params["sns_fee_usd_per_year"] / DAYS_PER_YEAR * factor
    return subscribers, names, pro, sns


def pool_share_on(params, day):
    """Share of fee SESH that goes to the pool on `day` (the POL review may change it)."""
    after_review = day > params["pol_review_day"]
    to_pool_after = np.asarray(params["pol_after_review"]) == "pool"
    return np.where(after_review & to_pool_after, 1.0, params["fee_pool_share"])


def policy_spend(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the day's Pro and name spending, the SESH it buys and where that goes."""
    s = previous_state
    day = s["day"]
    subscribers, names, pro_usd, sns_usd = daily_spend_usd(
        params, day, shock(params, s, "demand_shock")
    )
    route_pool = np.asarray(params["pro_revenue_route"]) == "pool"
    to_market_usd = np.where(route_pool, pro_usd, 0.0) + sns_usd
    # Oracle-priced fees settle at the opening price, bought from wallets (the rest of the
    # market); the purchase enters the day's net flow and moves the price in the market block.
    price = np.maximum(s["price_usd"], 1e-300)
    wanted = to_market_usd / price
    bought = np.minimum(wanted, liquid_wallets(s))
    to_pool = bought * pool_share_on(params, day)
    rest = bought - to_pool
    to_treasury = np.where(
        (day > params["pol_review_day"]) & (np.asarray(params["pol_after_review"]) == "treasury"),
        rest,
        0.0,
    )
    # protocol-owned liquidity: zapped into the pool, at most the trade cap of the SESH reserve;
    # what the cap leaves stays in the treasury's wallet
    fee = params["amm_fee"]
    to_pol = np.minimum(rest - to_treasury, params["max_trade_reserve_share"] * s["amm_sesh"])
    amm_sesh, amm_quote, lp_supply, minted = add_liquidity_single_sided(
        s["amm_sesh"], s["amm_quote"], s["amm_lp_supply"], to_pol, fee
    )
    return {
        "pro_subscribers": subscribers,
        "sns_names": names,
        "daily_fee_usd": pro_usd + sns_usd,
        "daily_fee_spent": bought,
        "daily_pool_inflow": to_pool,
        "daily_pol_added": to_pol,
        "d_reward_pool": to_pool,
        "d_circulating": -(to_pool + to_pol),
        "d_amm_sesh": amm_sesh - s["amm_sesh"],
        "d_amm_quote": amm_quote - s["amm_quote"],
        "d_amm_lp_supply": lp_supply - s["amm_lp_supply"],
        "d_pol_lp": minted,
        "d_cum_fee_usd": pro_usd + sns_usd,
        "d_cum_pool_inflow": to_pool,
        "d_cum_pol_added": to_pol,
        "d_daily_net_flow": bought,
        "d_daily_unmet_trade": (wanted - bought) + (rest - to_treasury - to_pol),
    }
