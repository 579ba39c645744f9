"""Every chart of the project, once: plain plotly figure dicts built from arrays.

A figure here is `{"data": [trace, ...], "layout": {...}}`, what `dcc.Graph(figure=...)` sends
as it is, what `plotly.io.to_html` draws and what `go.Figure(...)` wraps for a notebook. The
report, the explorer and the notebooks (through `plots`) all draw with these functions, so a
chart cannot say one thing on one page and another elsewhere.

The inputs are trajectories as arrays: `Paths.of(frame, columns)` cuts a tidy results frame
(one row per subset, run and timestep) into `values[column]` of shape (subsets, runs, days),
runs aligned by run number across subsets (NaN where a run has no row), so "run r of B minus run
r of A" is one subtraction. Percentiles across runs are taken per day with numpy and give
pandas' groupby-quantile numbers (NaN skipped). The x axis is the calendar date (TGE 2025-05-21
is day 0); hovering a line shows the day number too. Horizons longer than `MAX_DAILY_POINTS` days
are drawn from weekly points (and the last day) so a five-year report stays a few megabytes.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from experiments.analysis import kpis
from experiments.reporting import numbers
from model.constants import TGE_DATE

TEMPLATE = "sesh"
WEEK = 7
MAX_DAILY_POINTS = 400
# Shown in one chart at most; a larger sweep is summarised by its KPI table instead.
MAX_LINES = 12
BANDS = {"p5": 0.05, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p95": 0.95}
X_TITLE = f"date (day 0 = TGE {TGE_DATE.isoformat()})"

# System fonts only: the report must open offline, so no web fonts.
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
COLORWAY = (
    "#0b7a75",
    "#d1495b",
    "#edae49",
    "#30638e",
    "#8e6c8a",
    "#6a994e",
    "#003d5b",
    "#bc4749",
    "#00a6a6",
    "#7d5a50",
    "#577590",
    "#f28f3b",
)
MAIN, EMISSION, INFLOW = COLORWAY[0], COLORWAY[1], COLORWAY[0]
PERCENT_UNITS = numbers.PERCENT_UNITS


@dataclass(frozen=True)
class Variable:
    """How a state variable is labelled and scaled on a chart: `unit` as the axis title shows
    it, `values` the unit numbers.py formats its values by when that differs (a share or a rate,
    shown in percent)."""

    title: str
    unit: str
    values: str | None = None
    log: bool = False

    @property
    def numbers_unit(self) -> str:
        return self.unit if self.values is None else self.values


VARIABLES: dict[str, Variable] = {
    "reward_pool": Variable("Staking Reward Pool", "SESH"),
    "circulating": Variable("Circulating: liquid wallet balances", "SESH"),
    # what the circulating_supply_* KPIs read (kpis.py): the supply the market sees
    "circulating_supply": Variable("Market circulating supply", "SESH"),
    "staked": Variable("Staked in nodes", "SESH"),
    "amm_sesh": Variable("AMM reserve: SESH side", "SESH"),
    "amm_quote": Variable("AMM reserve: ETH side", "ETH"),
    # a geometric random walk: a log axis keeps the bands readable
    "price_usd": Variable("SESH price", "USD/SESH", log=True),
    "nodes": Variable("Registered nodes", "nodes"),
    "node_apr_sesh": Variable("Node reward over stake, in SESH (APR)", "%/year", "1/year"),
    "node_net_apr": Variable("Node net APR after running costs, in USD", "%/year", "1/year"),
    "operator_apr_sesh": Variable("Operator reward over own stake (APR)", "%/year", "1/year"),
    "node_net_usd_per_day": Variable("Node reward less running costs", "USD/day"),
    "staking_ratio": Variable("Staked over circulating supply plus locked stake", "%", "share"),
    "pol_value_usd": Variable("Protocol-owned liquidity value", "USD"),
    # not a model column: notebooks derive it as 2 x amm_quote x eth_usd (both sides of the pool)
    "amm_depth_usd": Variable("AMM pool depth, both sides", "USD"),
    "net_pool_flow": Variable("Pool inflow less emission", "SESH/day"),
    "eth_usd": Variable("ETH price", "USD/ETH", log=True),
    "daily_emission": Variable("Daily emission from the pool", "SESH/day"),
    "daily_pool_inflow": Variable("Daily fee inflow into the pool", "SESH/day"),
    "daily_fee_usd": Variable("Daily fee spending", "USD/day"),
    "cum_emission": Variable("Cumulative emission", "SESH"),
    "cum_pool_inflow": Variable("Cumulative pool inflow", "SESH"),
    "market_cap_usd": Variable("Market capitalisation", "USD"),
    "pro_subscribers": Variable("Session Pro subscribers", "subscribers"),
}


def variable(column: str) -> Variable:
    return VARIABLES.get(column, Variable(column.replace("_", " "), ""))


def _register_template() -> None:
    """The project's plotly theme, registered once under `TEMPLATE`."""
    axis = {
        "showgrid": True,
        "gridcolor": "#e6e9ef",
        "zeroline": False,
        "showline": True,
        "linecolor": "#9aa3b2",
        "ticks": "outside",
        "tickcolor": "#9aa3b2",
        "title": {"standoff": 8},
        "automargin": True,
    }
    pio.templates[TEMPLATE] = go.layout.Template(
        layout={
            "font": {"family": FONT, "size": 13, "color": "#1f2933"},
            "title": {"x": 0.0, "xanchor": "left", "font": {"size": 17}},
            "colorway": list(COLORWAY),
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "xaxis": axis,
            "yaxis": axis,
            "hovermode": "x unified",
            "hoverlabel": {"font": {"family": FONT}},
            # below the x axis title: a sweep's legend may take several rows
            "legend": {
                "orientation": "h",
                "yanchor": "top",
                "y": -0.22,
                "xanchor": "left",
                "x": 0.0,
                "bgcolor": "rgba(255,255,255,0)",
            },
            "margin": {"l": 70, "r": 24, "t": 72, "b": 40},
            "height": 460,
        }
    )


