"""The interactive explorer: `python -m experiments explore`, a Dash app over the vectorized engine.

The page's query string is the view: every parameter (`name=value`, as `--set` reads it), scenario
B's own overrides (`b.name=value`, on top of A's), `runs`, `years` and `seed`. So
`/?fee_pool_share=1.0&runs=100&years=5` opens that scenario, and every change of a control
rewrites the query string. Scenario A and, when B has an override, scenario B run as two subsets
of one `simulate` call on common random numbers (run r of both sees the same shocks), so the
paired differences (`analysis.compare`) measure the parameters only.

Everything the page needs is served by the app itself (Dash serves its JavaScript from the
Python package; the styles are inline; system fonts): it works offline. A bad value never
raises: the page shows the `ParameterError` message the command line would print beside its
control, and leaves the charts as they were. Requests above `MAX_RUN_YEARS` are refused with a
message (they would take more than about ten seconds here), and so are views and downloads whose
memory (from the memory model, `experiments.memory`) would not fit in what the machine has
available. The server is threaded, so one slow request does not hold up another, but at most
`HEAVY_SLOTS` views or downloads compute at once: a further one is told the explorer is busy,
so several downloads together cannot take the server past the available memory.

The callbacks' work is done by plain functions (`parse_query`, `render_query`,
`query_from_controls`, `controls_from_query`, `compute`, `cli_lines`), which the tests call
directly.
"""

from __future__ import annotations

import base64
import decimal
import functools
import io
import math
import re
import shlex
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pandas as pd
import plotly.io as pio

from experiments import memory
from experiments.analysis import compare, kpis
from experiments.engines.base import PARQUET_OPTIONS
from experiments.engines.registry import RunSpec, simulate
from experiments.reporting import plots, report
from model import ParameterError, Parameters
from model.parameters import allowed, parse_value

DEFAULT_RUNS = 100
DEFAULT_YEARS = 5.0
DEFAULT_SEED = 0
RUN_KEYS = ("runs", "years", "seed")
B_PREFIX = "b."
# runs x years x scenarios above which a request is refused: ~10 s of simulation on 2 cores
MAX_RUN_YEARS = 5_000
# Views and downloads computing at once (each may hold gigabytes); more are told to wait.
HEAVY_SLOTS = 2
# Seeds and run counts are read as exact decimals (never through a float, exact only to 2^53);
# beyond this many digits a number is refused rather than expanded.
MAX_INTEGER_DIGITS = 100
LABELS = {0: "A", 1: "B"}
INFO = Parameters.field_info()

# The main levers, shown first; every other parameter is in the "all parameters" panel.
MAIN_LEVERS: dict[str, tuple[str, ...]] = {
    "Fee split and payout": ("fee_pool_share", "pool_payout_rate"),
    "Staking": ("staking_requirement", "launch_smoothing"),
    "Demand": ("pro_subscribers_max", "sns_names_max", "pro_revenue_route", "sns_deployed"),
    "Price": ("price_model", "eth_volatility", "ref_volatility", "demand_volatility"),
    "Unlock selling": (
        "unlock_sell_share_strategic",
        "unlock_sell_share_ecosystem",
        "unlock_sell_share_treasury_ops",
        "unlock_sell_share_contributors",
    ),
}
MAIN_NAMES = tuple(name for names in MAIN_LEVERS.values() for name in names)
OTHER_NAMES = tuple(name for name in INFO if name not in MAIN_NAMES)

# (chart id, timeseries column or the emission chart): the report's fan charts
CHARTS = (
    ("reward_pool", "reward_pool"),
    ("emission", report.EMISSION_CHART),
    ("price", "price_usd"),
    ("nodes", "nodes"),
    ("yield", "node_apr_sesh"),
    ("supply", "circulating_supply"),
)
CHART_COLUMNS = [c for _, c in CHARTS if c != report.EMISSION_CHART] + [
    "daily_emission",
    "daily_pool_inflow",
]
RUN_KPI_NAMES = [k.name for k in kpis.RUN_KPIS]
# What the charts and the KPIs read: a view records only these (plus the invariant guard's
# columns); the timeseries download runs the view again with every variable recorded.
RECORD = tuple(dict.fromkeys([*kpis.KPI_COLUMNS, *CHART_COLUMNS]))


# --- the view and its query string ---------------------------------------------------------------


@dataclass
class View:
    """What the page shows: A's overrides, B's own overrides (on top of A's) and the run."""

    a: dict[str, Any] = field(default_factory=dict)
    b: dict[str, Any] = field(default_factory=dict)
    runs: int = DEFAULT_RUNS
    years: float = DEFAULT_YEARS
    seed: int = DEFAULT_SEED

    @property
    def has_b(self) -> bool:
        return bool(self.b)

    @property
    def scenarios(self) -> int:
        return 2 if self.has_b else 1

    def parameter_sets(self) -> list[Parameters]:
        sets = [Parameters.from_overrides(self.a)]
        if self.has_b:
            sets.append(Parameters.from_overrides({**self.a, **self.b}))
        return sets

    @property
    def run_years(self) -> float:
        return self.runs * self.years * self.scenarios


