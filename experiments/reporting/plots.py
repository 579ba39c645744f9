"""Plotting helpers shared by `report.html` and the notebooks: one theme, every axis with its unit.

All charts start from the tidy results frame (one row per subset, run and timestep, as `simulate`
and timeseries.parquet hold it). Percentiles across runs are computed with one pandas
groupby-quantile per chart, never row by row. The x axis is the calendar date (TGE 2025-05-21 is
day 0); hovering a median shows the day number too. Horizons longer than `MAX_DAILY_POINTS` days are
drawn from weekly points so a five-year report stays a few megabytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

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
PERCENT_UNITS = ("share", "share of runs", "1/year")


@dataclass(frozen=True)
class Variable:
    """How a state variable is labelled and scaled on a chart."""

    title: str
    unit: str
    tickformat: str | None = None
    log: bool = False


VARIABLES: dict[str, Variable] = {
    "reward_pool": Variable("Staking Reward Pool", "SESH"),
    "circulating": Variable("Circulating: liquid wallet balances", "SESH"),
    "circulating_supply": Variable("Market circulating supply", "SESH"),
    "staked": Variable("Staked in nodes", "SESH"),
    "amm_sesh": Variable("AMM reserve: SESH side", "SESH"),
    "amm_quote": Variable("AMM reserve: ETH side", "ETH"),
    # a geometric random walk: a log axis keeps the bands readable
    "price_usd": Variable("SESH price", "USD/SESH", log=True),
    "nodes": Variable("Registered nodes", "nodes"),
    "node_apr_sesh": Variable("Node reward over stake, in SESH (APR)", "%/year", ".0%"),
    "node_net_apr": Variable("Node net APR after running costs, in USD", "%/year", ".0%"),
    "operator_apr_sesh": Variable("Operator reward over own stake (APR)", "%/year", ".0%"),
    "node_net_usd_per_day": Variable("Node reward less running costs", "USD/day"),
    "staking_ratio": Variable("Staked over circulating supply plus locked stake", "share", ".0%"),
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


# --- data ----------------------------------------------------------------------------------------


def calendar(timesteps) -> np.ndarray:
    """ISO dates of timesteps (days after TGE)."""
    days = np.asarray(timesteps, dtype="int64").astype("timedelta64[D]")
    return (np.datetime64(TGE_DATE.isoformat(), "D") + days).astype(str)


def sample_step(points: int) -> int:
    """Every saved day up to `MAX_DAILY_POINTS` of them, else one per week."""
    return 1 if points <= MAX_DAILY_POINTS else WEEK


def is_daily(frame: pd.DataFrame) -> bool:
    """Whether the frame holds every day (a KPI-only run with --thin saves every N-th)."""
    days = frame["timestep"].unique()
    return len(days) == int(days.max()) + 1


def _sampled(frame: pd.DataFrame, step: int | None) -> pd.DataFrame:
    """The first saved day of every `step`-day bucket plus the last day (the chart ends where
    the data ends); a thinned timeseries keeps its own spacing when that is coarser."""
    days = np.unique(frame["timestep"].to_numpy())
    step = sample_step(len(days)) if step is None else step
    if step == 1:
        return frame
    keep = np.union1d(days[np.unique(days // step, return_index=True)[1]], days[-1:])
    return frame[frame["timestep"].isin(keep)]


def bands(frame: pd.DataFrame, column: str, step: int | None = None) -> pd.DataFrame:
    """P5, P25, P50, P75 and P95 of `column` across runs, per subset and timestep.

    A frame of whole trajectories (sorted by subset, run and timestep, every run the same days,
    as `simulate` returns it) takes the quantiles with numpy on a (days, runs) array per subset;
    any other frame with one pandas groupby-quantile. Both give the same numbers."""
    grid = _grid(frame, column)
    if grid is None:
        sampled = _sampled(frame[["subset", "run", "timestep", column]], step)
        table = (
            sampled.groupby(["subset", "timestep"], sort=True)[column]
            .quantile(list(BANDS.values()))
            .unstack()
        )
        table.columns = list(BANDS)
        return table.reset_index()
    subsets, days, values = grid
    step = sample_step(len(days)) if step is None else step
    keep = np.arange(len(days))
    if step != 1:
        first = np.unique(days // step, return_index=True)[1]
        keep = np.union1d(first, [len(days) - 1])
    parts = []
    for subset, runs in zip(subsets, values, strict=True):
        by_day = runs[:, keep].T  # (days, runs)
        parts.append(
            pd.DataFrame(
                {
                    "subset": np.full(len(keep), subset),
                    "timestep": days[keep],
                    **dict(zip(BANDS, quantiles_across(by_day, list(BANDS.values())), strict=True)),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _grid(frame: pd.DataFrame, column: str):
    """(subsets, timesteps, values of shape (subsets, runs, days)) when the frame holds whole
    trajectories sorted by subset, run and timestep, every one the same days and every subset
    the same number of runs; else None."""
    if len(frame) == 0 or column not in frame:
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
    order = np.lexsort((run, subset))
    if not (order == np.arange(trajectories)).all():
        return None
    if trajectories > 1 and not ((np.diff(subset) > 0) | (np.diff(run) > 0)).all():
        return None  # a (subset, run) twice
    labels, counts = np.unique(subset, return_counts=True)
    if (counts != counts[0]).any():
        return None
    values = frame[column].to_numpy(dtype="float64").reshape(len(labels), counts[0], days)
    return labels, steps[0], values


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


def medians(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The median across runs of each column, per subset and timestep."""
    return frame.groupby(["subset", "timestep"], sort=True)[list(columns)].median().reset_index()


