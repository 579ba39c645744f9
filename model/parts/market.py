"""The market: ETH/USD, the SESH valuation, the price impact of the day's net flow, arbitrage.

Every buy and sell of blocks 1-5 has already settled at the opening price (yesterday's close) with
wallets as the counterparty, and added its signed amount to `daily_net_flow` Q (+ = net buying);
fee buys alone fill at their impact price against the consolidated depth (`consolidated_depth`,
`model.parts.spending.fill_against_depth`) and add their size at the open.
This block turns Q into a price, by `price_model`:

- "impact" (default): P = V * exp(A + J). V is the valuation, a geometric Brownian motion with no
  flow in it (`ref_price_usd`). The day's impulse f = 2 sgn(Q) ln(1 + |Q| / L) is the log move of
  a constant-product pool of reserve L, the consolidated depth: the AMM plus other venues whose
  depth scales with market value (`outside_depth_share` x market supply). A share theta of f is
  permanent (A += theta f); the rest decays with half-life h (J = 2^(-1/h) J + (1 - theta) f).
  With theta = 0 a steady flow gives a bounded offset |ln P/V| <= max|f| / (1 - 2^(-1/h)), never
  a trend; theta > 0 is the documented opt-in for a drift of theta * f a day.
- "exogenous": P = V; flows move inventories only (the neutral reference).
- "pool_only": the former model, for comparison: Q is one swap through the AMM, the reference
  keeps `impact_persistence` of the pool's move (a ratchet) and traders close
  `arbitrage_strength` of the gap; the price is the pool's.

In every model arbitrageurs then trade the pool towards the target price in one swap, capped at
`max_trade_reserve_share` of its input reserve and, when they sell SESH, at what liquid wallets
hold; the part they cannot trade is recorded in `daily_unmet_trade`. On `stress_day` ETH/USD and the
valuation both drop by `stress_price_drop`. Both levels are held within e^+-50 of their launch
values (`LOG_LEVEL_BOUND`, a numerical guard), as the impact states are within e^+-50.
"""

from __future__ import annotations

import numpy as np

from model.constants import DAYS_PER_YEAR
from model.parts.amm import capped_swap, input_to_reach_ratio, price_of_token
from model.stochastic import shock
from model.types import Number, Params, State
from model.utils import clip, liquid_wallets, market_circulating_supply, on_stress_day

DT = 1.0 / DAYS_PER_YEAR  # one timestep, in years
# A numerical guard, not economics: each impact state stays within e^+-50 (about 10^+-22) of the
# valuation, so prices, market caps and 1/price stay finite in the degenerate corners of the
# allowed ranges (a 1-SESH pool with no outside depth and years of one-sided flow at theta = 1).
LOG_IMPACT_BOUND = 50.0
# The same kind of guard on the two geometric Brownian motions: ETH/USD and the valuation each stay
# within e^+-50 of their launch values. Over the longest horizon (100 years) a GBM at the edges of
# its allowed ranges walks without bound: mean-flat at 500%/yr volatility its log falls 12.5 a
# year, and by year 36 ETH at 1e-191 USD prices SESH at 1e190 ETH, whose products with the pool's
# reserves overflow (the level itself would underflow to 0 about year 60). Nothing in the economy
# is priced there (e^50 is about 5e21 x the launch value); within the bound every price, reserve
# and product stays far inside float range. With no drift it is over 6 standard deviations of 100
# years at the default 80%/yr; a drift of +-2/yr (the range's edge) reaches it after 25 years.
LOG_LEVEL_BOUND = 50.0


def log_drift(drift, volatility, convention):
    """The drift of log price: `drift` itself when median-flat, drift - vol^2/2 when mean-flat."""
    return np.where(np.asarray(convention) == "mean", drift - 0.5 * volatility**2, drift)


def gbm_scales(drift, volatility, convention="median", dt=DT):
    """A step's parameter-only parts: (log drift x dt, volatility x sqrt(dt))."""
    return log_drift(drift, volatility, convention) * dt, volatility * np.sqrt(dt)


def gbm_step(level, drift, volatility, normal_draw, convention="median", dt=DT):
    """One step of a geometric Brownian motion under the drift convention."""
    return gbm_day(level, *gbm_scales(drift, volatility, convention, dt), normal_draw)


def gbm_day(level, log_drift_per_step, volatility_per_step, normal_draw):
    """`gbm_step` with its parameter-only parts (`gbm_scales`) given."""
    return level * np.exp(log_drift_per_step + volatility_per_step * normal_draw)


def level_bounds(launch_level):
    """(low, high): the range a GBM level is held in, e^-+LOG_LEVEL_BOUND x its launch value."""
    return launch_level * np.exp(-LOG_LEVEL_BOUND), launch_level * np.exp(LOG_LEVEL_BOUND)


