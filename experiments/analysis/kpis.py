"""Key performance indicators: one number per trajectory, reduced across runs per subset.

Each run-level KPI is one `KPI` record in `RUN_KPIS`: its name, unit, meaning, the timeseries
columns it reads and one function of their arrays (column -> (trajectories, days + 1), day 0 the
TGE state) returning a value per trajectory. `summarize` reduces them to mean, P5, P50 and P95
over the runs of a subset. Subset-level KPIs (a share of runs) are computed from the run-level
table and have a single `value`.

Conventions, chosen so that a number never claims more than the run shows:
- "at N years" is the state at timestep 365*N; a shorter horizon gives NaN, not the last day.
- "over the last year" is the mean over the last 365 days (all days after TGE when shorter).
- Fee parity is the first day on which the 30-day trailing mean of pool inflow is positive and at
  least the 30-day trailing mean of emissions; daily demand noise (log-sd 0.3) would otherwise let
  single lucky days count. NaN when it never happens within the horizon.
- The share of runs at parity within 730 days is NaN when a run ends earlier without parity.
- Statistics skip NaN runs (`n` says how many runs had a value); all-NaN gives NaN, which
  kpis.json writes as null and kpis.csv as an empty value.

How to add a KPI: one edit, a `KPI` record in `RUN_KPIS` (its place there is its column in the
tables). Give its columns and a function of their arrays, built from the helpers below where
they fit (`at_day`, `at_end`, `last_year_mean`, `path_min`, ...), and `min_days` if it needs a
horizon; for the reports, its `title`, the ASSUMPTIONS.md rows it hangs on (`assumptions`), its
`kind` (FLAG for a 0/1 per run, shown as a share of runs), `defined_for` when only some runs
have a value, and a `resolution` where a difference below one is no difference. `KPI_COLUMNS` (what a KPI-only run records), the run-level table, kpis.json and
kpis.csv, the report and the explorer follow from the record. The tests then ask for two things
that are not this module: the same KPI written plainly in pandas in tests/kpi_reference.py (the
reference the function is checked against), and new golden rows (`python -m experiments regress
--update`, which reports them as NEW until then).
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


Paths = dict  # column -> float array (trajectories, days + 1), day 0 the TGE state
PARITY_KEY = "__parity__"  # where per_run_paths keeps the parity table it computed once
MEANS_KEY = "__parity_means__"  # and the trailing means it came from (inflow, emission)
PARITY_COLUMNS = ("daily_pool_inflow", "daily_emission")  # what the fee-parity rule reads


# How a report shows a run-level KPI (`KPI.kind`):
AMOUNT = "amount"  # a quantity per run: its median and P5-P95 across the runs, then the mean
FLAG = "flag"  # 0 or 1 per run: the share of runs at 1, with its 95% (Wilson) interval
SHARE = "share of runs"  # a SubsetKPI: one share of the subset's runs, with its 95% interval


@dataclass(frozen=True)
class KPI:
    """A run-level KPI: its name, unit and meaning (`description`, as reports show it), the
    columns of the timeseries it reads, and the function that computes it on their arrays (one
    value per trajectory). `min_days`: the shortest horizon (days after TGE) with a value.

    How reports present it: `title` is what a sentence calls it ("Staking Reward Pool at 5
    years"; the name when empty); `assumptions` the ASSUMPTIONS.md rows (their # column) its
    value hangs on most; `kind` AMOUNT or FLAG (above); `defined_for` the runs it has a value
    for when that is not every run ("runs that reach fee parity": the tables then say "n of N
    runs"); `resolution` the smallest difference that means something in its unit (0: only the
    relative threshold of experiments.reporting.findings applies)."""

    name: str
    unit: str
    description: str
    columns: tuple[str, ...]
    function: Callable[[Paths], np.ndarray]
    min_days: int = 1
    title: str = ""
    assumptions: tuple[str, ...] = ()
    kind: str = AMOUNT
    defined_for: str = ""
    resolution: float = 0.0

    @property
    def heading(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class SubsetKPI:
    """A KPI of a whole subset, computed from its table of run-level KPIs: a share of runs.
    `over` names the run-level KPI whose runs (its `n`) the share is taken over; empty: every run
    of the subset. `title` and `assumptions` as for `KPI`."""

    name: str
    unit: str
    description: str
    function: Callable[[pd.DataFrame], float]
    min_days: int = 1
    title: str = ""
    assumptions: tuple[str, ...] = ()
    over: str = ""
    kind: str = SHARE
    resolution: float = 0.0

    @property
    def heading(self) -> str:
        return self.title or self.name


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


# --- the rolling mean of the parity rule ----------------------------------------------------------


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

    This repeats the algorithm of one pandas version (tests/test_kpis.py names it and fails on
    another until the bit-for-bit tests there have been rerun and the version updated).
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


# --- fee parity -----------------------------------------------------------------------------------


def parity_reached(
    inflow: np.ndarray, emission: np.ndarray, window: int = PARITY_WINDOW_DAYS
) -> np.ndarray:
    """Per trajectory and day: is the trailing `window`-day mean pool inflow > 0 and >= the
    mean emission? `inflow`, `emission`: (trajectories, days) daily values from day 1; False
    until `window` days have passed. Both rolling means are one call, on inflow and emission
    side by side in a day-major array."""
    return parity_of_means(*trailing_means_of(inflow, emission, window))


def trailing_means_of(
    inflow: np.ndarray, emission: np.ndarray, window: int = PARITY_WINDOW_DAYS
) -> tuple[np.ndarray, np.ndarray]:
    """The trailing `window`-day means of `inflow` and `emission` ((trajectories, days) daily
    values from day 1), day-major (days, trajectories), NaN before a full window: one rolling
    mean over both side by side."""
    n = len(inflow)
    both = np.empty((inflow.shape[1], 2 * n))
    both[:, :n] = inflow.T
    both[:, n:] = emission.T
    means = rolling_mean_day_major(both, window)
    return means[:, :n], means[:, n:]


def parity_of_means(inflow: np.ndarray, emission: np.ndarray) -> np.ndarray:
    """Parity from day-major trailing means: (trajectories, days) booleans."""
    return np.ascontiguousarray(((inflow > 0) & (inflow >= emission)).T)


def parity_days(paths: Paths, window: int = PARITY_WINDOW_DAYS) -> np.ndarray:
    """`parity_reached` for every trajectory of `paths`: (trajectories, days) booleans for days
    1..T (computed once per `paths` for the default window: three KPIs read it)."""
    if window == PARITY_WINDOW_DAYS and PARITY_KEY in paths:
        return paths[PARITY_KEY]
    inflow, emission = paths["daily_pool_inflow"][:, 1:], paths["daily_emission"][:, 1:]
    return parity_reached(inflow, emission, window)


def first_parity_day(paths: Paths, window: int = PARITY_WINDOW_DAYS) -> np.ndarray:
    """First crossing: the first day the trailing `window`-day mean pool inflow is > 0 and >=
    the mean emission (NaN: never). It says nothing about what follows (see the sustained
    share)."""
    reached = parity_days(paths, window)
    first = reached.argmax(axis=1) + 1.0  # days are 1..T
    return np.where(reached.any(axis=1), first, np.nan)


def parity_sustained_share(paths: Paths) -> np.ndarray:
    """Share of the final 365 days at parity (NaN when the run is shorter than a year)."""
    reached = parity_days(paths)
    if reached.shape[1] < DAYS_PER_YEAR:
        return _nan(len(reached))
    return reached[:, -DAYS_PER_YEAR:].mean(axis=1)


def parity_lost(paths: Paths) -> np.ndarray:
    """1 if the run reached parity and is below it on its last day, 0 if it reached parity and
    is still at it, NaN if it never reached parity."""
    reached = parity_days(paths)
    return np.where(reached.any(axis=1), (~reached[:, -1]).astype("float64"), np.nan)


def fee_parity_day(trajectory: pd.DataFrame, window: int = PARITY_WINDOW_DAYS) -> float:
    """`first_parity_day` of one trajectory's frame (rows in timestep order; the TGE row, if
    any, is skipped), as the charts apply the rule to median paths: the timestep of the first
    crossing, NaN when there is none."""
    days = trajectory[trajectory["timestep"] >= 1]
    inflow = days["daily_pool_inflow"].to_numpy(dtype="float64")[None]
    emission = days["daily_emission"].to_numpy(dtype="float64")[None]
    reached = parity_reached(inflow, emission, window)[0]
    return float(days["timestep"].iloc[reached.argmax()]) if reached.any() else math.nan


# --- the building blocks of the KPIs: functions of the paths, one value per trajectory -----------


def at_day(column: str, day: int) -> Callable[[Paths], np.ndarray]:
    """The value of `column` at timestep `day`; NaN when the run is shorter."""

    def kpi(paths: Paths) -> np.ndarray:
        values = paths[column]
        return values[:, day].astype("float64") if day < values.shape[1] else _nan(len(values))

    return kpi


def at_end(column: str) -> Callable[[Paths], np.ndarray]:
    return lambda paths: paths[column][:, -1].astype("float64")


def last_year_mean(column: str) -> Callable[[Paths], np.ndarray]:
    """Mean over the last 365 days after TGE (all of them when the run is shorter; NaN on
    none). The sum is numpy's pairwise summation, as pandas' `mean` takes it."""

    def kpi(paths: Paths) -> np.ndarray:
        days = paths[column][:, 1:]
        if days.shape[1] == 0:
            return _nan(len(days))
        window = np.ascontiguousarray(days[:, -DAYS_PER_YEAR:])
        return window.sum(axis=1) / window.shape[1]

    return kpi


def path_min(column: str) -> Callable[[Paths], np.ndarray]:
    return lambda paths: paths[column].min(axis=1)


def path_max(column: str) -> Callable[[Paths], np.ndarray]:
    return lambda paths: paths[column].max(axis=1)


def pool_inflow_usd(paths: Paths) -> np.ndarray:
    """Fee SESH paid into the pool since TGE, each day's inflow valued at that day's opening
    price (the previous close), the price its trades settle at."""
    value = np.ascontiguousarray(paths["daily_pool_inflow"][:, 1:] * paths["price_usd"][:, :-1])
    return value.sum(axis=1)


def reward_pool_usd_end(paths: Paths) -> np.ndarray:
    """The Staking Reward Pool's balance at the end, valued at the end price."""
    return paths["reward_pool"][:, -1] * paths["price_usd"][:, -1]


