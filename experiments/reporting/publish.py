"""`python -m experiments publish RESULTS_DIR SITE_DIR`: the reports as a static site.

Each results directory under RESULTS_DIR (a folder holding manifest.json; hidden temp folders are
skipped) becomes SITE_DIR/<name>/index.html, its report built from the saved files: the same page
as its report.html except that it links the site's one copy of plotly.js (SITE_DIR/plotly.min.js,
~4.6 MB, which a lone report.html inlines) and the copy of ASSUMPTIONS.md at the site's root.
SITE_DIR/index.html links every report with its key KPIs. Links are relative, so the folder can be
served as plain files from any path or opened from disk. The index's markup is
templates/index.html.j2 (with index.css.j2), rendered with the report's environment.

SITE_DIR/.sesh-site.json (`SITE_MANIFEST`) marks the folder as a site this project published and
lists every file it wrote. Publishing again replaces only those files (atomically, see
`experiments.files`); a folder without that manifest is not a site of this project, whatever it
holds (an `index.html` of the user's is the user's). Files the user added are kept: without
--force a SITE_DIR holding any is refused, with --force the site is written beside them; a user's
entry named like something the site writes (`index.html`, a report's folder) is always refused.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from experiments.analysis import kpis
from experiments.files import OutputFolder, json_text, manifest_document
from experiments.reporting import findings, numbers, plots, report

INDEX_FILE = "index.html"
INDEX_MAX_SUBSETS = 12  # rows per report on the index; a larger sweep says how many more
PLOTLY_FILE = "plotly.min.js"  # the site's one copy of plotly.js, linked by every report page
ASSUMPTIONS_FILE = report.ASSUMPTIONS_FILE  # copied from the project, linked by every report page
ASSUMPTIONS_SOURCE = report.ASSUMPTIONS_SOURCE
SITE_MANIFEST = ".sesh-site.json"  # marks a site this project published; lists its files
# (KPI, statistic, column title): the headline numbers of each report on the index page.
KEY_KPIS = (
    ("reward_pool_5y", "p50", "Reward pool at 5 years, median"),
    ("fee_parity_day", "p50", "Fee parity day, median"),
    ("fee_parity_within_730d", "value", "Runs at fee parity within 730 days"),
    ("price_usd_end", "p50", "SESH price at the end, median"),
)


class PublishError(ValueError):
    """Bad RESULTS_DIR or SITE_DIR (one-line message)."""


def find_results(results_dir: Path) -> list[Path]:
    """The results directories to publish: RESULTS_DIR itself if it is one, else its subfolders
    that hold a manifest.json, by name."""
    if not results_dir.is_dir():
        raise PublishError(f"invalid RESULTS_DIR '{results_dir}': not a directory")
    if (results_dir / "manifest.json").is_file():
        return [results_dir]
    found = sorted(
        p
        for p in results_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
    )
    if not found:
        raise PublishError(
            f"invalid RESULTS_DIR '{results_dir}': no results directories inside "
            "(folders with a manifest.json)"
        )
    return found


def site_folder(site_dir: Path, results: list[Path], force: bool = False) -> OutputFolder:
    """SITE_DIR as a guarded output folder: what the site would write is the index, its manifest
    and one folder per results directory."""
    own = (INDEX_FILE, PLOTLY_FILE, ASSUMPTIONS_FILE, *(_site_name(r) for r in results))
    return OutputFolder(site_dir, own=own, force=force, what="SITE_DIR", manifest=SITE_MANIFEST)


def check_site_dir(site_dir: Path, results: list[Path], force: bool = False) -> OutputFolder:
    """Refuse, before any report is built, a SITE_DIR that is not a folder (or is a mount point or
    a symbolic link loop), holds a user's entry where the site would write, or (without `force`)
    holds anything that is not this project's site (`experiments.files.OutputError`)."""
    folder = site_folder(site_dir, results, force)
    folder.check()
    return folder


def _site_name(results_dir: Path) -> str:
    """The results folder's name in the site (`.` and `..` given as RESULTS_DIR: the real one)."""
    return Path(os.path.abspath(results_dir)).name or "results"


