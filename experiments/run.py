"""The Python API: `run`, `simulate` and `simulate_kpis`, thin calls into the engine registry.

`run(runs, years, seed, engine, overrides)` runs one parameter set; `simulate` runs any list of
parameter sets (sweep subsets); both return one tidy frame (see `experiments.engines.base`).
`simulate_kpis` is the KPI-only mode of the vectorized engine: batches of trajectories reduced to
their run-level KPIs as they finish, so 10,000 runs need the memory of one batch, not of the whole
timeseries. Engines and run settings are described in `experiments.engines.registry`.
"""

from __future__ import annotations

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
    "simulate",
    "simulate_kpis",
]


def run(
    runs: int = 1,
    years: float = 5,
    seed: int = 0,
    engine: str = "radcad",
    overrides: dict[str, Any] | None = None,
    backend: str = "single_process",
) -> pd.DataFrame:
    """Monte Carlo runs of one parameter set. One row per (subset, run, timestep)."""
    parameters = Parameters.from_overrides(overrides)
    return simulate([parameters], runs=runs, years=years, seed=seed, engine=engine, backend=backend)


def simulate(
    parameter_sets: Sequence[Parameters],
    runs: int = 1,
    years: float = 5,
    seed: int = 0,
    engine: str = "radcad",
    backend: str = "single_process",
    processes: int | None = None,
    first_subset: int = 0,
    first_run: int = 0,
) -> pd.DataFrame:
    """Run every parameter set (subset first_subset + i is parameter_sets[i]) `runs` times.

    `first_subset` and `first_run` let a caller run a sweep a subset or a few runs at a time (for
    progress) with the same per-(subset, run) seeds as one call over everything: runs are then
    numbered first_run + 1 .. first_run + runs.
    """
    spec = RunSpec(runs, years, seed, engine, backend, processes, first_subset, first_run)
    return registry.simulate(parameter_sets, spec)


@dataclass(frozen=True)
class KpiRun:
    """What a KPI-only run keeps: the run-level KPI table (`kpis.per_run`, all subsets, in
    (subset, run) order) and, when thinned, the timeseries rows of every N-th day."""

    per_run: pd.DataFrame
    timeseries: pd.DataFrame | None


def simulate_kpis(
    parameter_sets: Sequence[Parameters],
    runs: int = 1,
    years: float = 5,
    seed: int = 0,
    engine: str = "vectorized",
    backend: str = "single_process",
    processes: int | None = None,
    first_subset: int = 0,
    thin: int | None = None,
    batch_size: int | None = None,
    common_draws: bool = False,
    progress: Callable[[int], None] | None = None,
) -> KpiRun:
    """`simulate`, reduced to run-level KPIs batch by batch (vectorized engine only).

    The numbers equal `kpis.per_run(simulate(...))` exactly, and the timeseries (with `thin`)
    equals the rows of `simulate(...)` whose timestep is a multiple of `thin`. Peak memory is
    that of one batch of `batch_size` trajectories plus the thinned rows. `common_draws` gives
    every subset the draws of subset 0. `progress` is called with each finished batch's
    trajectory count.
    """
    spec = RunSpec(
        runs, years, seed, engine, backend, processes, first_subset, common_draws=common_draws
    )
    return stream_kpis(parameter_sets, spec, thin, batch_size, progress)


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
