"""The command line: `python -m experiments list | params | run | report | publish | regress`.

This module only parses and dispatches. A run is validated into a `Plan` (experiments/plan.py)
before anything runs or touches the disk, executed, then written as one results folder that is
swapped into place atomically (experiments/results.py). Bad input prints one line to stderr and
exits 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments import definitions, results
from experiments.analysis import kpis
from experiments.engines.guard import InvariantError
from experiments.engines.registry import BACKENDS, ENGINES
from experiments.files import (
    OutputError,
    json_text,
    jsonable,
    owned_files,
    probe_writable,
    write_text_atomically,
)
from experiments.plan import (
    Plan,
    RunFailed,
    UsageError,
    execute,
    make_plan,
    size_problem,
    streams_timeseries,
)
from model import ParameterError, Parameters
from model.parameters import parse_value


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
    params = commands.add_parser(
        "params", help="every model parameter: default, unit, allowed range, meaning, source"
    )
    params.add_argument("--json", action="store_true", help="a JSON list of objects, for tools")
    run = commands.add_parser("run", help="run an experiment and write its results")
    run.add_argument("name", metavar="NAME", help="experiment name (see `list`)")
    run.add_argument("--runs", type=int, help="Monte Carlo runs per subset (default: experiment's)")
    run.add_argument("--years", type=float, help="horizon in years (default: experiment's)")
    run.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    run.add_argument(
        "--engine",
        choices=list(ENGINES),
        help="default vectorized (~100x faster; cadcad and radcad give the same numbers)",
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
    run.add_argument(
        "--independent-draws",
        action="store_true",
        help="every subset draws its own shocks (default: common random numbers, paired)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="write into --out even if it holds files that are not this project's (they are kept)",
    )
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
    publish.add_argument(
        "--force",
        action="store_true",
        help="write into SITE_DIR even if it holds files that are not the site's (they are kept)",
    )
    explore = commands.add_parser("explore", help="the interactive explorer (a local web app)")
    explore.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    explore.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("list", "params"):
        try:
            return cmd_list() if args.command == "list" else cmd_params(args.json)
        except BrokenPipeError:  # `... | head`: the reader has all it wants
            sys.stdout = open(os.devnull, "w")  # silence the flush at exit
            return 0
    if args.command == "explore":
        return cmd_explore(args)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if args.command == "regress":
            return cmd_regress(args)
        if args.command in ("report", "publish"):
            return cmd_report(args) if args.command == "report" else cmd_publish(args)
        return cmd_run(args)
    except (UsageError, ParameterError, OutputError) as error:
        return _fail(str(error))
    except InvariantError as error:
        return _fail(str(error), status=3)
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
    from experiments.analysis import regress

    unknown = sorted(set(args.cases) - set(regress.CASES))
    if unknown:
        return _fail(f"unknown golden case '{unknown[0]}': one of {', '.join(regress.CASES)}")
    golden_dir = (args.golden_dir or regress.GOLDEN_DIR).absolute()
    names = args.cases or list(regress.CASES)
    if args.update:  # fail in seconds, not after the runs
        try:
            golden_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"cannot write --golden-dir '{golden_dir}': {error.strerror}"
            ) from None
        probe_writable(golden_dir, "--golden-dir")
    try:
        if not args.update:
            for name in names:  # a broken golden file is reported before any run
                regress.check_golden(name, golden_dir)
        return regress.regress(
            names,
            update=args.update,
            golden_dir=golden_dir,
            verbose=args.all,
            experiments=definitions.EXPERIMENTS,
        )
    except regress.GoldenError as error:
        raise UsageError(str(error)) from None


# --- list and params --------------------------------------------------------------------------


def cmd_list() -> int:
    width = max(len(name) for name in definitions.EXPERIMENTS)
    for name, experiment in definitions.EXPERIMENTS.items():
        n = len(experiment.subsets())
        shape = f"{n} subset{'s' * (n != 1)} x {experiment.runs} runs, {experiment.years:g} y"
        print(f"{name:<{width}}  {experiment.description} [{shape}]")
    return 0


PARAMS_JSON_FIELDS = ("name", "default", "unit", "min", "max", "meaning", "source")


def params_table() -> list[dict[str, Any]]:
    """One row per parameter: name, default, unit, allowed min and max, meaning, source (and
    the allowed choices or whether it is an integer, where that applies)."""
    rows = []
    for name, meta in Parameters.field_info().items():
        row = {"name": name, **{k: meta[k] for k in PARAMS_JSON_FIELDS[1:]}}
        row["integer"] = bool(meta["integer"])
        row["choices"] = list(meta["choices"]) if meta["choices"] else None
        rows.append(row)
    return rows


def cmd_params(as_json: bool = False) -> int:
    rows = params_table()
    if as_json:
        print(json.dumps(jsonable(rows), indent=2))
        return 0
    shown = [
        (r["name"], _show(r["default"]), r["unit"], _allowed(r), r["meaning"], r["source"])
        for r in rows
    ]
    titles = ("name", "default", "unit", "allowed", "meaning", "source")
    widths = [max(len(row[i]) for row in [*shown, titles]) for i in range(4)]
    print("  ".join(t.ljust(w) for t, w in zip(titles[:4], widths, strict=False)) + "  meaning")
    for row in shown:
        cells = [c.ljust(w) for c, w in zip(row[:4], widths, strict=False)]
        print("  ".join(cells) + f"  {row[4]} [{row[5]}]")
    return 0


def _allowed(row: dict[str, Any]) -> str:
    if row["choices"]:
        return " | ".join(str(c) for c in row["choices"])
    if isinstance(row["default"], bool):
        return "true | false"
    return f"{_show(row['min'])} .. {_show(row['max'])}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:,.10g}" if isinstance(value, float) else str(value)


# --- run ------------------------------------------------------------------------------------------


def plan_run(args: argparse.Namespace) -> Plan:
    """The parsed `run` command as a validated Plan (UsageError / ParameterError otherwise)."""
    return make_plan(
        args.name,
        overrides=parse_overrides(args.overrides),
        runs=args.runs,
        years=args.years,
        seed=args.seed,
        engine=args.engine,
        backend=args.backend,
        processes=args.processes,
        ray_address=args.ray_address,
        kpi_only=args.kpi_only,
        thin=args.thin,
        out=args.out,
        independent_draws=args.independent_draws,
    )


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`NAME=VALUE` strings -> typed overrides; a name given twice is refused (which one was
    meant?)."""
    overrides = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"invalid --set {item!r}: expected NAME=VALUE")
        if name.strip() in overrides:
            raise UsageError(f"invalid --set {item!r}: '{name.strip()}' is set twice; set it once")
        overrides[name.strip()] = parse_value(name.strip(), text)
    return overrides


