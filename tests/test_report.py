"""report.html and the published site: content, offline safety, rebuilds and bad input."""

from __future__ import annotations

import csv
import functools
import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
from cli_support import main as _main
from cli_support import run_into
from markupsafe import escape

from experiments.analysis import kpis
from experiments.reporting import findings, numbers, plots, publish, report
from experiments.results import RESULT_FILES

# every report test runs the vectorized engine on seed 4
_run = functools.partial(run_into, options=("--engine", "vectorized", "--seed", "4"))


# Attributes that make a browser fetch something.
URL_ATTRIBUTES = {"src", "href", "action", "data", "poster", "srcset", "formaction", "background"}


class Page(HTMLParser):
    """The elements of a page (script and style bodies are text, not elements)."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)

    def kpi_cells(self) -> list[dict[str, str]]:
        return [a for tag, a in self.tags if tag == "td" and "data-kpi" in a]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    # 1.2 years: the 1-year KPIs have values, the 5-year ones are null
    return _run(
        tmp_path_factory.mktemp("report") / "baseline", "baseline", "--runs", "3", "--years", "1.2"
    )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    return _run(
        tmp_path_factory.mktemp("report") / "fee_split",
        "fee_split",
        "--runs",
        "2",
        "--years",
        # past the latest drawn Pro launch (day 730), so the fee split makes a difference
        "2.1",
    )


def _page(results: Path) -> tuple[str, Page]:
    text = (results / report.REPORT_FILE).read_text()
    return text, Page(text)


def _chart_ids(comparison: bool = False) -> list[str]:
    """The chart divs in page order: the comparison (a run of several subsets) comes first, and
    its paired difference over time last."""
    charts = (*report.CHART_COLUMNS, report.EMISSION_CHART, report.RATIO_CHART)
    if comparison:
        charts = (report.COMPARISON_CHART, *charts, report.DIFFERENCE_CHART)
    return [f"chart-{c}" for c in charts]


# --- content -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["baseline", "sweep"])
def test_every_chart_is_present_and_drawn(fixture, request):
    text, page = _page(request.getfixturevalue(fixture))
    divs = [
        a["id"] for tag, a in page.tags if tag == "div" and "plotly-graph-div" in a.get("class", "")
    ]
    assert divs == _chart_ids(comparison=fixture == "sweep")
    for chart in divs:
        assert re.search(rf'Plotly\.newPlot\(\s*"{chart}"', text), chart


@pytest.mark.parametrize("fixture", ["baseline", "sweep"])
def test_kpi_table_values_equal_kpis_json(fixture, request):
    results = request.getfixturevalue(fixture)
    document = json.loads((results / "kpis.json").read_text())
    _, page = _page(results)
    shown = {}
    for cell in page.kpi_cells():
        key = (cell["data-subset"], cell["data-kpi"], cell["data-stat"])
        value = json.loads(cell["data-value"])
        assert shown.setdefault(key, value) == value  # the same number wherever it is shown
    # a flag per run (0/1) is shown as the share of runs at 1 (its mean) over its n runs: its
    # quantiles say nothing a share does not
    flags = {k.name for k in kpis.RUN_KPIS if k.kind == kpis.FLAG}
    assert "fee_parity_lost" in flags
    expected = {
        (subset, name, stat): value
        for subset, entry in document["subsets"].items()
        for name, stats in entry["kpis"].items()
        for stat, value in stats.items()
        if name not in flags or stat in ("mean", "n")
    }
    assert shown == expected  # every statistic, exactly, and nothing else
    assert any(v is None for v in expected.values())  # a null is shown too ("–")


def test_formatted_kpi_text_matches_the_value(baseline):
    text, page = _page(baseline)
    document = json.loads((baseline / "kpis.json").read_text())
    value = document["subsets"]["0"]["kpis"]["reward_pool_1y"]["p50"]
    cell = (
        f'data-stat="p50" data-value="{json.dumps(value)}">{numbers.format_value(value, "SESH")}<'
    )
    assert cell in text
    assert plots.format_value(value, "SESH") == numbers.format_value(value, "SESH")  # one format


# --- what this run says ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> Path:
    # past two years: the 2-year pool and the share at parity within 730 days have values
    return _run(
        tmp_path_factory.mktemp("report") / "fee_split",
        "fee_split",
        "--runs",
        "8",
        "--years",
        "2.1",
    )


class Items(HTMLParser):
    """The list items of one section: (attributes, text without markup), in page order."""

    def __init__(self, text: str, section: str):
        super().__init__()
        self.items: list[tuple[dict[str, str], str]] = []
        self._section = section
        self._inside = self._in_item = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "section":
            self._inside = attrs.get("id") == self._section
        elif tag == "li" and self._inside:
            self.items.append((attrs, ""))
            self._in_item = True

    def handle_endtag(self, tag):
        if tag == "li":
            self._in_item = False

    def handle_data(self, data):
        if self._in_item:
            attrs, text = self.items[-1]
            self.items[-1] = (attrs, text + data)


def _finding(text: str, kpi: str, subset: int) -> str:
    matches = [
        t
        for a, t in Items(text, "findings").items
        if a.get("data-kpi") == kpi and a.get("data-subset") == str(subset)
    ]
    assert len(matches) == 1, (kpi, subset, matches)
    return " ".join(matches[0].split())


def test_the_report_opens_with_what_the_run_says(baseline, paired):
    for results in (baseline, paired):
        text, page = _page(results)
        sections = [a["id"] for tag, a in page.tags if tag == "section"]
        assert sections[0] == "findings" and sections[1] == "run", sections
        assert "<h2>What this run says</h2>" in text


def test_headline_difference_names_its_interval_share_and_pairs_from_comparison_csv(paired):
    text, _ = _page(paired)
    table = report.load_results(paired, timeseries=False).comparison
    for kpi in ("reward_pool_2y", "price_usd_end", "nodes_end"):
        row = table[(table["kpi"] == kpi) & (table["subset"] == 1)].iloc[0]
        unit = kpis.REGISTRY[kpi].unit
        sentence = _finding(text, kpi, 1)
        bounds = [
            numbers.quantity(row[c], unit, difference=True, short=True)
            for c in ("ci_low", "ci_high")
        ]
        quoted = (
            f"{numbers.quantity(row['mean_difference'], unit, difference=True)} "
            f"[{bounds[0]}, {bounds[1]}], larger in "
            f"{numbers.format_value(row['share_positive'], 'share')} of {int(row['n'])} pairs"
        )
        assert quoted in sentence, (quoted, sentence)
    # e.g. "Staking Reward Pool at 2 years: +1.23M SESH [+0.98M, +1.50M], larger in 100% of 8
    # pairs.": the sign, the unit, both bounds and the share as they stand in comparison.csv
    pool = _finding(text, "reward_pool_2y", 1)
    assert re.search(r"^Staking Reward Pool at 2 years: [+\u2212]\S+ SESH \[\S+, \S+\]", pool)


def test_no_number_in_the_findings_without_its_uncertainty(baseline, paired):
    for results in (baseline, paired):
        text, _ = _page(results)
        items = Items(text, "findings").items
        assert len(items) >= 5
        for attrs, sentence in items:
            if "data-kpi" not in attrs:
                continue
            sentence = " ".join(sentence.split())
            assert re.search(r"\d", sentence), sentence
            uncertain = ("P5\u2013P95" in sentence and " runs" in sentence) or (
                "95% interval" in sentence and " runs" in sentence
            )
            paired_diff = re.search(
                r"\[[^\]]+, [^\]]+\], (larger|later) in \S+ of \d+ pairs", sentence
            )
            nothing = sentence.startswith("No run of ")
            immaterial = re.search(
                r"no material difference: the mean paired difference and its 95% interval lie "
                r"within \u00b1\S+.* over \d+ pairs",
                sentence,
            )
            assert uncertain or paired_diff or nothing or immaterial, sentence


def test_single_subset_finding_is_the_median_with_p5_p95_and_runs(baseline):
    text, _ = _page(baseline)
    stats = json.loads((baseline / "kpis.json").read_text())["subsets"]["0"]["kpis"]
    price = stats["price_usd_end"]
    sentence = _finding(text, "price_usd_end", 0)
    low, high = (numbers.quantity(price[p], "USD/SESH", short=True) for p in ("p5", "p95"))
    median = numbers.quantity(price["p50"], "USD/SESH")
    assert f"{median} (median of {price['n']} runs; P5\u2013P95 {low} to {high})" in sentence


def test_findings_link_the_assumption_rows_the_page_carries(paired):
    text, page = _page(paired)
    assumptions = (ROOT / "ASSUMPTIONS.md").read_text()
    for record in kpis.REGISTRY.values():  # the rows each KPI hangs on, from its record
        for name in record.assumptions:
            assert f"| {name} |" in assumptions, (record.name, name)  # a row of ASSUMPTIONS.md
    section = text[text.index('<section id="findings">') : text.index('<section id="run">')]
    assert '<a href="#assumption-D1">D1</a>' in section
    assert "ASSUMPTIONS.md" in section and 'href="../' not in text  # nothing outside the page
    assert "<code>fee_pool_share</code> = 1 in fee_pool_share=1 (default 0.9)" in section
    # every row a finding names is in the page, under its anchor, with the text of the file
    named = set(re.findall(r'href="#assumption-([A-Z]\d+)"', section))
    assert {"D1", "E1", "M3"} <= named
    rows = report.read_assumptions()
    for ident in named:
        assert f'<tr id="assumption-{ident}">' in text, ident
        start = text.index(f'<tr id="assumption-{ident}">')
        row = text[start : text.index("</tr>", start)]
        assert str(rows[ident].text) in row
    # the parameters a row names come with their default and range
    d1 = text[text.index('<tr id="assumption-D1">') :]
    assert "pro_plan_share_monthly: default 0.4 (allowed 0 to 1)" in d1


def _dead_links(page_path: Path) -> list[str]:
    """The links of a page that lead nowhere from where it is: an in-page #anchor without its
    id, or a relative file that is not there (data: and absolute URLs aside)."""
    text = page_path.read_text()
    ids = set(re.findall(r'\sid="([^"]+)"', text))
    dead = []
    for _tag, attrs in Page(text).tags:
        for name in ("href", "src"):
            target = attrs.get(name)
            if not target or target.startswith(("data:", "http://", "https://")):
                continue
            if target.startswith("#"):
                if target[1:] not in ids:
                    dead.append(target)
            elif not (page_path.parent / target.split("#")[0]).exists():
                dead.append(target)
    return dead


def test_every_link_of_a_moved_report_lands(paired, tmp_path):
    moved = tmp_path / "elsewhere" / "deeper" / "fee_split.html"
    moved.parent.mkdir(parents=True)
    shutil.copyfile(paired / report.REPORT_FILE, moved)
    text = moved.read_text()
    assert text.count('href="#assumption-') >= 5
    assert _dead_links(moved) == []
    # the check finds a dead one
    broken = tmp_path / "broken.html"
    broken.write_text(text.replace('<tr id="assumption-D1">', "<tr>"))
    assert "#assumption-D1" in _dead_links(broken)


def test_an_assumption_the_file_lacks_keeps_its_anchor(tmp_path):
    source = tmp_path / "ASSUMPTIONS.md"
    source.write_text(
        "## Demand (`model/parts/spending.py`)\n\n| # | Assumption | Why | How to change |\n"
        "|---|---|---|---|\n| D9 | A \\| B with **bold** | why | `pro_conversion` |\n"
    )
    rows = report.assumption_rows(["D9", "Q1"], source)
    assert [r["anchor"] for r in rows] == ["assumption-D9", "assumption-Q1"]
    assert rows[0]["row"].section == "Demand"
    assert str(rows[0]["row"].text) == "A | B with <strong>bold</strong>"
    assert rows[0]["ranges"] == ["pro_conversion: default 0.005 (screened over 0.001 to 0.03)"]
    assert rows[1]["row"] is None
    assert report.assumption_rows(["D9"], tmp_path / "missing.md")[0]["row"] is None


def test_wilson_interval_of_a_share_of_runs():
    assert findings.wilson(0.0, 100) == (0.0, pytest.approx(0.0370, abs=1e-4))
    low, high = findings.wilson(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert findings.wilson(1.0, 10)[1] == 1.0


def test_kpi_table_puts_the_median_first_and_the_mean_last(baseline):
    text, page = _page(baseline)
    assert (
        '<th class="num">median</th><th class="num">P5</th><th class="num">P95</th>'
        '<th class="num">mean</th><th class="num">runs</th>' in text
    )
    row = [
        c["data-stat"]
        for c in page.kpi_cells()
        if c["data-kpi"] == "reward_pool_1y" and c["data-subset"] == "0"
    ]
    assert row == ["p50", "p5", "p95", "mean", "n"]


class Cells(HTMLParser):
    """The text of every table cell (th and td) of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.cells: list[str] = []
        self._depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self.cells.append("")
            self._depth += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.cells[-1] += data


