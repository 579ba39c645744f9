"""KPI regression: fixed-seed experiments whose KPI tables are committed under tests/golden/.

`python -m experiments regress` reruns every golden case, prints one row per KPI statistic
(KPI, golden, now, tolerance, status) and fails on any drift beyond tolerance. `--update`
rewrites the golden files and prints what moved, so a deliberate change to a mechanism lands
with its new golden values (and the reason, in the commit message) in the same commit.

Tolerances come from each KPI's Monte Carlo noise, measured when the golden file is written:
twice the bootstrap standard error of the statistic over the case's runs (a binomial standard
error for shares of runs), never below a float-rounding floor. A change that moves a KPI by less
than its own sampling noise at this run count is, by construction, not detectable here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis import compare as paired_compare
from experiments.analysis import kpis
from experiments.engines.registry import RunSpec, simulate
from experiments.files import write_text_atomically

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "tests" / "golden"
BOOTSTRAP_SAMPLES = 500
BOOTSTRAP_SEED = 20250521
NOISE_MULTIPLE = 2.0
# Relative floor: differences of this size are float rounding (BLAS, libm), not model changes.
FLOAT_FLOOR = 1e-9
# KPIs that measure float rounding itself: any reordering of the arithmetic moves them by their
# own size, so they are held to their order of magnitude (the invariant guard bounds them anyway).
ROUNDING_KPIS = ("max_abs_conservation_residual",)
TOLERANCE_RULE = (
    "tolerance = 2 x the bootstrap standard error of the statistic over the case's runs "
    "(2 x binomial s.e., at least one run, for shares of runs), at least 1e-9 relative; "
    "KPIs of float rounding (max_abs_conservation_residual) at least their own size"
)


@dataclass(frozen=True)
class GoldenCase:
    experiment: str
    runs: int
    years: float
    seed: int


CASES = {
    "baseline": GoldenCase("baseline", runs=60, years=5, seed=2024),
    "fee_split": GoldenCase("fee_split", runs=30, years=5, seed=2024),
    "stress": GoldenCase("stress", runs=30, years=5, seed=2024),
}


def run_case(case: GoldenCase, experiments: Mapping) -> tuple[pd.DataFrame, dict[int, str]]:
    """Run-level KPI table of a case and its subset labels (vectorized engine: equal to cadCAD
    within 1e-9)."""
    experiment = experiments[case.experiment]
    subsets = experiment.subsets()
    spec = RunSpec(
        runs=case.runs,
        years=case.years,
        seed=case.seed,
        engine="vectorized",
        common_draws=experiment.common_draws,
    )
    frame = simulate([s.parameters for s in subsets], spec)
    return kpis.per_run(frame), {s.index: s.label for s in subsets}


def _statistic(values: np.ndarray, stat: str) -> float:
    if stat == "mean":
        return float(values.mean())
    return float(np.quantile(values, kpis.QUANTILES[stat]))


def noise_tolerance(values: pd.Series, stat: str) -> tuple[float, str]:
    """Twice the bootstrap standard error of `stat` over these runs, with a rounding floor."""
    clean = values.dropna().to_numpy(dtype="float64")
    if stat == "n":
        return 0.0, "count of runs with a value: exact"
    if len(clean) < 2:
        return 0.0, "fewer than two runs with a value: exact"
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.integers(0, len(clean), size=(BOOTSTRAP_SAMPLES, len(clean)))
    boot = [_statistic(clean[row], stat) for row in draws]
    error = NOISE_MULTIPLE * float(np.std(boot))
    floor = FLOAT_FLOOR * max(abs(_statistic(clean, stat)), 1.0)
    reason = f"{NOISE_MULTIPLE:g} x bootstrap s.e. over {len(clean)} runs"
    if error < floor:
        return floor, "no run-to-run spread: float-rounding floor"
    return error, reason


def rounding_tolerance(kpi: str, value, tolerance: float, reason: str) -> tuple[float, str]:
    """A rounding KPI's tolerance: at least the statistic's own size (within a factor 2)."""
    if kpi not in ROUNDING_KPIS or value is None or not math.isfinite(value):
        return tolerance, reason
    if abs(value) <= tolerance:
        return tolerance, reason
    return abs(value), "float rounding: within a factor 2 of the golden"


def share_tolerance(table: pd.DataFrame, value: float) -> tuple[float, str]:
    n = len(table)
    if math.isnan(value) or n == 0:
        return 0.0, "undefined share: must stay undefined"
    error = NOISE_MULTIPLE * math.sqrt(value * (1 - value) / n)
    return max(error, 1.0 / n), f"{NOISE_MULTIPLE:g} x binomial s.e., at least one run in {n}"


def comparison_rows(table: pd.DataFrame, labels: dict[int, str], reference: int) -> list[dict]:
    """The paired comparison of every subset with the reference (`compare.comparison_table`),
    each statistic with a tolerance derived like the others: 2 x the bootstrap s.e. of the mean
    paired difference for the difference and its interval ends, 2 x the binomial s.e. for the
    share of pairs above zero, exact for the pair count."""
    rows = []
    names = [k.name for k in kpis.RUN_KPIS]
    for row in paired_compare.comparison_table(table, names, reference).itertuples(index=False):
        d = pd.Series(paired_compare.paired(table, row.kpi, row.subset, reference))
        noise, why_noise = noise_tolerance(d, "mean")
        label = labels[int(row.subset)]
        for stat in ("mean_difference", "ci_low", "ci_high"):
            value = getattr(row, stat)
            tolerance, reason = rounding_tolerance(row.kpi, value, noise, why_noise)
            rows.append(
                _row(row.subset, label, row.kpi, f"paired_{stat}", value, tolerance, reason)
            )
        share, why = share_tolerance(d, row.share_positive)
        rows.append(
            _row(
                row.subset, label, row.kpi, "paired_share_positive", row.share_positive, share, why
            )
        )
        rows.append(_row(row.subset, label, row.kpi, "paired_n", row.n, 0.0, "count: exact"))
    return rows


def golden_rows(
    table: pd.DataFrame, labels: dict[int, str], reference: int | None = None
) -> list[dict]:
    """Every KPI statistic of a case with its tolerance and the reason for it (and, with a
    `reference` subset, the paired comparison of the others with it)."""
    rows = []
    for subset, runs in table.groupby("subset", sort=True):
        label = labels[int(subset)]
        for kpi in kpis.RUN_KPIS:
            stats = kpis.describe(runs[kpi.name])
            for stat, value in stats.items():
                tolerance, reason = noise_tolerance(runs[kpi.name], stat)
                if stat != "n":
                    tolerance, reason = rounding_tolerance(kpi.name, value, tolerance, reason)
                rows.append(_row(subset, label, kpi.name, stat, value, tolerance, reason))
        for kpi in kpis.SUBSET_KPIS:
            value = kpi.function(runs)
            tolerance, reason = share_tolerance(runs, value)
            rows.append(_row(subset, label, kpi.name, "value", value, tolerance, reason))
    if reference is not None and table["subset"].nunique() > 1:
        rows += comparison_rows(table, labels, reference)
    return rows


def _row(subset, label, kpi, stat, value, tolerance, reason):
    value = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
    return {
        "subset": int(subset),
        "label": label,
        "kpi": kpi,
        "stat": stat,
        "golden": value,
        "tolerance": tolerance,
        "reason": reason,
    }


def golden_path(name: str, golden_dir: Path = GOLDEN_DIR) -> Path:
    return golden_dir / f"{name}.json"


class GoldenError(ValueError):
    """A golden file that cannot be read (one-line message)."""


GOLDEN_ROW_KEYS = ("subset", "label", "kpi", "stat", "golden", "tolerance")


def load_golden(name: str, golden_dir: Path = GOLDEN_DIR) -> dict:
    """The golden document of case `name`; GoldenError if it is unreadable or incomplete."""
    path = golden_path(name, golden_dir)
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise GoldenError(f"cannot read golden file '{path}': {error.strerror}") from None
    except ValueError as error:
        raise GoldenError(
            f"invalid golden file '{path}': not valid JSON ({error}); restore it from git or "
            "rewrite it with `regress --update`"
        ) from None
    rows = document.get("kpis") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows:
        raise GoldenError(f"invalid golden file '{path}': no 'kpis' rows")
    for row in rows:
        missing = [k for k in GOLDEN_ROW_KEYS if not isinstance(row, dict) or k not in row]
        if missing:
            raise GoldenError(f"invalid golden file '{path}': a row lacks '{missing[0]}'")
    return document


def check_golden(name: str, golden_dir: Path = GOLDEN_DIR) -> None:
    """Raise GoldenError if case `name` has a golden file that cannot be used (a missing one is
    reported by `regress` itself, as a failure that `--update` fixes)."""
    if golden_path(name, golden_dir).exists():
        load_golden(name, golden_dir)


def write_golden(name: str, case: GoldenCase, rows: list[dict], golden_dir: Path) -> None:
    document = {
        "case": name,
        "experiment": case.experiment,
        "runs": case.runs,
        "years": case.years,
        "seed": case.seed,
        "engine": "vectorized",
        "tolerance_rule": TOLERANCE_RULE,
        "kpis": rows,
    }
    golden_dir.mkdir(parents=True, exist_ok=True)
    path = golden_path(name, golden_dir)
    write_text_atomically(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


def compare(golden: list[dict], now: list[dict]) -> pd.DataFrame:
    """Join golden and current rows; status PASS, FAIL, MISSING (golden only) or NEW."""
    key = ["subset", "kpi", "stat"]
    old = pd.DataFrame(golden)[key + ["label", "golden", "tolerance"]]
    new = pd.DataFrame(now)[key + ["golden"]].rename(columns={"golden": "now"})
    table = old.merge(new, on=key, how="outer", indicator=True)
    passed = [
        within(g, n, t)
        for g, n, t in zip(table["golden"], table["now"], table["tolerance"], strict=True)
    ]
    status = np.select(
        [table["_merge"] == "left_only", table["_merge"] == "right_only", passed],
        ["MISSING", "NEW", "PASS"],
        default="FAIL",
    )
    return table.drop(columns="_merge").assign(status=status)


def within(golden, now, tolerance) -> bool:
    """Both undefined, or both defined and at most `tolerance` apart."""
    golden_missing = golden is None or pd.isna(golden)
    now_missing = now is None or pd.isna(now)
    if golden_missing or now_missing:
        return golden_missing and now_missing
    return abs(float(now) - float(golden)) <= float(tolerance)


def _format(value) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value):.6g}"


def print_table(name: str, table: pd.DataFrame, only_problems: bool = False) -> None:
    shown = table[table["status"] != "PASS"] if only_problems else table
    print(f"== {name}: {int((table['status'] == 'PASS').sum())}/{len(table)} within tolerance")
    if shown.empty:
        return
    lines = [("KPI", "subset", "golden", "now", "tolerance", "status")]
    for row in shown.itertuples():
        lines.append(
            (
                f"{row.kpi}.{row.stat}",
                str(row.label),
                _format(row.golden),
                _format(row.now),
                _format(row.tolerance),
                row.status,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(6)]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def regress(
    names: list[str] | None = None,
    update: bool = False,
    golden_dir: Path = GOLDEN_DIR,
    verbose: bool = False,
    experiments: Mapping | None = None,
) -> int:
    """Rerun the golden cases. Returns 0 when every KPI is within tolerance (or after --update).

    `experiments`: name -> experiment (`experiments.definitions.EXPERIMENTS`, which the command
    line passes in: the analysis layer does not import the named experiments)."""
    if experiments is None:
        raise ValueError("regress needs the named experiments (experiments.definitions)")
    failed = False
    for name in names or list(CASES):
        case = CASES[name]
        table, labels = run_case(case, experiments)
        rows = golden_rows(table, labels, experiments[case.experiment].reference)
        path = golden_path(name, golden_dir)
        if update:
            if path.exists():
                diff = compare(load_golden(name, golden_dir)["kpis"], rows)
                moved = diff[(diff["status"] != "PASS") | (diff["golden"] != diff["now"])]
                print(f"== {name}: {len(moved)} statistics changed (before -> after)")
                for row in moved.itertuples():
                    print(
                        f"  {row.kpi}.{row.stat} [{row.label}]: {_format(row.golden)} -> {_format(row.now)}"
                    )
            write_golden(name, case, rows, golden_dir)
            print(f"wrote {path}")
            continue
        if not path.exists():
            print(f"== {name}: no golden file {path}; run with --update")
            failed = True
            continue
        result = compare(load_golden(name, golden_dir)["kpis"], rows)
        print_table(name, result, only_problems=not verbose)
        failed |= bool((result["status"] != "PASS").any())
    return 1 if failed else 0
