"""The explorer (`python -m experiments explore`): its callbacks as plain functions, then the
running app in headless Chromium.

Plain functions: the query string round trip, bad values reported with the command line's own
message (never raised), refused large requests, scenario B's paired differences on common random
numbers, the command lines and the downloads. Browser: the server started as the CLI starts it
on a free loopback port; two URLs with different scenarios draw different chart data; a bad value
shows its message in the page; a typed change rewrites the URL; no request leaves the app's own
origin; no JavaScript error; the server stops cleanly on SIGTERM.
"""

from __future__ import annotations

import base64
import io
import json
import math
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser_support import chrome, require_browser
from plotly.io.json import to_json_plotly

from experiments import cli
from experiments.analysis import kpis
from experiments.engines.registry import RunSpec, simulate
from experiments.explorer import cache, callbacks, charts, layout, state
from experiments.reporting import figures, numbers, plots
from model import ParameterError, Parameters

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
SMALL = {"runs": 6, "years": 0.4, "seed": 3}


def _cli_message(name: str, text: str) -> str:
    """The message `run --set name=text` prints (after "error: ")."""
    try:
        Parameters.from_overrides(cli.parse_overrides([f"{name}={text}"]))
    except ParameterError as error:
        return str(error)
    raise AssertionError("the value was accepted")


# --- the query string ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "view",
    [
        state.View(),
        state.View(a={"fee_pool_share": 1.0}, runs=100, years=5.0, seed=0),
        state.View(
            a={"launch_smoothing": False, "price_model": "exogenous", "pol_review_day": 900},
            b={"fee_pool_share": 1.0, "staking_requirement": 20_000.0, "sns_deployed": True},
            runs=7,
            years=1.25,
            seed=42,
        ),
        state.View(a={"eth_volatility": 0.1 + 0.2, "initial_price_usd": 1e-06}, years=0.1),
    ],
)
def test_query_round_trip(view):
    query = state.render_query(view)
    assert state.parse_query(query) == (view, {})
    # and through the controls: the URL sets them, they write the same URL back
    controls = [state.control_id(s, n) for s in ("a", "b") for n in Parameters.names()]
    controls += [state.control_id("run", n) for n in state.RUN_KEYS]
    values = state.controls_from_query(query, controls)
    again = state.query_from_controls(zip(controls, values, strict=True))
    assert state.parse_query(again) == (view, {})


def test_the_issue_example_opens_that_scenario():
    view, errors = state.parse_query("?fee_pool_share=1.0&runs=100&years=5")
    assert errors == {}
    assert view == state.View(a={"fee_pool_share": 1.0}, runs=100, years=5.0, seed=0)
    assert state.render_query(view) == "?fee_pool_share=1.0&runs=100&years=5&seed=0"


def test_empty_values_mean_default_and_b_inherits_a():
    view, errors = state.parse_query("?fee_pool_share=&b.fee_pool_share=1&pool_payout_rate=0.2")
    assert errors == {}
    assert view.a == {"pool_payout_rate": 0.2} and view.b == {"fee_pool_share": 1.0}
    a, b = view.parameter_sets()
    assert (a.pool_payout_rate, b.pool_payout_rate) == (0.2, 0.2)
    assert (a.fee_pool_share, b.fee_pool_share) == (0.9, 1.0)


def test_sync_follows_the_url_then_the_controls():
    controls = [state.control_id("a", "fee_pool_share"), state.control_id("run", "runs")]
    search, values = callbacks.sync("?fee_pool_share=1.0&runs=9", [None, None], controls, True)
    assert search is None and values == ["1.0", "9"]
    search, values = callbacks.sync("?fee_pool_share=1.0&runs=9", ["0.8", "9"], controls, False)
    assert values is None and search == "?fee_pool_share=0.8&runs=9"
    assert callbacks.sync(search, ["0.8", "9"], controls, False) == (None, None)  # no loop