_register_template()


@functools.cache
def template() -> dict:
    """The plotly theme as a dict (what a figure object's to_dict holds under layout)."""
    return pio.templates[TEMPLATE].to_plotly_json()


# --- arrays --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """Trajectories as arrays: `values[column]` of shape (subsets, runs, days), run i of every
    subset the same run number (paired runs), NaN where a run has no row for a day."""

    subsets: list[int]
    days: np.ndarray
    values: dict[str, np.ndarray]

    @classmethod
    def of(cls, frame: pd.DataFrame, columns: Sequence[str]) -> Paths:
        """The `columns` of a tidy frame. A frame of whole trajectories sorted by subset, run
        and timestep (as `simulate` returns it) is reshaped without a copy of its index; any
        other (unsorted, thinned per run, runs missing) is placed row by row."""
        columns = list(columns)
        grid = _grid(frame)
        if grid is not None:
            subsets, days, shape = grid
            values = {c: frame[c].to_numpy(dtype="float64").reshape(shape) for c in columns}
            return cls([int(s) for s in subsets], days, values)
        index = [frame[c].to_numpy() for c in ("subset", "run", "timestep")]
        labels = [np.unique(i) for i in index]
        where = tuple(np.searchsorted(u, i) for u, i in zip(labels, index, strict=True))
        values = {}
        for column in columns:
            cube = np.full(tuple(len(u) for u in labels), np.nan)
            cube[where] = frame[column].to_numpy(dtype="float64")
            values[column] = cube
        return cls([int(s) for s in labels[0]], labels[2].astype("int64"), values)


def _grid(frame: pd.DataFrame):
    """(subsets, timesteps, (subsets, runs, days)) when the frame holds whole trajectories sorted
    by subset, run and timestep, every one the same days and every subset the same run numbers;
    else None."""
    if len(frame) == 0:
        return None
    subset = frame["subset"].to_numpy()
    run = frame["run"].to_numpy()
    step = frame["timestep"].to_numpy()
    changes = np.flatnonzero((subset != subset[0]) | (run != run[0]))
    days = int(changes[0]) if len(changes) else len(frame)
    if len(frame) % days:
        return None
    trajectories = len(frame) // days
    steps = step.reshape(trajectories, days)
    if (len(steps[0]) > 1 and not (np.diff(steps[0]) > 0).all()) or not (steps == steps[0]).all():
        return None
    subset, run = subset.reshape(trajectories, days), run.reshape(trajectories, days)
    if not ((subset == subset[:, :1]).all() and (run == run[:, :1]).all()):
        return None
    subset, run = subset[:, 0], run[:, 0]
    if trajectories > 1 and not ((np.diff(subset) > 0) | (np.diff(run) > 0)).all():
        return None  # out of order, or a (subset, run) twice
    if not (np.diff(subset) >= 0).all():
        return None
    labels, counts = np.unique(subset, return_counts=True)
    if (counts != counts[0]).any():
        return None
    runs = run.reshape(len(labels), counts[0])
    if not (runs == runs[0]).all():
        return None  # not the same run numbers: not paired by position
    return labels, steps[0].astype("int64"), (len(labels), int(counts[0]), days)


def is_daily(days: np.ndarray) -> bool:
    """Whether `days` (sorted, distinct) are every day from TGE (a thinned run saves every N-th)."""
    return len(days) > 0 and len(days) == int(days[-1]) + 1


def calendar(timesteps) -> np.ndarray:
    """ISO dates of timesteps (days after TGE)."""
    days = np.asarray(timesteps, dtype="int64").astype("timedelta64[D]")
    return (np.datetime64(TGE_DATE.isoformat(), "D") + days).astype(str)


def _dates(days: np.ndarray) -> list[str]:
    return calendar(days).tolist()


def sample_step(points: int) -> int:
    """Every saved day up to `MAX_DAILY_POINTS` of them, else one per week."""
    return 1 if points <= MAX_DAILY_POINTS else WEEK


def kept(days: np.ndarray, step: int | None = None) -> np.ndarray:
    """Positions of the days a chart draws: every day up to `MAX_DAILY_POINTS` (or `step` = 1),
    else the first saved day of each `step`-day bucket (a week) and the last day."""
    step = sample_step(len(days)) if step is None else step
    if step == 1:
        return np.arange(len(days))
    first = np.unique(days // step, return_index=True)[1]
    return np.union1d(first, [len(days) - 1])


def quantiles_across(values: np.ndarray, qs: Sequence[float]) -> list[np.ndarray]:
    """Per row of `values` (days, runs): the quantiles `qs` of its non-NaN values, as pandas'
    groupby quantile takes them (linear: the lower value plus the gap times the fraction of
    q * (n - 1)); NaN when a row has no value."""
    ordered = np.sort(values, axis=1)  # NaN last
    present = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(len(values))
    out = []
    for q in qs:
        position = q * (present - 1.0)
        low = np.maximum(position, 0).astype(np.int64)  # truncated, as pandas casts it
        fraction = position % 1
        high = np.minimum(low + 1, values.shape[1] - 1)
        lower, upper = ordered[rows, low], ordered[rows, high]
        with np.errstate(invalid="ignore"):
            value = np.where(fraction == 0.0, lower, lower + (upper - lower) * fraction)
        out.append(np.where(present > 0, value, np.nan))
    return out


def _bands(values: np.ndarray, keep: np.ndarray) -> list[np.ndarray]:
    """P5, P25, P50, P75, P95 across the runs of `values` (runs, days) on the days `keep`."""
    return quantiles_across(values[:, keep].T, list(BANDS.values()))


def medians_across(values: np.ndarray) -> np.ndarray:
    """Per day of `values` (runs, days): the median of the runs with a value, as pandas'
    groupby median takes it (the mean of the two middle values; NaN without a value)."""
    ordered = np.sort(values, axis=0)  # NaN last
    present = (~np.isnan(values)).sum(axis=0)
    columns = np.arange(values.shape[1])
    low = ordered[np.maximum(present - 1, 0) // 2, columns]
    high = ordered[np.minimum(present // 2, len(values) - 1), columns]
    return np.where(present > 0, (low + high) / 2, np.nan)


def parity_means(days: np.ndarray, emission: np.ndarray, inflow: np.ndarray) -> list[tuple]:
    """Per subset of `emission` and `inflow` (subsets, runs, days, every day saved): the days
    after TGE, then the median paths of daily emission and pool inflow, their trailing means over
    kpis.py's fee-parity window and each run's trailing-mean inflow, every rolling mean in one
    pass (pandas' rolling mean to the bit: `kpis.rolling_mean_day_major`)."""
    after = days >= 1
    emission, inflow = emission[:, :, after], inflow[:, :, after]
    subsets, runs, count = inflow.shape
    medians = [
        (medians_across(e), medians_across(f)) for e, f in zip(emission, inflow, strict=True)
    ]
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


def log_ticks(values) -> list[float] | None:
    """1-2-5 ticks over the data on a log axis (None: no positive value)."""
    values = np.asarray(values, dtype="float64")
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return None
    low, high = values.min(), values.max()
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7)):
        ticks = [
            m * 10.0**k
            for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
            for m in mantissas
            if low / 1.01 <= m * 10.0**k <= high * 1.01
        ]
        if len(ticks) >= 3:
            break
    return ticks


