"""The invariant guard: a run that breaks the economy's identities stops, on every engine.

After each day every trajectory must satisfy:
- conservation: |sum of the disjoint stocks - 240M| <= 1e-6 x 240M (`conservation_residual`);
- no negative stock: each stock >= -1e-9 x 240M (float rounding of a stock that reached zero);
- every recorded value finite;
- price_usd > 0.
The vectorized engine checks its arrays as it goes, a chunk of days at a time (a few numpy calls
per chunk, no per-run Python); cadCAD and radCAD are checked on their finished frames, day by day
in order. A breach raises `InvariantError` naming the invariant, subset, run, day and the
parameter overrides in force; the command line turns it into one line and exit status 3, with
nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model import Parameters
from model.constants import MAX_SUPPLY
from model.parts.metrics import STOCKS

# What the guard reads; a run that records less (KPI-only) still records these. Non-finite values
# anywhere in the economy reach the stocks or the price within the day.
GUARD_COLUMNS = (*STOCKS, "price_usd", "conservation_residual")
RESIDUAL_LIMIT = 1e-6 * MAX_SUPPLY
NEGATIVE_LIMIT = -1e-9 * MAX_SUPPLY


class InvariantError(RuntimeError):
    """A run broke an invariant (one-line message)."""


def overrides_of(parameters: Parameters) -> dict:
    """The parameters that differ from the model's defaults."""
    defaults = Parameters().to_dict()
    return {k: v for k, v in parameters.to_dict().items() if v != defaults[k]}


def describe(parameters: Parameters) -> str:
    overrides = overrides_of(parameters)
    if not overrides:
        return "defaults"
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items())


def breaches(values: np.ndarray, names: Sequence[str]) -> tuple[str, np.ndarray] | None:
    """The first broken invariant over `values` (variables x trajectories) and a mask of the
    trajectories that break it, or None when all hold."""
    index = {name: i for i, name in enumerate(names)}
    finite = np.isfinite(values)
    if not finite.all():
        bad = ~finite.all(axis=0)
        first = names[int(np.argmin(finite[:, bad.argmax()]))]
        return f"a non-finite value ({first})", bad
    residual = np.abs(values[index["conservation_residual"]])
    if (residual > RESIDUAL_LIMIT).any():
        return "conservation of the 240M max supply", residual > RESIDUAL_LIMIT
    stocks = values[[index[s] for s in STOCKS]]
    negative = stocks < NEGATIVE_LIMIT
    if negative.any():
        which = STOCKS[int(negative.any(axis=1).argmax())]
        return f"no negative stock ({which})", negative.any(axis=0)
    price = values[index["price_usd"]]
    if (price <= 0).any():
        return "price_usd > 0", price <= 0
    return None


def check_day(
    values: np.ndarray,
    names: Sequence[str],
    day: int,
    subsets: np.ndarray,
    runs: np.ndarray,
    parameters_of,
) -> None:
    """Raise InvariantError if any trajectory breaks an invariant on `day`.

    `values` is (variables x trajectories) for that day; `parameters_of(i)` gives trajectory i's
    Parameters (for the message).
    """
    found = breaches(values, names)
    if found is None:
        return
    invariant, mask = found
    i = int(np.argmax(mask))
    raise InvariantError(
        f"invariant broken: {invariant} in subset {int(subsets[i])} run {int(runs[i])} on day "
        f"{day} (parameters: {describe(parameters_of(i))})"
    )


def check_days(
    values: np.ndarray,
    names: Sequence[str],
    first_day: int,
    subsets: np.ndarray,
    runs: np.ndarray,
    parameters_of,
) -> None:
    """`check_day` over consecutive days at once: `values` is (variables x days x trajectories)
    from `first_day` on. One pass over the chunk; only when something breaks are its days
    checked in order, so the error names the first broken day."""
    if breaches(values.reshape(len(names), -1), names) is None:
        return
    for offset in range(values.shape[1]):
        check_day(values[:, offset, :], names, first_day + offset, subsets, runs, parameters_of)


def check_frame(
    frame: pd.DataFrame, parameter_sets: Sequence[Parameters], first_subset: int = 0
) -> None:
    """The same checks on a finished tidy frame, day by day in order (cadCAD, radCAD)."""
    names = [c for c in frame.columns if c not in ("subset", "run", "timestep")]
    values = frame[names].to_numpy(dtype="float64").T
    found = breaches(values, names)
    if found is None:
        return
    _, mask = found
    days = frame["timestep"].to_numpy()
    first_day = int(days[mask].min())
    today = days == first_day
    day_values = values[:, today]
    subsets = frame["subset"].to_numpy()[today]
    runs = frame["run"].to_numpy()[today]
    check_day(
        day_values,
        names,
        first_day,
        subsets,
        runs,
        lambda i: parameter_sets[int(subsets[i]) - first_subset],
    )
