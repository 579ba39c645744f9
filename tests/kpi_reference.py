"""The run-level KPIs written plainly in pandas, one trajectory at a time: the reference that
`experiments.analysis.kpis` (arrays, all trajectories at once) is checked against.

`REFERENCE` maps every KPI name of `kpis.RUN_KPIS` to a function of one trajectory's frame (rows
in timestep order, timestep 0 the TGE state) returning a float; `per_run_reference` builds the
run-level table from them, the table `kpis.per_run` must equal. These functions are kept simple
rather than fast: what they compute should be plain from the code (pandas' own rolling mean, its
own sums and means), so that the array version has something independent to be held to.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from experiments.analysis.kpis import PARITY_WINDOW_DAYS
from model.constants import DAYS_PER_YEAR, MAX_SUPPLY

Y = DAYS_PER_YEAR


def at_day(column: str, day: int) -> Callable[[pd.DataFrame], float]:
    """The value of `column` at timestep `day`; NaN when the run is shorter."""

    def kpi(trajectory: pd.DataFrame) -> float:
        rows = trajectory[trajectory["timestep"] == day]
        return float(rows[column].iloc[0]) if len(rows) else math.nan

    return kpi


def at_end(column: str) -> Callable[[pd.DataFrame], float]:
    return lambda trajectory: float(trajectory[column].iloc[-1])


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
    reached = at_parity(trajectory, window)
    if not reached.any():
        return math.nan
    return float(reached.index[reached.to_numpy().argmax()])


def fee_parity_sustained_share(trajectory: pd.DataFrame) -> float:
    reached = at_parity(trajectory)
    if len(reached) < DAYS_PER_YEAR:
        return math.nan
    return float(reached.iloc[-DAYS_PER_YEAR:].mean())


def fee_parity_lost(trajectory: pd.DataFrame) -> float:
    reached = at_parity(trajectory)
    if not reached.any():
        return math.nan
    return float(not reached.iloc[-1])


def pool_inflow_usd(trajectory: pd.DataFrame) -> float:
    inflow = trajectory["daily_pool_inflow"].to_numpy()[1:]
    opening = trajectory["price_usd"].to_numpy()[:-1]
    return float(pd.Series(inflow * opening).sum())


def unmet_trade_total(trajectory: pd.DataFrame) -> float:
    return float(trajectory["daily_unmet_trade"].iloc[1:].sum())


def unmet_trade_days(trajectory: pd.DataFrame) -> float:
    return float((trajectory["daily_unmet_trade"].iloc[1:] > 0).sum())


def reward_pool_usd_end(trajectory: pd.DataFrame) -> float:
    last = trajectory.iloc[-1]
    return float(last["reward_pool"] * last["price_usd"])


def circulating_share_5y(trajectory: pd.DataFrame) -> float:
    return at_day("circulating_supply", 5 * Y)(trajectory) / MAX_SUPPLY


def inflow_to_emission_end(trajectory: pd.DataFrame) -> float:
    emitted = float(trajectory["cum_emission"].iloc[-1])
    return float(trajectory["cum_pool_inflow"].iloc[-1]) / emitted if emitted > 0 else math.nan


def max_abs_residual(trajectory: pd.DataFrame) -> float:
    return float(trajectory["conservation_residual"].abs().max())


def trailing_ratio(trajectory: pd.DataFrame, window: int = PARITY_WINDOW_DAYS) -> pd.Series:
    """Per day after TGE: the trailing `window`-day mean pool inflow over the mean emission (NaN
    before a full window, or when the mean emission is not positive). Indexed by timestep."""
    days = trajectory[trajectory["timestep"] >= 1]
    inflow = days["daily_pool_inflow"].rolling(window).mean()
    emission = days["daily_emission"].rolling(window).mean()
    ratio = (inflow / emission).where(emission > 0)
    return pd.Series(ratio.to_numpy(), index=days["timestep"].to_numpy())


def ratio_at(day: int | None) -> Callable[[pd.DataFrame], float]:
    """The trailing ratio on timestep `day` (None: the last); NaN when the run is shorter."""

    def kpi(trajectory: pd.DataFrame) -> float:
        ratio = trailing_ratio(trajectory)
        if day is None:
            return float(ratio.iloc[-1]) if len(ratio) else math.nan
        return float(ratio.loc[day]) if day in ratio.index else math.nan

    return kpi


def pool_equilibrium_share_end(trajectory: pd.DataFrame) -> float:
    """P* / pool(T), P* = 365 x the 30-day mean inflow / the rate of the last payout (365 x
    emission(T) over the balance it came from, pool(T) + emission(T)); NaN without a full
    window or a payout."""
    days = trajectory[trajectory["timestep"] >= 1]
    if len(days) < PARITY_WINDOW_DAYS:
        return math.nan
    inflow = float(days["daily_pool_inflow"].rolling(PARITY_WINDOW_DAYS).mean().iloc[-1])
    pool, paid = float(days["reward_pool"].iloc[-1]), float(days["daily_emission"].iloc[-1])
    if not (paid > 0 and pool > 0):
        return math.nan
    rate = Y * paid / (pool + paid)
    equilibrium = Y * inflow / rate
    return equilibrium / pool


REFERENCE: dict[str, Callable[[pd.DataFrame], float]] = {
    "reward_pool_1y": at_day("reward_pool", Y),
    "reward_pool_2y": at_day("reward_pool", 2 * Y),
    "reward_pool_5y": at_day("reward_pool", 5 * Y),
    "fee_parity_day": fee_parity_day,
    "fee_parity_sustained_share": fee_parity_sustained_share,
    "fee_parity_lost": fee_parity_lost,
    "circulating_supply_5y": at_day("circulating_supply", 5 * Y),
    "circulating_share_5y": circulating_share_5y,
    "staking_ratio_end": at_end("staking_ratio"),
    "nodes_end": at_end("nodes"),
    "nodes_min": path_min("nodes"),
    "node_apr_sesh_last_year": last_year_mean("node_apr_sesh"),
    "node_net_usd_per_day_last_year": last_year_mean("node_net_usd_per_day"),
    "price_usd_end": at_end("price_usd"),
    "price_usd_min": path_min("price_usd"),
    "price_usd_max": path_max("price_usd"),
    "pol_value_usd_end": at_end("pol_value_usd"),
    "cum_emission_end": at_end("cum_emission"),
    "cum_pool_inflow_end": at_end("cum_pool_inflow"),
    "reward_pool_usd_end": reward_pool_usd_end,
    "cum_pool_inflow_usd_end": pool_inflow_usd,
    "unmet_trade_total": unmet_trade_total,
    "unmet_trade_days": unmet_trade_days,
    "inflow_to_emission_end": inflow_to_emission_end,
    "max_abs_conservation_residual": max_abs_residual,
    "inflow_emission_ratio_2y": ratio_at(2 * Y),
    "inflow_emission_ratio_end": ratio_at(None),
    "pool_equilibrium_share_end": pool_equilibrium_share_end,
}


def per_run_reference(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per (subset, run): its last day, then a column per KPI of `names`, each KPI's
    pandas function on each trajectory's rows."""
    rows = []
    for (subset, run), trajectory in frame.groupby(["subset", "run"], sort=True):
        trajectory = trajectory.sort_values("timestep")
        values = {name: REFERENCE[name](trajectory) for name in names}
        last_day = int(trajectory["timestep"].iloc[-1])
        rows.append({"subset": subset, "run": run, "last_day": last_day, **values})
    return pd.DataFrame(rows, columns=["subset", "run", "last_day", *names])
