"""A generated report.html in headless Chromium: no JavaScript errors, every chart drawn and
fitting its card at the first render (no resize first), no network requests, no element wider
than its card and no horizontal scroll at 1200, 1400 and 2000 px, a published site's page drawing
its charts with the site's one plotly.js, and screenshots in artifacts/ for a person to look at.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them). Without them the test
fails when CI is set and is skipped otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import chrome, require_browser
from cli_support import run_into

from experiments.reporting import figures, numbers, report

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
WINDOW = (1400, 900)  # the window the report must fit, never resized before the checks
WIDTHS = (1200, 1400, 2000)  # the window widths at which nothing may stick out
RENDER_SECONDS = 60
# one subset, two, and eight (a real sweep of many subsets), three runs of five years each
REPORTS = ("baseline", "fee_split", "scenarios")
SMALL_RUN = ("--runs", "3", "--years", "5", "--engine", "vectorized")
# Every chart div with its plot SVG, the number of drawn data traces, the SVG's drawn width and
# the inner width of the card it sits in.
CHARTS_SCRIPT = """
return Array.from(document.querySelectorAll('div.plotly-graph-div')).map(div => {
  const svg = div.querySelector('svg.main-svg');
  const card = div.closest('.chart');
  return {
    id: div.id,
    svg: svg !== null,
    traces: div.querySelectorAll('svg.main-svg .scatterlayer .trace').length,
    width: svg === null ? null : svg.getBoundingClientRect().width,
    card: card === null ? null : card.clientWidth,
  };
});
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chrome(tmp_path_factory.mktemp("chromium-profile"), WINDOW) as driver:
        yield driver


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    require_browser()  # no point simulating without a browser
    results = tmp_path_factory.mktemp("browser") / "results"
    # five years: every KPI has a value, the widest numbers a report shows; `scenarios` has
    # eight subsets: the widest tables and legends
    return {
        name: run_into(results / name, name, *SMALL_RUN) / report.REPORT_FILE for name in REPORTS
    }


def _external_requests(driver) -> list[str]:
    """URLs the page asked the network for (anything but the file itself and inline data)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("file:", "data:", "blob:", "about:")):
                urls.append(url)
    return urls


# Every element of every card (the sections; inside a chart only the chart's own card, which
# CHARTS_SCRIPT checks), with every <details> opened, that reaches past its card's left or right
# edge; and how wide the page is against the window. An element inside a scroll box (overflow-x
# auto or scroll, within the card) is left to the box: the reader scrolls the box, and the box
# itself is an element of the card, which must fit.
FIT_SCRIPT = """
document.querySelectorAll('details').forEach(d => { d.open = true; });
const wide = [];
const scrolled = (el, card) => {
  for (let up = el.parentElement; up !== null && up !== card; up = up.parentElement) {
    const overflow = getComputedStyle(up).overflowX;
    if (overflow === 'auto' || overflow === 'scroll') { return true; }
  }
  return false;
};
document.querySelectorAll('section').forEach(card => {
  const box = card.getBoundingClientRect();
  card.querySelectorAll('*').forEach(el => {
    if (el.closest('.chart') && !el.classList.contains('chart')) { return; }
    if (scrolled(el, card)) { return; }
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) { return; }
    if (r.right > box.right + 1 || r.left < box.left - 1) {
      wide.push({tag: el.tagName, cls: String(el.className), section: card.id,
                 width: Math.round(r.width), card: Math.round(box.width),
                 text: (el.textContent || '').trim().slice(0, 40)});
    }
  });
});
return {page: document.documentElement.scrollWidth, window: window.innerWidth,
        cards: document.querySelectorAll('section').length, wide: wide.slice(0, 10),
        count: wide.length};
"""


def _drawn(driver) -> bool:
    charts = driver.execute_script(CHARTS_SCRIPT)
    return bool(charts) and all(c["svg"] and c["traces"] for c in charts)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", REPORTS)
def test_nothing_is_wider_than_its_card_or_the_window(browser, reports, name, width):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(width, WINDOW[1])
    browser.get(reports[name].as_uri())
    WebDriverWait(browser, RENDER_SECONDS).until(_drawn)
    fit = browser.execute_script(FIT_SCRIPT)
    assert fit["cards"] >= 5
    assert fit["window"] == width
    assert fit["count"] == 0, fit["wide"]
    assert fit["page"] <= fit["window"], fit  # no horizontal scroll
    browser.set_window_size(*WINDOW)


FIT_PAGE = """<!DOCTYPE html><html><body style="margin:0">
<section id="fits" style="width:600px">
  <p>text</p>
  <div style="overflow-x:auto"><table><tr><td style="min-width:3000px">a wide table in a box
  </td></tr></table></div>
