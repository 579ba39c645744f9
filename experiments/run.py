"""Run the model on cadCAD, radCAD or the vectorized engine and return one tidy frame.

`run(runs, years, seed, engine, overrides)` is the entry point; `simulate` runs any list of
parameter sets (sweep subsets). Every engine gets the same PSUB list, the same initial state and
the same per-(subset, run) seeds, so their frames are identical. `simulate_kpis` is the KPI-only
mode of the vectorized engine: batches of trajectories reduced to their run-level KPIs as they
finish, so 10,000 runs need the memory of one batch, not of the whole timeseries.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from experiments.ray_support import init_ray
from model import ParameterError, Parameters, initial_state, partial_state_update_blocks

ENGINES = ("cadcad", "radcad", "vectorized")
BACKENDS = ("single_process", "multiprocessing", "pathos", "ray")
DAYS_PER_YEAR = 365

# Columns every results frame starts with; the model's state variables follow.
INDEX_COLUMNS = ["subset", "run", "timestep"]
# State that is internal bookkeeping, not a result (an array per row).
INTERNAL_STATE = ("unstake_queue",)
# Backends each engine can run on (the vectorized engine's Ray backend runs batches as tasks).
ENGINE_BACKENDS = {
    "cadcad": ("single_process",),
    "radcad": BACKENDS,
    "vectorized": ("single_process", "ray"),
}
# Trajectories per batch in KPI-only mode: big enough that numpy's per-call overhead is amortised
# (1,000 runs a 5-year day in ~3x less time per trajectory than 50), and at most
# STREAM_BATCH_DAYS trajectory-days (~600 bytes each at the peak: ~1.2 GB) for long horizons.
STREAM_BATCH = 1000
STREAM_BATCH_DAYS = 2_000_000


def stream_batch_size(timesteps: int) -> int:
    """Default trajectories per KPI-only batch for a horizon of `timesteps` days."""
    return max(1, min(STREAM_BATCH, STREAM_BATCH_DAYS // (timesteps + 1)))


def _model_params(
    parameters: Parameters, subset: int, seed: int, runs: int, timesteps: int, first_run: int = 0
):
    params = parameters.to_dict()
    params.update(
        _subset=subset,
        _seed=int(seed),
        _runs=int(runs),
        _timesteps=int(timesteps),
        _first_run=int(first_run),
    )
    return params


def check_run_settings(runs, years, seed, engine, backend) -> int:
    """Validate the run settings; return the number of daily timesteps."""
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 1:
        raise ParameterError(f"invalid runs: must be an integer >= 1, got {runs!r}")
    if isinstance(years, bool) or not isinstance(years, (int, float)) or not 0 < years <= 100:
        raise ParameterError(f"invalid years: must be a number in (0, 100], got {years!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"invalid seed: must be an integer >= 0, got {seed!r}")
    if engine not in ENGINES:
        raise ParameterError(f"invalid engine: must be one of {', '.join(ENGINES)}, got {engine!r}")
    if backend not in BACKENDS:
        raise ParameterError(
            f"invalid backend: must be one of {', '.join(BACKENDS)}, got {backend!r}"
        )
    if backend not in ENGINE_BACKENDS[engine]:
        raise ParameterError(
            f"invalid backend for engine {engine}: must be "
            f"{' or '.join(ENGINE_BACKENDS[engine])}, got {backend!r}"
        )
    return max(1, int(round(years * DAYS_PER_YEAR)))


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
    """Run every parameter set (subset) `runs` times; subset first_subset + i is parameter_sets[i].

    `first_subset` and `first_run` let a caller run a sweep a subset or a few runs at a time (for
    progress) with the same per-(subset, run) seeds as one call over everything: runs are then
    numbered first_run + 1 .. first_run + runs.
    """
    timesteps = check_run_settings(runs, years, seed, engine, backend)
    if first_run and engine == "vectorized":
        raise ParameterError(
            "invalid first_run: must be 0 for engine vectorized (it streams runs itself)"
        )
    if engine == "cadcad":
        raw = _run_cadcad(parameter_sets, runs, timesteps, seed, first_subset, first_run)
    elif engine == "vectorized":
        raw = _run_vectorized(
            parameter_sets, runs, timesteps, seed, backend, processes, first_subset
        )
    else:
        raw = _run_radcad(
            parameter_sets, runs, timesteps, seed, backend, processes, first_subset, first_run
        )
    return tidy(raw, runs, first_run)


def _run_vectorized(
    parameter_sets, runs, timesteps, seed, backend, processes, first_subset=0
) -> pd.DataFrame:
    """One call over every trajectory, or on Ray one task per worker, concatenated in order."""
    from experiments import vectorized

    if backend == "single_process":
        return vectorized.run_vectorized(parameter_sets, runs, timesteps, seed, first_subset)
    workers = ray_workers(processes)
    size = math.ceil(len(parameter_sets) * runs / workers)
    frames = vectorized.execute_batches(
        parameter_sets, runs, timesteps, seed, size, "ray", first_subset=first_subset
    )
    return pd.concat(frames, ignore_index=True)


def ray_workers(processes: int | None) -> int:
    """Start (or join) Ray; the number of tasks to split a run into: `processes`, else its CPUs."""
    init_ray(processes)
    if processes:
        return processes
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


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
    that of one batch of `batch_size` trajectories (default `stream_batch_size`) plus the thinned
    rows. On Ray the batches are tasks (at most `batch_size` trajectories, at least one per
    worker). `common_draws`: see `experiments.vectorized.run_vectorized`. `progress` is called
    with each finished batch's trajectory count.
    """
    timesteps = check_run_settings(runs, years, seed, engine, backend)
    if engine != "vectorized":
        raise ParameterError(
            f"invalid engine for KPI-only runs: must be vectorized, got {engine!r}"
        )
    for name, value in (("thin", thin), ("batch_size", batch_size)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ParameterError(f"invalid {name}: must be an integer >= 1, got {value!r}")
    from experiments import vectorized

    size = stream_batch_size(timesteps) if batch_size is None else batch_size
    if backend == "ray":
        size = min(size, math.ceil(len(parameter_sets) * runs / ray_workers(processes)))
    results = vectorized.execute_batches(
        parameter_sets,
        runs,
        timesteps,
        seed,
        size,
        backend,
        progress,
        first_subset=first_subset,
        common_draws=common_draws,
        kpi_only=True,
        thin=thin,
    )
    table = pd.concat([r[0] for r in results], ignore_index=True)
    if thin is None:
        return KpiRun(table, None)
    return KpiRun(table, pd.concat([r[1] for r in results], ignore_index=True))


def _run_cadcad(parameter_sets, runs, timesteps, seed, first_subset=0, first_run=0):
    from cadCAD.configuration import Experiment
    from cadCAD.configuration.utils import config_sim
    from cadCAD.engine import ExecutionContext, ExecutionMode, Executor

    # cadCAD prints banners and progress bars: the runner's caller owns the terminal.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        experiment = Experiment()
        for subset, parameters in enumerate(parameter_sets, start=first_subset):
            params = _model_params(parameters, subset, seed, runs, timesteps, first_run)
            experiment.append_model(
                initial_state=initial_state(parameters),
                partial_state_update_blocks=partial_state_update_blocks,
                sim_configs=config_sim(
                    {
                        "N": runs,
                        "T": range(timesteps),
                        "M": {k: [v] for k, v in params.items()},
                    }
                ),
            )
        context = ExecutionContext(
            context=ExecutionMode().single_mode, additional_objs={"deepcopy_off": True}
        )
        records, _, _ = Executor(exec_context=context, configs=experiment.configs).execute()
    frame = pd.DataFrame(records)
    frame = frame[frame["substep"] == frame["substep"].max()].pipe(_with_initial, records)
    return frame.assign(subset=frame["simulation"] + first_subset)


def _with_initial(frame: pd.DataFrame, records) -> pd.DataFrame:
    """Keep the timestep-0 rows (substep 0) beside each day's last substep."""
    full = pd.DataFrame(records)
    return pd.concat([full[full["timestep"] == 0], frame])


_RADCAD_BACKENDS = {
    "single_process": "SINGLE_PROCESS",
    "multiprocessing": "MULTIPROCESSING",
    "pathos": "PATHOS",
    "ray": "RAY",
}


def _run_radcad(
    parameter_sets, runs, timesteps, seed, backend, processes, first_subset=0, first_run=0
) -> pd.DataFrame:
    import radcad

    if backend == "ray":
        init_ray(processes)  # before radCAD's own ray.init, so ours (local, quiet) wins
    simulations = []
    for subset, parameters in enumerate(parameter_sets, start=first_subset):
        params = _model_params(parameters, subset, seed, runs, timesteps, first_run)
        model = radcad.Model(
            initial_state=initial_state(parameters),
            state_update_blocks=partial_state_update_blocks,
            params={k: [v] for k, v in params.items()},
        )
        simulations.append(radcad.Simulation(model=model, timesteps=timesteps, runs=runs))
    engine = radcad.Engine(
        backend=getattr(radcad.Backend, _RADCAD_BACKENDS[backend]),
        deepcopy=False,
        drop_substeps=True,
        processes=processes or 1,
        raise_exceptions=True,
    )
    experiment = radcad.Experiment(simulations=simulations)
    experiment.engine = engine
    frame = pd.DataFrame(experiment.run())
    return frame.assign(subset=frame["simulation"] + first_subset)


def state_columns() -> list[str]:
    return [k for k in initial_state() if k not in INTERNAL_STATE]


def tidy(frame: pd.DataFrame, runs: int, first_run: int = 0) -> pd.DataFrame:
    """One row per (subset, run, timestep), model columns as float64, sorted."""
    out = pd.DataFrame(
        {
            "subset": frame["subset"].astype("int64").to_numpy(),
            "run": ((frame["run"].astype("int64") - 1) % runs + 1 + first_run).to_numpy(),
            "timestep": frame["timestep"].astype("int64").to_numpy(),
        }
    )
    for column in state_columns():
        values = frame[column].to_numpy()
        if values.dtype == object:
            values = np.fromiter((float(v) for v in values), dtype="float64", count=len(values))
        out[column] = values.astype("float64")
    return out.sort_values(INDEX_COLUMNS, kind="stable").reset_index(drop=True)


def trajectories(frame: pd.DataFrame) -> Iterable[tuple[tuple[int, int], pd.DataFrame]]:
    """Iterate (subset, run) -> that trajectory's rows in timestep order."""
    return frame.groupby(["subset", "run"], sort=True)
