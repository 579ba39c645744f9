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
    """Fee SESH paid into the pool since TGE, each day's inflow valued at that day's opening
    price (the previous close), the price its trades settle at."""
    inflow = trajectory["daily_pool_inflow"].to_numpy()[1:]
    opening = trajectory["price_usd"].to_numpy()[:-1]
    return float(pd.Series(inflow * opening).sum())


def unmet_trade_total(trajectory: pd.DataFrame) -> float:
    """SESH that trades wanted but could not get: the tradable float or a reserve ran out."""
    return float(trajectory["daily_unmet_trade"].to_numpy()[1:].sum())


def unmet_trade_days(trajectory: pd.DataFrame) -> float:
    """Days on which some trade could not be filled."""
    return float((trajectory["daily_unmet_trade"].to_numpy()[1:] > 0).sum())


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
        "fee SESH paid into the pool since TGE, each day at its opening price",
        pool_inflow_usd,
    ),
    KPI(
        "unmet_trade_total",
        "SESH",
        "trades that could not be filled (tradable wallets or a reserve ran out): a sign that "
        "the run's tail comes from a limit, not from the economy",
        unmet_trade_total,
    ),
    KPI("unmet_trade_days", "days", "days with an unfilled trade", unmet_trade_days),
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


def share_limited(per_run: pd.DataFrame) -> float:
    """The share of runs in which some trade could not be filled."""
    days = per_run["unmet_trade_days"].dropna()
    return float((days > 0).mean()) if len(days) else math.nan


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
        "runs_with_unmet_trade_share",
        "share of runs",
        "share of runs in which some trade could not be filled (read their tails with care)",
        share_limited,
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


def per_run_reference(frame: pd.DataFrame, kpis: tuple[KPI, ...] = RUN_KPIS) -> pd.DataFrame:
    """One row per (subset, run): its last day, then a column per run-level KPI.

    The reference implementation: each KPI's pandas function on each trajectory's rows. `per_run`
    gives the same table from arrays, ~100x faster; the tests hold the two together.
    """
    rows = []
    for (subset, run), trajectory in frame.groupby(["subset", "run"], sort=True):
        trajectory = trajectory.sort_values("timestep")
        values = {k.name: k.function(trajectory) for k in kpis}
        last_day = int(trajectory["timestep"].iloc[-1])
        rows.append({"subset": subset, "run": run, "last_day": last_day, **values})
    return pd.DataFrame(rows, columns=["subset", "run", "last_day", *(k.name for k in kpis)])


# --- the same KPIs on arrays ----------------------------------------------------------------------
# `Paths`: column -> array of shape (trajectories, days + 1), day 0 the TGE state. Each function
# returns one value per trajectory, equal to its pandas twin above to float rounding (sums use
# numpy's pairwise summation as pandas does; the rolling mean repeats pandas' compensated
# add/remove algorithm step by step, so parity days match exactly).

Paths = dict
PARITY_KEY = "__parity__"  # where per_run_paths keeps the parity table it computed once


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """pandas' `Series.rolling(window).mean()` on every row of `values` (trajectories, days) at
    once, bit for bit (see `rolling_mean_day_major`, which does the work)."""
    return np.ascontiguousarray(rolling_mean_day_major(np.asarray(values, "float64").T, window).T)


def rolling_mean_day_major(values: np.ndarray, window: int) -> np.ndarray:
    """pandas' rolling mean down each column of `values` (days, series), bit for bit.

    pandas (`roll_mean` in its window aggregations) keeps, per series, a running sum that it
    updates day by day: first it removes the day leaving the window, then it adds the new day,
    each with its own Kahan compensation. A day's mean is that sum over the window, except that
    a window of identical values gives that value, a window without negatives never gives a
    negative mean and a window of negatives never a positive one (the sign clamps). Days
    before a full window are NaN.

    Only the running sum depends on the day before, so only it is a Python loop over days,
    working on every series at once: the rows of a day-major (C-contiguous) array, updated in
    place (`out=`) so that a step allocates nothing. The same operations in the same order as
    pandas give the same sums to the last bit. The counts of negatives and the runs of
    identical values are then integer window sums over all days at once, and the mean and its
    clamps one vectorized step.
    """
    values = np.ascontiguousarray(values, dtype="float64")
    days, n = values.shape
    out = np.full((days, n), np.nan)
    if days < window:
        return out
    # --- the compensated running sum: sums[i] once day i is in (and day i - window out)
    sums = np.empty((days, n))
    negated = np.negative(values)  # pandas removes v as y = -v - compensation
    add_error, remove_error = np.zeros(n), np.zeros(n)
    y, removed = np.empty(n), np.empty(n)
    subtract, add = np.subtract, np.add  # ~15,000 calls on short rows: skip the lookups
    before = np.zeros(n)  # the sum before today's changes
    for i, (value, total) in enumerate(zip(values, sums, strict=True)):  # total: row i of sums
        if i >= window:  # remove the day leaving the window: t = sum + y, c = (t - sum) - y
            subtract(negated[i - window], remove_error, out=y)
            add(before, y, out=removed)
            subtract(removed, before, out=remove_error)
            subtract(remove_error, y, out=remove_error)
            before = removed
        subtract(value, add_error, out=y)  # add day i, the new sum written into its row
        add(before, y, out=total)
        subtract(total, before, out=add_error)
        subtract(add_error, y, out=add_error)
        before = total
    # --- the means of the full windows, days window - 1 .. days - 1 (each holds `window` days)
    mean = sums[window - 1 :] / window
    # a window of identical values (each day == the day before): its mean is the value
    breaks = np.zeros((days, n), dtype=np.int32)
    np.cumsum(values[1:] != values[:-1], axis=0, out=breaks[1:])  # breaks[k]: among days 1..k
    identical = breaks[window - 1 :] == breaks[: days - window + 1]
    np.copyto(mean, values[window - 1 :], where=identical)
    # the sign clamps, by the number of negatives (sign bit set, -0.0 too) in the window
    negatives = np.zeros((days + 1, n), dtype=np.int32)
    np.cumsum(np.signbit(values), axis=0, out=negatives[1:])
    negatives = negatives[window:] - negatives[: days - window + 1]
    mean[(negatives == 0) & (mean < 0)] = 0.0
    mean[(negatives == window) & (mean > 0)] = 0.0
    out[window - 1 :] = mean
    return out


