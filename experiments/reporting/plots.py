"""What the notebooks and the report read off a results frame, and numbers for people.

- Charts from a tidy results frame (one row per subset, run and timestep, as `simulate` and
  timeseries.parquet hold it): each cuts the frame into arrays (`figures.Paths`) and returns
  `figures.py`'s figure as a plotly figure object, to show in a notebook or draw in the report.
  The figures themselves are drawn in `figures.py` only.
- The day the emission chart marks as fee parity, read from the KPI (`parity_marker_days`).
- KPI tables, paired differences and number formats (`kpi_table`, `paired_table`,
  `format_value`, `format_difference`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from experiments.analysis import kpis
from experiments.reporting import figures, numbers

# --- charts from a frame -------------------------------------------------------------------------


def _labels(frame: pd.DataFrame, labels: Mapping[int, str] | None) -> dict[int, str]:
    """Subset -> legend label, for at most MAX_LINES subsets."""
    subsets = sorted(int(s) for s in frame["subset"].unique())[: figures.MAX_LINES]
    labels = labels or {}
    return {s: labels.get(s, f"subset {s}") for s in subsets}


def _paths(frame: pd.DataFrame, columns, subsets) -> figures.Paths:
    chosen = frame if frame["subset"].nunique() == len(subsets) else None
    if chosen is None:
        chosen = frame[frame["subset"].isin(list(subsets))]
    return figures.Paths.of(chosen[["subset", "run", "timestep", *columns]], columns)


def fan_chart(
    frame: pd.DataFrame,
    column: str,
    subset: int | None = None,
    title: str | None = None,
    step: int | None = None,
) -> go.Figure:
    """figures.fan of one subset of the frame (the only one, or `subset`)."""
    if subset is None:
        subsets = frame["subset"].unique()
        if len(subsets) != 1:
            raise ValueError(
                f"frame has {len(subsets)} subsets: pass subset= or use subset_lines()"
            )
        subset = int(subsets[0])
    paths = _paths(frame, [column], [subset])
    return go.Figure(figures.fan(paths.days, paths.values[column][0], column, title, step))


def subset_lines(
    frame: pd.DataFrame,
    column: str,
    labels: Mapping[int, str] | None = None,
    title: str | None = None,
    step: int | None = None,
) -> go.Figure:
    """figures.lines: the median and P5-P95 of `column` per subset (the first MAX_LINES)."""
    names = _labels(frame, labels)
    paths = _paths(frame, [column], names)
    shown = [names[s] for s in paths.subsets]
    return go.Figure(figures.lines(paths.days, paths.values[column], column, shown, title, step))


def difference_lines(
    frame: pd.DataFrame,
    column: str,
    labels: Mapping[int, str] | None = None,
    step: int | None = None,
) -> go.Figure:
    """figures.differences: each subset minus the first (the reference), run by run, per day."""
    names = _labels(frame, labels)
    paths = _paths(frame, [column], names)
    shown = [names[s] for s in paths.subsets]
    return go.Figure(figures.differences(paths.days, paths.values[column], column, shown, 0, step))


def emission_vs_inflow(
    frame: pd.DataFrame,
    labels: Mapping[int, str] | None = None,
    step: int | None = None,
) -> go.Figure:
    """figures.emission of the frame's subsets (the first MAX_LINES)."""
    names = _labels(frame, labels)
    columns = ["daily_emission", "daily_pool_inflow"]
    paths = _paths(frame, columns, names)
    shown = [names[s] for s in paths.subsets]
    emission, inflow = (paths.values[c] for c in columns)
    return go.Figure(figures.emission(paths.days, emission, inflow, shown, step))


def comparison_forest(
    table: pd.DataFrame, labels: Mapping[int, str], units: Mapping[str, str]
) -> go.Figure:
    """figures.forest of compare.py's table, each point's hover as the report's table reads it
    (figures.difference_hover)."""
    return go.Figure(figures.forest(table, labels, units))


def time_lines(
    series: Mapping[str, pd.Series], title: str, unit: str, subtitle: str = ""
) -> go.Figure:
    """figures.time_lines: named series indexed by timestep, one line each."""
    return go.Figure(figures.time_lines(series, title, unit, subtitle))