def value_text(value: Any) -> str:
    """A typed value as `--set` and the query string write it (parse_value reads it back)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def years_text(years: float) -> str:
    return str(int(years)) if float(years).is_integer() else repr(float(years))


def key_of(scenario: str, name: str) -> str:
    """The query-string key of a control: `name` for A and the run, `b.name` for B."""
    return B_PREFIX + name if scenario == "b" else name


def render_query(view: View) -> str:
    """The query string of a view (with its leading "?")."""
    pairs = [(name, value_text(v)) for name, v in view.a.items()]
    pairs += [(B_PREFIX + name, value_text(v)) for name, v in view.b.items()]
    pairs += [("runs", str(view.runs)), ("years", years_text(view.years)), ("seed", str(view.seed))]
    return "?" + urlencode(pairs)


def _pairs(search: str | None) -> list[tuple[str, str]]:
    return parse_qsl((search or "").lstrip("?"), keep_blank_values=True)


def _run_setting(name: str, text: str) -> float | int:
    """runs or seed (integers) or years (a number) from text; ParameterError as RunSpec says.

    Integers are read as exact decimals, however written (`9007199254740993`, `1e3`, `100.0`):
    a seed above 2^53 stays that seed, never the float next to it."""
    text = text.strip().replace("_", "")
    if name == "years":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ParameterError(f"invalid years: must be a number in (0, 100], got {text!r}")
        return number
    floor = 1 if name == "runs" else 0
    try:
        exact = decimal.Decimal(text)
    except decimal.InvalidOperation:
        exact = decimal.Decimal("nan")
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise ParameterError(f"invalid {name}: must be an integer >= {floor}, got {text!r}")
    if exact.adjusted() >= MAX_INTEGER_DIGITS:
        raise ParameterError(
            f"invalid {name}: must be an integer >= {floor} of at most {MAX_INTEGER_DIGITS} "
            f"digits, got {text!r}"
        )
    return int(exact)


_QUOTED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")


def _blame(message: str, prefix: str) -> str:
    """The query key a cross-parameter message is about: its first quoted parameter name."""
    for name in _QUOTED.findall(message):
        if name in INFO:
            return prefix + name
    return prefix + "parameters"


def parse_query(search: str | None) -> tuple[View, dict[str, str]]:
    """The view a query string asks for, and its errors: query key -> the one-line message the
    command line prints for that value. Empty values mean the default (A) or A's value (B); a
    bad value is left out of the view."""
    view, errors = View(), {}
    for key, text in _pairs(search):
        if not text.strip():
            continue
        try:
            if key in RUN_KEYS:
                value = _run_setting(key, text)
                RunSpec(**{key: value}, engine="vectorized", common_draws=True)
                setattr(view, key, value)
                continue
            target, name = (
                (view.b, key[len(B_PREFIX) :]) if key.startswith(B_PREFIX) else (view.a, key)
            )
            value = parse_value(name, text)
            _check_alone(name, value)
            target[name] = value
        except ParameterError as error:
            errors[key] = str(error)
    if not errors or not any(k in errors for k in RUN_KEYS):
        try:  # the settings together (each was checked alone)
            RunSpec(view.runs, view.years, view.seed, engine="vectorized", common_draws=True)
        except ParameterError as error:
            errors["runs"] = str(error)
    try:  # the values together: a rule over several parameters
        Parameters.from_overrides(view.a)
    except ParameterError as error:
        errors[_blame(str(error), "")] = str(error)
    else:
        if view.b:
            try:
                Parameters.from_overrides({**view.a, **view.b})
            except ParameterError as error:
                errors[_blame(str(error), B_PREFIX)] = f"scenario B: {error}"
    return view, errors


def _check_alone(name: str, value: Any) -> None:
    """ParameterError if the value is not one the parameter accepts (its kind and range)."""
    try:
        Parameters.from_overrides({name: value})
    except ParameterError as error:
        if str(error).startswith(f"invalid parameter '{name}'"):
            raise
        # a rule over several parameters: checked once every value is in


# --- controls <-> query string -------------------------------------------------------------------


def control_id(scenario: str, name: str) -> dict[str, str]:
    return {"type": "control", "scenario": scenario, "name": name}


def error_id(scenario: str, name: str) -> dict[str, str]:
    return {"type": "error", "scenario": scenario, "name": name}


def control_key(control: Mapping[str, str]) -> str:
    return key_of(control["scenario"], control["name"])


def query_from_controls(items: Iterable[tuple[Mapping[str, str], Any]]) -> str:
    """The query string the controls spell (ids and values): every non-empty control, as typed
    (a bad value too: the page then shows its message), in the parameter table's order."""
    order = {name: i for i, name in enumerate(INFO)}
    texts = {}
    for control, value in items:
        text = "" if value is None else str(value).strip()
        if text:
            texts[(control["scenario"], control["name"])] = text

    def rank(item):
        (scenario, name), _ = item
        position = RUN_KEYS.index(name) if scenario == "run" else order.get(name, len(order))
        return ({"a": 0, "b": 1, "run": 2}[scenario], position)

    pairs = [(key_of(s, n), text) for (s, n), text in sorted(texts.items(), key=rank)]
    return "?" + urlencode(pairs)


def controls_from_query(search: str | None, controls: Sequence[Mapping[str, str]]) -> list[Any]:
    """Each control's value for a query string: the text given (None when absent; the run
    settings show their defaults)."""
    given = dict(_pairs(search))
    defaults = {"runs": str(DEFAULT_RUNS), "years": years_text(DEFAULT_YEARS), "seed": "0"}
    values = []
    for control in controls:
        text = given.get(control_key(control))
        if control["scenario"] == "run":
            values.append(text if text else defaults[control["name"]])
            continue
        name = control["name"]
        if text and name in INFO and isinstance(INFO[name]["default"], bool):
            try:  # the dropdown's own spelling of yes/1/on
                text = value_text(parse_value(name, text))
            except ParameterError:
                pass
        values.append(text or None)
    return values


