"""The memory model: how much memory each way of running the model needs at its peak, in one place.

Every path's peak is a fixed part (the interpreter and its imports, the batches a stream keeps in
flight) plus per-row and per-run parts, each a constant measured on this model with
`benchmarks/memory.py` (a fresh process per case, the peak of its resident memory): rows are
(subset, run, day) rows of the timeseries, runs are (subset, run) trajectories. The callers
(`experiments.plan` for the command line, `experiments.explorer.cache` for the explorer)
turn a request into those counts and compare the estimate with `available_bytes()` before
anything runs: a run that would not fit is refused (or streamed) up front, never killed midway.

Paths: `full_run` (timeseries in memory, then parquet, KPIs and the report), `streamed_run`
(batches written to parquet, then the report reading its columns back), `kpi_only` (batches
reduced to KPIs, optionally thinned rows), `report` (the report phase alone), `comparison`
(the bootstrap of paired differences, added to any run with more than one subset),
`explorer_view` and `explorer_download`.
"""

from __future__ import annotations

from pathlib import Path

import psutil

# Calibration (2026-12-06, benchmarks/memory.py, each case a fresh process, peaks in MiB): a
# constant is the slope between two sizes of one path, rounded up by 5-15%, so every estimate
# covers its measurement (measured / estimate 0.5-0.97 over the benchmark's cases).
#
# The interpreter with numpy, pandas, pyarrow, scipy and plotly loaded (a `run` command before
# its first row; the fits' intercepts were 150-190 MB).
BASE_BYTES = 250 * 2**20
# A process-pool worker of a streamed run: the interpreter with the model and numpy (measured).
WORKER_BYTES = 150 * 2**20
# Full run in memory, per timeseries row, at the peak of the whole command: the engine's record,
# the tidy frame, its concatenation over subsets, the parquet table and the report's columns
# (measured 628: 521 MiB at 300 x 5 years, 1,503 at 1,200 x 5 years).
FULL_BYTES_PER_ROW = 700
# ... with several subsets (each subset's frame, then their concatenation; measured ~950:
# 1,899 MiB for 2 x 500 runs x 5 years).
FULL_SWEEP_BYTES_PER_ROW = 1_000
# The report phase per timeseries row it reads back (13 columns read from parquet, then the
# (runs, days) arrays and quantiles of every chart; measured 361 with `report DIR` at 1,000 and
# 3,000 runs x 5 years, 408 in a streamed run's report phase at 3,000 x 5 years; the issue's
# 60,000 x 1 year run peaked at 8.5 GB, this model says 9.5 GB).
REPORT_BYTES_PER_ROW = 420
# A streamed batch in flight: its recorded block per trajectory-day, plus the tidy frame and
# arrow table written from it, as a multiple of the streaming module's own estimate of the
# recorded block (`streaming.BYTES_PER_TRAJECTORY_DAY`: measured 0.6-0.86 of it at its peak).
STREAM_BATCH_FACTOR = 1.0
# Per run (trajectory) of any path: the run-level KPI table, its per-batch pieces and their
# concatenation, the summary's sorted copies and the paired differences (measured ~400 with
# 100,000-200,000 one-day KPI-only runs).
KPI_BYTES_PER_RUN = 600
# Thinned rows of a KPI-only run, per row: kept per batch, concatenated, written, reported.
THIN_BYTES_PER_ROW = 1_000
# The bootstrap's working memory (`experiments.analysis.compare`: resamples in batches of at
# most BOOTSTRAP_MEMORY_BYTES, ~64 MB) and its per-pair arrays.
BOOTSTRAP_BYTES = 96 * 2**20
BOOTSTRAP_BYTES_PER_PAIR = 200
# The explorer, per row of a view (the recorded columns of A and B, the charts' arrays) and per
# row of a timeseries download (every column simulated again, the parquet buffer, its bytes and
# their base64 text in the response); measured ~290 for a view (A and B, 1,000 x 5 years) and
# ~1,040 for view and download together (400 and 1,200 runs x 5 years).
VIEW_BYTES_PER_ROW = 350
DOWNLOAD_BYTES_PER_ROW = 800


