"""The explorer's simulations: a small cache of the last views and the gate that keeps views and
downloads within the machine's memory.

A valid view runs scenario A and, when B has an override, scenario B as two subsets of one
`simulate` call on common random numbers (run r of both sees the same shocks), so the paired
differences (`analysis.compare`) measure the parameters only. Only the columns the charts and
KPIs read are recorded (`RECORD`); the timeseries download runs the view again with every
variable. Requests above `MAX_RUN_YEARS` are refused (they would take more than about ten
seconds here), and so are views and downloads whose memory (from the memory model,
`experiments.memory`) would not fit in what the machine has available. At most `HEAVY_SLOTS`
views or downloads compute at once: a further one is told the explorer is busy (`Busy`), so
several downloads together cannot take the server past the available memory.
"""

from __future__ import annotations

import functools
import io
import threading
import time
from dataclasses import dataclass

import pandas as pd

from experiments import memory
from experiments.analysis import compare, kpis
from experiments.engines.base import PARQUET_OPTIONS
from experiments.engines.registry import simulate
from experiments.explorer.charts import CHART_COLUMNS
from experiments.explorer.state import LABELS, View, parse_query, render_query, spec, years_text
from model import ParameterError

# runs x years x scenarios above which a request is refused: ~10 s of simulation on 2 cores
MAX_RUN_YEARS = 5_000
# Views and downloads computing at once (each may hold gigabytes); more are told to wait.
HEAVY_SLOTS = 2
RUN_KPI_NAMES = [k.name for k in kpis.RUN_KPIS]
# What the charts and the KPIs read: a view records only these (plus the invariant guard's
# columns); the timeseries download runs the view again with every variable recorded.
RECORD = tuple(dict.fromkeys([*kpis.KPI_COLUMNS, *CHART_COLUMNS]))


@dataclass(frozen=True)
class Outcome:
    """One view, simulated: the tidy frame (subset 0 = A, 1 = B) of the variables in `RECORD`,
    run-level KPIs, their summary and, with B, the paired differences B - A."""

    view: View
    frame: pd.DataFrame
    per_run: pd.DataFrame
    summary: dict[int, dict[str, dict[str, float]]]
    differences: pd.DataFrame | None
    seconds: float


def refusal(view: View, which: str = "view", available: int | None = None) -> str | None:
    """Why a view (`which`: "view", or "timeseries" for its download) is too big to compute
    here, in one line, or None: over the run-year limit (time), or needing more memory than is
    available (`memory.available_bytes()` unless `available` is given, less what the views
    and downloads computing now have reserved)."""
    scenarios = f" x {view.scenarios} scenarios" if view.scenarios > 1 else ""
    if view.run_years > MAX_RUN_YEARS:
        return (
            f"refused: {view.runs:,} runs x {years_text(view.years)} years{scenarios} = "
            f"{_above(view.run_years, MAX_RUN_YEARS)} run-years, and the explorer computes at "
            f"most {MAX_RUN_YEARS:,} (about ten seconds here). Use fewer runs or years, or run "
            "it from the command line (below), with --kpi-only for thousands of runs."
        )
    need = download_bytes(view) if which == "timeseries" else view_bytes(view)
    free = (memory.available_bytes() if available is None else available) - HEAVY.reserved
    if need > free:
        what = "its timeseries download" if which == "timeseries" else "this view"
        return (
            f"refused: {what} ({view.runs:,} runs x {years_text(view.years)} years{scenarios}) "
            f"would need ~{_size(need)} of memory and {_size(max(free, 0))} is available now."
            " Use fewer runs or years, or run it from the command line (below)."
        )
    return None


def _size(size: int) -> str:
    return f"{size / 1e9:,.1f} GB" if size >= 1e9 else f"{size / 1e6:,.0f} MB"


def _above(value: float, limit: float) -> str:
    """`value` (> `limit`) written with as few decimals as show it above the limit: 5,000.2
    stays 5,000.2, never "5,000" beside a limit of 5,000."""
    for decimals in range(0, 13):
        text = f"{value:,.{decimals}f}"
        if float(text.replace(",", "")) > limit:
            return text
    return repr(value)


def _rows(view: View) -> tuple[int, int]:
    """(timeseries rows, runs) of a view: every day of every run of A (and B)."""
    runs = view.runs * view.scenarios
    return runs * (spec(view).timesteps + 1), runs


def view_bytes(view: View) -> int:
    """The memory model's estimate of a view's peak over the server's own memory."""
    rows, runs = _rows(view)
    return memory.explorer_view(rows, runs, view.scenarios)


def download_bytes(view: View) -> int:
    """... of a timeseries download (every column simulated again, parquet, the response)."""
    rows, runs = _rows(view)
    return memory.explorer_download(rows, runs, view.scenarios)


class Busy(Exception):
    """Every heavy slot is taken: the request is told to wait, not queued."""


class HeavyGate:
    """At most `slots` heavy requests (views, downloads) at once, each reserving its estimated
    memory until it is done; a request beyond that is refused at once (`Busy`)."""

    def __init__(self, slots: int = HEAVY_SLOTS):
        self.slots = slots
        self.reserved = 0
        self._running = 0
        self._lock = threading.Lock()

    def __call__(self, need: int, available: int | None = None) -> _Reservation:
        """A reservation of `need` bytes; with `available`, it must also fit beside what the
        requests computing now reserved (checked under the lock: two requests that each fit
        alone cannot both start when they do not fit together)."""
        return _Reservation(self, need, available)


@dataclass
class _Reservation:
    gate: HeavyGate
    need: int
    available: int | None = None

    def __enter__(self):
        with self.gate._lock:
            running, reserved = self.gate._running, self.gate.reserved
            if running >= self.gate.slots or (
                running and self.available is not None and self.need > self.available - reserved
            ):
                raise Busy(
                    f"busy: the explorer is already computing {running} other request"
                    f"{'s' * (running != 1)} (views or downloads); try again when they finish"
                )
            self.gate._running += 1
            self.gate.reserved += self.need
        return self

    def __exit__(self, *exc):
        with self.gate._lock:
            self.gate._running -= 1
            self.gate.reserved -= self.need
        return False


HEAVY = HeavyGate()


def compute(view: View) -> Outcome:
    """Simulate a valid view (A and B as two subsets of one call, common random numbers)."""
    return _compute(render_query(view))


@functools.lru_cache(maxsize=2)
def _compute(query: str) -> Outcome:
    started = time.perf_counter()
    view, errors = parse_query(query)
    if errors:
        raise ParameterError(next(iter(errors.values())))
    frame = simulate(view.parameter_sets(), spec(view), record=RECORD)
    per_run = kpis.per_run(frame)
    summary = kpis.summarize_runs(per_run)
    differences = compare.comparison_table(per_run, RUN_KPI_NAMES) if view.has_b else None
    return Outcome(view, frame, per_run, summary, differences, time.perf_counter() - started)


def full_timeseries(view: View) -> pd.DataFrame:
    """Every state variable of a valid view: its simulation again with everything recorded (the
    same seeds: the same numbers as the view's own frame)."""
    return simulate(view.parameter_sets(), spec(view))


def kpi_csv(outcome: Outcome) -> str:
    labels = {s: LABELS.get(s, "") for s in outcome.summary}
    return kpis.tidy(outcome.summary, labels).to_csv(index=False)


def timeseries_parquet(outcome: Outcome) -> bytes:
    """The view's whole timeseries (every state variable) as parquet."""
    buffer = io.BytesIO()
    full_timeseries(outcome.view).to_parquet(buffer, index=False, **PARQUET_OPTIONS)
    return buffer.getvalue()