@pytest.mark.parametrize("fixture", ["baseline", "paired"])
def test_tables_never_show_scientific_notation(fixture, request):
    text, _ = _page(request.getfixturevalue(fixture))
    # the ASSUMPTIONS.md rows are quoted prose (e^+-50, ~5e21x): not numbers this page formats
    start = text.find('<table class="assumption-rows">')
    if start >= 0:
        text = text[:start] + text[text.index("</table>", start) :]
    cells = Cells(text).cells
    assert len(cells) > 100
    exponent = re.compile(r"\d[eE][+-]?\d")
    assert [c for c in cells if exponent.search(c)] == []
    # the conservation residual (~1e-6 SESH) is written out in full
    residual = [c for c in cells if c.strip().startswith("0.00000")]
    assert residual, "the residual is shown as a plain decimal"


def test_no_external_urls_and_plotly_bundled_once(baseline):
    text, page = _page(baseline)
    for tag, attrs in page.tags:
        assert not (tag == "script" and "src" in attrs), "scripts must be inline"
        assert tag not in ("img", "iframe", "object", "embed")
        assert not (tag == "link" and attrs.get("rel") != "icon"), attrs
        for name, value in attrs.items():
            if name in URL_ATTRIBUTES:
                scheme = urlparse(value.strip()).scheme
                assert scheme in ("", "data") and not value.strip().startswith("//"), (tag, attrs)
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css and "http" not in css
    assert text.count("/* plotly.js bundled by plotly.py") == 1
    assert text.count("Plotly.newPlot(") == len(_chart_ids())


