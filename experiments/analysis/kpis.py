"""Key performance indicators: one number per trajectory, reduced across runs per subset.

Each run-level KPI is a function of one trajectory's frame (rows in timestep order, timestep 0 the
TGE state) returning a float; `summarize` reduces them to mean, P5, P50 and P95 over the runs of a
subset. Subset-level KPIs (a share of runs) are computed from the run-level table and have a single
`value`.

Conventions, chosen so that a number never claims more than the run shows:
- "at N years" is the state at timestep 365*N; a shorter horizon gives NaN, not the last day.
- "over the last year" is the mean over the last 365 days (all days after TGE when shorter).
- Fee parity is the first day on which the 30-day trailing mean of pool inflow is positive and at
  least the 30-day trailing mean of emissions; daily demand noise (log-sd 0.3) would otherwise let
  single lucky days count. NaN when it never happens within the horizon.
- The share of runs at parity within 730 days is NaN when a run ends earlier without parity.
- Statistics skip NaN runs (`n` says how many runs had a value); all-NaN gives NaN, which
  kpis.json writes as null and kpis.csv as an empty value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.constants import DAYS_PER_YEAR, MAX_SUPPLY

PARITY_WINDOW_DAYS = 30
PARITY_DEADLINE_DAYS = 730
QUANTILES = {"p5": 0.05, "p50": 0.50, "p95": 0.95}


@dataclass(frozen=True)
class KPI:
    name: str
    unit: str
    description: str
    function: Callable[[pd.DataFrame], float]

    @property
    def min_days(self) -> int:
        """The shortest horizon (days after TGE) on which this KPI has a value."""
        return int(getattr(self.function, "min_days", 1))


@dataclass(frozen=True)
class SubsetKPI:
    """A KPI of a whole subset, computed from its table of run-level KPIs."""

    name: str
    unit: str
    description: str
    function: Callable[[pd.DataFrame], float]


# --- helpers on one trajectory ----------------------------------------------------------------


def at_day(column: str, day: int) -> Callable[[pd.DataFrame], float]:
    """The value of `column` at timestep `day`; NaN when the run is shorter."""

    def kpi(trajectory: pd.DataFrame) -> float:
        rows = trajectory[trajectory["timestep"] == day]
        return float(rows[column].iloc[0]) if len(rows) else math.nan

    kpi.min_days = day
    return kpi


def at_end(column: str) -> Callable[[pd.DataFrame], float]:
    def kpi(trajectory: pd.DataFrame) -> float:
        return float(trajectory[column].iloc[-1])

    return kpi


def last_year_mean(column: str) -> Callable[[pd.DataFrame], float]:
    """Mean over the last 365 days after TGE (fewer when the run is shorter)."""

    def kpi(trajectory: pd.DataFrame) -> float:
        days = trajectory[trajectory["timestep"] >= 1][column]
        return float(days.iloc[-DAYS_PER_YEAR:].mean()) if len(days) else math.nan

    return kpi


def path_min(column: str) -> Callable[[pd.DataFrame], float]:
    return lambda trajectory: float(trajectory[column].min())


def path_max(column: str) -> Callable[[pd.DataFrame], float]:
    return lambda trajectory: float(trajectory[column].max())


def at_parity(trajectory: pd.DataFrame, window: int = PARITY_WINDOW_DAYS) -> pd.Series:
    """Per day after TGE: is the trailing `window`-day mean pool inflow > 0 and >= the mean
    emission? (False until `window` days have passed.) Indexed by timestep."""
    days = trajectory[trajectory["timestep"] >= 1]
    inflow = days["daily_pool_inflow"].rolling(window).mean()
    emission = days["daily_emission"].rolling(window).mean()
    reached = (inflow > 0) & (inflow >= emission)
    return pd.Series(reached.to_numpy(), index=days["timestep"].to_numpy())


def fee_parity_day(trajectory: pd.DataFrame, window: int = PARITY_WINDOW_DAYS) -> float:
    """First crossing: the first day the trailing `window`-day mean pool inflow is > 0 and >=
    the mean emission. It says nothing about what follows (see the sustained share)."""
    reached = at_parity(trajectory, window)
    if not reached.any():
        return math.nan
    return float(reached.index[reached.to_numpy().argmax()])


def fee_parity_sustained_share(trajectory: pd.DataFrame) -> float:
    """Share of the final 365 days on which the 30-day mean inflow >= the mean emission (NaN
    when the run is shorter than a year)."""
    reached = at_parity(trajectory)
    if len(reached) < DAYS_PER_YEAR:
        return math.nan
    return float(reached.iloc[-DAYS_PER_YEAR:].mean())


def fee_parity_lost(trajectory: pd.DataFrame) -> float:
    """1 if the run reached parity (a first crossing) and is below it on its last day, 0 if it
    reached parity and is still at it, NaN if it never reached parity."""
    reached = at_parity(trajectory)
    if not reached.any():
        return math.nan
    return float(not reached.iloc[-1])


def pool_inflow_usd(trajectory: pd.DataFrame) -> float:
    """Fee SESH paid into the pool since TGE, each day's inflow valued at that day's price."""
    days = trajectory[trajectory["timestep"] >= 1]
    return float((days["daily_pool_inflow"] * days["price_usd"]).sum())


def reward_pool_usd_end(trajectory: pd.DataFrame) -> float:
    """The Staking Reward Pool's balance at the end, valued at the end price."""
    last = trajectory.iloc[-1]
    return float(last["reward_pool"] * last["price_usd"])


