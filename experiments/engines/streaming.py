"""Batches of vectorized trajectories: one after another (bounded memory) or as Ray tasks.

A batch is a range of trajectory numbers (see `experiments.engines.vectorized`): it gives exactly
the numbers those trajectories have in one call over all of them, so batches can run in any order
or place and be concatenated. KPI-only streaming passes a `reduce` function (the run-level KPI
table, from the analysis layer) that turns each batch's frame into what a run keeps, before the
next batch starts: memory is then bounded by the batch, not by the run count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from experiments.engines.ray_cluster import ray_workers
from experiments.engines.vectorized import run_vectorized
from model import Parameters

# Trajectories per batch in KPI-only mode: big enough that numpy's per-call overhead is amortised
# (1,000 runs a 5-year day in ~3x less time per trajectory than 50), and at most
# STREAM_BATCH_DAYS trajectory-days (~600 bytes each at the peak: ~1.2 GB) for long horizons.
STREAM_BATCH = 1000
STREAM_BATCH_DAYS = 2_000_000


def stream_batch_size(timesteps: int) -> int:
    """Default trajectories per KPI-only batch for a horizon of `timesteps` days."""
    return max(1, min(STREAM_BATCH, STREAM_BATCH_DAYS // (timesteps + 1)))


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
    **settings,
) -> list:
    """`run_batch` over every batch of `batch_size` trajectories; results in trajectory order.

    single_process runs them one after another; ray runs each as a task on the Ray instance this
    process is connected to (`ray_cluster.ray_session`) and gathers them in order. `progress` is
    called with each finished batch's trajectory count.
    """
    ranges = batches(len(parameter_sets) * spec.runs, batch_size)
    if spec.backend == "ray":
        return _on_ray(parameter_sets, spec, ranges, settings, progress)
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

    Peak memory is that of one batch of `batch_size` trajectories (default `stream_batch_size`)
    plus the thinned rows; on Ray the batches are tasks (at most `batch_size` trajectories, at
    least one per worker). `record`: the variables `reduce` reads.
    """
    size = stream_batch_size(spec.timesteps) if batch_size is None else batch_size
    if spec.backend == "ray":
        size = min(size, math.ceil(len(parameter_sets) * spec.runs / ray_workers(spec.processes)))
    settings = {"reduce": reduce, "thin": thin, "record": record}
    results = execute_batches(parameter_sets, spec, size, progress, **settings)
    table = pd.concat([r[0] for r in results], ignore_index=True)
    if thin is None:
        return Streamed(table, None)
    return Streamed(table, pd.concat([r[1] for r in results], ignore_index=True))
