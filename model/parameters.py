"""The model's parameters: one typed, validated dataclass.

Every field carries a one-line meaning, its source (a fact from
../shared/session-token-facts.md, or "assumption", explained in ASSUMPTIONS.md) and its allowed
range; its unit is the unit of its type in `model.types.Params` (`Parameters.field_info` gives
all of them). `Parameters.from_overrides` is the single way outside code changes them; a wrong name or
value raises `ParameterError` with a one-line message naming the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from model.constants import (
    GENESIS_UNLOCKED_C,
    LOCKUP_A_STAKABLE,
    LOCKUP_F,
    MAX_SUPPLY,
    TREASURY_NODE_NETWORK_SHARE_CAP,
)
from model.types import Params


class ParameterError(ValueError):
    """A parameter name or value that the model cannot accept."""


def _p(*, default, meaning, source, low=None, high=None, choices=None, integer=False):
    """A field's default and its metadata (its unit is its type in `model.types.Params`)."""
    meta = {
        "meaning": meaning,
        "source": source,
        "min": low,
        "max": high,
        "choices": choices,
        "integer": integer,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Parameters:
    # --- protocol facts -------------------------------------------------------------------
    staking_requirement: float = _p(
        default=25_000.0,
        meaning="stake that registers one node",
        source="OXEND oxen_economy.h SENT_STAKING_REQUIREMENT; ServiceNodeRewards.stakingRequirement",
        low=1_000.0,
        high=1_000_000.0,
    )
    pool_payout_rate: float = _p(
        default=0.151,
        meaning="simple annual payout rate of the Staking Reward Pool balance",
        source="CONTRACTS RewardRatePool.sol ANNUAL_SIMPLE_PAYOUT_RATE = 151 / 1000",
        low=0.0,
        high=1.0,
    )
    fee_pool_share: float = _p(
        default=0.9,
        meaning="share of SESH spent on fees that goes to the Staking Reward Pool",
        source="DOCS tokenomics/README.md (90/10); session-pro.md implies 100%",
        low=0.0,
        high=1.0,
    )
    launch_smoothing: bool = _p(
        default=True,
        meaning="pay rewards from the node software's clamped reward basis from TGE",
        source="OXEND L2_REWARD_MAX_*_DIVISOR, ETH_BLS_INITIAL_REWARD; DOCS staking-reward-pool.md",
    )
    reward_basis_initial: float = _p(
        default=40_000_000.0,
        meaning="reward basis the network starts from (genesis provision)",
        source="OXEND ETH_BLS_INITIAL_REWARD; DOCS staking-reward-pool.md",
        low=0.0,
        high=MAX_SUPPLY,
    )
    claim_cap_per_day: float = _p(
        default=2_000_000.0,
        meaning="network-wide claim limit (1,000,000 per 12 h)",
        source="CONTRACTS ServiceNodeRewards.sol claimThreshold/claimCycle",
        low=0.0,
        high=MAX_SUPPLY,
    )
    pol_review_day: int = _p(
        default=1826,
        meaning="day after TGE when the protocol-owned-liquidity rule is reviewed (5 years)",
        source="DOCS tokenomics/README.md (minimum 5 years)",
        low=0,
        high=100_000,
        integer=True,
    )
    pol_after_review: str = _p(
        default="keep",
        meaning="what the non-pool fee share does after the review day",
        source="assumption",
        choices=("keep", "pool", "treasury"),
    )
    # --- initial state (assumptions where the sources are silent) --------------------------
    initial_stake_sesh: float = _p(
        default=37_500_000.0,
        meaning="SESH staked in nodes at TGE; nodes = floor(stake / requirement), the rest stays liquid",
        source="DOCS session-network/README.md ('1,500+ Session Nodes') x 25,000 (F§3); held fixed "
        "across staking requirements",
        low=0.0,
        high=GENESIS_UNLOCKED_C + LOCKUP_A_STAKABLE + LOCKUP_F,
    )
    treasury_node_share: float = _p(
        default=0.10,
        meaning="share of nodes the treasury runs from its node fund (at TGE and as a target after)",
        source="assumption; DOCS genesis table caps treasury nodes at 10% of the network (F§1)",
        low=0.0,
        high=TREASURY_NODE_NETWORK_SHARE_CAP,
    )
    testnet_staked_share: float = _p(
        default=0.5,
        meaning="share of lockup F (testnet incentives) staked at TGE",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    initial_price_usd: float = _p(
        default=0.10,
        meaning="SESH price at TGE",
        source="assumption; third-party quote of $0.11 on 2025-08-11 [3P]",
        low=1e-6,
        high=1e6,
    )
    initial_eth_usd: float = _p(
        default=2550.0,
        meaning="ETH price at TGE",
        source="assumption (market level on 2025-05-21)",
        low=1.0,
        high=1e7,
    )
    initial_amm_sesh: float = _p(
        default=5_000_000.0,
        meaning="SESH reserve of the Uniswap pool at TGE",
        source="assumption",
        low=1.0,
        high=GENESIS_UNLOCKED_C,
    )
    amm_fee: float = _p(
        default=0.003,
        meaning="swap fee of the Uniswap pool",
        source="assumption",
        low=0.0,
        high=0.1,
    )
    # --- market -----------------------------------------------------------------------------
    price_model: str = _p(
        default="impact",
        meaning="price formation: decaying impact on consolidated depth (impact), the valuation alone "
        "with the pool arbitraged to it (exogenous), or the pool-only ratchet (pool_only)",
        source="DESIGN.md; MARKET-NOTES.md recommended structure (assumption: see ASSUMPTIONS M3)",
        choices=("impact", "exogenous", "pool_only"),
    )
    impact_permanent_share: float = _p(
        default=0.0,
        meaning="share of a net flow's log price impact that never decays (impact model)",
        source="assumption: mechanical, uninformed flow; Donier & Bonart 2015, Brokmann 2015 (~0), "
        "Bucci 2019 (1/3, incl. informed flow) as the top",
        low=0.0,
        high=1.0,
    )
    impact_half_life_days: float = _p(
        default=30.0,
        meaning="half-life of the transient part of price impact (impact model)",
        source="assumption: Bucci 2019 (~50 days); a t^-1/2 kernel over a year matches ~26 days",
        low=0.5,
        high=3650.0,
    )
    outside_depth_share: float = _p(
        default=0.05,
        meaning="depth of other venues, as a CPMM-equivalent SESH reserve per SESH of market supply",
        source="assumption: the pool id exists on Ethereum and Arbitrum (F§5); ~the modelled pool",
        low=0.0,
        high=10.0,
    )
    max_trade_reserve_share: float = _p(
        default=0.5,
        meaning="largest single AMM trade as a share of its input reserve (the rest is unmet)",
        source="assumption: reliability; keeps every reserve > 0",
        low=0.001,
        high=10.0,
    )
    drift_convention: str = _p(
        default="median",
        meaning="drifts are log drifts (median flat at drift 0) or mean drifts (mean flat)",
        source="assumption: median-flat favours neither P nor 1/P (ASSUMPTIONS M6)",
        choices=("median", "mean"),
    )
    eth_drift: float = _p(
        default=0.0,
        meaning="drift of ETH/USD (a log drift under 'median', a mean drift under 'mean')",
        source="assumption; at +-1 or more the level reaches the e^+-50 guard within 100 years "
        "and later results are the guard's (ASSUMPTIONS M2)",
        low=-2.0,
        high=2.0,
    )
    eth_volatility: float = _p(
        default=0.6,
        meaning="ETH/USD volatility",
        source="assumption; to 5 over 100 years: the level is held within e^+-50 of launch (ASSUMPTIONS M2)",
        low=0.0,
        high=5.0,
    )
    ref_drift: float = _p(
        default=0.0,
        meaning="drift of the SESH valuation (a log drift under 'median', a mean drift under 'mean')",
        source="assumption; at +-1 or more the level reaches the e^+-50 guard within 100 years "
        "and later results are the guard's (ASSUMPTIONS M2)",
        low=-2.0,
        high=2.0,
    )
    ref_volatility: float = _p(
        default=0.8,
        meaning="volatility of the outside market's SESH valuation",
        source="assumption; to 5 over 100 years: the level is held within e^+-50 of launch (ASSUMPTIONS M2)",
        low=0.0,
        high=5.0,
    )
    arbitrage_strength: float = _p(
        default=0.5,
        meaning="share of the log gap to the reference price traders close each day (pool_only)",
        source="assumption; at least 0.01: with no arbitrage the pool_only pool follows a steady "
        "one-sided flow without bound, to non-finite prices",
        low=0.01,
        high=1.0,
    )
    impact_persistence: float = _p(
        default=0.25,
        meaning="share of a day's flow-driven pool move the reference price keeps (pool_only)",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    unlock_sell_share_strategic: float = _p(
        default=0.5,
        meaning="share of unlocked strategic-sale tokens (classes A and B) sold",
        source="assumption: bought at a sale price, exit-motivated (ASSUMPTIONS V2)",
        low=0.0,
        high=1.0,
    )
    unlock_sell_share_ecosystem: float = _p(
        default=0.1,
        meaning="share of unlocked ecosystem and testnet tokens sold",
        source="assumption: grants paid over years; only recipients sell (ASSUMPTIONS V2)",
        low=0.0,
        high=1.0,
    )
    unlock_sell_share_treasury_ops: float = _p(
        default=0.2,
        meaning="share of unlocked treasury operational tokens sold",
        source="assumption: sells what funds fiat operations, holds runway (ASSUMPTIONS V2)",
        low=0.0,
        high=1.0,
    )
    unlock_sell_share_contributors: float = _p(
        default=0.3,
        meaning="share of unlocked contributor and advisor tokens sold",
        source="assumption: tax and living costs; the former uniform value (ASSUMPTIONS V2)",
        low=0.0,
        high=1.0,
    )
    cliff_sell_start_day: int = _p(
        default=700,
        meaning="first day of the class A cliff's sale, 30 days before the cliff on day 730 "
        "(730 = nothing sold ahead)",
        source="ASSUMPTION V5: 'Token price impacts often start 30 days before the unlock event' "
        "(https://keyrock.com/from-locked-to-liquidity-what-16000-token-unlocks-teach-us)",
        low=0,
        high=730,
        integer=True,
    )
    cliff_sell_end_day: int = _p(
        default=743,
        meaning="last day of the class A cliff's sale: 14 days from the cliff, day 730 included "
        "(730 = the rest sold on the cliff day)",
        source="ASSUMPTION V5: prices 'usually stabilize within two weeks after the unlocking "
        "event' (Keyrock via https://panewslab.com/en/articledetails/ag3cuyqf.html)",
        low=730,
        high=100_000,
        integer=True,
    )
    cliff_presell_share: float = _p(
        default=0.5,
        meaning="share of the class A cliff's sale made before the cliff, from liquid wallets",
        source="ASSUMPTION V5: similar price drops in the week before and after large unlocks "
        "(https://www.smartkarma.com/insights/the-impact-of-token-unlock-events-on-"
        "cryptocurrency-prices-an-empirical-analysis)",
        low=0.0,
        high=1.0,
    )
    # --- demand (Session Pro and names) ----------------------------------------------------
    # Pro subscribers = monthly users x conversion x adoption ramp since the (drawn) launch day;
    # names likewise (ASSUMPTIONS D1, D7-D11).
    initial_monthly_users: float = _p(
        default=1_000_000.0,
        meaning="monthly active users of the Session app at TGE (a lower bound: 'more than 1 "
        "million')",
        source="https://ecoinimist.com/2025/05/22/session-secure-messaging-arbitrum (2025-05-22, "
        "medium trust, lower bound); ASSUMPTION D7",
        low=0.0,
        high=1e10,
    )
    monthly_users_growth: float = _p(
        default=0.6,
        meaning="log growth of monthly users (trend, median-flat at 0)",
        source="ln(1.7M / 1M) over the 323 days between the lower bounds of 2025-05-22 and "
        "2026-04-09 (https://cyberinsider.com/?p=314715, medium trust); ASSUMPTION D7 (bounds, "
        "not figures: range -0.5 to 1)",
        low=-2.0,
        high=2.0,
    )
    monthly_users_volatility: float = _p(
        default=0.3,
        meaning="volatility of monthly users' log (a GBM with the trend as its log drift)",
        source="ASSUMPTION D7 (no series; the 1.5M -> 1.7M bounds 25 days apart suggest ~0.3; "
        "range 0 to 1)",
        low=0.0,
        high=3.0,
    )
    pro_conversion: float = _p(
        default=0.005,
        meaning="share of monthly users paying for Pro once adoption is complete",
        source="Telegram Premium ~0.5% of monthly users ~18 months after launch "
        "(https://nixsolutions-mobile.com/telegrams-rapid-growth-and-premium-subscriptions/, low "
        "trust); ASSUMPTION D8 (range 0.1% to Durov's 3% target)",
        low=0.0,
        high=1.0,
    )
    pro_ramp_early_days: float = _p(
        default=90.0,
        meaning="days after the Pro launch by which the early share of the full level is reached",
        source="Telegram Premium 0.37% of users 3 months after launch "
        "(https://geektech.me/how-many-users-have-bought-premium-subscription-in-telegram/, low "
        "trust); ASSUMPTION D9 (range 30-180)",
        low=0.0,
        high=3650.0,
    )
    pro_ramp_early_share: float = _p(
        default=0.74,
        meaning="share of the full Pro level reached `pro_ramp_early_days` after launch",
        source="Telegram Premium 0.37% at 3 months / ~0.5% at ~18 months = 0.74 (low trust, see "
        "pro_conversion); ASSUMPTION D9 (range 0.4-1)",
        low=0.0,
        high=1.0,
    )
    pro_ramp_full_days: float = _p(
        default=540.0,
        meaning="days after the Pro launch by which the full level is reached (at least the "
        "early days)",
        source="Telegram Premium ~0.5% ~18 months after its 2022-06 launch (low trust, see "
        "pro_conversion); ASSUMPTION D9 (range 180-1095)",
        low=0.0,
        high=3650.0,
    )
    pro_launch_day_earliest: int = _p(
        default=385,
        meaning="earliest day after TGE the Pro launch is drawn on (uniform, whole days)",
        source="not launched 2026-03-20 (day 303, session-pro-backend 'pre-launch', high trust) nor "
        "~2026-06-10 (day ~385, 'very close', https://discuss.privacyguides.net/t/session-will-"
        "shut-down-on-july-8th-unless-they-raise-1-million-dollars-in-funding/36409?page=4, low "
        "trust); ASSUMPTION D10",
        low=0,
        high=100_000,
        integer=True,
    )
    pro_launch_day_latest: int = _p(
        default=730,
        meaning="latest day after TGE the Pro launch is drawn on (= earliest: a fixed day)",
        source="ASSUMPTION D10: no public launch found by 2026-12-05 (day 563, observed.csv); a "
        "year after 'very close' with a small team (range 563-1095)",
        low=0,
        high=100_000,
        integer=True,
    )
    pro_plan_share_monthly: float = _p(
        default=0.4,
        meaning="share of Pro subscribers on the $2.49/month plan",
        source="assumption (no data)",
        low=0.0,
        high=1.0,
    )
    pro_plan_share_quarterly: float = _p(
        default=0.2,
        meaning="share of Pro subscribers on the $5.99/3 months plan (the rest: $14.99/year)",
        source="assumption (no data)",
        low=0.0,
        high=1.0,
    )
    app_store_commission: float = _p(
        default=0.15,
        meaning="share of Pro revenue the app stores keep",
        source="Apple Small Business Program / renewals and Google Play subscriptions: 15%; 30% top",
        low=0.0,
        high=1.0,
    )
    pro_revenue_route: str = _p(
        default="none",
        meaning="where Pro revenue goes: stays fiat (none) or buys SESH for the pool and POL (pool)",
        source="F§4: no code routes Pro revenue to the pool; 'pool' is the docs' intended flow",
        choices=("none", "pool"),
    )
    sns_deployed: bool = _p(
        default=False,
        meaning="the Session Name Service is live and its fees buy SESH",
        source="F§4: 'SNS has not yet been deployed'",
    )
    sns_launch_day_earliest: int = _p(
        default=563,
        meaning="earliest day after TGE the name-service launch is drawn on (uniform, whole "
        "days; when deployed)",
        source="not deployed 2025-12-19 (session-docs, high trust); none found by 2026-12-05 "
        "(day 563, observed.csv); ASSUMPTION D11",
        low=0,
        high=100_000,
        integer=True,
    )
    sns_launch_day_latest: int = _p(
        default=1095,
        meaning="latest day after TGE the name-service launch is drawn on (= earliest: a fixed "
        "day)",
        source="ASSUMPTION D11 (three years after TGE; range 730-1825)",
        low=0,
        high=100_000,
        integer=True,
    )
    sns_names_per_user: float = _p(
        default=0.01,
        meaning="registered names per monthly user once adoption is complete",
        source="ASSUMPTION D11 (no data; range 0.002-0.05)",
        low=0.0,
        high=10.0,
    )
    sns_ramp_days: float = _p(
        default=365.0,
        meaning="days after the name-service launch to reach the full level (linear ramp)",
        source="ASSUMPTION D11 (no data; range 90-1095)",
        low=0.0,
        high=3650.0,
    )
    sns_fee_usd_per_year: float = _p(
        default=5.0,
        meaning="yearly registration or renewal fee per name",
        source="assumption (draft SNS contract: admin-set fee, 365-day expiry)",
        low=0.0,
        high=10_000.0,
    )
    demand_volatility: float = _p(
        default=0.3,
        meaning="daily log-normal noise on fee spending",
        source="assumption",
        low=0.0,
        high=3.0,
    )
    # --- nodes and stakers ------------------------------------------------------------------
    operator_fee: float = _p(
        default=0.10,
        meaning="operator fee taken from a node's reward before the pro-rata split",
        source="assumption; DOCS staking-reward-pool.md example uses 10%",
        low=0.0,
        high=1.0,
    )
    operator_stake_share: float = _p(
        default=0.25,
        meaning="operator's share of a node's stake",
        source="ServiceNodeRewards.sol minimum operator contribution = requirement / 4",
        low=0.25,
        high=1.0,
    )
    node_opex_usd_per_month: float = _p(
        default=20.0,
        meaning="cost of running one node",
        source="assumption: documented hardware (4-8 GB RAM, 45 GB, 1 TB/month) at a mainstream 4 GB "
        "cloud plan; budget VPS $5-10, clouds $24-48",
        low=0.0,
        high=10_000.0,
    )
    node_entry_hurdle_apr: float = _p(
        default=0.10,
        meaning="net USD yield an outside entrant requires to start a node",
        source="assumption: 4% risk-free plus a 6% premium for price risk and effort",
        low=-1.0,
        high=5.0,
    )
    node_exit_hurdle_apr: float = _p(
        default=0.0,
        meaning="net USD yield below which an incumbent node shuts down",
        source="assumption: the shut-down condition (cash cost not covered); at most the entry hurdle",
        low=-1.0,
        high=5.0,
    )
    node_opex_spread: float = _p(
        default=0.6,
        meaning="log-normal spread of running costs across operators (median: node_opex_usd_per_month)",
        source="ASSUMPTION S6: 90% of operators between $7.5 and $54 a month at the $20 median, "
        "bracketing documented-hardware VPS prices (budget $5-10, clouds $24-48)",
        low=0.0,
        high=2.0,
    )
    entry_hurdle_spread: float = _p(
        default=0.05,
        meaning="spread (sd) of new entrants' hurdles around the entry and exit hurdles",
        source="ASSUMPTION S6: 90% of entry hurdles within 1.8%-18% (risk-free rate alone to a "
        "high premium), inside the 4-25% sweep of S2",
        low=0.0,
        high=1.0,
    )
    entrant_pool_nodes: float = _p(
        default=2_200.0,
        meaning="potential new operators (nodes) outside the network at TGE, who must stake SESH",
        source="ASSUMPTION S6: the pre-launch network's size, 'network of 2200 nodes' (co-founder, "
        "2025-05-21, https://podcasts.chainofthought.xyz/podcast-summaries/the-world-s-first-truly-"
        "private-messaging-app-with-session-kee-jefferys-chris-mccabe); no data on outsiders",
        low=0.0,
        high=100_000.0,
    )
    migrated_opex_factor: float = _p(
        default=1.0,
        meaning="migrated (Oxen) operators' running costs relative to new entrants'",
        source="ASSUMPTION S7: the same documented hardware (1 = no difference)",
        low=0.1,
        high=10.0,
    )
    migrated_hurdle_offset: float = _p(
        default=0.0,
        meaning="centre of migrated operators' exit hurdles relative to node_exit_hurdle_apr",
        source="ASSUMPTION S7: the shut-down condition, as for entrants",
        low=-1.0,
        high=1.0,
    )
    migrated_hurdle_spread: float = _p(
        default=0.10,
        meaning="spread (sd) of migrated operators' exit hurdles",
        source="ASSUMPTION S7: twice the entrants' (auto-restaked at the swap, never screened by "
        "SESH yields: loyal operators below cost and windfall holders wanting out)",
        low=0.0,
        high=1.0,
    )
    stake_buy_share: float = _p(
        default=0.5,
        meaning="share of new (non-restaked) nodes whose stake is bought on the market",
        source="assumption: neutral split between outside buyers and holders' own wallets",
        low=0.0,
        high=1.0,
    )
    hurdle_noise: float = _p(
        default=0.02,
        meaning="daily noise on the hurdle rate",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    yield_sensitivity: float = _p(
        default=0.10,
        meaning="yield gap at which entry/exit runs at its maximum rate",
        source="assumption",
        low=1e-6,
        high=5.0,
    )
    max_entry_rate: float = _p(
        default=0.005,
        meaning="most nodes added per day, as a share of nodes",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    max_exit_rate: float = _p(
        default=0.005,
        meaning="most nodes leaving per day, as a share of nodes",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    entry_base_nodes: float = _p(
        default=100.0,
        meaning="network size entry is scaled by when the network is smaller than this",
        source="assumption",
        low=0.0,
        high=10_000.0,
    )
    liquid_float_floor: float = _p(
        default=0.15,
        meaning="share of the circulating supply holders keep in wallets, unstaked",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    liquidation_rate: float = _p(
        default=0.01,
        meaning="liquidations per node per year",
        source="assumption",
        low=0.0,
        high=10.0,
    )
    reward_claim_rate: float = _p(
        default=0.2,
        meaning="share of unclaimed rewards that nodes try to claim each day",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    reward_sell_share: float = _p(
        default=0.4,
        meaning="share of claimed rewards sold on the AMM",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    reward_restake_share: float = _p(
        default=0.2,
        meaning="share of claimed rewards saved up to stake new nodes",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    exit_sell_share: float = _p(
        default=0.3,
        meaning="share of returned stake sold on the AMM",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    # --- stress event -----------------------------------------------------------------------
    stress_day: int = _p(
        default=0,
        meaning="day of a market crash (0 = no crash)",
        source="assumption",
        low=0,
        high=100_000,
        integer=True,
    )
    stress_price_drop: float = _p(
        default=0.0,
        meaning="fall of ETH/USD and the SESH reference price on the stress day",
        source="assumption",
        low=0.0,
        high=0.99,
    )
    stress_exit_share: float = _p(
        default=0.0,
        meaning="share of unlocked nodes that request exit on the stress day",
        source="assumption",
        low=0.0,
        high=1.0,
    )
    # --- the foundation's budget and the app's health (issue 21 item 2; model/parts/foundation.py)
    foundation_holdings: str = _p(
        default="treasury_ops",
        meaning="SESH the foundation may sell: treasury operations (6M at TGE plus lockup D's 27M "
        "as it unlocks) or those and the ecosystem fund (13M plus lockup B's 30M)",
        source="ASSUMPTION F1 (genesis groups, DOCS genesis-tokenomics.md)",
        choices=("treasury_ops", "treasury_ops_and_ecosystem"),
    )
    foundation_cash_at_tge_usd: float = _p(
        default=821_000.0,
        meaning="the foundation's cash at TGE: what the full cost, less the appeal's donations, "
        "spends by 2026-04-09 (day 323), when all paid staff left",
        source="ASSUMPTION F2, from https://cyberinsider.com/?p=314715 (staff out 2026-04-09, "
        "~$1M/yr needed, ~$65k donated)",
        low=0.0,
        high=10_000_000.0,
    )
    foundation_cost_usd_per_day: float = _p(
        default=2_740.0,
        meaning="the foundation's full operating cost ($1M a year)",
        source="https://cyberinsider.com/?p=314715 ('requires approximately $1 million per year "
        "to operate', medium trust); ASSUMPTION F3 range",
        low=0.0,
        high=100_000.0,
    )
    foundation_reduced_cost_usd_per_day: float = _p(
        default=722.0,
        meaning="operating cost after the cut: critical infrastructure and a 1-3 person team "
        "($65k for 90 days)",
        source="https://cyberinsider.com/?p=314715 ($65k donated, 'enough for 90 days of critical "
        "infra', medium trust); ASSUMPTION F3 range",
        low=0.0,
        high=100_000.0,
    )
    foundation_donations_usd_per_day: float = _p(
        default=2_560.0,
        meaning="donations a day during the appeal (~$192k in its first 75 days)",
        source="https://discuss.privacyguides.net/t/session-will-shut-down-on-july-8th-unless-"
        "they-raise-1-million-dollars-in-funding/36409?page=4 (low trust); ASSUMPTION F4 range",
        low=0.0,
        high=100_000.0,
    )
    foundation_appeal_day: int = _p(
        default=298,
        meaning="day after TGE donations start (the founder's appeal, mid-March 2026)",
        source="https://fxtechnology.org/session-warns-funding-shortfall-threatens-encrypted-"
        "messengers-future (March 2026, day approximate)",
        low=0,
        high=100_000,
        integer=True,
    )
    foundation_appeal_days: float = _p(
        default=75.0,
        meaning="length of the appeal (donations at the appeal rate)",
        source="https://discuss.privacyguides.net/t/session-will-shut-down-on-july-8th-unless-"
        "they-raise-1-million-dollars-in-funding/36409?page=4 ('about 200k in 75 days')",
        low=0.0,
        high=100_000.0,
    )
    foundation_donations_after_usd_per_day: float = _p(
        default=722.0,
        meaning="donations a day after the appeal (default: the reduced cost, 'runway restored')",
        source="https://sparkpulse.io/product/session ('restores Session's runway, and development "
        "resumes', low trust); ASSUMPTION F4 range 0 to the appeal rate",
        low=0.0,
        high=100_000.0,
    )
    foundation_runway_days: float = _p(
        default=90.0,
        meaning="the foundation sells SESH while its cash covers fewer days than this of its cost",
        source="ASSUMPTION F5 (the donate page's '90 days of critical infra' as the horizon)",
        low=0.0,
        high=3650.0,
    )
    foundation_sell_share_per_day: float = _p(
        default=0.001,
        meaning="share of its SESH the foundation sells a day while its runway is short",
        source="ASSUMPTION F5: slow, to limit its own price impact; the 2026 layoffs show sales "
        "did not fund operations",
        low=0.0,
        high=1.0,
    )
    foundation_failure_day: int = _p(
        default=0,
        meaning="day after TGE development stops whatever the money (0 = never)",
        source="ASSUMPTION F6 (the funding_failure experiment: the announced 2026-07-08 "
        "shutdown, https://old.lemdro.id/comment/23495327)",
        low=0,
        high=100_000,
        integer=True,
    )
    app_health_decay_per_day: float = _p(
        default=0.01,
        meaning="daily fall of app health (users, demand) with development unfunded",
        source="ASSUMPTION F7 (half-life ~69 days)",
        low=0.0,
        high=1.0,
    )
    app_failure_hurdle_premium: float = _p(
        default=0.2,
        meaning="rise of the nodes' entry and exit hurdles at app health 0 (x (1 - health))",
        source="ASSUMPTION F7: a dying app's network is not worth running",
        low=0.0,
        high=5.0,
    )
    # --- governance levers as rules (issue 21 item 6; model/parts/governance.py) --------------
    gov_rule_on: bool = _p(
        default=False,
        meaning="the owner lowers the staking requirement when active nodes stay low",
        source="ASSUMPTION L1; setStakingRequirement is owner-settable (facts F§3)",
    )
    gov_node_level: float = _p(
        default=1_500.0,
        meaning="active nodes below which the requirement rule counts a day",
        source="ASSUMPTION L1; DOCS session-network/README.md '1,500+ Session Nodes'",
        low=0.0,
        high=1_000_000.0,
    )
    gov_node_days: float = _p(
        default=30.0,
        meaning="consecutive low days after which the requirement is lowered",
        source="ASSUMPTION L1",
        low=1.0,
        high=3650.0,
    )
    gov_requirement_step: float = _p(
        default=2_500.0,
        meaning="how much the rule lowers the staking requirement each time",
        source="ASSUMPTION L1 (10% of the 25,000 requirement)",
        low=0.0,
        high=1_000_000.0,
    )
    gov_requirement_floor: float = _p(
        default=15_000.0,
        meaning="lowest staking requirement the rule sets",
        source="ASSUMPTION L1; earlier docs said 15,000 (observed.csv 2025-05-21)",
        low=1_000.0,
        high=1_000_000.0,
    )

    def __post_init__(self):
        for f in dataclasses.fields(self):
            _validate(f, getattr(self, f.name))
        if self.reward_sell_share + self.reward_restake_share > 1.0 + 1e-12:
            raise ParameterError(
                "invalid parameters 'reward_sell_share' + 'reward_restake_share': must sum to "
                f"at most 1, got {self.reward_sell_share + self.reward_restake_share:g}"
            )
        plans = self.pro_plan_share_monthly + self.pro_plan_share_quarterly
        if plans > 1.0 + 1e-12:
            raise ParameterError(
                "invalid parameters 'pro_plan_share_monthly' + 'pro_plan_share_quarterly': must "
                f"sum to at most 1 (the rest is the yearly plan), got {plans:g}"
            )
        for first, last in (
            ("pro_launch_day_earliest", "pro_launch_day_latest"),
            ("sns_launch_day_earliest", "sns_launch_day_latest"),
            ("pro_ramp_early_days", "pro_ramp_full_days"),
        ):
            if getattr(self, first) > getattr(self, last):
                raise ParameterError(
                    f"invalid parameters '{first}' > '{last}': '{first}' must be at most "
                    f"'{last}', got {getattr(self, first):g} > {getattr(self, last):g}"
                )
        if self.node_exit_hurdle_apr > self.node_entry_hurdle_apr:
            raise ParameterError(
                "invalid parameters 'node_exit_hurdle_apr' > 'node_entry_hurdle_apr': the exit "
                f"hurdle must be at most the entry hurdle, got {self.node_exit_hurdle_apr:g} > "
                f"{self.node_entry_hurdle_apr:g}"
            )
        nodes, treasury_nodes, staked, staked_a, staked_f = tge_stake(self)
        if staked_a > LOCKUP_A_STAKABLE + 1e-6:
            raise ParameterError(
                "invalid parameters 'treasury_node_share' x 'initial_stake_sesh': treasury "
                f"nodes need at most {LOCKUP_A_STAKABLE:,.0f} SESH of lockup A, got {staked_a:,.0f}"
            )
        from_wallets = staked - staked_a - staked_f
        # the foundation's SESH at TGE is part of the unlocked genesis supply too (issue 21)
        from model.parts.foundation import holdings_at_tge

        held = float(holdings_at_tge({"foundation_holdings": self.foundation_holdings}))
        if from_wallets + self.initial_amm_sesh + held > GENESIS_UNLOCKED_C:
            raise ParameterError(
                "invalid parameters 'initial_stake_sesh' + 'initial_amm_sesh': TGE stake, "
                f"liquidity and the foundation's {held:,.0f} SESH must fit in the "
                f"{GENESIS_UNLOCKED_C:,.0f} unlocked SESH, "
                f"got {from_wallets + self.initial_amm_sesh + held:,.0f}"
            )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def field_info(cls) -> dict[str, dict[str, Any]]:
        """Each field's unit (from `model.types.Params`), metadata and default."""
        return {
            f.name: {"unit": UNITS[f.name], **f.metadata, "default": f.default}
            for f in dataclasses.fields(cls)
        }

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None = None) -> Parameters:
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            raise ParameterError(
                "invalid overrides: must be a mapping of parameter name to value, got "
                f"{type(overrides).__name__}"
            )
        overrides = dict(overrides)
        for name in overrides:
            _check_name(name)
        return cls(**overrides)

    def replace(self, **overrides: Any) -> Parameters:
        for name in overrides:
            _check_name(name)
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def tge_stake(p: Parameters) -> tuple[int, int, float, float, float]:
    """(nodes, treasury nodes, SESH staked, of it from lockup A, of it from lockup F) at TGE.

    The staked SESH is `initial_stake_sesh` rounded down to whole nodes; the treasury runs
    `treasury_node_share` of them from lockup A, and testnet holders stake part of lockup F in
    the others.
    """
    nodes = int(p.initial_stake_sesh // p.staking_requirement)
    # floor, as the daily treasury rule does: it never holds more than its share of the nodes
    treasury_nodes = math.floor(p.treasury_node_share * nodes)
    staked = float(nodes * p.staking_requirement)
    staked_a = float(treasury_nodes * p.staking_requirement)
    staked_f = min(p.testnet_staked_share * LOCKUP_F, staked - staked_a)
    return nodes, treasury_nodes, staked, staked_a, staked_f


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise ParameterError(f"invalid parameter name {name!r}: must be a string")
    if name not in _FIELDS:
        close = difflib.get_close_matches(name, list(_FIELDS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ParameterError(
            f"unknown parameter '{name}'{hint} (run `python -m experiments params` for the list)"
        )


def allowed(name: str) -> str:
    """A short description of the values a parameter accepts."""
    meta = _FIELDS[name].metadata
    if meta["choices"]:
        return "one of " + ", ".join(meta["choices"])
    kind = _FIELDS[name].type
    if kind == "bool":
        return "true or false"
    what = "an integer" if meta["integer"] else "a number"
    return f"{what} in [{meta['min']:g}, {meta['max']:g}]"


def _is_bad(f: dataclasses.Field, value: Any) -> bool:
    """True unless `value` is a value of the field's kind inside its allowed range."""
    import numpy as np

    meta = f.metadata
    if f.type == "bool":
        return not isinstance(value, (bool, np.bool_))
    if meta["choices"]:
        return not isinstance(value, str) or value not in meta["choices"]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        return True  # complex numbers, strings, arrays, None ...
    if isinstance(value, (int, np.integer)):
        # compared exactly: a 29-digit or 400-digit integer is out of range, not rounded into it
        return not (meta["min"] <= int(value) <= meta["max"])
    number = float(value)
    if not math.isfinite(number):
        return True  # nan, inf (also what 1e400 reads as)
    if meta["integer"] and number != math.floor(number):
        return True
    return not (meta["min"] <= number <= meta["max"])


def _short(value: Any) -> str:
    """A value's repr on one short line (a 400-digit integer or an array is cut)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _validate(f: dataclasses.Field, value: Any) -> None:
    bad = _is_bad(f, value)
    if bad:
        raise ParameterError(
            f"invalid parameter '{f.name}': must be {allowed(f.name)}, got {_short(value)}"
        )


def parse_value(name: str, text: str) -> Any:
    """Turn a command-line string into the parameter's type, or raise ParameterError.

    The one parser of typed text (`--set`, the explorer's query string and controls). A number
    must be finite and inside the parameter's range, checked on the text as written: an integer
    parameter is read exactly (as a decimal, never through a float, so "nan", "1e400" or a
    29-digit day is refused with what was typed, not rounded or turned into an exception).
    """
    _check_name(name)
    f = _FIELDS[name]
    text = text.strip()
    if f.type == "bool":
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
    elif f.metadata["choices"]:
        return text
    else:
        number = _parse_number(text.replace("_", ""), f.metadata["integer"])
        if number is not None and f.metadata["min"] <= number <= f.metadata["max"]:
            return int(number) if f.metadata["integer"] else number
    raise ParameterError(f"invalid parameter '{name}': must be {allowed(name)}, got {text!r}")


def _parse_number(text: str, integer: bool) -> float | Decimal | None:
    """A finite number from text (an exact Decimal holding an integer when `integer`), or None."""
    if integer:
        try:
            exact = Decimal(text)
        except InvalidOperation:
            return None
        if not exact.is_finite() or exact != exact.to_integral_value():
            return None
        return exact
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


_FIELDS = {f.name: f for f in dataclasses.fields(Parameters)}
# Each parameter's unit, written once: the unit alias of its type in the typed contract
# (`model.types.Params`, what the policies receive), e.g. `pool_payout_rate: Per_year` -> "1/year".
_HINTS = typing.get_type_hints(Params, include_extras=True)
UNITS = {name: _HINTS[name].__metadata__[0] for name in _FIELDS if name in _HINTS}