# --- the command line -----------------------------------------------------------------------------


def cli_line(overrides: Mapping[str, Any], view: View) -> str:
    """The `python -m experiments run` line that reproduces one scenario (same seeds)."""
    words = ["python", "-m", "experiments", "run", "baseline"]
    words += ["--runs", str(view.runs), "--years", years_text(view.years), "--seed", str(view.seed)]
    for name, value in overrides.items():
        words += ["--set", f"{name}={value_text(value)}"]
    return " ".join(shlex.quote(w) for w in words)


def cli_lines(view: View) -> dict[str, str]:
    lines = {"A": cli_line(view.a, view)}
    if view.has_b:
        lines["B"] = cli_line({**view.a, **view.b}, view)
    return lines


# --- the numbers ---------------------------------------------------------------------------------


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
    return runs * (_spec(view).timesteps + 1), runs


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
    frame = simulate(view.parameter_sets(), _spec(view), record=RECORD)
    per_run = kpis.per_run(frame)
    summary = kpis.summarize_runs(per_run)
    differences = compare.comparison_table(per_run, RUN_KPI_NAMES) if view.has_b else None
    return Outcome(view, frame, per_run, summary, differences, time.perf_counter() - started)


def _spec(view: View) -> RunSpec:
    return RunSpec(view.runs, view.years, view.seed, engine="vectorized", common_draws=True)


def full_timeseries(view: View) -> pd.DataFrame:
    """Every state variable of a valid view: its simulation again with everything recorded (the
    same seeds: the same numbers as the view's own frame)."""
    return simulate(view.parameter_sets(), _spec(view))


def figures(outcome: Outcome) -> dict[str, list[dict]]:
    """Chart id -> one figure per scenario (A, then B), B's y axis matched to A's.

    The figures are plotly figure dicts (`{"data": [...], "layout": {...}}`, what
    `dcc.Graph(figure=...)` takes and sends as it is): the report's fan charts and emission
    chart (`plots.fan_chart`, `plots.emission_vs_inflow`: the same traces, numbers, dates,
    labels and hover, as the tests check), built from the view's (runs, days) arrays cut once,
    without plotly's figure objects, which copy every date string on each step."""
    subsets, days, values = chart_paths(outcome.frame)
    trailing = parity_means(days, values["daily_emission"], values["daily_pool_inflow"])
    out = {}
    for chart, column in CHARTS:
        row = []
        for position, subset in enumerate(subsets):
            label = LABELS.get(subset, f"subset {subset}")
            if column == report.EMISSION_CHART:
                emission = values["daily_emission"][position]
                inflow = values["daily_pool_inflow"][position]
                fig = emission_figure(days, emission, inflow, label, trailing[position])
                title = "Daily emission vs daily pool inflow"
            else:
                fig = fan_figure(days, values[column][position], column)
                title = plots.variable(column).title
            fig["layout"]["title"]["text"] = f"{label}: {title}" if len(subsets) > 1 else title
            row.append(fig)
        if len(row) > 1:
            _match_y(row)
        out[chart] = [_typed(fig) for fig in row]
    return out


def _typed(fig: dict[str, Any]) -> dict[str, Any]:
    """The figure with its numeric arrays as plotly.js typed arrays (base64), as a figure
    object's to_dict sends them: compact, exact, and no float written out as text."""
    for trace in fig["data"]:
        for key in ("y", "customdata"):
            if isinstance(trace.get(key), np.ndarray):
                trace[key] = typed_array(trace[key])
    return fig


_INTS = tuple((np.dtype(t), np.iinfo(t)) for t in ("int8", "int16", "int32"))
_TYPED = {"float64": "f8", "int8": "i1", "int16": "i2", "int32": "i4"}


def typed_array(values: np.ndarray) -> dict[str, str] | np.ndarray:
    """A 1-d float64 or int64 array as a plotly.js typed array spec (dtype, base64 bytes): what
    plotly's `to_typed_array_spec` gives (int64 as the smallest int type that holds it; empty
    or other arrays unchanged), without its copy through narwhals per array."""
    if values.size == 0:
        return values
    if values.dtype == np.int64:
        low, high = values.min(), values.max()
        for dtype, info in _INTS:
            if info.min <= low and high <= info.max:
                values = values.astype(dtype)
                break
        else:
            return values
    code = _TYPED.get(str(values.dtype))
    if code is None or values.ndim != 1:
        return values
    return {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(values)).decode()}


def parity_means(days: np.ndarray, emission: np.ndarray, inflow: np.ndarray) -> list[tuple]:
    """Per subset of `emission` and `inflow` (subsets, runs, days): the days after TGE, then
    the median paths of daily emission and pool inflow, their trailing means over the
    fee-parity window and each run's trailing-mean inflow (plots.parity_paths and
    plots.emission_inflow_bands), every rolling mean of the view in one pass (pandas' rolling
    mean to the bit: `kpis.rolling_mean_day_major`)."""
    after = days >= 1
    emission, inflow = emission[:, :, after], inflow[:, :, after]
    subsets, runs, count = inflow.shape
    medians = [(_medians(e), _medians(f)) for e, f in zip(emission, inflow, strict=True)]
    series = np.empty((count, subsets * (runs + 2)))  # day-major: every run, then the medians
    series[:, : subsets * runs] = inflow.reshape(subsets * runs, count).T
    series[:, subsets * runs :] = np.array([path for pair in medians for path in pair]).T
    means = kpis.rolling_mean_day_major(series, kpis.PARITY_WINDOW_DAYS).T
    run_means = means[: subsets * runs].reshape(subsets, runs, count)
    path_means = means[subsets * runs :].reshape(subsets, 2, count)
    return [
        (days[after], medians[s], (path_means[s, 0], path_means[s, 1]), run_means[s])
        for s in range(subsets)
    ]


