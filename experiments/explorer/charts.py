"""What a view draws: the report's fan charts and its emission chart, one per scenario (A, then
B, on one y scale), and with B the report's paired difference over time (B minus A, run by run,
per day: median and P5-P95), as figure dicts from experiments.reporting.figures.

The figures are built from the view's (runs, days) arrays, cut once from its frame, and sent as
plotly.js typed arrays: `dcc.Graph(figure=...)` passes them to the page as they are.
"""

from __future__ import annotations

from typing import Any

from experiments.explorer.state import LABELS
from experiments.reporting import figures as draw
from experiments.reporting.report import DIFFERENCE_COLUMN

EMISSION = "emission"
# (chart id, timeseries column, or EMISSION for daily emission against daily pool inflow)
CHARTS = (
    ("reward_pool", "reward_pool"),
    ("emission", EMISSION),
    ("price", "price_usd"),
    ("nodes", "nodes"),
    ("yield", "node_apr_sesh"),
    ("supply", "circulating_supply"),
)
# with B: the paired difference over time of the report's column (one figure, B minus A)
DIFFERENCE = "difference"
CHART_COLUMNS = list(
    dict.fromkeys(
        [c for _, c in CHARTS if c != EMISSION]
        + ["daily_emission", "daily_pool_inflow", DIFFERENCE_COLUMN]
    )
)
EMISSION_TITLE = "Daily emission vs daily pool inflow"


def figures(outcome: Any) -> dict[str, list[dict]]:
    """Chart id -> one figure per scenario of `outcome` (a cache.Outcome: its frame's subset 0
    is A, 1 is B), B's y axis matched to A's; with B, then DIFFERENCE -> [B minus A over time]."""
    paths = draw.Paths.of(outcome.frame, CHART_COLUMNS)
    emission, inflow = paths.values["daily_emission"], paths.values["daily_pool_inflow"]
    days = paths.days
    trailing = draw.parity_means(days, emission, inflow)
    several = len(paths.subsets) > 1
    out = {}
    for chart, column in CHARTS:
        row = []
        for position, subset in enumerate(paths.subsets):
            label = LABELS.get(subset, f"subset {subset}")
            if column == EMISSION:
                one = slice(position, position + 1)
                fig = draw.emission(
                    days, emission[one], inflow[one], [label], trailing=[trailing[position]]
                )
                title = EMISSION_TITLE
            else:
                fig = draw.fan(days, paths.values[column][position], column)
                title = draw.variable(column).title
            fig["layout"]["title"]["text"] = f"{label}: {title}" if several else title
            row.append(fig)
        if several:
            draw.match_y(row)
        out[chart] = [draw.typed(fig) for fig in row]
    if several:
        labels = [LABELS.get(subset, f"subset {subset}") for subset in paths.subsets]
        fig = draw.differences(days, paths.values[DIFFERENCE_COLUMN], DIFFERENCE_COLUMN, labels)
        out[DIFFERENCE] = [draw.typed(fig)]
    return out