# --- pieces of a figure --------------------------------------------------------------------------


def axis_title(title: str, unit: str) -> str:
    return f"{title} ({unit})" if unit else title


# --- numbers on a chart --------------------------------------------------------------------------
# A chart writes numbers as the tables do (experiments/reporting/numbers.py). Hover: each point's
# `text` is numbers.quantity of its value, with its unit ("2.30M SESH", "$0.101 per SESH",
# "15.1% a year"); no plotly number format. Axis ticks: plotly picks them (so zooming keeps
# ticks) and these d3 formats label them as numbers.format_tick does, by the tick step: from a
# step of 1, each tick scaled from a thousand (d3's SI prefix: k, M, T); below a step of 1,
# plain decimals (0.05, never 50m or 5e-2); from a step of 1e8 plotly's "B" format (1B, not d3's
# 1G); shares and rates in percent; counts (days, nodes) whole, with thousands separators.
AMOUNT_TICKS = (
    {"dtickrange": [1, 1e8], "value": "~s"},
    {"dtickrange": [None, 1], "value": ",~r"},
    {"dtickrange": [1e8, None], "value": ""},
)
PERCENT_TICKS = "~%"
COUNT_TICKS = ",~r"


def axis_numbers(unit: str) -> dict[str, Any]:
    """A numeric axis' tick labels for values in numbers.py's `unit` (numbers.format_tick)."""
    if unit in PERCENT_UNITS:
        return {"tickformat": PERCENT_TICKS}
    if unit in numbers.COUNT_UNITS:
        return {"tickformat": COUNT_TICKS}
    return {
        "tickformatstops": [dict(stop) for stop in AMOUNT_TICKS],
        "exponentformat": "B",
        "separatethousands": True,
    }


def hover_text(values, unit: str, difference: bool = False) -> list[str]:
    """Each value as the tables write it, with its unit (numbers.quantity): a trace's `text`,
    which its hover shows."""
    flat = np.asarray(values, dtype="float64").ravel().tolist()
    return [numbers.quantity(v, unit, difference=difference) for v in flat]


def hover(label: str = "median") -> str:
    """A time chart's hover: the day after TGE (customdata), then the point's `text`."""
    return f"day %{{customdata}}<br>{label}: %{{text}}<extra></extra>"


def layout(title: str, subtitle: str, y_title: str, unit: str = "", log: bool = False) -> dict:
    """A time chart's layout: the theme, the title and subtitle, the calendar x axis, and a
    y axis whose values are in numbers.py's `unit` (log: its ticks are set from the data,
    `set_log_ticks`)."""
    yaxis: dict[str, Any] = {"title": {"text": y_title}, "type": "log" if log else "linear"}
    if not log:
        yaxis |= axis_numbers(unit)
    return {
        "template": template(),
        "title": {"text": title, "subtitle": {"text": subtitle}},
        "xaxis": {"title": {"text": X_TITLE}},
        "yaxis": yaxis,
    }


def set_log_ticks(fig: dict, values, unit: str = "") -> None:
    """1-2-5 ticks over the data on a log axis (plotly's own label every minor digit), labelled
    by numbers.format_tick."""
    ticks = log_ticks(values)
    if ticks is not None:
        fig["layout"]["yaxis"].update(
            tickvals=ticks, ticktext=[numbers.format_tick(t, unit) for t in ticks]
        )


# A legend row's height, and the room the x axis takes under the plot (ticks and title).
LEGEND_ROW_PX = 21
AXIS_BELOW_PX = 64


def legend_below(fig: dict, entries: int) -> dict:
    """A legend of `entries` subsets under the x axis and its title, one entry a row (a sweep's
    labels are long: "pro_revenue_route=none, sns_deployed=False, ..."): the figure grows by
    the legend instead of the plot shrinking under it, and no entry is cut off."""
    room = LEGEND_ROW_PX * entries + 8
    fig["layout"]["height"] = fig["layout"].get("height", 460) + room
    fig["layout"]["margin"] = fig["layout"].get("margin", {}) | {"b": AXIS_BELOW_PX + room}
    fig["layout"]["legend"] = {
        "yref": "container",
        "y": 0.0,
        "yanchor": "bottom",
        "x": 0.0,
        "xanchor": "left",
        "orientation": "h",
    }
    return fig


def rgba(color: str, opacity: float) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{opacity})"


