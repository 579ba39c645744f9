"""How closely two computations of the same model must agree: engines, CPUs, golden files.

The engines run the same arithmetic, but not always the same machine code. numpy 1.26 evaluates
exp, log, log1p and power on arrays with SIMD kernels chosen at import from the CPU's features
(AVX-512 ones where the CPU has them) and on 0-d values with other code. So the vectorized engine
(arrays) and cadCAD/radCAD (scalars) can round a transcendental differently in the last bit, and
so can one engine on two CPUs (or under two `NPY_DISABLE_CPU_FEATURES` settings). Additions,
multiplications, divisions and square roots are correctly rounded everywhere: the differences
start in the few transcendental calls of a day (the GBM steps, the price impact, the pool_only
ratchet's powers) and spread from there. cadCAD and radCAD share the scalar path, so they are
bit-identical on every CPU. Every cross-engine and golden comparison takes its tolerance from
here; the numbers follow from that arithmetic:

- `EPS` = 2.22e-16, float64's machine epsilon: one ulp of 1.0, the relative size of a
  last-bit difference.

- `relative_tolerance(days) = ULPS_PER_DAY x EPS x days`, for quantities. A day passes a value
  through about ten chained transcendental calls (two GBM exps, the impulse's log1p,
  exp(A + J), two powers and an exp under pool_only, the metrics' exp), each within a few ulps on
  every kernel (numpy documents at most 4 ulps for its float64 SIMD kernels; libm is within 1):
  two kernels differ by up to ~5 ulps a call, ~50 a day. Relative errors of a product add up,
  so a value compounded over `days` days differs by at most that times `days`: ULPS_PER_DAY = 64
  (1 year: 5.2e-12; 5 years: 2.6e-11).

- The size it is relative to: the largest value its ledger takes in the same trajectory
  (`ledger_scales`). A ledger is a unit as `model.types.State` annotates it; the two books the
  model keeps take their daily flows with them (SESH with SESH/day: tokens moved between the
  stocks of the 240M supply; nodes with nodes/day). Quantities of one ledger are added to and
  subtracted from each other, so a small one can hold the rounding of a large one: a stock paid
  out to a remainder, wallets emptied to what the subtraction left (circulating -
  restake_pending), a net flow or a net yield near zero, a flow capped by such a remainder.
  Measured on an AVX-512 Xeon, vectorized against radCAD: prices 3e-15 relative after a year on
  the default model; over 150 range-edge examples of a year the worst value needed
  2.1 ulps a day of its ledger's size, a 30-fold margin under 64. Whole nodes are a ledger too:
  one node more or less fails this tolerance on any network the supply allows (240,000 nodes at
  the smallest stake; a node would pass only among 4e10 after 5 years), as it should.

- `residual_tolerance(days)`, absolute, for rounding-noise columns: `conservation_residual` is
  the sum of the seven stocks minus the 240M max supply, zero in exact arithmetic, and in
  floats a multiple of `ULP_AT_MAX_SUPPLY` = 2.98e-8 (one ulp at 240M). Its value is pure
  rounding, so no relative tolerance fits it (2.98e-8 against 0.0 fails every rtol). It is the
  rounding of the seven-term sum (six additions, at most 3 ulps) plus the rounding of every
  stock update since day 0: `STOCK_UPDATES_PER_DAY` (21, counted from the model's blocks) a
  day, each at most half an ulp at 240M and as often up as down, a random walk whose standard
  deviation after `days` days is at most 0.5 x sqrt(21 x days) ulps. Two computations walk
  independently at worst (sqrt(2) x that); the tolerance is 3 + 3 ulps for the two sums plus
  6 such standard deviations: ulp x (6 + 4.24 sqrt(21 x days)), 1.1e-5 after a year and
  2.5e-5 after 5 years, 1e-13 of the supply. Measured: 16 ulps apart after 5 years
  (vectorized against radCAD, 10 runs), |residual| itself at most ~49 ulps.

- Golden KPIs (`kpi_floor`): a statistic over a case's horizon of `days` days is held to the
  relative tolerance of that horizon (of at least one unit of the KPI, as a KPI can be a
  difference near zero); statistics of the residual to the residual's absolute tolerance
  (twice it for a paired difference of two subsets); the share of paired residual differences
  above zero is a coin toss between two rounding walks and is not compared.

The disagreements this replaces (issue 19, up to 3.2e-6 relative at a corner with an exit wave
on a stress day) were cancellations, not thresholds: measured, the unstaking stock paid out from
31.6M to a leftover of 5.6e-9 vs 7.5e-9 SESH (half an ulp at 31.6M; 0.25 relative), and wallets
emptied to 4 ulps of 1.64M in one engine and to a negative remainder clipped to 0 in the other,
so the next day's fees bought 9.3e-10 vs 0.0 SESH and the protocol's LP position moved 3e-5
relative (5.6e-10 LP). Each is a last-bit difference of a large ledger value read at the size of
a small one; measured against the ledger they are within a few ulps. A comparison that flips on
a last-bit difference and changes a count (stochastic rounding floor(x + u) of an expected node
count landing within an ulp of an integer) would move everything after it by a node's stake:
no such flip occurred in the ~800 range-edge and churn-and-stress examples run for this module,
and if one does the comparison fails, naming the column and day, instead of hiding it under a
looser bound.
"""

