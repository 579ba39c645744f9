"""`report.html`: one self-contained page per results directory, built from the saved files only.

The page is rebuilt from timeseries.parquet, kpis.json, manifest.json (and sensitivity.csv when a
sensitivity run left one, comparison.csv when a run of several subsets did), so `python -m experiments report DIR` gives the same page as `run` did.
It must open offline and be safe to host as a plain file: plotly.js is inlined once in the head, the
charts are plotly divs that call it, the styles are inline and use system fonts, and no element
points at anything outside the file: the page may be moved anywhere. The ASSUMPTIONS.md rows its
findings hang on are carried in its Assumptions section (`assumption_rows`, parsed from the
project's ASSUMPTIONS.md), one anchor `#assumption-<id>` each, which the findings link. A page of a
published site (`render(plotly_src=..., assumptions_href=...)`, see publish.py) links the site's
one plotly.js and its copy of the whole ASSUMPTIONS.md as well.
The page opens with "What this run says" (experiments.reporting.findings: every figure with its
uncertainty); numbers are formatted by experiments.reporting.numbers, one format everywhere. KPI cells carry the exact kpis.json number in `data-value`
beside the formatted text, so a reader (or a test) can check one against the other.

Reading the folder back (`load_results`) checks every file against what this project writes
(experiments.schemas for the types). Whether a problem stops the page or only shortens it:

- Error (ReportError: one line naming the file, the field and what is allowed; exit 2 from
  `report`, the folder skipped with a warning by `publish`; nothing written):
  no manifest.json; manifest.json, kpis.json, comparison.csv or sensitivity.csv unreadable or
  with a field of the wrong type (a statistic "abc", a `command` of [1, null]); any result file
  that is a directory; a timeseries.parquet that is unreadable, lacks a column the charts draw,
  holds text (or anything but numbers) in one, or has a row that cannot be placed (an empty or
  negative subset, run or timestep, a timestep past the manifest's `timesteps`, two rows for one
  subset, run and timestep); a CSV with two rows for one KPI and subset (or parameter). Charts
  drawn from such a file would be wrong, and a page without them would pass for complete.
- Note (one line on stderr, "note: ...", and the page is built without what is missing):
  kpis.json missing (no KPI tables); timeseries.parquet missing although the run wrote one
  (manifest `files`: no charts, and the page says the file is gone); comparison.csv or
  sensitivity.csv missing although listed (no paired differences, no sensitivity ranking); a
  timeseries with no rows (no charts); NaN or infinite values in a column the charts draw,
  which a run never writes (it stops on one): the charts leave those values out (quantiles over
  the other runs, a gap where no run has a value) and the note names the columns and how many
  rows; the KPI tables come from kpis.json and are unaffected.
- Silent: what the run itself left out: no timeseries from a KPI-only run without --thin (the
  page says why), no comparison.csv or sensitivity.csv from a run that does not write them.

The markup is in templates/ (Jinja2, autoescaped): report.html.j2 with one section_<id>.html.j2
per section, macros.html.j2 and report.css.j2. This module computes what goes in: text, formatted
numbers, the exact values and plotly's chart divs (the only markup passed in, as Markup).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from experiments import schemas
from experiments.analysis import kpis
from experiments.files import BEING_REPLACED, write_text_atomically
from experiments.reporting import figures as draw
from experiments.reporting import findings, numbers, plots
from experiments.reporting.columns import CHART_COLUMNS, NEEDED_COLUMNS
from model import Parameters

REPORT_FILE = "report.html"
EMISSION_CHART = "emission_vs_inflow"
RATIO_CHART = "inflow_emission_ratio"
# A run of several subsets: each minus the first, run by run, over time.
DIFFERENCE_COLUMN = "reward_pool"
DIFFERENCE_CHART = "difference_reward_pool"
# Subsets shown as their own columns in the assumptions table; beyond this, a range.
MAX_SUBSET_COLUMNS = 8
COMPARISON_CHART = "comparison"
# The KPI table's statistics, in column order: the median first (results are heavy-tailed), then
# P5 and P95, the mean last, and how many runs have a value.
RUN_STATS = ("p50", "p5", "p95", "mean", "n")
# The project's ASSUMPTIONS.md: the rows a report's findings hang on are copied into the page.
ASSUMPTIONS_FILE = "ASSUMPTIONS.md"
ASSUMPTIONS_SOURCE = Path(__file__).resolve().parents[2] / ASSUMPTIONS_FILE
ASSUMPTION_ANCHOR = "assumption-"  # + the row's id: the anchor of its row in the page
# comparison rows shown open; a longer table (a big sweep) is folded in a <details>
MAX_OPEN_COMPARISON_ROWS = 60
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
    comparison: pd.DataFrame | None = None
    headlines: pd.DataFrame | None = None  # headline_sensitivity.csv (one-at-a-time table)
    missing: tuple[str, ...] = ()  # files the run wrote that are no longer there
    notes: tuple[str, ...] = ()  # what is missing or left out, one line each (for stderr)

    @property
    def labels(self) -> dict[int, str]:
        subsets = enumerate(self.manifest.get("subsets") or [])
        labels = {int(s.get("subset", i)): s.get("label", f"subset {i}") for i, s in subsets}
        if self.kpis:
            labels.update(plots.summary_from_document(self.kpis)[1])
        return labels


# --- loading -------------------------------------------------------------------------------------
# What each file may hold is in experiments.schemas; what its absence costs the page is here.

INDEX_COLUMNS = ("subset", "run", "timestep")
# file -> what the page has without it (a note on stderr says so when the run wrote the file)
LEFT_OUT = {
    "kpis.json": "no KPI tables",
    "timeseries.parquet": "no charts",
    "comparison.csv": "no paired differences",
    "sensitivity.csv": "no sensitivity ranking",
    "headline_sensitivity.csv": "no table of what the headlines hang on",
}
# What a full run writes, for a manifest without `files` (every run lists them; a hand-made one).
ALWAYS_WRITTEN = ("timeseries.parquet", "kpis.json")


def load_results(
    results_dir: Path | str, columns: Sequence[str] | None = None, timeseries: bool = True
) -> Results:
    """Read a results directory; ReportError (one line) when it is not one or a file in it does
    not have the types this project writes (experiments.schemas).

    `columns` limits the timeseries read to those columns (plus subset, run, timestep);
    `timeseries=False` skips reading it. `Results.notes` says what is missing and what the page
    leaves out because of it (see the module docstring).
    """
    path = Path(results_dir)
    if not path.is_dir():
        raise ReportError(f"invalid results directory '{path}': not a directory")
    for name in ("manifest.json", *LEFT_OUT):
        _check_is_file(path / name)
    manifest = _read_json(path / "manifest.json", required=True, schema=schemas.Manifest)
    if manifest.get("state") == BEING_REPLACED:  # a file-by-file update that stopped
        raise ReportError(
            f"invalid results directory '{path}': a command was replacing its results file by "
            "file and stopped, so it mixes two runs; run the experiment again into it"
        )
    document = _read_json(path / "kpis.json", required=False, schema=schemas.KpisDocument)
    missing = [
        name
        for name in LEFT_OUT
        if not (path / name).exists()
        and (name == "kpis.json" or _written(manifest, name))
        and (timeseries or name != "timeseries.parquet")
    ]
    notes = [f"{path / name} is missing: the report has {LEFT_OUT[name]}" for name in missing]
    frame = None
    if timeseries:
        last_day = manifest.get("timesteps")
        frame, note = _read_timeseries(path / "timeseries.parquet", columns, last_day)
        notes += [note] if note else []
    return Results(
        path=path,
        manifest=manifest,
        kpis=document,
        frame=frame,
        sensitivity=_read_table(path / "sensitivity.csv"),
        comparison=_read_table(path / "comparison.csv"),
        headlines=_read_table(path / "headline_sensitivity.csv"),
        missing=tuple(missing),
        notes=tuple(notes),
    )


def _check_is_file(path: Path) -> None:
    """A result file that exists must be a regular file (not a folder, a socket...)."""
    if path.exists() and not path.is_file():
        what = "a directory" if path.is_dir() else "not a regular file"
        raise ReportError(f"invalid {path}: {what}, where a run writes a file")


def _written(manifest: Mapping[str, Any], name: str) -> bool:
    """Whether the run that left `manifest` wrote `name`: its `files` say; without them, what
    every run writes (a KPI-only run without --thin writes no timeseries)."""
    if "files" in manifest:
        return name in manifest["files"]
    if name == "timeseries.parquet" and manifest.get("kpi_only") and not manifest.get("thin"):
        return False
    return name in ALWAYS_WRITTEN


def _read_json(path: Path, required: bool, schema) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise ReportError(f"invalid results directory '{path.parent}': no {path.name}")
        return None
    try:
        document = json.loads(path.read_text())
    except RecursionError:
        raise ReportError(f"invalid {path}: nested too deeply to be this project's") from None
    except (OSError, ValueError) as error:
        raise ReportError(f"invalid {path}: {error}") from None
    if not isinstance(document, dict):
        raise ReportError(f"invalid {path}: expected a JSON object")
    try:
        schemas.check(schema, document, path)
    except schemas.SchemaError as error:
        raise ReportError(str(error)) from None
    return document


def _read_timeseries(
    path: Path, columns: Sequence[str] | None, last_day: int | None = None
) -> tuple[pd.DataFrame | None, str | None]:
    """The frame (None if there is no file) and a note on what the charts leave out, if any.
    ReportError when a row cannot be placed: an empty, negative or (timestep) later than
    `last_day` index value."""
    if not path.exists():
        return None, None
    wanted = check_timeseries(path, columns or ())
    try:
        frame = pd.read_parquet(path, columns=None if columns is None else wanted)
    except (OSError, ValueError) as error:  # pyarrow's errors derive from these
        raise ReportError(f"invalid {path}: {error}") from None
    for column in INDEX_COLUMNS:
        values = frame[column]
        high = last_day if column == "timestep" and last_day is not None else None
        wrong = values.isna() | (values < 0) | (False if high is None else values > high)
        if wrong.any():
            allowed = "0 or more"
            if high is not None:
                allowed = f"0 to {high:,} (the manifest's timesteps)"
            found = values[wrong].iloc[0]
            found = "an empty value" if pd.isna(found) else f"{int(found):,}"
            raise ReportError(
                f"invalid {path}: column '{column}' must hold integers {allowed}, got {found}"
            )
    if frame.empty:
        return frame, f"{path} holds no rows: the report has no charts"
    _check_one_row_each(frame, path)
    return _without_non_finite(frame, path)


def _check_one_row_each(frame: pd.DataFrame, path: Path) -> None:
    """ReportError if two rows share a subset, run and timestep (one run would count twice in
    the bands). One int64 key per row (the index columns are non-negative by now), sorted in
    place only when the file is not in key order: 9 bytes a row at the peak."""
    highs = [int(frame[c].max()) + 1 for c in INDEX_COLUMNS]
    if highs[0] * highs[1] * highs[2] >= 2**62:  # too wide for one int64: pandas does it
        twice = frame.duplicated(subset=list(INDEX_COLUMNS)).to_numpy()
        if twice.any():
            row = frame.iloc[int(twice.argmax())]
            raise _repeated(path, *(int(row[c]) for c in INDEX_COLUMNS))
        return
    key = frame["subset"].to_numpy(dtype=np.int64) * highs[1]
    key += frame["run"].to_numpy(dtype=np.int64)
    key *= highs[2]
    key += frame["timestep"].to_numpy(dtype=np.int64)
    if (key[1:] < key[:-1]).any():
        key.sort()
    same = key[1:] == key[:-1]
    if same.any():
        subset, rest = divmod(int(key[int(same.argmax())]), highs[1] * highs[2])
        raise _repeated(path, subset, *divmod(rest, highs[2]))


def _repeated(path: Path, subset: int, run: int, timestep: int) -> ReportError:
    return ReportError(
        f"invalid {path}: subset {subset}, run {run}, timestep {timestep} has more than one "
        "row; each has exactly one"
    )


def _without_non_finite(frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, str | None]:
    """The frame with infinities as NaN in the columns the charts draw (the charts skip NaN), and
    a note naming those columns. Runs never write a non-finite value: they stop on one."""
    counts = {}
    for column in [c for c in NEEDED_COLUMNS if c in frame.columns]:
        bad = ~np.isfinite(frame[column].to_numpy(dtype=float))
        if bad.any():
            counts[column] = int(bad.sum())
            frame[column] = frame[column].mask(bad)
    if not counts:
        return frame, None
    listed = ", ".join(f"{column} ({n:,} of {len(frame):,} rows)" for column, n in counts.items())
    return frame, (
        f"{path} holds NaN or infinite values, which a run never writes: {listed}; "
        "the charts leave them out (the KPI tables come from kpis.json)"
    )


def check_timeseries(path: Path, columns: Sequence[str] = ()) -> list[str]:
    """The index columns and `columns`, after checking the parquet file's schema (nothing else is
    read): it has them, the index columns hold integers and the columns a report draws hold
    numbers. ReportError if it is not a file, is unreadable, or fails one of these."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_is_file(path)
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as error:
        raise ReportError(f"invalid {path}: {error}") from None
    wanted = [*INDEX_COLUMNS, *columns]
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise ReportError(f"invalid {path}: missing column '{missing[0]}'")
    for column in dict.fromkeys([*wanted, *NEEDED_COLUMNS]):
        if column not in schema.names:
            continue
        kind = schema.field(column).type
        integer = column in INDEX_COLUMNS
        if not (pa.types.is_integer(kind) or (not integer and pa.types.is_floating(kind))):
            allowed = "integers" if integer else "numbers"
            text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
            found = f"text ({kind})" if text else kind
            raise ReportError(f"invalid {path}: column '{column}' must hold {allowed}, not {found}")
    return wanted


