"""Spending on Session Pro and Session names, and where the SESH it buys goes.

Prices are in USD and converted at the oracle price (DOCS session-pro.md), so the SESH a day's
spending buys is USD / price. Payers (or the payment gateway on their behalf) bring ETH and buy
SESH on the AMM. Of what is bought, `fee_pool_share` goes to the Staking Reward Pool and the rest
becomes protocol-owned liquidity (DOCS tokenomics/README.md), added by the zap rule in
`model.parts.amm.add_liquidity_single_sided`: swap just enough SESH for ETH that the remainder and
the proceeds match the pool's ratio, then deposit both. After `pol_review_day` the non-pool share
either stays POL ("keep"), goes to the pool too ("pool") or to the treasury's wallet ("treasury").
"""

from __future__ import annotations

import numpy as np

from model.constants import DAYS_PER_YEAR
from model.parts.amm import add_liquidity_single_sided, swap
from model.stochastic import shock
from model.types import Number, Params, State


def logistic_adoption(day, launch_day, at_launch, maximum, growth_rate):
    """Users on `day` of a logistic curve that starts at `at_launch` on `launch_day` (0 before)."""
    capacity = np.maximum(maximum, 1e-12)
    start = np.clip(at_launch, 1e-12, None)
    elapsed = np.maximum(day - launch_day, 0.0)
    level = capacity / (1.0 + (capacity - start) / start * np.exp(-growth_rate * elapsed))
    return np.where((day >= launch_day) & (maximum > 0), level, 0.0)


def daily_spend_usd(params, day, noise):
    """USD spent that day on Pro and names, after app-store and gateway fees."""
    subscribers = logistic_adoption(
        day,
        params["pro_launch_day"],
        params["pro_subscribers_at_launch"],
        params["pro_subscribers_max"],
        params["pro_growth_rate"],
    )
    names = logistic_adoption(
        day,
        params["sns_launch_day"],
        params["sns_names_at_launch"],
        params["sns_names_max"],
        params["sns_growth_rate"],
    )
    sigma = params["demand_volatility"]
    gross = (
        subscribers * params["pro_price_usd_per_year"] + names * params["sns_fee_usd_per_year"]
    ) / DAYS_PER_YEAR
    net = gross * (1.0 - params["payment_fee_share"]) * np.exp(sigma * noise - 0.5 * sigma**2)
    return subscribers, names, net


def pool_share_on(params, day):
    """Share of fee SESH that goes to the pool on `day` (the POL review may change it)."""
    after_review = day > params["pol_review_day"]
    to_pool_after = np.asarray(params["pol_after_review"]) == "pool"
    return np.where(after_review & to_pool_after, 1.0, params["fee_pool_share"])


def policy_spend(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the day's Pro and name spending, the SESH it buys and where that goes."""
    day = previous_state["day"]
    subscribers, names, usd = daily_spend_usd(
        params, day, shock(params, previous_state, "demand_shock")
    )
    fee = params["amm_fee"]
    quote_in = usd / previous_state["eth_usd"]
    amm_quote, amm_sesh, bought = swap(
        previous_state["amm_quote"], previous_state["amm_sesh"], quote_in, fee
    )
    to_pool = bought * pool_share_on(params, day)
    rest = bought - to_pool
    to_treasury = np.where(
        (day > params["pol_review_day"]) & (np.asarray(params["pol_after_review"]) == "treasury"),
        rest,
        0.0,
    )
    to_pol = rest - to_treasury
    amm_sesh, amm_quote, lp_supply, minted = add_liquidity_single_sided(
        amm_sesh, amm_quote, previous_state["amm_lp_supply"], to_pol, fee
    )
    return {
        "pro_subscribers": subscribers,
        "sns_names": names,
        "daily_fee_usd": usd,
        "daily_fee_spent": bought,
        "daily_pool_inflow": to_pool,
        "daily_pol_added": to_pol,
        "d_reward_pool": to_pool,
        "d_circulating": to_treasury,
        "d_amm_sesh": amm_sesh - previous_state["amm_sesh"],
        "d_amm_quote": amm_quote - previous_state["amm_quote"],
        "d_amm_lp_supply": lp_supply - previous_state["amm_lp_supply"],
        "d_pol_lp": minted,
        "d_cum_fee_usd": usd,
        "d_cum_pool_inflow": to_pool,
        "d_cum_pol_added": to_pol,
    }