def parity_paths(frame: pd.DataFrame) -> pd.DataFrame:
    """Median daily emission and pool inflow per subset and day after TGE, with their trailing
    means over the fee-parity window of kpis.py (`*_mean` columns). Needs every day."""
    if not is_daily(frame):
        raise ValueError("the fee-parity rule needs every day: this timeseries is thinned")
    daily = medians(frame[frame["timestep"] >= 1], ["daily_emission", "daily_pool_inflow"])
    rolling = (
        daily.groupby("subset", sort=True)[["daily_emission", "daily_pool_inflow"]]
        .rolling(kpis.PARITY_WINDOW_DAYS)
        .mean()
        .reset_index(level=0, drop=True)
    )
    return daily.join(rolling.add_suffix("_mean"))


def parity_crossings(frame: pd.DataFrame) -> dict[int, float]:
    """Subset -> first day the median paths reach fee parity (NaN: not within the horizon).

    The rule is kpis.fee_parity_day's (trailing-window means, inflow positive and >= emission),
    applied to the median paths rather than to each run.
    """
    paths = parity_paths(frame)
    return {
        int(subset): kpis.fee_parity_day(path)
        for subset, path in paths.groupby("subset", sort=True)
    }


# --- figures -------------------------------------------------------------------------------------


def variable(column: str) -> Variable:
    return VARIABLES.get(column, Variable(column.replace("_", " "), ""))


def _axis_title(title: str, unit: str) -> str:
    return f"{title} ({unit})" if unit else title


def _figure(title: str, subtitle: str, y_title: str, var: Variable | None = None) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "subtitle": {"text": subtitle}},
        xaxis_title=X_TITLE,
        yaxis_title=y_title,
    )
    if var is not None:
        fig.update_yaxes(type="log" if var.log else "linear", tickformat=var.tickformat)
    return fig


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


def _log_ticks(fig: go.Figure, values) -> None:
    """1-2-5 ticks over the data on a log axis (plotly's own label every minor digit)."""
    ticks = log_ticks(values)
    if ticks is not None:
        fig.update_yaxes(tickvals=ticks, ticktext=[f"{t:,.6g}" for t in ticks])


def _hover(unit: str, var: Variable | None = None, label: str = "median") -> str:
    if var is not None and var.tickformat and "%" in var.tickformat:
        value = "%{y:.1%}" + unit.removeprefix("%")  # shares: "15.1%/year"
    else:
        value = "%{y:,.4~g} " + unit
    return f"day %{{customdata}}<br>{label}: {value}<extra></extra>"