def band(x: list[str], low, high, name: str, opacity: float, color: str = MAIN, **trace) -> dict:
    """One closed polygon between `low` and `high` (one trace, no hover); `trace`: more
    scatter attributes (legendgroup, showlegend)."""
    return {
        "type": "scatter",
        "x": x + x[::-1],
        "y": np.concatenate([np.asarray(high), np.asarray(low)[::-1]]),
        "fill": "toself",
        "fillcolor": rgba(color, opacity),
        "line": {"width": 0},
        "mode": "lines",
        "name": name,
        "hoverinfo": "skip",
        **trace,
    }


def mark_day(fig: dict, day: float, text: str, color: str = "#1f2933", row: int = 0) -> dict:
    """A dotted vertical line at `day` (after TGE) with a label at the top (`row` lines down)."""
    if day is None or not math.isfinite(day):
        return fig
    x = _dates(np.array([int(day)]))[0]
    line = {"color": color, "width": 1.2, "dash": "dot"}
    fig["layout"].setdefault("shapes", []).append(
        {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "paper"}
        | {"line": line}
    )
    fig["layout"].setdefault("annotations", []).append(
        {
            "x": x,
            "y": 1 - 0.07 * row,
            "xref": "x",
            "yref": "paper",
            "text": text,
            "showarrow": False,
            "yanchor": "top",
            "xanchor": "left",
            "xshift": 4,
            "bgcolor": "rgba(255,255,255,0.8)",
            "font": {"color": color},
        }
    )
    return fig


def _note(fig: dict, text: str, color: str | None = None, row: int = 0) -> None:
    """A line of text at the top left of the plot (`row` lines down)."""
    note = {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.01,
        "y": 1 - 0.07 * row,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "top",
    }
    if color is not None:
        note["font"] = {"color": color}
    fig["layout"].setdefault("annotations", []).append(note)


def _runs_text(runs: int) -> str:
    return f"{runs} run{'s' * (runs != 1)}"


# --- time charts ---------------------------------------------------------------------------------


def fan(
    days: np.ndarray,
    values: np.ndarray,
    column: str,
    title: str | None = None,
    step: int | None = None,
) -> dict:
    """One subset's `values` (runs, days) of `column`: the median across runs with its P25-P75
    and P5-P95 bands."""
    keep = kept(days, step)
    p5, p25, p50, p75, p95 = _bands(values, keep)
    var = variable(column)
    fig = {
        "data": [],
        "layout": layout(
            title or var.title,
            f"{_runs_text(len(values))}: median, P25-P75 and P5-P95 across runs",
            var.unit,
            var.numbers_unit,
            var.log,
        ),
    }
    if var.log:
        set_log_ticks(fig, np.concatenate([p5, p95]), var.numbers_unit)
    x = _dates(days[keep])
    fig["data"] += [
        band(x, p5, p95, "P5-P95", 0.15),
        band(x, p25, p75, "P25-P75", 0.30),
        {
            "type": "scatter",
            "x": x,
            "y": p50,
            "customdata": days[keep],
            "text": hover_text(p50, var.numbers_unit),
            "mode": "lines",
            "name": "median",
            "line": {"color": MAIN, "width": 2.5},
            "hovertemplate": hover(),
        },
    ]
    return fig


def lines(
    days: np.ndarray,
    values: np.ndarray,
    column: str,
    labels: Sequence[str],
    title: str | None = None,
    step: int | None = None,
) -> dict:
    """Several subsets' `values` (subsets, runs, days) of `column`: one median line per subset
    over its P5-P95 band across runs, in the subset's colour (bands first, lines on top)."""
    keep = kept(days, step)
    var = variable(column)
    x = _dates(days[keep])
    spreads = [_bands(one, keep) for one in values]
    fig = {
        "data": [],
        "layout": layout(
            title or var.title,
            f"median across {_runs_text(values.shape[1])} (line) and P5-P95 across runs (band),"
            " one colour per subset",
            var.unit,
            var.numbers_unit,
            var.log,
        ),
    }
    legend_below(fig, len(labels))
    if var.log:
        values = np.concatenate([np.concatenate([q[0], q[4]]) for q in spreads])
        set_log_ticks(fig, values, var.numbers_unit)
    for position, (label, (p5, _, _, _, p95)) in enumerate(zip(labels, spreads, strict=True)):
        color = COLORWAY[position % len(COLORWAY)]
        fig["data"].append(
            band(x, p5, p95, f"{label}: P5-P95", 0.10, color, legendgroup=label, showlegend=False)
        )
    for position, (label, (_, _, p50, _, _)) in enumerate(zip(labels, spreads, strict=True)):
        fig["data"].append(
            {
                "type": "scatter",
                "x": x,
                "y": p50,
                "customdata": days[keep],
                "text": hover_text(p50, var.numbers_unit),
                "mode": "lines",
                "name": label,
                "legendgroup": label,
                "line": {"color": COLORWAY[position % len(COLORWAY)], "width": 2.2},
                "hovertemplate": hover(label),
            }
        )
    return fig


def differences(
    days: np.ndarray,
    values: np.ndarray,
    column: str,
    labels: Sequence[str],
    reference: int = 0,
    step: int | None = None,
) -> dict:
    """The paired difference over time: per day, run r of each subset minus run r of the
    reference subset (position `reference` of `values` (subsets, runs, days)); the median of
    those differences (line) and their P5-P95 (band), one colour per subset, a line at zero."""
    keep = kept(days, step)
    var = variable(column)
    x = _dates(days[keep])
    base = values[reference]
    others = [s for s in range(len(values)) if s != reference][: MAX_LINES - 1]
    pairs = int(np.isfinite(values[others][:, :, -1] - base[:, -1]).sum(axis=1).max(initial=0))
    fig = {
        "data": [],
        "layout": layout(
            f"Paired difference over time: {var.title}",
            f"each subset \u2212 {labels[reference]}, run r minus run r, per day: median of the "
            f"{pairs:,} paired differences (line) and their P5-P95 (band)",
            axis_title(f"difference, {var.title.lower()}", var.unit),
            var.numbers_unit,
        ),
    }
    fig["layout"]["yaxis"].update(zeroline=True, zerolinecolor="#1f2933", zerolinewidth=1.2)
    legend_below(fig, len(others))
    medians = []
    for subset in others:
        label = labels[subset]
        color = COLORWAY[subset % len(COLORWAY)]
        p5, _, p50, _, p95 = _bands(values[subset] - base, keep)
        fig["data"].append(
            band(x, p5, p95, f"{label}: P5-P95", 0.15, color, legendgroup=label, showlegend=False)
        )
        medians.append(
            {
                "type": "scatter",
                "x": x,
                "y": p50,
                "customdata": days[keep],
                "text": hover_text(p50, var.numbers_unit, difference=True),
                "mode": "lines",
                "name": f"{label} \u2212 {labels[reference]}",
                "legendgroup": label,
                "line": {"color": color, "width": 2.2},
                "hovertemplate": hover(f"{label}: median difference"),
            }
        )
    fig["data"] += medians
    return fig