</section>
<section id="sticks-out" style="width:600px"><div style="width:900px">too wide</div></section>
<section id="box-too-wide" style="width:600px">
  <div style="overflow-x:auto;width:800px"><div style="width:3000px">in a box</div></div>
</section>
<section id="clipped" style="width:600px">
  <div style="overflow-x:hidden"><div style="width:3000px">cut off, not scrollable</div></div>
</section>
</body></html>"""


def test_the_fit_check_catches_what_sticks_out_and_spares_scroll_boxes(browser, tmp_path):
    """FIT_SCRIPT on a made page: an element wider than its card, a scroll box wider than its
    card and content cut by overflow: hidden are caught; a wide table in a scroll box that fits
    is not; a page wider than the window is seen."""
    page = tmp_path / "fit.html"
    page.write_text(FIT_PAGE)
    browser.set_window_size(1200, WINDOW[1])
    browser.get(page.as_uri())
    fit = browser.execute_script(FIT_SCRIPT)
    caught = {(w["section"], w["text"][:8]) for w in fit["wide"]}
    assert caught == {
        ("sticks-out", "too wide"),
        ("box-too-wide", "in a box"),
        ("clipped", "cut off,"),
    }, fit["wide"]
    assert fit["page"] <= fit["window"] == 1200
    browser.execute_script("document.body.style.width = '3000px'")
    assert browser.execute_script(FIT_SCRIPT)["page"] > 1200
    browser.set_window_size(*WINDOW)


# Every numeric axis of every chart as drawn: its tick format and each tick's value and label.
TICKS_SCRIPT = """
return Array.from(document.querySelectorAll('div.plotly-graph-div')).map(div => {
  const layout = div._fullLayout;
  return Object.keys(layout).filter(k => /^[xy]axis[0-9]*$/.test(k))
    .map(k => ({axis: k, chart: div.id, ...layout[k]}))
    .filter(ax => ax.type === 'linear' || ax.type === 'log')
    .map(ax => ({chart: ax.chart, axis: ax.axis, type: ax.type, format: ax.tickformat || '',
                 stops: (ax.tickformatstops || []).map(s => s.value),
                 ticks: (ax._vals || []).map(v => [v.x, v.text])}));
}).flat();
"""


# Per chart: its legend box, its title, subtitle and axis titles, and the plot's SVG box; and for
# each text that the legend overlaps, which it is.
LEGEND_SCRIPT = """
const box = el => { const r = el.getBoundingClientRect();
                    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
return Array.from(document.querySelectorAll('div.plotly-graph-div')).map(div => {
  const legend = div.querySelector('g.legend');
  const svg = div.querySelector('svg.main-svg');
  if (legend === null || svg === null) { return null; }
  const l = box(legend.querySelector('rect.bg') || legend), s = box(svg);
  const texts = Array.from(div.querySelectorAll(
    'text.gtitle, text.gtitle-subtitle, [class*="title"] text, text[class$="title"]'));
  const overlaps = texts.filter(el => {
    const r = box(el);
    return r.bottom > r.top && r.left < l.right - 1 && r.right > l.left + 1
      && r.top < l.bottom - 1 && r.bottom > l.top + 1;
  }).map(el => (el.textContent || '').slice(0, 40));
  return {id: div.id, legend: l, svg: s, overlaps: overlaps};
}).filter(x => x !== null);
"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", REPORTS)
def test_legends_are_whole_and_cover_no_title(browser, reports, name, width):
    """Every chart's legend lies inside its chart (no entry cut off at the bottom, however many
    subsets) and overlaps neither the chart's title, its subtitle nor an axis title."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(width, WINDOW[1])
    browser.get(reports[name].as_uri())
    WebDriverWait(browser, RENDER_SECONDS).until(_drawn)
    legends = browser.execute_script(LEGEND_SCRIPT)
    assert legends
    for chart in legends:
        legend, svg = chart["legend"], chart["svg"]
        assert svg["top"] - 1 <= legend["top"] and legend["bottom"] <= svg["bottom"] + 1, chart
        assert chart["overlaps"] == [], chart
    browser.set_window_size(*WINDOW)


def _tick_unit(axis: dict) -> str:
    """The numbers.py unit an axis' tick format stands for (figures.axis_numbers)."""
    if axis["type"] == "log":
        return ""  # set from the data, labelled by numbers.format_tick of an amount
    if axis["format"] == figures.PERCENT_TICKS:
        return "share"
    if axis["format"] == figures.COUNT_TICKS:
        return "day"
    assert axis["stops"] == [s["value"] for s in figures.AMOUNT_TICKS], axis
    return ""


