"""The timeseries columns a report draws, in a module light enough for the run planner.

`experiments.plan` sizes a streamed run's report phase by these columns before anything runs;
importing `experiments.reporting.report` for them would load plotly and Jinja2 first.
"""

from __future__ import annotations

# Fan charts (one subset) or median lines (a sweep), in this order, then emission vs inflow.
CHART_COLUMNS = (
    "reward_pool",
    "circulating_supply",
    "staked",
    "amm_sesh",
    "amm_quote",
    "price_usd",
    "nodes",
    "node_apr_sesh",
)
# The timeseries columns a report draws: the charts' and the emission chart's.
NEEDED_COLUMNS = [*CHART_COLUMNS, "daily_emission", "daily_pool_inflow"]