def chart_paths(frame: pd.DataFrame) -> tuple[list[int], np.ndarray, dict[str, np.ndarray]]:
    """(subsets, timesteps, chart column -> values of shape (subsets, runs, days)) of a frame
    as `simulate` returns it (sorted by subset, run and timestep, every run the same days)."""
    grid = plots._grid(frame, CHART_COLUMNS[0])
    if grid is None:
        raise ValueError("the explorer's frame is not whole trajectories in (subset, run) order")
    subsets, days, first = grid
    values = {CHART_COLUMNS[0]: first}
    for column in CHART_COLUMNS[1:]:
        values[column] = frame[column].to_numpy(dtype="float64").reshape(first.shape)
    return [int(s) for s in subsets], days, values


def _kept(days: np.ndarray) -> np.ndarray:
    """Positions of the days a chart draws: plots.bands' and plots._sampled's sampling (every
    day up to plots.MAX_DAILY_POINTS, else the first of each week and the last day)."""
    step = plots.sample_step(len(days))
    if step == 1:
        return np.arange(len(days))
    first = np.unique(days // step, return_index=True)[1]
    return np.union1d(first, [len(days) - 1])


def _dates(days: np.ndarray) -> list[str]:
    return plots.calendar(days).tolist()


@functools.cache
def _template() -> dict:
    """The plotly theme as a dict (what a figure object's to_dict holds under layout)."""
    return pio.templates[plots.TEMPLATE].to_plotly_json()


def _layout(
    title: str, subtitle: str, y_title: str, var: plots.Variable | None = None
) -> dict[str, Any]:
    """plots._figure's layout."""
    yaxis: dict[str, Any] = {"title": {"text": y_title}}
    if var is not None:
        yaxis["type"] = "log" if var.log else "linear"
        if var.tickformat is not None:
            yaxis["tickformat"] = var.tickformat
    return {
        "template": _template(),
        "title": {"text": title, "subtitle": {"text": subtitle}},
        "xaxis": {"title": {"text": plots.X_TITLE}},
        "yaxis": yaxis,
    }


def _band(
    x: list[str], low, high, name: str, opacity: float, color: str, **trace
) -> dict[str, Any]:
    """plots._band's trace: one closed polygon between `low` and `high`; `trace`: more
    attributes."""
    return {
        "type": "scatter",
        "x": x + x[::-1],
        "y": np.concatenate([np.asarray(high), np.asarray(low)[::-1]]),
        "fill": "toself",
        "fillcolor": plots._rgba(color, opacity),
        "line": {"width": 0},
        "mode": "lines",
        "name": name,
        "hoverinfo": "skip",
        **trace,
    }


def fan_figure(days: np.ndarray, values: np.ndarray, column: str) -> dict[str, Any]:
    """plots.fan_chart of one subset as a figure dict: `values` (runs, days) of `column`."""
    keep = _kept(days)
    p5, p25, p50, p75, p95 = plots.quantiles_across(values[:, keep].T, list(plots.BANDS.values()))
    var = plots.variable(column)
    runs = len(values)
    layout = _layout(
        var.title,
        f"{runs} run{'s' * (runs != 1)}: median, P25-P75 and P5-P95 across runs",
        var.unit,
        var,
    )
    if var.log:
        ticks = plots.log_ticks(np.concatenate([p5, p95]))
        if ticks is not None:
            layout["yaxis"].update(tickvals=ticks, ticktext=[f"{t:,.6g}" for t in ticks])
    x = _dates(days[keep])
    median = {
        "type": "scatter",
        "x": x,
        "y": p50,
        "customdata": days[keep],
        "mode": "lines",
        "name": "median",
        "line": {"color": plots.MAIN, "width": 2.5},
        "hovertemplate": plots._hover(var.unit, var),
    }
    data = [_band(x, p5, p95, "P5-P95", 0.15, plots.MAIN)]
    data += [_band(x, p25, p75, "P25-P75", 0.30, plots.MAIN), median]
    return {"data": data, "layout": layout}


def _medians(values: np.ndarray) -> np.ndarray:
    """Per day of `values` (runs, days): the median of the runs with a value, as pandas'
    groupby median takes it (the mean of the two middle values; NaN without a value)."""
    ordered = np.sort(values, axis=0)  # NaN last
    present = (~np.isnan(values)).sum(axis=0)
    columns = np.arange(values.shape[1])
    low = ordered[np.maximum(present - 1, 0) // 2, columns]
    high = ordered[np.minimum(present // 2, len(values) - 1), columns]
    return np.where(present > 0, (low + high) / 2, np.nan)


def emission_figure(
    days: np.ndarray, emission: np.ndarray, inflow: np.ndarray, label: str, trailing=None
) -> dict[str, Any]:
    """plots.emission_vs_inflow of one subset (every day saved) labelled `label`, as a figure
    dict: `emission` and `inflow` (runs, days) of daily_emission and daily_pool_inflow;
    `trailing`: their `parity_means` when the caller has them."""
    window = kpis.PARITY_WINDOW_DAYS
    if trailing is None:
        trailing = parity_means(days, emission[None], inflow[None])[0]
    emission = emission[:, days >= 1]
    days, (median_emission, median_inflow), (mean_emission, mean_inflow), run_means = trailing
    # the median paths and their trailing means (plots.parity_paths)
    medians = {"emission": median_emission, "pool inflow": median_inflow}
    means = {"emission": mean_emission, "pool inflow": mean_inflow}
    runs = len(emission)
    smoothing = f"{window}-day trailing means"
    layout = _layout(
        "Daily emission vs daily pool inflow",
        f"lines: medians across {runs} run{'s' * (runs != 1)}, {smoothing}"
        "; diamond: first day the mean inflow reaches the mean emission"
        "<br>bands: P25-P75 and P5-P95 across runs of daily emission and of "
        f"each run's {window}-day mean inflow",
        "SESH/day",
    )
    layout.update(height=560, margin={"t": 92})
    colors = {"pool inflow": plots.INFLOW, "emission": plots.EMISSION}
    data = []
    # the bands (plots.emission_inflow_bands): each run's trailing-mean inflow, daily emission;
    # a day no run has a value for is left out
    spread = {"pool inflow": run_means, "emission": emission}
    for what, values in spread.items():
        some = ~np.isnan(values).all(axis=0)
        shown, values = days[some], values[:, some]
        keep = _kept(shown)
        p5, p25, _, p75, p95 = plots.quantiles_across(values[:, keep].T, list(plots.BANDS.values()))
        x = _dates(shown[keep])
        for low, high, name, opacity in ((p5, p95, "P5-P95", 0.10), (p25, p75, "P25-P75", 0.20)):
            band = _band(x, low, high, f"{what}, {name}", opacity, colors[what], showlegend=True)
            data.append(band)
    keep = _kept(days)
    x = _dates(days[keep])
    for what in ("pool inflow", "emission"):
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": medians[what][keep],
                "mode": "lines",
                "name": f"{what}, daily",
                "line": {"color": colors[what], "width": 1},
                "opacity": 0.35,
                "hoverinfo": "skip",
            }
        )
    for what, dash in (("pool inflow", "solid"), ("emission", "dash")):
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": means[what][keep],
                "customdata": days[keep],
                "mode": "lines",
                "name": f"{what}, {smoothing}",
                "showlegend": True,
                "line": {"color": colors[what], "width": 2.5, "dash": dash},
                "hovertemplate": plots._hover("SESH/day", label=f"{label}: {what}"),
            }
        )
    # the first crossing (kpis.fee_parity_day on the median paths; plots._mark_crossing)
    reached = (means["pool inflow"] > 0) & (means["pool inflow"] >= means["emission"])
    color = plots.COLORWAY[0]
    if not reached.any():
        note = {
            "text": "no crossing within the horizon",
            "xref": "paper",
            "yref": "paper",
            "x": 0.01,
            "y": 1,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"color": color},
        }
        layout["annotations"] = [note]
        return {"data": data, "layout": layout}
    at = int(reached.argmax())
    day = int(days[at])
    date = _dates(days[at : at + 1])[0]
    data.append(
        {
            "type": "scatter",
            "x": [date],
            "y": [means["pool inflow"][at]],
            "customdata": [day],
            "mode": "markers",
            "name": f"first crossing, day {day} ({date})",
            "showlegend": True,
            "marker": {"color": color, "size": 11, "symbol": "diamond", "line": {"width": 1}},
            "hovertemplate": plots._hover("SESH/day", label="first crossing"),
        }
    )
    line = {"color": color, "width": 1.2, "dash": "dot"}
    layout["shapes"] = [
        {"type": "line", "x0": date, "x1": date, "xref": "x", "y0": 0, "y1": 1, "yref": "paper"}
        | {"line": line}
    ]
    layout["annotations"] = [
        {
            "x": date,
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": f"day {day}",
            "showarrow": False,
            "yanchor": "top",
            "xanchor": "left",
            "xshift": 4,
            "bgcolor": "rgba(255,255,255,0.8)",
            "font": {"color": color},
        }
    ]
    return {"data": data, "layout": layout}


