"""Unit type aliases and the typed contract of the state and the parameters.

Each alias is `Annotated[<number>, "<unit>"]`: to Python and numpy it is a plain float (or a numpy
array of them when the vectorized engine runs many trajectories at once), so the same functions
serve every engine; the unit string is there for readers and is the one record of each
parameter's unit (`model.parameters.Parameters.field_info` reads it from `Params`).

`State` lists every state variable and `Params` every parameter a policy reads, so a typo in a
key is caught by a type checker and a variable or parameter added in one place but not the other
fails `tests/test_types.py`.
"""

# No `from __future__ import annotations` here: TypedDict only sees `NotRequired` in evaluated
# annotations (Python 3.11).
from collections.abc import Callable
from typing import Annotated, NotRequired, TypedDict

import numpy as np

Number = float | np.ndarray

# Amounts
SESH = Annotated[Number, "SESH"]  # whole tokens (the 9 decimals are below model resolution)
ETH = Annotated[Number, "ETH"]  # quote-asset reserve of the Uniswap pool
USD = Annotated[Number, "USD"]
LP = Annotated[Number, "LP"]  # liquidity-pool shares of the Uniswap pool
Nodes = Annotated[Number, "nodes"]  # whole nodes, held as floats so arrays stay homogeneous
Subscribers = Annotated[Number, "subscribers"]
Names = Annotated[Number, "names"]
Users = Annotated[Number, "users"]  # monthly active users of the Session app
Names_per_user = Annotated[Number, "names/user"]
Days = Annotated[Number, "day"]  # a day number: days since TGE (day 0)
Duration_days = Annotated[Number, "days"]  # a length of time, in days
Log_price = Annotated[Number, "log"]  # a natural-log price offset (0 = none)
Factor = Annotated[Number, "factor"]  # a multiplicative factor (1 = none)
# Stake in the unlock queue, one slot per day to maturity: shape (..., UNLOCK_DAYS + 1)
SESH_queue = Annotated[np.ndarray, "SESH"]

# Prices and ratios
USD_per_SESH = Annotated[Number, "USD/SESH"]
USD_per_ETH = Annotated[Number, "USD/ETH"]
SESH_per_node = Annotated[Number, "SESH/node"]
Share = Annotated[Number, "share"]  # a fraction in [0, 1]

# Rates
SESH_per_day = Annotated[Number, "SESH/day"]
SESH_per_node_day = Annotated[Number, "SESH/(node day)"]
USD_per_day = Annotated[Number, "USD/day"]
USD_per_month = Annotated[Number, "USD/month"]
USD_per_year = Annotated[Number, "USD/year"]
Nodes_per_day = Annotated[Number, "nodes/day"]
Share_per_day = Annotated[Number, "share/day"]
Per_year = Annotated[Number, "1/year"]  # an annual rate, e.g. 0.151
Per_day = Annotated[Number, "1/day"]
Per_node_year = Annotated[Number, "1/(node year)"]
Per_sqrt_year = Annotated[Number, "1/sqrt(year)"]  # a volatility
Log_sd_per_day = Annotated[Number, "log-sd/day"]  # a daily log-normal noise
Log_sd = Annotated[Number, "log-sd"]  # a log-normal spread across a population
Log_drift_per_day = Annotated[Number, "log/day"]  # a daily drift of a log price
USD_per_subscriber_day = Annotated[Number, "USD/(subscriber day)"]
USD_per_name_day = Annotated[Number, "USD/(name day)"]

# Switches (a numpy array of them across trajectories in the vectorized engine)
Flag = Annotated[bool | np.ndarray, "bool"]
Choice = Annotated[str | np.ndarray, "choice"]


