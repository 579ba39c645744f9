"""The explorer's page: the controls (one per parameter, for A and for B), the run settings, and
what a computed view shows (status, command lines, charts, KPI and difference tables).

Everything the page needs is served by the app itself (Dash serves its JavaScript from the
Python package; the styles, style.css, are inline; system fonts): it works offline.
"""

from __future__ import annotations

import functools
from importlib import resources

from experiments.analysis import kpis
from experiments.explorer import charts
from experiments.explorer.cache import MAX_RUN_YEARS, Outcome
from experiments.explorer.state import (
    INFO,
    LABELS,
    View,
    cli_lines,
    control_id,
    error_id,
    value_text,
)
from experiments.reporting import numbers, report
from model.parameters import allowed

# The main levers, shown first; every other parameter is in the "all parameters" panel.
MAIN_LEVERS: dict[str, tuple[str, ...]] = {
    "Fee split and payout": ("fee_pool_share", "pool_payout_rate"),
    "Staking": ("staking_requirement", "launch_smoothing"),
    "Demand": ("pro_conversion", "sns_names_per_user", "pro_revenue_route", "sns_deployed"),
    "Price": ("price_model", "eth_volatility", "ref_volatility", "demand_volatility"),
    "Unlock selling": (
        "unlock_sell_share_strategic",
        "unlock_sell_share_ecosystem",
        "unlock_sell_share_treasury_ops",
        "unlock_sell_share_contributors",
    ),
}
MAIN_NAMES = tuple(name for names in MAIN_LEVERS.values() for name in names)
OTHER_NAMES = tuple(name for name in INFO if name not in MAIN_NAMES)


