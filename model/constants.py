"""Protocol facts, each with its source (see ../shared/session-token-facts.md for the full table).

These are the values that the contracts and the node software fix. Behavioural choices live in
`model.parameters` instead.
"""

from __future__ import annotations

import datetime as _dt

# Token genesis. DOCS session-token-sesh/get-session-token-sesh/README.md
TGE_DATE = _dt.date(2025, 5, 21)

# CONTRACTS contracts/SESH.sol, scripts/deploy-l1-sesh.js: minted once, no mint or burn.
MAX_SUPPLY = 240_000_000.0

# Genesis allocation by lockup class. DOCS session-token-sesh/tokenomics/genesis-tokenomics.md
# (table as edited 2025-05-24); class sums are arithmetic on that table [INF].
GENESIS_UNLOCKED_C = 79_000_000.0  # "Circulating at TGE: 79,000,000"
LOCKUP_A = (
    19_489_700.0  # staking enabled, cliff at 24 months (TokenVestingStaking releases at `end`)
)
LOCKUP_B = 39_332_750.0  # not stakable, linear months 13-24 ("8.33% claimable per month")
LOCKUP_D = 38_000_000.0  # not stakable, linear months 13-36 ("4.16% claimable per month")
LOCKUP_F = 1_000_000.0  # testnet incentives, stakable, cliff at 90 days
POOL_AT_TGE = 63_177_550.0  # lockup E, the Staking Reward Pool balance at TGE
# The part of lockup A that may be staked while locked: the treasury for operating "up to 10% of
# the network" (that cap bounds the parameter `treasury_node_share`).
LOCKUP_A_STAKABLE = 15_000_000.0

# Node software (OXEND src/cryptonote_config.h, src/oxen_economy.h, src/network_config/mainnet.h)
BLOCKS_PER_DAY = 720  # TARGET_BLOCK_TIME = 2 min
REWARD_MAX_INCREASE_PER_BLOCK = 1 / 50_000  # L2_REWARD_MAX_INCREASE_DIVISOR
REWARD_MAX_DECREASE_PER_BLOCK = 1 / 25_000  # L2_REWARD_MAX_DECREASE_DIVISOR
UNLOCK_DAYS = 15  # UNLOCK_DURATION = 15 * 24h: a node's stake waits 15 days after an exit request
# A day of the network's documented reward on the genesis provision: 0.151 x 40M / 365.
# DOCS session-network/staking/staking-reward-pool.md
DOCUMENTED_DAY1_REWARD = 16_547.95

# Liquidation ratios liquidator:pool:recipient = 3:17:9980 of 10,000.
# CONTRACTS scripts/deploy-common.js, ServiceNodeRewards.sol (setLiquidationRatios)
LIQUIDATOR_SHARE = 0.0003
LIQUIDATION_POOL_SHARE = 0.0017
LIQUIDATION_RETURNED_SHARE = 0.9980

# The one year length: RewardRatePool divides by `365 days`, and every per-year rate of the model
# (prices, APRs, volatilities, liquidations) uses the same year.
DAYS_PER_YEAR = 365


def months_after_tge(months: int) -> int:
    """Days from TGE to the same day-of-month `months` calendar months later (TGE is the 21st)."""
    year = TGE_DATE.year + (TGE_DATE.month - 1 + months) // 12
    month = (TGE_DATE.month - 1 + months) % 12 + 1
    return (_dt.date(year, month, TGE_DATE.day) - TGE_DATE).days


# Lockup release windows in days after TGE: (start, end) of a linear release; a cliff at day D is
# the one-day window (D - 1, D). DOCS genesis-tokenomics.md lockup definitions.
VESTING_WINDOWS = {
    "a": (months_after_tge(24) - 1, months_after_tge(24)),
    "b": (months_after_tge(12), months_after_tge(24)),
    "d": (months_after_tge(12), months_after_tge(36)),
    "f": (89, 90),
}
STAKABLE_LOCKUPS = ("a", "f")

# The lockup classes by holder group (SESH), from the genesis table (DOCS genesis-tokenomics.md,
# F§1); each class's groups sum to its total exactly. Unlock selling is set per group.
LOCKUP_GROUPS = {
    "a": {"node_fund": 15_000_000.0, "strategic": 4_489_700.0},
    "b": {"ecosystem": 30_000_000.0, "strategic": 8_332_750.0, "advisors": 1_000_000.0},
    "d": {"treasury_ops": 27_000_000.0, "contributors": 11_000_000.0},
    "f": {"testnet": 1_000_000.0},
}
# Lockup A's part that is not the treasury node fund: it unlocks at the cliff like the rest.
LOCKUP_A_STRATEGIC = LOCKUP_GROUPS["a"]["strategic"]
# The treasury's node fund "may only be used for operating up to 10% of the Session Node network"
# (DOCS genesis-tokenomics.md): the cap on the treasury's share of nodes.
TREASURY_NODE_NETWORK_SHARE_CAP = 0.10

# Session Pro as published on the website on 2026-03-13 ("Pro Beta", App Store and Google Play
# only; session-website lib/proBackend.ts): USD per plan period, and periods per year.
PRO_PRICE_MONTHLY_USD = 2.49  # per 30 days; 12 a year
PRO_PRICE_QUARTERLY_USD = 5.99  # per 3 months; 4 a year
PRO_PRICE_YEARLY_USD = 14.99