class State(TypedDict):
    """Every state variable, as `model.state.initial_state` builds it (one day = one timestep)."""

    day: Days
    # the seven stocks, which always sum to the max supply
    circulating: SESH
    vesting_locked: SESH
    reward_pool: SESH
    staked: SESH
    unstaking: SESH
    unclaimed_rewards: SESH
    amm_sesh: SESH
    # lockup detail: unstaked locked balances, and locked tokens that sit in nodes
    locked_a: SESH
    locked_b: SESH
    locked_d: SESH
    locked_f: SESH
    locked_staked_a: SESH
    locked_staked_f: SESH
    # market
    amm_quote: ETH
    amm_lp_supply: LP
    pol_lp: LP
    eth_usd: USD_per_ETH
    price_usd: USD_per_SESH
    ref_price_usd: USD_per_SESH
    pool_price_usd: USD_per_SESH
    market_depth: SESH
    impact_permanent: Log_price
    impact_transient: Log_price
    # network
    nodes: Nodes
    treasury_nodes: Nodes
    migrated_nodes: Nodes  # of the non-treasury nodes, those run since TGE (Oxen migration)
    node_fund_reserve: SESH
    reward_basis: SESH
    reward_per_node: SESH_per_node_day
    restake_pending: SESH
    unstake_queue: SESH_queue
    # demand
    monthly_users: Users
    pro_launch_day_drawn: Days
    sns_launch_day_drawn: Days
    pro_subscribers: Subscribers
    sns_names: Names
    # the day's flows
    daily_emission: SESH_per_day
    daily_pool_inflow: SESH_per_day
    daily_fee_usd: USD_per_day
    daily_fee_spent: SESH_per_day
    daily_pol_added: SESH_per_day
    daily_claimed: SESH_per_day
    daily_nodes_joined: Nodes_per_day
    daily_nodes_left: Nodes_per_day
    daily_net_flow: SESH_per_day
    daily_unmet_trade: SESH_per_day
    # cumulative flows since TGE
    cum_emission: SESH
    cum_pool_inflow: SESH
    cum_pol_added: SESH
    cum_fee_usd: USD
    cum_sold: SESH
    cum_unlocked: SESH
    cliff_sold: SESH  # the class A cliff's sale made so far (a memo: no stock moves)
    # end-of-day metrics
    circulating_supply: SESH
    staking_ratio: Share
    node_apr_sesh: Per_year
    node_net_apr: Per_year
    node_net_usd_per_day: USD_per_day
    operator_apr_sesh: Per_year
    net_pool_flow: SESH_per_day
    pol_value_usd: USD
    market_cap_usd: USD
    impact_factor: Factor
    conservation_residual: SESH
    # the foundation and the app (issue 21 item 2; model/parts/foundation.py)
    foundation_cash_usd: USD
    foundation_sesh: SESH  # a sub-ledger of `circulating`
    foundation_cost_cut: Share  # 0 before the cut, 1 after
    foundation_funded_share: Share
    app_health: Share
    daily_foundation_sold: SESH_per_day
    # governance levers (issue 21 item 6; model/parts/governance.py)
    gov_staking_requirement: SESH_per_node
    gov_claim_cap_per_day: SESH_per_day
    gov_pool_payout_rate: Per_year
    gov_low_node_days: Duration_days


