"""The figures (experiments.reporting.figures) and what plots.py reads off a frame: percentiles,
the emission/inflow crossing, calendar axes, the paired charts, formatting."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from experiments.analysis import kpis
from experiments.reporting import figures, numbers, plots
from experiments.run import run


def _frame(days: int, runs: int, inflow, emission, subsets: int = 1) -> pd.DataFrame:
    """A hand-made results frame: `inflow(run, day)` and `emission(run, day)` per row."""
    rows = []
    for subset in range(subsets):
        for r in range(1, runs + 1):
            for day in range(days + 1):
                rows.append(
                    {
                        "subset": subset,
                        "run": r,
                        "timestep": day,
                        "daily_pool_inflow": inflow(r, day) + subset,
                        "daily_emission": emission(r, day),
                        "reward_pool": 100.0 * r + day,
                    }
                )
    return pd.DataFrame(rows)


def _on_day(trace, day: int) -> list[float]:
    """A trace's y values on one day (a band polygon has two: its low and its high)."""
    date = figures.calendar([day])[0]
    return [float(y) for x, y in zip(trace.x, trace.y, strict=True) if x == date]


def test_fan_chart_bands_are_the_percentiles_across_runs():
    frame = _frame(10, 7, lambda r, d: 0.0, lambda r, d: 0.0)
    fig = plots.fan_chart(frame, "reward_pool", step=1)
    traces = {t.name: t for t in fig.data}
    values = np.array([100.0 * r + 4 for r in range(1, 8)])
    assert _on_day(traces["median"], 4) == pytest.approx([np.quantile(values, 0.5)])
    for name, (low, high) in {"P5-P95": (0.05, 0.95), "P25-P75": (0.25, 0.75)}.items():
        expected = sorted(np.quantile(values, [low, high]))
        assert sorted(_on_day(traces[name], 4)) == pytest.approx(expected)
    assert len(traces["median"].x) == 11


def test_weekly_points_beyond_the_daily_limit_keep_the_last_day():
    days = np.arange(figures.MAX_DAILY_POINTS + 11)
    kept = days[figures.kept(days)]
    assert kept[-1] == figures.MAX_DAILY_POINTS + 10
    assert set(np.diff(kept[:-1])) == {figures.WEEK}
    assert (days[figures.kept(days[:50])] == days[:50]).all()  # a short horizon: every day


def test_the_marker_is_the_fee_parity_day_kpi_of_the_runs_that_reach_it():
    # run r's inflow ramps at r x 10/day against a flat 500: each run's 30-day trailing mean
    # reaches it on its own day; run 4 never ramps (0/day) and never reaches it
    frame = _frame(120, 4, lambda r, d: 10.0 * r * d * (r <= 3), lambda r, d: 500.0)
    per_run = kpis.per_run(frame, (kpis.REGISTRY["fee_parity_day"],))["fee_parity_day"].to_numpy()
    assert np.isnan(per_run[3]) and not np.isnan(per_run[:3]).any()
    day = plots.parity_marker_days(frame)[0]
    assert day == np.ceil(np.median(per_run[:3]))
    fig = plots.emission_vs_inflow(frame)
    markers = [t for t in fig.data if t.mode == "markers"]
    assert [list(m.customdata) for m in markers] == [[int(day)]]
    assert "3 of 4 runs" in markers[0].name


def test_no_run_at_parity_is_nan_and_says_so_on_the_chart():
    frame = _frame(60, 2, lambda r, d: 1.0, lambda r, d: 500.0)
    assert math.isnan(plots.parity_marker_days(frame)[0])
    fig = plots.emission_vs_inflow(frame)
    assert any("no run reaches fee parity" in a.text for a in fig.layout.annotations)


def test_crossing_is_marked_per_subset_in_a_sweep():
    frame = _frame(120, 2, lambda r, d: 10.0 * d, lambda r, d: 500.0, subsets=2)
    fig = plots.emission_vs_inflow(frame, {0: "low", 1: "high"})
    markers = [t for t in fig.data if t.mode == "markers"]
    assert len(markers) == 2
    assert {t.legendgroup for t in fig.data} == {"low", "high"}