def test_shows_the_date_range_of_the_data_not_of_the_run(baseline, tmp_path):
    results = tmp_path / "baseline"
    shutil.copytree(baseline, results)
    manifest = json.loads((results / "manifest.json").read_text())
    manifest["started_utc"] = "1999-12-31T23:59:58+00:00"
    (results / "manifest.json").write_text(json.dumps(manifest))
    report.write_report(results)
    text, _ = _page(results)
    assert "1999-12-31" not in text
    assert "Simulated period: <time" in text
    assert '<time datetime="2025-05-21">2025-05-21</time>' in text
    assert f">{manifest['data']['end']}</time>" in text


def test_manifest_summary_and_assumptions(baseline):
    text, _ = _page(baseline)
    manifest = json.loads((baseline / "manifest.json").read_text())
    for fact in (
        manifest["git_revision"],
        f"numpy {manifest['packages']['numpy']}",
        "<dt>Engine</dt><dd>vectorized</dd>",
        "<dt>Runs per subset</dt><dd>3</dd>",
        "ASSUMPTIONS.md",
        "All parameters at their defaults.",
        "CONTRACTS RewardRatePool.sol ANNUAL_SIMPLE_PAYOUT_RATE = 151 / 1000",
    ):
        assert fact in text


def test_sweep_report_has_one_line_per_subset_and_a_comparison_table(sweep):
    text, page = _page(sweep)
    labels = ["fee_pool_share=0.9", "fee_pool_share=1"]
    figures = report.chart_figures(report.load_results(sweep))
    for column in report.CHART_COLUMNS:
        lines = [t for t in figures[column].data if t.fill != "toself"]
        bands = [t for t in figures[column].data if t.fill == "toself"]
        assert [t.name for t in lines] == labels  # a median line per subset
        assert [t.legendgroup for t in bands] == labels  # over its P5-P95 band
    difference = figures[report.DIFFERENCE_CHART]
    assert [t.name for t in difference.data if t.fill != "toself"] == [
        "fee_pool_share=1 \u2212 fee_pool_share=0.9"
    ]
    assert text.count('class="kpis comparison"') == 1
    heads = [a.get("data-subset") for tag, a in page.tags if tag == "th" and "data-subset" in a]
    assert heads == ["0", "1"]
    comparison = [c for c in page.kpi_cells() if c["data-stat"] in ("p50", "value")]
    assert {c["data-subset"] for c in comparison} == {"0", "1"}
    # the swept parameter is highlighted as non-default in its subset only
    assert "<code>fee_pool_share</code> = 1 in fee_pool_share=1 (default 0.9)" in text
    assert text.count('<td class="num changed">1</td>') == 1


