"""Validation: the model against the figures Session has published.

`validation_table()` runs the model where needed and returns one row per published figure: what
the source says, what the model gives, the tolerance, and whether they agree. The validation test
module and `notebooks/00_validation.ipynb` both show this table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.engines.registry import RunSpec, simulate
from model import Parameters, initial_state
from model.constants import (
    BLOCKS_PER_DAY,
    DAYS_PER_YEAR,
    DOCUMENTED_DAY1_REWARD,
    LOCKUP_A,
    LOCKUP_B,
    LOCKUP_D,
    LOCKUP_F,
    MAX_SUPPLY,
    POOL_AT_TGE,
    REWARD_MAX_INCREASE_PER_BLOCK,
    months_after_tge,
)
from model.parts.emissions import daily_payout
from model.parts.metrics import STOCKS

GENESIS = "DOCS genesis-tokenomics.md"
POOL_DOC = "DOCS staking-reward-pool.md"
CONTRACT = "CONTRACTS RewardRatePool.sol"

# With no fee inflows and no liquidations the pool only pays out.
NO_INFLOWS = {
    "pro_conversion": 0.0,
    "sns_names_per_user": 0.0,
    "liquidation_rate": 0.0,
}


def run(years: float, seed: int, overrides: dict | None = None) -> pd.DataFrame:
    """One run of the model (vectorized engine) with `overrides`."""
    spec = RunSpec(runs=1, years=years, seed=seed)
    return simulate([Parameters.from_overrides(overrides)], spec)


def _row(figure, published, model, source, tolerance, relative=True):
    error = abs(model - published) / (abs(published) if relative and published else 1.0)
    return {
        "figure": figure,
        "published": published,
        "model": model,
        "source": source,
        "tolerance": f"{tolerance:g} {'relative' if relative else 'absolute'}",
        "agrees": bool(error <= tolerance),
    }


def _released_by(frame: pd.DataFrame, day: int) -> float:
    """Lockup tokens released (to wallets or as unlocked stake) by the end of `day`."""
    at = frame[frame["timestep"] == day].iloc[0]
    locked = at["vesting_locked"] + at["locked_staked_a"] + at["locked_staked_f"]
    return LOCKUP_A + LOCKUP_B + LOCKUP_D + LOCKUP_F - locked


def validation_table(seed: int = 0) -> pd.DataFrame:
    rows = []
    rate = Parameters().pool_payout_rate  # the contract's 0.151 a year
    tge = initial_state()
    rows.append(
        _row(
            "Max supply (SESH)",
            MAX_SUPPLY,
            sum(tge[stock] for stock in STOCKS),  # the seven stocks the model tracks
            GENESIS,
            0.0,
        )
    )
    rows.append(
        _row("Circulating at TGE (SESH)", 79_000_000.0, tge["circulating_supply"], GENESIS, 0.0)
    )
    rows.append(
        _row("Staking Reward Pool at TGE (SESH)", POOL_AT_TGE, tge["reward_pool"], GENESIS, 0.0)
    )
    rows.append(
        _row(
            "Locked at TGE (SESH)",
            161_000_000.0 - POOL_AT_TGE,  # "the remaining 161,000,000 were locked", pool included
            tge["vesting_locked"] + tge["locked_staked_a"] + tge["locked_staked_f"],
            GENESIS,
            0.0,
        )
    )

    # Published schedules in months: at month 24, A and B are fully out and D is half way
    # through its 24-month release; the model releases D daily (365 of 731 days by then).
    smoothed = run(years=3.1, seed=seed)
    for months, published, tolerance in [
        (12, LOCKUP_F, 1e-9),
        (24, LOCKUP_F + LOCKUP_A + LOCKUP_B + LOCKUP_D / 2, 1e-3),
        (36, LOCKUP_F + LOCKUP_A + LOCKUP_B + LOCKUP_D, 1e-9),
    ]:
        day = months_after_tge(months)
        rows.append(
            _row(
                f"Lockups released by month {months} (SESH)",
                published,
                _released_by(smoothed, day),
                GENESIS + " (lockup schedules)",
                tolerance,
            )
        )

    day1 = float(smoothed.loc[smoothed["timestep"] == 1, "daily_emission"].iloc[0])
    # the node software's basis may rise by this much in a day's blocks
    clamp = (1 + REWARD_MAX_INCREASE_PER_BLOCK) ** BLOCKS_PER_DAY - 1
    rows.append(
        _row(
            "Day-1 network reward on the 40M provision (SESH)",
            DOCUMENTED_DAY1_REWARD,
            day1,
            POOL_DOC + " (+ intra-day clamp)",
            clamp,
        )
    )
    pool_rule = daily_payout(smoothed["reward_pool"].shift(1), rate)
    caught_up = smoothed["daily_emission"] >= 0.999 * pool_rule
    ramp_days = int(smoothed.loc[caught_up & (smoothed["timestep"] > 0), "timestep"].iloc[0])
    rows.append(
        _row(
            "Days to ramp to the real pool balance",
            30.0,
            float(ramp_days),
            POOL_DOC + " ('approximately 30 days')",
            3.0,
            relative=False,
        )
    )

    drained = run(years=5, seed=seed, overrides=dict(NO_INFLOWS, launch_smoothing=False))
    pool = drained.set_index("timestep")["reward_pool"]
    rows.append(
        _row(
            "Share of pool released in a year, no inflows",
            0.14,
            1 - pool.loc[DAYS_PER_YEAR] / pool.loc[0],
            CONTRACT + " comment (14%/yr)",
            0.002,
            relative=False,
        )
    )
    below_half = pool[pool <= pool.loc[0] / 2]
    half_life = float(below_half.index[0]) / DAYS_PER_YEAR if len(below_half) else math.inf
    rows.append(
        _row(
            "Pool half-life with no inflows (years)",
            4.59,
            half_life,
            "facts §2 (ln 2 / 0.151)",
            0.01,
        )
    )

    # The formula is the plain contract rule; with smoothing the basis can lag it within a day.
    p = Parameters()
    plain = run(years=0.6, seed=seed, overrides={"launch_smoothing": False})
    day = plain[plain["timestep"] == 200].iloc[0]
    before = plain[plain["timestep"] == 199].iloc[0]
    per_node_formula = (
        rate
        * (before["reward_pool"] + day["daily_fee_spent"] * p.fee_pool_share)
        / (DAYS_PER_YEAR * before["nodes"])
    )
    rows.append(
        _row(
            "Per-node daily reward 0.151 x pool / (365 x nodes), day 200",
            per_node_formula,
            float(day["reward_per_node"]),
            POOL_DOC,
            1e-9,
        )
    )
    return pd.DataFrame(rows)


def all_agree(table: pd.DataFrame) -> bool:
    return bool(np.all(table["agrees"]))
