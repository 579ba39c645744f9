"""A validated run of a named experiment (`Plan`), how big it will be, and how it executes.

Everything is checked before anything runs or touches the disk: the experiment, the overrides,
every subset's parameters, the run settings (`RunSpec`), the output folder and the memory the run
will need. `execute` then simulates one subset at a time under a progress bar (or streams KPIs
batch by batch) and returns what the results folder holds. A full run whose frame would not fit
in memory (`streams_timeseries`, vectorized engine) runs batch by batch instead, each batch's
rows appended to timeseries.parquet as it finishes and its run-level KPIs kept.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from experiments import definitions, memory
from experiments.analysis import kpis
from experiments.engines import streaming
from experiments.engines.base import INDEX_COLUMNS, PARQUET_OPTIONS, state_columns
from experiments.engines.registry import DEFAULT_ENGINE, RunSpec, ray_context, simulate
from experiments.reporting.columns import NEEDED_COLUMNS
from experiments.run import stream_kpis

# The full timeseries is held in memory before it is written; beyond this, refuse up front.
# (A streamed run holds only what its report reads: the same limit applies to that.)
MAX_TIMESERIES_BYTES = 8 * 10**9
# A full vectorized run whose timeseries would take more than this in memory (or whose in-memory
# peak would exceed the memory available) is streamed to timeseries.parquet batch by batch.
FRAME_MEMORY_BYTES = 2 * 10**9
# The timeseries columns the report reads back from a streamed run's parquet file.
REPORT_COLUMNS = len(INDEX_COLUMNS) + len(NEEDED_COLUMNS)
# Peak memory per (run, day) row while an engine runs one subset (its raw records before `tidy`),
# measured on this model with 5-year baselines: cadCAD keeps every substep, radCAD drops them.
ENGINE_BYTES_PER_ROW = {"cadcad": 32_000, "radcad": 6_000, "vectorized": 1_000}


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class RunFailed(Exception):
    """Good input, but the run cannot go ahead here: one line, exit status 1."""


@dataclass(frozen=True)
class Plan:
    """A validated run: everything `run` needs, decided before anything is written."""

    experiment: definitions.Experiment
    subsets: list[definitions.Subset]
    overrides: dict[str, Any]
    spec: RunSpec
    ray_address: str | None
    out: Path
    kpi_only: bool = False  # stream KPIs (vectorized engine); timeseries only when thinned
    thin: int | None = None  # with kpi_only: keep every thin-th day's rows

    runs = property(lambda self: self.spec.runs)
    years = property(lambda self: self.spec.years)
    timesteps = property(lambda self: self.spec.timesteps)
    seed = property(lambda self: self.spec.seed)
    engine = property(lambda self: self.spec.engine)
    backend = property(lambda self: self.spec.backend)
    processes = property(lambda self: self.spec.processes)


def make_plan(
    name: str,
    overrides: dict[str, Any] | None = None,
    runs: int | None = None,
    years: float | None = None,
    seed: int = 0,
    engine: str | None = None,
    backend: str = "single_process",
    processes: int | None = None,
    ray_address: str | None = None,
    kpi_only: bool = False,
    thin: int | None = None,
    out: Path | None = None,
    independent_draws: bool = False,
) -> Plan:
    """Check every input; raise UsageError or ParameterError with a one-line message."""
    experiment = definitions.get(name)
    overrides = dict(overrides or {})
    runs = experiment.runs if runs is None else runs
    years = experiment.years if years is None else years
    engine = choose_engine(engine, experiment)
    if processes is not None and processes < 1:
        raise UsageError(f"invalid processes: must be an integer >= 1, got {processes}")
    if processes is None and backend != "single_process":
        processes = os.cpu_count() or 1
    common = experiment.common_draws and not independent_draws
    spec = RunSpec(runs, years, seed, engine, backend, processes, common_draws=common)
    if years < experiment.min_years:
        raise UsageError(
            f"invalid years for experiment '{experiment.name}': must be >= "
            f"{experiment.min_years:g}, got {years:g}"
        )
    kpi_only = kpi_only or experiment.kpi_only
    check_kpi_only(kpi_only, thin, engine)
    if ray_address and backend != "ray":
        raise UsageError("--ray-address needs --backend ray")
    out = (out or Path("results") / experiment.name).absolute()
    return Plan(
        experiment=experiment,
        subsets=experiment.subsets(overrides, seed=seed),
        overrides=overrides,
        spec=spec,
        ray_address=ray_address,
        out=out,
        kpi_only=kpi_only,
        thin=thin,
    )


def choose_engine(requested: str | None, experiment: definitions.Experiment) -> str:
    """--engine, else the experiment's own, else the default (vectorized); an experiment tied to
    one engine refuses others."""
    if experiment.engine and requested not in (None, experiment.engine):
        raise UsageError(
            f"invalid engine for experiment '{experiment.name}': it runs on "
            f"--engine {experiment.engine} only, got '{requested}'"
        )
    return requested or experiment.engine or DEFAULT_ENGINE


def check_kpi_only(kpi_only: bool, thin: int | None, engine: str) -> None:
    if kpi_only and engine != "vectorized":
        raise UsageError("--kpi-only needs --engine vectorized (it streams batches of runs)")
    if thin is not None and thin < 1:
        raise UsageError(f"invalid --thin: must be an integer >= 1, got {thin}")
    if thin is not None and not kpi_only:
        raise UsageError("--thin needs --kpi-only (a full run saves every day)")


def estimated_bytes(plan: Plan) -> int:
    """Size of the timeseries in memory: rows x columns x 8 bytes (KPI-only: the thinned rows)."""
    return _rows(plan) * (len(INDEX_COLUMNS) + len(state_columns())) * 8


def _rows(plan: Plan) -> int:
    """Timeseries rows the run keeps: every day of every run (KPI-only: the thinned days)."""
    days = plan.timesteps + 1
    if plan.kpi_only:
        days = 0 if plan.thin is None else plan.timesteps // plan.thin + 1
    return len(plan.subsets) * plan.runs * days


def estimated_peak_bytes(plan: Plan, streamed: bool | None = None) -> int:
    """Memory the whole command needs at its peak, from the memory model (`experiments.memory`):
    KPI-only, a streamed full run (`streams_timeseries`; `streamed` forces either answer) or a
    full run in memory, each with its report phase and, for several subsets, the bootstrap."""
    subsets, trajectories = len(plan.subsets), len(plan.subsets) * plan.runs
    if plan.kpi_only:
        batch, workers = _batches_in_flight(plan, kpi_only=plan.thin is None)
        return memory.kpi_only(trajectories, subsets, _rows(plan), batch, workers)
    rows = trajectories * (plan.timesteps + 1)
    if streams_timeseries(plan) if streamed is None else streamed:
        batch, workers = _batches_in_flight(plan, kpi_only=False, frames=True)
        return memory.streamed_run(rows, trajectories, subsets, batch, workers)
    peak = memory.full_run(rows, trajectories, subsets)
    if plan.engine != "vectorized":  # the step-by-step engines' raw records of one subset call
        extra = ENGINE_BYTES_PER_ROW.get(plan.engine, 6_000) - ENGINE_BYTES_PER_ROW["vectorized"]
        peak += plan.runs * (plan.timesteps + 1) * extra
    return peak


def _batches_in_flight(plan: Plan, kpi_only: bool, frames: bool = False) -> tuple[int, int]:
    """(bytes of the batches a streamed run holds at once, local worker processes), from the
    batch size the stream will choose (`experiments.engines.streaming`)."""
    trajectories = len(plan.subsets) * plan.runs
    ray = plan.backend == "ray"
    in_flight = (plan.processes or os.cpu_count() or 1) if ray else None
    if frames:  # stream_frames: one process unless --processes, each batch written out first
        in_flight = in_flight or plan.processes or 1
        budget = streaming.FRAME_STREAM_MEMORY_BYTES
        workers = 1 if ray else in_flight
    else:
        workers = 1 if ray else streaming.local_workers(plan.spec, trajectories)
        in_flight = in_flight or workers
        budget = streaming.STREAM_MEMORY_BYTES
    size = streaming.planned_batch_size(trajectories, plan.timesteps, in_flight, kpi_only, budget)
    per_day = streaming.BYTES_PER_TRAJECTORY_DAY["kpi" if kpi_only else "full"]
    return in_flight * size * (plan.timesteps + 1) * per_day, workers


def report_bytes(plan: Plan) -> int:
    """Size of the timeseries columns the report reads back (every day, every run)."""
    return len(plan.subsets) * plan.runs * (plan.timesteps + 1) * REPORT_COLUMNS * 8


def report_phase_bytes(results_dir: Path) -> int:
    """The memory model's peak of `report DIR` on a results folder (its timeseries' rows)."""
    import pyarrow.parquet as pq

    path = Path(results_dir) / "timeseries.parquet"
    rows = pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0
    kpi_rows = 0
    with contextlib.suppress(OSError, ValueError):
        kpi_rows = sum(1 for _ in (Path(results_dir) / "kpis.csv").open()) - 1
    return memory.report(rows, max(0, kpi_rows))


def streams_timeseries(plan: Plan, available: int | None = None) -> bool:
    """Whether a full run streams its timeseries to parquet batch by batch: vectorized engine,
    and the frame would be over FRAME_MEMORY_BYTES or the in-memory peak over what is available
    (`memory.available_bytes()` unless `available` is given). Smaller runs hold the frame (one
    subset per engine call) as before."""
    if plan.kpi_only or plan.engine != "vectorized":
        return False
    if estimated_bytes(plan) > FRAME_MEMORY_BYTES:
        return True
    if available is None:
        available = memory.available_bytes()
    return estimated_peak_bytes(plan, streamed=False) > available


def size_problem(plan: Plan, available: int | None = None) -> str | None:
    """Why the run would not fit, in one line with what to do instead, or None. Decided from the
    memory model before anything runs; `available` (bytes) defaults to what the machine has now
    (`memory.available_bytes()`)."""
    if available is None:
        available = memory.available_bytes()
    streamed = streams_timeseries(plan, available)
    size = estimated_bytes(plan)
    if streamed:
        size = report_bytes(plan)
        if size > MAX_TIMESERIES_BYTES:
            return (
                f"run too large: its report would read ~{_gb(size)} GB of the timeseries, "
                f"over the {MAX_TIMESERIES_BYTES / 1e9:.0f} GB limit; {_remedy(plan)}"
            )
    elif size > MAX_TIMESERIES_BYTES:
        return (
            f"run too large: the timeseries would take ~{_gb(size)} GB, over the "
            f"{MAX_TIMESERIES_BYTES / 1e9:.0f} GB limit; {_remedy(plan)}"
        )
    peak = estimated_peak_bytes(plan, streamed=streamed)
    if peak > available:
        return (
            f"run too large: it would need ~{_gb(peak)} GB of memory at its peak, "
            f"{available / 1e9:.1f} GB is available; {_remedy(plan)}"
        )
    return None


def _gb(size: int) -> str:
    """Gigabytes for a message: one decimal, thousands separated, exponent when absurd."""
    gb = size / 1e9
    return f"{gb:,.1f}" if gb < 1e12 else f"{gb:.1e}"


def _remedy(plan: Plan) -> str:
    if not plan.kpi_only:
        return (
            "use fewer runs, years or subsets, or --engine vectorized --kpi-only "
            "(KPIs without the timeseries, memory of one batch)"
        )
    if plan.thin:
        return "use a larger --thin or none, or fewer runs"
    return "use fewer runs (every run keeps its KPIs) or fewer years"


# --- execute ---------------------------------------------------------------------------------------


def execute(plan: Plan, timeseries: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run the plan: (run-level KPI table, timeseries or None for KPI-only without --thin).

    With `timeseries` (a parquet path in the results' temp folder) a plan that
    `streams_timeseries` writes its timeseries there batch by batch and returns None for it.
    """
    with ray_session(plan):
        if plan.kpi_only:
            return stream_plan(plan)
        if timeseries is not None and streams_timeseries(plan):
            return stream_timeseries(plan, timeseries), None
        frame = simulate_plan(plan)
        return kpis.per_run(frame), frame