def unmet_trade_total(paths: Paths) -> np.ndarray:
    """SESH that trades wanted but could not get: the tradable float or a reserve ran out."""
    return np.ascontiguousarray(paths["daily_unmet_trade"][:, 1:]).sum(axis=1)


def unmet_trade_days(paths: Paths) -> np.ndarray:
    """Days on which some trade could not be filled."""
    return (paths["daily_unmet_trade"][:, 1:] > 0).sum(axis=1).astype("float64")


def circulating_share_5y(paths: Paths) -> np.ndarray:
    return at_day("circulating_supply", 5 * DAYS_PER_YEAR)(paths) / MAX_SUPPLY


def inflow_to_emission_end(paths: Paths) -> np.ndarray:
    """Cumulative pool inflow over cumulative emission at the end (NaN before any emission)."""
    emitted = paths["cum_emission"][:, -1]
    with np.errstate(all="ignore"):
        return np.where(emitted > 0, paths["cum_pool_inflow"][:, -1] / emitted, np.nan)


def max_abs_residual(paths: Paths) -> np.ndarray:
    return np.abs(paths["conservation_residual"]).max(axis=1)


# --- the trailing inflow/emission ratio and the pool against its equilibrium ----------------------
# Paying 15.1%/year of its balance, the pool tends to P* = 365 x inflow / payout rate, where the
# day's emission equals the day's inflow; near P* a first-crossing test flickers. These KPIs say
# where a run stands instead: the ratio of the two trailing means (the quantity the parity rule
# compares) on a given day, and the pool over the P* its own last days imply.