fee_parity_sustained_share.min_days = DAYS_PER_YEAR + PARITY_WINDOW_DAYS - 1


def circulating_share_5y(trajectory: pd.DataFrame) -> float:
    return at_day("circulating_supply", 5 * DAYS_PER_YEAR)(trajectory) / MAX_SUPPLY


circulating_share_5y.min_days = 5 * DAYS_PER_YEAR
fee_parity_day.min_days = PARITY_WINDOW_DAYS


def inflow_to_emission_end(trajectory: pd.DataFrame) -> float:
    """Cumulative pool inflow over cumulative emission at the end (NaN before any emission)."""
    emitted = float(trajectory["cum_emission"].iloc[-1])
    return float(trajectory["cum_pool_inflow"].iloc[-1]) / emitted if emitted > 0 else math.nan


def max_abs_residual(trajectory: pd.DataFrame) -> float:
    return float(trajectory["conservation_residual"].abs().max())


def share_within(deadline: int) -> Callable[[pd.DataFrame], float]:
    """Share of the subset's runs whose fee parity day is at most `deadline`.

    NaN when a run that has not reached parity ends before the deadline: it might still.
    """

    def kpi(per_run: pd.DataFrame) -> float:
        days = per_run["fee_parity_day"]
        undecided = days.isna() & (per_run["last_day"] < deadline)
        if days.empty or undecided.any():
            return math.nan
        return float((days <= deadline).mean())

    kpi.min_days = deadline
    return kpi


# --- the registry -------------------------------------------------------------------------------