def emission(
    days: np.ndarray,
    emission: np.ndarray,
    inflow: np.ndarray,
    labels: Sequence[str],
    step: int | None = None,
    trailing: Sequence[tuple] | None = None,
) -> dict:
    """Daily emission against daily pool inflow, `emission` and `inflow` (subsets, runs, days):
    medians across runs, bands across runs, and the fee_parity_day KPI's median day.

    Bold lines are the trailing means over kpis.py's fee-parity window of the median paths; the
    marker is the fee_parity_day KPI (each run's own first parity day), its median over the runs
    that reach it, so chart and KPI table say the same day. Behind them, the P5-P95 and
    P25-P75 bands across runs of the daily emission and of each run's trailing-mean pool inflow
    (the quantity the parity rule compares). Several subsets: inflow solid and emission dashed,
    one colour per subset, its bands in its legend group. A thinned timeseries (not every day)
    shows its saved days and no crossing: the trailing-mean rule needs every day (the
    fee_parity_day KPI has it). `trailing`: `parity_means` of these arrays, when the caller has
    them."""
    window = kpis.PARITY_WINDOW_DAYS
    daily = is_daily(days)
    single = len(labels) == 1
    if daily:
        trailing = trailing or parity_means(days, emission, inflow)
        smoothing = f"{window}-day trailing means"
    else:  # the saved days' medians, no trailing mean
        after = days >= 1
        trailing = []
        for e, f in zip(emission[:, :, after], inflow[:, :, after], strict=True):
            paths = (medians_across(e), medians_across(f))
            trailing.append((days[after], paths, paths, f))
        smoothing = "saved days only"
    runs = emission.shape[1]
    inflow_band = f"each run's {window}-day mean inflow" if daily else "inflow"
    fig = {
        "data": [],
        "layout": layout(
            "Daily emission vs daily pool inflow",
            f"lines: medians across {_runs_text(runs)}, {smoothing}"
            + ("" if single else " (solid: pool inflow, dashed: emission)")
            + (
                "; diamond: the fee_parity_day KPI, the median first parity day of the runs "
                "that reach it"
                if daily
                else ""
            )
            + f"<br>bands: P25-P75 and P5-P95 across runs of daily emission and of {inflow_band}"
            + ("" if single else ", in the subset's colour"),
            "SESH/day",
            "SESH/day",
        ),
    }
    fig["layout"].update(height=560, margin={"t": 92})
    if not single:
        legend_below(fig, len(labels))
    if not daily:
        _note(
            fig,
            "thinned timeseries: no fee-parity crossing here (it needs every day); "
            "see the fee_parity_day KPI",
        )
    # every subset's bands first, so that no band covers another subset's lines
    for position, label in enumerate(labels):
        color = COLORWAY[position % len(COLORWAY)]
        shown_days, _, _, run_inflow = trailing[position]
        run_emission = emission[position][:, days >= 1]
        for values, what, band_color in (
            (run_inflow, "pool inflow", INFLOW if single else color),
            (run_emission, "emission", EMISSION if single else color),
        ):
            # a day no run has a value for (before a full window) is left out
            some = ~np.isnan(values).all(axis=0)
            on, values = shown_days[some], values[:, some]
            keep = kept(on, step)
            p5, p25, _, p75, p95 = _bands(values, keep)
            x = _dates(on[keep])
            for low, high, name, opacity in (
                (p5, p95, "P5-P95", 0.10),
                (p25, p75, "P25-P75", 0.20),
            ):
                fig["data"].append(
                    band(
                        x,
                        low,
                        high,
                        f"{what}, {name}" if single else f"{label}: {what}",
                        opacity if single else 0.7 * opacity,  # several overlap: lighter
                        band_color,
                        **(
                            {"showlegend": True}
                            if single
                            else {"legendgroup": label, "showlegend": False}
                        ),
                    )
                )
    for position, label in enumerate(labels):
        color = COLORWAY[position % len(COLORWAY)]
        shown_days, medians, means, _ = trailing[position]
        keep = kept(shown_days, step)
        x = _dates(shown_days[keep])
        series = [
            (1, "pool inflow", INFLOW if single else color, "solid"),
            (0, "emission", EMISSION if single else color, "dash"),
        ]
        if single and daily:
            for which, what, line_color, _ in series:
                fig["data"].append(
                    {
                        "type": "scatter",
                        "x": x,
                        "y": medians[which][keep],
                        "mode": "lines",
                        "name": f"{what}, daily",
                        "line": {"color": line_color, "width": 1},
                        "opacity": 0.35,
                        "hoverinfo": "skip",
                    }
                )
        for which, what, line_color, dash in series:
            # a sweep: one legend entry per subset, its emission line and crossing grouped in it
            trace = {
                "type": "scatter",
                "x": x,
                "y": means[which][keep],
                "customdata": shown_days[keep],
                "text": hover_text(means[which][keep], "SESH/day"),
                "mode": "lines",
                "name": f"{what}, {smoothing}" if single else label,
            }
            trace |= {"showlegend": True} if single else {"legendgroup": label}
            if not single:
                trace["showlegend"] = what == "pool inflow"
            trace |= {
                "line": {"color": line_color, "width": 2.5, "dash": dash},
                "hovertemplate": hover(f"{label}: {what}"),
            }
            fig["data"].append(trace)
        if daily:
            after = days >= 1
            first = run_parity_days(inflow[position][:, after], emission[position][:, after])
            _mark_crossing(
                fig, shown_days, means, first, None if single else label, color, position
            )
    return fig


