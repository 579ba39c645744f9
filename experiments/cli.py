"""The command line: `python -m experiments list | params | run | report | publish | regress`.

`run` validates everything (experiment, overrides, every subset's parameters, run settings, output
size) before it touches the disk, simulates one subset at a time under a progress bar, then writes
the results into a temporary directory beside DIR and renames it into place, so DIR is either the
previous complete results or the new complete results, never half of one. Bad input prints one
line to stderr and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from experiments import definitions, kpis
from experiments.run import (
    BACKENDS,
    ENGINES,
    INDEX_COLUMNS,
    check_run_settings,
    simulate,
    simulate_kpis,
    state_columns,
    stream_batch_size,
)
from model import ParameterError, Parameters
from model.constants import TGE_DATE
from model.parameters import parse_value

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The full timeseries is held in memory before it is written; beyond this, refuse up front.
MAX_TIMESERIES_BYTES = 8 * 10**9
# Peak memory per (run, day) row while an engine runs one subset (its raw records before `tidy`),
# measured on this model with 5-year baselines: cadCAD keeps every substep, radCAD drops them.
ENGINE_BYTES_PER_ROW = {"cadcad": 32_000, "radcad": 6_000, "vectorized": 1_000}
# KPI-only: peak memory per (trajectory, day) of one batch (its arrays, drivers and KPI work),
# measured at ~570 bytes with 1,000-trajectory batches of 5-year baselines.
STREAM_BYTES_PER_ROW = 600
PACKAGES = ("numpy", "pandas", "cadCAD", "radcad", "ray", "pyarrow", "plotly")
RESULT_FILES = ("timeseries.parquet", "kpis.json", "kpis.csv", "manifest.json", "report.html")


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class RunFailed(Exception):
    """Good input, but the run cannot go ahead here: one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr (exit 2) instead of the usage block."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m experiments",
        description="Run named experiments on the SESH economy model.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="the named experiments, one line each")
    commands.add_parser("params", help="every model parameter: default, unit, source")
    run = commands.add_parser("run", help="run an experiment and write its results")
    run.add_argument("name", metavar="NAME", help="experiment name (see `list`)")
    run.add_argument("--runs", type=int, help="Monte Carlo runs per subset (default: experiment's)")
    run.add_argument("--years", type=float, help="horizon in years (default: experiment's)")
    run.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    run.add_argument(
        "--engine", choices=ENGINES, help="default radcad (sensitivity: vectorized, its only one)"
    )
    run.add_argument("--backend", choices=BACKENDS, default="single_process")
    run.add_argument("--ray-address", help="join this Ray cluster (backend ray; default local)")
    run.add_argument("--processes", type=int, help="worker processes (default: CPU count)")
    run.add_argument(
        "--kpi-only",
        action="store_true",
        help="vectorized engine: stream KPIs batch by batch, no timeseries (bounded memory)",
    )
    run.add_argument(
        "--thin", type=int, metavar="N", help="with --kpi-only: also save every N-th day's rows"
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter in every subset (repeatable)",
    )
    run.add_argument("--out", type=Path, help="output directory (default results/NAME)")
    regress = commands.add_parser("regress", help="rerun the golden KPI cases; fail on drift")
    regress.add_argument("cases", nargs="*", metavar="CASE", help="golden cases (default: all)")
    regress.add_argument("--update", action="store_true", help="rewrite the golden files")
    regress.add_argument("--all", action="store_true", help="print every KPI, not only drift")
    regress.add_argument("--golden-dir", type=Path, help="golden files (default tests/golden)")
    report = commands.add_parser("report", help="rebuild report.html from saved results")
    report.add_argument("results_dir", type=Path, metavar="DIR", help="a results directory")
    publish = commands.add_parser("publish", help="the reports as a static site")
    publish.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="e.g. results")
    publish.add_argument("site_dir", type=Path, metavar="SITE_DIR", help="e.g. site")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("list", "params"):
        try:
            return cmd_list() if args.command == "list" else cmd_params()
        except BrokenPipeError:  # `... | head`: the reader has all it wants
            sys.stdout = open(os.devnull, "w")  # silence the flush at exit
            return 0
    if args.command == "regress":
        return cmd_regress(args)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if args.command in ("report", "publish"):
            return cmd_report(args) if args.command == "report" else cmd_publish(args)
        return cmd_run(args)
    except (UsageError, ParameterError) as error:
        return _fail(str(error))
    except RunFailed as error:
        return _fail(str(error), status=1)
    except KeyboardInterrupt:
        return _fail("interrupted", status=130)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fail(message: str, status: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def _exit_on_sigterm(signum, frame):
    """Turn SIGTERM into an exception so the temp-dir cleanup in `finally` blocks still runs."""
    raise KeyboardInterrupt


def cmd_regress(args: argparse.Namespace) -> int:
    from experiments import regress

    unknown = sorted(set(args.cases) - set(regress.CASES))
    if unknown:
        return _fail(f"unknown golden case '{unknown[0]}': one of {', '.join(regress.CASES)}")
    golden_dir = args.golden_dir or regress.GOLDEN_DIR
    return regress.regress(args.cases, update=args.update, golden_dir=golden_dir, verbose=args.all)


# --- list and params --------------------------------------------------------------------------


def cmd_list() -> int:
    width = max(len(name) for name in definitions.EXPERIMENTS)
    for name, experiment in definitions.EXPERIMENTS.items():
        n = len(experiment.subsets())
        shape = f"{n} subset{'s' * (n != 1)} x {experiment.runs} runs, {experiment.years:g} y"
        print(f"{name:<{width}}  {experiment.description} [{shape}]")
    return 0


def cmd_params() -> int:
    info = Parameters.field_info()
    rows = [
        (name, _show(meta["default"]), meta["unit"], meta["source"]) for name, meta in info.items()
    ]
    widths = [
        max(len(row[i]) for row in rows + [("name", "default", "unit", "")]) for i in range(3)
    ]
    print(f"{'name':<{widths[0]}}  {'default':<{widths[1]}}  {'unit':<{widths[2]}}  source")
    for name, default, unit, source in rows:
        print(f"{name:<{widths[0]}}  {default:<{widths[1]}}  {unit:<{widths[2]}}  {source}")
    return 0


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:,.10g}" if isinstance(value, float) else str(value)


