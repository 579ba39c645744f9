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

from experiments.reporting import report

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
WINDOW = (1400, 900)  # the window the report must fit, never resized before the checks
WIDTHS = (1200, 1400, 2000)  # the window widths at which nothing may stick out
RENDER_SECONDS = 60
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


def _run(out: Path, *args: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "experiments", "run", *args, "--engine", "vectorized"]
        + ["--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out / report.REPORT_FILE


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    require_browser()  # no point simulating without a browser
    tmp = tmp_path_factory.mktemp("browser")
    return {
        # five years: every KPI has a value, the widest numbers a report shows
        "baseline": _run(tmp / "results" / "baseline", "baseline", "--runs", "3", "--years", "5"),
        "fee_split": _run(
            tmp / "results" / "fee_split", "fee_split", "--runs", "3", "--years", "5"
        ),
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
# edge; and how wide the page is against the window.
FIT_SCRIPT = """
document.querySelectorAll('details').forEach(d => { d.open = true; });
const wide = [];
document.querySelectorAll('section').forEach(card => {
  const box = card.getBoundingClientRect();
  card.querySelectorAll('*').forEach(el => {
    if (el.closest('.chart') && !el.classList.contains('chart')) { return; }
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
@pytest.mark.parametrize("name", ["baseline", "fee_split"])
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


@pytest.mark.parametrize("name", ["baseline", "fee_split"])
def test_report_renders_every_chart_without_errors(browser, reports, name):
    from selenium.webdriver.support.ui import WebDriverWait

    # the fan charts or lines, then emission vs inflow and the inflow/emission ratio
    # and for two subsets the paired differences and the paired difference over time
    expected = len(report.CHART_COLUMNS) + 2 + 2 * (name == "fee_split")
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
    assert (f"chart-{report.COMPARISON_CHART}" in ids) == (name == "fee_split"), ids
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