def test_kpi_only_results_show_the_tables_and_say_charts_need_the_timeseries(baseline, tmp_path):
    results = tmp_path / "kpi_only"
    shutil.copytree(baseline, results)
    (results / "timeseries.parquet").unlink()
    report.write_report(results)
    text, page = _page(results)
    assert "Charts need the timeseries" in text
    assert "plotly-graph-div" not in text and "plotly.js bundled" not in text
    assert len(page.kpi_cells()) > 0


def test_thinned_kpi_only_run_draws_its_saved_days(tmp_path):
    results = _run(
        tmp_path / "thin", "baseline", "--runs", "2", "--years", "0.5", "--kpi-only", "--thin", "7"
    )
    text, page = _page(results)
    assert "a KPI-only run thinned with --thin" in text
    assert "thinned timeseries: no fee-parity crossing" in text
    divs = [a for tag, a in page.tags if tag == "div" and "plotly-graph-div" in a.get("class", "")]
    assert len(divs) == len(_chart_ids())


def test_sensitivity_csv_is_shown_ranked(baseline, tmp_path):
    results = tmp_path / "sensitivity"
    shutil.copytree(baseline, results)
    (results / "sensitivity.csv").write_text(
        "kpi,parameter,mu_star,mu_star_conf,sigma,rank\n"
        "price_usd_end,ref_volatility,0.02,0.03,0.03,1\n"
        "reward_pool_5y,pool_payout_rate,5000000,1000000,2000000,2\n"
        "reward_pool_5y,fee_pool_share,12000000,2000000,3000000,1\n"
    )
    report.write_report(results)
    text, _ = _page(results)
    section = text[text.index('<section id="sensitivity">') :]
    order = [section.index(p) for p in ("fee_pool_share", "pool_payout_rate", "ref_volatility")]
    assert order == sorted(order)  # registry order of KPIs, then rank
    # the screening's answer opens the page, each mu* with its 95% interval (clipped at 0)
    findings_text = " ".join(" ".join(t.split()) for _, t in Items(text, "findings").items)
    assert (
        "Staking Reward Pool at 5 years moves most with fee_pool_share (mu* 12.0M SESH "
        "[10.0M, 14.0M]), then pool_payout_rate (mu* 5.00M SESH [4.00M, 6.00M])."
    ) in findings_text
    assert '<td class="num">0 to 0.0500</td>' in section  # 0.02 -/+ 0.03, clipped at 0
    assert (
        "price_usd_end" not in findings_text or "SESH price at the end moves most" in findings_text
    )
    assert "median of" not in findings_text  # sample points are not scenarios to summarise
    (results / "sensitivity.csv").write_text("kpi,parameter\nx,y\n")
    with pytest.raises(report.ReportError, match="missing column 'mu_star'"):
        report.write_report(results)


def _differences(page: Page) -> dict[tuple[str, str, str, str], Any]:
    """(KPI, subset, reference, statistic) -> the exact value of every number in the paired
    differences table (the row's attributes name the KPI and subsets, each cell its statistic)."""
    shown, row = {}, None
    for tag, attrs in page.tags:
        if tag == "tr":
            row = (
                (attrs["data-kpi"], attrs["data-subset"], attrs["data-reference"])
                if ("data-reference" in attrs)
                else None
            )
        elif row is not None and "data-stat" in attrs:
            key = (*row, attrs["data-stat"])
            assert key not in shown, key
            shown[key] = json.loads(attrs["data-value"])
    return shown


def _csv_number(text: str):
    if text == "":
        return None
    value = float(text)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def test_comparison_table_values_equal_comparison_csv(sweep):
    text, page = _page(sweep)
    with (sweep / "comparison.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = {
        (row["kpi"], row["subset"], row["reference_subset"], stat): _csv_number(row[stat])
        for row in rows
        for stat in ("mean_difference", "ci_low", "ci_high", "share_positive", "n")
    }
    assert _differences(page) == expected  # every number, exactly, and nothing else
    assert any(v is not None and v != 0 for v in expected.values())
    # the formatted text beside the exact value, with the subset and reference labels
    row = next(r for r in rows if r["mean_difference"] and float(r["mean_difference"]) != 0)
    unit = kpis.REGISTRY[row["kpi"]].unit
    value = json.dumps(float(row["mean_difference"]))
    shown = numbers.format_difference(float(row["mean_difference"]), unit)
    assert f'data-stat="mean_difference" data-value="{value}">{shown}<' in text
    assert "fee_pool_share=1 vs fee_pool_share=0.9" in text
    assert "Paired on common random numbers" in text
    # the KPI-median comparison cells are untouched: only kpis.json's numbers carry data-kpi
    assert all("data-stat" in c and "data-subset" in c for c in page.kpi_cells())


def test_comparison_chart_is_a_forest_of_every_kpi_with_a_value(sweep):
    results = report.load_results(sweep, timeseries=False)
    figure = report.paired_differences(results)["chart"]
    assert figure["id"] == report.COMPARISON_CHART
    table = results.comparison
    units = {name: kpis.REGISTRY[name].unit for name in table["kpi"]}
    fig = plots.comparison_forest(table, results.labels, units)
    plotted = [name for trace in fig.data for name in trace.y]
    valued = table[table["mean_difference"].notna()]
    assert sorted(plotted) == sorted(valued["kpi"])
    assert fig.layout.title.subtitle.text.count("95% bootstrap interval") == 1