# --- run: plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A validated run: everything `run` needs, decided before anything is written."""

    experiment: definitions.Experiment
    subsets: list[definitions.Subset]
    overrides: dict[str, Any]
    runs: int
    years: float
    timesteps: int
    seed: int
    engine: str
    backend: str
    processes: int | None
    ray_address: str | None
    out: Path
    kpi_only: bool = False  # stream KPIs (vectorized engine); timeseries only when thinned
    thin: int | None = None  # with kpi_only: keep every thin-th day's rows


def plan_run(args: argparse.Namespace) -> Plan:
    """Check every input; raise UsageError or ParameterError with a one-line message."""
    experiment = definitions.get(args.name)
    overrides = parse_overrides(args.overrides)
    runs = experiment.runs if args.runs is None else args.runs
    years = experiment.years if args.years is None else args.years
    engine = choose_engine(args.engine, experiment)
    timesteps = check_run_settings(runs, years, args.seed, engine, args.backend)
    if years < experiment.min_years:
        raise UsageError(
            f"invalid years for experiment '{experiment.name}': must be >= "
            f"{experiment.min_years:g}, got {years:g}"
        )
    kpi_only = args.kpi_only or experiment.kpi_only
    check_kpi_only(kpi_only, args.thin, engine)
    if args.processes is not None and args.processes < 1:
        raise UsageError(f"invalid processes: must be an integer >= 1, got {args.processes}")
    if args.ray_address and args.backend != "ray":
        raise UsageError("--ray-address needs --backend ray")
    processes = args.processes
    if processes is None and args.backend != "single_process":
        processes = os.cpu_count() or 1
    out = (args.out or Path("results") / experiment.name).absolute()
    check_output_dir(out)
    return Plan(
        experiment=experiment,
        subsets=experiment.subsets(overrides, seed=args.seed),
        overrides=overrides,
        runs=runs,
        years=years,
        timesteps=timesteps,
        seed=args.seed,
        engine=engine,
        backend=args.backend,
        processes=processes,
        ray_address=args.ray_address,
        out=out,
        kpi_only=kpi_only,
        thin=args.thin,
    )