def trailing_means(paths: Paths) -> tuple[np.ndarray, np.ndarray]:
    """The trailing PARITY_WINDOW_DAYS-day means of daily pool inflow and emission, day-major
    (days 1..T, trajectories), NaN before a full window (computed once per `paths`: the parity
    KPIs and the ratio KPIs read them)."""
    if MEANS_KEY in paths:
        return paths[MEANS_KEY]
    inflow, emission = paths["daily_pool_inflow"][:, 1:], paths["daily_emission"][:, 1:]
    return trailing_means_of(inflow, emission)


def ratio_of_means(inflow: np.ndarray, emission: np.ndarray) -> np.ndarray:
    """Trailing mean inflow over trailing mean emission; NaN where the mean emission is not
    positive (no nodes for a whole window: no rate to compare with) or not yet defined."""
    with np.errstate(all="ignore"):
        return np.where(emission > 0, inflow / emission, np.nan)


def trailing_ratio(
    inflow: np.ndarray, emission: np.ndarray, window: int = PARITY_WINDOW_DAYS
) -> np.ndarray:
    """The ratio as a path: per trajectory and day (days 1..T of `inflow` and `emission`,
    (trajectories, days)), the trailing `window`-day mean pool inflow over the mean emission
    (`ratio_of_means`). At or above 1 is parity (`parity_reached`, which also asks for a
    positive inflow)."""
    return np.ascontiguousarray(ratio_of_means(*trailing_means_of(inflow, emission, window)).T)