def test_calendar_starts_at_tge():
    assert list(figures.calendar([0, 1, 365])) == ["2025-05-21", "2025-05-22", "2026-05-21"]


def test_charts_use_the_theme_and_label_units():
    frame = run(runs=3, years=0.1, seed=1, engine="vectorized")
    fig = plots.fan_chart(frame, "price_usd")
    assert fig.layout.template == pio.templates[figures.TEMPLATE]
    assert fig.layout.yaxis.title.text == "USD/SESH"
    assert fig.layout.yaxis.type == "log"
    assert [t.name for t in fig.data] == ["P5-P95", "P25-P75", "median"]
    with pytest.raises(ValueError, match="subsets"):
        plots.fan_chart(pd.concat([frame, frame.assign(subset=1)]), "price_usd")


def test_format_value():
    # the project's one number format (tests/test_numbers.py has its cases)
    assert plots.format_value(None, "SESH") == "–"
    assert plots.format_value(63_177_550.4, "SESH") == "63.2M"
    assert plots.format_value(0.151, "1/year") == "15.1%"
    assert plots.format_value(1.8e-06, "SESH") == "0.00000180"
    assert plots.format_value(20, "", count=True) == "20"


def test_kpi_tables_from_a_summary():
    frame = run(runs=3, years=0.1, seed=1, engine="vectorized")
    summary = kpis.summarize(frame)
    table = plots.kpi_table(summary)
    assert table.loc["price_usd_end", "p50"] == summary[0]["price_usd_end"]["p50"]
    both = {0: summary[0], 1: summary[0]}
    comparison = plots.kpi_comparison(both, {0: "a", 1: "b"})
    assert list(comparison.columns) == ["unit", "a", "b"]
    assert comparison.loc["nodes_end", "b"] == summary[0]["nodes_end"]["p50"]


def test_a_thinned_timeseries_is_drawn_without_a_crossing():
    frame = _frame(120, 2, lambda r, d: 10.0 * d, lambda r, d: 500.0)
    thinned = frame[frame["timestep"] % 10 == 0]
    assert plots.is_daily(frame) and not plots.is_daily(thinned)
    fig = plots.emission_vs_inflow(thinned)
    assert [t for t in fig.data if t.mode == "markers"] == []
    assert any("thinned" in a.text for a in fig.layout.annotations)
    paths = figures.Paths.of(thinned, ["reward_pool"])
    assert list(paths.days) == list(range(0, 121, 10))


def test_emission_chart_has_bands_of_emission_and_of_the_runs_mean_inflow():
    # run r's inflow ramps at r x 10/day: the bands are the percentiles across runs of each
    # run's 30-day trailing mean, not of the median path
    frame = _frame(120, 5, lambda r, d: 10.0 * r * d, lambda r, d: 400.0 + r)
    fig = plots.emission_vs_inflow(frame)
    bands = {t.name: t for t in fig.data if t.fill == "toself"}
    assert set(bands) == {
        "pool inflow, P5-P95",
        "pool inflow, P25-P75",
        "emission, P5-P95",
        "emission, P25-P75",
    }
    # the polygons span the percentiles of each run's 30-day mean inflow on day 100
    means = [np.mean([10.0 * r * d for d in range(71, 101)]) for r in range(1, 6)]
    inflow = sorted(_on_day(bands["pool inflow, P5-P95"], 100))
    assert inflow == pytest.approx(list(np.quantile(means, [0.05, 0.95])))
    inflow = sorted(_on_day(bands["pool inflow, P25-P75"], 100))
    assert inflow == pytest.approx(list(np.quantile(means, [0.25, 0.75])))
    emission = sorted(_on_day(bands["emission, P5-P95"], 5))
    assert emission[0] == pytest.approx(np.quantile([401.0 + i for i in range(5)], 0.05))
    # the inflow bands start with the first full window
    assert min(bands["pool inflow, P5-P95"].x) == figures.calendar([30])[0]
    # the medians and the crossing are still drawn, above the bands
    assert [t.mode for t in fig.data if t.mode == "markers"] == ["markers"]
    first_line = next(i for i, t in enumerate(fig.data) if t.fill != "toself")
    assert all(t.fill != "toself" for t in fig.data[first_line:])


