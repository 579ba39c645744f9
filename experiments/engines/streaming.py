"""Batches of vectorized trajectories: one after another (bounded memory) or as Ray tasks.

A batch is a range of trajectory numbers (see `experiments.engines.vectorized`): it gives exactly
the numbers those trajectories have in one call over all of them, so batches can run in any order
or place and be concatenated. KPI-only streaming passes a `reduce` function (the run-level KPI
table, from the analysis layer) that turns each batch's frame into what a run keeps, before the
next batch starts: memory is then bounded by the batch, not by the run count. A full run too big
to hold (`stream_frames`) gets each batch's frame beside its reduction, in trajectory order, with
only a few batches in flight, so its caller can write them out one after another.
"""

from __future__ import annotations

import collections
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from experiments.engines.ray_cluster import ray_workers
from experiments.engines.vectorized import run_vectorized
from model import Parameters

# Memory of one batch at its peak, per trajectory-day, measured on this model (5-year batches of
# 1,000-2,500 trajectories): everything recorded (a full or thinned run) or only what the KPIs
# read (KPI-only: the guard's other stocks are kept for the checked chunk alone), plus the
# draws and the day's working arrays (KPI-only measured at ~225-265; 270 keeps a margin).
BYTES_PER_TRAJECTORY_DAY = {"full": 600, "kpi": 270}
# The memory all of a streamed run's batches may hold at once (split between the workers), and
# the most trajectories in one batch (beyond ~2,500 numpy's per-call cost is already amortised).
STREAM_MEMORY_BYTES = 1_000_000_000
STREAM_BATCH_MAX = 2500
# A full run streamed to parquet (`stream_frames`): the memory its batches in flight may hold.
# Larger than KPI-only's, because the engine's cost per day hardly grows with the batch up to
# ~1,000 trajectories: a 20-year day loop over 230 trajectories takes as long as over 1,000.
FRAME_STREAM_MEMORY_BYTES = 1_500_000_000
# Below this many trajectory-days a process pool costs more than it saves: one process.
PARALLEL_MIN_TRAJECTORY_DAYS = 2_000_000


def stream_batch_size(
    timesteps: int, workers: int = 1, kpi_only: bool = False, budget: int = STREAM_MEMORY_BYTES
) -> int:
    """Trajectories per batch so that `workers` batches at once stay within `budget` (from the
    measured bytes per trajectory-day), at most STREAM_BATCH_MAX."""
    per_day = BYTES_PER_TRAJECTORY_DAY["kpi" if kpi_only else "full"]
    fits = budget // (max(1, workers) * per_day * (timesteps + 1))
    return int(max(1, min(STREAM_BATCH_MAX, fits)))


def planned_batch_size(
    trajectories: int, timesteps: int, workers: int, kpi_only: bool, budget: int
) -> int:
    """The batch size of a streamed run: from the memory estimate (`stream_batch_size`), at most
    an even share per worker so every core has work, then evened out (a short last batch costs
    a whole day loop)."""
    size = stream_batch_size(timesteps, workers, kpi_only, budget)
    size = min(size, math.ceil(trajectories / workers))
    return math.ceil(trajectories / math.ceil(trajectories / size))


def local_workers(spec, trajectories: int) -> int:
    """Processes for a streamed run on this machine: `spec.processes`, else every core for a run
    big enough to gain from them, else one."""
    if spec.processes:
        return spec.processes
    if trajectories * (spec.timesteps + 1) < PARALLEL_MIN_TRAJECTORY_DAYS:
        return 1
    return os.cpu_count() or 1


def batches(trajectories: int, size: int) -> Iterator[range]:
    """Consecutive trajectory ranges of at most `size` (the last one may be shorter), made one
    at a time: a run of 10^19 trajectories never holds a list of its ranges."""
    for a in range(0, trajectories, size):
        yield range(a, min(a + size, trajectories))