def ratio_at(day: int | None) -> Callable[[Paths], np.ndarray]:
    """The trailing-mean inflow/emission ratio on timestep `day` (None: the last day); NaN when
    the run is shorter, before the first full window, or with no emission over the window."""

    def kpi(paths: Paths) -> np.ndarray:
        inflow, emission = trailing_means(paths)
        days = len(inflow)  # days 1..T
        last = days if day is None else day
        if last > days or last < 1:
            return _nan(inflow.shape[1])
        return ratio_of_means(inflow[last - 1], emission[last - 1])

    return kpi


def equilibrium_to_pool_end(paths: Paths) -> np.ndarray:
    """P* over the pool on the last day T: P* = 365 x I / r, I the trailing-mean pool inflow
    (SESH/day) and r the run's payout rate (1/year), is the balance at which the day's payout
    equals the inflow, where the pool tends. 1: the pool is there; below 1 it pays out more
    than flows in and shrinks towards P* (0: no inflow, it drains); above 1 it grows.

    P* over the pool rather than the pool over P*: it is 0, not infinite, without inflow, and a
    run whose fee buys find no SESH (inflow of float dust, 1e-9 SESH/day) gives ~0, not 1e14.
    r is read off the last payout, 365 x emission(T) / the balance it was paid from, pool(T) +
    emission(T) (the day's fee buys come before the payout; a liquidation paid into the pool
    after it makes this r a little low, by 1e-4 or less on 5-year fee runs): the paths carry no
    parameters, and a rate read off the run is the one it ended on. NaN before a full window,
    or when nothing was paid on the last day (no nodes, or an empty pool)."""
    inflow, _ = trailing_means(paths)
    pool, emission = paths["reward_pool"], paths["daily_emission"]
    if pool.shape[1] < 2:
        return _nan(len(pool))
    mean_inflow, paid, balance = inflow[-1], emission[:, -1], pool[:, -1]
    with np.errstate(all="ignore"):
        paying = (paid > 0) & (balance > 0)
        rate = np.where(paying, DAYS_PER_YEAR * paid / (balance + paid), np.nan)
        equilibrium = DAYS_PER_YEAR * mean_inflow / rate
        return equilibrium / balance


# --- the registry ---------------------------------------------------------------------------------