def run_parity_days(inflow: np.ndarray, emission: np.ndarray) -> np.ndarray:
    """Each run's fee_parity_day (kpis.py's rule on its own trailing means; NaN: never), from
    (runs, days) daily values from day 1."""
    reached = kpis.parity_reached(inflow, emission)
    return np.where(reached.any(axis=1), reached.argmax(axis=1) + 1.0, np.nan)


def _mark_crossing(
    fig: dict,
    days: np.ndarray,
    means,
    first: np.ndarray,
    label: str | None,
    color: str,
    row: int,
) -> None:
    """The fee_parity_day KPI as the chart's marker: the median first parity day of the runs
    that reach it (their count and P5-P95 in its name), on the median inflow line, with a dotted
    line; a note when no run reaches it. `label` is the subset's in a sweep (None for a single
    subset, which gets a legend entry)."""
    prefix = f"{label}: " if label else ""
    reached = first[~np.isnan(first)]
    if reached.size == 0:
        _note(fig, f"{prefix}no run reaches fee parity within the horizon", color, row)
        return
    day = int(np.ceil(np.median(reached)))
    low, high = (int(v) for v in np.percentile(reached, [5, 95]))
    at = int(np.searchsorted(days, day))
    date = _dates(days[at : at + 1])[0]
    marker = {
        "type": "scatter",
        "x": [date],
        "y": [means[1][at]],
        "customdata": [day],
        "text": hover_text([means[1][at]], "SESH/day"),
        "mode": "markers",
        "name": (
            f"fee parity: day {day} ({date}), median of the {reached.size} of {first.size} runs "
            f"that reach it (P5-P95 day {low} to {high})"
        ),
    }
    marker |= {"showlegend": True} if label is None else {"legendgroup": label, "showlegend": False}
    marker |= {
        "marker": {"color": color, "size": 11, "symbol": "diamond", "line": {"width": 1}},
        "hovertemplate": hover(f"{prefix}fee parity (median run)"),
    }
    fig["data"].append(marker)
    mark_day(fig, day, f"day {day}", color, row)


def time_lines(series: Mapping[str, pd.Series], title: str, unit: str, subtitle: str = "") -> dict:
    """Named series indexed by timestep, one line each, on the calendar axis."""
    fig = {"data": [], "layout": layout(title, subtitle, unit, unit)}
    for name, values in series.items():
        fig["data"].append(
            {
                "type": "scatter",
                "x": _dates(np.asarray(values.index)),
                "y": values.to_numpy(),
                "customdata": np.asarray(values.index),
                "text": hover_text(values.to_numpy(), unit),
                "mode": "lines",
                "name": name,
                "hovertemplate": hover(name),
            }
        )
    return fig


def match_y(row: Sequence[dict]) -> None:
    """One y range for side-by-side figures, so they read on the same scale."""
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
    log = row[0]["layout"]["yaxis"].get("type") == "log"
    if log:
        finite = finite[finite > 0]
    if not finite.size:
        return
    low, high = float(finite.min()), float(finite.max())
    if log:  # log10 keeps the order: no log per value
        low, high = math.log10(low), math.log10(high)
    pad = 0.04 * (high - low) or 0.5
    for fig in row:
        fig["layout"]["yaxis"]["range"] = [low - pad, high + pad]


# --- KPI charts ----------------------------------------------------------------------------------

DIFFERENCE_AXIS = {
    "pp": "percentage points",
    "pp/year": "percentage points per year",
    "day": "days",
}