def available_bytes() -> int:
    """The memory this process can have now: the machine's (psutil's `available`), or less
    under a container's or service's memory limit (cgroups), where the kernel kills a process
    at the limit whatever the machine has free. The one source every refusal reads, so a test
    can replace it."""
    free = int(psutil.virtual_memory().available)
    headroom = cgroup_headroom()
    return free if headroom is None else min(free, headroom)


def cgroup_headroom(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """Memory limit minus usage of this process's cgroup (v2 `memory.max`/`memory.current`, v1
    `memory.limit_in_bytes`/`memory.usage_in_bytes`), or None where there is no limit to read.
    A container usually sees its own cgroup at the root, so the root is tried as well."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2
            for folder in (root / relative, root):
                candidates.append((folder / "memory.max", folder / "memory.current"))
        elif "memory" in controllers.split(","):  # cgroup v1
            for folder in (root / "memory" / relative, root / "memory"):
                candidates.append(
                    (folder / "memory.limit_in_bytes", folder / "memory.usage_in_bytes")
                )
    headrooms = []
    for limit_file, usage_file in candidates:
        try:
            limit_text = limit_file.read_text().strip()
            usage = int(usage_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or not limit_text.isdigit() or int(limit_text) >= 2**62:
            continue  # no limit set
        headrooms.append(max(0, int(limit_text) - usage))
    return min(headrooms) if headrooms else None


def comparison(pairs: int, subsets: int) -> int:
    """The bootstrap of paired differences (one comparison at a time), 0 for one subset."""
    if subsets < 2:
        return 0
    return BOOTSTRAP_BYTES + BOOTSTRAP_BYTES_PER_PAIR * pairs


def full_run(rows: int, runs: int, subsets: int) -> int:
    """A full run with its timeseries in memory (`rows` over every subset), end to end."""
    return (
        BASE_BYTES
        + (FULL_BYTES_PER_ROW if subsets == 1 else FULL_SWEEP_BYTES_PER_ROW) * rows
        + KPI_BYTES_PER_RUN * runs
        + comparison(runs // max(1, subsets), subsets)
    )


def stream_batches(batch_bytes: int, workers: int) -> int:
    """The batches a stream keeps in flight (`batch_bytes`: their recorded blocks together) and
    the pool's worker processes (none in one process)."""
    pool = WORKER_BYTES * workers if workers > 1 else 0
    return int(STREAM_BATCH_FACTOR * batch_bytes) + pool


def report(rows: int, runs: int) -> int:
    """The report phase on its own (`report DIR`): the columns it draws, every row."""
    return BASE_BYTES + REPORT_BYTES_PER_ROW * rows + KPI_BYTES_PER_RUN * runs


def streamed_run(rows: int, runs: int, subsets: int, batch_bytes: int, workers: int) -> int:
    """A full run written to parquet batch by batch, then reported: the larger phase."""
    simulate = BASE_BYTES + stream_batches(batch_bytes, workers) + KPI_BYTES_PER_RUN * runs
    return max(simulate, report(rows, runs)) + comparison(runs // max(1, subsets), subsets)


def kpi_only(runs: int, subsets: int, thinned_rows: int, batch_bytes: int, workers: int) -> int:
    """KPI-only: the batches in flight, every run's KPIs, the thinned rows (0 without --thin)."""
    return (
        BASE_BYTES
        + stream_batches(batch_bytes, workers)
        + KPI_BYTES_PER_RUN * runs
        + THIN_BYTES_PER_ROW * thinned_rows
        + comparison(runs // max(1, subsets), subsets)
    )


def explorer_view(rows: int, runs: int, scenarios: int) -> int:
    """One explorer view over the server's own memory (A, and B as a second subset)."""
    return (
        VIEW_BYTES_PER_ROW * rows
        + KPI_BYTES_PER_RUN * runs
        + comparison(runs // max(1, scenarios), scenarios)
    )


def explorer_download(rows: int, runs: int, scenarios: int) -> int:
    """A timeseries download: its view (cached or not) and every column of every row again."""
    return explorer_view(rows, runs, scenarios) + DOWNLOAD_BYTES_PER_ROW * rows
