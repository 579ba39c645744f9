"""Time cadCAD, radCAD and the vectorized engine on the same model and horizon.

    .venv/bin/python benchmarks/engines.py [--runs 1000] [--sample-runs 10] [--years 5]
                                           [--kpi-only-runs 10000]

Each engine runs `experiments.run.simulate` (the default parameter set, one subset) in its own
child process of this script, so the peak resident memory it reports belongs to that engine alone
(it includes the ~100-200 MB of imported libraries). cadCAD runs single process with deepcopy off,
radCAD with its best settings (SINGLE_PROCESS, deepcopy off, substeps dropped), as the runner
configures them. The two step-by-step engines cost the same per run, so they run `--sample-runs`
runs and their time is scaled linearly to `--runs` (which slightly overstates them: it also scales
their fixed set-up cost); their memory is what the sample used. A last line times the vectorized
engine's KPI-only streaming mode (`experiments.run.simulate_kpis`, what `--kpi-only` runs) on
`--kpi-only-runs` runs, with its peak memory: bounded by one batch, not by the run count. A
script, not a timed test: timings depend on the machine, so only the ratios mean something.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("cadcad", "radcad", "vectorized")
SETTINGS = {
    "cadcad": "single process, deepcopy off",
    "radcad": "SINGLE_PROCESS, deepcopy off, substeps dropped",
    "vectorized": "all runs as numpy arrays",
}
# The targets for the vectorized engine at 1,000 runs x 5 years.
TARGETS = {"radcad": 30.0, "cadcad": 100.0}
KPI_ONLY = "kpi-only"
KPI_ONLY_PEAK_TARGET_MB = 4096  # the issue's: 10,000 runs x 5 years in under 4 GB


def measure(engine: str, runs: int, years: float, seed: int) -> dict:
    """Run one engine (or "kpi-only") in this process; wall time and the process's peak RSS."""
    from experiments.run import simulate, simulate_kpis
    from model import Parameters

    start = time.perf_counter()
    if engine == KPI_ONLY:
        rows = len(simulate_kpis([Parameters()], runs=runs, years=years, seed=seed).per_run)
    else:
        rows = len(simulate([Parameters()], runs=runs, years=years, seed=seed, engine=engine))
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "peak_mb": peak_kib / 1024.0, "rows": rows}


def measure_in_child(engine: str, runs: int, years: float, seed: int) -> dict:
    command = [sys.executable, __file__, "--child", engine, "--runs", str(runs)]
    command += ["--years", str(years), "--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"benchmark of {engine} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: dict, runs: int) -> list[str]:
    """Markdown rows: times at `runs` runs (extrapolated for sampled engines) and the ratios."""
    seconds = {e: r["seconds"] / r["runs"] * runs for e, r in results.items()}
    lines = [
        "| engine | settings | runs timed | seconds at "
        f"{runs} runs | runs/s | vs radCAD | vs cadCAD | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for engine, r in results.items():
        timed = f"{r['runs']}" + ("" if r["runs"] == runs else " (scaled linearly)")
        ratios = [
            _ratio(seconds[reference] / seconds[engine], engine == "vectorized", TARGETS[reference])
            for reference in ("radcad", "cadcad")
        ]
        lines.append(
            f"| {engine} | {SETTINGS[engine]} | {timed} | {seconds[engine]:.1f} | "
            f"{runs / seconds[engine]:.1f} | {ratios[0]} | {ratios[1]} | {r['peak_mb']:.0f} |"
        )
    return lines


def _ratio(ratio: float, targeted: bool, target: float) -> str:
    if not targeted:
        return f"{ratio:.1f}x"
    return f"{ratio:.1f}x (target >= {target:g}x: {'met' if ratio >= target else 'MISSED'})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs of the vectorized engine")
    parser.add_argument(
        "--sample-runs", type=int, default=10, help="runs actually timed on cadCAD and radCAD"
    )
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--kpi-only-runs", type=int, default=10_000, help="runs of the KPI-only line (0: skip it)"
    )
    parser.add_argument("--child", choices=(*ENGINES, KPI_ONLY), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.runs, args.years, args.seed)))
        return

    import numpy

    print(
        f"SESH model, default parameters, {args.years:g} years of daily steps, seed {args.seed}; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, {os.cpu_count()} CPUs"
    )
    results = {}
    for engine in ENGINES:
        runs = args.runs if engine == "vectorized" else min(args.sample_runs, args.runs)
        print(f"timing {engine} ({runs} runs) ...", flush=True)
        results[engine] = dict(measure_in_child(engine, runs, args.years, args.seed), runs=runs)
    print()
    print("\n".join(table(results, args.runs)))
    print()
    print(
        f"cadCAD and radCAD timed on {min(args.sample_runs, args.runs)} runs; their seconds at "
        f"{args.runs} runs are that time scaled linearly, and their peak RSS is the sample's."
    )
    if args.kpi_only_runs > 0:
        print(f"timing vectorized KPI-only streaming ({args.kpi_only_runs} runs) ...", flush=True)
        r = measure_in_child(KPI_ONLY, args.kpi_only_runs, args.years, args.seed)
        met = "met" if r["peak_mb"] < KPI_ONLY_PEAK_TARGET_MB else "MISSED"
        print(
            f"vectorized --kpi-only, {args.kpi_only_runs} runs x {args.years:g} years: "
            f"{r['seconds']:.1f} s ({args.kpi_only_runs / r['seconds']:.0f} runs/s), peak RSS "
            f"{r['peak_mb']:.0f} MB (target < {KPI_ONLY_PEAK_TARGET_MB} MB: {met})"
        )


if __name__ == "__main__":
    main()