Y = DAYS_PER_YEAR
POOL = ("E1", "E2", "D1", "D2")  # the ASSUMPTIONS.md rows the pool balance hangs on most
PARITY = ("D1", "D2", "D3", "E2")  # ... and fee parity
PRICE = ("M3", "M6", "V2", "S4")  # ... and the price
NODES = ("S1", "S2", "S3")  # ... and the node count
PARITY_RUNS = "runs that reach fee parity"
RUN_KPIS: tuple[KPI, ...] = (
    KPI(
        "reward_pool_1y",
        "SESH",
        "Staking Reward Pool balance at 1 year",
        ("reward_pool",),
        at_day("reward_pool", Y),
        min_days=Y,
        title="Staking Reward Pool at 1 year",
        assumptions=POOL,
    ),
    KPI(
        "reward_pool_2y",
        "SESH",
        "Staking Reward Pool balance at 2 years",
        ("reward_pool",),
        at_day("reward_pool", 2 * Y),
        min_days=2 * Y,
        title="Staking Reward Pool at 2 years",
        assumptions=POOL,
    ),
    KPI(
        "reward_pool_5y",
        "SESH",
        "Staking Reward Pool balance at 5 years",
        ("reward_pool",),
        at_day("reward_pool", 5 * Y),
        min_days=5 * Y,
        title="Staking Reward Pool at 5 years",
        assumptions=POOL,
    ),
    KPI(
        "fee_parity_day",
        "day",
        f"first crossing: the first day the {PARITY_WINDOW_DAYS}-day mean pool inflow >= mean "
        "emission (none: never); parity may be lost again afterwards",
        PARITY_COLUMNS,
        first_parity_day,
        min_days=PARITY_WINDOW_DAYS,
        title="first day at fee parity",
        assumptions=PARITY,
        defined_for=PARITY_RUNS,
        resolution=0.5,  # days are whole: less than half a day is no difference
    ),
    KPI(
        "fee_parity_sustained_share",
        "share",
        f"share of the final 365 days on which the {PARITY_WINDOW_DAYS}-day mean pool inflow >= "
        "mean emission",
        PARITY_COLUMNS,
        parity_sustained_share,
        min_days=Y,  # a day before the first full window counts as below parity
        title="share of the last year at fee parity",
        assumptions=PARITY,
    ),
    KPI(
        "fee_parity_lost",
        "share",
        "1 if a run that reached parity is below it on its last day (none: never reached)",
        PARITY_COLUMNS,
        parity_lost,
        min_days=PARITY_WINDOW_DAYS,
        title="runs below fee parity again at the end",
        assumptions=PARITY,
        kind=FLAG,
        defined_for=PARITY_RUNS,
    ),
    KPI(
        "circulating_supply_5y",
        "SESH",
        "market circulating supply (not locked, not in the pool) at 5 years",
        ("circulating_supply",),
        at_day("circulating_supply", 5 * Y),
        min_days=5 * Y,
        title="market circulating supply at 5 years",
        assumptions=("V2", "V4"),
    ),
    KPI(
        "circulating_share_5y",
        "share",
        "market circulating supply at 5 years over the 240M max supply",
        ("circulating_supply",),
        circulating_share_5y,
        min_days=5 * Y,
        title="market circulating share of the max supply at 5 years",
        assumptions=("V2", "V4"),
    ),
    KPI(
        "staking_ratio_end",
        "share",
        "staked over circulating supply plus locked stake, at the end",
        ("staking_ratio",),
        at_end("staking_ratio"),
        title="staking ratio at the end",
        assumptions=NODES,
    ),
    KPI(
        "nodes_end",
        "nodes",
        "registered nodes at the end",
        ("nodes",),
        at_end("nodes"),
        title="registered nodes at the end",
        assumptions=NODES,
        resolution=0.5,  # nodes are whole
    ),
    KPI(
        "nodes_min",
        "nodes",
        "fewest registered nodes along the path",
        ("nodes",),
        path_min("nodes"),
        title="fewest registered nodes along the path",
        assumptions=NODES,
        resolution=0.5,
    ),
    KPI(
        "node_apr_sesh_last_year",
        "1/year",
        "a node's reward over its stake, in SESH, mean over the last year",
        ("node_apr_sesh",),
        last_year_mean("node_apr_sesh"),
        title="a node's SESH reward over its stake in the last year",
        assumptions=("E1", "E2", "S2"),
    ),
    KPI(
        "node_net_usd_per_day_last_year",
        "USD/day",
        "a node's reward in USD less running costs, per day, mean over the last year",
        ("node_net_usd_per_day",),
        last_year_mean("node_net_usd_per_day"),
        title="a node's net income in the last year",
        assumptions=("S2", "M3"),
    ),
    KPI(
        "price_usd_end",
        "USD/SESH",
        "SESH price at the end",
        ("price_usd",),
        at_end("price_usd"),
        title="SESH price at the end",
        assumptions=PRICE,
    ),
    KPI(
        "price_usd_min",
        "USD/SESH",
        "lowest SESH price along the path",
        ("price_usd",),
        path_min("price_usd"),
        title="lowest SESH price along the path",
        assumptions=PRICE,
    ),
    KPI(
        "price_usd_max",
        "USD/SESH",
        "highest SESH price along the path",
        ("price_usd",),
        path_max("price_usd"),
        title="highest SESH price along the path",
        assumptions=PRICE,
    ),
    KPI(
        "pol_value_usd_end",
        "USD",
        "value of the protocol-owned liquidity at the end",
        ("pol_value_usd",),
        at_end("pol_value_usd"),
        title="protocol-owned liquidity at the end",
        assumptions=("D5", "D6", "M3"),
    ),
    KPI(
        "cum_emission_end",
        "SESH",
        "rewards paid out of the pool since TGE",
        ("cum_emission",),
        at_end("cum_emission"),
        title="rewards paid out of the pool",
        assumptions=("E1", "E2"),
    ),
    KPI(
        "cum_pool_inflow_end",
        "SESH",
        "fee SESH paid into the pool since TGE",
        ("cum_pool_inflow",),
        at_end("cum_pool_inflow"),
        title="fee SESH paid into the pool",
        assumptions=("D1", "D2", "D3"),
    ),
    KPI(
        "reward_pool_usd_end",
        "USD",
        "Staking Reward Pool balance at the end, at the end price",
        ("reward_pool", "price_usd"),
        reward_pool_usd_end,
        title="Staking Reward Pool at the end, in USD",
        assumptions=(*POOL, "M3"),
    ),
    KPI(
        "cum_pool_inflow_usd_end",
        "USD",
        "fee SESH paid into the pool since TGE, each day at its opening price",
        ("daily_pool_inflow", "price_usd"),
        pool_inflow_usd,
        title="fees paid into the pool, in USD",
        assumptions=("D1", "D2", "D3"),
    ),
    KPI(
        "unmet_trade_total",
        "SESH",
        "trades that could not be filled (tradable wallets or a reserve ran out): a sign that "
        "the run's tail comes from a limit, not from the economy",
        ("daily_unmet_trade",),
        unmet_trade_total,
        title="trades that could not be filled",
        assumptions=("M5",),
    ),
    KPI(
        "unmet_trade_days",
        "days",
        "days with an unfilled trade",
        ("daily_unmet_trade",),
        unmet_trade_days,
        title="days with an unfilled trade",
        assumptions=("M5",),
        resolution=0.5,
    ),
    KPI(
        "inflow_to_emission_end",
        "ratio",
        "cumulative pool inflow over cumulative emission at the end",
        ("cum_emission", "cum_pool_inflow"),
        inflow_to_emission_end,
        title="pool inflow over emission since TGE",
        assumptions=PARITY,
    ),
    KPI(
        "max_abs_conservation_residual",
        "SESH",
        "largest |sum of stocks - max supply| along the path (float rounding only)",
        ("conservation_residual",),
        max_abs_residual,
        title="largest conservation residual",
    ),
    KPI(
        "inflow_emission_ratio_2y",
        "ratio",
        f"{PARITY_WINDOW_DAYS}-day mean pool inflow over {PARITY_WINDOW_DAYS}-day mean emission "
        "at 2 years (1 or more: at parity that day)",
        PARITY_COLUMNS,
        ratio_at(2 * Y),
        min_days=2 * Y,
    ),
    KPI(
        "inflow_emission_ratio_end",
        "ratio",
        f"{PARITY_WINDOW_DAYS}-day mean pool inflow over {PARITY_WINDOW_DAYS}-day mean emission "
        "at the end (1 or more: at parity then)",
        PARITY_COLUMNS,
        ratio_at(None),
        min_days=PARITY_WINDOW_DAYS,
    ),
    KPI(
        "pool_equilibrium_share_end",
        "ratio",
        f"P* = 365 x the pool's {PARITY_WINDOW_DAYS}-day mean inflow / payout rate (where "
        "emission equals inflow: the balance the pool tends to) over the Staking Reward Pool "
        "at the end: below 1 the pool shrinks towards P* (0: no inflow), above 1 it grows",
        (*PARITY_COLUMNS, "reward_pool"),
        equilibrium_to_pool_end,
        min_days=PARITY_WINDOW_DAYS,
    ),
)