# --- bad values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("fee_pool_share", "1.5"),
        ("fee_pool_share", "abc"),
        ("staking_requirement", "-3"),
        ("price_model", "magic"),
        ("launch_smoothing", "maybe"),
        ("pol_review_day", "1.5"),
        ("fee_pol_share", "0.5"),  # unknown: the did-you-mean message
    ],
)
def test_bad_values_carry_the_cli_message(key, text):
    view, errors = state.parse_query(f"?{key}={text}&runs=3&b.{key}={text}")
    assert errors[key] == _cli_message(key, text)
    assert errors["b." + key] == _cli_message(key, text)


def test_bad_run_settings_and_combinations():
    _, errors = state.parse_query("?runs=0&years=abc&seed=-1")
    assert errors["runs"] == "invalid runs: must be an integer >= 1, got 0"
    assert errors["years"].startswith("invalid years:")
    assert errors["seed"].startswith("invalid seed:")
    _, errors = state.parse_query("?years=500")
    assert errors == {"years": str(_raises(lambda: RunSpec(years=500.0)))}
    # a combination: blamed on the first parameter its message names
    _, errors = state.parse_query("?reward_sell_share=0.9")
    assert errors == {"reward_sell_share": _cli_message("reward_sell_share", "0.9")}
    _, errors = state.parse_query("?reward_sell_share=0.7&b.reward_restake_share=0.5")
    assert list(errors) == ["b.reward_sell_share"]
    assert errors["b.reward_sell_share"].startswith("scenario B: invalid parameters")


def _raises(call) -> Exception:
    try:
        call()
    except ParameterError as error:
        return error
    raise AssertionError("no error")


def _controls():
    return [
        state.control_id("a", "fee_pool_share"),
        state.control_id("b", "fee_pool_share"),
        state.control_id("run", "runs"),
    ]


def test_update_shows_a_bad_value_beside_its_control_and_does_not_compute(monkeypatch):
    from dash import no_update

    monkeypatch.setattr(cache, "compute", _must_not_compute)
    charts, table, diffs, status, lines, shown = callbacks.update(
        "?fee_pool_share=2&runs=3&unknown_thing=1", _controls()
    )
    assert (charts, table, diffs, lines) == (no_update,) * 4
    assert shown == [_cli_message("fee_pool_share", "2"), "", ""]
    text = str(status)
    assert "Not recomputed: 2 values to fix" in text
    assert "unknown parameter 'unknown_thing'" in text  # no control of its own: in the status


def _must_not_compute(view):
    raise AssertionError("computed a view it should not have")


def test_update_refuses_a_large_request_with_a_message(monkeypatch):
    monkeypatch.setattr(cache, "compute", _must_not_compute)
    *_, status, lines, shown = callbacks.update("?runs=5000&years=5", _controls())
    assert "refused: 5,000 runs x 5 years = 25,000 run-years" in str(status)
    assert "--runs 5000" in str(lines)  # the command line is still offered
    assert cache.refusal(state.View(runs=1000, years=5), available=10**12) is None
    assert cache.refusal(state.View(runs=1000, years=5, b={"fee_pool_share": 1.0}))


@pytest.mark.parametrize("years", [5.0001, 5.000001, 5.4, 5.5, 1e-12 + 5])
def test_the_refusal_never_shows_the_limit_as_its_own_excess(years):
    message = cache.refusal(state.View(runs=1000, years=years), available=10**12)
    assert message and "5,000 run-years" not in message
    shown = message.split(" = ")[1].split(" run-years")[0]
    assert float(shown.replace(",", "")) > cache.MAX_RUN_YEARS, message
    assert f"at most {cache.MAX_RUN_YEARS:,}" in message
    assert cache.refusal(state.View(runs=1000, years=5.0), available=10**12) is None


def test_seeds_above_2_to_the_53_are_kept_exact():
    seed = 2**53 + 1  # a float would round it to 2^53
    view, errors = state.parse_query(f"?seed={seed}&runs=2&years=0.01")
    assert errors == {} and view.seed == seed and type(view.seed) is int
    assert f"seed={seed}" in state.render_query(view)
    assert f"--seed {seed}" in state.cli_lines(view)["A"]
    assert state.spec(view).seed == seed
    huge = 10**40 + 7
    assert state.parse_query(f"?seed={huge}")[0].seed == huge
    assert state.parse_query("?runs=1e3")[0].runs == 1000  # a float that is exact: accepted