def _match_y(row: Sequence[dict]) -> None:
    """One y range for side-by-side figures, so A and B read on the same scale."""
    values = np.concatenate(
        [
            np.asarray(trace["y"], dtype="float64").ravel()
            for fig in row
            for trace in fig["data"]
            if trace.get("y") is not None
        ]
        or [np.empty(0)]
    )
    finite = values[np.isfinite(values)]
    if row[0]["layout"]["yaxis"].get("type") == "log":
        finite = finite[finite > 0]
    if not finite.size:
        return
    low, high = float(finite.min()), float(finite.max())
    if row[0]["layout"]["yaxis"].get("type") == "log":  # log10 keeps the order: no log per value
        low, high = math.log10(low), math.log10(high)
    pad = 0.04 * (high - low) or 0.5
    for fig in row:
        fig["layout"]["yaxis"]["range"] = [low - pad, high + pad]


def kpi_rows(outcome: Outcome) -> dict:
    """The report's KPI comparison (median, P5 to P95 under it; or the single value)."""
    return report.comparison_table(outcome.summary, LABELS)


def difference_rows(outcome: Outcome) -> list[dict[str, str]]:
    """The paired differences B - A, formatted as the report formats them."""
    if outcome.differences is None:
        return []
    rows = []
    for row in outcome.differences.itertuples(index=False):
        unit = kpis.REGISTRY[row.kpi].unit
        low = plots.format_difference(row.ci_low, unit)
        high = plots.format_difference(row.ci_high, unit)
        rows.append(
            {
                "kpi": row.kpi,
                "unit": plots.difference_unit(unit),
                "mean_difference": plots.format_difference(row.mean_difference, unit),
                "interval": f"{low} to {high}" if low != "–" else "–",
                "share_positive": plots.format_value(row.share_positive, "share"),
                "n": plots.format_value(row.n, count=True),
            }
        )
    return rows