def _rgba(color: str, opacity: float) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{opacity})"


def _band(
    fig: go.Figure, x, low, high, name: str, opacity: float, color: str = MAIN, **trace
) -> None:
    """One closed polygon between `low` and `high` (one trace, no hover); `trace`: more
    go.Scatter attributes (legendgroup, showlegend)."""
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.concatenate([np.asarray(high), np.asarray(low)[::-1]]),
            fill="toself",
            fillcolor=_rgba(color, opacity),
            line={"width": 0},
            mode="lines",
            name=name,
            hoverinfo="skip",
            **trace,
        )
    )


def fan_chart(
    frame: pd.DataFrame,
    column: str,
    subset: int | None = None,
    title: str | None = None,
    step: int | None = None,
) -> go.Figure:
    """Median of `column` across runs with its P25-P75 and P5-P95 bands, for one subset."""
    subsets = frame["subset"].unique()
    if subset is None:
        if len(subsets) != 1:
            raise ValueError(
                f"frame has {len(subsets)} subsets: pass subset= or use subset_lines()"
            )
        subset = int(subsets[0])
    one = frame.loc[frame["subset"] == subset, ["subset", "run", "timestep", column]]
    table = bands(one, column, step)
    var = variable(column)
    runs = one["run"].nunique()
    fig = _figure(
        title or var.title,
        f"{runs} run{'s' * (runs != 1)}: median, P25-P75 and P5-P95 across runs",
        var.unit,
        var,
    )
    if var.log:
        _log_ticks(fig, table[["p5", "p95"]])
    x = calendar(table["timestep"])
    _band(fig, x, table["p5"], table["p95"], "P5-P95", 0.15)
    _band(fig, x, table["p25"], table["p75"], "P25-P75", 0.30)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=table["p50"],
            customdata=table["timestep"],
            mode="lines",
            name="median",
            line={"color": MAIN, "width": 2.5},
            hovertemplate=_hover(var.unit, var),
        )
    )
    return fig


def _labels(frame: pd.DataFrame, labels: Mapping[int, str] | None) -> dict[int, str]:
    """Subset -> legend label, for at most MAX_LINES subsets."""
    subsets = sorted(int(s) for s in frame["subset"].unique())[:MAX_LINES]
    labels = labels or {}
    return {s: labels.get(s, f"subset {s}") for s in subsets}


def subset_lines(
    frame: pd.DataFrame,
    column: str,
    labels: Mapping[int, str] | None = None,
    title: str | None = None,
    step: int | None = None,
) -> go.Figure:
    """The median of `column` across runs, one line per subset (the first MAX_LINES)."""
    names = _labels(frame, labels)
    table = bands(
        frame.loc[frame["subset"].isin(list(names)), ["subset", "run", "timestep", column]],
        column,
        step,
    )
    var = variable(column)
    runs = frame["run"].nunique()
    fig = _figure(
        title or var.title,
        f"median across {runs} run{'s' * (runs != 1)}, one line per subset",
        var.unit,
        var,
    )
    if var.log:
        _log_ticks(fig, table["p50"])
    for subset, rows in table.groupby("subset", sort=True):
        fig.add_trace(
            go.Scatter(
                x=calendar(rows["timestep"]),
                y=rows["p50"],
                customdata=rows["timestep"],
                mode="lines",
                name=names[int(subset)],
                line={"width": 2.2},
                hovertemplate=_hover(var.unit, var, names[int(subset)]),
            )
        )
    return fig


