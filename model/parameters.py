"""The model's parameters: one typed, validated dataclass.

Every field carries its unit, a one-line meaning, its source (a fact from
../shared/session-token-facts.md, or "assumption", explained in ASSUMPTIONS.md) and its allowed
range. `Parameters.from_overrides` is the single way outside code changes them; a wrong name or
value raises `ParameterError` with a one-line message naming the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
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


class ParameterError(ValueError):
    """A parameter name or value that the model cannot accept."""


def _p(default, unit, meaning, source, lo=None, hi=None, choices=None, integer=False):
    meta = {
        "unit": unit,
        "meaning": meaning,
        "source": source,
        "min": lo,
        "max": hi,
        "choices": choices,
        "integer": integer,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Parameters:
    # --- protocol facts -------------------------------------------------------------------
    staking_requirement: float = _p(
        25_000.0,
        "SESH/node",
        "stake that registers one node",
        "OXEND oxen_economy.h SENT_STAKING_REQUIREMENT; ServiceNodeRewards.stakingRequirement",
        1_000.0,
        1_000_000.0,
    )
    pool_payout_rate: float = _p(
        0.151,
        "1/year",
        "simple annual payout rate of the Staking Reward Pool balance",
        "CONTRACTS RewardRatePool.sol ANNUAL_SIMPLE_PAYOUT_RATE = 151 / 1000",
        0.0,
        1.0,
    )
    fee_pool_share: float = _p(
        0.9,
        "share",
        "share of SESH spent on fees that goes to the Staking Reward Pool",
        "DOCS tokenomics/README.md (90/10); session-pro.md implies 100%",
        0.0,
        1.0,
    )
    launch_smoothing: bool = _p(
        True,
        "bool",
        "pay rewards from the node software's clamped reward basis from TGE",
        "OXEND L2_REWARD_MAX_*_DIVISOR, ETH_BLS_INITIAL_REWARD; DOCS staking-reward-pool.md",
    )
    reward_basis_initial: float = _p(
        40_000_000.0,
        "SESH",
        "reward basis the network starts from (genesis provision)",
        "OXEND ETH_BLS_INITIAL_REWARD; DOCS staking-reward-pool.md",
        0.0,
        MAX_SUPPLY,
    )
    claim_cap_per_day: float = _p(
        2_000_000.0,
        "SESH/day",
        "network-wide claim limit (1,000,000 per 12 h)",
        "CONTRACTS ServiceNodeRewards.sol claimThreshold/claimCycle",
        0.0,
        MAX_SUPPLY,
    )
    pol_review_day: int = _p(
        1826,
        "day",
        "day after TGE when the protocol-owned-liquidity rule is reviewed (5 years)",
        "DOCS tokenomics/README.md (minimum 5 years)",
        0,
        100_000,
        integer=True,
    )
    pol_after_review: str = _p(
        "keep",
        "choice",
        "what the non-pool fee share does after the review day",
        "assumption",
        choices=("keep", "pool", "treasury"),
    )
    # --- initial state (assumptions where the sources are silent) --------------------------
    initial_stake_sesh: float = _p(
        37_500_000.0,
        "SESH",
        "SESH staked in nodes at TGE; nodes = floor(stake / requirement), the rest stays liquid",
        "DOCS session-network/README.md ('1,500+ Session Nodes') x 25,000 (F§3); held fixed "
        "across staking requirements",
        0.0,
        GENESIS_UNLOCKED_C + LOCKUP_A_STAKABLE + LOCKUP_F,
    )
    treasury_node_share: float = _p(
        0.10,
        "share",
        "share of nodes the treasury runs from its node fund (at TGE and as a target after)",
        "assumption; DOCS genesis table caps treasury nodes at 10% of the network (F§1)",
        0.0,
        TREASURY_NODE_NETWORK_SHARE_CAP,
    )
    testnet_staked_share: float = _p(
        0.5,
        "share",
        "share of lockup F (testnet incentives) staked at TGE",
        "assumption",
        0.0,
        1.0,
    )
    initial_price_usd: float = _p(
        0.10,
        "USD/SESH",
        "SESH price at TGE",
        "assumption; third-party quote of $0.11 on 2025-08-11 [3P]",
        1e-6,
        1e6,
    )
    initial_eth_usd: float = _p(
        2550.0,
        "USD/ETH",
        "ETH price at TGE",
        "assumption (market level on 2025-05-21)",
        1.0,
        1e7,
    )
    initial_amm_sesh: float = _p(
        5_000_000.0,
        "SESH",
        "SESH reserve of the Uniswap pool at TGE",
        "assumption",
        1.0,
        GENESIS_UNLOCKED_C,
    )
    amm_fee: float = _p(0.003, "share", "swap fee of the Uniswap pool", "assumption", 0.0, 0.1)
    # --- market -----------------------------------------------------------------------------
    price_model: str = _p(
        "impact",
        "choice",
        "price formation: decaying impact on consolidated depth (impact), the valuation alone "
        "with the pool arbitraged to it (exogenous), or the pool-only ratchet (pool_only)",
        "DESIGN.md; MARKET-NOTES.md recommended structure (assumption: see ASSUMPTIONS M3)",
        choices=("impact", "exogenous", "pool_only"),
    )
    impact_permanent_share: float = _p(
        0.0,
        "share",
        "share of a net flow's log price impact that never decays (impact model)",
        "assumption: mechanical, uninformed flow; Donier & Bonart 2015, Brokmann 2015 (~0), "
        "Bucci 2019 (1/3, incl. informed flow) as the top",
        0.0,
        1.0,
    )
    impact_half_life_days: float = _p(
        30.0,
        "days",
        "half-life of the transient part of price impact (impact model)",
        "assumption: Bucci 2019 (~50 days); a t^-1/2 kernel over a year matches ~26 days",
        0.5,
        3650.0,
    )
    outside_depth_share: float = _p(
        0.05,
        "share",
        "depth of other venues, as a CPMM-equivalent SESH reserve per SESH of market supply",
        "assumption: the pool id exists on Ethereum and Arbitrum (F§5); ~the modelled pool",
        0.0,
        10.0,
    )
    max_trade_reserve_share: float = _p(
        0.5,
        "share",
        "largest single AMM trade as a share of its input reserve (the rest is unmet)",
        "assumption: reliability; keeps every reserve > 0",
        0.001,
        10.0,
    )
    drift_convention: str = _p(
        "median",
        "choice",
        "drifts are log drifts (median flat at drift 0) or mean drifts (mean flat)",
        "assumption: median-flat favours neither P nor 1/P (ASSUMPTIONS M6)",
        choices=("median", "mean"),
    )
    eth_drift: float = _p(
        0.0,
        "1/year",
        "drift of ETH/USD (a log drift under 'median', a mean drift under 'mean')",
        "assumption",
        -2.0,
        2.0,
    )
    eth_volatility: float = _p(
        0.6,
        "1/sqrt(year)",
        "ETH/USD volatility",
        "assumption; to 5 over 100 years: the level is held within e^+-50 of launch (ASSUMPTIONS M2)",
        0.0,
        5.0,
    )
    ref_drift: float = _p(
        0.0,
        "1/year",
        "drift of the SESH valuation (a log drift under 'median', a mean drift under 'mean')",
        "assumption",
        -2.0,
        2.0,
    )
    ref_volatility: float = _p(
        0.8,
        "1/sqrt(year)",
        "volatility of the outside market's SESH valuation",
        "assumption; to 5 over 100 years: the level is held within e^+-50 of launch (ASSUMPTIONS M2)",
        0.0,
        5.0,
    )
    arbitrage_strength: float = _p(
        0.5,
        "share/day",
        "share of the log gap to the reference price traders close each day (pool_only)",
        "assumption; at least 0.01: with no arbitrage the pool_only pool follows a steady "
        "one-sided flow without bound, to non-finite prices",
        0.01,
        1.0,
    )
    impact_persistence: float = _p(
        0.25,
        "share",
        "share of a day's flow-driven pool move the reference price keeps (pool_only)",
        "assumption",
        0.0,
        1.0,
    )
    unlock_sell_share_strategic: float = _p(
        0.5,
        "share",
        "share of unlocked strategic-sale tokens (classes A and B) sold",
        "assumption: bought at a sale price, exit-motivated (ASSUMPTIONS V2)",
        0.0,
        1.0,
    )
    unlock_sell_share_ecosystem: float = _p(
        0.1,
        "share",
        "share of unlocked ecosystem and testnet tokens sold",
        "assumption: grants paid over years; only recipients sell (ASSUMPTIONS V2)",
        0.0,
        1.0,
    )
    unlock_sell_share_treasury_ops: float = _p(
        0.2,
        "share",
        "share of unlocked treasury operational tokens sold",
        "assumption: sells what funds fiat operations, holds runway (ASSUMPTIONS V2)",
        0.0,
        1.0,
    )
    unlock_sell_share_contributors: float = _p(
        0.3,
        "share",
        "share of unlocked contributor and advisor tokens sold",
        "assumption: tax and living costs; the former uniform value (ASSUMPTIONS V2)",
        0.0,
        1.0,
    )
    # --- demand (Session Pro and names) ----------------------------------------------------
    pro_launch_day: int = _p(
        191,
        "day",
        "day after TGE when Pro subscriptions start",
        "F§4: Android 1.30.0 with Pro prepared 2025-11-28 (day 191)",
        0,
        100_000,
        integer=True,
    )
    pro_subscribers_at_launch: float = _p(
        1_000.0, "subscribers", "Pro subscribers on launch day", "assumption", 0.0, 1e9
    )
    pro_subscribers_max: float = _p(
        40_000.0,
        "subscribers",
        "saturation level of Pro subscribers",
        "assumption",
        0.0,
        1e9,
    )
    pro_growth_rate: float = _p(
        0.01, "1/day", "logistic growth rate of Pro subscribers", "assumption", 0.0, 1.0
    )
    pro_plan_share_monthly: float = _p(
        0.4,
        "share",
        "share of Pro subscribers on the $2.49/month plan",
        "assumption (no data)",
        0.0,
        1.0,
    )
    pro_plan_share_quarterly: float = _p(
        0.2,
        "share",
        "share of Pro subscribers on the $5.99/3 months plan (the rest: $14.99/year)",
        "assumption (no data)",
        0.0,
        1.0,
    )
    app_store_commission: float = _p(
        0.15,
        "share",
        "share of Pro revenue the app stores keep",
        "Apple Small Business Program / renewals and Google Play subscriptions: 15%; 30% top",
        0.0,
        1.0,
    )
    pro_revenue_route: str = _p(
        "none",
        "choice",
        "where Pro revenue goes: stays fiat (none) or buys SESH for the pool and POL (pool)",
        "F§4: no code routes Pro revenue to the pool; 'pool' is the docs' intended flow",
        choices=("none", "pool"),
    )
    sns_deployed: bool = _p(
        False,
        "bool",
        "the Session Name Service is live and its fees buy SESH",
        "F§4: 'SNS has not yet been deployed'",
    )
    sns_launch_day: int = _p(
        730,
        "day",
        "day after TGE when the name service starts",
        "assumption (not deployed)",
        0,
        100_000,
        integer=True,
    )
    sns_names_at_launch: float = _p(
        500.0, "names", "registered names on the SNS launch day", "assumption", 0.0, 1e9
    )
    sns_names_max: float = _p(
        100_000.0,
        "names",
        "saturation level of registered names",
        "assumption",
        0.0,
        1e9,
    )
    sns_growth_rate: float = _p(
        0.01,
        "1/day",
        "logistic growth rate of registered names",
        "assumption",
        0.0,
        1.0,
    )
    sns_fee_usd_per_year: float = _p(
        5.0,
        "USD/year",
        "yearly registration or renewal fee per name",
        "assumption (draft SNS contract: admin-set fee, 365-day expiry)",
        0.0,
        10_000.0,
    )
    demand_volatility: float = _p(
        0.3,
        "log-sd/day",
        "daily log-normal noise on fee spending",
        "assumption",
        0.0,
        3.0,
    )
    # --- nodes and stakers ------------------------------------------------------------------
    operator_fee: float = _p(
        0.10,
        "share",
        "operator fee taken from a node's reward before the pro-rata split",
        "assumption; DOCS staking-reward-pool.md example uses 10%",
        0.0,
        1.0,
    )
    operator_stake_share: float = _p(
        0.25,
        "share",
        "operator's share of a node's stake",
        "ServiceNodeRewards.sol minimum operator contribution = requirement / 4",
        0.25,
        1.0,
    )
    node_opex_usd_per_month: float = _p(
        20.0,
        "USD/month",
        "cost of running one node",
        "assumption: documented hardware (4-8 GB RAM, 45 GB, 1 TB/month) at a mainstream 4 GB "
        "cloud plan; budget VPS $5-10, clouds $24-48",
        0.0,
        10_000.0,
    )
    node_entry_hurdle_apr: float = _p(
        0.10,
        "1/year",
        "net USD yield an outside entrant requires to start a node",
        "assumption: 4% risk-free plus a 6% premium for price risk and effort",
        -1.0,
        5.0,
    )
    node_exit_hurdle_apr: float = _p(
        0.0,
        "1/year",
        "net USD yield below which an incumbent node shuts down",
        "assumption: the shut-down condition (cash cost not covered); at most the entry hurdle",
        -1.0,
        5.0,
    )
    stake_buy_share: float = _p(
        0.5,
        "share",
        "share of new (non-restaked) nodes whose stake is bought on the market",
        "assumption: neutral split between outside buyers and holders' own wallets",
        0.0,
        1.0,
    )
    hurdle_noise: float = _p(
        0.02, "1/year", "daily noise on the hurdle rate", "assumption", 0.0, 1.0
    )
    yield_sensitivity: float = _p(
        0.10,
        "1/year",
        "yield gap at which entry/exit runs at its maximum rate",
        "assumption",
        1e-6,
        5.0,
    )
    max_entry_rate: float = _p(
        0.005,
        "share/day",
        "most nodes added per day, as a share of nodes",
        "assumption",
        0.0,
        1.0,
    )
    max_exit_rate: float = _p(
        0.005,
        "share/day",
        "most nodes leaving per day, as a share of nodes",
        "assumption",
        0.0,
        1.0,
    )
    entry_base_nodes: float = _p(
        100.0,
        "nodes",
        "network size entry is scaled by when the network is smaller than this",
        "assumption",
        0.0,
        10_000.0,
    )
    liquid_float_floor: float = _p(
        0.15,
        "share",
        "share of the circulating supply holders keep in wallets, unstaked",
        "assumption",
        0.0,
        1.0,
    )
    liquidation_rate: float = _p(
        0.01, "1/(node year)", "liquidations per node per year", "assumption", 0.0, 10.0
    )
    reward_claim_rate: float = _p(
        0.2,
        "share/day",
        "share of unclaimed rewards that nodes try to claim each day",
        "assumption",
        0.0,
        1.0,
    )
    reward_sell_share: float = _p(
        0.4, "share", "share of claimed rewards sold on the AMM", "assumption", 0.0, 1.0
    )
    reward_restake_share: float = _p(
        0.2,
        "share",
        "share of claimed rewards saved up to stake new nodes",
        "assumption",
        0.0,
        1.0,
    )
    exit_sell_share: float = _p(
        0.3, "share", "share of returned stake sold on the AMM", "assumption", 0.0, 1.0
    )
    # --- stress event -----------------------------------------------------------------------
    stress_day: int = _p(
        0,
        "day",
        "day of a market crash (0 = no crash)",
        "assumption",
        0,
        100_000,
        integer=True,
    )
    stress_price_drop: float = _p(
        0.0,
        "share",
        "fall of ETH/USD and the SESH reference price on the stress day",
        "assumption",
        0.0,
        0.99,
    )
    stress_exit_share: float = _p(
        0.0,
        "share",
        "share of unlocked nodes that request exit on the stress day",
        "assumption",
        0.0,
        1.0,
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
        if from_wallets + self.initial_amm_sesh > GENESIS_UNLOCKED_C:
            raise ParameterError(
                "invalid parameters 'initial_stake_sesh' + 'initial_amm_sesh': TGE stake and "
                f"liquidity must fit in the {GENESIS_UNLOCKED_C:,.0f} unlocked SESH, "
                f"got {from_wallets + self.initial_amm_sesh:,.0f}"
            )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def field_info(cls) -> dict[str, dict[str, Any]]:
        return {f.name: dict(f.metadata, default=f.default) for f in dataclasses.fields(cls)}

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