def batch_count(trajectories: int, size: int) -> int:
    return -(-trajectories // size)


# This process's recording block, reused batch after batch (see `run_batch`): fresh memory costs a
# page fault per 4 KB on first touch, more than the recording itself. Holds at most one array.
_BLOCK: list = []


def reused_block(size: int):
    """A float64 array of at least `size` elements, the same one batch after batch."""
    if not _BLOCK or _BLOCK[0].size < size:
        _BLOCK[:] = []  # drop the smaller one first
        _BLOCK.append(np.empty(size))
    return _BLOCK[0]


def release_block() -> None:
    """Give the reused block back (a streamed run is over)."""
    _BLOCK.clear()


def run_batch(
    parameter_sets: Sequence[Parameters],
    spec,
    batch: range,
    reduce: Callable[..., Any] | None = None,
    thin: int | None = None,
    record: Sequence[str] | None = None,
    full: bool = False,
    reuse: bool = False,
):
    """One batch of trajectories: its frame, or (with `reduce`) (reduced, thinned rows).

    `reduce(paths, subsets, runs)` gets the batch's arrays (variable -> (trajectories, days + 1))
    without a frame being built; `record` limits what is recorded to what it reads (everything
    when thinned rows are kept). The thinned rows are the tidy rows of every `thin`-th day (None
    without `thin`). With `full`, (reduced, the whole frame): recorded trajectory by trajectory,
    so the frame is a view of the recorded block, not a copy. Without `reuse` the batch's arrays
    are dropped when this returns. With `reuse` the batch records into this process's reused
    block (`reused_block`): the reductions are new arrays and thinned rows are copied out, but a
    full frame stays a view of the block, valid only until the next batch runs in this process
    (a frame sent back from a worker is a copy): for callers that write each frame out first
    (`stream_frames`).
    """
    recorded = run_vectorized(
        parameter_sets,
        spec.runs,
        spec.timesteps,
        spec.seed,
        spec.first_subset,
        batch,
        spec.common_draws,
        record=None if full or thin is not None or reduce is None else record,
        as_paths=True,
        layout="trajectory" if full or reduce is None else "day",
        allocate=reused_block if reuse else None,
    )
    if reduce is None:
        return recorded.frame()
    reduced = reduce(recorded.paths(), recorded.subsets, recorded.runs)
    if full:
        return reduced, recorded.frame()
    return reduced, None if thin is None else recorded.frame(every=thin)


def execute_batches(
    parameter_sets: Sequence[Parameters],
    spec,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    **settings,
) -> list:
    """`run_batch` over every batch of `batch_size` trajectories; results in trajectory order
    (`iter_batches`; a pool gets two batches per worker ahead, Ray every batch at once)."""
    ahead = None if spec.backend == "ray" else 2 * max(1, workers)
    return list(
        iter_batches(parameter_sets, spec, batch_size, progress, workers, ahead, **settings)
    )


def iter_batches(
    parameter_sets: Sequence[Parameters],
    spec,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    ahead: int | None = None,
    **settings,
) -> Iterator:
    """`run_batch` over every batch of `batch_size` trajectories, yielded in trajectory order.

    single_process runs them one after another in this process, or with `workers` > 1 in a pool
    of local processes; ray runs each as a task on the Ray instance this process is connected to
    (`ray_cluster.ray_session`). Each batch's numbers depend only on its trajectories, so every
    way gives the same results. `ahead` caps the batches submitted but not yet yielded (None:
    all at once), so a consumer that writes each result out holds only a few; `progress` is
    called with each finished batch's trajectory count. Batches not yet started are cancelled
    when a batch fails or the consumer stops early.
    """
    trajectories = len(parameter_sets) * spec.runs
    ranges = batches(trajectories, batch_size)
    count = batch_count(trajectories, batch_size)
    if spec.backend == "ray":
        yield from _on_ray(parameter_sets, spec, ranges, settings, progress, ahead)
    elif workers > 1 and count > 1:
        yield from _on_processes(
            parameter_sets, spec, ranges, settings, progress, min(workers, count), ahead
        )
    else:
        for batch in ranges:
            result = run_batch(parameter_sets, spec, batch, **settings)
            if progress:
                progress(len(batch))
            yield result


def _in_order(ranges: Iterator[range], submit, result, progress, ahead: int | None) -> Iterator:
    """Submit batches (at most `ahead` not yet yielded; None: all) and yield their results in
    batch order; the next batch is submitted before a result is handed on, so workers keep busy
    meanwhile. `ranges` is consumed lazily, as batches are submitted."""
    todo = iter(ranges)
    pending: collections.deque = collections.deque()
    limit = math.inf if ahead is None else max(1, ahead)

    def fill() -> None:
        while len(pending) < limit and (batch := next(todo, None)) is not None:
            pending.append((batch, submit(batch)))

    fill()
    while pending:
        batch, handle = pending.popleft()
        value = result(handle)
        if progress:
            progress(len(batch))
        fill()
        yield value


def _on_ray(parameter_sets, spec, ranges, settings, progress, ahead=None) -> Iterator:
    """Every batch as a Ray task; results in batch order."""
    import ray

    task = ray.remote(run_batch)
    shared = ray.put(list(parameter_sets))  # stored once, not once per task
    submitted = []

    def submit(batch):
        submitted.append(task.remote(shared, spec, batch, **settings))
        return submitted[-1]

    try:
        yield from _in_order(ranges, submit, ray.get, progress, ahead)
    except BaseException:  # a failed or abandoned run (GeneratorExit too): stop the rest
        for ref in submitted:
            ray.cancel(ref)
        raise


def _on_processes(parameter_sets, spec, ranges, settings, progress, workers, ahead=None):
    """Every batch in a pool of `workers` local processes (forkserver: each worker imports the
    model once); results in batch order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    sets = list(parameter_sets)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        submit = lambda batch: pool.submit(run_batch, sets, spec, batch, **settings)  # noqa: E731
        yield from _in_order(ranges, submit, lambda future: future.result(), progress, ahead)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_on_ray(parameter_sets: Sequence[Parameters], spec) -> pd.DataFrame:
    """The registry's vectorized runner on Ray: one batch per worker, concatenated in order."""
    size = math.ceil(len(parameter_sets) * spec.runs / ray_workers(spec.processes))
    return pd.concat(execute_batches(parameter_sets, spec, size), ignore_index=True)


def batch_plan(
    parameter_sets: Sequence[Parameters], spec, kpi_only: bool, batch_size: int | None = None
) -> tuple[int, int]:
    """(trajectories per batch, local worker processes) for a streamed run: the size from the
    memory estimate (`stream_batch_size`: all batches in flight within STREAM_MEMORY_BYTES)
    unless `batch_size` is given, at most an even share per worker so every core has work; one
    local process on the ray backend (the batches are Ray tasks)."""
    trajectories = len(parameter_sets) * spec.runs
    workers = 1 if spec.backend == "ray" else local_workers(spec, trajectories)
    if spec.backend == "ray":
        workers_for_size = ray_workers(spec.processes)
    else:
        workers_for_size = workers
    if batch_size is not None:  # at most an even share per worker, so every core has work
        return min(batch_size, math.ceil(trajectories / workers_for_size)), workers
    size = planned_batch_size(
        trajectories, spec.timesteps, workers_for_size, kpi_only, STREAM_MEMORY_BYTES
    )
    return size, workers


def stream_frames(
    parameter_sets: Sequence[Parameters],
    spec,
    reduce: Callable[..., pd.DataFrame],
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """A full run batch by batch: (`reduce`'s table, the batch's tidy frame) per batch, in
    trajectory order, for a caller that writes each frame out before taking the next: in one
    process each frame is a view of a reused block, overwritten by the next batch.

    Every variable is recorded, so batches are sized from the full-frame bytes per
    trajectory-day to keep the batches in flight within FRAME_STREAM_MEMORY_BYTES (unless
    `batch_size` is given), then evened out (a short tail costs a whole day loop). They run in
    this process (a frame sent back from a worker would be held twice), in a pool only when
    `spec.processes` asks for one, or as Ray tasks on the ray backend; at most one batch per
    worker runs ahead of the caller, so memory is bounded by a few batches, not by the run.
    Concatenated, the frames equal the frame of one call over every trajectory, and the tables
    `reduce` of it.
    """
    trajectories = len(parameter_sets) * spec.runs
    ray = spec.backend == "ray"
    workers = 1 if ray else (spec.processes or 1)
    in_flight = ray_workers(spec.processes) if ray else workers
    if batch_size is None:
        batch_size = planned_batch_size(
            trajectories, spec.timesteps, in_flight, False, FRAME_STREAM_MEMORY_BYTES
        )
    # each frame is written out (or sent back from a worker, a copy) before the next batch runs
    settings = {"reduce": reduce, "full": True, "reuse": not ray}
    try:
        yield from iter_batches(
            parameter_sets, spec, batch_size, progress, workers, in_flight, **settings
        )
    finally:
        release_block()


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
    kpi_only = thin is None and record is not None
    size, workers = batch_plan(parameter_sets, spec, kpi_only, batch_size)
    # reductions are new arrays and thinned rows copies: the recording block can be reused
    settings = {"reduce": reduce, "thin": thin, "record": record, "reuse": spec.backend != "ray"}
    try:
        results = execute_batches(parameter_sets, spec, size, progress, workers, **settings)
    finally:
        release_block()
    table = pd.concat([r[0] for r in results], ignore_index=True)
    if thin is None:
        return Streamed(table, None)
    return Streamed(table, pd.concat([r[1] for r in results], ignore_index=True))
