"""The Python API: `run`, `simulate` and `simulate_kpis`, thin calls into the engine registry.

`run(overrides, ...)` runs one parameter set; `simulate` runs any list of parameter sets (sweep
subsets); both return one tidy frame (see `experiments.engines.base`). `simulate_kpis` is the
KPI-only mode of the vectorized engine: batches of trajectories reduced to their run-level KPIs as
they finish, so 10,000 runs need the memory of one batch, not of the whole timeseries.

Each takes the run settings as a `RunSpec` (`experiments.engines.registry`), or as its fields by
keyword (`runs=10, years=2, engine="radcad"`), or both (the keywords replace the spec's fields):
the settings, their defaults (the engine: `registry.DEFAULT_ENGINE`) and their checks are the
RunSpec's, listed there only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from experiments.analysis import kpis
from experiments.engines import registry, streaming
from experiments.engines.base import INDEX_COLUMNS
from experiments.engines.registry import BACKENDS, ENGINES, RunSpec
from model import ParameterError, Parameters

__all__ = [
    "BACKENDS",
    "ENGINES",
    "INDEX_COLUMNS",
    "KpiRun",
    "RunSpec",
    "run",
    "run_spec",
    "simulate",
    "simulate_kpis",
]

SETTINGS = tuple(f.name for f in dataclasses.fields(RunSpec))


def run_spec(spec: RunSpec | None = None, **settings: Any) -> RunSpec:
    """`spec` (default: `RunSpec()`) with the given fields replaced, validated; an unknown
    setting is a ParameterError naming the known ones."""
    for name in settings:
        if name not in SETTINGS:
            raise ParameterError(
                f"unknown run setting '{name}': must be one of {', '.join(SETTINGS)}"
            )
    return dataclasses.replace(spec or RunSpec(), **settings)


def run(
    overrides: dict[str, Any] | None = None, spec: RunSpec | None = None, **settings: Any
) -> pd.DataFrame:
    """Monte Carlo runs of one parameter set (`overrides` on the defaults). One row per (subset,
    run, timestep). Run settings as in `simulate`."""
    return simulate([Parameters.from_overrides(overrides)], spec, **settings)


def simulate(
    parameter_sets: Sequence[Parameters], spec: RunSpec | None = None, **settings: Any
) -> pd.DataFrame:
    """Run every parameter set (subset first_subset + i is parameter_sets[i]) `runs` times.

    Settings: a `RunSpec` and/or its fields by keyword (see the module docstring). `first_subset`
    and `first_run` let a caller run a sweep a subset or a few runs at a time (for progress) with
    the same per-(subset, run) seeds as one call over everything: runs are then numbered
    first_run + 1 .. first_run + runs.
    """
    return registry.simulate(parameter_sets, run_spec(spec, **settings))


@dataclass(frozen=True)
class KpiRun:
    """What a KPI-only run keeps: the run-level KPI table (`kpis.per_run`, all subsets, in
    (subset, run) order) and, when thinned, the timeseries rows of every N-th day."""

    per_run: pd.DataFrame
    timeseries: pd.DataFrame | None


def simulate_kpis(
    parameter_sets: Sequence[Parameters],
    spec: RunSpec | None = None,
    *,
    thin: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    **settings: Any,
) -> KpiRun:
    """`simulate`, reduced to run-level KPIs batch by batch (vectorized engine only).

    The numbers equal `kpis.per_run(simulate(...))` exactly, and the timeseries (with `thin`)
    equals the rows of `simulate(...)` whose timestep is a multiple of `thin`. Peak memory is
    that of one batch of `batch_size` trajectories plus the thinned rows. `common_draws` gives
    every subset the draws of subset 0. `progress` is called with each finished batch's
    trajectory count.
    """
    return stream_kpis(parameter_sets, run_spec(spec, **settings), thin, batch_size, progress)


def stream_kpis(
    parameter_sets: Sequence[Parameters],
    spec: RunSpec,
    thin: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    address: str | None = None,
) -> KpiRun:
    """`simulate_kpis` for a ready `RunSpec` (the command line's way in)."""
    if spec.engine != "vectorized":
        raise ParameterError(
            f"invalid engine for KPI-only runs: must be vectorized, got {spec.engine!r}"
        )
    for name, value in (("thin", thin), ("batch_size", batch_size)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ParameterError(f"invalid {name}: must be an integer >= 1, got {value!r}")
    with registry.ray_context(spec, address), np.errstate(all="ignore"):
        result = streaming.stream(
            parameter_sets, spec, kpis.per_run_paths, thin, batch_size, progress, kpis.KPI_COLUMNS
        )
    return KpiRun(result.reduced, result.timeseries)