def impulse(net_flow, depth):
    """Log price impact of a day's net flow (+ = net buying) on a CPMM-equivalent depth."""
    return 2.0 * np.sign(net_flow) * np.log1p(np.abs(net_flow) / np.maximum(depth, 1e-9))


def impact_decay(half_life_days):
    """Daily retention of transient impact: 2^(-1/h)."""
    return 2.0 ** (-1.0 / np.maximum(half_life_days, 1e-9))


def impact_rates(permanent_share, half_life_days):
    """A day's parameter-only parts of the impact: (retention 2^(-1/h), transient share 1 - theta)."""
    return impact_decay(half_life_days), 1.0 - permanent_share


def impact_step(permanent, transient, impulse_today, permanent_share, half_life_days):
    """One day of impact: (A + theta f, 2^(-1/h) J + (1 - theta) f), each within +-LOG_BOUND."""
    rates = impact_rates(permanent_share, half_life_days)
    return impact_day(permanent, transient, impulse_today, permanent_share, *rates)


def impact_day(permanent, transient, impulse_today, permanent_share, retention, transient_share):
    """`impact_step` with its parameter-only parts (`impact_rates`) given."""
    permanent = permanent + permanent_share * impulse_today
    transient = retention * transient + transient_share * impulse_today
    return (
        clip(permanent, -LOG_IMPACT_BOUND, LOG_IMPACT_BOUND),
        clip(transient, -LOG_IMPACT_BOUND, LOG_IMPACT_BOUND),
    )


def consolidated_depth(state, outside_depth_share):
    """The AMM's SESH reserve at the valuation plus other venues' CPMM-equivalent depth, in SESH.

    The pool's reserve is taken where it would sit at the valuation V (same k), not where the
    impact has pushed it: the displacement is already in the transient state J, and measuring
    depth on the displaced pool would compound it (a buy drains the pool, the thinner pool gives
    the next buy more impact, and so on without bound).
    """
    pool_at_valuation = np.sqrt(
        state["amm_sesh"]
        * state["amm_quote"]
        * state["eth_usd"]
        / np.maximum(state["ref_price_usd"], 1e-300)
    )
    return pool_at_valuation + outside_depth_share * market_circulating_supply(state)


def arbitrage_swap(amm_sesh, amm_quote, target_price_quote, fee, max_sesh_in, cap):
    """Trade the pool towards a target SESH price (in ETH), capped (`capped_swap`).

    Returns (amm_sesh, amm_quote, net SESH bought by wallets, unmet SESH-equivalent). One swap,
    in the direction the pool must move: wallets buy SESH with ETH when the pool is below the
    target, and sell SESH (at most `max_sesh_in`) when it is above.
    """
    target = np.maximum(target_price_quote, 1e-300)
    buy = amm_quote < target * amm_sesh  # the pool's price is below the target
    reserve_in = np.where(buy, amm_quote, amm_sesh)
    reserve_out = np.where(buy, amm_sesh, amm_quote)
    ratio = np.where(buy, target, 1.0 / target)  # reserve_in / reserve_out at the target
    wanted = input_to_reach_ratio(reserve_in, reserve_out, ratio, fee)
    allowed = np.where(buy, wanted, np.minimum(wanted, np.maximum(max_sesh_in, 0.0)))
    reserve_in, reserve_out, out, unmet_in = capped_swap(reserve_in, reserve_out, allowed, fee, cap)
    amm_sesh = np.where(buy, reserve_out, reserve_in)
    amm_quote = np.where(buy, reserve_in, reserve_out)
    net_bought = np.where(buy, out, unmet_in - allowed)  # a sale: minus what was sold
    unmet = np.where(buy, unmet_in / target, unmet_in + (wanted - allowed))
    return amm_sesh, amm_quote, net_bought, unmet


def pool_net_swap(amm_sesh, amm_quote, net_flow, open_price_quote, wallets, fee, cap):
    """The day's net flow as one capped swap through the AMM (the pool_only model).

    A net sale puts SESH from wallets into the pool; a net buy brings the ETH it is worth at the
    open. Returns (amm_sesh, amm_quote, SESH to wallets (signed), unmet SESH).
    """
    want_sell = np.maximum(-net_flow, 0.0)
    sell = np.minimum(want_sell, wallets)
    amm_sesh, amm_quote, _, sell_unmet = capped_swap(amm_sesh, amm_quote, sell, fee, cap)
    buy_quote = np.maximum(net_flow, 0.0) * open_price_quote
    amm_quote, amm_sesh, bought, buy_unmet = capped_swap(amm_quote, amm_sesh, buy_quote, fee, cap)
    to_wallets = bought - (sell - sell_unmet)
    unmet = (want_sell - sell) + sell_unmet + buy_unmet / np.maximum(open_price_quote, 1e-300)
    return amm_sesh, amm_quote, to_wallets, unmet


