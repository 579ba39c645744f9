"""A results folder: what a run writes (timeseries, KPI tables, manifest, report), all at once.

`write_results` fills a folder; `save` puts it in place atomically (`experiments.files`), so the
target is either the previous complete results or the new complete results, never half of one.
The manifest records everything needed to rerun: the command, settings, every subset's
parameters, package versions and the git revision. It is also what makes a folder this project's
results: `"written_by": "sesh-economy-model"` and `files`, every file the run wrote. Only files
it lists are ever replaced or removed; anything else in `--out` is the user's and stays.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.analysis import compare, kpis
from experiments.engines.base import PARQUET_OPTIONS
from experiments.files import (
    MANIFEST,
    WRITTEN_BY,
    OutputFolder,
    json_text,
    write_folder_atomically,
)
from experiments.plan import Plan
from model.constants import TGE_DATE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("numpy", "pandas", "cadCAD", "radcad", "ray", "pyarrow", "plotly")
RESULT_FILES = ("timeseries.parquet", "kpis.json", "kpis.csv", "manifest.json", "report.html")
# Every file a run of this project can write (experiments add their own tables): a user's entry
# with one of these names is in the way (refused, even with --force); anything else is kept.
OWN_FILES = (*RESULT_FILES, "sensitivity.csv", "comparison.csv", "headline_sensitivity.csv")


def output_folder(plan: Plan, force: bool = False) -> OutputFolder:
    """The run's --out as a guarded output folder (see `experiments.files.OutputFolder`): with
    `force` the user's files in it are kept and the results written beside them."""
    return OutputFolder(plan.out, own=OWN_FILES, force=force, what="--out", manifest=MANIFEST)


def result_files(plan: Plan, extras) -> list[str]:
    """What a run writes: KPI-only has a timeseries only when thinned; experiments add tables."""
    timeseries = not plan.kpi_only or plan.thin is not None
    files = [f for f in RESULT_FILES if timeseries or f != "timeseries.parquet"]
    return files + list(extras)


def save(out: Path, plan: Plan, frame, summary, manifest, extras=None) -> None:
    """Write the results into a temp folder beside `out` and put them in place."""
    write_folder_atomically(
        out, lambda tmp: write_results(tmp, plan, frame, summary, manifest, extras), MANIFEST
    )


def write_results(
    tmp: Path, plan: Plan, frame, summary, manifest, extras=None, unavailable=None
) -> None:
    """Fill `tmp` with every result file (`unavailable`: subset -> KPI -> why it has no value).

    `frame` None: a KPI-only run without --thin (no timeseries), or a streamed run that already
    wrote tmp/timeseries.parquet batch by batch (`plan.stream_timeseries`); the report then reads
    the columns it draws from that file instead of a frame in memory.
    """
    if frame is not None:
        frame.to_parquet(
            tmp / "timeseries.parquet", engine="pyarrow", index=False, **PARQUET_OPTIONS
        )
    labels = {s.index: s.label for s in plan.subsets}
    document = kpis_document(plan, summary, unavailable)
    if extras and "comparison.csv" in extras:
        document["comparison"] = compare.as_document(extras["comparison.csv"], labels)
        document["reference_subset"] = plan.experiment.reference
    (tmp / "kpis.json").write_text(json_text(document))
    kpis.tidy(summary, labels).to_csv(tmp / "kpis.csv", index=False)
    (tmp / "manifest.json").write_text(json_text(manifest))
    for name, table in (extras or {}).items():  # e.g. sensitivity.csv
        table.to_csv(tmp / name, index=False)
    from experiments.reporting.report import write_report  # plotly only when a run writes results

    write_report(tmp, frame=frame)  # last: it reads the files above (only the columns it draws)


def kpis_document(plan: Plan, summary, unavailable=None) -> dict[str, Any]:
    """kpis.json: the KPI registry, then subset -> label, overrides, KPI -> statistics, and
    (`not_available`) KPI -> why it has no value, where the horizon is too short for it."""
    unavailable = unavailable or {}
    return {
        "experiment": plan.experiment.name,
        "kpis": {
            name: {"unit": k.unit, "description": k.description}
            for name, k in kpis.REGISTRY.items()
        },
        "subsets": {
            str(s.index): {
                "label": s.label,
                "overrides": s.overrides,
                "kpis": summary[s.index],
                "not_available": unavailable.get(s.index, {}),
            }
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
        "written_by": WRITTEN_BY,  # with "files": what makes a folder this project's results
        "experiment": plan.experiment.name,
        "description": plan.experiment.description,
        "command": ["python", "-m", "experiments", *sys.argv[1:]],
        "seed": plan.seed,
        "common_draws": plan.spec.common_draws,
        "seeding": (
            "numpy.random.SeedSequence(seed, spawn_key=(0, run)) for every subset "
            "(common random numbers: run r of every subset sees the same shocks)"
            if plan.spec.common_draws
            else "numpy.random.SeedSequence(seed, spawn_key=(subset, run)) per trajectory "
            "(independent draws)"
        ),
        "reference_subset": plan.experiment.reference if len(plan.subsets) > 1 else None,
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
