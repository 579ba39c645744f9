"""How long the explorer takes to recompute and redraw a view: 100 runs x 5 years.

Times the main callback's work as the server does it for a new view: simulate (vectorized
engine), run-level KPIs and their summary, the six fan charts, the KPI table, and the figures
serialised to JSON as Dash sends them (`plotly.io.json.to_json_plotly`). The cache is cleared
before every repeat. Prints the median of 5 and its ratio to the 1 s target.

    .venv/bin/python benchmarks/explorer.py [--runs 100] [--years 5] [--repeats 5] [--b]
"""

from __future__ import annotations

import argparse
import statistics
import time

from plotly.io.json import to_json_plotly

from experiments.reporting import explorer

TARGET_SECONDS = 1.0


def one(view: explorer.View) -> dict[str, float]:
    explorer._compute.cache_clear()
    started = time.perf_counter()
    outcome = explorer.compute(view)
    simulated = time.perf_counter()
    for row in explorer.figures(outcome).values():
        for fig in row:
            to_json_plotly(fig)  # as Dash sends a figure (pio.to_json validates again)
    explorer._kpi_table(outcome)
    explorer._difference_table(outcome)
    done = time.perf_counter()
    return {"total": done - started, "compute": simulated - started, "draw": done - simulated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--b", action="store_true", help="add scenario B (fee_pool_share=1.0)")
    args = parser.parse_args()
    view = explorer.View(runs=args.runs, years=args.years)
    if args.b:
        view.b["fee_pool_share"] = 1.0
    one(explorer.View(runs=2, years=0.1))  # imports and first-call costs, not timed
    times = [one(view) for _ in range(args.repeats)]
    median = {key: statistics.median(t[key] for t in times) for key in times[0]}
    scenarios = "A and B" if args.b else "A"
    print(
        f"explorer, {args.runs} runs x {args.years:g} years, scenario {scenarios}, median of "
        f"{args.repeats}: {median['total']:.2f} s (simulate + KPIs {median['compute']:.2f} s, "
        f"figures + tables {median['draw']:.2f} s); {median['total'] / TARGET_SECONDS:.2f}x "
        f"the {TARGET_SECONDS:g} s target"
    )


if __name__ == "__main__":
    main()