def columns_of(kpis: tuple[KPI, ...]) -> tuple[str, ...]:
    """The columns `kpis` read, each once, in the order the records first name them."""
    return tuple(dict.fromkeys(column for k in kpis for column in k.columns))


# The columns the KPIs read: a KPI-only run needs to keep only these.
KPI_COLUMNS = columns_of(RUN_KPIS)


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

    return kpi


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
        min_days=PARITY_DEADLINE_DAYS,
        title=f"runs at fee parity within {PARITY_DEADLINE_DAYS} days",
        assumptions=PARITY,
    ),
    SubsetKPI(
        "runs_with_unmet_trade_share",
        "share of runs",
        "share of runs in which some trade could not be filled (read their tails with care)",
        share_limited,
        title="runs in which some trade could not be filled",
        assumptions=("M5",),
        over="unmet_trade_days",
    ),
    SubsetKPI(
        "fee_parity_lost_share",
        "share of runs",
        "of the runs that reached fee parity, the share below it again at the end",
        share_lost,
        title="runs below fee parity again at the end, of those that reached it",
        assumptions=PARITY,
        over="fee_parity_lost",
    ),
)

REGISTRY: dict[str, KPI | SubsetKPI] = {k.name: k for k in RUN_KPIS + SUBSET_KPIS}