def parity_days(paths: Paths, window: int = PARITY_WINDOW_DAYS) -> np.ndarray:
    """`at_parity` for every trajectory: (trajectories, days) booleans for days 1..T (computed
    once per `paths` for the default window: three KPIs read it). Both rolling means are one
    call, on pool inflow and emission side by side in a day-major array."""
    if window == PARITY_WINDOW_DAYS and PARITY_KEY in paths:
        return paths[PARITY_KEY]
    inflow = paths["daily_pool_inflow"][:, 1:]
    n = len(inflow)
    both = np.empty((inflow.shape[1], 2 * n))
    both[:, :n] = inflow.T
    both[:, n:] = paths["daily_emission"][:, 1:].T
    means = rolling_mean_day_major(both, window)
    inflow, emission = means[:, :n], means[:, n:]
    return np.ascontiguousarray(((inflow > 0) & (inflow >= emission)).T)


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _at_day(column: str, day: int):
    def kpi(paths: Paths) -> np.ndarray:
        values = paths[column]
        return values[:, day].astype("float64") if day < values.shape[1] else _nan(len(values))

    return kpi


def _at_end(column: str):
    return lambda paths: paths[column][:, -1].astype("float64")


def _last_year_mean(column: str):
    def kpi(paths: Paths) -> np.ndarray:
        days = paths[column][:, 1:]
        if days.shape[1] == 0:
            return _nan(len(days))
        window = np.ascontiguousarray(days[:, -DAYS_PER_YEAR:])
        return window.sum(axis=1) / window.shape[1]

    return kpi


def _parity_day(paths: Paths) -> np.ndarray:
    reached = parity_days(paths)
    first = reached.argmax(axis=1) + 1.0  # days are 1..T
    return np.where(reached.any(axis=1), first, np.nan)


def _sustained(paths: Paths) -> np.ndarray:
    reached = parity_days(paths)
    if reached.shape[1] < DAYS_PER_YEAR:
        return _nan(len(reached))
    return reached[:, -DAYS_PER_YEAR:].mean(axis=1)


def _lost(paths: Paths) -> np.ndarray:
    reached = parity_days(paths)
    return np.where(reached.any(axis=1), (~reached[:, -1]).astype("float64"), np.nan)


def _inflow_usd(paths: Paths) -> np.ndarray:
    value = np.ascontiguousarray(paths["daily_pool_inflow"][:, 1:] * paths["price_usd"][:, :-1])
    return value.sum(axis=1)


def _ratio_end(paths: Paths) -> np.ndarray:
    emitted = paths["cum_emission"][:, -1]
    with np.errstate(all="ignore"):
        return np.where(emitted > 0, paths["cum_pool_inflow"][:, -1] / emitted, np.nan)