def mark_day(
    fig: go.Figure, day: float, text: str, color: str = "#1f2933", row: int = 0
) -> go.Figure:
    """A dotted vertical line at `day` (after TGE) with a label at the top (`row` lines down)."""
    if day is None or not math.isfinite(day):
        return fig
    x = str(calendar([int(day)])[0])
    fig.add_shape(
        type="line",
        x0=x,
        x1=x,
        xref="x",
        y0=0,
        y1=1,
        yref="paper",
        line={"color": color, "width": 1.2, "dash": "dot"},
    )
    fig.add_annotation(
        x=x,
        y=1 - 0.07 * row,
        xref="x",
        yref="paper",
        text=text,
        showarrow=False,
        yanchor="top",
        xanchor="left",
        xshift=4,
        bgcolor="rgba(255,255,255,0.8)",
        font={"color": color},
    )
    return fig


def emission_vs_inflow(
    frame: pd.DataFrame,
    labels: Mapping[int, str] | None = None,
    step: int | None = None,
) -> go.Figure:
    """Daily emission against daily pool inflow (medians across runs, with bands across runs)
    and the first crossing.

    Bold lines are the trailing means over kpis.py's fee-parity window of the median paths; the
    crossing marker is kpis.fee_parity_day applied to them. Behind them, the P5-P95 and P25-P75
    bands across runs of the daily emission and of each run's trailing-mean pool inflow (the
    quantity the parity rule compares), per subset. A sweep: inflow solid and emission dashed, one
    colour per subset, its bands in its legend group. A thinned timeseries (KPI-only run with
    --thin) shows its saved days and no crossing: the trailing-mean rule needs every day (the
    fee_parity_day KPI has it).
    """
    names = _labels(frame, labels)
    columns = ["subset", "run", "timestep", "daily_emission", "daily_pool_inflow"]
    chosen = frame.loc[frame["subset"].isin(list(names)), columns]
    daily = is_daily(chosen)
    window = kpis.PARITY_WINDOW_DAYS
    if daily:
        paths = parity_paths(chosen)
        smoothing = f"{window}-day trailing means"
    else:
        paths = medians(chosen[chosen["timestep"] >= 1], ["daily_emission", "daily_pool_inflow"])
        paths = paths.assign(
            daily_emission_mean=paths["daily_emission"],
            daily_pool_inflow_mean=paths["daily_pool_inflow"],
        )
        smoothing = "saved days only"
    spread = emission_inflow_bands(chosen, step)
    runs = frame["run"].nunique()
    single = len(names) == 1
    inflow_band = f"each run's {window}-day mean inflow" if daily else "inflow"
    fig = _figure(
        "Daily emission vs daily pool inflow",
        f"lines: medians across {runs} run{'s' * (runs != 1)}, {smoothing}"
        + ("" if single else " (solid: pool inflow, dashed: emission)")
        + ("; diamond: first day the mean inflow reaches the mean emission" if daily else "")
        + f"<br>bands: P25-P75 and P5-P95 across runs of daily emission and of {inflow_band}"
        + ("" if single else ", in the subset's colour"),
        "SESH/day",
    )
    fig.update_layout(height=560, margin={"t": 92})
    if not daily:
        fig.add_annotation(
            text="thinned timeseries: no fee-parity crossing here (it needs every day); "
            "see the fee_parity_day KPI",
            xref="paper",
            yref="paper",
            x=0.01,
            y=1,
            showarrow=False,
            xanchor="left",
            yanchor="top",
        )
    # every subset's bands first, so that no band covers another subset's lines
    for position, subset in enumerate(sorted(names)):
        label = names[subset]
        color = COLORWAY[position % len(COLORWAY)]
        for column, what, band_color in (
            ("daily_pool_inflow", "pool inflow", INFLOW if single else color),
            ("daily_emission", "emission", EMISSION if single else color),
        ):
            rows = spread[(spread["subset"] == subset) & (spread["column"] == column)]
            band_x = calendar(rows["timestep"])
            for low, high, opacity in (("p5", "p95", 0.10), ("p25", "p75", 0.20)):
                _band(
                    fig,
                    band_x,
                    rows[low],
                    rows[high],
                    f"{what}, {low.upper()}-{high.upper()}" if single else f"{label}: {what}",
                    opacity if single else 0.7 * opacity,  # several overlap: lighter
                    band_color,
                    legendgroup=None if single else label,
                    showlegend=single,
                )
    for position, (subset, path) in enumerate(paths.groupby("subset", sort=True)):
        label = names[int(subset)]
        color = COLORWAY[position % len(COLORWAY)]
        shown = _sampled(path, step)
        x = calendar(shown["timestep"])
        series = [
            ("daily_pool_inflow_mean", "pool inflow", INFLOW if single else color, "solid"),
            ("daily_emission_mean", "emission", EMISSION if single else color, "dash"),
        ]
        if single and daily:
            for column, what, line_color, _ in series:
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=shown[column.removesuffix("_mean")],
                        mode="lines",
                        name=f"{what}, daily",
                        line={"color": line_color, "width": 1},
                        opacity=0.35,
                        hoverinfo="skip",
                    )
                )
        for column, what, line_color, dash in series:
            # a sweep: one legend entry per subset, its emission line and crossing grouped in it
            name = f"{what}, {smoothing}" if single else label
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=shown[column],
                    customdata=shown["timestep"],
                    mode="lines",
                    name=name,
                    legendgroup=None if single else label,
                    showlegend=single or what == "pool inflow",
                    line={"color": line_color, "width": 2.5, "dash": dash},
                    hovertemplate=_hover("SESH/day", label=f"{label}: {what}"),
                )
            )
        if daily:
            day = kpis.fee_parity_day(path)
            _mark_crossing(fig, path, day, None if single else label, color, position)
    return fig