from __future__ import annotations

import math
import typing

import numpy as np
import pandas as pd

from model.constants import MAX_SUPPLY
from model.types import State

EPS = float(np.finfo(np.float64).eps)
ULP_AT_MAX_SUPPLY = float(np.spacing(MAX_SUPPLY))
ULPS_PER_DAY = 64

# Columns compared exactly: labels and the day.
EXACT_COLUMNS = ("subset", "run", "timestep", "day")
# Columns that are rounding noise themselves: compared absolutely.
ROUNDING_COLUMNS = ("conservation_residual",)
# Golden KPIs that are statistics of a rounding-noise column.
ROUNDING_KPIS = ("max_abs_conservation_residual",)
SEVEN_TERM_SUM_ULPS = 3.0  # six additions of at most half an ulp at 240M
RESIDUAL_SIGMAS = 6.0
# A trajectory is keyed by these (a frame's rows of one subset and run).
TRAJECTORY = ["subset", "run"]


def _stock_updates_per_day() -> int:
    from model import partial_state_update_blocks
    from model.parts.metrics import STOCKS

    return sum(
        name in STOCKS for block in partial_state_update_blocks for name in block["variables"]
    )


STOCK_UPDATES_PER_DAY = _stock_updates_per_day()


def relative_tolerance(days):
    """The relative difference two computations of a quantity may show after `days` days."""
    return ULPS_PER_DAY * EPS * np.maximum(days, 1)


def residual_tolerance(days):
    """The absolute difference two computations of the conservation residual may show."""
    walk = (
        RESIDUAL_SIGMAS
        * math.sqrt(2.0)
        * 0.5
        * np.sqrt(STOCK_UPDATES_PER_DAY * np.maximum(days, 1))
    )
    return ULP_AT_MAX_SUPPLY * (2.0 * SEVEN_TERM_SUM_ULPS + walk)


def _units() -> dict[str, str]:
    """Each state variable's unit, as `model.types.State` annotates it."""
    units = {}
    for name, hint in typing.get_type_hints(State, include_extras=True).items():
        metadata = getattr(hint, "__metadata__", None)
        if metadata:
            units[name] = str(metadata[0])
    return units


def ledger_of(column: str) -> str:
    """The ledger a column's values are booked in: its unit, and for the two books the model
    keeps (the token supply and the node count) a daily flow with its amount (SESH/day with
    SESH, nodes/day with nodes); unknown columns their own."""
    unit = UNITS.get(column)
    if unit is None:
        return f"column {column}"
    return unit.removesuffix("/day") if unit in BOOKED_FLOWS else unit


# Flows moved between the balances of a book the model keeps.
BOOKED_FLOWS = ("SESH/day", "nodes/day")


UNITS = _units()


