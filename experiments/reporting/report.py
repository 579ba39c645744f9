"""`report.html`: one self-contained page per results directory, built from the saved files only.

The page is rebuilt from timeseries.parquet, kpis.json, manifest.json (and sensitivity.csv when a
sensitivity run left one), so `python -m experiments report DIR` gives the same page as `run` did.
It must open offline and be safe to host as a plain file: plotly.js is inlined once in the head, the
charts are plotly divs that call it, the styles are inline and use system fonts, and no element
points at anything outside the file. KPI cells carry the exact kpis.json number in `data-value`
beside the formatted text, so a reader (or a test) can check one against the other.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.analysis import kpis
from experiments.files import write_text_atomically
from experiments.reporting import plots
from model import Parameters

REPORT_FILE = "report.html"
# Fan charts (one subset) or median lines (a sweep), in this order, then emission vs inflow.
CHART_COLUMNS = (
    "reward_pool",
    "circulating",
    "staked",
    "amm_sesh",
    "amm_quote",
    "price_usd",
    "nodes",
    "node_apr_sesh",
)
EMISSION_CHART = "emission_vs_inflow"
# Subsets shown as their own columns in the assumptions table; beyond this, a range.
MAX_SUBSET_COLUMNS = 8
SENSITIVITY_COLUMNS = ("kpi", "parameter", "mu_star", "mu_star_conf", "sigma", "rank")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}


class ReportError(ValueError):
    """The directory does not hold results a report can be built from (one-line message)."""


@dataclass(frozen=True)
class Results:
    """What a results directory holds; `frame` is None for a KPI-only run."""

    path: Path
    manifest: dict[str, Any]
    kpis: dict[str, Any] | None
    frame: pd.DataFrame | None
    sensitivity: pd.DataFrame | None

    @property
    def labels(self) -> dict[int, str]:
        subsets = enumerate(self.manifest.get("subsets") or [])
        labels = {int(s.get("subset", i)): s.get("label", f"subset {i}") for i, s in subsets}
        if self.kpis:
            labels.update(plots.summary_from_document(self.kpis)[1])
        return labels


# --- loading -------------------------------------------------------------------------------------


def load_results(
    results_dir: Path | str, columns: Sequence[str] | None = None, timeseries: bool = True
) -> Results:
    """Read a results directory; ReportError when it is not one.

    `columns` limits the timeseries read to those columns (plus subset, run, timestep);
    `timeseries=False` skips it.
    """
    path = Path(results_dir)
    if not path.is_dir():
        raise ReportError(f"invalid results directory '{path}': not a directory")
    manifest = _read_json(path / "manifest.json", required=True)
    document = _read_json(path / "kpis.json", required=False)
    if document is not None:
        _check_kpis(path / "kpis.json", document)
    return Results(
        path=path,
        manifest=manifest,
        kpis=document,
        frame=_read_timeseries(path / "timeseries.parquet", columns) if timeseries else None,
        sensitivity=_read_sensitivity(path / "sensitivity.csv"),
    )


def _read_json(path: Path, required: bool) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise ReportError(f"invalid results directory '{path.parent}': no {path.name}")
        return None
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ReportError(f"invalid {path}: {error}") from None
    if not isinstance(document, dict):
        raise ReportError(f"invalid {path}: expected a JSON object")
    return document


def _check_kpis(path: Path, document: dict[str, Any]) -> None:
    """kpis.json's shape: subsets -> {label, kpis: {KPI -> {statistic -> number or null}}}."""
    subsets = document.get("subsets")
    valid = isinstance(subsets, dict) and all(
        isinstance(entry, dict)
        and str(key).isdigit()
        and isinstance(entry.get("kpis"), dict)
        and all(isinstance(stats, dict) for stats in entry["kpis"].values())
        for key, entry in subsets.items()
    )
    if not valid:
        raise ReportError(f"invalid {path}: expected subsets -> kpis -> statistics")


def _read_timeseries(path: Path, columns: Sequence[str] | None) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        wanted = None
        if columns is not None:
            wanted = [c for c in ("subset", "run", "timestep", *columns) if c in names]
        return pd.read_parquet(path, columns=wanted)
    except (OSError, ValueError) as error:  # pyarrow's errors derive from these
        raise ReportError(f"invalid {path}: {error}") from None