class Params(TypedDict):
    """What policies receive as `params`: every field of `model.parameters.Parameters`, the
    entries derived from them once per run (`model.derived.with_derived`), plus the keys the
    engine adds (where the random draws are, see `model.stochastic.shock`)."""

    # protocol facts
    staking_requirement: SESH_per_node
    pool_payout_rate: Per_year
    fee_pool_share: Share
    launch_smoothing: Flag
    reward_basis_initial: SESH
    claim_cap_per_day: SESH_per_day
    pol_review_day: Days
    pol_after_review: Choice
    # initial state
    initial_stake_sesh: SESH
    treasury_node_share: Share
    testnet_staked_share: Share
    initial_price_usd: USD_per_SESH
    initial_eth_usd: USD_per_ETH
    initial_amm_sesh: SESH
    amm_fee: Share
    # market
    price_model: Choice
    impact_permanent_share: Share
    impact_half_life_days: Duration_days
    outside_depth_share: Share
    max_trade_reserve_share: Share
    drift_convention: Choice
    eth_drift: Per_year
    eth_volatility: Per_sqrt_year
    ref_drift: Per_year
    ref_volatility: Per_sqrt_year
    arbitrage_strength: Share_per_day
    impact_persistence: Share
    unlock_sell_share_strategic: Share
    unlock_sell_share_ecosystem: Share
    unlock_sell_share_treasury_ops: Share
    unlock_sell_share_contributors: Share
    cliff_sell_start_day: Days
    cliff_sell_end_day: Days
    cliff_presell_share: Share
    # demand
    initial_monthly_users: Users
    monthly_users_growth: Per_year
    monthly_users_volatility: Per_sqrt_year
    pro_conversion: Share
    pro_ramp_early_days: Duration_days
    pro_ramp_early_share: Share
    pro_ramp_full_days: Duration_days
    pro_launch_day_earliest: Days
    pro_launch_day_latest: Days
    pro_plan_share_monthly: Share
    pro_plan_share_quarterly: Share
    app_store_commission: Share
    pro_revenue_route: Choice
    sns_deployed: Flag
    sns_launch_day_earliest: Days
    sns_launch_day_latest: Days
    sns_names_per_user: Names_per_user
    sns_ramp_days: Duration_days
    sns_fee_usd_per_year: USD_per_year
    demand_volatility: Log_sd_per_day
    # nodes and stakers
    operator_fee: Share
    operator_stake_share: Share
    node_opex_usd_per_month: USD_per_month
    node_entry_hurdle_apr: Per_year
    node_exit_hurdle_apr: Per_year
    node_opex_spread: Log_sd
    entry_hurdle_spread: Per_year
    entrant_pool_nodes: Nodes
    migrated_opex_factor: Factor
    migrated_hurdle_offset: Per_year
    migrated_hurdle_spread: Per_year
    stake_buy_share: Share
    hurdle_noise: Per_year
    yield_sensitivity: Per_year
    max_entry_rate: Share_per_day
    max_exit_rate: Share_per_day
    entry_base_nodes: Nodes
    liquid_float_floor: Share
    liquidation_rate: Per_node_year
    reward_claim_rate: Share_per_day
    reward_sell_share: Share
    reward_restake_share: Share
    exit_sell_share: Share
    # stress event
    stress_day: Days
    stress_price_drop: Share
    stress_exit_share: Share
    # the foundation and the app
    foundation_holdings: Choice
    foundation_cash_at_tge_usd: USD
    foundation_cost_usd_per_day: USD_per_day
    foundation_reduced_cost_usd_per_day: USD_per_day
    foundation_donations_usd_per_day: USD_per_day
    foundation_appeal_day: Days
    foundation_appeal_days: Duration_days
    foundation_donations_after_usd_per_day: USD_per_day
    foundation_runway_days: Duration_days
    foundation_sell_share_per_day: Share_per_day
    foundation_failure_day: Days
    app_health_decay_per_day: Per_day
    app_failure_hurdle_premium: Per_year
    # governance levers as rules
    gov_rule_on: Flag
    gov_node_level: Nodes
    gov_node_days: Duration_days
    gov_requirement_step: SESH_per_node
    gov_requirement_floor: SESH_per_node
    # derived once per run from the parameters (model.derived)
    impact_on: Flag
    pool_only: Flag
    any_pool_only: bool
    all_impact: bool
    stress_days: frozenset[int]
    any_smoothing: bool
    all_smoothing: bool
    eth_log_drift_per_day: Log_drift_per_day
    eth_volatility_per_day: Log_sd_per_day
    ref_log_drift_per_day: Log_drift_per_day
    ref_volatility_per_day: Log_sd_per_day
    eth_usd_bounds: tuple[USD_per_ETH, USD_per_ETH]  # (low, high): the numerical guard's range
    ref_price_bounds: tuple[USD_per_SESH, USD_per_SESH]
    impact_retention: Factor
    impact_transient_share: Share
    stress_price_factor: Factor
    pro_route_pool: Flag
    pol_to_pool_after_review: Flag
    pol_to_treasury_after_review: Flag
    pro_net_usd_per_subscriber_day: USD_per_subscriber_day
    sns_usd_per_name_day: USD_per_name_day
    users_log_drift_per_day: Log_drift_per_day
    users_volatility_per_day: Log_sd_per_day
    any_sns_deployed: bool
    any_fee_buys: bool
    demand_mean_correction: Log_price
    node_opex_usd_per_year: USD_per_year
    node_opex_usd_per_day: USD_per_day
    stake_from_holdings_per_node: SESH_per_node
    operator_reward_share: Share
    operator_stake: SESH
    unlock_sell_share_by_class: dict[str, Share]
    migrated_nodes_at_tge: Nodes
    migrated_opex_usd_per_year: USD_per_year
    cliff_plan: tuple  # model.parts.vesting.CliffPlan: the class A cliff's selling window
    # the engine's key: the state -> its trajectory's (or trajectories') draws, by driver and day
    _drivers: NotRequired[Callable[[State], dict[str, np.ndarray]]]