def cmd_run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    started_utc = dt.datetime.now(dt.UTC)
    plan = plan_run(args)
    folder = results.output_folder(plan, force=args.force)
    folder.check()  # a foreign, looping or mount-point --out fails here, before simulating
    problem = size_problem(plan)
    if problem:
        return _fail(problem)
    written: list[str] = []

    def finish(tmp: Path, table, frame) -> None:
        """Every result file into the temp folder `tmp` (a streamed run's timeseries is there)."""
        summary = kpis.summarize_runs(table)
        short = sorted({k for notes in kpis.not_available(table).values() for k in notes})
        if short:
            print(
                f"note: {len(short)} KPIs need a longer horizon than {plan.timesteps} days and "
                f"are reported as not available: {', '.join(short)}",
                file=sys.stderr,
            )
        extras = plan.experiment.results(table, seed=plan.seed, timesteps=plan.timesteps)
        files = results.result_files(plan, extras)
        manifest = results.build_manifest(plan, started_utc, time.perf_counter() - started, files)
        missing = kpis.not_available(table)
        results.write_results(tmp, plan, frame, summary, manifest, extras, missing)
        written.extend(files)

    with folder.prepare():  # probe, lock and clean up before the long work
        if streams_timeseries(plan):  # the frame would not fit: batches straight into the folder
            folder.write(lambda tmp: finish(tmp, *execute(plan, tmp / "timeseries.parquet")))
        else:
            table, frame = execute(plan)
            folder.write(lambda tmp: finish(tmp, table, frame))
    print(f"wrote {_relative(plan.out)}/ ({', '.join(written)})")
    return 0