def test_a_seed_written_as_a_float_is_read_exactly_or_refused():
    assert state.parse_query("?seed=9.007199254740993e15")[0].seed == 2**53 + 1
    _, errors = state.parse_query("?seed=1e400&runs=1e400000")
    assert errors["seed"].startswith("invalid seed: must be an integer >= 0 of at most 100")
    assert errors["runs"].startswith("invalid runs: must be an integer >= 1 of at most 100")
    assert state.parse_query("?seed=2.5")[1]["seed"].startswith("invalid seed: must be an int")


def test_views_and_downloads_that_do_not_fit_in_memory_are_refused_before_computing(monkeypatch):
    from experiments import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 10**6)
    monkeypatch.setattr(cache, "compute", _must_not_compute)
    monkeypatch.setattr(cache, "simulate", _must_not_compute)
    *_, status, lines, _ = callbacks.update("?runs=50&years=1", _controls())
    assert "refused: this view (50 runs x 1 years) would need" in str(status)
    assert "memory" in str(status) and "--runs 50" in str(lines)
    for which in ("kpis", "timeseries"):
        data, message = callbacks.download_message(which, "?runs=50&years=1")
        assert data is None and message.startswith("refused: ") and "\n" not in message
    view = state.View(runs=50, years=1)
    assert cache.download_bytes(view) > cache.view_bytes(view) > 0


def test_heavy_requests_beyond_the_slots_are_told_to_wait(monkeypatch):
    monkeypatch.setattr(cache, "compute", _must_not_compute)
    gate = cache.HeavyGate(slots=2)
    monkeypatch.setattr(cache, "HEAVY", gate)
    with gate(10**6), gate(2 * 10**6):  # two downloads computing
        assert gate.reserved == 3 * 10**6
        data, message = callbacks.download_message("timeseries", "?runs=3&years=0.1")
        assert data is None and message.startswith("busy: ")
        *_, status, _, _ = callbacks.update("?runs=3&years=0.1", _controls())
        assert "busy: " in str(status)
        # what they reserved counts against the memory a new request may use
        view = state.View(runs=3, years=0.1)
        need = cache.view_bytes(view)
        assert cache.refusal(view, available=need + 3 * 10**6) is None
        assert cache.refusal(view, available=need + 3 * 10**6 - 1)
    assert gate.reserved == 0
    with gate(10**6):  # one running: a second that fits alone but not beside it waits
        with pytest.raises(cache.Busy):
            gate(10**6, available=15 * 10**5).__enter__()
        with gate(10**6, available=2 * 10**6):
            assert gate.reserved == 2 * 10**6
    assert gate.reserved == 0


def test_update_never_raises(monkeypatch):
    def broken(view):
        raise RuntimeError("the engine fell over")

    monkeypatch.setattr(cache, "compute", broken)
    *_, status, _, shown = callbacks.update("?runs=3&years=1", _controls())
    assert "error: RuntimeError: the engine fell over" in str(status)
    assert shown == ["", "", ""]


# --- scenario B ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcome():
    view = state.View(b={"fee_pool_share": 1.0, "pool_payout_rate": 0.12}, **SMALL)
    return cache.compute(view)


def test_b_is_a_plus_its_overrides_on_common_random_numbers(outcome):
    view = outcome.view
    spec = RunSpec(view.runs, view.years, view.seed, engine="vectorized")
    full = cache.full_timeseries(view)
    for subset, overrides in ((0, view.a), (1, {**view.a, **view.b})):
        alone = simulate([Parameters.from_overrides(overrides)], spec).drop(columns="subset")
        # each scenario equals its own single run: what the command line reproduces
        for frame in (outcome.frame, full):
            mine = frame[frame["subset"] == subset].drop(columns="subset")
            pd.testing.assert_frame_equal(
                mine.reset_index(drop=True), alone[mine.columns].reset_index(drop=True)
            )
    # common shocks: the exogenous ETH price path is the same run by run
    eth = full.pivot_table(index=["run", "timestep"], columns="subset", values="eth_usd")
    np.testing.assert_array_equal(eth[0].to_numpy(), eth[1].to_numpy())


