"""`python -m experiments publish RESULTS_DIR SITE_DIR`: the reports as a static site.

Each results directory under RESULTS_DIR (a folder holding manifest.json; hidden temp folders are
skipped) becomes SITE_DIR/<name>/index.html, a copy of its report.html (built from the saved files
when the run predates reports). SITE_DIR/index.html links every report with its key KPIs. Links
are relative and the reports are self-contained, so the folder can be served as plain files from
any path or opened from disk. The CLI writes the site through a temp dir and a rename.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from experiments.analysis import kpis
from experiments.reporting import plots, report

INDEX_FILE = "index.html"
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


def check_site_dir(site_dir: Path) -> None:
    """Refuse to replace anything that is not a previously published site."""
    if site_dir.exists() and not site_dir.is_dir():
        raise PublishError(f"invalid SITE_DIR '{site_dir}': exists and is not a directory")
    if site_dir.is_dir() and any(site_dir.iterdir()) and not (site_dir / INDEX_FILE).is_file():
        raise PublishError(f"invalid SITE_DIR '{site_dir}': not empty and not a published site")


def build_site(results: list[Path], site: Path) -> None:
    """Write the reports and the index into the (empty) directory `site`."""
    entries = []
    for results_dir in results:
        target = site / results_dir.name
        target.mkdir()
        if (results_dir / report.REPORT_FILE).is_file():
            shutil.copyfile(results_dir / report.REPORT_FILE, target / INDEX_FILE)
        else:
            report.write_report(results_dir, destination=target).rename(target / INDEX_FILE)
        loaded = report.load_results(results_dir, timeseries=False)
        entries.append((results_dir.name, loaded))
    (site / INDEX_FILE).write_text(index_page(entries), encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def index_page(entries: list[tuple[str, report.Results]]) -> str:
    """The site's front page: one row per subset of each report, with the key KPIs."""
    heads = ["Report", "Simulated period", "Runs per subset", "Subset"]
    heads += [f"{title} ({_unit(name)})" for name, _, title in KEY_KPIS]
    rows = []
    for name, results in entries:
        rows.extend(_rows(name, results))
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SESH economy model: experiment reports</title>
<link rel="icon" href="data:,">
<style>{INDEX_CSS}</style>
</head>
<body>
<main>
<p class="kicker">Session Token (SESH) economy model</p>
<h1>Experiment reports</h1>
<p>{len(entries)} report{"s" * (len(entries) != 1)}. Each opens offline; key KPIs are medians
across runs unless marked as a share of runs.</p>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>
</main>
</body>
</html>
"""


def _unit(kpi: str) -> str:
    unit = kpis.REGISTRY[kpi].unit
    return report.display_unit(unit)


def _rows(name: str, results: report.Results) -> list[str]:
    manifest = results.manifest
    summary, labels = plots.summary_from_document(results.kpis or {})
    subsets = sorted(summary) or [None]
    experiment = manifest.get("experiment", name)
    link = (
        f'<a href="{quote(name)}/{INDEX_FILE}">{_e(name)}</a>'
        f'<span class="meaning">{_e(experiment)}: {_e(manifest.get("description", ""))}</span>'
    )
    data = manifest.get("data") or {}
    period = f"{data.get('start', '?')} to {data.get('end', '?')}"
    runs = manifest.get("runs", "?")
    out = []
    for i, subset in enumerate(subsets):
        first = (
            f'<th scope="rowgroup" rowspan="{len(subsets)}">{link}</th>'
            f'<td rowspan="{len(subsets)}">{_e(period)}</td>'
            f'<td class="num" rowspan="{len(subsets)}">{_e(runs)}</td>'
            if i == 0
            else ""
        )
        label = _e(labels.get(subset, "")) if subset is not None else "no kpis.json"
        stats = summary.get(subset, {})
        cells = "".join(
            f'<td class="num" data-kpi="{kpi}">'
            f"{plots.format_value(stats.get(kpi, {}).get(stat), kpis.REGISTRY[kpi].unit)}"
            "</td>"
            for kpi, stat, _ in KEY_KPIS
        )
        out.append(f"<tr>{first}<td>{label}</td>{cells}</tr>")
    return out


INDEX_CSS = """
body { margin: 0; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue',
  Arial, sans-serif; color: #1f2933; background: #f7f8fa; line-height: 1.45; }
main { max-width: 1280px; margin: 0 auto; padding: 28px 24px; }
.kicker { color: #0b7a75; font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
  font-size: 12px; margin: 0; }
h1 { font-size: 30px; margin: 4px 0 12px; }
table { border-collapse: collapse; width: 100%; background: white; font-size: 14px;
  border: 1px solid #dde2ea; }
th, td { border-bottom: 1px solid #dde2ea; padding: 6px 10px; text-align: left;
  vertical-align: top; }
thead th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
a { color: #0b7a75; font-weight: 600; }
.meaning { display: block; color: #5b6675; font-size: 12px; font-weight: normal; }
"""