def kpi_csv(outcome: Outcome) -> str:
    labels = {s: LABELS.get(s, "") for s in outcome.summary}
    return kpis.tidy(outcome.summary, labels).to_csv(index=False)


def timeseries_parquet(outcome: Outcome) -> bytes:
    """The view's whole timeseries (every state variable) as parquet."""
    buffer = io.BytesIO()
    full_timeseries(outcome.view).to_parquet(buffer, index=False, **PARQUET_OPTIONS)
    return buffer.getvalue()


# --- the page ------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial,
  sans-serif; margin: 0; color: #1f2933; background: #f5f7fa; }
header { background: #0b7a75; color: white; padding: 10px 20px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 2px 0 0; font-size: 13px; opacity: 0.9; }
.page { display: grid; grid-template-columns: 360px 1fr; gap: 16px; padding: 16px; }
.side { background: white; border: 1px solid #dde2ea; border-radius: 6px; padding: 10px 12px;
  max-height: calc(100vh - 110px); overflow-y: auto; position: sticky; top: 8px; }
.side h2 { font-size: 15px; margin: 12px 0 4px; }
.side h3 { font-size: 13px; margin: 10px 0 2px; color: #30638e; }
.control { margin: 6px 0 10px; }
.control label { font-family: ui-monospace, monospace; font-size: 12px; font-weight: 600; }
.control input { width: 100%; box-sizing: border-box; padding: 4px 6px; font-size: 13px;
  border: 1px solid #b8c0cc; border-radius: 4px; }
.help { font-size: 11px; color: #5f6b7a; }
.error { font-size: 12px; color: #b42318; font-weight: 600; }
.error:empty { display: none; }
details > summary { cursor: pointer; font-weight: 600; font-size: 14px; margin: 10px 0 4px; }
.main { min-width: 0; }
.card { background: white; border: 1px solid #dde2ea; border-radius: 6px; padding: 10px 14px;
  margin-bottom: 14px; }
.card:empty { display: none; }
.card h2 { font-size: 16px; margin: 2px 0 8px; }
#status { font-size: 14px; }
.status-bad { color: #b42318; font-weight: 600; }
.cli { display: flex; gap: 6px; align-items: flex-start; margin: 4px 0; }
.cli pre { margin: 0; padding: 6px 8px; background: #f0f3f7; border-radius: 4px;
  white-space: pre-wrap; word-break: break-all; font-size: 12px; flex: 1; }
button { padding: 5px 10px; border: 1px solid #0b7a75; background: white; color: #0b7a75;
  border-radius: 4px; cursor: pointer; margin-right: 6px; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th, td { border-bottom: 1px solid #e6e9ef; padding: 3px 6px; text-align: right; }
th:first-child, td:first-child { text-align: left; font-family: ui-monospace, monospace; }
td .spread { display: block; color: #6b7685; font-size: 11px; }
.charts { display: grid; gap: 12px; }
.charts.two { grid-template-columns: 1fr 1fr; }
"""

INDEX = (
    """<!DOCTYPE html>
<html lang="en">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>"""
    + CSS
    + """</style></head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""
)


def _help(name: str) -> str:
    meta = INFO[name]
    unit = meta["unit"] if meta["unit"] not in ("bool", "choice") else ""
    return (
        f"{meta['meaning']}. {allowed(name).capitalize()}"
        + (f" {unit}" if unit else "")
        + f"; default {value_text(meta['default'])}. Source: {meta['source']}"
    )


def _control(scenario: str, name: str):
    from dash import dcc, html

    meta = INFO[name]
    ident = control_id(scenario, name)
    default = value_text(meta["default"])
    placeholder = f"= A (default {default})" if scenario == "b" else default
    if isinstance(meta["default"], bool) or meta["choices"]:
        options = ["true", "false"] if isinstance(meta["default"], bool) else meta["choices"]
        widget = dcc.Dropdown(
            id=ident,
            options=[{"label": o, "value": o} for o in options],
            placeholder=placeholder,
            clearable=True,
            searchable=False,
        )
    else:
        widget = dcc.Input(id=ident, type="text", debounce=True, placeholder=placeholder)
    return html.Div(
        [
            html.Label(name),
            widget,
            html.Div(id=error_id(scenario, name), className="error"),
            html.Div(_help(name), className="help"),
        ],
        className="control",
    )


def _run_control(name: str, help_text: str):
    from dash import dcc, html

    return html.Div(
        [
            html.Label(name),
            dcc.Input(id=control_id("run", name), type="text", debounce=True),
            html.Div(id=error_id("run", name), className="error"),
            html.Div(help_text, className="help"),
        ],
        className="control",
    )


def _scenario_controls(scenario: str) -> list:
    from dash import html

    out = []
    for group, names in MAIN_LEVERS.items():
        out.append(html.H3(group))
        out += [_control(scenario, name) for name in names]
    out.append(
        html.Details(
            [
                html.Summary(f"All parameters ({len(OTHER_NAMES)} more)"),
                *[_control(scenario, name) for name in OTHER_NAMES],
            ]
        )
    )
    return out


def layout():
    from dash import dcc, html

    limit = f"runs x years x scenarios up to {MAX_RUN_YEARS:,}"
    side = html.Div(
        [
            html.H2("Run"),
            _run_control("runs", f"Monte Carlo runs per scenario; {limit}"),
            _run_control("years", "horizon in years (one day to 100)"),
            _run_control("seed", "master seed: the same seed gives the same shocks"),
            html.H2("Scenario A"),
            html.Div("Empty: the model's default (shown grey).", className="help"),
            *_scenario_controls("a"),
            html.H2("Scenario B"),
            html.Div(
                "Set any value to add scenario B: A's parameters plus these, on the same "
                "shocks run by run (common random numbers).",
                className="help",
            ),
            html.Details([html.Summary("Scenario B's overrides"), *_scenario_controls("b")]),
        ],
        className="side",
    )
    main = html.Div(
        [
            html.Div(
                [
                    html.Div(id="status"),
                    html.Div(id="cli"),
                    html.Button("KPIs (CSV)", id="download-kpis"),
                    html.Button("Timeseries (parquet)", id="download-timeseries"),
                    dcc.Download(id="download"),
                    html.Div(id="download-status", className="error"),
                ],
                className="card",
            ),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id="differences"),
                        html.Div(id="charts-holder"),
                        html.Div(id="kpis", className="card"),
                    ]
                ),
                delay_show=300,
            ),
        ],
        className="main",
    )
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            html.Header(
                [
                    html.H1("SESH economy explorer"),
                    html.P(
                        "The cadCAD model of the Session Token, vectorized engine. The address "
                        "bar holds the whole view: copy it to share this scenario."
                    ),
                ]
            ),
            html.Div([side, main], className="page"),
        ]
    )


def _kpi_table(outcome: Outcome):
    from dash import html

    table = kpi_rows(outcome)
    head = [html.Th("KPI"), html.Th("unit")] + [
        html.Th(f"{label}: median (P5 to P95)") for _, label in table["subsets"]
    ]
    body = []
    for row in table["rows"]:
        cells = [
            html.Td(
                [cell.text, html.Span(cell.spread, className="spread")]
                if cell.spread and cell.spread != "– to –"
                else cell.text,
                **{"data-value": cell.value},
            )
            for cell in row["cells"]
        ]
        meaning = kpis.REGISTRY[row["kpi"]].description if row["kpi"] in kpis.REGISTRY else ""
        body.append(html.Tr([html.Td(row["kpi"], title=meaning), html.Td(row["unit"]), *cells]))
    runs = outcome.view.runs
    return [
        html.H2(f"Key performance indicators ({runs:,} runs per scenario)"),
        html.Table([html.Thead(html.Tr(head)), html.Tbody(body)]),
    ]


def _difference_table(outcome: Outcome):
    from dash import html

    rows = difference_rows(outcome)
    if not rows:
        return None
    head = ["KPI", "unit", "mean B − A", "95% interval", "share B > A", "pairs"]
    body = [
        html.Tr(
            [
                html.Td(r["kpi"]),
                html.Td(r["unit"]),
                html.Td(r["mean_difference"]),
                html.Td(r["interval"]),
                html.Td(r["share_positive"]),
                html.Td(r["n"]),
            ]
        )
        for r in rows
    ]
    return html.Div(
        [
            html.H2("Paired differences B − A, on common random numbers"),
            html.Div(
                "Run r of A and of B see the same shocks; per KPI: the mean of the run-by-run "
                "differences, its 95% bootstrap interval (BCa), the share of pairs where B is "
                "higher, the number of pairs.",
                className="help",
            ),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)]),
        ],
        className="card",
    )