def test_b_differences_are_paired_per_run(outcome):
    table = outcome.differences
    assert list(table["kpi"]) == cache.RUN_KPI_NAMES
    per_run = outcome.per_run.set_index(["subset", "run"])
    pool = table.set_index("kpi").loc["cum_emission_end"]
    d = per_run.loc[1, "cum_emission_end"] - per_run.loc[0, "cum_emission_end"]
    assert pool["mean_difference"] == pytest.approx(d.mean(), rel=1e-12)
    assert pool["share_positive"] == (d > 0).mean()
    assert pool["n"] == SMALL["runs"]
    assert pool["ci_low"] <= pool["mean_difference"] <= pool["ci_high"]
    rows = layout.difference_rows(outcome)
    assert [r["kpi"] for r in rows] == cache.RUN_KPI_NAMES
    assert all(
        set(r) == {"kpi", "unit", "mean_difference", "interval", "share_positive", "n"}
        for r in rows
    )


def test_b_identical_to_a_differs_by_exactly_zero():
    view = state.View(b={"fee_pool_share": 0.9}, **SMALL)  # A's default: the same scenario
    table = cache.compute(view).differences.dropna(subset=["mean_difference"])
    assert len(table) > 0
    assert (table["mean_difference"] == 0).all()
    assert (table["ci_low"] == table["ci_high"]).all()


def test_figures_tables_and_downloads(outcome):
    figs = charts.figures(outcome)
    assert list(figs) == [chart for chart, _ in charts.CHARTS] + [charts.DIFFERENCE]
    assert all(len(figs[chart]) == 2 for chart, _ in charts.CHARTS)  # A beside B
    assert len(figs[charts.DIFFERENCE]) == 1  # B minus A
    pool_a, pool_b = figs["reward_pool"]
    assert pool_a["layout"]["yaxis"]["range"] == pool_b["layout"]["yaxis"]["range"]  # one scale
    assert pool_a["data"][-1]["y"] != pool_b["data"][-1]["y"]  # typed arrays: dtype, bdata
    table = layout.kpi_rows(outcome)
    assert [label for _, label in table["subsets"]] == ["A", "B"]
    csv = pd.read_csv(io.StringIO(cache.kpi_csv(outcome)))
    assert list(csv.columns) == ["subset", "label", "kpi", "unit", "stat", "value"]
    assert set(csv["label"]) == {"A", "B"}
    expected = kpis.tidy(outcome.summary, {0: "A", 1: "B"})
    assert len(csv) == len(expected)


def test_a_view_records_what_it_draws_and_the_download_has_everything(outcome):
    """The view keeps only the chart and KPI columns (and the guard's); the timeseries download
    is the whole timeseries: every column, equal to `simulate` of the view."""
    view = outcome.view
    assert set(cache.RECORD) <= set(outcome.frame.columns)
    spec = RunSpec(view.runs, view.years, view.seed, engine="vectorized", common_draws=True)
    everything = simulate(view.parameter_sets(), spec)
    assert len(outcome.frame.columns) < len(everything.columns) / 2
    frame = pd.read_parquet(io.BytesIO(cache.timeseries_parquet(outcome)))
    assert list(frame.columns) == list(everything.columns)
    pd.testing.assert_frame_equal(frame, everything.reset_index(drop=True))
    # the recorded columns are those numbers: the KPIs and charts see what the download holds
    pd.testing.assert_frame_equal(
        outcome.frame.reset_index(drop=True), frame[list(outcome.frame.columns)]
    )
    sent = callbacks.download("timeseries", state.render_query(view))
    assert sent["filename"] == "timeseries.parquet"
    assert sent["base64"] and sent["content"]