def choose_engine(requested: str | None, experiment: definitions.Experiment) -> str:
    """--engine, else the experiment's own, else radCAD; an experiment tied to one refuses others."""
    if experiment.engine and requested not in (None, experiment.engine):
        raise UsageError(
            f"invalid engine for experiment '{experiment.name}': it runs on "
            f"--engine {experiment.engine} only, got '{requested}'"
        )
    return requested or experiment.engine or "radcad"


def check_kpi_only(kpi_only: bool, thin: int | None, engine: str) -> None:
    if kpi_only and engine != "vectorized":
        raise UsageError("--kpi-only needs --engine vectorized (it streams batches of runs)")
    if thin is not None and thin < 1:
        raise UsageError(f"invalid --thin: must be an integer >= 1, got {thin}")
    if thin is not None and not kpi_only:
        raise UsageError("--thin needs --kpi-only (a full run saves every day)")


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`NAME=VALUE` strings -> typed overrides (the last one wins for a repeated name)."""
    overrides = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"invalid --set {item!r}: expected NAME=VALUE")
        overrides[name.strip()] = parse_value(name.strip(), text)
    return overrides


def check_output_dir(out: Path) -> None:
    """Refuse to replace anything that is not a previous results directory."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"invalid --out '{out}': exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise UsageError(f"invalid --out '{out}': not empty and not a results directory")


def estimated_bytes(plan: Plan) -> int:
    """Size of the timeseries in memory: rows x columns x 8 bytes (KPI-only: the thinned rows)."""
    days = plan.timesteps + 1
    if plan.kpi_only:
        days = 0 if plan.thin is None else plan.timesteps // plan.thin + 1
    rows = len(plan.subsets) * plan.runs * days
    return rows * (len(INDEX_COLUMNS) + len(state_columns())) * 8


def estimated_peak_bytes(plan: Plan) -> int:
    """Memory the run needs at its peak: the results so far, their concatenation, and one
    subset's raw engine records (the engines hold far more per row than the tidy frame); for a
    KPI-only run, one batch of trajectories instead of a subset."""
    if plan.kpi_only:
        batch = min(stream_batch_size(plan.timesteps), len(plan.subsets) * plan.runs)
        batch_rows = batch * (plan.timesteps + 1)
        return 2 * estimated_bytes(plan) + batch_rows * STREAM_BYTES_PER_ROW
    subset_rows = plan.runs * (plan.timesteps + 1)
    return 2 * estimated_bytes(plan) + subset_rows * ENGINE_BYTES_PER_ROW.get(plan.engine, 6_000)


def size_problem(plan: Plan) -> str | None:
    """Why the run would not fit, in one line with what to do instead, or None."""
    size = estimated_bytes(plan)
    if size > MAX_TIMESERIES_BYTES:
        return (
            f"run too large: the timeseries would take ~{size / 1e9:.1f} GB, over the "
            f"{MAX_TIMESERIES_BYTES / 1e9:.0f} GB limit; {_remedy(plan)}"
        )
    peak, available = estimated_peak_bytes(plan), psutil.virtual_memory().available
    if peak > available:
        return (
            f"run too large: it would need ~{peak / 1e9:.1f} GB of memory, "
            f"{available / 1e9:.1f} GB is available; {_remedy(plan)}"
        )
    return None


def _remedy(plan: Plan) -> str:
    if not plan.kpi_only:
        return (
            "use fewer runs, years or subsets, or --engine vectorized --kpi-only "
            "(KPIs without the timeseries, memory of one batch)"
        )
    return "use a larger --thin or none" if plan.thin else "use fewer years"


# --- run: execute and write ------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    started_utc = dt.datetime.now(dt.UTC)
    plan = plan_run(args)
    problem = size_problem(plan)
    if problem:
        return _fail(problem)
    if plan.kpi_only:
        table, frame = stream_plan(plan)  # frame: the thinned timeseries, or None
    else:
        frame = simulate_plan(plan)
        table = kpis.per_run(frame)
    summary = kpis.summarize_runs(table)
    extras = plan.experiment.results(table, seed=plan.seed, timesteps=plan.timesteps)
    files = result_files(plan, extras)
    manifest = build_manifest(plan, started_utc, time.perf_counter() - started, files)
    write_atomically(
        plan.out, lambda tmp: write_results(tmp, plan, frame, summary, manifest, extras)
    )
    print(f"wrote {_relative(plan.out)}/ ({', '.join(files)})")
    return 0


