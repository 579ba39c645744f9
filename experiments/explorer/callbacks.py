"""The explorer's callbacks, as plain functions the tests call directly (`update`, `sync`,
`download_message`), and the Dash app that wires them to the page (`make_app`).

A callback never raises to the page: a bad value shows its message beside its control, a
refusal or a failure is a line in the status. The server is threaded, so one slow request does
not hold up another; the memory gate (`cache.HEAVY`) bounds how many compute at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from experiments import memory
from experiments.explorer import cache, layout
from experiments.explorer.state import (
    control_key,
    controls_from_query,
    parse_query,
    query_from_controls,
    years_text,
)


def update(search: str | None, controls: Sequence[Mapping[str, str]]) -> tuple:
    """The compute callback as a plain function: (charts, KPI table, differences, status, CLI
    lines, one error text per control). Never raises: a bad value or a failure is a message."""
    from dash import html, no_update

    try:
        view, errors = parse_query(search)
        keys = {control_key(c) for c in controls}
        shown = [errors.get(control_key(c), "") for c in controls]
        if errors:
            loose = [message for key, message in errors.items() if key not in keys]
            status = html.Div(
                [
                    html.Div(
                        f"Not recomputed: {len(errors)} value{'s' * (len(errors) != 1)} to fix "
                        "(shown beside the control).",
                        className="status-bad",
                    ),
                    *[html.Div(message, className="error") for message in loose],
                ]
            )
            return no_update, no_update, no_update, status, no_update, shown
        too_big = cache.refusal(view)
        if too_big:
            status = html.Div(too_big, className="status-bad")
            return no_update, no_update, no_update, status, layout.cli_block(view), shown
        started = time.perf_counter()
        try:
            with cache.HEAVY(cache.view_bytes(view), memory.available_bytes()):
                outcome = cache.compute(view)
        except cache.Busy as busy:
            status = html.Div(str(busy), className="status-bad")
            return no_update, no_update, no_update, status, layout.cli_block(view), shown
        charts = layout.chart_cards(outcome)
        kpi_table = layout.kpi_table(outcome)
        differences = layout.difference_table(outcome)
        seconds = time.perf_counter() - started
        scenarios = "A and B" if view.has_b else "A"
        status = html.Div(
            f"Scenario {scenarios}: {view.runs:,} runs x {years_text(view.years)} years, seed "
            f"{view.seed}; computed in {seconds:.1f} s (simulation and KPIs "
            f"{outcome.seconds:.1f} s, cached for the last views)."
        )
        chart_box = html.Div(charts, className="charts two" if view.has_b else "charts")
        return chart_box, kpi_table, differences, status, layout.cli_block(view), shown
    except Exception as error:  # the server never raises to the page
        message = " ".join(f"{type(error).__name__}: {error}".split())
        status = html.Div(f"error: {message}", className="status-bad")
        return no_update, no_update, no_update, status, no_update, [""] * len(controls)


def sync(
    search: str | None,
    values: Sequence[Any],
    controls: Sequence[Mapping[str, str]],
    url_changed: bool,
):
    """The URL <-> controls callback as a plain function: (new search or None, new control
    values or None). The URL changed: the controls follow it; a control changed: the URL
    follows the controls."""
    if url_changed:
        return None, controls_from_query(search, controls)
    query = query_from_controls(zip(controls, values, strict=True))
    current = "?" + (search or "").lstrip("?")
    return (None if query == current else query), None


def download(which: str, search: str | None):
    """The bytes of a download: ("kpis" | "timeseries") -> dcc.Download's data, None if the
    view is not valid, too big or the explorer is busy (`download_message` says which)."""
    return download_message(which, search)[0]


def download_message(which: str, search: str | None) -> tuple[Any, str]:
    """(dcc.Download's data or None, "" or the one line saying why there is none): the view
    must be valid, fit the run-year limit and the available memory, and get a heavy slot."""
    from dash import dcc

    view, errors = parse_query(search)
    if errors:
        return None, "Not downloaded: fix the values shown beside their controls first."
    too_big = cache.refusal(view, which)
    if too_big:
        return None, too_big
    need = cache.download_bytes(view) if which == "timeseries" else cache.view_bytes(view)
    try:
        with cache.HEAVY(need, memory.available_bytes()):
            outcome = cache.compute(view)
            if which == "kpis":
                return dcc.send_string(cache.kpi_csv(outcome), "kpis.csv"), ""
            return dcc.send_bytes(cache.timeseries_parquet(outcome), "timeseries.parquet"), ""
    except cache.Busy as busy:
        return None, str(busy)


def make_app():
    """The Dash app (its Flask server is `app.server`)."""
    from dash import ALL, Dash, Input, Output, State, ctx, no_update

    app = Dash(
        __name__,
        title="SESH explorer",
        serve_locally=True,
        index_string=layout.index_page(),
        update_title=None,
        include_assets_files=False,  # nothing but Dash's own bundles is served
    )
    app.layout = layout.layout
    controls = {"type": "control", "scenario": ALL, "name": ALL}
    errors = {"type": "error", "scenario": ALL, "name": ALL}

    @app.callback(
        Output("url", "search"),
        Output(controls, "value"),
        Input("url", "search"),
        Input(controls, "value"),
    )
    def _sync(search, values):
        ids = [item["id"] for item in ctx.inputs_list[1]]
        url_changed = ctx.triggered_id is None or ctx.triggered_id == "url"
        try:
            new_search, new_values = sync(search, values, ids, url_changed)
        except Exception:  # the page keeps what it has; the server never raises to it
            new_search, new_values = None, None
        return (
            no_update if new_search is None else new_search,
            [no_update] * len(ids) if new_values is None else new_values,
        )

    @app.callback(
        Output("charts-holder", "children"),
        Output("kpis", "children"),
        Output("differences", "children"),
        Output("status", "children"),
        Output("cli", "children"),
        Output(errors, "children"),
        Input("url", "search"),
    )
    def _update(search):
        ids = [item["id"] for item in ctx.outputs_list[-1]]
        return update(search, ids)

    @app.callback(
        Output("download", "data"),
        Output("download-status", "children"),
        Input("download-kpis", "n_clicks"),
        Input("download-timeseries", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def _download(_kpis, _timeseries, search):
        try:
            which = "kpis" if ctx.triggered_id == "download-kpis" else "timeseries"
            data, message = download_message(which, search)
            return (no_update if data is None else data), message
        except Exception as error:  # the server never raises to the page
            return no_update, " ".join(f"error: {type(error).__name__}: {error}".split())

    return app