ARRAY_KPIS: dict[str, Callable[[Paths], np.ndarray]] = {
    "reward_pool_1y": _at_day("reward_pool", DAYS_PER_YEAR),
    "reward_pool_2y": _at_day("reward_pool", 2 * DAYS_PER_YEAR),
    "reward_pool_5y": _at_day("reward_pool", 5 * DAYS_PER_YEAR),
    "fee_parity_day": _parity_day,
    "fee_parity_sustained_share": _sustained,
    "fee_parity_lost": _lost,
    "circulating_supply_5y": _at_day("circulating_supply", 5 * DAYS_PER_YEAR),
    "circulating_share_5y": lambda p: (
        _at_day("circulating_supply", 5 * DAYS_PER_YEAR)(p) / MAX_SUPPLY
    ),
    "staking_ratio_end": _at_end("staking_ratio"),
    "nodes_end": _at_end("nodes"),
    "nodes_min": lambda p: p["nodes"].min(axis=1),
    "node_apr_sesh_last_year": _last_year_mean("node_apr_sesh"),
    "node_net_usd_per_day_last_year": _last_year_mean("node_net_usd_per_day"),
    "price_usd_end": _at_end("price_usd"),
    "price_usd_min": lambda p: p["price_usd"].min(axis=1),
    "price_usd_max": lambda p: p["price_usd"].max(axis=1),
    "pol_value_usd_end": _at_end("pol_value_usd"),
    "cum_emission_end": _at_end("cum_emission"),
    "cum_pool_inflow_end": _at_end("cum_pool_inflow"),
    "reward_pool_usd_end": lambda p: p["reward_pool"][:, -1] * p["price_usd"][:, -1],
    "cum_pool_inflow_usd_end": _inflow_usd,
    "inflow_to_emission_end": _ratio_end,
    "max_abs_conservation_residual": lambda p: np.abs(p["conservation_residual"]).max(axis=1),
    "unmet_trade_total": lambda p: np.ascontiguousarray(p["daily_unmet_trade"][:, 1:]).sum(axis=1),
    "unmet_trade_days": lambda p: (p["daily_unmet_trade"][:, 1:] > 0).sum(axis=1).astype(float),
}
# The columns the KPIs read: a KPI-only run needs to keep only these.
KPI_COLUMNS = (
    "reward_pool",
    "circulating_supply",
    "staking_ratio",
    "nodes",
    "node_apr_sesh",
    "node_net_usd_per_day",
    "price_usd",
    "pol_value_usd",
    "cum_emission",
    "cum_pool_inflow",
    "daily_pool_inflow",
    "daily_emission",
    "conservation_residual",
    "daily_unmet_trade",
)


def per_run_paths(
    paths: Paths, subsets: np.ndarray, runs: np.ndarray, kpis: tuple[KPI, ...] = RUN_KPIS
) -> pd.DataFrame:
    """`per_run` from arrays: `paths[column]` of shape (trajectories, days + 1), the trajectories
    in (subset, run) order with `subsets` and `runs` their labels."""
    days = paths["price_usd"].shape[1] - 1
    paths = {**paths, PARITY_KEY: parity_days(paths)}
    table = {
        "subset": np.asarray(subsets, dtype="int64"),
        "run": np.asarray(runs, dtype="int64"),
        "last_day": np.full(len(subsets), days, dtype="int64"),
    }
    for k in kpis:
        table[k.name] = ARRAY_KPIS[k.name](paths)
    return pd.DataFrame(table)


def paths_of(frame: pd.DataFrame, columns=KPI_COLUMNS) -> tuple[Paths, np.ndarray, np.ndarray]:
    """A tidy frame (every trajectory the same days, sorted by subset, run, timestep) as arrays;
    ValueError if it is not in that shape."""
    keys = frame[["subset", "run"]].to_numpy()
    days = int(frame["timestep"].max()) + 1
    if len(frame) % days:
        raise ValueError("trajectories of different lengths")
    n = len(frame) // days
    steps = frame["timestep"].to_numpy().reshape(n, days)
    if not (steps == np.arange(days)).all():
        raise ValueError("not sorted by subset, run, timestep")
    keys = keys.reshape(n, days, 2)
    if not (keys == keys[:, :1, :]).all():
        raise ValueError("not sorted by subset, run, timestep")
    order = keys[:, 0, 0] * (int(keys[:, 0, 1].max()) + 1) + keys[:, 0, 1]
    if (np.diff(order) <= 0).any():
        raise ValueError("not sorted by subset, run, timestep")
    paths = {c: frame[c].to_numpy(dtype="float64").reshape(n, days) for c in columns}
    return paths, keys[:, 0, 0], keys[:, 0, 1]


def per_run(frame: pd.DataFrame, kpis: tuple[KPI, ...] = RUN_KPIS) -> pd.DataFrame:
    """One row per (subset, run): its last day, then a column per run-level KPI.

    Computed on arrays (`per_run_paths`); a frame whose trajectories differ in length or order
    falls back to the pandas reference, which gives the same numbers.
    """
    try:
        paths, subsets, runs = paths_of(frame)
    except ValueError:
        return per_run_reference(frame, kpis)
    return per_run_paths(paths, subsets, runs, kpis)


def describe(values: pd.Series | np.ndarray) -> dict[str, float]:
    """Mean, P5, P50, P95 over the runs that have a value, and how many they are.

    On a float array: the mean is the (pairwise) sum over the count, as pandas' `mean` takes it,
    and the three quantiles one `np.quantile` call (the same numbers as one call each)."""
    values = np.asarray(values, dtype="float64")
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {"mean": math.nan, **{q: math.nan for q in QUANTILES}, "n": 0}
    stats = {"mean": float(values.sum() / values.size)}
    stats.update(
        zip(QUANTILES, np.quantile(values, list(QUANTILES.values())).tolist(), strict=True)
    )
    stats["n"] = int(values.size)
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
        stats = {k.name: describe(runs[k.name].to_numpy(dtype="float64")) for k in kpis}
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