def test_comparison_forest_one_row_per_kpi_with_its_interval_and_zero():
    table = pd.DataFrame(
        {
            "kpi": ["reward_pool_1y", "fee_parity_day", "staking_ratio_end", "reward_pool_5y"],
            "subset": 1,
            "reference_subset": 0,
            "mean_difference": [150_000.0, -10.0, 0.012, math.nan],
            "ci_low": [110_000.0, -22.0, 0.010, math.nan],
            "ci_high": [250_000.0, -7.0, 0.016, math.nan],
            "share_positive": [1.0, 0.0, 1.0, math.nan],
            "n": [20, 20, 20, 0],
        }
    )
    units = {name: kpis.REGISTRY[name].unit for name in table["kpi"]}
    fig = plots.comparison_forest(table, {0: "a", 1: "b"}, units)
    assert [list(t.y) for t in fig.data] == [
        ["reward_pool_1y"],
        ["fee_parity_day"],
        ["staking_ratio_end"],
    ]
    shares = fig.data[2]  # a share: percentage points
    assert shares.x[0] == pytest.approx(1.2)
    assert shares.error_x.array[0] == pytest.approx(0.4)
    assert shares.error_x.arrayminus[0] == pytest.approx(0.2)
    titles = [fig.layout[f"xaxis{i}" if i > 1 else "xaxis"].title.text for i in (1, 2, 3)]
    assert titles == [
        "difference (SESH)",
        "difference (days)",
        "difference (percentage points)",
    ]
    for i in (1, 2, 3):  # every panel shows zero and draws its zero line
        axis = fig.layout[f"xaxis{i}" if i > 1 else "xaxis"]
        assert axis.zeroline and axis.range[0] < 0 < axis.range[1]
    assert "reward_pool_5y" in fig.layout.title.subtitle.text  # named as having no value
    assert "mean over 20 run pairs" in fig.layout.title.subtitle.text
    assert fig.layout.width is None  # sized by its card
    # fewer pairs for a KPI only some runs have (parity reached in both runs of a pair)
    fewer = plots.comparison_forest(table.assign(n=[30, 20, 30, 0]), {0: "a", 1: "b"}, units)
    assert "both runs have a value (20 to 30 a KPI)" in fewer.layout.title.subtitle.text


def test_paths_of_any_frame_and_their_percentiles_equal_the_groupby_quantile():
    # a frame of whole sorted trajectories is reshaped; the same rows shuffled are placed row by
    # row: the same arrays, and the fan chart's median is pandas' groupby quantile (NaN skipped),
    # on daily and weekly points
    rng = np.random.default_rng(8)
    for runs, days in ((7, 30), (1, 12), (5, figures.MAX_DAILY_POINTS + 20)):
        frame = _frame(days, runs, lambda r, d: 0.0, lambda r, d: 0.0, subsets=2)
        values = np.round(rng.normal(0.0, 3.0, len(frame)), 1)
        values[rng.random(len(frame)) < 0.2] = math.nan
        frame["reward_pool"] = values
        assert figures._grid(frame) is not None
        shuffled = frame.sample(frac=1.0, random_state=2)
        assert figures._grid(shuffled) is None
        paths = figures.Paths.of(frame, ["reward_pool"])
        again = figures.Paths.of(shuffled, ["reward_pool"])
        assert paths.subsets == again.subsets == [0, 1]
        np.testing.assert_array_equal(paths.days, again.days)
        np.testing.assert_array_equal(paths.values["reward_pool"], again.values["reward_pool"])
        expected = frame.groupby(["subset", "timestep"])["reward_pool"].quantile(0.5)
        for step in (None, 1, 3):
            for subset in (0, 1):
                fig = plots.fan_chart(shuffled, "reward_pool", subset=subset, step=step)
                median = next(t for t in fig.data if t.name == "median")
                shown = expected.loc[subset].loc[list(median.customdata)].to_numpy()
                np.testing.assert_array_equal(np.asarray(median.y, dtype=float), shown)