def forest(table: pd.DataFrame, labels: Mapping[int, str], units: Mapping[str, str]) -> dict:
    """Paired differences against the reference subset (compare.py's table, with an optional
    `hover` column: the row as people read it): one panel per KPI,
    each on its own axis in the KPI's unit (percentage points for shares and rates), the point
    at the mean difference, the bar its 95% interval, a line at zero.

    A panel per KPI, not per unit: KPIs of one unit can differ by orders of magnitude (a
    100M-SESH difference in unmet trade would squash a 2M-SESH difference in the reward pool
    to a dot at zero). Several subsets against the reference: one colour each, side by side in
    every panel (the first MAX_LINES)."""
    subsets = sorted(int(s) for s in table["subset"].unique())[:MAX_LINES]
    table = table[table["subset"].isin(subsets)]
    # a KPI without a value in any pair (horizon too short) has no panel
    valued = table.groupby("kpi", sort=False)["mean_difference"].transform(
        lambda v: np.isfinite(v.to_numpy(dtype="float64")).any()
    )
    left_out = list(dict.fromkeys(table.loc[~valued.astype(bool), "kpi"]))
    table = table[valued.astype(bool)]
    names = list(dict.fromkeys(table["kpi"]))
    reference = int(table["reference_subset"].iloc[0]) if len(table) else 0
    reference_label = labels.get(reference, f"subset {reference}")
    several = len(subsets) > 1
    row_px, gap_px = max(30, 16 * len(subsets)), 62
    panels = max(1, len(names))
    plot_px = row_px * panels + gap_px * (panels - 1)
    data: list[dict] = []
    axes: dict[str, dict] = {}
    top = 0.0
    for panel, name in enumerate(names, start=1):
        unit = units.get(name, "")
        shown_unit = numbers.difference_unit(unit)
        scale = 100.0 if shown_unit in ("pp", "pp/year") else 1.0
        rows = table[table["kpi"] == name]
        suffix = "" if panel == 1 else str(panel)
        for position, subset in enumerate(subsets):
            one = rows[rows["subset"] == subset]
            if one.empty:
                continue
            row = one.iloc[0]
            mean, low, high = (
                float(row[c]) * scale for c in ("mean_difference", "ci_low", "ci_high")
            )
            label = labels.get(subset, f"subset {subset}")
            text = row["hover"] if "hover" in row.index else difference_hover(row, unit)
            data.append(
                {
                    "type": "scatter",
                    "x": [mean],
                    "y": [name],
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                    "orientation": "h",
                    "mode": "markers",
                    "name": f"{label} \u2212 {reference_label}",
                    "legendgroup": label,
                    "showlegend": several and panel == 1,
                    "marker": {"color": COLORWAY[position % len(COLORWAY)], "size": 9},
                    "error_x": {
                        "type": "data",
                        "symmetric": False,
                        "array": [high - mean if math.isfinite(high) else None],
                        "arrayminus": [mean - low if math.isfinite(low) else None],
                        "thickness": 1.6,
                        "width": 4,
                    },
                    "customdata": [text],
                    "hovertemplate": f"%{{y}}<br>{label}: %{{customdata}}<extra></extra>",
                }
            )
        values = np.concatenate(
            [rows[c].to_numpy(dtype="float64") * scale for c in ("mean_difference", "ci_low")]
            + [rows["ci_high"].to_numpy(dtype="float64") * scale]
        )
        values = values[np.isfinite(values)]
        lowest = min(0.0, float(values.min())) if values.size else -1.0
        highest = max(0.0, float(values.max())) if values.size else 1.0
        pad = 0.06 * (highest - lowest) or 1.0
        bottom = 1.0 - (top + row_px) / plot_px
        axes[f"xaxis{suffix}"] = {
            "anchor": f"y{suffix}",
            "range": [lowest - pad, highest + pad],
            "title": {
                "text": f"difference ({DIFFERENCE_AXIS.get(shown_unit, shown_unit) or 'no unit'})"
            },
            "zeroline": True,
            "zerolinecolor": "#1f2933",
            "zerolinewidth": 1.2,
            **axis_numbers(shown_unit),  # percentage points are plain numbers
        }
        axes[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "domain": [max(0.0, bottom), 1.0 - top / plot_px],
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [name],
            "showgrid": False,
        }
        top += row_px + gap_px
    counts = table["n"][table["n"] > 0] if len(table) else table["n"]
    low_n, high_n = (int(counts.min()), int(counts.max())) if len(counts) else (0, 0)
    pairs = (
        f"{high_n:,} run pairs"
        if low_n == high_n
        else f"the run pairs where both runs have a value ({low_n:,} to {high_n:,} a KPI)"
    )
    # the subtitle, its second line, and a legend row per subset above the panels
    # (a marker entry is about 30 px high, the first sits in the gap; the subtitle may wrap)
    margin_top = 96 + (18 if left_out else 0) + (27 * len(subsets) + 10 if several else 0)
    who = "each subset" if several else labels.get(subsets[0], "") if subsets else ""
    fig_layout = {
        "template": template(),
        "title": {
            # at the top, not centred in the top margin: the legend is under it
            "yref": "container",
            "y": 1.0,
            "yanchor": "top",
            "pad": {"t": 14},
            "text": "Paired differences from the reference subset",
            "subtitle": {
                "text": f"{who} \u2212 {reference_label}: mean over {pairs}"
                " (point) and 95% bootstrap interval (bar); one panel per KPI, each"
                " on its own scale"
                + (f"<br>no pairs with a value: {', '.join(left_out)}" if left_out else "")
            },
        },
        "hovermode": "closest",
        "showlegend": several,
        "legend": {"y": 1.0, "yanchor": "bottom", "x": 0.0, "xanchor": "left"},
        "scattermode": "group",
        "height": plot_px + margin_top + 56,
        "margin": {"t": margin_top, "b": 56},
        **axes,
    }
    if not names:
        fig_layout |= {"xaxis": {"range": [-1, 1]}, "yaxis": {"domain": [0, 1]}}
    return {"data": data, "layout": fig_layout}


def difference_hover(row: Mapping[str, Any], unit: str) -> str:
    """A row of compare.py's table as the report's table reads it: "+2.30M SESH (95%: +1.50M to
    +3.00M), n = 100" (shares and rates in percentage points)."""
    low, high = (
        numbers.quantity(row[c], unit, difference=True, short=True) for c in ("ci_low", "ci_high")
    )
    mean = numbers.quantity(row["mean_difference"], unit, difference=True)
    return f"{mean} (95%: {low} to {high}), n = {numbers.format_value(row['n'], count=True)}"