def ledger_scales(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per ledger, per row: the largest magnitude any of its columns takes in that row's
    trajectory, in either frame (labels and rounding-noise columns excluded)."""
    keys = [a[k].to_numpy() for k in TRAJECTORY if k in a]
    magnitudes: dict[str, np.ndarray] = {}
    for column in a.columns:
        if column in EXACT_COLUMNS or column in ROUNDING_COLUMNS:
            continue
        m = np.maximum(np.abs(a[column].to_numpy(float)), np.abs(b[column].to_numpy(float)))
        m = np.where(np.isfinite(m), m, 0.0)
        ledger = ledger_of(column)
        magnitudes[ledger] = np.maximum(magnitudes.get(ledger, 0.0), m)
    if not keys:
        return {k: np.full(len(m), m.max(initial=0.0)) for k, m in magnitudes.items()}
    return {
        k: pd.Series(m).groupby(keys).transform("max").to_numpy() for k, m in magnitudes.items()
    }


def allowed_difference(column: str, a, b, days, scale=None) -> np.ndarray:
    """The largest |a - b| allowed for values of `column` after `days` days (arrays or numbers;
    `scale`: the size of the column's ledger in the trajectory, `ledger_scales`; by default the
    values' own)."""
    days = np.asarray(days, dtype=float)
    if column in EXACT_COLUMNS:
        return np.zeros(np.broadcast(a, b, days).shape)
    if column in ROUNDING_COLUMNS:
        return np.broadcast_to(residual_tolerance(days), np.broadcast(a, b, days).shape)
    size = np.maximum(np.abs(np.asarray(a, dtype=float)), np.abs(np.asarray(b, dtype=float)))
    if scale is not None:
        size = np.maximum(size, scale)
    return relative_tolerance(days) * size


def _differs(a: np.ndarray, b: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Rows where a and b are not within `allowed` (NaN equals NaN, an infinity itself)."""
    both_nan = np.isnan(a) & np.isnan(b)
    same = (a == b) | both_nan
    with np.errstate(invalid="ignore"):
        return ~same & ~(np.abs(a - b) <= allowed)


def values_close(column: str, a, b, days, scale=None) -> bool:
    """Values of `column` from two computations agree (`allowed_difference`; NaN equals NaN)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return not _differs(x, y, allowed_difference(column, x, y, days, scale)).any()


def frame_differences(a: pd.DataFrame, b: pd.DataFrame, days=None) -> list[str]:
    """What keeps two frames of the same runs from agreeing within these tolerances, one line
    per column (worst row first); empty when they agree. Rows are matched by position; `days`
    is the horizon of each row (default: the frames' `timestep`)."""
    if list(a.columns) != list(b.columns):
        return [f"columns differ: {list(a.columns)} vs {list(b.columns)}"]
    if len(a) != len(b):
        return [f"row counts differ: {len(a)} vs {len(b)}"]
    if days is None:
        days = a["timestep"].to_numpy(float) if "timestep" in a else 1
    scales = ledger_scales(a, b)
    problems = []
    for column in a.columns:
        x, y = a[column].to_numpy(float), b[column].to_numpy(float)
        scale = scales.get(ledger_of(column))
        allowed = allowed_difference(column, x, y, days, scale)
        bad = _differs(x, y, allowed)
        if not bad.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = np.where(bad, np.abs(x - y) / allowed, 0.0)
        excess = np.where(bad & ~np.isfinite(excess), np.inf, excess)
        row = int(np.argmax(excess))
        where = ", ".join(f"{k}={a[k].iloc[row]}" for k in ("subset", "run", "timestep") if k in a)
        problems.append(
            f"{column}: {int(bad.sum())} rows apart beyond tolerance, worst {x[row]!r} vs "
            f"{y[row]!r} ({where}; allowed {float(allowed[row]):.3g})"
        )
    return problems


def frames_close(a: pd.DataFrame, b: pd.DataFrame, days=None) -> bool:
    """Two frames of the same runs agree within these tolerances, column by column."""
    return not frame_differences(a, b, days)


def assert_frames_close(a: pd.DataFrame, b: pd.DataFrame, days=None) -> None:
    """AssertionError naming every column that disagrees (see `frame_differences`)."""
    problems = frame_differences(a, b, days)
    if problems:
        raise AssertionError(
            "frames differ beyond the tolerances of float rounding:\n" + "\n".join(problems)
        )


def kpi_floor(kpi: str, stat: str, value, days) -> tuple[float, str]:
    """The tolerance float rounding alone needs for a golden KPI statistic over `days` days
    (a floor under its Monte Carlo tolerance), with its reason."""
    if kpi in ROUNDING_KPIS:
        if stat == "paired_share_positive":
            return 1.0, "sign of a difference of two rounding walks: not compared"
        paired = stat.startswith("paired_")
        bound = (2.0 if paired else 1.0) * float(residual_tolerance(days))
        return bound, f"float rounding: the residual's absolute tolerance over {days:g} days"
    if stat in ("n", "paired_n"):
        return 0.0, "count: exact"
    size = 1.0 if value is None or not np.isfinite(value) else max(abs(float(value)), 1.0)
    bound = float(relative_tolerance(days)) * size
    return bound, f"float rounding: {ULPS_PER_DAY} ulps a day over {days:g} days"