@pytest.mark.parametrize("name", REPORTS)
def test_chart_ticks_read_as_the_tables_write_numbers(browser, reports, name):
    """Every tick label plotly draws on a numeric axis is numbers.format_tick of its value: the
    tables' format (k, M, B; percent; no exponent, no SI prefix such as G, m or µ)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(*WINDOW)
    browser.get(reports[name].as_uri())
    WebDriverWait(browser, RENDER_SECONDS).until(_drawn)
    axes = browser.execute_script(TICKS_SCRIPT)
    # a log axis places its ticks at log10 of their values
    ticks = [
        (axis, 10**value if axis["type"] == "log" else value, text)
        for axis in axes
        for value, text in axis["ticks"]
    ]
    assert len(ticks) > 5 * len(axes) > 0
    wrong = [
        (axis["chart"], axis["axis"], value, text)
        for axis, value, text in ticks
        if text != numbers.format_tick(value, _tick_unit(axis))
    ]
    assert wrong == []
    assert {_tick_unit(axis) for axis in axes} >= {"", "share"}


@pytest.fixture(scope="module")
def site(reports, tmp_path_factory) -> Path:
    """The two reports published as a site: plotly.js once, linked from each page."""
    site = tmp_path_factory.mktemp("site") / "site"
    results = reports["baseline"].parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "experiments", "publish", str(results), str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return site


def test_published_page_draws_its_charts_with_the_sites_plotly(browser, site):
    from selenium.webdriver.support.ui import WebDriverWait

    page = site / "fee_split" / "index.html"
    assert "plotly.js bundled" not in page.read_text()  # it links ../plotly.min.js
    browser.set_window_size(*WINDOW)
    browser.get_log("browser")
    browser.get_log("performance")
    browser.get(page.as_uri())
    WebDriverWait(browser, RENDER_SECONDS).until(_drawn)
    charts = browser.execute_script(CHARTS_SCRIPT)
    # emission vs inflow, the inflow/emission ratio, the paired differences and the paired
    # difference over time
    assert len(charts) == len(report.CHART_COLUMNS) + 4
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert _external_requests(browser) == []


@pytest.mark.parametrize("name", REPORTS)
def test_report_renders_every_chart_without_errors(browser, reports, name):
    from selenium.webdriver.support.ui import WebDriverWait

    # the fan charts or lines, then emission vs inflow and the inflow/emission ratio
    # and for several subsets the paired differences and the paired difference over time
    expected = len(report.CHART_COLUMNS) + 2 + 2 * (name != "baseline")
    browser.set_window_size(*WINDOW)  # before loading: the page is never resized once open
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get_log("performance")
    browser.get(reports[name].as_uri())
    WebDriverWait(browser, RENDER_SECONDS).until(
        lambda d: (
            (charts := d.execute_script(CHARTS_SCRIPT))
            and all(c["svg"] and c["traces"] for c in charts)
        )
    )
    charts = browser.execute_script(CHARTS_SCRIPT)
    assert len(charts) == expected
    assert sum(1 for c in charts if c["svg"] and c["traces"] > 0) == expected, charts
    ids = [c["id"] for c in charts]
    assert (f"chart-{report.COMPARISON_CHART}" in ids) == (name != "baseline"), ids
    # every chart fits its card as first drawn: nothing cut off, no resize needed
    for chart in charts:
        assert chart["card"] and chart["width"], chart
        assert chart["width"] <= chart["card"] + 1, chart
        assert chart["width"] >= 0.9 * chart["card"] - 10, chart  # and fills it

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    assert _external_requests(browser) == []

    # the charts as a reader first sees them, at the window size the page opened with
    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("document.getElementById('charts').scrollIntoView()")
    shot = ARTIFACTS / f"report-{name}.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 50_000  # a page with charts, not a blank one
    # then the whole page (a taller window: after the checks above)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WINDOW[0], min(height, 16_000))
    assert browser.save_screenshot(str(ARTIFACTS / f"report-{name}-full.png"))
    browser.set_window_size(*WINDOW)