def pool_only_market(params, s, net_flow, wallets, valuation, eth_usd):
    """The pool_only model's day: the net flow as one swap, then the ratchet's reference and the
    arbitrage target. Returns (amm_sesh, amm_quote, SESH to wallets, unmet SESH, reference,
    target price in USD)."""
    open_quote = s["pool_price_usd"] / s["eth_usd"]
    po_sesh, po_quote, po_to_wallets, po_unmet = pool_net_swap(
        s["amm_sesh"],
        s["amm_quote"],
        net_flow,
        open_quote,
        wallets,
        params["amm_fee"],
        params["max_trade_reserve_share"],
    )
    pool_now = price_of_token(po_sesh, po_quote)
    flow_impact = (pool_now / open_quote) ** params["impact_persistence"]
    # the ratchet's reference, held within e^+-50 of the launch price (the valuation's guard,
    # `level_bounds`): a steady one-sided flow compounds in it, and must stay finite
    reference = clip(valuation * flow_impact, *params["ref_price_bounds"])
    strength = params["arbitrage_strength"]
    target = (pool_now * eth_usd) ** (1.0 - strength) * reference**strength
    return po_sesh, po_quote, po_to_wallets, po_unmet, reference, target


def policy_market(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide ETH/USD, the valuation, the day's price from the net flow, and the arbitrage."""
    # `params` with its derived entries (`model.derived`): which price model each trajectory
    # uses and the GBM's drift and scale per day are worked out once per run
    s = previous_state
    impact_on = params["impact_on"]
    pool_only = params["pool_only"]
    cap = params["max_trade_reserve_share"]
    fee = params["amm_fee"]
    eth_usd = gbm_day(
        s["eth_usd"],
        params["eth_log_drift_per_day"],
        params["eth_volatility_per_day"],
        shock(params, s, "eth_shock"),
    )
    valuation = gbm_day(
        s["ref_price_usd"],
        params["ref_log_drift_per_day"],
        params["ref_volatility_per_day"],
        shock(params, s, "ref_shock"),
    )
    crash = on_stress_day(params, s, params["stress_price_factor"], 1.0)
    if crash is not None:
        eth_usd, valuation = crash * eth_usd, crash * valuation
    # the numerical guard on both levels (LOG_LEVEL_BOUND; bounds from `level_bounds`)
    eth_usd = clip(eth_usd, *params["eth_usd_bounds"])
    valuation = clip(valuation, *params["ref_price_bounds"])
    net_flow = s["daily_net_flow"]
    wallets = liquid_wallets(s)

    # impact / exogenous: the consolidated price
    depth = consolidated_depth(s, params["outside_depth_share"])
    f = impulse(net_flow, depth)
    if not params["all_impact"]:
        f = np.where(impact_on, f, 0.0)
    permanent, transient = impact_day(
        s["impact_permanent"],
        s["impact_transient"],
        f,
        params["impact_permanent_share"],
        params["impact_retention"],
        params["impact_transient_share"],
    )
    price = valuation * np.exp(permanent + transient)

    # pool_only: the net flow through the pool, then the former ratchet reference (worked out
    # only when some trajectory uses it: a branch on the parameters, not on the state)
    amm_sesh, amm_quote = s["amm_sesh"], s["amm_quote"]
    reference, to_wallets, target_usd, po_unmet = valuation, 0.0, price, 0.0
    if params["any_pool_only"]:
        legacy = pool_only_market(params, s, net_flow, wallets, valuation, eth_usd)
        po_sesh, po_quote, po_to_wallets, po_unmet, reference, legacy_target = legacy
        amm_sesh = np.where(pool_only, po_sesh, amm_sesh)
        amm_quote = np.where(pool_only, po_quote, amm_quote)
        to_wallets = np.where(pool_only, po_to_wallets, 0.0)
        target_usd = np.where(pool_only, legacy_target, price)
        po_unmet = np.where(pool_only, po_unmet, 0.0)
        reference = np.where(pool_only, reference, valuation)
    amm_sesh, amm_quote, bought, unmet = arbitrage_swap(
        amm_sesh, amm_quote, target_usd / eth_usd, fee, wallets + to_wallets, cap
    )
    pool_price = price_of_token(amm_sesh, amm_quote) * eth_usd
    return {
        "eth_usd": eth_usd,
        "ref_price_usd": reference,
        "price_usd": np.where(pool_only, pool_price, price) if params["any_pool_only"] else price,
        "pool_price_usd": pool_price,
        "market_depth": depth,
        "impact_permanent": permanent,
        "impact_transient": transient,
        "d_amm_sesh": amm_sesh - s["amm_sesh"],
        "d_amm_quote": amm_quote - s["amm_quote"],
        "d_circulating": to_wallets + bought,
        "d_daily_unmet_trade": unmet + po_unmet,
    }
