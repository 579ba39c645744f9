"""The plotting helpers: percentiles, the emission/inflow crossing, calendar axes, formatting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from experiments.analysis import kpis
from experiments.reporting import plots
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


def test_bands_are_the_percentiles_across_runs():
    frame = _frame(10, 7, lambda r, d: 0.0, lambda r, d: 0.0)
    table = plots.bands(frame, "reward_pool", step=1)
    day = table[table["timestep"] == 4].iloc[0]
    values = np.array([100.0 * r + 4 for r in range(1, 8)])
    for name, q in plots.BANDS.items():
        assert day[name] == pytest.approx(np.quantile(values, q))
    assert len(table) == 11


def test_weekly_points_beyond_the_daily_limit_keep_the_last_day():
    frame = _frame(plots.MAX_DAILY_POINTS + 10, 2, lambda r, d: 0.0, lambda r, d: 0.0)
    days = plots.bands(frame, "reward_pool")["timestep"]
    assert days.iloc[-1] == plots.MAX_DAILY_POINTS + 10
    assert set(np.diff(days.iloc[:-1])) == {plots.WEEK}


def test_crossing_is_the_fee_parity_rule_on_the_median_paths():
    # inflow ramps up by 10/day, emission flat at 500: daily crossing on day 50, the 30-day
    # trailing means cross 14.5 days later (the mean lags the ramp by half the window)
    frame = _frame(120, 3, lambda r, d: 10.0 * d, lambda r, d: 500.0)
    day = plots.parity_crossings(frame)[0]
    assert day == 65
    median = frame.groupby("timestep")[["daily_pool_inflow", "daily_emission"]].median()
    assert day == kpis.fee_parity_day(median.reset_index())


def test_no_crossing_is_nan_and_says_so_on_the_chart():
    frame = _frame(60, 2, lambda r, d: 1.0, lambda r, d: 500.0)
    assert math.isnan(plots.parity_crossings(frame)[0])
    fig = plots.emission_vs_inflow(frame)
    assert any("no crossing" in a.text for a in fig.layout.annotations)


def test_crossing_is_marked_per_subset_in_a_sweep():
    frame = _frame(120, 2, lambda r, d: 10.0 * d, lambda r, d: 500.0, subsets=2)
    fig = plots.emission_vs_inflow(frame, {0: "low", 1: "high"})
    markers = [t for t in fig.data if t.mode == "markers"]
    assert len(markers) == 2
    assert {t.legendgroup for t in fig.data} == {"low", "high"}


def test_calendar_starts_at_tge():
    assert list(plots.calendar([0, 1, 365])) == ["2025-05-21", "2025-05-22", "2026-05-21"]


def test_charts_use_the_theme_and_label_units():
    frame = run(runs=3, years=0.1, seed=1, engine="vectorized")
    fig = plots.fan_chart(frame, "price_usd")
    assert fig.layout.template == pio.templates[plots.TEMPLATE]
    assert fig.layout.yaxis.title.text == "USD/SESH"
    assert fig.layout.yaxis.type == "log"
    assert [t.name for t in fig.data] == ["P5-P95", "P25-P75", "median"]
    with pytest.raises(ValueError, match="subsets"):
        plots.fan_chart(pd.concat([frame, frame.assign(subset=1)]), "price_usd")


def test_format_value():
    assert plots.format_value(None, "SESH") == "–"
    assert plots.format_value(float("nan"), "SESH") == "–"
    assert plots.format_value(63_177_550.4, "SESH") == "63,177,550"
    assert plots.format_value(0.151, "1/year") == "15.1%"
    assert plots.format_value(0.4, "share of runs") == "40.0%"
    assert plots.format_value(428.9, "day") == "429"
    assert plots.format_value(0.13318, "USD/SESH") == "0.1332"
    assert plots.format_value(12.345, "USD/day") == "12.35"
    assert plots.format_value(1.8e-06, "SESH") == "1.8e-06"
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
    assert list(plots.bands(thinned, "reward_pool")["timestep"]) == list(range(0, 121, 10))
    with pytest.raises(ValueError, match="every day"):
        plots.parity_crossings(thinned)