def test_independent_draws_are_labelled_not_paired(sweep, tmp_path):
    results = tmp_path / "independent"
    shutil.copytree(sweep, results)
    manifest = json.loads((results / "manifest.json").read_text())
    manifest["common_draws"] = False
    (results / "manifest.json").write_text(json.dumps(manifest))
    report.write_report(results)
    text, page = _page(results)
    assert "Independent draws" in text and "Paired on common random numbers" not in text
    assert "the interval is that of a mean of unmatched differences" in text
    assert len(_differences(page)) > 0  # the same numbers, only labelled differently


def test_malformed_comparison_csv_is_a_one_line_error(sweep, tmp_path, capsys):
    results = tmp_path / "bad comparison"
    shutil.copytree(sweep, results)
    (results / "comparison.csv").write_text("kpi,subset\nreward_pool_1y,1\n")
    with pytest.raises(report.ReportError, match="missing column 'reference_subset'"):
        report.write_report(results)
    before = (results / report.REPORT_FILE).read_bytes()
    assert _main("report", str(results)) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "comparison.csv: missing column 'reference_subset'" in err[0], err
    assert (results / report.REPORT_FILE).read_bytes() == before


def _with_overrides(source: Path, target: Path) -> Path:
    """A copy of `source` whose manifest says --set fee_pool_share=1 --set staking_requirement=
    20000 were in force (as a run with them records it), its report rebuilt."""
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["overrides"] = {"fee_pool_share": 1.0, "staking_requirement": 20000}
    (target / "manifest.json").write_text(json.dumps(manifest))
    report.write_report(target)
    return target


OVERRIDES_TEXT = "fee_pool_share = 1, staking_requirement = 20,000"


def test_header_names_the_overrides_in_force(baseline, tmp_path):
    text, _ = _page(_with_overrides(baseline, tmp_path / "overridden"))
    header = text[text.index("<header>") : text.index("</header>")]
    description = json.loads((baseline / "manifest.json").read_text())["description"]
    assert f'<p class="lede">{escape(description)}</p>' in header  # the description stays
    assert f"Overrides in force (--set): <code>{OVERRIDES_TEXT}</code>" in header
    assert header.index(escape(description)) < header.index("Overrides in force")
    assert f"<dt>Overrides (--set)</dt><dd>{OVERRIDES_TEXT}</dd>" in text
    plain, _ = _page(baseline)
    assert "Overrides in force" not in plain


def test_run_with_set_names_its_overrides(tmp_path):
    results = _run(
        tmp_path / "set",
        "baseline",
        "--runs",
        "1",
        "--years",
        "0.1",
        "--set",
        "staking_requirement=20000",
    )
    text, _ = _page(results)
    header = text[text.index("<header>") : text.index("</header>")]
    assert "Overrides in force (--set): <code>staking_requirement = 20,000</code>" in header


def test_emission_chart_draws_bands_per_subset(sweep):
    figures = report.chart_figures(report.load_results(sweep))
    fig = figures[report.EMISSION_CHART]
    bands = [t for t in fig.data if t.fill == "toself"]
    # P5-P95 and P25-P75 of emission and of inflow, for each of the two subsets
    assert len(bands) == 8
    assert {t.legendgroup for t in bands} == {"fee_pool_share=0.9", "fee_pool_share=1"}
    assert "P25-P75 and P5-P95 across runs" in fig.layout.title.subtitle.text


# --- rebuilding ----------------------------------------------------------------------------------


def test_report_command_rebuilds_the_same_page(baseline, tmp_path, capsys):
    results = tmp_path / "baseline"
    shutil.copytree(baseline, results)
    original = (results / report.REPORT_FILE).read_text()
    (results / report.REPORT_FILE).unlink()
    assert _main("report", str(results)) == 0
    assert (results / report.REPORT_FILE).read_text() == original
    assert "report.html" in capsys.readouterr().out
    assert sorted(p.name for p in results.iterdir()) == sorted(RESULT_FILES)


def _broken_manifest(path: Path) -> Path:
    path.mkdir()
    (path / "manifest.json").write_text("{not json")
    return path