def _read_table(path: Path) -> pd.DataFrame | None:
    """A CSV the run left (None if absent); ReportError if unreadable, a column it must have is
    missing or not of its kind (schemas.TABLES) or a row is repeated. Floats are parsed round-trip, so the page shows
    exactly the numbers the file holds."""
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, float_precision="round_trip")
    except (OSError, ValueError) as error:
        raise ReportError(f"invalid {path}: {' '.join(str(error).split())}") from None
    try:
        return schemas.check_table(
            table, schemas.TABLES[path.name], path, schemas.TABLE_KEYS[path.name]
        )
    except schemas.SchemaError as error:
        raise ReportError(str(error)) from None


# --- writing -------------------------------------------------------------------------------------


def write_report(
    results_dir: Path | str,
    destination: Path | str | None = None,
    frame: pd.DataFrame | None = None,
    note: Callable[[str], None] | None = None,
    plotly_src: str | None = None,
    assumptions_href: str | None = None,
) -> Path:
    """Build report.html from the files in `results_dir`; return its path.

    `destination` (a directory, default `results_dir`) lets `publish` build a site's page
    without touching the results; `frame` spares re-reading a timeseries the caller holds;
    `plotly_src` and `assumptions_href` are for a site's page (see `render`).
    What the page leaves out for want of a file is passed to `note` (default: one line each on
    stderr, "note: ..."); ReportError, and nothing written, when the page cannot be built.
    """
    note = note or (lambda message: print(f"note: {message}", file=sys.stderr))
    needed = NEEDED_COLUMNS
    results = load_results(results_dir, columns=needed, timeseries=frame is None)
    if frame is not None:
        results = dataclasses.replace(results, frame=frame)
    target = Path(destination or results_dir) / REPORT_FILE
    write_text_atomically(target, render(results, plotly_src, assumptions_href))
    for message in results.notes:
        note(message)
    return target


