"""Emissions from the Staking Reward Pool.

The contract rule (CONTRACTS RewardRatePool.sol): payout = balance * 0.151 * elapsed / 365 days, a
simple annual rate on the current balance; with one payout a day that is balance * 0.151 / 365.

Launch smoothing (OXEND): the network pays each 2-minute block a reward from its own reward basis,
which starts at the 40,000,000 genesis provision and moves towards the pool balance by at most
+1/50,000 or -1/25,000 per block; it took about 30 days to reach the real 63,177,550 balance
(DOCS staking-reward-pool.md). With smoothing on, what leaves the pool each day is what the network
pays; the contract's extra release during the ramp stays undistributed in the rewards contract, and
the model counts it as still in the pool (see ASSUMPTIONS.md).
"""

from __future__ import annotations

import math

import numpy as np

from model.constants import (
    BLOCKS_PER_DAY,
    DAYS_PER_YEAR,
    REWARD_MAX_DECREASE_PER_BLOCK,
    REWARD_MAX_INCREASE_PER_BLOCK,
)
from model.types import Number, Params, State
from model.utils import clip


def contract_payout(balance, annual_rate, elapsed_days):
    """RewardRatePool.calculatePayoutAmount, in days: balance * rate * elapsed / 365."""
    return balance * annual_rate * elapsed_days / DAYS_PER_YEAR


def daily_payout(balance, annual_rate):
    """`contract_payout` for one day (elapsed = 1: the same number, one multiplication fewer)."""
    return balance * annual_rate / DAYS_PER_YEAR


def clamped_basis_day(
    basis,
    target,
    blocks=BLOCKS_PER_DAY,
    up=REWARD_MAX_INCREASE_PER_BLOCK,
    down=REWARD_MAX_DECREASE_PER_BLOCK,
):
    """One day of the per-block clamp on the reward basis.

    Each block sets basis <- clamp(target, basis * (1 - down), basis * (1 + up)) and pays that
    basis's reward. Returns (sum of the day's block bases, basis at the end of the day); the
    daily reward is that sum * rate / (365 * blocks).
    """
    basis = np.maximum(basis, 1e-12)
    target = np.maximum(target, 1e-12)
    rising = target >= basis
    # the growth factor takes one of two values: their logs and day powers are worked out once
    growth = np.where(rising, 1.0 + up, 1.0 - down)
    log_growth = np.where(rising, math.log(1.0 + up), math.log(1.0 - down))
    # Blocks whose clamped basis is still short of the target: b * g^k stays on the wrong side.
    steps_to_target = np.log(target / basis) / log_growth
    capped = clip(np.ceil(steps_to_target - 1e-12) - 1.0, 0.0, blocks)
    capped_sum = basis * growth * (growth**capped - 1.0) / (growth - 1.0)
    total = capped_sum + (blocks - capped) * target
    full_day = np.where(rising, (1.0 + up) ** blocks, (1.0 - down) ** blocks)
    end = np.where(capped >= blocks, basis * full_day, target)
    return total, end


def policy_emission(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the day's payout from the Staking Reward Pool to unclaimed rewards."""
    pool = previous_state["reward_pool"]
    rate = previous_state["gov_pool_payout_rate"]  # the lever (model.parts.governance)
    smoothing = params["launch_smoothing"]
    # which of the two rules to work out: a branch on the parameters (default: smoothing on
    # for every trajectory, so the contract's own rule is not needed)
    if params["any_smoothing"]:
        basis_sum, basis_end = clamped_basis_day(previous_state["reward_basis"], pool)
        emission = basis_sum * rate / (DAYS_PER_YEAR * BLOCKS_PER_DAY)
    if not params["all_smoothing"]:
        plain = daily_payout(pool, rate)
        emission = np.where(smoothing, emission, plain) if params["any_smoothing"] else plain
        basis_end = np.where(smoothing, basis_end, pool) if params["any_smoothing"] else pool
    # No nodes means no blocks and so no rewards: the pool keeps its balance.
    emission = np.where(previous_state["nodes"] > 0, np.minimum(emission, pool), 0.0)
    return {
        "daily_emission": emission,
        "reward_basis": basis_end,
        "d_reward_pool": -emission,
        "d_unclaimed_rewards": emission,
        "d_cum_emission": emission,
    }