def _broken_kpis(path: Path) -> Path:
    path.mkdir()
    (path / "manifest.json").write_text("{}")
    (path / "kpis.json").write_text('{"subsets": {"0": {"label": "x"}}}')
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: tmp / "missing",
        lambda tmp: (tmp / "file.txt", (tmp / "file.txt").write_text("x"))[0],
        lambda tmp: (tmp / "empty", (tmp / "empty").mkdir())[0],
        lambda tmp: _broken_manifest(tmp / "broken"),
        lambda tmp: _broken_kpis(tmp / "broken kpis"),
    ],
    ids=["missing", "a file", "no manifest", "broken manifest", "broken kpis"],
)
def test_report_bad_dir_exits_2_with_one_line_and_writes_nothing(make, tmp_path, capsys):
    target = make(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert _main("report", str(target)) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# --- publish -------------------------------------------------------------------------------------


@pytest.fixture
def results_root(tmp_path, baseline, sweep) -> Path:
    root = tmp_path / "results"
    root.mkdir()
    shutil.copytree(baseline, root / "baseline")
    shutil.copytree(sweep, root / "fee split")  # a name that needs quoting in a URL
    (root / ".baseline.tmp-abc").mkdir()  # a run in progress: skipped
    (root / "notes").mkdir()  # not results: skipped
    return root


def _links(index: Path) -> list[str]:
    return [a["href"] for tag, a in Page(index.read_text()).tags if tag == "a" and "href" in a]


def test_publish_builds_an_index_linking_every_report(results_root, tmp_path, capsys):
    site = tmp_path / "site"
    assert _main("publish", str(results_root), str(site)) == 0
    assert "2 reports" in capsys.readouterr().out
    links = _links(site / publish.INDEX_FILE)
    assert len(links) == 2
    for link in links:
        parsed = urlparse(link)
        assert not parsed.scheme and not parsed.netloc and not link.startswith("/")
        assert (site / unquote(parsed.path)).is_file()
    assert {unquote(link).split("/")[0] for link in links} == {"baseline", "fee split"}
    assert sorted(p.name for p in site.iterdir()) == [
        publish.SITE_MANIFEST,
        publish.ASSUMPTIONS_FILE,
        "baseline",
        "fee split",
        "index.html",
        publish.PLOTLY_FILE,
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _main_part(text: str) -> str:
    return text[text.index("<main>") : text.index("</main>")]


def test_publish_ships_plotly_once_and_links_it_from_every_report(results_root, tmp_path):
    site = tmp_path / "site"
    assert _main("publish", str(results_root), str(site)) == 0
    bundle = (site / publish.PLOTLY_FILE).read_text()
    assert bundle == report.plotly_js() and len(bundle) > 1_000_000
    assert (site / publish.ASSUMPTIONS_FILE).read_bytes() == (ROOT / "ASSUMPTIONS.md").read_bytes()
    manifest = json.loads((site / publish.SITE_MANIFEST).read_text())
    assert {publish.PLOTLY_FILE, publish.ASSUMPTIONS_FILE} <= set(manifest["files"])
    for name in ("baseline", "fee split"):
        page = (site / name / "index.html").read_text()
        lone = (results_root / name / report.REPORT_FILE).read_text()
        # the lone report carries plotly.js; the site's page links the one copy, and is small
        assert lone.count("/* plotly.js bundled by plotly.py") == 1 and len(lone) > len(bundle)
        assert "plotly.js bundled" not in page and bundle[:2000] not in page
        scripts = [a["src"] for tag, a in Page(page).tags if tag == "script" and "src" in a]
        assert scripts == [f"../{publish.PLOTLY_FILE}"]
        assert (site / name / scripts[0]).resolve() == (site / publish.PLOTLY_FILE).resolve()
        assert len(page.encode()) < 1_500_000, len(page.encode())
        # otherwise the same page: every section, number and chart; the site's page links
        # its copy of the whole ASSUMPTIONS.md where the lone page names it
        link = '<a href="../ASSUMPTIONS.md">ASSUMPTIONS.md</a>'
        assert page.count(link) >= 2 and "../ASSUMPTIONS.md" not in lone
        assert _main_part(page).replace(link, "ASSUMPTIONS.md") == _main_part(lone)
        assert _dead_links(site / name / "index.html") == []


def test_publish_index_shows_the_key_kpis(results_root, tmp_path):
    site = tmp_path / "site"
    assert _main("publish", str(results_root), str(site)) == 0
    text = (site / publish.INDEX_FILE).read_text()
    document = json.loads((results_root / "fee split" / "kpis.json").read_text())
    for subset in ("0", "1"):
        stats = document["subsets"][subset]["kpis"]
        for name, stat, _ in publish.KEY_KPIS:
            value = numbers.format_value(stats[name][stat], kpis.REGISTRY[name].unit)
            assert f'<td class="num" data-kpi="{name}">{value}<' in text
    # each median with its P5-P95 under it
    price = document["subsets"]["1"]["kpis"]["price_usd_end"]
    low, high = (numbers.format_value(price[p], "USD/SESH") for p in ("p5", "p95"))
    median = numbers.format_value(price["p50"], "USD/SESH")
    spread = f'<span class="spread">P5\u2013P95 {low} to {high}</span>'
    assert f'data-kpi="price_usd_end">{median}{spread}</td>' in text


def test_publish_index_names_the_overrides_in_force(results_root, tmp_path):
    _with_overrides(results_root / "baseline", results_root / "baseline overridden")
    site = tmp_path / "site"
    assert _main("publish", str(results_root), str(site)) == 0
    page = Page(text := (site / publish.INDEX_FILE).read_text())
    assert text.count("Overrides in force") == 1
    row = text[text.index('href="baseline%20overridden/') :]
    row = row[: row.index("</th>")]
    description = json.loads((results_root / "baseline" / "manifest.json").read_text())
    assert escape(description["description"]) in row
    assert f"Overrides in force: {OVERRIDES_TEXT}" in row
    assert len([a for tag, a in page.tags if tag == "a"]) == 3


def test_publish_builds_a_missing_report_without_touching_the_results(results_root, tmp_path):
    (results_root / "baseline" / report.REPORT_FILE).unlink()
    before = sorted(p.name for p in (results_root / "baseline").iterdir())
    site = tmp_path / "site"
    assert _main("publish", str(results_root), str(site)) == 0
    assert "plotly-graph-div" in (site / "baseline" / "index.html").read_text()
    assert sorted(p.name for p in (results_root / "baseline").iterdir()) == before


def test_publish_replaces_a_previous_site(results_root, tmp_path):
    site = tmp_path / "site"
    assert _main("publish", str(results_root), str(site)) == 0
    shutil.rmtree(results_root / "fee split")
    assert _main("publish", str(results_root), str(site)) == 0
    assert sorted(p.name for p in site.iterdir()) == [
        publish.SITE_MANIFEST,
        publish.ASSUMPTIONS_FILE,
        "baseline",
        "index.html",
        publish.PLOTLY_FILE,
    ]


@pytest.mark.parametrize(
    "case", ["missing results", "no results inside", "site is a file", "site is not a site"]
)
def test_publish_bad_input_exits_2_with_one_line_and_leaves_nothing(
    case, results_root, tmp_path, capsys
):
    results, site = results_root, tmp_path / "out" / "site"
    if case == "missing results":
        results = tmp_path / "nope"
    elif case == "no results inside":
        results = results_root / "notes"
    elif case == "site is a file":
        site.parent.mkdir()
        site.write_text("x")
    else:
        site.mkdir(parents=True)
        (site / "keep.txt").write_text("mine")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert _main("publish", str(results), str(site)) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_findings_say_when_one_run_or_one_pair_gives_no_spread():
    one_pair = {"mean_difference": 5.0, "ci_low": None, "ci_high": None, "n": 1}
    assert findings.difference_text(one_pair, "nodes", "nodes_end") == (
        "+5 nodes in the one pair (no interval)"
    )
    one_run = {"p50": 12.0, "p5": 12.0, "p95": 12.0, "n": 1}
    assert "one run: no spread" in findings.spread_text(one_run, "nodes", 1)


def test_a_parity_day_difference_names_the_pairs_it_is_over():
    row = {"mean_difference": -53.0, "ci_low": -82.0, "ci_high": -32.0}
    row |= {"share_positive": 0.0, "n": 20}
    text = findings.difference_text(row, "day", findings.PARITY_DAY)
    assert "of 20 pairs where both runs reach parity" in text


# --- shares, flags, runs with a value and negligible differences ---------------------------------


def test_a_share_of_runs_is_over_the_runs_its_record_names():
    stats = {
        "fee_parity_day": {"p50": 500.0, "p5": 400.0, "p95": 600.0, "mean": 500.0, "n": 12},
        "fee_parity_lost": {"mean": 0.25, "p5": 0.0, "p50": 0.0, "p95": 1.0, "n": 12},
        "fee_parity_lost_share": {"value": 0.25},
        "fee_parity_within_730d": {"value": 0.3},
        "nodes_end": {"p50": 1.0, "p5": 1.0, "p95": 1.0, "mean": 1.0, "n": 40},
    }
    flag = findings.share("fee_parity_lost", stats, 40)  # a 0/1 flag: its mean over its n runs
    assert (flag.value, flag.n, flag.total) == (0.25, 12, 40)
    assert (flag.low, flag.high) == findings.wilson(0.25, 12)
    lost = findings.share("fee_parity_lost_share", stats, 40)  # `over` the flag's runs
    assert (lost.value, lost.n) == (0.25, 12)
    within = findings.share("fee_parity_within_730d", stats, 40)  # every run of the subset
    assert (within.n, within.total) == (40, 40)
    assert findings.share("nodes_end", stats, 40) is None  # an amount, not a share
    # without the manifest's runs, the most runs any KPI has a value for
    assert findings.total_runs(stats) == 40
    # the interval is scipy's Wilson interval
    from scipy.stats import binomtest

    ci = binomtest(3, 12).proportion_ci(0.95, method="wilson")
    assert flag.low == pytest.approx(ci.low) and flag.high == pytest.approx(ci.high)


def test_the_kpi_table_says_n_of_n_runs_and_shows_flags_and_shares_with_their_interval():
    stats = {
        "fee_parity_day": {"mean": 520.0, "p5": 410.0, "p50": 500.0, "p95": 640.0, "n": 12},
        "nodes_end": {"mean": 1.9e3, "p5": 1.0e3, "p50": 1.9e3, "p95": 3.0e3, "n": 40},
        "fee_parity_lost": {"mean": 0.25, "p5": 0.0, "p50": 0.0, "p95": 1.0, "n": 12},
        "fee_parity_within_730d": {"value": 0.3},
    }
    table = report.kpi_table(0, stats, {}, runs=40)
    runs = {row["kpi"]: row["cells"][-1].text for row in table["run_rows"]}
    assert runs == {"fee_parity_day": "12 of 40", "nodes_end": "40"}
    shares = {row["kpi"]: row for row in table["subset_rows"]}
    assert list(shares) == ["fee_parity_lost", "fee_parity_within_730d"]  # by the record's kind
    lost = shares["fee_parity_lost"]
    assert (lost["share"].stat, lost["share"].text, lost["runs"].text) == (
        "mean",
        "25.0%",
        "12 of 40",
    )
    low, high = findings.wilson(0.25, 12)
    assert lost["interval"] == (
        f"{numbers.format_value(low, 'share')} to {numbers.format_value(high, 'share')}"
    )
    assert shares["fee_parity_within_730d"]["runs"] == "40"
    # the comparison table: "n of N runs" under a partial median, the interval under a share
    cells = {r["kpi"]: r["cells"][0] for r in report.comparison_table({0: stats}, {}, 40)["rows"]}
    assert cells["fee_parity_day"].spread == "410 to 640, 12 of 40 runs"
    assert cells["nodes_end"].spread == "1,000 to 3,000"
    assert cells["fee_parity_lost"].spread == f"95%: {lost['interval']}, 12 of 40 runs"
    assert cells["fee_parity_within_730d"].spread.endswith(", 40 runs")


def test_publish_index_says_how_many_runs_a_parity_day_is_over():
    stats = {
        "fee_parity_day": {"mean": 520.0, "p5": 410.0, "p50": 500.0, "p95": 640.0, "n": 12},
        "fee_parity_within_730d": {"value": 0.3},
    }
    day = publish._key_cell("fee_parity_day", "p50", stats, 40)
    assert (day["text"], day["spread"]) == ("500", "P5\u2013P95 410 to 640, 12 of 40 runs")
    share = publish._key_cell("fee_parity_within_730d", "value", stats, 40)
    low, high = (numbers.format_value(v, "share") for v in findings.wilson(0.3, 40))
    assert (share["text"], share["spread"]) == ("30.0%", f"95%: {low} to {high}, 40 runs")


def test_a_negligible_paired_difference_is_no_material_difference():
    reference = {"p50": 2.0, "p5": 0.5, "p95": 6.0}  # a node's income: ~$2 a day
    threshold = findings.materiality("node_net_usd_per_day_last_year", reference)
    assert threshold[0] == pytest.approx(2e-6)  # a millionth of the median
    tiny = {"mean_difference": 4e-9, "ci_low": 2e-9, "ci_high": 6e-9, "share_positive": 1.0}
    tiny["n"] = 40
    assert findings.negligible(tiny, threshold[0])
    text = findings.difference_text(tiny, "USD/day", "node_net_usd_per_day_last_year", threshold)
    assert text.startswith("no material difference") and "40 pairs" in text
    assert "one millionth of its median in the reference" in text
    assert "0.000000004" not in text  # the float-level number is not quoted as a finding
    # an interval reaching past the threshold is a finding, even with a tiny mean
    wide = {**tiny, "ci_high": 1e-3}
    assert not findings.negligible(wide, threshold[0])
    assert findings.difference_text(wide, "USD/day", "x", threshold).startswith("+$")
    # an absolute resolution from the record: parity days are whole days
    day = findings.materiality("fee_parity_day", {"p50": 600.0})
    assert day == (0.5, "the KPI's resolution")
    assert findings.negligible({"mean_difference": 0.2, "ci_low": -0.4, "ci_high": 0.5}, 0.5)
    # a reference at 0 gives no relative threshold: only exact zeros would be negligible
    assert findings.materiality("unmet_trade_total", {"p50": 0.0, "p95": 0.0})[0] == 0.0
    assert not findings.negligible({"mean_difference": 0.0, "ci_low": 0.0, "ci_high": 0.0}, 0.0)


def test_findings_name_the_subsets_they_leave_out_and_use_the_reference():
    runs = 4
    stats = {
        "nodes_end": {"p50": 10.0, "p5": 9.0, "p95": 11.0, "mean": 10.0, "n": runs},
    }
    summary = {s: stats for s in range(9)}
    labels = {s: f"rate={s}" for s in range(9)}
    rows = [
        {"kpi": "nodes_end", "subset": s, "reference_subset": 2, "mean_difference": 1.0}
        | {"ci_low": 0.5, "ci_high": 1.5, "share_positive": 1.0, "n": runs}
        for s in range(9)
        if s != 2
    ]
    groups = findings.findings(summary, labels, {"nodes_end": "nodes"}, runs, pd.DataFrame(rows))
    titles = [g.title for g in groups]
    assert titles[0] == "rate=0 against rate=2, run by run"  # the reference is comparison.csv's
    assert "rate=2 (the reference) on its own" in titles
    more = next(g for g in groups if g.title == "More subsets").items[0]
    assert more.text.startswith("... and 2 more subsets (rate=7; rate=8)")
    assert more.values == {"subsets": [7, 8]}
    # without comparison.csv, the reference given (the manifest's)
    groups = findings.findings(summary, labels, {"nodes_end": "nodes"}, runs, None, 2)
    assert "rate=2 (the reference) on its own" in [g.title for g in groups]


def test_the_difference_chart_is_taken_against_the_reference_subset():
    # three subsets, two runs, days 0-2: subset s holds 10 * s + day in every run
    rows = [
        {"subset": s, "run": r, "timestep": d, "reward_pool": 10.0 * s + d}
        for s in range(3)
        for r in range(2)
        for d in range(3)
    ]
    frame = pd.DataFrame(rows)
    labels = {0: "rate=0.1", 1: "rate=0.151", 2: "rate=0.2"}
    figure = report.difference_figure(frame, "reward_pool", labels, 1)
    lines = {t.name: list(t.y) for t in figure.data if t.fill != "toself"}
    assert lines == {
        "rate=0.1 \u2212 rate=0.151": [-10.0, -10.0, -10.0],
        "rate=0.2 \u2212 rate=0.151": [10.0, 10.0, 10.0],
    }
    # no reference known: the first subset
    first = report.difference_figure(frame, "reward_pool", labels, None)
    assert {t.name for t in first.data if t.fill != "toself"} == {
        "rate=0.151 \u2212 rate=0.1",
        "rate=0.2 \u2212 rate=0.1",
    }


def test_n_of_n_runs_where_only_some_runs_have_a_value():
    assert findings.of_runs("fee_parity_day", 0, 40) == "0 of 40"  # no run reached parity
    assert findings.of_runs("fee_parity_day", 40, 40) == "40 of 40"  # defined for some runs
    assert findings.of_runs("nodes_end", 40, 40) is None  # every run has one
    assert findings.of_runs("reward_pool_5y", 0, 8) is None  # the horizon is too short for it
    assert findings.of_runs("inflow_to_emission_end", 39, 40) == "39 of 40"
    assert findings.of_runs("nodes_end", None, 40) is None
    one = {"fee_parity_day": {"mean": 1085.0, "p5": 1085.0, "p50": 1085.0, "p95": 1085.0, "n": 1}}
    cell = publish._key_cell("fee_parity_day", "p50", one, 20)
    assert (cell["text"], cell["spread"]) == ("1,085", "1 of 20 runs")