# --- the page ------------------------------------------------------------------------------------
# The markup lives in templates/*.j2 (autoescaped); the functions below only compute what goes in.


@functools.cache
def templates() -> jinja2.Environment:
    """The Jinja2 environment for the report and the publish index (autoescape on)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("experiments.reporting", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Section:
    anchor: str  # the section's id, and its template `section_<anchor>.html.j2`
    short: str  # the link text in the page's nav
    title: str
    data: Any

    @property
    def template(self) -> str:
        return f"section_{self.anchor}.html.j2"


def render(
    results: Results, plotly_src: str | None = None, assumptions_href: str | None = None
) -> str:
    """The whole page as one string: self-contained (plotly.js inlined once, the assumptions it
    hangs on copied in), or, with `plotly_src`, loading plotly.js from that relative URL (a
    published site ships it once); `assumptions_href`: a link to the whole ASSUMPTIONS.md that
    travels with the page (a site's copy), none for a lone page."""
    manifest = results.manifest
    figures = chart_figures(results)
    differences = paired_differences(results)
    said = what_it_says(results)
    # the finding first; a sensitivity run's answer is its ranking: before the per-point KPIs
    sections = [
        Section("findings", "Findings", "What this run says", said),
        Section("run", "Run", "Run", run_summary(results)),
    ]
    if results.sensitivity is not None:
        sections.append(
            Section("sensitivity", "Sensitivity", "Sensitivity (Morris)", sensitivity_rows(results))
        )
    if results.headlines is not None:
        sections.append(
            Section(
                "headlines",
                "Hangs on",
                "What the headlines hang on (one parameter at a time)",
                headline_rows(results.headlines),
            )
        )
    sections.append(Section("kpis", "KPIs", "Key performance indicators", kpi_tables(results)))
    if differences is not None:
        sections.append(
            Section("comparison", "Differences", "Paired differences between subsets", differences)
        )
    sections += [
        Section("charts", "Charts", "Charts", chart_data(results, figures)),
        Section(
            "assumptions",
            "Assumptions",
            "Assumptions in force",
            assumptions(results, _hangs_on(said["findings"])),
        ),
    ]
    return (
        templates()
        .get_template("report.html.j2")
        .render(
            name=str(manifest.get("experiment", results.path.name)),
            description=manifest.get("description", ""),
            overrides=overrides_text(manifest),
            period=data_range(results),
            sections=sections,
            plotly=_plotly(plotly_src) if figures or differences is not None else None,
            assumptions_href=assumptions_href,
            has_kpis=results.kpis is not None,
            has_timeseries=results.frame is not None,
            has_sensitivity=results.sensitivity is not None,
            has_comparison=results.comparison is not None,
        )
    )


def _plotly(src: str | None = None) -> dict[str, Any]:
    """plotly.js, once for the whole page (the chart divs are built without it): inlined, or
    linked from `src`."""
    import plotly

    if src is not None:
        return {"version": plotly.__version__, "src": src, "script": None}
    return {"version": plotly.__version__, "src": None, "script": Markup(plotly_js())}


def plotly_js() -> str:
    """The plotly.js bundle that plotly.py ships (what a page inlines or a site links)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


# --- what this run says --------------------------------------------------------------------------


def what_it_says(results: Results) -> dict[str, Any]:
    """The opening sentences (experiments.reporting.findings) and what they rest on."""
    manifest = results.manifest
    if not results.kpis:
        return {"findings": [], "changed": [], "pairing": None, "screening": False}
    summary, labels = plots.summary_from_document(results.kpis)
    registry = results.kpis.get("kpis", {})
    units = {name: _unit(name, registry) for stats in summary.values() for name in stats}
    runs = manifest.get("runs")
    if results.sensitivity is not None:
        # a screening's subsets are sample points, not scenarios: its answer is the ranking
        table = _sensitivity_sorted(results.sensitivity)
        units.update({name: _registry_unit(name) for name in table["kpi"].unique()})
        items = findings.sensitivity_findings(table, units)
    else:
        items = findings.findings(
            summary,
            labels,
            units,
            runs if isinstance(runs, int) else None,
            results.comparison,
            reference_of(results),
        )
    common = manifest.get("common_draws")
    return {
        "findings": items,
        "screening": results.sensitivity is not None,
        "changed": _changed_once(
            assumptions(results)["changed"], len(manifest.get("subsets") or [])
        ),
        "pairing": None
        if results.comparison is None
        else {True: "common", False: "independent"}.get(common, "unknown"),
    }


def _changed_once(changed: list[dict[str, Any]], subsets: int) -> list[dict[str, Any]]:
    """The non-default values, each value once with the subsets that use it ("every subset")."""
    merged: dict[tuple, dict[str, Any]] = {}
    for item in changed:
        if "range" in item or item.get("who") is None:
            merged[(item["name"], id(item))] = item
            continue
        key = (item["name"], item["value"], item["default"])
        merged.setdefault(key, {**item, "who": []})["who"].append(item["who"])
    out = []
    for item in merged.values():
        if isinstance(item.get("who"), list):
            everyone = len(item["who"]) == subsets
            item = {**item, "who": "every subset" if everyone else ", ".join(item["who"])}
        out.append(item)
    return out


def data_range(results: Results) -> dict[str, Any] | None:
    """The period the simulated data covers (never the date the run was made); None if unknown."""
    data = results.manifest.get("data") or {}
    start, end, days = data.get("start"), data.get("end"), data.get("days")
    if (start is None or end is None) and results.frame is not None:
        days = int(results.frame["timestep"].max())
        dates = draw.calendar([0, days])
        start, end = dates[0], dates[1]
    if start is None or end is None:
        return None
    return {"start": start, "end": end, "days": None if days is None else f"{int(days):,}"}


# --- run summary ---------------------------------------------------------------------------------


def run_summary(results: Results) -> dict[str, Any]:
    """The manifest's facts as text, for the Run section's list."""
    m = results.manifest
    subsets = m.get("subsets", [])
    labels = ", ".join(s.get("label", "") for s in subsets[: draw.MAX_LINES])
    if len(subsets) > draw.MAX_LINES:
        labels += f", ... ({len(subsets) - draw.MAX_LINES} more)"
    packages = m.get("packages") or {}
    versions = ", ".join(f"{k} {v}" for k, v in packages.items() if v)
    if m.get("python"):
        versions = f"Python {m['python']}, {versions}"
    backend = m.get("backend", "?")
    if m.get("processes"):
        backend += f" ({m['processes']} processes)"
    return {
        "experiment": m.get("experiment", "?"),
        "description": m.get("description", ""),
        "subsets": f"{len(subsets)} ({labels})" if subsets else "?",
        "runs": m.get("runs", "?"),
        "horizon": f"{m.get('years', '?')} years ({m.get('timesteps', '?')} daily steps)",
        "seed": m.get("seed", "?"),
        "seeding": m.get("seeding", ""),
        "engine": m.get("engine", "?"),
        "backend": backend,
        "overrides": overrides_text(m) or "none",
        "revision": m.get("git_revision") or "not a git checkout",
        "versions": versions,
        "command": " ".join(m.get("command", [])),
        "wall_time": f"{m.get('wall_time_seconds', '?')} s",
    }


def overrides_text(manifest: Mapping[str, Any]) -> str:
    """The --set overrides in force as "name = value, ..." (numbers with thousands separators);
    empty when there are none. The report header and the publish index show it."""
    overrides = manifest.get("overrides") or {}
    return ", ".join(f"{name} = {_show_number(value)}" for name, value in overrides.items())


def _show_number(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return _show(value)


def _show(value: Any) -> str:
    """A parameter's value exactly as in force (not rounded: it is an input), with separators."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.10g}"
    return str(value)


# --- KPIs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A KPI cell: the formatted number, with the exact kpis.json value for data-value."""

    subset: int
    kpi: str
    stat: str
    value: str  # JSON: the number exactly as kpis.json holds it, or null
    text: str
    spread: str | None = None  # "P5 to P95" under a comparison median


def _cell(subset: int, name: str, stat: str, value: Any, unit: str, spread=None) -> Cell:
    exact = "null" if value is None else json.dumps(value)
    text = numbers.format_value(value, unit, count=stat == "n")
    return Cell(subset, name, stat, exact, text, spread)


def kpi_tables(results: Results) -> dict[str, Any] | None:
    """What the KPI section shows: None without kpis.json; `all_subsets` for a big sweep, else a
    comparison (several subsets) and one full table per subset."""
    if not results.kpis:
        return None
    summary, labels = plots.summary_from_document(results.kpis)
    registry = results.kpis.get("kpis", {})
    runs = _runs(results.manifest)
    if len(summary) > draw.MAX_LINES:
        return {"count": len(summary), "all_subsets": subsets_table(summary, labels, runs)}
    return {
        "count": len(summary),
        "comparison": comparison_table(summary, labels, runs) if len(summary) > 1 else None,
        "subsets": [
            {
                "label": labels.get(subset, subset),
                **kpi_table(subset, summary[subset], registry, runs),
            }
            for subset in sorted(summary)
        ],
    }


def _runs(manifest: Mapping[str, Any]) -> int | None:
    """The runs per subset the manifest records (None when it does not)."""
    runs = manifest.get("runs")
    return runs if isinstance(runs, int) and not isinstance(runs, bool) else None


def _unit(name: str, registry: Mapping[str, Any]) -> str:
    if name in registry:
        return registry[name].get("unit", "")
    return kpis.REGISTRY[name].unit if name in kpis.REGISTRY else ""


def _description(name: str, registry: Mapping[str, Any]) -> str:
    if name in registry:
        return registry[name].get("description", "")
    return kpis.REGISTRY[name].description if name in kpis.REGISTRY else ""


def _registry_unit(name: str) -> str:
    return kpis.REGISTRY[name].unit if name in kpis.REGISTRY else ""


def _runs_cell(subset: int, name: str, stats: Mapping[str, Any], total: int) -> Cell:
    """The number of runs a KPI has a value for: "12 of 40" when that is not every run (or the
    record says it need not be), the exact count in data-value."""
    cell = _cell(subset, name, "n", stats.get("n"), "", None)
    partial = findings.of_runs(name, stats.get("n"), total)
    return cell if partial is None else dataclasses.replace(cell, text=partial)


def _interval_text(found: findings.Share) -> str:
    if found.value is None or found.n == 0:
        return numbers.MISSING
    return (
        f"{numbers.format_value(found.low, 'share')} to {numbers.format_value(found.high, 'share')}"
    )


def _share_row(subset, name, stats, total, row) -> dict[str, Any]:
    """A share of runs (a subset KPI's value, a flag KPI's mean): the share, its 95% Wilson
    interval and the runs it is over ("12 of 40"). Cells carrying a kpis.json number name it
    (data-stat); the interval and a subset KPI's run count are derived, not in kpis.json."""
    found = findings.share(name, stats, total)
    own = stats[name]
    flag = "value" not in own
    value = _cell(
        subset, name, "mean" if flag else "value", own.get("mean" if flag else "value"), "share"
    )
    if flag:
        runs = _runs_cell(subset, name, own, found.total)
    else:
        runs = f"{found.n:,}" if found.n == found.total else f"{found.n:,} of {found.total:,}"
    return {**row, "share": value, "interval": _interval_text(found), "runs": runs}


def kpi_table(
    subset: int, stats: Mapping[str, Mapping[str, Any]], registry, runs: int | None = None
) -> dict[str, list]:
    """One subset's KPIs: amounts with median/P5/P95/mean/runs ("n of N" where only some runs
    have a value), then shares of runs (flags and subset KPIs) with their 95% interval."""
    total = findings.total_runs(stats, runs)
    run_rows, share_rows = [], []
    for name, values in stats.items():
        unit = _unit(name, registry)
        row = {
            "kpi": name,
            "meaning": _description(name, registry),
            "unit": display_unit(unit)
            if findings.kind(name, values) == kpis.AMOUNT
            else "% of runs",
        }
        if findings.kind(name, values) != kpis.AMOUNT:
            share_rows.append(_share_row(subset, name, stats, total, row))
            continue
        cells = [_cell(subset, name, stat, values.get(stat), unit) for stat in RUN_STATS[:-1]]
        cells.append(_runs_cell(subset, name, values, total))
        run_rows.append({**row, "cells": cells})
    return {"run_rows": run_rows, "subset_rows": share_rows}


display_unit = numbers.display_unit


def _summary_cell(s: int, name: str, stats: Mapping[str, Mapping[str, Any]], total: int) -> Cell:
    """A KPI of one subset in one cell: an amount's median (P5 to P95 under it, and "n of N runs"
    where only some runs have a value); a share of runs with its 95% interval and its runs."""
    values = stats.get(name, {})
    unit = _registry_unit(name)
    how = findings.kind(name, values)
    if how != kpis.AMOUNT:
        found = findings.share(name, stats, total)
        stat = "mean" if how == kpis.FLAG else "value"
        spread = None
        if found is not None and found.value is not None and found.n:
            of = f"{found.n:,}" if found.n == found.total else f"{found.n:,} of {found.total:,}"
            spread = f"95%: {_interval_text(found)}, {of} runs"
        elif found is not None and (partial := findings.of_runs(name, found.n, found.total)):
            spread = f"{partial} runs"  # a flag of the runs that reach parity, when none does
        return _cell(s, name, stat, values.get(stat), "share", spread)
    parts = []
    if values.get("p5") is not None and values.get("p95") is not None:
        low, high = (numbers.format_value(values[p], unit) for p in ("p5", "p95"))
        parts.append(f"{low} to {high}")
    partial = findings.of_runs(name, values.get("n"), total)
    if partial is not None:
        parts.append(f"{partial} runs")
    return _cell(s, name, "p50", values.get("p50"), unit, ", ".join(parts) or None)


def comparison_table(
    summary: Mapping[int, Mapping[str, Mapping[str, Any]]], labels, runs: int | None = None
) -> dict:
    """KPIs down, subsets across: the median (P5 to P95 under it) or the share of runs (its 95%
    interval under it); "n of N runs" where a KPI has a value for only some runs."""
    subsets = sorted(summary)
    names = list(dict.fromkeys(name for s in subsets for name in summary[s]))
    totals = {s: findings.total_runs(summary[s], runs) for s in subsets}
    rows = []
    for name in names:
        how = findings.kind(
            name, next((summary[s][name] for s in subsets if name in summary[s]), None)
        )
        unit = "% of runs" if how != kpis.AMOUNT else display_unit(_registry_unit(name))
        cells = [_summary_cell(s, name, summary[s], totals[s]) for s in subsets]
        rows.append({"kpi": name, "unit": unit, "cells": cells})
    return {"subsets": [(s, labels.get(s, s)) for s in subsets], "rows": rows}


def subsets_table(
    summary: Mapping[int, Mapping[str, Mapping[str, Any]]], labels, runs: int | None = None
) -> dict:
    """Subsets down, KPIs across (an amount's median, a share of runs with its interval): the
    comparison for a sweep too big to transpose."""
    subsets = sorted(summary)
    names = list(dict.fromkeys(name for s in subsets for name in summary[s]))
    rows = []
    for s in subsets:
        total = findings.total_runs(summary[s], runs)
        cells = [_summary_cell(s, name, summary[s], total) for name in names]
        rows.append({"label": labels.get(s, s), "cells": cells})
    heads = []
    for name in names:
        how = findings.kind(
            name, next((summary[s][name] for s in subsets if name in summary[s]), None)
        )
        heads.append(
            (name, "% of runs" if how != kpis.AMOUNT else display_unit(_registry_unit(name)))
        )
    return {"kpis": heads, "rows": rows}


# --- charts --------------------------------------------------------------------------------------


def reference_of(results: Results) -> int | None:
    """The subset a run compared the others with: comparison.csv's, else the manifest's (the
    experiment's `reference`, compare.reference_subset), else kpis.json's; None if none says."""
    table = results.comparison
    if table is not None and len(table):
        return int(table["reference_subset"].iloc[0])
    for document in (results.manifest, results.kpis or {}):
        value = document.get("reference_subset")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def difference_figure(frame: pd.DataFrame, column: str, labels, reference: int | None):
    """figures.differences of `column`: every other subset (MAX_LINES in all) minus the reference,
    the subset the paired comparison takes (`reference_of`; the first when none is known)."""
    import plotly.graph_objects as go

    subsets = sorted(int(s) for s in frame["subset"].unique())
    reference = reference if reference in subsets else subsets[0]
    shown = sorted([reference, *[s for s in subsets if s != reference][: draw.MAX_LINES - 1]])
    part = frame if len(shown) == len(subsets) else frame[frame["subset"].isin(shown)]
    paths = draw.Paths.of(part[["subset", "run", "timestep", column]], [column])
    names = [labels.get(s, f"subset {s}") for s in paths.subsets]
    position = list(paths.subsets).index(reference)
    return go.Figure(draw.differences(paths.days, paths.values[column], column, names, position))


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
        figures[RATIO_CHART] = plots.inflow_emission_ratio(frame, labels)
    if sweep and DIFFERENCE_COLUMN in frame.columns:
        figures[DIFFERENCE_CHART] = difference_figure(
            frame, DIFFERENCE_COLUMN, labels, reference_of(results)
        )
    return figures


def chart_div(chart: str, figure) -> Markup:
    """plotly's div for one figure (no plotly.js: the page carries it once). The figure has no
    width: it takes its card's (the div is width:100%), and report.html.j2 redraws it when the
    card changes size."""
    import plotly.io as pio

    return Markup(
        pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"chart-{chart}",
            config=PLOTLY_CONFIG,
            default_width="100%",
        )
    )


