"""The one-at-a-time sensitivity of the headlines (experiments/analysis/headlines.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.analysis import headlines, kpis
from experiments.engines.registry import RunSpec
from experiments.engines.streaming import stream
from model import Parameters


def test_unsupported_parameters_are_the_assumptions_and_nothing_else():
    names = headlines.unsupported_parameters()
    info = Parameters.field_info()
    assert names, "the model has assumptions"
    for name in names:
        assert "assumption" in info[name]["source"].lower()
        assert not info[name]["choices"] and not isinstance(info[name]["default"], bool)
    # facts from the contracts are not assumptions; switches and the stress shock are not varied
    for fact in ("staking_requirement", "pool_payout_rate", "claim_cap_per_day"):
        assert fact not in names
    assert not set(headlines.NOT_VARIED) & set(names)


def test_points_vary_only_what_no_headline_of_the_scenario_fixes():
    found = headlines.scenarios()
    points = headlines.points(parameters=["reward_sell_share", "fee_pool_share"])
    defaults = [w for _, _, w in points if w["parameter"] == headlines.DEFAULT]
    assert [w["scenario"] for w in defaults] == list(range(len(found)))
    for _label, overrides, where in points:
        scenario = found[where["scenario"]]
        assert {k: overrides[k] for k in scenario} == scenario
        if where["parameter"] == "fee_pool_share":
            # the split headline sets the share in its scenarios: never varied there
            assert "fee_pool_share" not in scenario
        if where["parameter"] != headlines.DEFAULT:
            low, high = headlines.plausible_range(where["parameter"])
            assert overrides[where["parameter"]] == (low if where["end"] == "low" else high)
            assert where["value"] == overrides[where["parameter"]]


def test_an_end_that_breaks_a_rule_between_parameters_is_moved_to_the_nearest_valid_value():
    # a scenario whose latest launch day is 400: the earliest day's high end (563) would come
    # after it, so the nearest valid value towards the default (385) is used, 400
    scenario = {"pro_launch_day_latest": 400}
    assert headlines._valid_end(scenario, "pro_launch_day_earliest", 563.0) == 400
    assert headlines._valid_end(scenario, "pro_launch_day_earliest", 390.0) == 390
    assert headlines._valid_end({}, "reward_sell_share", 0.6) == 0.6


def test_documented_ranges_and_inactive_switches():
    assert headlines.plausible_range("pro_launch_day_latest") == (563.0, 1095.0)
    names = headlines.unsupported_parameters()
    for inactive in ("foundation_failure_day", "gov_node_level", "stress_day"):
        assert inactive not in names


def test_whole_number_parameters_get_whole_ends():
    name = next(n for n, m in Parameters.field_info().items() if m["integer"] and m["default"] > 1)
    low, high = headlines.plausible_range(name)
    assert low == int(low) and high == int(high) and low < high


def _frame(values: dict[int, list[float]], kpi: str) -> pd.DataFrame:
    rows = []
    for subset, column in values.items():
        for run, value in enumerate(column, start=1):
            rows.append({"subset": subset, "run": run, kpi: value})
    return pd.DataFrame(rows)


def test_table_reduces_each_point_by_hand():
    paired = headlines.Headline("diff", "a paired difference", "nodes_min", {"x": 1}, {})
    plain = headlines.Headline("level", "a median", "nodes_min")
    lo, hi = 0.2, 0.6
    where = [
        {"scenario": 0, "parameter": "default", "end": "default"},  # {"x": 1}
        {"scenario": 1, "parameter": "default", "end": "default"},  # {}
        {"scenario": 0, "parameter": "reward_sell_share", "end": "low", "value": lo},
        {"scenario": 0, "parameter": "reward_sell_share", "end": "high", "value": hi},
        {"scenario": 1, "parameter": "reward_sell_share", "end": "low", "value": lo},
        {"scenario": 1, "parameter": "reward_sell_share", "end": "high", "value": hi},
    ]
    per_run = _frame(
        {
            0: [10.0, 20.0, 30.0],
            1: [1.0, 2.0, 3.0],
            2: [5.0, 5.0, np.nan],  # a run without a value is left out of the pair
            3: [40.0, 50.0, 60.0],
            4: [1.0, 1.0, 1.0],
            5: [0.0, 0.0, 0.0],
        },
        "nodes_min",
    )
    table = headlines.table(per_run, where, seed=0, headlines=(paired, plain))
    row = table.set_index("headline").loc["diff"]
    assert row["at_default"] == 18.0  # median of 9, 18, 27
    assert row["at_low"] == 4.0  # median of 4, 4
    assert row["at_high"] == 50.0  # median of 40, 50, 60 minus 0
    assert row["swing"] == 46.0 and row["rank"] == 1 and row["n"] == 3
    assert (row["low"], row["high"]) == (lo, hi)
    level = table.set_index("headline").loc["level"]
    assert (level["at_default"], level["at_low"], level["at_high"]) == (2.0, 1.0, 0.0)
    assert level["ci_low"] <= level["at_default"] <= level["ci_high"]


def test_a_share_gets_the_wilson_interval():
    headline = headlines.Headline("share", "parity share", "fee_parity_within_730d")
    rows = pd.DataFrame(
        {
            "run": range(1, 21),
            "fee_parity_day": [100.0] * 8 + [np.nan] * 12,
            "last_day": [1825] * 20,
        }
    )
    low, high, n = headlines.interval(headline, rows, None, seed=0)
    expected = stats.binomtest(8, 20).proportion_ci(0.95, "wilson")
    assert (low, high, n) == pytest.approx((expected.low, expected.high, 20))


def test_the_default_point_is_the_scenario_on_its_own_draws():
    """Common draws: each scenario's default point is that scenario run alone (same seed, runs),
    so a headline's value at the default is the value the experiment itself reports."""
    points = headlines.points(parameters=["reward_sell_share"])
    spec = RunSpec(4, 5, 3, "vectorized", common_draws=True)
    sets = [Parameters.from_overrides(o) for _, o, _ in points]
    per_run = stream(sets, spec, kpis.per_run_paths, record=kpis.KPI_COLUMNS).reduced
    table = headlines.table(per_run, [w for _, _, w in points], seed=0)
    alone = stream(
        [Parameters()],
        RunSpec(4, 5, 3, "vectorized", common_draws=True),
        kpis.per_run_paths,
        record=kpis.KPI_COLUMNS,
    ).reduced
    price = table.set_index("headline").loc["price_5y_baseline"]
    assert price["at_default"] == pytest.approx(alone["price_usd_end"].median(), rel=1e-12)
    # moving an assumption moves the number on the same draws
    nodes = table.set_index("headline").loc["nodes_min_baseline"]
    assert np.isfinite([nodes["at_low"], nodes["at_high"]]).all()


def test_the_report_shows_each_headline_with_its_interval_and_what_moves_it(tmp_path):
    """A (tiny) run of the experiment: the page has the section, each headline's claim with its
    value at the defaults, and its parameters in rank order with the ends as set."""
    import html
    import re

    from cli_support import main

    out = tmp_path / "hs"
    assert main("run", "headline_sensitivity", "--runs", "2", "--out", str(out)) == 0
    table = pd.read_csv(out / "headline_sensitivity.csv")
    page = (out / "report.html").read_text()
    start = page.index('<section id="headlines">')
    section = html.unescape(page[start : page.index("</section>", start)])
    for claim, group in table.groupby("claim", sort=False):
        assert claim in section
        order = group.sort_values("rank")["parameter"].head(8).tolist()
        found = [name for name in re.findall(r"<td>([a-z_0-9]+)</td>", section) if name in order]
        assert found[: len(order)] == order or set(order) <= set(found)
    first = table.sort_values("rank").iloc[0]
    assert f"{first['low']:,.6g} to {first['high']:,.6g}" in section