def kpi_box(per_run: pd.DataFrame, kpi: str, labels: Mapping[int, str] | None = None):
    """figures.kpi_box of kpis.per_run's table: one box per subset (the first MAX_LINES)."""
    return go.Figure(figures.kpi_box(per_run, kpi, _labels(per_run, labels)))


def sensitivity_bars(table: pd.DataFrame, kpi: str, top: int = 15) -> go.Figure:
    """figures.sensitivity_bars: Morris mu* of the `top` parameters for one KPI."""
    return go.Figure(figures.sensitivity_bars(table, kpi, top))


def mark_day(
    fig: go.Figure, day: float, text: str, color: str = "#1f2933", row: int = 0
) -> go.Figure:
    """figures.mark_day on a figure object: a dotted line at `day` with its label."""
    marks = figures.mark_day({"layout": {}}, day, text, color, row)["layout"]
    for shape in marks.get("shapes", []):
        fig.add_shape(shape)
    for note in marks.get("annotations", []):
        fig.add_annotation(note)
    return fig


# --- the fee-parity crossing ---------------------------------------------------------------------


def is_daily(frame: pd.DataFrame) -> bool:
    """Whether the frame holds every day (a KPI-only run with --thin saves every N-th)."""
    days = frame["timestep"].unique()
    return len(days) == int(days.max()) + 1


def parity_marker_days(frame: pd.DataFrame) -> dict[int, float]:
    """Subset -> the day the emission chart marks as fee parity: the fee_parity_day KPI's median
    over the runs that reach it, rounded up (NaN: no run does). Read from the KPI itself."""
    days = kpis.per_run(frame, (kpis.REGISTRY["fee_parity_day"],))
    return {
        int(subset): float(np.ceil(group.dropna().median())) if group.notna().any() else math.nan
        for subset, group in days.groupby("subset", sort=True)["fee_parity_day"]
    }


# --- KPI tables and numbers ---------------------------------------------------------------------

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


def paired_table(
    per_run: pd.DataFrame,
    names,
    labels: Mapping[int, str] | None = None,
    reference: int = 0,
    formatted: bool = True,
) -> pd.DataFrame:
    """The paired differences of the KPIs `names` against the `reference` subset, run by run
    (compare.comparison_table of kpis.per_run's table): one row per KPI and subset, the subset
    by its label; `formatted`: as the report's table writes them (numbers.difference_cells),
    with the difference's unit."""
    from experiments.analysis import compare

    table = compare.comparison_table(per_run, list(names), reference)
    labels = labels or {}
    table["subset"] = [labels.get(int(s), f"subset {s}") for s in table["subset"]]
    table = table.set_index(["kpi", "subset"])[list(numbers.DIFFERENCE_STATS)]
    if not formatted:
        return table
    rows = {}
    for (kpi, subset), row in table.iterrows():
        unit = kpis.REGISTRY[kpi].unit if kpi in kpis.REGISTRY else ""
        rows[(kpi, subset)] = {"unit": numbers.difference_unit(unit)} | numbers.difference_cells(
            row, unit
        )
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["kpi", "subset"]
    return out


def format_value(value, unit: str = "", count: bool = False) -> str:
    """The project's number format (experiments/reporting/numbers.py)."""
    return numbers.format_value(value, unit, count)


def format_difference(value, unit: str = "") -> str:
    """A signed difference in the project's number format (experiments/reporting/numbers.py)."""
    return numbers.format_difference(value, unit)


def inflow_emission_ratio(
    frame: pd.DataFrame,
    labels: Mapping[int, str] | None = None,
    step: int | None = None,
) -> go.Figure:
    """figures.inflow_emission_ratio of the frame's subsets (the first MAX_LINES)."""
    names = _labels(frame, labels)
    columns = ["daily_emission", "daily_pool_inflow"]
    paths = _paths(frame, columns, names)
    shown = [names[s] for s in paths.subsets]
    emission, inflow = (paths.values[c] for c in columns)
    return go.Figure(figures.inflow_emission_ratio(paths.days, emission, inflow, shown, step))