def chart_data(results: Results, figures: Mapping[str, Any]) -> dict[str, Any]:
    """The chart divs (plotly's own markup) and what the notes above them need to say."""
    if results.frame is None or not figures:
        return {
            "timeseries": results.frame is not None,
            "missing": "timeseries.parquet" in results.missing,
            "charts": [],
        }
    days = int(results.frame["timestep"].max())
    saved = results.frame["timestep"].nunique()
    charts = [
        {
            "id": chart,
            "wide": chart in (EMISSION_CHART, RATIO_CHART, DIFFERENCE_CHART),
            "div": chart_div(chart, figure),
        }
        for chart, figure in figures.items()
    ]
    return {
        "timeseries": True,
        "charts": charts,
        "subsets": results.frame["subset"].nunique(),
        "max_lines": draw.MAX_LINES,
        "days": f"{days:,}",
        "all_days": f"{days + 1:,}",
        "saved": f"{saved:,}",
        "thinned": not plots.is_daily(results.frame),
        "weekly": draw.sample_step(saved) > 1,
    }


# --- paired comparison --------------------------------------------------------------------------


def paired_differences(results: Results) -> dict[str, Any] | None:
    """What the comparison section shows (None without comparison.csv): one row per KPI and
    subset with the exact numbers for data-value, the forest chart and how the runs were paired."""
    table = results.comparison
    if table is None:
        return None
    labels = results.labels
    registry = (results.kpis or {}).get("kpis", {})
    order = {name: i for i, name in enumerate(registry or kpis.REGISTRY)}
    table = table.assign(_order=table["kpi"].map(order).fillna(len(order))).sort_values(
        ["subset", "_order"], kind="stable"
    )
    units = {name: _unit(name, registry) for name in table["kpi"].unique()}
    rows = []
    for row in table.itertuples(index=False):
        unit = units[row.kpi]
        subset, reference = int(row.subset), int(row.reference_subset)
        rows.append(
            {
                "kpi": row.kpi,
                "unit": numbers.difference_unit(unit),
                "subset": subset,
                "reference": reference,
                "label": labels.get(subset, f"subset {subset}"),
                "reference_label": labels.get(reference, f"subset {reference}"),
                "cells": {
                    stat: {"value": _exact(getattr(row, stat)), "text": text}
                    for stat, text in (
                        ("mean_difference", numbers.format_difference(row.mean_difference, unit)),
                        ("ci_low", numbers.format_difference(row.ci_low, unit)),
                        ("ci_high", numbers.format_difference(row.ci_high, unit)),
                        ("share_positive", numbers.format_value(row.share_positive, "share")),
                        ("n", numbers.format_value(row.n, count=True)),
                    )
                },
            }
        )
    common = results.manifest.get("common_draws")
    figure = plots.comparison_forest(table, labels, units)
    return {
        "rows": rows,
        "open": len(rows) <= MAX_OPEN_COMPARISON_ROWS,
        "pairing": {True: "common", False: "independent"}.get(common, "unknown"),
        "reference_label": rows[0]["reference_label"] if rows else "",
        "chart": {"id": COMPARISON_CHART, "div": chart_div(COMPARISON_CHART, figure)},
    }