def _charts(outcome: Outcome) -> list:
    from dash import dcc, html

    out = []
    config = {"displaylogo": False, "responsive": True}
    for chart, row in figures(outcome).items():
        for position, fig in enumerate(row):
            label = LABELS.get(position, str(position))
            height = fig["layout"].get("height", 460)  # the template's; responsive fills the box
            graph = dcc.Graph(
                id=f"chart-{chart}-{label}",
                figure=fig,
                config=config,
                style={"height": f"{height}px"},
            )
            out.append(html.Div(graph, className="card chart"))
    return out


def _cli(view: View) -> list:
    from dash import dcc, html

    out = []
    for label, line in cli_lines(view).items():
        ident = f"cli-{label}"
        out.append(
            html.Div(
                [
                    html.Pre(f"# {label}\n{line}", id=ident),
                    dcc.Clipboard(target_id=ident, title=f"copy the command line of {label}"),
                ],
                className="cli",
            )
        )
    return out


def update(search: str | None, controls: Sequence[Mapping[str, str]]) -> tuple:
    """The compute callback as a plain function: (charts, KPI table, differences, status, CLI
    lines, one error text per control). Never raises: a bad value or a failure is a message."""
    from dash import html, no_update

    try:
        view, errors = parse_query(search)
        keys = {control_key(c) for c in controls}
        shown = [errors.get(control_key(c), "") for c in controls]
        if errors:
            loose = [message for key, message in errors.items() if key not in keys]
            status = html.Div(
                [
                    html.Div(
                        f"Not recomputed: {len(errors)} value{'s' * (len(errors) != 1)} to fix "
                        "(shown beside the control).",
                        className="status-bad",
                    ),
                    *[html.Div(message, className="error") for message in loose],
                ]
            )
            return no_update, no_update, no_update, status, no_update, shown
        too_big = refusal(view)
        if too_big:
            status = html.Div(too_big, className="status-bad")
            return no_update, no_update, no_update, status, _cli(view), shown
        started = time.perf_counter()
        try:
            with HEAVY(view_bytes(view), memory.available_bytes()):
                outcome = compute(view)
        except Busy as busy:
            status = html.Div(str(busy), className="status-bad")
            return no_update, no_update, no_update, status, _cli(view), shown
        charts = _charts(outcome)
        kpi_table = _kpi_table(outcome)
        differences = _difference_table(outcome)
        seconds = time.perf_counter() - started
        scenarios = "A and B" if view.has_b else "A"
        status = html.Div(
            f"Scenario {scenarios}: {view.runs:,} runs x {years_text(view.years)} years, seed "
            f"{view.seed}; computed in {seconds:.1f} s (simulation and KPIs "
            f"{outcome.seconds:.1f} s, cached for the last views)."
        )
        chart_box = html.Div(charts, className="charts two" if view.has_b else "charts")
        return chart_box, kpi_table, differences, status, _cli(view), shown
    except Exception as error:  # the server never raises to the page
        message = " ".join(f"{type(error).__name__}: {error}".split())
        status = html.Div(f"error: {message}", className="status-bad")
        return no_update, no_update, no_update, status, no_update, [""] * len(controls)


