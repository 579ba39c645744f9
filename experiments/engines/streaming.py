"""Batches of vectorized trajectories: one after another (bounded memory) or as Ray tasks.

A batch is a range of trajectory numbers (see `experiments.engines.vectorized`): it gives exactly
the numbers those trajectories have in one call over all of them, so batches can run in any order
or place and be concatenated. KPI-only streaming passes a `reduce` function (the run-level KPI
table, from the analysis layer) that turns each batch's frame into what a run keeps, before the
next batch starts: memory is then bounded by the batch, not by the run count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from experiments.engines.ray_cluster import ray_workers
from experiments.engines.vectorized import run_vectorized
from model import Parameters

# Memory of one batch at its peak, per trajectory-day, measured on this model (5-year batches of
# 1,000-2,500 trajectories): everything recorded (a full or thinned run) or only what the KPIs
# and the guard read (KPI-only), plus the draws and the day's working arrays.
BYTES_PER_TRAJECTORY_DAY = {"full": 600, "kpi": 330}
# The memory all of a streamed run's batches may hold at once (split between the workers), and
# the most trajectories in one batch (beyond ~2,500 numpy's per-call cost is already amortised).
STREAM_MEMORY_BYTES = 1_000_000_000
STREAM_BATCH_MAX = 2500
# Below this many trajectory-days a process pool costs more than it saves: one process.
PARALLEL_MIN_TRAJECTORY_DAYS = 2_000_000


def stream_batch_size(timesteps: int, workers: int = 1, kpi_only: bool = False) -> int:
    """Trajectories per batch so that `workers` batches at once stay within STREAM_MEMORY_BYTES
    (from the measured bytes per trajectory-day), at most STREAM_BATCH_MAX."""
    per_day = BYTES_PER_TRAJECTORY_DAY["kpi" if kpi_only else "full"]
    fits = STREAM_MEMORY_BYTES // (max(1, workers) * per_day * (timesteps + 1))
    return int(max(1, min(STREAM_BATCH_MAX, fits)))


def local_workers(spec, trajectories: int) -> int:
    """Processes for a streamed run on this machine: `spec.processes`, else every core for a run
    big enough to gain from them, else one."""
    if spec.processes:
        return spec.processes
    if trajectories * (spec.timesteps + 1) < PARALLEL_MIN_TRAJECTORY_DAYS:
        return 1
    return os.cpu_count() or 1


def batches(trajectories: int, size: int) -> list[range]:
    """Consecutive trajectory ranges of at most `size` (the last one may be shorter)."""
    return [range(a, min(a + size, trajectories)) for a in range(0, trajectories, size)]


def run_batch(
    parameter_sets: Sequence[Parameters],
    spec,
    batch: range,
    reduce: Callable[..., Any] | None = None,
    thin: int | None = None,
    record: Sequence[str] | None = None,
):
    """One batch of trajectories: its frame, or (with `reduce`) (reduced, thinned rows).

    `reduce(paths, subsets, runs)` gets the batch's arrays (variable -> (trajectories, days + 1))
    without a frame being built; `record` limits what is recorded to what it reads (everything
    when thinned rows are kept). The thinned rows are the tidy rows of every `thin`-th day (None
    without `thin`). The batch's arrays are dropped when this returns.
    """
    recorded = run_vectorized(
        parameter_sets,
        spec.runs,
        spec.timesteps,
        spec.seed,
        spec.first_subset,
        batch,
        spec.common_draws,
        record=None if thin is not None or reduce is None else record,
        as_paths=True,
        layout="trajectory" if reduce is None else "day",
    )
    if reduce is None:
        return recorded.frame()
    reduced = reduce(recorded.paths(), recorded.subsets, recorded.runs)
    return reduced, None if thin is None else recorded.frame(every=thin)


def execute_batches(
    parameter_sets: Sequence[Parameters],
    spec,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    **settings,
) -> list:
    """`run_batch` over every batch of `batch_size` trajectories; results in trajectory order.

    single_process runs them one after another in this process, or with `workers` > 1 in a pool
    of local processes; ray runs each as a task on the Ray instance this process is connected to
    (`ray_cluster.ray_session`). Results are gathered in batch order either way, and each
    batch's numbers depend only on its trajectories, so every way gives the same table.
    `progress` is called with each finished batch's trajectory count.
    """
    ranges = batches(len(parameter_sets) * spec.runs, batch_size)
    if spec.backend == "ray":
        return _on_ray(parameter_sets, spec, ranges, settings, progress)
    if workers > 1 and len(ranges) > 1:
        return _on_processes(parameter_sets, spec, ranges, settings, progress, workers)
    results = []
    for batch in ranges:
        results.append(run_batch(parameter_sets, spec, batch, **settings))
        if progress:
            progress(len(batch))
    return results


def _on_ray(parameter_sets, spec, ranges: list[range], settings: dict, progress) -> list:
    """Every batch as a Ray task; results put back in batch order as they finish."""
    import ray

    task = ray.remote(run_batch)
    shared = ray.put(list(parameter_sets))  # stored once, not once per task
    pending = {task.remote(shared, spec, b, **settings): i for i, b in enumerate(ranges)}
    results = [None] * len(ranges)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            index = pending.pop(ref)
            results[index] = ray.get(ref)
            if progress:
                progress(len(ranges[index]))
    return results


def _on_processes(parameter_sets, spec, ranges, settings, progress, workers: int) -> list:
    """Every batch in a pool of `workers` local processes (forkserver: each worker imports the
    model once); results put back in batch order as they finish."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("forkserver")
    results = [None] * len(ranges)
    with ProcessPoolExecutor(max_workers=min(workers, len(ranges)), mp_context=context) as pool:
        futures = {
            pool.submit(run_batch, list(parameter_sets), spec, batch, **settings): i
            for i, batch in enumerate(ranges)
        }
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            if progress:
                progress(len(ranges[index]))
    return results


