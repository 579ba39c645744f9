"""The market: ETH/USD, the outside valuation of SESH, and arbitrage on the AMM.

ETH/USD follows a geometric Brownian motion. The outside market's SESH valuation (the reference
price, USD) does too, and it keeps `impact_persistence` of the move that the day's on-chain flows
(unlock sales, fee buys, reward sales) made in the pool's SESH/ETH price. Traders then close
`arbitrage_strength` of the log gap between the pool's USD price and the reference price with one
swap; SESH they sell comes from wallets (`circulating`, less rewards saved for restaking), SESH
they buy goes to wallets. On
`stress_day` ETH/USD and the reference price both drop by `stress_price_drop`.
"""

from __future__ import annotations

import numpy as np

from model.constants import DAYS_PER_YEAR
from model.parts.amm import input_to_reach_ratio, price_of_token, swap
from model.stochastic import shock
from model.types import Number, Params, State

DT = 1.0 / DAYS_PER_YEAR  # one timestep, in years


def gbm_step(level, drift, volatility, normal_draw, dt=DT):
    """One step of a geometric Brownian motion whose mean grows at `drift` a year.

    The log drift is drift - volatility^2 / 2, so with drift 0 the mean is flat and the median
    decays.
    """
    return level * np.exp(
        (drift - 0.5 * volatility**2) * dt + volatility * np.sqrt(dt) * normal_draw
    )


def arbitrage_swap(amm_sesh, amm_quote, target_price_quote, fee, max_sesh_in):
    """Trade the pool towards a target SESH price (in ETH). Returns new reserves and SESH bought.

    Only one direction is ever non-zero: buy SESH when the pool is below target, sell SESH (at most
    `max_sesh_in`) when it is above.
    """
    quote_in = input_to_reach_ratio(amm_quote, amm_sesh, target_price_quote, fee)
    amm_quote, amm_sesh, bought = swap(amm_quote, amm_sesh, quote_in, fee)
    sesh_in = np.minimum(
        input_to_reach_ratio(amm_sesh, amm_quote, 1.0 / target_price_quote, fee),
        max_sesh_in,
    )
    amm_sesh, amm_quote, _ = swap(amm_sesh, amm_quote, sesh_in, fee)
    return amm_sesh, amm_quote, bought - sesh_in


def policy_market(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide ETH/USD, the outside SESH valuation and the arbitrage trade towards it."""
    day = previous_state["day"]
    crash = np.where(day == params["stress_day"], 1.0 - params["stress_price_drop"], 1.0)
    eth_usd = crash * gbm_step(
        previous_state["eth_usd"],
        params["eth_drift"],
        params["eth_volatility"],
        shock(params, previous_state, "eth_shock"),
    )
    sesh_eth_open = previous_state["price_usd"] / previous_state["eth_usd"]
    sesh_eth_now = price_of_token(previous_state["amm_sesh"], previous_state["amm_quote"])
    flow_impact = (sesh_eth_now / sesh_eth_open) ** params["impact_persistence"]
    reference = (
        crash
        * flow_impact
        * gbm_step(
            previous_state["ref_price_usd"],
            params["ref_drift"],
            params["ref_volatility"],
            shock(params, previous_state, "ref_shock"),
        )
    )
    pool_usd = sesh_eth_now * eth_usd
    strength = params["arbitrage_strength"]
    target_usd = pool_usd ** (1.0 - strength) * reference**strength
    amm_sesh, amm_quote, net_bought = arbitrage_swap(
        previous_state["amm_sesh"],
        previous_state["amm_quote"],
        target_usd / eth_usd,
        params["amm_fee"],
        np.maximum(previous_state["circulating"] - previous_state["restake_pending"], 0.0),
    )
    return {
        "eth_usd": eth_usd,
        "ref_price_usd": reference,
        "price_usd": price_of_token(amm_sesh, amm_quote) * eth_usd,
        "d_amm_sesh": amm_sesh - previous_state["amm_sesh"],
        "d_amm_quote": amm_quote - previous_state["amm_quote"],
        "d_circulating": net_bought,
    }
