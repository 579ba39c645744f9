"""How long the explorer takes to recompute and redraw a view: 100 runs x 5 years.

Times the main callback's work as the server does it for a new view: simulate (vectorized
engine), run-level KPIs and their summary, the six fan charts, the KPI table, and the figures
serialised to JSON as Dash sends them (`plotly.io.json.to_json_plotly`). Each repeat is a view
the server has not computed, as a user makes one by moving a control: the payout rate takes a
new value (the seed, runs and years stay, so the random draws are those already drawn, as in the
server). The first view after a start also draws them: timed apart. Prints the median of 5 and
its ratio to the 1 s target, with the fastest and slowest repeat (this machine's speed swings
by a third from minute to minute: quote the median with its spread).

    .venv/bin/python benchmarks/explorer.py [--runs 100] [--years 5] [--repeats 5] [--b]
"""

from __future__ import annotations

import argparse
import statistics
import time

from plotly.io.json import to_json_plotly

from experiments.explorer import cache, charts, layout
from experiments.explorer.state import View

TARGET_SECONDS = 1.0


def one(view: View) -> dict[str, float]:
    cache._compute.cache_clear()
    started = time.perf_counter()
    outcome = cache.compute(view)
    simulated = time.perf_counter()
    for row in charts.figures(outcome).values():
        for fig in row:
            to_json_plotly(fig)  # as Dash sends a figure (pio.to_json validates again)
    layout.kpi_table(outcome)
    layout.difference_table(outcome)
    done = time.perf_counter()
    return {"total": done - started, "compute": simulated - started, "draw": done - simulated}


def view_of(args: argparse.Namespace, number: int) -> View:
    """The number-th view of a session: the payout rate moved by 0.002 each time (0: default)."""
    view = View(
        a={"pool_payout_rate": round(0.151 + 0.002 * number, 3)}, runs=args.runs, years=args.years
    )
    if args.b:  # the README's headline comparison: Pro revenue to the pool, all of it
        view.b.update(pro_revenue_route="pool", fee_pool_share=1.0)
    return view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--b",
        action="store_true",
        help="add scenario B (pro_revenue_route=pool, fee_pool_share=1.0)",
    )
    args = parser.parse_args()
    one(View(runs=2, years=0.1))  # imports and first-call costs, not timed
    first = one(view_of(args, 0))  # the session's first view of these runs: draws them too
    times = [one(view_of(args, number)) for number in range(1, args.repeats + 1)]
    median = {key: statistics.median(t[key] for t in times) for key in times[0]}
    totals = [t["total"] for t in times]
    scenarios = "A and B" if args.b else "A"
    print(
        f"explorer, {args.runs} runs x {args.years:g} years, scenario {scenarios}, a new view, "
        f"median of {args.repeats}: {median['total']:.2f} s (simulate + KPIs "
        f"{median['compute']:.2f} s, figures + tables {median['draw']:.2f} s; fastest "
        f"{min(totals):.2f} s, slowest {max(totals):.2f} s); {median['total'] / TARGET_SECONDS:.2f}x "
        f"the {TARGET_SECONDS:g} s target; the first view after a start (random draws too): "
        f"{first['total']:.2f} s"
    )


if __name__ == "__main__":
    main()