# --- the run-level table --------------------------------------------------------------------------


def per_run_paths(
    paths: Paths, subsets: np.ndarray, runs: np.ndarray, kpis: tuple[KPI, ...] = RUN_KPIS
) -> pd.DataFrame:
    """One row per (subset, run): its last day, then a column per run-level KPI, from arrays:
    `paths[column]` of shape (trajectories, days + 1), the trajectories in (subset, run) order
    with `subsets` and `runs` their labels."""
    days = next(iter(paths.values())).shape[1] - 1
    if all(column in paths for column in PARITY_COLUMNS):
        means = trailing_means(paths)
        paths = {**paths, MEANS_KEY: means, PARITY_KEY: parity_of_means(*means)}
    table = {
        "subset": np.asarray(subsets, dtype="int64"),
        "run": np.asarray(runs, dtype="int64"),
        "last_day": np.full(len(subsets), days, dtype="int64"),
    }
    for k in kpis:
        table[k.name] = k.function(paths)
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

    A tidy frame is one `per_run_paths` call. Any other (out of order, or trajectories of
    different horizons) is sorted and computed one horizon at a time, which gives each
    trajectory the same numbers; ValueError if a trajectory misses a day after TGE.
    """
    columns = columns_of(kpis)
    try:
        paths, subsets, runs = paths_of(frame, columns)
    except ValueError:
        pass
    else:
        return per_run_paths(paths, subsets, runs, kpis)
    frame = frame.sort_values(["subset", "run", "timestep"], kind="stable")
    horizon = frame.groupby(["subset", "run"], sort=False)["timestep"].transform("max")
    tables = []
    for _, part in frame.groupby(horizon.to_numpy(), sort=True):
        try:
            paths, subsets, runs = paths_of(part, columns)
        except ValueError:
            raise ValueError("the KPIs need every day of a trajectory from TGE") from None
        tables.append(per_run_paths(paths, subsets, runs, kpis))
    if not tables:  # no rows
        return pd.DataFrame(columns=["subset", "run", "last_day", *(k.name for k in kpis)])
    table = pd.concat(tables, ignore_index=True)
    return table.sort_values(["subset", "run"], kind="stable", ignore_index=True)


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
    needs = {k.name: k.min_days for k in kpis + subset_kpis}
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