# --- explore -------------------------------------------------------------------------------------


def cmd_explore(args: argparse.Namespace) -> int:
    """Serve the explorer until Ctrl+C or SIGTERM (imported here: Dash loads only for this)."""
    if not 0 < args.port < 65536:
        return _fail(f"invalid --port: must be 1 to 65535, got {args.port}")
    import socket

    try:  # a port in use (or a host not on this machine) is bad input: say so in one line
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as error:
        return _fail(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}")
    from experiments import explorer

    try:
        explorer.serve(args.host, args.port)
    except OSError as error:
        return _fail(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}")
    return 0


# --- report and publish --------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild report.html from a results directory's saved files."""
    from experiments.reporting.report import ReportError, load_results, write_report

    if not args.results_dir.is_dir():
        raise UsageError(f"invalid DIR '{args.results_dir}': not a results folder")
    try:  # what is wrong with the saved files comes first (the timeseries is read later)
        load_results(args.results_dir, timeseries=False)
    except ReportError as error:
        raise UsageError(str(error)) from None
    owned = owned_files(args.results_dir)  # None: a hand-made manifest, read but not ours
    if os.path.lexists(args.results_dir / "report.html") and "report.html" not in (owned or ()):
        raise UsageError(
            f"invalid DIR '{args.results_dir}': it holds a report.html its manifest does not "
            "list, which this project did not write; move or rename it first"
        )
    probe_writable(args.results_dir, "DIR")
    _check_report_memory(args.results_dir)
    try:
        path = write_report(args.results_dir)
    except ReportError as error:
        raise UsageError(str(error)) from None
    if owned is not None and "report.html" not in owned:  # the manifest lists what we wrote
        _list_in_manifest(args.results_dir, "report.html")
    print(f"wrote {_relative(path.absolute())}")
    return 0


def _list_in_manifest(results_dir: Path, name: str) -> None:
    path = results_dir / "manifest.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["files"] = sorted({*document.get("files", []), name})
    write_text_atomically(path, json_text(document))


def _check_report_memory(results_dir: Path, what: str = "DIR") -> None:
    """Refuse, before reading anything big, a report whose timeseries would not fit in memory."""
    from experiments import memory
    from experiments.plan import report_phase_bytes

    try:
        need = report_phase_bytes(results_dir)
    except Exception:  # an unreadable parquet: the report's own checks name the problem
        return
    available = memory.available_bytes()
    if need > available:
        raise UsageError(
            f"invalid {what} '{results_dir}': its report would need ~{need / 1e9:.1f} GB of memory, "
            f"{available / 1e9:.1f} GB is available; rebuild it on a larger machine"
        )


def cmd_publish(args: argparse.Namespace) -> int:
    """Every report under RESULTS_DIR as a static site in SITE_DIR, put in place atomically;
    files in SITE_DIR that the site's manifest does not list are the user's and are kept."""
    from experiments.reporting import publish
    from experiments.reporting.report import ReportError

    site = args.site_dir.absolute()
    try:
        found = publish.find_results(args.results_dir)
        folder = publish.check_site_dir(site, found, force=args.force)  # before any report
        for results_dir in found:  # a report built from its timeseries must fit in memory
            if not (results_dir / "report.html").is_file():
                _check_report_memory(results_dir, "RESULTS_DIR")
        published = []
        with folder.prepare():  # probe, lock and clean up; only the site's own files replaced
            folder.write(lambda tmp: published.extend(publish.build_site(found, tmp)))
    except (publish.PublishError, ReportError) as error:
        raise UsageError(str(error)) from None
    print(f"wrote {_relative(site)}/{publish.INDEX_FILE} ({len(published)} reports)")
    return 0


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