def emission_inflow_bands(frame: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """P5-P95 of daily emission and of the pool inflow across runs, per subset and day after TGE,
    in long form (`column` says which). The inflow is each run's trailing mean over the
    fee-parity window when the frame holds every day (the quantity the parity rule compares),
    else the saved days' values; days before a full window are left out."""
    # only the columns drawn: filtering or sorting the whole frame copies every column
    columns = ["subset", "run", "timestep", "daily_pool_inflow", "daily_emission"]
    data = frame.loc[frame["timestep"] >= 1, columns]
    keys = data[["subset", "run", "timestep"]].to_numpy()
    if (
        len(keys) > 1
        and not (np.diff(keys[:, 0] * 10**9 + keys[:, 1] * 10**5 + keys[:, 2]) > 0).all()
    ):
        data = data.sort_values(["subset", "run", "timestep"])
    if is_daily(frame):
        grid = _grid(data, "daily_pool_inflow")
        if grid is not None:  # every run at once, pandas' rolling mean to the bit
            _, days, values = grid
            means = kpis.rolling_mean(values.reshape(-1, len(days)), kpis.PARITY_WINDOW_DAYS)
            inflow = pd.Series(means.ravel(), index=data.index)
        else:
            inflow = (
                data.groupby(["subset", "run"], sort=False)["daily_pool_inflow"]
                .rolling(kpis.PARITY_WINDOW_DAYS)
                .mean()
                .reset_index(level=[0, 1], drop=True)
            )
        data = data.assign(daily_pool_inflow=inflow)
    tables = []
    for column in ("daily_pool_inflow", "daily_emission"):
        rows = data.dropna(subset=[column])
        if rows.empty:  # a horizon shorter than the parity window has no trailing mean yet
            continue
        tables.append(bands(rows, column, step).assign(column=column))
    if not tables:
        return pd.DataFrame(columns=["subset", "timestep", *BANDS, "column"])
    return pd.concat(tables, ignore_index=True)


def _mark_crossing(
    fig: go.Figure, path: pd.DataFrame, day: float, label: str | None, color: str, row: int
) -> None:
    """The first crossing as a marker and a dotted line, or a note that there is none.

    `label` is the sweep subset (None for a single subset, which gets its own legend entry).
    """
    prefix = f"{label}: " if label else ""
    if not math.isfinite(day):
        fig.add_annotation(
            text=f"{prefix}no crossing within the horizon",
            xref="paper",
            yref="paper",
            x=0.01,
            y=1 - 0.07 * row,
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"color": color},
        )
        return
    at = path[path["timestep"] == day].iloc[0]
    date = str(calendar([int(day)])[0])
    fig.add_trace(
        go.Scatter(
            x=[date],
            y=[at["daily_pool_inflow_mean"]],
            customdata=[int(day)],
            mode="markers",
            name=f"first crossing, day {int(day)} ({date})",
            legendgroup=label,
            showlegend=label is None,
            marker={"color": color, "size": 11, "symbol": "diamond", "line": {"width": 1}},
            hovertemplate=_hover("SESH/day", label=f"{prefix}first crossing"),
        )
    )
    mark_day(fig, day, f"day {int(day)}", color, row)