def _exact(value: Any) -> str:
    """A number as JSON, exactly (NaN: null), for data-value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value.item() if hasattr(value, "item") else value)
    return json.dumps(value)


# --- sensitivity ---------------------------------------------------------------------------------


def _sensitivity_sorted(table: pd.DataFrame) -> pd.DataFrame:
    """KPIs in registry order, then by name; parameters by rank."""
    order = {name: i for i, name in enumerate(kpis.REGISTRY)}
    return table.assign(_order=table["kpi"].map(order).fillna(len(order))).sort_values(
        ["_order", "kpi", "rank"], kind="stable"
    )


def sensitivity_rows(results: Results) -> list[dict[str, Any]]:
    """One group per KPI (registry order), its parameters by rank, values formatted."""
    from experiments.analysis.sensitivity import mu_star_bounds

    table = mu_star_bounds(_sensitivity_sorted(results.sensitivity))
    groups = []
    for kpi_name, group in table.groupby("kpi", sort=False):
        unit = _registry_unit(kpi_name)
        rows = [
            {
                "rank": row.rank,
                "parameter": row.parameter,
                "mu_star": numbers.format_value(row.mu_star, unit),
                "mu_star_interval": (
                    f"{numbers.format_value(row.mu_star_low, unit)} to "
                    f"{numbers.format_value(row.mu_star_high, unit)}"
                ),
                "sigma": numbers.format_value(row.sigma, unit),
            }
            for row in group.itertuples(index=False)
        ]
        groups.append({"kpi": kpi_name, "rows": rows})
    return groups


# --- what the headlines hang on -----------------------------------------------------------------

HEADLINE_TOP = 8  # parameters shown per headline (the CSV has them all)


def headline_rows(table: pd.DataFrame, top: int = HEADLINE_TOP) -> list[dict[str, Any]]:
    """One group per headline (the table's order): its value at the defaults with its interval
    and n, then the `top` parameters that move it most, each with the headline at the low and
    the high end of the parameter's range (`experiments.analysis.headlines`)."""
    groups = []
    for name, group in table.groupby("headline", sort=False):
        first = group.iloc[0]
        unit = str(first["unit"])
        ranked = group.sort_values("rank", kind="stable").head(top)
        rows = [
            {
                "rank": int(row.rank),
                "parameter": row.parameter,
                "range": f"{row.low:,.6g} to {row.high:,.6g}",  # the values as set
                "at_low": numbers.format_value(row.at_low, unit),
                "at_high": numbers.format_value(row.at_high, unit),
                "swing": numbers.format_value(row.swing, unit),
            }
            for row in ranked.itertuples(index=False)
        ]
        groups.append(
            {
                "headline": name,
                "claim": str(first["claim"]),
                "at_default": numbers.format_value(first["at_default"], unit),
                "interval": (
                    f"{numbers.format_value(first['ci_low'], unit)} to "
                    f"{numbers.format_value(first['ci_high'], unit)}"
                ),
                "n": int(first["n"]),
                "rows": rows,
                "more": max(len(group) - top, 0),
            }
        )
    return groups


# --- assumptions ---------------------------------------------------------------------------------


def assumptions(results: Results, hangs_on: Sequence[str] = ()) -> dict[str, Any]:
    """Every parameter with its default, the value(s) in force and its source; and the
    ASSUMPTIONS.md rows `hangs_on` names (what the findings hang on), each with its anchor."""
    info = Parameters.field_info()
    subsets = results.manifest.get("subsets") or []
    values = [s.get("parameters") or {} for s in subsets]
    names = list(info) + sorted({n for v in values for n in v} - set(info))
    per_subset = len(subsets) <= MAX_SUBSET_COLUMNS
    return {
        "changed": _non_default(names, info, values, subsets),
        "per_subset": per_subset,
        "subsets": [s.get("label", "") for s in subsets],
        "rows": _parameter_rows(names, info, values, per_subset),
        "hangs_on": assumption_rows(hangs_on),
    }


def _hangs_on(groups: Sequence[findings.Group]) -> list[str]:
    """The ASSUMPTIONS.md ids the findings name, each once, in the order they first appear."""
    return list(dict.fromkeys(i for g in groups for item in g.items for i in item.assumptions))


@dataclass(frozen=True)
class AssumptionRow:
    """A row of ASSUMPTIONS.md: its id, section, the assumption, why, and how to change it
    (markdown cells as safe HTML: `code` and **bold** kept), and the parameters it names with
    their defaults and ranges."""

    id: str
    section: str
    text: Markup
    why: Markup
    change: Markup
    parameters: tuple[str, ...]

    @property
    def anchor(self) -> str:
        return f"{ASSUMPTION_ANCHOR}{self.id}"


_ROW = re.compile(r"^\|\s*([A-Z]\d+)\s*\|")


def read_assumptions(source: Path = ASSUMPTIONS_SOURCE) -> dict[str, AssumptionRow]:
    """The rows of ASSUMPTIONS.md's tables by id (empty when the file is not there: an installed
    copy of the project has none)."""
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    rows, section = {}, ""
    for line in lines:
        if line.startswith("## "):
            section = line[3:].strip()
        if not _ROW.match(line):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        cells += [""] * (4 - len(cells))
        ident, text, why, change = cells[:4]
        rows[ident] = AssumptionRow(
            ident,
            re.sub(r"\s*\(.*\)$", "", section),
            _markdown(text),
            _markdown(why),
            _markdown(change),
            _parameters_named(change),
        )
    return rows


def _markdown(text: str) -> Markup:
    """A markdown cell as HTML: escaped, with `code` and **bold** kept."""
    html = str(Markup.escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)


def _parameters_named(change: str) -> tuple[str, ...]:
    """The parameters a "How to change" cell names in backticks (`pro_*`: every one so named)."""
    info = Parameters.field_info()
    out = []
    for token in re.findall(r"`([^`]+)`", change):
        token = token.strip()
        if token.endswith("*"):
            out += [n for n in info if n.startswith(token[:-1])]
        elif token in info:
            out.append(token)
    return tuple(dict.fromkeys(out))


def _parameter_range(name: str) -> str:
    """ "name: default 0.1 (screened over 0.04 to 0.25)": the range the Morris screening varies
    it over (sensitivity.BOUNDS), else its choices or its allowed range."""
    from experiments.analysis.sensitivity import BOUNDS

    meta = Parameters.field_info()[name]
    text = f"{name}: default {_show(meta['default'])}"
    if name in BOUNDS:
        low, high = BOUNDS[name]
        return f"{text} (screened over {_show(low)} to {_show(high)})"
    if meta.get("choices"):
        return f"{text} (one of {', '.join(_show(c) for c in meta['choices'])})"
    if meta.get("min") is not None and meta.get("max") is not None:
        return f"{text} (allowed {_show(meta['min'])} to {_show(meta['max'])})"
    return text


def assumption_rows(ids: Sequence[str], source: Path = ASSUMPTIONS_SOURCE) -> list[dict]:
    """The rows of `ids`, in that order, each with its anchor; an id ASSUMPTIONS.md lacks (or no
    file) keeps its anchor and says so, so that every link to it still lands."""
    table = read_assumptions(source)
    out = []
    for ident in ids:
        row = table.get(ident)
        if row is None:
            out.append({"id": ident, "anchor": f"{ASSUMPTION_ANCHOR}{ident}", "row": None})
            continue
        ranges = [_parameter_range(n) for n in row.parameters]
        out.append({"id": ident, "anchor": row.anchor, "row": row, "ranges": ranges})
    return out


def _non_default(names, info, values, subsets) -> list[dict[str, Any]]:
    """One entry per non-default value and subset; per parameter (a range) for a large sweep."""
    out = []
    for name in names:
        default = info.get(name, {}).get("default")
        if len(subsets) > MAX_SUBSET_COLUMNS:
            cells = [params[name] for params in values if name in params]
            if any(v != default for v in cells):
                out.append({"name": name, "range": _range_text(cells), "default": _show(default)})
            continue
        for subset, params in zip(subsets, values, strict=True):
            if name in params and params[name] != default:
                out.append(
                    {
                        "name": name,
                        "value": _show(params[name]),
                        "who": subset.get("label", "") if len(subsets) > 1 else None,
                        "default": _show(default),
                    }
                )
    return out


def _parameter_rows(names, info, values, per_subset: bool) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        meta = info.get(name, {})
        default = meta.get("default")
        cells = [params.get(name) for params in values]
        rows.append(
            {
                "name": name,
                "meaning": meta.get("meaning", ""),
                "unit": meta.get("unit", ""),
                "default": _show(default),
                "cells": (
                    [_parameter_cell(v, default) for v in cells]
                    if per_subset
                    else [_range_cell(cells, default)]
                ),
                "source": meta.get("source", "not a parameter of this model version"),
            }
        )
    return rows


def _parameter_cell(value, default) -> dict[str, Any]:
    """A value cell: its text and whether it differs from the default."""
    if value is None:
        return {"text": "–", "changed": False}
    return {"text": _show(value), "changed": value != default}


def _range_cell(cells: Iterable[Any], default) -> dict[str, Any]:
    distinct = list(dict.fromkeys(v for v in cells if v is not None))
    if not distinct:
        return {"text": "–", "changed": False}
    if len(distinct) == 1:
        return _parameter_cell(distinct[0], default)
    return {"text": _range_text(distinct), "changed": True}


def _range_text(cells: Iterable[Any]) -> str:
    """One value, "low to high (n values)" for numbers, else the values listed."""
    distinct = list(dict.fromkeys(cells))
    if len(distinct) == 1:
        return _show(distinct[0])
    numbers = [v for v in distinct if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(distinct) and all(math.isfinite(v) for v in numbers):
        return f"{_show(min(numbers))} to {_show(max(numbers))} ({len(distinct)} values)"
    return ", ".join(_show(v) for v in distinct)
