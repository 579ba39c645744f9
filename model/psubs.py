"""The partial state update blocks: one day of the SESH economy, in order.

vesting -> governance -> foundation -> spend -> emissions -> rewards -> staking (treasury, node flows) -> market -> metrics. Each block's
policies see the state the previous block left; signals named `d_<variable>` are summed across a
block's policies (as cadCAD does) and added, other signals set the variable.
"""

from __future__ import annotations

from model.parts.emissions import policy_emission
from model.parts.foundation import policy_foundation
from model.parts.governance import policy_governance
from model.parts.market import policy_market
from model.parts.metrics import policy_metrics
from model.parts.rewards import policy_rewards
from model.parts.spending import policy_spend
from model.parts.staking import policy_node_flows, policy_treasury_stake
from model.parts.vesting import policy_vesting
from model.utils import add_delta, set_value


def _module_level(function):
    """Publish a generated update function under its name in this module.

    Process-based backends pickle functions by module and name; registering them here (where
    the PSUB list is built on import) lets a worker process find them.
    """
    function.__module__ = __name__
    return globals().setdefault(function.__qualname__, function)


def _adds(*names):
    return {name: _module_level(add_delta(name)) for name in names}


def _sets(*names):
    return {name: _module_level(set_value(name)) for name in names}


partial_state_update_blocks = [
    {
        "label": "vesting",
        "description": "Lockups A, B, D and F release tokens to wallets; each holder group sells "
        "its share at the opening price (the day's net flow starts here); the treasury node fund "
        "goes to its reserve.",
        "policies": {"vesting": policy_vesting},
        "variables": {
            **_sets("day", "vesting_locked", "daily_net_flow", "daily_unmet_trade"),
            **_adds(
                "locked_a",
                "locked_b",
                "locked_d",
                "locked_f",
                "locked_staked_a",
                "locked_staked_f",
                "circulating",
                "node_fund_reserve",
                "cum_unlocked",
                "cum_sold",
                "cliff_sold",
            ),
        },
    },
    {
        "label": "governance",
        "description": "The owner's levers (staking requirement, claim cap, payout rate) as "
        "state; a rule may lower the requirement when active nodes stay low, releasing each "
        "node's stake above it.",
        "policies": {"governance": policy_governance},
        "variables": {
            **_sets(
                "gov_staking_requirement",
                "gov_claim_cap_per_day",
                "gov_pool_payout_rate",
                "gov_low_node_days",
            ),
            **_adds(
                "staked",
                "locked_a",
                "locked_staked_a",
                "vesting_locked",
                "circulating",
                "node_fund_reserve",
                "unstake_queue",
                "unstaking",
            ),
        },
    },
    {
        "label": "foundation",
        "description": "The foundation receives its unlocked SESH and donations, sells SESH "
        "when its runway is short, pays its cost (cut once it cannot); unfunded development "
        "lowers app health.",
        "policies": {"foundation": policy_foundation},
        "variables": {
            **_sets(
                "foundation_cash_usd",
                "foundation_sesh",
                "foundation_cost_cut",
                "foundation_funded_share",
                "app_health",
                "daily_foundation_sold",
            ),
            **_adds("daily_net_flow", "cum_sold"),
        },
    },
    {
        "label": "spend",
        "description": "Monthly users move; Pro (when routed) and name fees in USD buy SESH "
        "against the consolidated depth at the impact price; "
        "the pool share goes to the Staking Reward Pool, the rest is zapped into protocol-owned "
        "liquidity.",
        "policies": {"spend": policy_spend},
        "variables": {
            **_sets(
                "monthly_users",
                "pro_launch_day_drawn",
                "sns_launch_day_drawn",
                "pro_subscribers",
                "sns_names",
                "daily_fee_usd",
                "daily_fee_spent",
                "daily_pool_inflow",
                "daily_pol_added",
            ),
            **_adds(
                "reward_pool",
                "circulating",
                "amm_sesh",
                "amm_quote",
                "amm_lp_supply",
                "pol_lp",
                "cum_fee_usd",
                "cum_pool_inflow",
                "cum_pol_added",
                "daily_net_flow",
                "daily_unmet_trade",
            ),
        },
    },
    {
        "label": "emissions",
        "description": "The Staking Reward Pool pays out 15.1%/yr (simple) of its balance, "
        "through the node software's clamped reward basis when launch smoothing is on.",
        "policies": {"emission": policy_emission},
        "variables": {
            **_sets("daily_emission", "reward_basis"),
            **_adds("reward_pool", "unclaimed_rewards", "cum_emission"),
        },
    },
    {
        "label": "rewards",
        "description": "Rewards split equally per node; claims of rewards and matured stake "
        "under the network cap; claimants sell or save part of them.",
        "policies": {"rewards": policy_rewards},
        "variables": {
            **_sets("reward_per_node", "unstake_queue", "daily_claimed"),
            **_adds(
                "unclaimed_rewards",
                "unstaking",
                "circulating",
                "restake_pending",
                "daily_net_flow",
                "cum_sold",
            ),
        },
    },
    {
        "label": "staking",
        "description": "The treasury keeps its share of nodes; nodes join above the entry hurdle "
        "and leave below the exit hurdle, in whole nodes; exits and liquidations enter the 15-day "
        "unlock queue.",
        "policies": {
            "treasury_stake": policy_treasury_stake,
            "node_flows": policy_node_flows,
        },
        "variables": {
            **_sets("daily_nodes_joined", "daily_nodes_left"),
            **_adds(
                "staked",
                "nodes",
                "circulating",
                "restake_pending",
                "unstake_queue",
                "unstaking",
                "reward_pool",
                "daily_pool_inflow",
                "cum_pool_inflow",
                "treasury_nodes",
                "migrated_nodes",
                "locked_a",
                "locked_staked_a",
                "vesting_locked",
                "node_fund_reserve",
                "daily_net_flow",
            ),
        },
    },
    {
        "label": "market",
        "description": "ETH/USD and the SESH valuation move; the day's net flow moves the price "
        "by the price model; capped arbitrage trades the AMM towards it; the closing price.",
        "policies": {"market": policy_market},
        "variables": {
            **_sets(
                "eth_usd",
                "ref_price_usd",
                "price_usd",
                "pool_price_usd",
                "market_depth",
                "impact_permanent",
                "impact_transient",
            ),
            **_adds("amm_sesh", "amm_quote", "circulating", "daily_unmet_trade"),
        },
    },
    {
        "label": "metrics",
        "description": "Yields, supply measures, net pool flow, POL depth, conservation residual.",
        "policies": {"metrics": policy_metrics},
        "variables": _sets(
            "circulating_supply",
            "staking_ratio",
            "node_apr_sesh",
            "node_net_apr",
            "node_net_usd_per_day",
            "operator_apr_sesh",
            "net_pool_flow",
            "pol_value_usd",
            "market_cap_usd",
            "impact_factor",
            "conservation_residual",
        ),
    },
]