# --- paired differences -------------------------------------------------------------------------

# Differences of shares and rates are in percentage points.
DIFFERENCE_UNITS = {"share": "pp", "share of runs": "pp", "1/year": "pp/year"}
DIFFERENCE_AXIS = {
    "pp": "percentage points",
    "pp/year": "percentage points per year",
    "day": "days",
}


def difference_unit(unit: str) -> str:
    """The unit of a difference of a KPI in `unit` (percentage points for shares and rates)."""
    return DIFFERENCE_UNITS.get(unit, unit)


def format_difference(value, unit: str = "") -> str:
    """A signed difference: percentage points for shares and rates, else as format_value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    value = float(value)
    text = f"{value * 100:,.1f}" if unit in PERCENT_UNITS else format_value(value, unit)
    if value > 0:
        return f"+{text}"
    return text.replace("-", "\u2212", 1)


def comparison_forest(
    table: pd.DataFrame, labels: Mapping[int, str], units: Mapping[str, str]
) -> go.Figure:
    """Paired differences against the reference subset (compare.py's table): one row per KPI,
    the point at the mean difference, the bar its 95% interval, a line at zero.

    KPIs have different units, so there is one panel per unit, each with its own axis in that
    unit (percentage points for shares and rates), rather than one axis of relative changes: a
    difference relative to a mean near zero (a share of runs, a residual) would read as huge.
    Several subsets against the reference: one colour each, side by side in every row (the
    first MAX_LINES)."""
    subsets = sorted(int(s) for s in table["subset"].unique())[:MAX_LINES]
    table = table[table["subset"].isin(subsets)]
    # a KPI without a value in any pair (horizon too short) has no row
    valued = table.groupby("kpi", sort=False)["mean_difference"].transform(
        lambda v: np.isfinite(v.to_numpy(dtype="float64")).any()
    )
    left_out = list(dict.fromkeys(table.loc[~valued.astype(bool), "kpi"]))
    table = table[valued.astype(bool)]
    kpi_order = list(dict.fromkeys(table["kpi"]))
    groups: dict[str, list[str]] = {}
    for name in kpi_order:
        groups.setdefault(difference_unit(units.get(name, "")), []).append(name)
    reference = int(table["reference_subset"].iloc[0]) if len(table) else 0
    reference_label = labels.get(reference, f"subset {reference}")
    row_px = max(24, 14 * len(subsets))
    gap_px = 74
    heights = [row_px * len(names) + 8 for names in groups.values()]
    plot_px = sum(heights) + gap_px * (len(groups) - 1)
    fig = make_subplots(
        rows=max(1, len(groups)),
        cols=1,
        row_heights=heights or None,
        vertical_spacing=gap_px / plot_px if len(groups) > 1 else 0.0,
    )
    several = len(subsets) > 1
    for panel, (unit, names) in enumerate(groups.items(), start=1):
        scale = 100.0 if unit in ("pp", "pp/year") else 1.0
        rows = table[table["kpi"].isin(names)]
        for position, subset in enumerate(subsets):
            one = rows[rows["subset"] == subset].set_index("kpi").reindex(names)
            mean = one["mean_difference"].to_numpy(dtype="float64") * scale
            low = one["ci_low"].to_numpy(dtype="float64") * scale
            high = one["ci_high"].to_numpy(dtype="float64") * scale
            label = labels.get(subset, f"subset {subset}")
            source_unit = [units.get(n, "") for n in names]
            hover = [
                f"{format_difference(m, u)} {difference_unit(u)} "
                f"(95%: {format_difference(lo, u)} to {format_difference(hi, u)}), "
                f"n = {format_value(n, count=True)}"
                for m, lo, hi, n, u in zip(
                    one["mean_difference"],
                    one["ci_low"],
                    one["ci_high"],
                    one["n"],
                    source_unit,
                    strict=True,
                )
            ]
            fig.add_trace(
                go.Scatter(
                    x=mean,
                    y=names,
                    orientation="h",
                    mode="markers",
                    name=f"{label} \u2212 {reference_label}",
                    legendgroup=label,
                    showlegend=several and panel == 1,
                    marker={"color": COLORWAY[position % len(COLORWAY)], "size": 9},
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": np.where(np.isfinite(high), high - mean, np.nan),
                        "arrayminus": np.where(np.isfinite(low), mean - low, np.nan),
                        "thickness": 1.6,
                        "width": 4,
                    },
                    customdata=hover,
                    hovertemplate=f"%{{y}}<br>{label}: %{{customdata}}<extra></extra>",
                ),
                row=panel,
                col=1,
            )
        values = np.concatenate(
            [rows[c].to_numpy(dtype="float64") * scale for c in ("mean_difference", "ci_low")]
            + [rows["ci_high"].to_numpy(dtype="float64") * scale]
        )
        values = values[np.isfinite(values)]
        lowest = min(0.0, float(values.min())) if values.size else -1.0
        highest = max(0.0, float(values.max())) if values.size else 1.0
        pad = 0.06 * (highest - lowest) or 1.0
        fig.update_xaxes(
            range=[lowest - pad, highest + pad],
            title_text=f"difference ({DIFFERENCE_AXIS.get(unit, unit) or 'no unit'})",
            zeroline=True,
            zerolinecolor="#1f2933",
            zerolinewidth=1.2,
            row=panel,
            col=1,
        )
        fig.update_yaxes(
            type="category",
            categoryorder="array",
            categoryarray=names,
            autorange="reversed",
            showgrid=False,
            row=panel,
            col=1,
        )
    n = table["n"].max() if len(table) else 0
    top = 96 + (18 if left_out else 0) + (26 if several else 0)  # subtitle lines, legend
    who = "each subset" if several else labels.get(subsets[0], "") if subsets else ""
    fig.update_layout(
        template=TEMPLATE,
        title={
            "text": "Paired differences from the reference subset",
            "subtitle": {
                "text": f"{who} \u2212 {reference_label}: mean over {format_value(n, count=True)}"
                " run pairs (point) and 95% bootstrap interval (bar); one panel per unit"
                + (f"<br>no pairs with a value: {', '.join(left_out)}" if left_out else "")
            },
        },
        hovermode="closest",
        showlegend=several,
        legend={"y": 1.0, "yanchor": "bottom", "x": 0.0, "xanchor": "left"},
        scattermode="group",
        height=plot_px + top + 56,
        margin={"t": top, "b": 56},
    )
    return fig


def time_lines(
    series: Mapping[str, pd.Series], title: str, unit: str, subtitle: str = ""
) -> go.Figure:
    """Named series indexed by timestep, one line each, on the calendar axis."""
    fig = _figure(title, subtitle, unit)
    for name, values in series.items():
        fig.add_trace(
            go.Scatter(
                x=calendar(values.index),
                y=values.to_numpy(),
                customdata=np.asarray(values.index),
                mode="lines",
                name=name,
                hovertemplate=_hover(unit, label=name),
            )
        )
    return fig


def kpi_box(per_run: pd.DataFrame, kpi: str, labels: Mapping[int, str] | None = None):
    """The spread of one run-level KPI across runs, one box per subset (kpis.per_run's table)."""
    spec = kpis.REGISTRY[kpi]
    names = _labels(per_run, labels)
    fig = go.Figure()
    fig.update_layout(
        template=TEMPLATE,
        title={"text": spec.description, "subtitle": {"text": f"{kpi}, one point per run"}},
        yaxis_title=_axis_title(kpi, spec.unit),
        hovermode="closest",
        showlegend=False,
    )
    for subset, rows in per_run[per_run["subset"].isin(list(names))].groupby("subset"):
        fig.add_trace(go.Box(y=rows[kpi], name=names[int(subset)], boxpoints="all", jitter=0.4))
    return fig


def sensitivity_bars(table: pd.DataFrame, kpi: str, top: int = 15) -> go.Figure:
    """Morris mu* (with its confidence interval) of the `top` parameters for one KPI."""
    rows = table[table["kpi"] == kpi].sort_values("rank").head(top).iloc[::-1]
    unit = kpis.REGISTRY[kpi].unit if kpi in kpis.REGISTRY else ""
    fig = go.Figure(
        go.Bar(
            x=rows["mu_star"],
            y=rows["parameter"],
            orientation="h",
            error_x={"type": "data", "array": rows["mu_star_conf"]},
            marker_color=MAIN,
            name="mu*",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title={"text": f"What moves {kpi}", "subtitle": {"text": "Morris mu*, ranked"}},
        xaxis_title=_axis_title("mean absolute elementary effect mu*", unit),
        hovermode="closest",
        height=max(300, 60 + 26 * len(rows)),
    )
    return fig


# --- KPI tables ----------------------------------------------------------------------------------

RUN_STAT_COLUMNS = ("mean", "p5", "p50", "p95", "n")


def summary_from_document(document: Mapping) -> tuple[dict, dict[int, str]]:
    """kpis.json -> (subset -> KPI -> statistics, subset -> label), as `kpis.summarize` gives."""
    subsets = document.get("subsets", {})
    summary = {int(key): entry["kpis"] for key, entry in subsets.items()}
    labels = {int(key): entry.get("label", f"subset {key}") for key, entry in subsets.items()}
    return summary, labels


def kpi_table(
    summary: Mapping[int, Mapping[str, Mapping[str, float]]],
    subset: int | None = None,
    formatted: bool = False,
) -> pd.DataFrame:
    """One subset's KPIs: one row each with its unit, mean/P5/P50/P95/n or its single value."""
    if subset is None:
        subset = min(summary)
    rows = []
    for name, stats in summary[subset].items():
        unit = kpis.REGISTRY[name].unit if name in kpis.REGISTRY else ""
        row = {"kpi": name, "unit": unit}
        row.update({stat: stats.get(stat) for stat in (*RUN_STAT_COLUMNS, "value")})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("kpi")
    if not any(pd.notna(v) for v in table["value"]):
        table = table.drop(columns="value")
    return format_table(table) if formatted else table


def kpi_comparison(
    summary: Mapping[int, Mapping[str, Mapping[str, float]]],
    labels: Mapping[int, str] | None = None,
    stat: str = "p50",
    formatted: bool = False,
) -> pd.DataFrame:
    """KPIs down, subsets across: `stat` of run-level KPIs, the value of subset-level ones."""
    labels = labels or {}
    columns = {}
    units = {}
    for subset in sorted(summary):
        column = {}
        for name, stats in summary[subset].items():
            column[name] = stats.get(stat, stats.get("value"))
            units[name] = kpis.REGISTRY[name].unit if name in kpis.REGISTRY else ""
        columns[labels.get(subset, f"subset {subset}")] = column
    table = pd.DataFrame(columns)
    table.insert(0, "unit", pd.Series(units))
    table.index.name = "kpi"
    return format_table(table) if formatted else table


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """Every numeric cell as text with format_value, by the row's unit."""
    out = table.astype(object).copy()
    for column in table.columns:
        if column == "unit":
            continue
        out[column] = [
            format_value(v, u, count=column == "n")
            for v, u in zip(table[column], table["unit"], strict=True)
        ]
    return out


def format_value(value, unit: str = "", count: bool = False) -> str:
    """The project's number format (experiments/reporting/numbers.py)."""
    return numbers.format_value(value, unit, count)