def build_site(results: list[Path], site: Path, warn=None) -> list[Path]:
    """Write the reports, the index and the site's manifest (listing them) into the new folder
    `site`; return what was published. A results folder that cannot be read is skipped with
    `warn(message)` (a one-line warning on stderr by default); PublishError if none is left."""
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    entries, published = [], []
    for results_dir in results:
        target = site / _site_name(results_dir)
        try:
            loaded = report.load_results(results_dir, timeseries=False)
            if (results_dir / "timeseries.parquet").is_file():
                report.check_timeseries(results_dir / "timeseries.parquet", report.NEEDED_COLUMNS)
            target.mkdir()
            report.write_report(
                results_dir,
                destination=target,
                plotly_src=f"../{PLOTLY_FILE}",
                assumptions_href=f"../{ASSUMPTIONS_FILE}",
            ).rename(target / INDEX_FILE)
        except report.ReportError as error:
            shutil.rmtree(target, ignore_errors=True)
            warn(f"skipping {results_dir}: {error}")
            continue
        entries.append((target.name, loaded))
        published.append(results_dir)
    if not entries:
        raise PublishError("nothing to publish: every results folder was unreadable")
    (site / INDEX_FILE).write_text(index_page(entries), encoding="utf-8")
    (site / PLOTLY_FILE).write_text(report.plotly_js(), encoding="utf-8")
    shipped = [PLOTLY_FILE]
    if ASSUMPTIONS_SOURCE.is_file():  # a checkout of the project; an installed copy has none
        shutil.copyfile(ASSUMPTIONS_SOURCE, site / ASSUMPTIONS_FILE)
        shipped.append(ASSUMPTIONS_FILE)
    files = [INDEX_FILE, *shipped, *(f"{name}/{INDEX_FILE}" for name, _ in entries), SITE_MANIFEST]
    document = manifest_document(files, what="a site published by `python -m experiments publish`")
    (site / SITE_MANIFEST).write_text(json_text(document), encoding="utf-8")
    return published


def index_page(entries: list[tuple[str, report.Results]]) -> str:
    """The site's front page (templates/index.html.j2): one row per subset of each report, with
    the key KPIs."""
    return (
        report.templates()
        .get_template("index.html.j2")
        .render(
            key_kpis=[(kpi, f"{title} ({_unit(kpi)})") for kpi, _, title in KEY_KPIS],
            reports=[_report(name, results) for name, results in entries],
        )
    )


def _unit(kpi: str) -> str:
    return numbers.display_unit(kpis.REGISTRY[kpi].unit)


def _key_cell(kpi: str, stat: str, stats: dict[str, Any], runs: int | None) -> dict[str, Any]:
    """A key KPI of one subset (`stats`: KPI -> statistics) with its uncertainty under it: a
    median's P5-P95, and "n of N runs" where only some runs have a value (a parity day); a share
    of runs (by its record's kind) with its 95% Wilson interval and the runs it is over."""
    unit = kpis.REGISTRY[kpi].unit
    own = stats.get(kpi, {})
    total = findings.total_runs(stats, runs)
    if findings.kind(kpi, own) != kpis.AMOUNT:
        found = findings.share(kpi, stats, runs)
        value = None if found is None else found.value
        spread = None
        if found is not None and value is not None and found.n:
            low, high = (numbers.format_value(v, "share") for v in (found.low, found.high))
            of = f"{found.n:,}" if found.n == found.total else f"{found.n:,} of {found.total:,}"
            spread = f"95%: {low} to {high}, {of} runs"
        return {"kpi": kpi, "text": numbers.format_value(value, "share"), "spread": spread}
    value = own.get(stat)
    parts = []
    if stat == "p50" and value is not None and own.get("n") != 1:
        low, high = (numbers.format_value(own.get(p), unit) for p in ("p5", "p95"))
        parts.append(f"P5\u2013P95 {low} to {high}")
    partial = findings.of_runs(kpi, own.get("n"), total)
    if partial is not None:
        parts.append(f"{partial} runs")
    elif stat == "p50" and own.get("n") == 1:
        parts.append("1 run")  # no spread to show
    return {
        "kpi": kpi,
        "text": numbers.format_value(value, unit),
        "spread": ", ".join(parts) or None,
    }


def _report(name: str, results: report.Results) -> dict[str, Any]:
    """One report's index entry: its link, facts and one row of formatted key KPIs per subset."""
    manifest = results.manifest
    summary, labels = plots.summary_from_document(results.kpis or {})
    data = manifest.get("data") or {}
    runs = manifest.get("runs") if isinstance(manifest.get("runs"), int) else None
    rows = []
    subsets = sorted(summary) or [None]
    for subset in subsets[:INDEX_MAX_SUBSETS]:
        stats = summary.get(subset, {})
        rows.append(
            {
                "label": labels.get(subset, "") if subset is not None else "no kpis.json",
                "cells": [_key_cell(kpi, stat, stats, runs) for kpi, stat, _ in KEY_KPIS],
            }
        )
    more = len(subsets) - len(rows)
    return {
        "name": name,
        "href": f"{quote(name)}/{INDEX_FILE}",
        "experiment": manifest.get("experiment", name),
        "description": manifest.get("description", ""),
        "overrides": report.overrides_text(manifest),
        "period": f"{data.get('start', '?')} to {data.get('end', '?')}",
        "runs": manifest.get("runs", "?"),
        "rows": rows,
        "more": more,
    }