def kpi_box(per_run: pd.DataFrame, kpi: str, labels: Mapping[int, str]) -> dict:
    """The spread of one run-level KPI across runs, one box per subset (kpis.per_run's table):
    `labels` says which subsets, in order. Hovering a run's point shows its value as the tables
    write it (the box's own quartiles are drawn, not hovered: plotly would format them)."""
    spec = kpis.REGISTRY[kpi]
    data = []
    for subset, label in labels.items():
        values = per_run.loc[per_run["subset"] == subset, kpi].to_numpy(dtype="float64")
        data.append(
            {
                "type": "box",
                "y": values,
                "name": label,
                "boxpoints": "all",
                "jitter": 0.4,
                "hoveron": "points",
                "text": hover_text(values, spec.unit),
                "hovertemplate": f"{label}: %{{text}}<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": {
            "template": template(),
            "title": {"text": spec.description, "subtitle": {"text": f"{kpi}, one point per run"}},
            "yaxis": {
                "title": {"text": axis_title(kpi, numbers.display_unit(spec.unit))},
                **axis_numbers(spec.unit),
            },
            "hovermode": "closest",
            "showlegend": False,
        },
    }


def sensitivity_bars(table: pd.DataFrame, kpi: str, top: int = 15) -> dict:
    """Morris mu* of the `top` parameters for one KPI, with its 95% interval clipped at zero
    (mu* is a mean of absolute values: `sensitivity.mu_star_bounds`)."""
    from experiments.analysis.sensitivity import mu_star_bounds

    rows = mu_star_bounds(table[table["kpi"] == kpi].sort_values("rank").head(top).iloc[::-1])
    unit = kpis.REGISTRY[kpi].unit if kpi in kpis.REGISTRY else ""
    # a size of change: shares and rates in percentage points, as the findings quote mu*
    shown_unit = numbers.difference_unit(unit)
    scale = 100.0 if shown_unit != unit and unit in PERCENT_UNITS else 1.0
    mu, low, high = (
        rows[c].to_numpy(dtype="float64") for c in ("mu_star", "mu_star_low", "mu_star_high")
    )
    text = [
        f"mu* {numbers.format_change(m, unit)} [{numbers.format_change(lo, unit, short=True)}, "
        f"{numbers.format_change(hi, unit, short=True)}]"
        for m, lo, hi in zip(mu, low, high, strict=True)
    ]
    bars = {
        "type": "bar",
        "x": mu * scale,
        "y": rows["parameter"].tolist(),
        "orientation": "h",
        "error_x": {
            "type": "data",
            "symmetric": False,
            "array": (high - mu) * scale,
            "arrayminus": (mu - low) * scale,
        },
        "marker": {"color": MAIN},
        "name": "mu*",
        "text": text,
        "textposition": "none",
        "hovertemplate": "%{y}: %{text}<extra></extra>",
    }
    return {
        "data": [bars],
        "layout": {
            "template": template(),
            "title": {"text": f"What moves {kpi}", "subtitle": {"text": "Morris mu*, ranked"}},
            "xaxis": {
                "title": {
                    "text": axis_title(
                        "mean absolute elementary effect mu*",
                        DIFFERENCE_AXIS.get(shown_unit, shown_unit),
                    )
                },
                **axis_numbers("" if scale != 1.0 else unit),
            },
            "hovermode": "closest",
            "height": max(300, 60 + 26 * len(rows)),
        },
    }


# --- sending -------------------------------------------------------------------------------------

_INTS = tuple((np.dtype(t), np.iinfo(t)) for t in ("int8", "int16", "int32"))
_TYPED = {"float64": "f8", "int8": "i1", "int16": "i2", "int32": "i4"}


def typed(fig: dict) -> dict:
    """The figure with its numeric arrays as plotly.js typed arrays (base64), as a figure
    object's to_dict sends them: compact, exact, and no float written out as text."""
    for trace in fig["data"]:
        for key in ("y", "customdata"):
            if isinstance(trace.get(key), np.ndarray):
                trace[key] = typed_array(trace[key])
    return fig


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


# --- the fee-parity ratio as a path --------------------------------------------------------------


def inflow_emission_ratio(
    days: np.ndarray,
    emission: np.ndarray,
    inflow: np.ndarray,
    labels: Sequence[str],
    step: int | None = None,
) -> dict:
    """Pool inflow over emission as a path: per run and day, its trailing-mean pool inflow over
    its trailing-mean emission over kpis.py's fee-parity window (`kpis.trailing_ratio`: the
    quantity the parity rule compares and the inflow_emission_ratio KPIs read), from `emission`
    and `inflow` (subsets, runs, days); per day the median across runs (line) and P5-P95
    (band), one colour per subset, and a line at 1: at or above it the pool takes in at least
    what it pays out (parity). Where the first crossing says when a run first touched 1, the
    path shows whether it stays there. A day without emission over a whole window (no nodes)
    has no ratio. A thinned timeseries (not every day) gets a note instead: the trailing means
    need every day (the KPIs have them)."""
    window = kpis.PARITY_WINDOW_DAYS
    runs = emission.shape[1]
    fig = {
        "data": [],
        "layout": layout(
            f"Pool inflow over emission, {window}-day trailing means",
            f"each run's {window}-day mean pool inflow over its {window}-day mean emission: "
            f"median across {_runs_text(runs)} (line) and P5-P95 (band)"
            + ("" if len(labels) == 1 else ", one colour per subset")
            + "<br>at or above 1 (dotted): the pool takes in at least what it pays out",
            "inflow / emission",
            "ratio",
        ),
    }
    fig["layout"]["yaxis"]["rangemode"] = "tozero"
    fig["layout"].setdefault("shapes", []).append(
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": 1.0,
            "y1": 1.0,
            "line": {"color": "#1f2933", "width": 1.2, "dash": "dot"},
        }
    )
    if not is_daily(days):
        _note(fig, f"thinned timeseries: the {window}-day ratio needs every day (see its KPIs)")
        return fig
    after = days >= 1
    paths = [
        kpis.trailing_ratio(f[:, after], e[:, after]) for e, f in zip(emission, inflow, strict=True)
    ]
    single = len(labels) == 1
    medians = []
    for position, (label, ratio) in enumerate(zip(labels, paths, strict=True)):
        color = MAIN if single else COLORWAY[position % len(COLORWAY)]
        some = ~np.isnan(ratio).all(axis=0)  # from the first full window on
        on, values = days[after][some], ratio[:, some]
        if not on.size:
            _note(fig, f"{label}: no day with a full window and emission", color, position)
            continue
        keep = kept(on, step)
        p5, _, p50, _, p95 = _bands(values, keep)
        x = _dates(on[keep])
        name = "P5-P95" if single else f"{label}: P5-P95"
        group = {"showlegend": True} if single else {"legendgroup": label, "showlegend": False}
        fig["data"].append(band(x, p5, p95, name, 0.15 if single else 0.10, color, **group))
        medians.append(
            {
                "type": "scatter",
                "x": x,
                "y": p50,
                "customdata": on[keep],
                "text": hover_text(p50, "ratio"),
                "mode": "lines",
                "name": "median" if single else label,
                **({} if single else {"legendgroup": label}),
                "line": {"color": color, "width": 2.5 if single else 2.2},
                "hovertemplate": hover("median" if single else label),
            }
        )
    fig["data"] += medians
    if not single:
        legend_below(fig, len(labels))
    return fig