def test_paths_pair_runs_by_number_across_subsets():
    frame = _frame(5, 3, lambda r, d: 0.0, lambda r, d: 0.0, subsets=2)
    frame = frame[~((frame["subset"] == 1) & (frame["run"] == 2))]  # subset 1 lost run 2
    paths = figures.Paths.of(frame, ["reward_pool"])
    cube = paths.values["reward_pool"]
    assert cube.shape == (2, 3, 6)
    assert np.isnan(cube[1, 1]).all() and not np.isnan(cube[1, 2]).any()
    assert cube[1, 2, 4] == 100.0 * 3 + 4  # run 3 stays run 3


def test_difference_over_time_is_the_paired_difference_per_day():
    # subset 1's pool is subset 0's plus 10 x run: the per-day differences are 10, 20, 30
    frame = _frame(20, 3, lambda r, d: 0.0, lambda r, d: 0.0, subsets=2)
    frame.loc[frame["subset"] == 1, "reward_pool"] += 10.0 * frame["run"]
    fig = plots.difference_lines(frame, "reward_pool", {0: "a", 1: "b"})
    median = next(t for t in fig.data if t.mode == "lines" and t.fill != "toself")
    assert median.name == "b \u2212 a"
    assert set(np.asarray(median.y, dtype=float)) == {20.0}
    band = next(t for t in fig.data if t.fill == "toself")
    assert sorted(_on_day(band, 7)) == pytest.approx(list(np.quantile([10, 20, 30], [0.05, 0.95])))
    assert fig.layout.yaxis.zeroline