def stream_timeseries(plan: Plan, path: Path, batch_size: int | None = None) -> pd.DataFrame:
    """A full vectorized run batch by batch, all subsets in one streamed call (the seeds of one
    subset at a time): each batch's tidy frame appended to the parquet file `path` through one
    writer (the schema and row order of `DataFrame.to_parquet` on the whole frame) and its
    run-level KPIs computed from its arrays. Returns the run-level KPI table. An invariant
    breach raises mid-stream; the caller's temp folder then goes with the partial file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    from experiments.engines.streaming import stream_frames

    tables, writer = [], None
    total = len(plan.subsets) * plan.runs
    sets = [s.parameters for s in plan.subsets]
    batches = stream_frames(sets, plan.spec, kpis.per_run_paths, batch_size)
    try:
        with (
            tqdm(total=total, desc=plan.experiment.name, unit="run") as bar,
            np.errstate(all="ignore"),
            contextlib.closing(batches),  # on failure, no batch is left running
        ):
            for table, frame in batches:
                rows = pa.Table.from_pandas(frame, preserve_index=False)
                del frame
                if writer is None:
                    writer = pq.ParquetWriter(path, rows.schema, **PARQUET_OPTIONS)
                writer.write_table(rows)
                del rows
                tables.append(table)
                bar.update(len(table))
    finally:
        if writer is not None:
            writer.close()
    return pd.concat(tables, ignore_index=True)


def stream_plan(plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """KPI-only: all subsets in one streamed call (same seeds as one subset at a time), batch
    by batch; the run-level KPI table and the thinned timeseries (None without --thin)."""
    from tqdm import tqdm

    total = len(plan.subsets) * plan.runs
    with tqdm(total=total, desc=plan.experiment.name, unit="run") as bar:
        result = stream_kpis(
            [s.parameters for s in plan.subsets], plan.spec, plan.thin, progress=bar.update
        )
    return result.per_run, result.timeseries


def simulate_plan(plan: Plan) -> pd.DataFrame:
    """Every subset, a few runs per `simulate` call, under a progress bar counting runs.

    Runs of one-at-a-time engines (cadCAD, radCAD in one process) are split into about 20 calls
    per subset so the bar moves; `first_subset`/`first_run` keep each (subset, run) on the seeds
    it would get in one call over everything. Parallel backends and the vectorized engine take
    a whole subset per call.
    """
    from tqdm import tqdm

    stepwise = plan.engine in ("cadcad", "radcad") and plan.backend == "single_process"
    chunk = max(1, math.ceil(plan.runs / 20)) if stepwise else plan.runs
    frames = []
    total = len(plan.subsets) * plan.runs
    with tqdm(total=total, desc=plan.experiment.name, unit="run") as bar:
        for subset in plan.subsets:
            bar.set_postfix_str(subset.label)
            for first_run in range(0, plan.runs, chunk):
                runs = min(chunk, plan.runs - first_run)
                spec = replace(plan.spec, runs=runs, first_subset=subset.index, first_run=first_run)
                frames.append(simulate([subset.parameters], spec))
                bar.update(runs)
    return pd.concat(frames, ignore_index=True)


def ray_session(plan: Plan):
    """Ray for the whole run on the ray backend (started or joined once, stopped at the end)."""
    return _checked(ray_context(plan.spec, plan.ray_address), plan)


class _checked:
    """Enter a Ray session, turning a failure to start or join into a one-line error."""

    def __init__(self, context, plan: Plan):
        self.context, self.plan = context, plan

    def __enter__(self):
        try:
            return self.context.__enter__()
        except Exception as error:  # Ray raises several types; all mean "no Ray to run on"
            reason = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
            if self.plan.ray_address:  # a wrong address is bad input
                raise UsageError(f"cannot join Ray at {self.plan.ray_address}: {reason}") from None
            raise RunFailed(f"cannot start a local Ray instance: {reason}") from None

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)
