"""Memory of every path: the memory model's estimate against the measured peak, side by side.

    .venv/bin/python benchmarks/memory.py [--only PATH ...] [--scale 1.0]

Each case runs in a fresh child process (`python -c ...`); its peak is the larger of (a) the
summed resident memory of the child and its own children (process-pool workers), sampled every
10 ms with psutil, and (b) the child's `ru_maxrss` from `os.wait4`. The estimate is the one the
run's refusal uses (`experiments.memory`, through `experiments.plan.estimated_peak_bytes` for the
command line, `cache.view_bytes` / `cache.download_bytes` for the explorer). Paths:
- full: `run baseline` with the timeseries in memory (simulation, parquet, KPIs, report);
- streamed: `run baseline` whose timeseries is written batch by batch (forced by a lower
  in-memory limit, as a frame over 2 GB would be), then the report reading it back;
- kpi_only / kpi_thin: `run baseline --kpi-only` (with `--thin 10`);
- compare: `run fee_split --kpi-only` (two subsets, the bootstrap of the paired differences);
- report: `report DIR` on a full run's results folder (the report phase alone);
- view / download: the explorer's computation of a view (A and B) and its timeseries download
  (the explorer's estimate is over the running server; the fresh child adds BASE_BYTES).
Sizes run in well under a minute each and stay under ~4 GB here: the model is linear in rows
and runs, so larger runs are extrapolations. A script, not a test: peaks depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

# path -> [(label, estimate code, run code)]: `code` runs in the child; `estimate` in this process.
# {out} is a fresh temporary folder per case.
RUN = "from experiments import cli; import sys; sys.exit(cli.main({argv!r}))"
STREAMED = (
    "import experiments.plan as p; p.FRAME_MEMORY_BYTES = 1; "
    "from experiments import cli; import sys; sys.exit(cli.main({argv!r}))"
)
VIEW = (
    "from experiments.explorer import cache as e; from experiments.explorer.state import View; "
    "v = View(runs={runs}, years={years}, b={b!r}); o = e.compute(v); {extra}"
)


def cli_case(name: str, argv: list[str], streamed: bool = False) -> dict:
    return {"name": name, "argv": argv, "streamed": streamed}


def view_case(name: str, runs: int, years: float, b: dict, download: bool = False) -> dict:
    return {"name": name, "view": (runs, years, b), "download": download}


def cases(scale: float) -> list[tuple[str, dict]]:
    def n(runs: int) -> str:
        return str(max(2, int(runs * scale)))

    return [
        ("full", cli_case("300 x 5 y", ["run", "baseline", "--runs", n(300), "--years", "5"])),
        ("full", cli_case("1,200 x 5 y", ["run", "baseline", "--runs", n(1200), "--years", "5"])),
        (
            "full",
            cli_case(
                "2 subsets, 500 x 5 y", ["run", "fee_split", "--runs", n(500), "--years", "5"]
            ),
        ),
        (
            "streamed",
            cli_case("1,000 x 5 y", ["run", "baseline", "--runs", n(1000), "--years", "5"], True),
        ),
        (
            "streamed",
            cli_case("2,500 x 5 y", ["run", "baseline", "--runs", n(2500), "--years", "5"], True),
        ),
        (
            "kpi_only",
            cli_case(
                "4,000 x 5 y", ["run", "baseline", "--runs", n(4000), "--years", "5", "--kpi-only"]
            ),
        ),
        (
            "kpi_only",
            cli_case(
                "100,000 x 1 d",
                ["run", "baseline", "--runs", n(100_000), "--years", "0.003", "--kpi-only"],
            ),
        ),
        (
            "kpi_thin",
            cli_case(
                "2,000 x 5 y, thin 5",
                ["run", "baseline", "--runs", n(2000), "--years", "5", "--kpi-only", "--thin", "5"],
            ),
        ),
        (
            "compare",
            cli_case(
                "2 subsets, 4,000 x 0.01 y",
                ["run", "fee_split", "--runs", n(4000), "--years", "0.01", "--kpi-only"],
            ),
        ),
        (
            "compare",
            cli_case(
                "2 subsets, 12,000 x 1 y",  # 2.75 GB before the bootstrap was batched
                ["run", "fee_split", "--runs", n(12000), "--years", "1", "--kpi-only"],
            ),
        ),
        ("report", cli_case("1,000 x 5 y", ["report", n(1000)])),
        ("report", cli_case("2,500 x 5 y", ["report", n(2500)])),
        ("view", view_case("A and B, 1,000 x 5 y", int(n(1000)), 5.0, {"fee_pool_share": 1.0})),
        (
            "view",
            view_case("A and B, 12,000 x 0.01 y", int(n(12000)), 0.01, {"ref_volatility": 1.0}),
        ),
        ("download", view_case("400 x 5 y", int(n(400)), 5.0, {}, True)),
        ("download", view_case("1,200 x 5 y", int(n(1200)), 5.0, {}, True)),
    ]


def peak_of(code: str) -> tuple[int, float, int]:
    """(peak bytes, seconds, exit status) of `python -c code` in a fresh process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    watched = psutil.Process(child.pid)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                total = watched.memory_info().rss
                for grandchild in watched.children(recursive=True):
                    try:
                        total += grandchild.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
            except psutil.Error:
                return
            time.sleep(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    thread.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        print(child.stderr.read().decode()[-2000:], file=sys.stderr)
    child.stderr.close()
    seconds = time.perf_counter() - started
    return max(peak, usage.ru_maxrss * 1024), seconds, child.returncode


def estimate(path: str, case: dict, folder: Path) -> int:
    from experiments import memory
    from experiments import plan as plans
    from experiments.explorer import cache
    from experiments.explorer.state import View

    if "view" in case:
        runs, years, b = case["view"]
        view = View(runs=runs, years=years, b=b)
        # the explorer's estimate is over the server's own memory: a fresh child adds the base
        need = cache.download_bytes(view) if case["download"] else cache.view_bytes(view)
        return memory.BASE_BYTES + need
    argv = case["argv"]
    if argv[0] == "report":
        return plans.report_phase_bytes(folder)
    from experiments import cli

    plan = cli.plan_run(cli.build_parser().parse_args([*argv, "--out", str(folder)]))
    return plans.estimated_peak_bytes(plan, streamed=True if case["streamed"] else None)


def code_of(case: dict, folder: Path) -> str:
    if "view" in case:
        runs, years, b = case["view"]
        extra = "e.timeseries_parquet(o)" if case["download"] else ""
        return VIEW.format(runs=runs, years=years, b=b, extra=extra)
    argv = case["argv"]
    if argv[0] == "report":
        return RUN.format(argv=["report", str(folder)])
    template = STREAMED if case["streamed"] else RUN
    return template.format(argv=[*argv, "--out", str(folder)])


def prepare_report(case: dict, folder: Path) -> None:
    """A full run's results folder for the report case (not measured)."""
    runs = case["argv"][1]
    argv = ["run", "baseline", "--runs", runs, "--years", "5", "--out", str(folder)]
    subprocess.run(
        [sys.executable, "-c", RUN.format(argv=argv)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="paths to measure (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every run count")
    args = parser.parse_args(argv)
    print("| path | size | estimate MB | measured MB | measured / estimate | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    worst = 0.0
    for path, case in cases(args.scale):
        if args.only and path not in args.only:
            continue
        folder = Path(tempfile.mkdtemp(prefix="sesh-memory-")) / "out"
        try:
            if case.get("argv", [""])[0] == "report":
                prepare_report(case, folder)
            guess = estimate(path, case, folder)
            measured, seconds, status = peak_of(code_of(case, folder))
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
        ratio = measured / guess
        worst = max(worst, ratio)
        failed = "" if status == 0 else f" (exit {status})"
        print(
            f"| {path} | {case['name']} | {guess / 2**20:,.0f} | {measured / 2**20:,.0f} | "
            f"{ratio:.2f} | {seconds:.1f}{failed} |",
            flush=True,
        )
    print(f"\nworst measured / estimate: {worst:.2f} (at most 1 means every estimate covers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