def test_subset_lines_have_their_p5_p95_bands():
    frame = _frame(20, 5, lambda r, d: 0.0, lambda r, d: 0.0, subsets=2)
    fig = plots.subset_lines(frame, "reward_pool", {0: "a", 1: "b"})
    lines = [t for t in fig.data if t.fill != "toself"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [t.name for t in lines] == ["a", "b"]
    assert [t.legendgroup for t in bands] == ["a", "b"]
    values = [100.0 * r + 3 for r in range(1, 6)]
    assert sorted(_on_day(bands[0], 3)) == pytest.approx(list(np.quantile(values, [0.05, 0.95])))


def test_sensitivity_bars_never_reach_below_zero():
    table = pd.DataFrame(
        {
            "kpi": "nodes_end",
            "parameter": ["a", "b"],
            "mu_star": [10.0, 1.0],
            "mu_star_conf": [2.0, 3.0],  # b's half-width is larger than its mu*
            "rank": [1, 2],
        }
    )
    bars = figures.sensitivity_bars(table, "nodes_end")["data"][0]
    low = np.asarray(bars["x"]) - np.asarray(bars["error_x"]["arrayminus"])
    high = np.asarray(bars["x"]) + np.asarray(bars["error_x"]["array"])
    assert list(bars["y"]) == ["b", "a"]
    assert low.tolist() == [0.0, 8.0] and high.tolist() == [4.0, 12.0]


# --- numbers on a chart: the tables' format ------------------------------------------------------

PLOTLY_NUMBER = re.compile(r"%\{[^}]*[:|]")  # a plotly/d3 number format inside a hovertemplate


def _every_figure() -> dict[str, dict]:
    """One figure of every kind figures.py draws, from small hand-made arrays."""
    days = np.arange(40)
    runs = np.arange(1, 6)[:, None]
    growth = 1e5 * runs * (days + 1.0)  # SESH: hundreds of thousands to millions
    pair = np.stack([growth, growth * 1.5])
    share = 0.1 + 0.001 * runs * days
    emission = np.full((2, 5, 40), 20_000.0)
    inflow = np.stack([np.full((5, 40), 1_000.0) * days, np.full((5, 40), 900.0) * days])
    table = pd.DataFrame(
        {
            "kpi": ["reward_pool_1y", "fee_parity_day", "staking_ratio_end"],
            "subset": 1,
            "reference_subset": 0,
            "mean_difference": [2_300_000.0, -10.4, 0.012],
            "ci_low": [1_500_000.0, -22.0, 0.010],
            "ci_high": [3_000_000.0, -7.0, 0.016],
            "share_positive": [0.96, 0.0, 1.0],
            "n": [100, 40, 100],
        }
    )
    per_run = pd.DataFrame(
        {"subset": [0] * 4, "run": [1, 2, 3, 4], "staking_ratio_end": [0.31, 0.405, 0.5, 0.62]}
    )
    morris = pd.DataFrame(
        {
            "kpi": "fee_parity_within_730d",
            "parameter": ["a", "b"],
            "mu_star": [0.2, 0.01],
            "mu_star_conf": [0.05, 0.02],
            "rank": [1, 2],
        }
    )
    units = {name: kpis.REGISTRY[name].unit for name in table["kpi"]}
    series = {"a": pd.Series([0.0001, 0.0002, 0.00015], index=[1, 2, 3])}
    return {
        "fan": figures.fan(days, growth, "reward_pool"),
        "fan_share": figures.fan(days, share, "node_apr_sesh"),
        "fan_log": figures.fan(days, np.exp(-0.01 * runs * days), "price_usd"),
        "fan_count": figures.fan(days, 1000.0 + runs * days, "nodes"),
        "lines": figures.lines(days, pair, "reward_pool", ["a", "b"]),
        "differences": figures.differences(days, pair, "reward_pool", ["a", "b"]),
        "emission": figures.emission(days, emission, inflow, ["a", "b"]),
        "time_lines": figures.time_lines(series, "small", "USD/SESH"),
        "forest": figures.forest(table, {0: "a", 1: "b"}, units),
        "kpi_box": figures.kpi_box(per_run, "staking_ratio_end", {0: "a"}),
        "sensitivity": figures.sensitivity_bars(morris, "fee_parity_within_730d"),
    }


def _numeric_axes(fig: dict) -> list[dict]:
    """The figure's axes that carry numbers (not the calendar or a category axis)."""
    dated = any(
        isinstance(x, str) and x[:2] == "20" for t in fig["data"] for x in t.get("x", [])[:1]
    )
    return [
        axis
        for key, axis in fig["layout"].items()
        if re.fullmatch(r"[xy]axis\d*", key)
        and axis.get("type") != "category"
        and not (key == "xaxis" and dated)
    ]


def test_every_chart_writes_its_numbers_in_the_tables_format():
    """Hover texts are numbers.py's (no plotly number format in any hovertemplate), and every
    numeric axis is labelled by one of the formats that match numbers.format_tick (the browser
    test reads the drawn labels) or by ticks set from numbers.format_tick."""
    formats = {figures.PERCENT_TICKS, figures.COUNT_TICKS}
    for name, fig in _every_figure().items():
        hovered = [t for t in fig["data"] if "hovertemplate" in t]
        assert hovered, name
        for trace in hovered:
            assert not PLOTLY_NUMBER.search(trace["hovertemplate"]), (name, trace["hovertemplate"])
            for key in ("x", "y"):  # a number straight from the data (a category name is text)
                values = trace.get(key)
                numeric = values is not None and not isinstance(np.asarray(values).flat[0], str)
                assert not (numeric and f"%{{{key}}}" in trace["hovertemplate"]), (name, key)
        axes = _numeric_axes(fig)
        assert axes, name
        for axis in axes:
            if axis.get("type") == "log":
                assert axis["ticktext"] == [numbers.format_tick(v) for v in axis["tickvals"]]
            elif "tickformatstops" in axis:
                assert axis["tickformatstops"] == [dict(s) for s in figures.AMOUNT_TICKS], name
                assert axis["exponentformat"] == "B" and axis["separatethousands"], name
            else:
                assert axis["tickformat"] in formats, (name, axis)


def test_hover_texts_are_numbers_quantity_of_the_values():
    drawn = _every_figure()
    median = next(t for t in drawn["fan"]["data"] if t["name"] == "median")
    assert median["text"] == [numbers.quantity(v, "SESH") for v in median["y"]]
    assert median["text"][-1] == numbers.quantity(3e5 * 40, "SESH") == "12.0M SESH"
    share = next(t for t in drawn["fan_share"]["data"] if t["name"] == "median")
    assert share["text"][1] == "10.3% a year"  # 0.1 + 0.001 x 3 x 1: a rate, in percent
    assert drawn["fan_share"]["layout"]["yaxis"]["tickformat"] == figures.PERCENT_TICKS
    assert drawn["fan_count"]["layout"]["yaxis"]["tickformat"] == figures.COUNT_TICKS
    difference = next(t for t in drawn["differences"]["data"] if "text" in t)
    assert difference["text"][0] == numbers.quantity(np.median(difference["y"][:1]), "SESH", True)
    assert difference["text"][0].startswith("+")
    small = drawn["time_lines"]["data"][0]["text"]
    assert small == ["$0.000100 per SESH", "$0.000200 per SESH", "$0.000150 per SESH"]
    forest = [t["customdata"][0] for t in drawn["forest"]["data"]]
    assert forest == [
        "+2.30M SESH (95%: +1.50M to +3.00M), n = 100",
        "\u221210 days (95%: \u221222 to \u22127), n = 40",
        "+1.20 pp (95%: +1.00 to +1.60), n = 100",
    ]
    box = drawn["kpi_box"]["data"][0]
    assert box["text"] == ["31.0%", "40.5%", "50.0%", "62.0%"] and box["hoveron"] == "points"
    bars = drawn["sensitivity"]["data"][0]
    assert bars["text"] == ["mu* 1.00 pp [0, 3.00]", "mu* 20.0 pp [15.0, 25.0]"]
    assert list(bars["x"]) == pytest.approx([1.0, 20.0])  # percentage points on the axis


def test_format_tick_is_the_table_format_with_the_digits_a_tick_needs():
    cases = [
        (0.05, "", "0.05"),
        (1_500_000, "", "1.5M"),
        (200_000, "", "200k"),
        (-20_000_000, "", "\u221220M"),
        (2e9, "", "2B"),
        (0.125, "share", "12.5%"),
        (1000, "nodes", "1,000"),
        (0.0001, "", "0.0001"),
        (0, "", "0"),
    ]
    for value, unit, text in cases:
        assert numbers.format_tick(value, unit) == text


# --- the inflow/emission ratio as a path ----------------------------------------------------------


def test_ratio_chart_is_the_median_and_p5_p95_of_each_runs_trailing_ratio_with_a_line_at_one():
    # run r: inflow r a day from day 1, emission 2 a day: each run's ratio is r / 2 from the first
    # full window (day 30) on; across runs 1..5 the median is 1.5
    frame = _frame(60, 5, lambda r, d: float(r) * (d >= 1), lambda r, d: 2.0 * (d >= 1))
    fig = plots.inflow_emission_ratio(frame, step=1)
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {"median", "P5-P95"}
    values = np.arange(1, 6) / 2.0
    for day in (30, 45, 60):
        assert _on_day(traces["median"], day) == pytest.approx([1.5])
        expected = sorted(np.quantile(values, [0.05, 0.95]))
        assert sorted(_on_day(traces["P5-P95"], day)) == pytest.approx(expected)
    assert _on_day(traces["median"], 29) == []  # no full window yet: no point
    assert len(traces["median"].x) == 31  # days 30..60
    line = fig.layout.shapes[0]
    assert (line.y0, line.y1, line.xref, line.yref) == (1.0, 1.0, "paper", "y")


def test_ratio_chart_of_a_sweep_has_a_line_per_subset_and_of_a_thinned_run_a_note():
    # subset 1 has 1 more inflow a day (see _frame): its runs' ratios are (r + 1) / 2
    frame = _frame(40, 3, lambda r, d: float(r), lambda r, d: 2.0, subsets=2)
    fig = plots.inflow_emission_ratio(frame, {0: "a", 1: "b"}, step=1)
    lines = {t.name: t for t in fig.data if t.mode == "lines" and t.fill is None}
    assert _on_day(lines["a"], 40) == pytest.approx([1.0])
    assert _on_day(lines["b"], 40) == pytest.approx([1.5])
    thinned = frame[frame["timestep"] % 5 == 0]
    fig = plots.inflow_emission_ratio(thinned)
    assert not fig.data
    assert "needs every day" in fig.layout.annotations[0].text


def test_ratio_chart_agrees_with_the_ratio_kpi_at_the_end():
    route = {"pro_revenue_route": "pool", "sns_deployed": True}
    one = run(route, runs=5, years=0.5, seed=2, engine="vectorized")
    fig = plots.inflow_emission_ratio(one, step=1)
    median = {t.name: t for t in fig.data}["median"]
    last = int(one["timestep"].max())
    table = kpis.per_run(one)
    assert _on_day(median, last) == pytest.approx([table["inflow_emission_ratio_end"].median()])