Y = DAYS_PER_YEAR
RUN_KPIS: tuple[KPI, ...] = (
    KPI(
        "reward_pool_1y", "SESH", "Staking Reward Pool balance at 1 year", at_day("reward_pool", Y)
    ),
    KPI(
        "reward_pool_2y",
        "SESH",
        "Staking Reward Pool balance at 2 years",
        at_day("reward_pool", 2 * Y),
    ),
    KPI(
        "reward_pool_5y",
        "SESH",
        "Staking Reward Pool balance at 5 years",
        at_day("reward_pool", 5 * Y),
    ),
    KPI(
        "fee_parity_day",
        "day",
        f"first crossing: the first day the {PARITY_WINDOW_DAYS}-day mean pool inflow >= mean "
        "emission (none: never); parity may be lost again afterwards",
        fee_parity_day,
    ),
    KPI(
        "fee_parity_sustained_share",
        "share",
        f"share of the final 365 days on which the {PARITY_WINDOW_DAYS}-day mean pool inflow >= "
        "mean emission",
        fee_parity_sustained_share,
    ),
    KPI(
        "fee_parity_lost",
        "share",
        "1 if a run that reached parity is below it on its last day (none: never reached)",
        fee_parity_lost,
    ),
    KPI(
        "circulating_supply_5y",
        "SESH",
        "market circulating supply (not locked, not in the pool) at 5 years",
        at_day("circulating_supply", 5 * Y),
    ),
    KPI(
        "circulating_share_5y",
        "share",
        "market circulating supply at 5 years over the 240M max supply",
        circulating_share_5y,
    ),
    KPI(
        "staking_ratio_end",
        "share",
        "staked over circulating supply plus locked stake, at the end",
        at_end("staking_ratio"),
    ),
    KPI("nodes_end", "nodes", "registered nodes at the end", at_end("nodes")),
    KPI("nodes_min", "nodes", "fewest registered nodes along the path", path_min("nodes")),
    KPI(
        "node_apr_sesh_last_year",
        "1/year",
        "a node's reward over its stake, in SESH, mean over the last year",
        last_year_mean("node_apr_sesh"),
    ),
    KPI(
        "node_net_usd_per_day_last_year",
        "USD/day",
        "a node's reward in USD less running costs, per day, mean over the last year",
        last_year_mean("node_net_usd_per_day"),
    ),
    KPI("price_usd_end", "USD/SESH", "SESH price at the end", at_end("price_usd")),
    KPI("price_usd_min", "USD/SESH", "lowest SESH price along the path", path_min("price_usd")),
    KPI("price_usd_max", "USD/SESH", "highest SESH price along the path", path_max("price_usd")),
    KPI(
        "pol_value_usd_end",
        "USD",
        "value of the protocol-owned liquidity at the end",
        at_end("pol_value_usd"),
    ),
    KPI(
        "cum_emission_end", "SESH", "rewards paid out of the pool since TGE", at_end("cum_emission")
    ),
    KPI(
        "cum_pool_inflow_end",
        "SESH",
        "fee SESH paid into the pool since TGE",
        at_end("cum_pool_inflow"),
    ),
    KPI(
        "reward_pool_usd_end",
        "USD",
        "Staking Reward Pool balance at the end, at the end price",
        reward_pool_usd_end,
    ),
    KPI(
        "cum_pool_inflow_usd_end",
        "USD",
        "fee SESH paid into the pool since TGE, each day at that day's price",
        pool_inflow_usd,
    ),
    KPI(
        "inflow_to_emission_end",
        "ratio",
        "cumulative pool inflow over cumulative emission at the end",
        inflow_to_emission_end,
    ),
    KPI(
        "max_abs_conservation_residual",
        "SESH",
        "largest |sum of stocks - max supply| along the path (float rounding only)",
        max_abs_residual,
    ),
)


def share_lost(per_run: pd.DataFrame) -> float:
    """Of the runs that reached parity, the share below it again on their last day."""
    lost = per_run["fee_parity_lost"].dropna()
    return float(lost.mean()) if len(lost) else math.nan


SUBSET_KPIS: tuple[SubsetKPI, ...] = (
    SubsetKPI(
        "fee_parity_within_730d",
        "share of runs",
        f"share of runs whose first crossing to fee parity is within {PARITY_DEADLINE_DAYS} days",
        share_within(PARITY_DEADLINE_DAYS),
    ),
    SubsetKPI(
        "fee_parity_lost_share",
        "share of runs",
        "of the runs that reached fee parity, the share below it again at the end",
        share_lost,
    ),
)

REGISTRY: dict[str, KPI | SubsetKPI] = {k.name: k for k in RUN_KPIS + SUBSET_KPIS}