def run_on_ray(parameter_sets: Sequence[Parameters], spec) -> pd.DataFrame:
    """The registry's vectorized runner on Ray: one batch per worker, concatenated in order."""
    size = math.ceil(len(parameter_sets) * spec.runs / ray_workers(spec.processes))
    return pd.concat(execute_batches(parameter_sets, spec, size), ignore_index=True)


@dataclass(frozen=True)
class Streamed:
    """What a streamed run keeps: the concatenated reductions (in trajectory order) and, when
    thinned, the timeseries rows of every N-th day."""

    reduced: pd.DataFrame
    timeseries: pd.DataFrame | None


def stream(
    parameter_sets: Sequence[Parameters],
    spec,
    reduce: Callable[..., pd.DataFrame],
    thin: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    record: Sequence[str] | None = None,
) -> Streamed:
    """Every trajectory, batch by batch, each reduced by `reduce(paths, subsets, runs)` (a
    table per batch; the tables are concatenated in trajectory order).

    The batch size comes from a memory estimate (`stream_batch_size`: all batches in flight
    within STREAM_MEMORY_BYTES) unless `batch_size` is given. Batches run in a pool of local
    processes (`local_workers`: every core for a big run, `spec.processes` if set) or as Ray tasks
    on the ray backend; the table is the same either way. `record`: the variables `reduce` reads.
    """
    trajectories = len(parameter_sets) * spec.runs
    workers = 1 if spec.backend == "ray" else local_workers(spec, trajectories)
    if spec.backend == "ray":
        workers_for_size = ray_workers(spec.processes)
    else:
        workers_for_size = workers
    kpi_only = thin is None and record is not None
    size = batch_size or stream_batch_size(spec.timesteps, workers_for_size, kpi_only)
    # at least one batch per worker, so every core has work
    size = min(size, math.ceil(trajectories / workers_for_size))
    settings = {"reduce": reduce, "thin": thin, "record": record}
    results = execute_batches(parameter_sets, spec, size, progress, workers, **settings)
    table = pd.concat([r[0] for r in results], ignore_index=True)
    if thin is None:
        return Streamed(table, None)
    return Streamed(table, pd.concat([r[1] for r in results], ignore_index=True))
