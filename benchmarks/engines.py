"""Time cadCAD, radCAD and the vectorized engine on the same model, and the paths users take.

    .venv/bin/python benchmarks/engines.py [--runs 1000] [--sample-runs 10] [--years 5]
                                           [--kpi-only-runs 10000] [--long-years 20] [--quick]

Every measurement runs in its own child process of this script, and its peak memory is the peak
of the summed resident memory of that process and its children (sampled every 20 ms with
psutil), so a process pool's workers count. Lines:
- engines: `simulate` of the default parameter set on cadCAD (single process, deepcopy off),
  radCAD (SINGLE_PROCESS and MULTIPROCESSING with 2 processes, deepcopy off, substeps dropped:
  the better one is "radCAD best") and the vectorized engine. The step-by-step engines cost the
  same per run, so they run `--sample-runs` runs; every cost is quoted per run-day and as ratios
  of per-run cost against radCAD best and cadCAD;
- KPI-only: `simulate_kpis` (what `--kpi-only` runs: batches reduced to KPIs, every core) on
  `--kpi-only-runs` runs, its time per run-day, ratio, and peak memory;
- CLI end to end: `python -m experiments run baseline --runs RUNS` (full timeseries, parquet,
  KPI tables, report), per run against radCAD best's per-run simulation cost;
- long horizon: the CLI end to end (full timeseries, parquet, KPI tables, report) on `--runs`
  runs over `--long-years` years, its peak memory (a frame that big streams to parquet batch
  by batch).
A script, not a timed test: timings depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from model.constants import DAYS_PER_YEAR

ROOT = Path(__file__).resolve().parent.parent
# The targets of the speed issue, as ratios of per-run cost measured side by side here.
TARGETS = {
    "vectorized_vs_radcad": 30.0,
    "vectorized_vs_cadcad": 100.0,
    "kpi_only_vs_radcad": 500.0,
    "cli_vs_radcad": 150.0,
}
KPI_ONLY_PEAK_TARGET_MB = 1536
LONG_PEAK_TARGET_MB = 4096
CASES = ("cadcad", "radcad", "radcad_mp", "vectorized", "kpi_only", "cli", "long")


class PeakSampler:
    """The peak of this process's and its children's summed RSS, sampled in a thread."""

    def __init__(self, interval: float = 0.02):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # a child that just ended
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def measure(case: str, runs: int, years: float, seed: int) -> dict:
    """Run one case in this (child) process: wall seconds and peak memory."""
    from experiments.run import simulate, simulate_kpis
    from model import Parameters

    with PeakSampler() as sampler:
        start = time.perf_counter()
        if case == "kpi_only":
            simulate_kpis([Parameters()], runs=runs, years=years, seed=seed)
        elif case in ("cli", "long"):
            with tempfile.TemporaryDirectory() as tmp:
                command = [sys.executable, "-m", "experiments", "run", "baseline"]
                command += ["--runs", str(runs), "--years", str(years), "--seed", str(seed)]
                command += ["--out", str(Path(tmp) / "baseline")]
                done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    raise SystemExit(done.stderr)
        else:
            engine = {"radcad_mp": "radcad"}.get(case, case)
            backend = "multiprocessing" if case == "radcad_mp" else "single_process"
            processes = 2 if case == "radcad_mp" else None
            simulate(
                [Parameters()],
                runs=runs,
                years=years,
                seed=seed,
                engine=engine,
                backend=backend,
                processes=processes,
            )
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": sampler.peak / 2**20}


def in_child(case: str, runs: int, years: float, seed: int) -> dict:
    command = [sys.executable, __file__, "--child", case, "--runs", str(runs)]
    command += ["--years", str(years), "--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"benchmark of {case} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    days = round(years * DAYS_PER_YEAR)
    return dict(
        result, runs=runs, years=years, us_per_run_day=result["seconds"] / runs / days * 1e6
    )


def _ratio(ratio: float, target: float | None) -> str:
    if ratio != ratio:  # NaN: the reference case was skipped
        return "not run"
    if target is None:
        return f"{ratio:,.0f}x"
    return f"{ratio:,.0f}x (target >= {target:g}x: {'met' if ratio >= target else 'MISSED'})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="vectorized and CLI runs")
    parser.add_argument("--sample-runs", type=int, default=10, help="runs timed on cadCAD/radCAD")
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kpi-only-runs", type=int, default=10_000)
    parser.add_argument("--long-years", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated cases to leave out (of cadcad, radcad, long); radcad_mp always runs",
    )
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.runs, args.years, args.seed)))
        return
    if args.quick:
        args.runs, args.sample_runs, args.kpi_only_runs, args.long_years = 50, 2, 200, 2.0

    import numpy

    print(
        f"SESH model, default parameters, seed {args.seed}; {time.strftime('%Y-%m-%d')}; "
        f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {numpy.__version__}"
    )
    skip = {c for c in args.skip.split(",") if c}
    r = {}
    for case, runs in (
        ("cadcad", args.sample_runs),
        ("radcad", args.sample_runs),
        ("radcad_mp", max(args.sample_runs, 4)),
        ("vectorized", args.runs),
    ):
        if case in skip:
            continue
        print(f"timing {case} ({runs} runs x {args.years:g} y) ...", flush=True)
        r[case] = in_child(case, runs, args.years, args.seed)
    best = min((c for c in ("radcad", "radcad_mp") if c in r), key=lambda c: r[c]["us_per_run_day"])
    radcad_cost = r[best]["us_per_run_day"]
    cadcad_cost = r["cadcad"]["us_per_run_day"] if "cadcad" in r else float("nan")
    print(f"timing kpi_only ({args.kpi_only_runs} runs) ...", flush=True)
    r["kpi_only"] = in_child("kpi_only", args.kpi_only_runs, args.years, args.seed)
    print(f"timing the CLI end to end ({args.runs} runs) ...", flush=True)
    r["cli"] = in_child("cli", args.runs, args.years, args.seed)
    if "long" not in skip:
        print(f"timing the long horizon ({args.runs} runs x {args.long_years:g} y) ...", flush=True)
        r["long"] = in_child("long", args.runs, args.long_years, args.seed)

    print()
    print(
        "| case | runs x years | seconds | us per run-day | vs radCAD best | vs cadCAD | peak MB |"
    )
    print("|---|---|---|---|---|---|---|")
    targets = {
        "vectorized": ("vectorized_vs_radcad", "vectorized_vs_cadcad"),
        "kpi_only": ("kpi_only_vs_radcad", None),
        "cli": ("cli_vs_radcad", None),
    }
    names = {
        "cadcad": "cadCAD, single process",
        "radcad": "radCAD, SINGLE_PROCESS",
        "radcad_mp": "radCAD, MULTIPROCESSING x2",
        "vectorized": "vectorized, full frame",
        "kpi_only": "vectorized --kpi-only (every core)",
        "cli": "CLI `run baseline` end to end (parquet + report)",
        "long": "CLI `run baseline` end to end, long horizon",
    }
    for case, m in r.items():
        cost = m["us_per_run_day"]
        first, second = targets.get(case, (None, None))
        vs_radcad = _ratio(radcad_cost / cost, TARGETS.get(first))
        vs_cadcad = _ratio(cadcad_cost / cost, TARGETS.get(second))
        print(
            f"| {names[case]} | {m['runs']:,} x {m['years']:g} | {m['seconds']:.1f} | {cost:.2f} |"
            f" {vs_radcad} | {vs_cadcad} | {m['peak_mb']:,.0f} |"
        )
    print()
    kpi_met = "met" if r["kpi_only"]["peak_mb"] <= KPI_ONLY_PEAK_TARGET_MB else "MISSED"
    long = "not run"
    if "long" in r:
        met = "met" if r["long"]["peak_mb"] <= LONG_PEAK_TARGET_MB else "MISSED"
        long = f"{r['long']['peak_mb']:,.0f} MB (target <= {LONG_PEAK_TARGET_MB} MB: {met})"
    print(
        f"radCAD best = {names[best]}. KPI-only peak {r['kpi_only']['peak_mb']:,.0f} MB "
        f"(target <= {KPI_ONLY_PEAK_TARGET_MB} MB: {kpi_met}); long-horizon peak {long}. "
        "cadCAD and radCAD are timed on a sample of runs; costs per run-day compare directly."
    )


if __name__ == "__main__":
    main()