# --- reduction ------------------------------------------------------------------------------------


def per_run(frame: pd.DataFrame, kpis: tuple[KPI, ...] = RUN_KPIS) -> pd.DataFrame:
    """One row per (subset, run): its last day, then a column per run-level KPI."""
    rows = []
    for (subset, run), trajectory in frame.groupby(["subset", "run"], sort=True):
        trajectory = trajectory.sort_values("timestep")
        values = {k.name: k.function(trajectory) for k in kpis}
        last_day = int(trajectory["timestep"].iloc[-1])
        rows.append({"subset": subset, "run": run, "last_day": last_day, **values})
    return pd.DataFrame(rows, columns=["subset", "run", "last_day", *(k.name for k in kpis)])


def describe(values: pd.Series) -> dict[str, float]:
    """Mean, P5, P50, P95 over the runs that have a value, and how many they are."""
    values = values.dropna().astype("float64")
    if values.empty:
        return {"mean": math.nan, **{q: math.nan for q in QUANTILES}, "n": 0}
    stats = {"mean": float(values.mean())}
    stats.update({q: float(np.quantile(values, p)) for q, p in QUANTILES.items()})
    stats["n"] = int(len(values))
    return stats


def summarize(
    frame: pd.DataFrame,
    kpis: tuple[KPI, ...] = RUN_KPIS,
    subset_kpis: tuple[SubsetKPI, ...] = SUBSET_KPIS,
) -> dict[int, dict[str, dict[str, float]]]:
    """subset -> KPI name -> statistics (run-level: mean/p5/p50/p95/n; subset-level: value)."""
    return summarize_runs(per_run(frame, kpis), kpis, subset_kpis)


def summarize_runs(
    table: pd.DataFrame,
    kpis: tuple[KPI, ...] = RUN_KPIS,
    subset_kpis: tuple[SubsetKPI, ...] = SUBSET_KPIS,
) -> dict[int, dict[str, dict[str, float]]]:
    """`summarize` from the run-level table instead of the timeseries.

    KPI-only streaming computes `per_run` batch by batch and concatenates the tables in (subset,
    run) order: the same rows in the same order as `per_run` of the whole frame, so the same
    statistics, to the last bit.
    """
    out = {}
    for subset, runs in table.groupby("subset", sort=True):
        stats = {k.name: describe(runs[k.name]) for k in kpis}
        stats.update({k.name: {"value": k.function(runs)} for k in subset_kpis})
        out[int(subset)] = stats
    return out


def not_available(
    table: pd.DataFrame,
    kpis: tuple[KPI, ...] = RUN_KPIS,
    subset_kpis: tuple[SubsetKPI, ...] = SUBSET_KPIS,
) -> dict[int, dict[str, str]]:
    """subset -> KPI -> why it has no value: the horizon is shorter than the KPI needs."""
    needs = {k.name: k.min_days for k in kpis}
    needs.update({k.name: int(getattr(k.function, "min_days", 1)) for k in subset_kpis})
    out = {}
    for subset, runs in table.groupby("subset", sort=True):
        horizon = int(runs["last_day"].max())
        short = {
            name: f"not available: needs a horizon of {days} days, the run has {horizon}"
            for name, days in needs.items()
            if horizon < days
        }
        if short:
            out[int(subset)] = short
    return out


def tidy(summary: dict[int, dict[str, dict[str, float]]], labels: dict[int, str]) -> pd.DataFrame:
    """The long KPI table: subset, label, kpi, unit, stat, value."""
    rows = [
        {
            "subset": subset,
            "label": labels.get(subset, ""),
            "kpi": name,
            "unit": REGISTRY[name].unit,
            "stat": stat,
            "value": value,
        }
        for subset, stats in summary.items()
        for name, values in stats.items()
        for stat, value in values.items()
    ]
    return pd.DataFrame(rows, columns=["subset", "label", "kpi", "unit", "stat", "value"])