@functools.cache
def index_page() -> str:
    """Dash's index string with style.css inline (no request for a stylesheet)."""
    css = resources.files("experiments.explorer").joinpath("style.css").read_text()
    return (
        """<!DOCTYPE html>
<html lang="en">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>"""
        + css
        + """</style></head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""
    )


def _help(name: str) -> str:
    meta = INFO[name]
    unit = meta["unit"] if meta["unit"] not in ("bool", "choice") else ""
    return (
        f"{meta['meaning']}. {allowed(name).capitalize()}"
        + (f" {unit}" if unit else "")
        + f"; default {value_text(meta['default'])}. Source: {meta['source']}"
    )


def _control(scenario: str, name: str):
    from dash import dcc, html

    meta = INFO[name]
    ident = control_id(scenario, name)
    default = value_text(meta["default"])
    placeholder = f"= A (default {default})" if scenario == "b" else default
    if isinstance(meta["default"], bool) or meta["choices"]:
        options = ["true", "false"] if isinstance(meta["default"], bool) else meta["choices"]
        widget = dcc.Dropdown(
            id=ident,
            options=[{"label": o, "value": o} for o in options],
            placeholder=placeholder,
            clearable=True,
            searchable=False,
        )
    else:
        widget = dcc.Input(id=ident, type="text", debounce=True, placeholder=placeholder)
    return html.Div(
        [
            html.Label(name),
            widget,
            html.Div(id=error_id(scenario, name), className="error"),
            html.Div(_help(name), className="help"),
        ],
        className="control",
    )


def _run_control(name: str, help_text: str):
    from dash import dcc, html

    return html.Div(
        [
            html.Label(name),
            dcc.Input(id=control_id("run", name), type="text", debounce=True),
            html.Div(id=error_id("run", name), className="error"),
            html.Div(help_text, className="help"),
        ],
        className="control",
    )


def _scenario_controls(scenario: str) -> list:
    from dash import html

    out = []
    for group, names in MAIN_LEVERS.items():
        out.append(html.H3(group))
        out += [_control(scenario, name) for name in names]
    out.append(
        html.Details(
            [
                html.Summary(f"All parameters ({len(OTHER_NAMES)} more)"),
                *[_control(scenario, name) for name in OTHER_NAMES],
            ]
        )
    )
    return out


def layout():
    from dash import dcc, html

    limit = f"runs x years x scenarios up to {MAX_RUN_YEARS:,}"
    side = html.Div(
        [
            html.H2("Run"),
            _run_control("runs", f"Monte Carlo runs per scenario; {limit}"),
            _run_control("years", "horizon in years (one day to 100)"),
            _run_control("seed", "master seed: the same seed gives the same shocks"),
            html.H2("Scenario A"),
            html.Div("Empty: the model's default (shown grey).", className="help"),
            *_scenario_controls("a"),
            html.H2("Scenario B"),
            html.Div(
                "Set any value to add scenario B: A's parameters plus these, on the same "
                "shocks run by run (common random numbers).",
                className="help",
            ),
            html.Details([html.Summary("Scenario B's overrides"), *_scenario_controls("b")]),
        ],
        className="side",
    )
    main = html.Div(
        [
            html.Div(
                [
                    html.Div(id="status"),
                    html.Div(id="cli"),
                    html.Button("KPIs (CSV)", id="download-kpis"),
                    html.Button("Timeseries (parquet)", id="download-timeseries"),
                    dcc.Download(id="download"),
                    html.Div(id="download-status", className="error"),
                ],
                className="card",
            ),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id="differences"),
                        html.Div(id="charts-holder"),
                        html.Div(id="kpis", className="card"),
                    ]
                ),
                delay_show=300,
            ),
        ],
        className="main",
    )
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            html.Header(
                [
                    html.H1("SESH economy explorer"),
                    html.P(
                        "The cadCAD model of the Session Token, vectorized engine. The address "
                        "bar holds the whole view: copy it to share this scenario."
                    ),
                ]
            ),
            html.Div([side, main], className="page"),
        ]
    )


def kpi_table(outcome: Outcome):
    from dash import html

    table = kpi_rows(outcome)
    head = [html.Th("KPI"), html.Th("unit")] + [
        html.Th(f"{label}: median (P5 to P95)") for _, label in table["subsets"]
    ]
    body = []
    for row in table["rows"]:
        cells = [
            html.Td(
                [cell.text, html.Span(cell.spread, className="spread")]
                if cell.spread and cell.spread != "– to –"
                else cell.text,
                **{"data-value": cell.value},
            )
            for cell in row["cells"]
        ]
        meaning = kpis.REGISTRY[row["kpi"]].description if row["kpi"] in kpis.REGISTRY else ""
        body.append(html.Tr([html.Td(row["kpi"], title=meaning), html.Td(row["unit"]), *cells]))
    runs = outcome.view.runs
    return [
        html.H2(f"Key performance indicators ({runs:,} runs per scenario)"),
        html.Table([html.Thead(html.Tr(head)), html.Tbody(body)]),
    ]


def difference_table(outcome: Outcome):
    from dash import html

    rows = difference_rows(outcome)
    if not rows:
        return None
    head = ["KPI", "unit", "mean B − A", "95% interval", "share B > A", "pairs"]
    body = [
        html.Tr(
            [
                html.Td(r["kpi"]),
                html.Td(r["unit"]),
                html.Td(r["mean_difference"]),
                html.Td(r["interval"]),
                html.Td(r["share_positive"]),
                html.Td(r["n"]),
            ]
        )
        for r in rows
    ]
    return html.Div(
        [
            html.H2("Paired differences B − A, on common random numbers"),
            html.Div(
                "Run r of A and of B see the same shocks; per KPI: the mean of the run-by-run "
                "differences, its 95% bootstrap interval (BCa), the share of pairs where B is "
                "higher, the number of pairs.",
                className="help",
            ),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)]),
        ],
        className="card",
    )


def chart_cards(outcome: Outcome) -> list:
    from dash import dcc, html

    out = []
    config = {"displaylogo": False, "responsive": True}
    for chart, row in charts.figures(outcome).items():
        for position, fig in enumerate(row):
            # one figure per scenario; a single one across both (B minus A) takes the whole row
            label = LABELS.get(position, str(position)) if chart != charts.DIFFERENCE else "B-A"
            height = fig["layout"].get("height", 460)  # the template's; responsive fills the box
            graph = dcc.Graph(
                id=f"chart-{chart}-{label}",
                figure=fig,
                config=config,
                style={"height": f"{height}px"},
            )
            wide = " wide" if len(row) == 1 and outcome.view.has_b else ""
            out.append(html.Div(graph, className=f"card chart{wide}"))
    return out


def cli_block(view: View) -> list:
    from dash import dcc, html

    out = []
    for label, line in cli_lines(view).items():
        ident = f"cli-{label}"
        out.append(
            html.Div(
                [
                    html.Pre(f"# {label}\n{line}", id=ident),
                    dcc.Clipboard(target_id=ident, title=f"copy the command line of {label}"),
                ],
                className="cli",
            )
        )
    return out


def kpi_rows(outcome: Outcome) -> dict:
    """The report's KPI comparison (median, P5 to P95 under it; or the single value)."""
    return report.comparison_table(outcome.summary, LABELS)


def difference_rows(outcome: Outcome) -> list[dict[str, str]]:
    """The paired differences B - A, formatted as the report formats them
    (numbers.difference_cells), the interval as "low to high"."""
    if outcome.differences is None:
        return []
    rows = []
    for row in outcome.differences.to_dict(orient="records"):
        unit = kpis.REGISTRY[row["kpi"]].unit
        cells = numbers.difference_cells(row, unit)
        low, high = cells.pop("ci_low"), cells.pop("ci_high")
        interval = f"{low} to {high}" if low != numbers.MISSING else numbers.MISSING
        rows.append(
            {"kpi": row["kpi"], "unit": numbers.difference_unit(unit), "interval": interval} | cells
        )
    return rows