def _read_sensitivity(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise ReportError(f"invalid {path}: {error}") from None
    missing = [c for c in SENSITIVITY_COLUMNS if c not in table.columns]
    if missing:
        raise ReportError(f"invalid {path}: missing column '{missing[0]}'")
    return table


# --- writing -------------------------------------------------------------------------------------


def write_report(
    results_dir: Path | str,
    destination: Path | str | None = None,
    frame: pd.DataFrame | None = None,
) -> Path:
    """Build report.html from the files in `results_dir`; return its path.

    `destination` (a directory, default `results_dir`) lets `publish` build a missing report
    without touching the results; `frame` spares re-reading a timeseries the caller holds.
    """
    needed = [*CHART_COLUMNS, "daily_emission", "daily_pool_inflow"]
    results = load_results(results_dir, columns=needed, timeseries=frame is None)
    if frame is not None:
        results = Results(results.path, results.manifest, results.kpis, frame, results.sensitivity)
    target = Path(destination or results_dir) / REPORT_FILE
    write_text_atomically(target, render(results))
    return target


# --- the page ------------------------------------------------------------------------------------


def render(results: Results) -> str:
    """The whole page as one string."""
    manifest = results.manifest
    name = str(manifest.get("experiment", results.path.name))
    charts = chart_figures(results)
    # a sensitivity run's answer is its ranking: it comes before the per-point KPIs
    parts = [("run", "Run", "Run", run_summary(results))]
    if results.sensitivity is not None:
        parts.append(
            ("sensitivity", "Sensitivity", "Sensitivity (Morris)", sensitivity_section(results))
        )
    parts += [
        ("kpis", "KPIs", "Key performance indicators", kpi_section(results)),
        ("charts", "Charts", "Charts", chart_section(results, charts)),
        ("assumptions", "Assumptions", "Assumptions in force", assumptions_section(results)),
    ]
    sections = [_section(anchor, title, body) for anchor, _, title, body in parts]
    toc = "".join(f'<a href="#{anchor}">{short}</a>' for anchor, short, _, _ in parts)
    head_script = _plotly_script() if charts else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SESH economy model: {_e(name)}</title>
<link rel="icon" href="data:,">
<style>{CSS}</style>
{head_script}
</head>
<body>
<header>
<p class="kicker">Session Token (SESH) economy model &middot; experiment report</p>
<h1>{_e(name)}</h1>
<p class="lede">{_e(manifest.get("description", ""))}</p>
<p class="data-range">{data_range(results)}</p>
<nav>{toc}</nav>
</header>
<main>
{"".join(sections)}
</main>
<footer>
Built from the files in this results directory (manifest.json, kpis.json{
        ", timeseries.parquet" if results.frame is not None else ""
    }{", sensitivity.csv" if results.sensitivity is not None else ""}). Every chart is drawn by the
plotly.js copy inside this page: it opens offline.
</footer>
</body>
</html>
"""


def _plotly_script() -> str:
    """plotly.js, once for the whole page (the chart divs are built without it)."""
    import plotly
    from plotly.offline import get_plotlyjs

    comment = f"/* plotly.js bundled by plotly.py {plotly.__version__} */"
    return f'<script type="text/javascript">{comment}\n{get_plotlyjs()}</script>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{title}</h2>{body}</section>\n'


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def data_range(results: Results) -> str:
    """The period the simulated data covers (never the date the run was made)."""
    data = results.manifest.get("data") or {}
    start, end, days = data.get("start"), data.get("end"), data.get("days")
    if (start is None or end is None) and results.frame is not None:
        days = int(results.frame["timestep"].max())
        dates = plots.calendar([0, days])
        start, end = dates[0], dates[1]
    if start is None or end is None:
        return "Simulated period: unknown (the manifest has no data range)"
    length = f" ({int(days):,} days after TGE)" if days is not None else ""
    return (
        f'Simulated period: <time datetime="{_e(start)}">{_e(start)}</time> to '
        f'<time datetime="{_e(end)}">{_e(end)}</time>{length}'
    )


# --- run summary ---------------------------------------------------------------------------------


def run_summary(results: Results) -> str:
    m = results.manifest
    subsets = m.get("subsets", [])
    labels = ", ".join(s.get("label", "") for s in subsets[: plots.MAX_LINES])
    if len(subsets) > plots.MAX_LINES:
        labels += f", ... ({len(subsets) - plots.MAX_LINES} more)"
    packages = m.get("packages") or {}
    versions = ", ".join(f"{k} {v}" for k, v in packages.items() if v)
    if m.get("python"):
        versions = f"Python {m['python']}, {versions}"
    revision = m.get("git_revision") or "not a git checkout"
    backend = m.get("backend", "?")
    if m.get("processes"):
        backend += f" ({m['processes']} processes)"
    overrides = m.get("overrides") or {}
    rows = [
        ("Experiment", f"{m.get('experiment', '?')}: {m.get('description', '')}"),
        ("Subsets", f"{len(subsets)} ({labels})" if subsets else "?"),
        ("Runs per subset", m.get("runs", "?")),
        ("Horizon", f"{m.get('years', '?')} years ({m.get('timesteps', '?')} daily steps)"),
        ("Seed", f"{m.get('seed', '?')} &middot; {_e(m.get('seeding', ''))}"),
        ("Engine", m.get("engine", "?")),
        ("Backend", backend),
        (
            "Overrides (--set)",
            ", ".join(f"{k} = {_show(v)}" for k, v in overrides.items()) or "none",
        ),
        ("Git revision", f"<code>{_e(revision)}</code>"),
        ("Versions", versions),
        ("Command", f"<code>{_e(' '.join(m.get('command', [])))}</code>"),
        ("Wall time", f"{m.get('wall_time_seconds', '?')} s"),
    ]
    items = "".join(
        f"<dt>{title}</dt><dd>{value if _is_markup(title) else _e(value)}</dd>"
        for title, value in rows
    )
    return f'<dl class="manifest">{items}</dl>'


def _is_markup(title: str) -> bool:
    """Rows whose value is already escaped markup."""
    return title in ("Seed", "Git revision", "Command")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:,.10g}"
    return str(value)


# --- KPIs ----------------------------------------------------------------------------------------


def kpi_section(results: Results) -> str:
    if not results.kpis:
        return "<p>No kpis.json in this results directory.</p>"
    summary, labels = plots.summary_from_document(results.kpis)
    registry = results.kpis.get("kpis", {})
    if len(summary) > plots.MAX_LINES:
        return (
            f"<details><summary>KPIs of all {len(summary)} subsets</summary>"
            "<p>One row per subset: the median over runs of every run-level KPI and the value of "
            "share-of-runs KPIs. kpis.json and kpis.csv hold every statistic.</p>"
            f"{subsets_table(summary, labels)}</details>"
        )
    parts = []
    if len(summary) > 1:
        parts.append(
            "<h3>Comparison across subsets</h3><p>Median over runs (P5 to P95 below it); "
            "share-of-runs KPIs show their single value.</p>" + comparison_table(summary, labels)
        )
    for subset in sorted(summary):
        table = kpi_table_html(subset, summary[subset], registry)
        if len(summary) == 1:
            parts.append(table)
        else:
            parts.append(
                f"<details><summary>All KPIs: {_e(labels.get(subset, subset))}</summary>"
                f"{table}</details>"
            )
    return "".join(parts)


def _unit(name: str, registry: Mapping[str, Any]) -> str:
    if name in registry:
        return registry[name].get("unit", "")
    return kpis.REGISTRY[name].unit if name in kpis.REGISTRY else ""


def _description(name: str, registry: Mapping[str, Any]) -> str:
    if name in registry:
        return registry[name].get("description", "")
    return kpis.REGISTRY[name].description if name in kpis.REGISTRY else ""


def _cell(subset: int, name: str, stat: str, value: Any, unit: str, extra: str = "") -> str:
    """A KPI cell: the formatted number, with the exact kpis.json value in data-value."""
    exact = "null" if value is None else json.dumps(value)
    text = plots.format_value(value, unit, count=stat == "n")
    return (
        f'<td class="num" data-subset="{subset}" data-kpi="{_e(name)}" data-stat="{stat}" '
        f'data-value="{_e(exact)}">{text}{extra}</td>'
    )


def kpi_table_html(subset: int, stats: Mapping[str, Mapping[str, Any]], registry) -> str:
    """One subset's KPIs: run-level rows with mean/P5/P50/P95/n, then subset-level values."""
    run_rows, subset_rows = [], []
    for name, values in stats.items():
        unit = _unit(name, registry)
        label = (
            f'<th scope="row"><span class="kpi">{_e(name)}</span>'
            f'<span class="meaning">{_e(_description(name, registry))}</span></th>'
            f"<td>{_e(display_unit(unit))}</td>"
        )
        if "value" in values:
            subset_rows.append(
                f"<tr>{label}{_cell(subset, name, 'value', values['value'], unit)}</tr>"
            )
        else:
            cells = "".join(
                _cell(subset, name, stat, values.get(stat), unit) for stat in plots.RUN_STAT_COLUMNS
            )
            run_rows.append(f"<tr>{label}{cells}</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("KPI", "unit", "mean", "P5", "P50", "P95", "runs"))
    out = f'<table class="kpis"><thead><tr>{head}</tr></thead><tbody>{"".join(run_rows)}</tbody></table>'
    if subset_rows:
        out += (
            '<table class="kpis subset-kpis"><thead><tr><th>KPI over the runs</th><th>unit</th>'
            f"<th>value</th></tr></thead><tbody>{''.join(subset_rows)}</tbody></table>"
        )
    return out


def display_unit(unit: str) -> str:
    """Units as the formatted values read: shares and rates are shown in percent."""
    return {"share": "%", "share of runs": "% of runs", "1/year": "%/year"}.get(unit, unit)


def comparison_table(summary: Mapping[int, Mapping[str, Mapping[str, Any]]], labels) -> str:
    subsets = sorted(summary)
    names = list(dict.fromkeys(name for s in subsets for name in summary[s]))
    head = "<th>KPI</th><th>unit</th>" + "".join(
        f'<th data-subset="{s}">{_e(labels.get(s, s))}</th>' for s in subsets
    )
    rows = []
    for name in names:
        unit = kpis.REGISTRY[name].unit if name in kpis.REGISTRY else ""
        cells = []
        for s in subsets:
            values = summary[s].get(name, {})
            if "value" in values:
                cells.append(_cell(s, name, "value", values["value"], unit))
                continue
            spread = ""
            if values.get("p5") is not None and values.get("p95") is not None:
                spread = (
                    f'<span class="spread">{plots.format_value(values["p5"], unit)} to '
                    f"{plots.format_value(values['p95'], unit)}</span>"
                )
            cells.append(_cell(s, name, "p50", values.get("p50"), unit, spread))
        rows.append(
            f'<tr><th scope="row"><span class="kpi">{_e(name)}</span></th>'
            f"<td>{_e(display_unit(unit))}</td>{''.join(cells)}</tr>"
        )
    return (
        f'<div class="scroll"><table class="kpis comparison"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def subsets_table(summary: Mapping[int, Mapping[str, Mapping[str, Any]]], labels) -> str:
    """Subsets down, KPIs across (P50 or value): the comparison for a sweep too big to transpose."""
    subsets = sorted(summary)
    names = list(dict.fromkeys(name for s in subsets for name in summary[s]))
    head = "<th>subset</th>" + "".join(
        f"<th><span class='kpi'>{_e(n)}</span><span class='meaning'>"
        f"{_e(display_unit(kpis.REGISTRY[n].unit if n in kpis.REGISTRY else ''))}</span></th>"
        for n in names
    )
    rows = []
    for s in subsets:
        cells = []
        for name in names:
            unit = kpis.REGISTRY[name].unit if name in kpis.REGISTRY else ""
            values = summary[s].get(name, {})
            stat = "value" if "value" in values else "p50"
            cells.append(_cell(s, name, stat, values.get(stat), unit))
        rows.append(f"<tr><th scope='row'>{_e(labels.get(s, s))}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="kpis comparison"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


# --- charts --------------------------------------------------------------------------------------


def chart_figures(results: Results) -> dict[str, Any]:
    """Chart id -> plotly figure; empty for a KPI-only run."""
    frame = results.frame
    if frame is None or frame.empty:
        return {}
    labels = results.labels
    sweep = frame["subset"].nunique() > 1
    figures = {}
    for column in CHART_COLUMNS:
        if column not in frame.columns:
            continue
        if sweep:
            figures[column] = plots.subset_lines(frame, column, labels)
        else:
            figures[column] = plots.fan_chart(frame, column)
    if {"daily_emission", "daily_pool_inflow"} <= set(frame.columns):
        figures[EMISSION_CHART] = plots.emission_vs_inflow(frame, labels)
    return figures


def chart_section(results: Results, figures: Mapping[str, Any]) -> str:
    if results.frame is None:
        return (
            '<p class="note">Charts need the timeseries: this run saved KPIs only '
            "(no timeseries.parquet). Run the experiment again without <code>--kpi-only</code> "
            "to draw them.</p>"
        )
    if not figures:
        return '<p class="note">The timeseries is empty: nothing to draw.</p>'
    import plotly.io as pio

    subsets = results.frame["subset"].nunique()
    note = ""
    if subsets > plots.MAX_LINES:
        note = (
            f'<p class="note">The charts show the first {plots.MAX_LINES} of {subsets} subsets; '
            "the KPI tables cover them all.</p>"
        )
    days = int(results.frame["timestep"].max())
    saved = results.frame["timestep"].nunique()
    if not plots.is_daily(results.frame):
        note += (
            f'<p class="note">The timeseries holds {saved:,} of the {days + 1:,} days (a KPI-only '
            "run thinned with --thin): the charts show those days; the KPIs used every day.</p>"
        )
    if plots.sample_step(saved) > 1:
        note += (
            f'<p class="note">Charts use weekly points ({days:,} days simulated); '
            "KPIs use every day.</p>"
        )
    divs = []
    for chart, figure in figures.items():
        div = pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"chart-{chart}",
            config=PLOTLY_CONFIG,
        )
        wide = " wide" if chart == EMISSION_CHART else ""
        divs.append(f'<div class="chart{wide}" data-chart="{chart}">{div}</div>')
    return f'{note}<div class="charts">{"".join(divs)}</div>'


# --- sensitivity ---------------------------------------------------------------------------------


def sensitivity_section(results: Results) -> str:
    table = results.sensitivity
    order = {name: i for i, name in enumerate(kpis.REGISTRY)}
    table = table.assign(_order=table["kpi"].map(order).fillna(len(order))).sort_values(
        ["_order", "kpi", "rank"], kind="stable"
    )
    rows = []
    for kpi_name, group in table.groupby("kpi", sort=False):
        unit = kpis.REGISTRY[kpi_name].unit if kpi_name in kpis.REGISTRY else ""
        for i, row in enumerate(group.itertuples(index=False)):
            first = (
                f'<th scope="rowgroup" rowspan="{len(group)}">{_e(kpi_name)}</th>' if i == 0 else ""
            )
            rows.append(
                f"<tr>{first}<td class='num'>{_e(row.rank)}</td><td>{_e(row.parameter)}</td>"
                f"<td class='num'>{plots.format_value(row.mu_star, unit)}</td>"
                f"<td class='num'>{plots.format_value(row.mu_star_conf, unit)}</td>"
                f"<td class='num'>{plots.format_value(row.sigma, unit)}</td></tr>"
            )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("KPI", "rank", "parameter", "mu* (KPI units)", "mu* 95% conf.", "sigma")
    )
    return (
        "<p>Morris elementary effects: mu* is the mean absolute change of the KPI per "
        "parameter step (larger moves it more); sigma large beside mu* means interactions or "
        "non-linearity. Ranked within each KPI.</p>"
        f'<table class="sensitivity"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# --- assumptions ---------------------------------------------------------------------------------


def assumptions_section(results: Results) -> str:
    info = Parameters.field_info()
    subsets = results.manifest.get("subsets") or []
    values = [s.get("parameters") or {} for s in subsets]
    names = list(info) + sorted({n for v in values for n in v} - set(info))
    changed = _non_default(names, info, values, subsets)
    intro = (
        "<p>Every model parameter as this run used it, with its source. Highlighted cells differ "
        "from the model default. The reason for each assumption, and how to change it, is in "
        "ASSUMPTIONS.md in the project repository; "
        "<code>python -m experiments params</code> lists them too.</p>"
    )
    summary = (
        "<ul class='changed-list'>" + "".join(f"<li>{c}</li>" for c in changed) + "</ul>"
        if changed
        else "<p>All parameters at their defaults.</p>"
    )
    return (
        intro
        + "<h3>Not at the default</h3>"
        + summary
        + _parameter_table(names, info, values, subsets)
    )


def _non_default(names, info, values, subsets) -> list[str]:
    """One line per non-default value and subset; per parameter for a large sweep."""
    out = []
    for name in names:
        default = info.get(name, {}).get("default")
        if len(subsets) > MAX_SUBSET_COLUMNS:
            cells = [params[name] for params in values if name in params]
            if any(v != default for v in cells):
                out.append(
                    f"<code>{_e(name)}</code>: {_range_text(cells)} across {len(subsets)} "
                    f"subsets (default {_e(_show(default))})"
                )
            continue
        for subset, params in zip(subsets, values, strict=True):
            if name in params and params[name] != default:
                who = f" in {_e(subset.get('label', ''))}" if len(subsets) > 1 else ""
                out.append(
                    f"<code>{_e(name)}</code> = {_e(_show(params[name]))}{who} "
                    f"(default {_e(_show(default))})"
                )
    return out


def _parameter_table(names, info, values, subsets) -> str:
    per_subset = len(subsets) <= MAX_SUBSET_COLUMNS
    if per_subset:
        value_heads = "".join(f"<th>{_e(s.get('label', ''))}</th>" for s in subsets)
    else:
        value_heads = f"<th>in this run ({len(subsets)} subsets)</th>"
    head = f"<th>parameter</th><th>unit</th><th>default</th>{value_heads}<th>source</th>"
    rows = []
    for name in names:
        meta = info.get(name, {})
        default = meta.get("default")
        cells = [params.get(name) for params in values]
        if per_subset:
            value_cells = "".join(_parameter_cell(v, default) for v in cells)
        else:
            value_cells = _range_cell(cells, default)
        source = meta.get("source", "not a parameter of this model version")
        rows.append(
            f'<tr><th scope="row"><code>{_e(name)}</code>'
            f'<span class="meaning">{_e(meta.get("meaning", ""))}</span></th>'
            f"<td>{_e(meta.get('unit', ''))}</td><td class='num'>{_e(_show(default))}</td>"
            f"{value_cells}<td class='source'>{_e(source)}</td></tr>"
        )
    return (
        f'<div class="scroll"><table class="parameters"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _parameter_cell(value, default) -> str:
    if value is None:
        return "<td class='num'>–</td>"
    css = "num changed" if value != default else "num"
    return f"<td class='{css}'>{_e(_show(value))}</td>"


def _range_cell(cells: Iterable[Any], default) -> str:
    distinct = list(dict.fromkeys(v for v in cells if v is not None))
    if not distinct:
        return "<td class='num'>–</td>"
    if len(distinct) == 1:
        return _parameter_cell(distinct[0], default)
    return f"<td class='num changed'>{_range_text(distinct)}</td>"


def _range_text(cells: Iterable[Any]) -> str:
    """Escaped: one value, "low to high (n values)" for numbers, else the values listed."""
    distinct = list(dict.fromkeys(cells))
    if len(distinct) == 1:
        return _e(_show(distinct[0]))
    numbers = [v for v in distinct if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(distinct) and all(math.isfinite(v) for v in numbers):
        return _e(f"{_show(min(numbers))} to {_show(max(numbers))} ({len(distinct)} values)")
    return _e(", ".join(_show(v) for v in distinct))


CSS = """
:root { --ink: #1f2933; --muted: #5b6675; --line: #dde2ea; --accent: #0b7a75;
  --changed: #fff1c9; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue',
  Arial, sans-serif; color: var(--ink); background: var(--bg); line-height: 1.45; }
header, main, footer { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; padding-bottom: 8px; }
.kicker { color: var(--accent); font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
  font-size: 12px; margin: 0; }
h1 { font-size: 30px; margin: 4px 0 6px; }
.lede { font-size: 17px; margin: 0 0 6px; color: var(--muted); }
.data-range { font-size: 15px; margin: 0 0 12px; }
nav a { display: inline-block; margin-right: 16px; color: var(--accent); text-decoration: none;
  font-weight: 600; }
section { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
  margin: 16px 0; }
h2 { font-size: 21px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 16px 0 8px; }
dl.manifest { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.manifest dt { color: var(--muted); }
dl.manifest dd { margin: 0; overflow-wrap: anywhere; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left;
  vertical-align: top; }
thead th { background: #eef1f5; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody th { white-space: nowrap; }
.kpi { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.meaning { display: block; color: var(--muted); font-size: 12px; font-weight: normal; }
.spread { display: block; color: var(--muted); font-size: 11px; }
td.changed { background: var(--changed); font-weight: 600; }
td.source { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 4px; min-width: 0; }
.chart.wide { grid-column: 1 / -1; }
.note { background: #eef6f6; border-left: 4px solid var(--accent); padding: 8px 12px; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
.scroll { overflow-x: auto; }
footer { color: var(--muted); font-size: 13px; padding-bottom: 32px; }
"""