def sync(
    search: str | None,
    values: Sequence[Any],
    controls: Sequence[Mapping[str, str]],
    url_changed: bool,
):
    """The URL <-> controls callback as a plain function: (new search or None, new control
    values or None). The URL changed: the controls follow it; a control changed: the URL
    follows the controls."""
    if url_changed:
        return None, controls_from_query(search, controls)
    query = query_from_controls(zip(controls, values, strict=True))
    current = "?" + (search or "").lstrip("?")
    return (None if query == current else query), None


def download(which: str, search: str | None):
    """The bytes of a download: ("kpis" | "timeseries") -> dcc.Download's data, None if the
    view is not valid, too big or the explorer is busy (`download_message` says which)."""
    return download_message(which, search)[0]


def download_message(which: str, search: str | None) -> tuple[Any, str]:
    """(dcc.Download's data or None, "" or the one line saying why there is none): the view
    must be valid, fit the run-year limit and the available memory, and get a heavy slot."""
    from dash import dcc

    view, errors = parse_query(search)
    if errors:
        return None, "Not downloaded: fix the values shown beside their controls first."
    too_big = refusal(view, which)
    if too_big:
        return None, too_big
    need = download_bytes(view) if which == "timeseries" else view_bytes(view)
    try:
        with HEAVY(need, memory.available_bytes()):
            outcome = compute(view)
            if which == "kpis":
                return dcc.send_string(kpi_csv(outcome), "kpis.csv"), ""
            return dcc.send_bytes(timeseries_parquet(outcome), "timeseries.parquet"), ""
    except Busy as busy:
        return None, str(busy)


def make_app():
    """The Dash app (its Flask server is `app.server`)."""
    from dash import ALL, Dash, Input, Output, State, ctx, no_update

    app = Dash(
        __name__,
        title="SESH explorer",
        serve_locally=True,
        index_string=INDEX,
        update_title=None,
        include_assets_files=False,  # nothing but Dash's own bundles is served
    )
    app.layout = layout
    controls = {"type": "control", "scenario": ALL, "name": ALL}
    errors = {"type": "error", "scenario": ALL, "name": ALL}

    @app.callback(
        Output("url", "search"),
        Output(controls, "value"),
        Input("url", "search"),
        Input(controls, "value"),
    )
    def _sync(search, values):
        ids = [item["id"] for item in ctx.inputs_list[1]]
        url_changed = ctx.triggered_id is None or ctx.triggered_id == "url"
        try:
            new_search, new_values = sync(search, values, ids, url_changed)
        except Exception:  # the page keeps what it has; the server never raises to it
            new_search, new_values = None, None
        return (
            no_update if new_search is None else new_search,
            [no_update] * len(ids) if new_values is None else new_values,
        )

    @app.callback(
        Output("charts-holder", "children"),
        Output("kpis", "children"),
        Output("differences", "children"),
        Output("status", "children"),
        Output("cli", "children"),
        Output(errors, "children"),
        Input("url", "search"),
    )
    def _update(search):
        ids = [item["id"] for item in ctx.outputs_list[-1]]
        return update(search, ids)

    @app.callback(
        Output("download", "data"),
        Output("download-status", "children"),
        Input("download-kpis", "n_clicks"),
        Input("download-timeseries", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def _download(_kpis, _timeseries, search):
        try:
            which = "kpis" if ctx.triggered_id == "download-kpis" else "timeseries"
            data, message = download_message(which, search)
            return (no_update if data is None else data), message
        except Exception as error:  # the server never raises to the page
            return no_update, " ".join(f"error: {type(error).__name__}: {error}".split())

    return app


def serve(host: str = "127.0.0.1", port: int = 8050) -> None:
    """Run the explorer until interrupted (Ctrl+C or SIGTERM), on a threaded server."""
    import logging
    import signal

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    def _stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        app = make_app()
        print(f"SESH explorer on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
        app.run(host=host, port=port, debug=False, threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