def test_record_is_the_vectorized_engine_on_a_single_process_only():
    spec = RunSpec(2, 0.05, engine="radcad")
    with pytest.raises(ParameterError, match="record"):
        simulate([Parameters()], spec, record=["price_usd"])


def _values(array) -> np.ndarray:
    """A trace's array as numbers: a plotly.js typed array (dtype, base64) or a list."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), np.dtype(array["dtype"]))
    return np.asarray(array, dtype="float64")


def _trace(fig: dict, name: str) -> dict:
    return next(t for t in fig["data"] if t["name"] == name)


def _check_fan(fig: dict, one: pd.DataFrame, column: str) -> None:
    """The median line and the P5-P95 band of a fan chart are the percentiles across runs of
    `one`'s column on every day drawn (pandas' groupby quantile, NaN skipped)."""
    median = _trace(fig, "median")
    days = _values(median["customdata"]).astype(int)
    assert list(median["x"]) == list(figures.calendar(days))
    expected = one.groupby("timestep")[column].quantile([0.05, 0.5, 0.95]).unstack().loc[days]
    np.testing.assert_allclose(_values(median["y"]), expected[0.5], rtol=1e-12)
    band = _values(_trace(fig, "P5-P95")["y"])
    high, low = band[: len(days)], band[len(days) :][::-1]
    np.testing.assert_allclose(high, expected[0.95], rtol=1e-12)
    np.testing.assert_allclose(low, expected[0.05], rtol=1e-12)


def _check_crossing(fig: dict, one: pd.DataFrame) -> None:
    """The emission chart marks the fee_parity_day KPI (its median over the runs that reach
    it), or says no run reaches it."""
    day = plots.parity_marker_days(one)[int(one["subset"].iloc[0])]
    markers = [t for t in fig["data"] if t["mode"] == "markers"]
    if math.isnan(day):
        assert markers == []
        text = " ".join(a["text"] for a in fig["layout"]["annotations"])
        assert "no run reaches fee parity" in text or "no 30-day" in text or markers == []
    else:
        assert [list(m["customdata"]) for m in markers] == [[int(day)]]
        assert fig["layout"]["annotations"][-1]["text"] == f"day {int(day)}"


@pytest.mark.parametrize(
    "view",
    [
        # 18 days: no 30-day trailing mean yet, so no inflow bands and no crossing
        state.View(runs=5, years=0.05, seed=1),
        state.View(b={"fee_pool_share": 1.0}, runs=4, years=1.0 / 365.25, seed=2),
        # 420 days: drawn weekly
        state.View(b={"pool_payout_rate": 0.05}, runs=7, years=1.15, seed=5),
    ],
)
def test_figures_draw_the_views_percentiles_and_crossing(view):
    outcome = cache.compute(view)
    drawn = charts.figures(outcome)
    for chart, column in charts.CHARTS:
        assert len(drawn[chart]) == view.scenarios
        for subset, fig in enumerate(drawn[chart]):
            title = fig["layout"]["title"]["text"]
            assert title.startswith(f"{state.LABELS[subset]}: ") == view.has_b
            one = outcome.frame[outcome.frame["subset"] == subset]
            if column == charts.EMISSION:
                _check_crossing(fig, one)
            else:
                _check_fan(fig, one, column)
            json.loads(to_json_plotly(fig))  # what Dash sends: plotly's JSON encoder takes it


def test_emission_and_fan_with_a_crossing_and_missing_values():
    """A synthetic view that reaches fee parity and has a run with missing days."""
    days, runs = 130, 5
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "subset": 0,
            "run": np.repeat(np.arange(1, runs + 1), days + 1),
            "timestep": np.tile(np.arange(days + 1), runs),
        }
    )
    day, run = frame["timestep"].to_numpy(), frame["run"].to_numpy()
    frame["daily_pool_inflow"] = 10.0 * day + rng.normal(0, 20, len(frame))
    frame["daily_emission"] = 500.0 + run
    frame["price_usd"] = np.exp(rng.normal(0, 0.1, len(frame)))
    frame.loc[(run == 2) & (day > 40) & (day < 60), ["daily_emission", "price_usd"]] = np.nan
    paths = figures.Paths.of(frame, ["daily_emission", "daily_pool_inflow", "price_usd"])
    emission = figures.emission(
        paths.days, paths.values["daily_emission"], paths.values["daily_pool_inflow"], ["A"]
    )
    assert "shapes" in emission["layout"]
    _check_crossing(figures.typed(emission), frame)
    fan = figures.typed(figures.fan(paths.days, paths.values["price_usd"][0], "price_usd"))
    _check_fan(fan, frame, "price_usd")


def test_b_draws_the_reports_paired_difference_over_time(outcome):
    """With B, the explorer draws the report's chart of B minus A per day (figures.differences,
    the same function the report calls): its median and P5-P95 are those of the run-by-run
    differences of the pool, day by day; a view of A alone has no such chart."""
    (fig,) = charts.figures(outcome)[charts.DIFFERENCE]
    column = charts.DIFFERENCE_COLUMN
    paths = figures.Paths.of(outcome.frame, [column])
    same = figures.typed(figures.differences(paths.days, paths.values[column], column, ["A", "B"]))
    assert json.loads(to_json_plotly(fig)) == json.loads(to_json_plotly(same))
    assert fig["layout"]["title"]["text"] == "Paired difference over time: Staking Reward Pool"

    wide = outcome.frame.pivot_table(index=["run", "timestep"], columns="subset", values=column)
    by_day = (wide[1] - wide[0]).groupby("timestep")
    median = _trace(fig, "B \u2212 A")
    days = _values(median["customdata"]).astype(int)
    np.testing.assert_allclose(_values(median["y"]), by_day.median().loc[days], rtol=1e-12)
    band = _values(_trace(fig, "B: P5-P95")["y"])
    np.testing.assert_allclose(band[: len(days)], by_day.quantile(0.95).loc[days], rtol=1e-12)
    np.testing.assert_allclose(band[len(days) :][::-1], by_day.quantile(0.05).loc[days], rtol=1e-12)
    assert (band[: len(days)] != band[len(days) :][::-1]).any()  # the runs differ: a real band
    assert median["text"][-1] == numbers.quantity(_values(median["y"])[-1], "SESH", True)

    cards = layout.chart_cards(outcome)
    wide_cards = [c for c in cards if "wide" in c.className]
    assert [c.children.id for c in wide_cards] == [f"chart-{charts.DIFFERENCE}-B-A"]
    alone = cache.compute(state.View(**SMALL))
    assert charts.DIFFERENCE not in charts.figures(alone)


def test_cli_lines_reproduce_the_view():
    view = state.View(
        a={"fee_pool_share": 1.0, "price_model": "exogenous"},
        b={"launch_smoothing": False},
        runs=12,
        years=2.5,
        seed=4,
    )
    lines = state.cli_lines(view)
    assert lines["A"] == (
        "python -m experiments run baseline --runs 12 --years 2.5 --seed 4 "
        "--set fee_pool_share=1.0 --set price_model=exogenous"
    )
    import shlex

    for label, overrides in (("A", view.a), ("B", {**view.a, **view.b})):
        args = cli.build_parser().parse_args(shlex.split(lines[label])[3:])
        assert (args.name, args.runs, args.years, args.seed) == ("baseline", 12, 2.5, 4)
        assert cli.parse_overrides(args.overrides) == overrides


def test_layout_has_a_control_and_an_error_slot_for_every_parameter():
    app = callbacks.make_app()
    text = json.dumps(app.layout().to_plotly_json(), default=lambda o: o.to_plotly_json())
    for scenario in ("a", "b"):
        for name in Parameters.names():
            for ident in (state.control_id(scenario, name), state.error_id(scenario, name)):
                assert json.dumps(ident) in text, (scenario, name)
    for meta in Parameters.field_info().values():  # meanings as help text
        assert json.dumps(meta["meaning"])[1:-1] in text


# --- the running app in headless Chromium ----------------------------------------------------------

WINDOW = (1400, 1000)
START_SECONDS = 120
RENDER_SECONDS = 120
STOP_SECONDS = 20
BROWSER_RUN = "runs=10&years=1"
# every chart's plotted y data (one JSON text per trace: plotly ships numpy arrays as base64
# {dtype, bdata}), and the status line
CHARTS_SCRIPT = """
const status = document.getElementById('status');
return {
  status: status === null ? '' : status.innerText,
  charts: Array.from(document.querySelectorAll('div.js-plotly-plot')).map(
    div => (div.data || []).map(t => t.y === undefined ? '' : JSON.stringify(t.y))),
};
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chrome(tmp_path_factory.mktemp("chromium-profile"), WINDOW) as driver:
        yield driver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The explorer as `python -m experiments explore --port PORT` starts it; its origin."""
    require_browser()
    port = _free_port()
    log = tmp_path_factory.mktemp("explorer") / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "experiments", "explore", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text()}"
            try:
                with urllib.request.urlopen(origin + "/", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no answer in {START_SECONDS} s: {log.read_text()}"
            time.sleep(0.2)
        yield {"origin": origin, "process": process, "log": log}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _load(driver, url: str, done) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    return WebDriverWait(driver, RENDER_SECONDS).until(
        lambda d: (state := d.execute_script(CHARTS_SCRIPT)) and done(state) and state
    )


def _drawn(state: dict) -> bool:
    return (
        "computed in" in state["status"]
        and len(state["charts"]) == len(charts.CHARTS)
        and all(any(len(y) > 2 for y in chart) for chart in state["charts"])
    )


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_explorer_in_the_browser(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    origin = server["origin"]
    browser.set_window_size(*WINDOW)
    browser.get_log("browser")
    browser.get_log("performance")
    requests = []

    first = _load(browser, f"{origin}/?{BROWSER_RUN}", _drawn)
    requests += _requests(browser)
    second = _load(browser, f"{origin}/?pool_payout_rate=0.3&{BROWSER_RUN}", _drawn)
    requests += _requests(browser)
    assert "10 runs x 1 years" in second["status"]
    # the pool fan chart's data (bands and median) differ between the two scenarios
    assert first["charts"][0] != second["charts"][0]
    assert first["charts"] != second["charts"]

    # a typed change rewrites the URL (and recomputes)
    field = browser.find_element(By.XPATH, "(//label[text()='fee_pool_share']/following::input)[1]")
    field.send_keys("1.0", Keys.ENTER)
    WebDriverWait(browser, RENDER_SECONDS).until(
        lambda d: "fee_pool_share=1.0" in d.current_url and "pool_payout_rate=0.3" in d.current_url
    )

    # a bad value: the CLI's message beside its control, and the server keeps serving
    message = _cli_message("fee_pool_share", "abc")
    _load(
        browser,
        f"{origin}/?fee_pool_share=abc&{BROWSER_RUN}",
        lambda s: "Not recomputed" in s["status"],
    )
    errors = browser.find_elements(By.CSS_SELECTOR, "div.error")
    assert message in [e.text for e in errors]
    requests += _requests(browser)
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "explorer-bad-value.png"))

    # scenario B beside A, its differences table, then a screenshot for a person
    both = _load(
        browser,
        f"{origin}/?b.fee_pool_share=1.0&b.pool_payout_rate=0.1&{BROWSER_RUN}",
        # A beside B, then B minus A over time
        lambda s: (
            "Scenario A and B" in s["status"] and len(s["charts"]) == 2 * len(charts.CHARTS) + 1
        ),
    )
    assert "Paired differences B" in browser.find_element(By.ID, "differences").text
    assert both["charts"][0] != both["charts"][1]
    requests += _requests(browser)
    assert browser.save_screenshot(str(ARTIFACTS / "explorer.png"))

    foreign = [u for u in requests if not u.startswith((origin + "/", "data:", "blob:", "about:"))]
    assert requests and foreign == []
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []

    # SIGTERM: the server stops cleanly, promptly, with status 0
    process = server["process"]
    process.terminate()
    assert process.wait(timeout=STOP_SECONDS) == 0, server["log"].read_text()