def result_files(plan: Plan, extras: dict[str, pd.DataFrame]) -> list[str]:
    """What a run writes: KPI-only has a timeseries only when thinned; experiments add tables."""
    timeseries = not plan.kpi_only or plan.thin is not None
    files = [f for f in RESULT_FILES if timeseries or f != "timeseries.parquet"]
    return files + list(extras)


def stream_plan(plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """KPI-only: all subsets in one streamed call (same seeds as one subset at a time), batch
    by batch; the run-level KPI table and the thinned timeseries (None without --thin)."""
    from tqdm import tqdm

    total = len(plan.subsets) * plan.runs
    with ray_session(plan), tqdm(total=total, desc=plan.experiment.name, unit="run") as bar:
        result = simulate_kpis(
            [s.parameters for s in plan.subsets],
            runs=plan.runs,
            years=plan.years,
            seed=plan.seed,
            engine=plan.engine,
            backend=plan.backend,
            processes=plan.processes,
            thin=plan.thin,
            common_draws=plan.experiment.common_draws,
            progress=bar.update,
        )
    return result.per_run, result.timeseries


def simulate_plan(plan: Plan) -> pd.DataFrame:
    """Every subset, a few runs per `simulate` call, under a progress bar counting runs.

    Runs of one-at-a-time engines (cadCAD, radCAD in one process) are split into about 20 calls
    per subset so the bar moves; `first_subset`/`first_run` keep each (subset, run) on the seeds
    it would get in one call over everything. Parallel backends and the vectorized engine take
    a whole subset per call.
    """
    from tqdm import tqdm

    stepwise = plan.engine in ("cadcad", "radcad") and plan.backend == "single_process"
    chunk = max(1, math.ceil(plan.runs / 20)) if stepwise else plan.runs
    frames = []
    total = len(plan.subsets) * plan.runs
    with ray_session(plan), tqdm(total=total, desc=plan.experiment.name, unit="run") as bar:
        for subset in plan.subsets:
            bar.set_postfix_str(subset.label)
            for first_run in range(0, plan.runs, chunk):
                runs = min(chunk, plan.runs - first_run)
                frames.append(
                    simulate(
                        [subset.parameters],
                        runs=runs,
                        years=plan.years,
                        seed=plan.seed,
                        engine=plan.engine,
                        backend=plan.backend,
                        processes=plan.processes,
                        first_subset=subset.index,
                        first_run=first_run,
                    )
                )
                bar.update(runs)
    return pd.concat(frames, ignore_index=True)


@contextlib.contextmanager
def ray_session(plan: Plan):
    """Start (or join) Ray for a run on the ray backend and shut it down afterwards."""
    if plan.backend != "ray":
        yield
        return
    start_ray(plan)
    try:
        yield
    finally:
        from experiments.ray_support import shutdown_ray

        shutdown_ray()


def start_ray(plan: Plan) -> None:
    from experiments.ray_support import init_ray

    try:
        init_ray(plan.processes, plan.ray_address)
    except Exception as error:  # Ray raises several types; all mean "no Ray to run on"
        reason = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
        if plan.ray_address:  # a wrong address is bad input
            raise UsageError(f"cannot join Ray at {plan.ray_address}: {reason}") from None
        raise RunFailed(f"cannot start a local Ray instance: {reason}") from None


def write_results(tmp: Path, plan: Plan, frame, summary, manifest, extras=None) -> None:
    if frame is not None:  # None: a KPI-only run without --thin
        frame.to_parquet(tmp / "timeseries.parquet", engine="pyarrow", index=False)
    labels = {s.index: s.label for s in plan.subsets}
    _write_json(tmp / "kpis.json", kpis_document(plan, summary))
    kpis.tidy(summary, labels).to_csv(tmp / "kpis.csv", index=False)
    _write_json(tmp / "manifest.json", manifest)
    for name, table in (extras or {}).items():  # e.g. sensitivity.csv
        table.to_csv(tmp / name, index=False)
    from experiments.report import write_report  # plotly only when a run writes results

    write_report(tmp, frame=frame)  # last: it reads the files above


def kpis_document(plan: Plan, summary) -> dict[str, Any]:
    """kpis.json: the KPI registry, then subset -> label, overrides, KPI -> statistics."""
    return {
        "experiment": plan.experiment.name,
        "kpis": {
            name: {"unit": k.unit, "description": k.description}
            for name, k in kpis.REGISTRY.items()
        },
        "subsets": {
            str(s.index): {"label": s.label, "overrides": s.overrides, "kpis": summary[s.index]}
            for s in plan.subsets
        },
    }


def build_manifest(
    plan: Plan,
    started_utc: dt.datetime,
    wall_seconds: float,
    files: Sequence[str] = RESULT_FILES,
) -> dict[str, Any]:
    return {
        "experiment": plan.experiment.name,
        "description": plan.experiment.description,
        "command": ["python", "-m", "experiments", *sys.argv[1:]],
        "seed": plan.seed,
        "seeding": (
            "numpy.random.SeedSequence(seed, spawn_key=(0, run)) for every subset "
            "(common random numbers)"
            if plan.experiment.common_draws
            else "numpy.random.SeedSequence(seed, spawn_key=(subset, run)) per trajectory"
        ),
        "runs": plan.runs,
        "years": plan.years,
        "timesteps": plan.timesteps,
        "engine": plan.engine,
        "backend": plan.backend,
        "kpi_only": plan.kpi_only,
        "thin": plan.thin,
        "timeseries": _timeseries_note(plan),
        "processes": plan.processes,
        "ray_address": plan.ray_address,
        "overrides": plan.overrides,
        "subsets": [
            {
                "subset": s.index,
                "label": s.label,
                "overrides": s.overrides,
                "parameters": s.parameters.to_dict(),
            }
            for s in plan.subsets
        ],
        "data": {
            "tge": TGE_DATE.isoformat(),
            "start": TGE_DATE.isoformat(),
            "end": (TGE_DATE + dt.timedelta(days=plan.timesteps)).isoformat(),
            "days": plan.timesteps,
        },
        "packages": package_versions(),
        "python": platform.python_version(),
        "git_revision": git_revision(),
        "started_utc": started_utc.isoformat(timespec="seconds"),
        "wall_time_seconds": round(wall_seconds, 3),
        "files": list(files),
    }


def _timeseries_note(plan: Plan) -> str:
    if not plan.kpi_only:
        return "every day"
    if plan.thin is None:
        return "none (KPI-only: KPIs computed batch by batch from the full daily paths)"
    n = plan.thin
    return (
        f"days 0, {n}, {2 * n}, ... (timestep % {n} == 0; KPI-only: KPIs computed batch by "
        "batch from the full daily paths)"
    )


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    """The commit the code ran from, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


# --- report and publish --------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild report.html from a results directory's saved files."""
    from experiments.report import ReportError, write_report

    try:
        path = write_report(args.results_dir)
    except ReportError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {_relative(path.absolute())}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Every report under RESULTS_DIR as a static site in SITE_DIR, swapped in atomically."""
    from experiments import publish
    from experiments.report import ReportError

    site = args.site_dir.absolute()
    try:
        found = publish.find_results(args.results_dir)
        publish.check_site_dir(site)
        write_atomically(site, lambda tmp: publish.build_site(found, tmp))
    except (publish.PublishError, ReportError) as error:
        raise UsageError(str(error)) from None
    print(f"wrote {_relative(site)}/{publish.INDEX_FILE} ({len(found)} reports)")
    return 0


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Write into a temp dir beside `out`, then swap it in; on any failure leave no trace.

    An existing `out` is renamed away, the new directory renamed in, then the old one deleted:
    each rename is atomic, so `out` is always a complete result set (or briefly absent).
    """
    created_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; results are ordinary files
    old = out.parent / f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
    try:
        write(tmp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists():
            if out.exists():  # the new results are in place
                shutil.rmtree(old, ignore_errors=True)
            else:  # stopped between the two renames: put the previous results back
                old.rename(out)
        if created_parent and not out.exists():
            _remove_if_empty(out.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(_jsonable(document), indent=2, allow_nan=False) + "\n")


def _jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
