"""KPI regression: fixed-seed experiments whose KPI tables are committed under tests/golden/.

`python -m experiments regress` reruns every golden case, prints one row per KPI statistic
(KPI, golden, now, tolerance, status) and fails on any drift beyond tolerance. `--update`
rewrites the golden files and prints what moved, so a deliberate change to a mechanism lands
with its new golden values (and the reason, in the commit message) in the same commit.

Tolerances come from each KPI's Monte Carlo noise, measured when the golden file is written:
twice the bootstrap standard error of the statistic over the case's runs (a binomial standard
error for shares of runs), never below what float rounding alone moves it by over the case's
horizon on another CPU (`experiments.analysis.tolerances.kpi_floor`, applied again when
comparing, so a golden file written on one machine passes on any). A change that moves a KPI by
less than its own sampling noise at this run count is, by construction, not detectable here.

A golden file is validated when read: a row whose value or tolerance is not a number (or whose
labels are not text) is a GoldenError naming the file, the row and the field.
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
from experiments.analysis import kpis, tolerances
from experiments.engines.registry import RunSpec, simulate
from experiments.files import write_text_atomically
from experiments.schemas import is_finite_number
from model.constants import DAYS_PER_YEAR

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "tests" / "golden"
BOOTSTRAP_SAMPLES = 500
BOOTSTRAP_SEED = 20250521
NOISE_MULTIPLE = 2.0
TOLERANCE_RULE = (
    "tolerance = 2 x the bootstrap standard error of the statistic over the case's runs "
    "(2 x binomial s.e., at least one run, for shares of runs), at least what float rounding "
    "moves it by on another CPU (experiments/analysis/tolerances.py: 64 ulps a day relative; "
    "KPIs of the conservation residual absolutely, a few ulps at 240M x sqrt(stock updates))"
)


@dataclass(frozen=True)
class GoldenCase:
    experiment: str
    runs: int
    years: float
    seed: int

    @property
    def days(self) -> int:
        return max(1, round(self.years * DAYS_PER_YEAR))  # as RunSpec.timesteps


CASES = {
    "baseline": GoldenCase("baseline", runs=60, years=5, seed=2024),
    "fee_split": GoldenCase("fee_split", runs=30, years=5, seed=2024),
    "stress": GoldenCase("stress", runs=30, years=5, seed=2024),
}


def run_case(case: GoldenCase, experiments: Mapping) -> tuple[pd.DataFrame, dict[int, str]]:
    """Run-level KPI table of a case and its subset labels (vectorized engine: equal to cadCAD
    within the float-rounding tolerances of `experiments.analysis.tolerances`)."""
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
    """Twice the bootstrap standard error of `stat` over these runs (no floor: `floored`)."""
    clean = values.dropna().to_numpy(dtype="float64")
    if stat == "n":
        return 0.0, "count of runs with a value: exact"
    if len(clean) < 2:
        return 0.0, "fewer than two runs with a value: no spread"
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.integers(0, len(clean), size=(BOOTSTRAP_SAMPLES, len(clean)))
    boot = [_statistic(clean[row], stat) for row in draws]
    error = NOISE_MULTIPLE * float(np.std(boot))
    return error, f"{NOISE_MULTIPLE:g} x bootstrap s.e. over {len(clean)} runs"


def floored(
    kpi: str, stat: str, value, days: int, tolerance: float, reason: str
) -> tuple[float, str]:
    """`tolerance`, or the float-rounding floor of the statistic where that is larger."""
    floor, why = tolerances.kpi_floor(kpi, stat, value, days)
    return (floor, why) if floor > tolerance else (tolerance, reason)


def share_tolerance(table: pd.DataFrame, value: float) -> tuple[float, str]:
    n = len(table)
    if math.isnan(value) or n == 0:
        return 0.0, "undefined share: must stay undefined"
    error = NOISE_MULTIPLE * math.sqrt(value * (1 - value) / n)
    return max(error, 1.0 / n), f"{NOISE_MULTIPLE:g} x binomial s.e., at least one run in {n}"


def comparison_rows(
    table: pd.DataFrame, labels: dict[int, str], reference: int, days: int
) -> list[dict]:
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
            tolerance, reason = floored(row.kpi, f"paired_{stat}", value, days, noise, why_noise)
            rows.append(
                _row(row.subset, label, row.kpi, f"paired_{stat}", value, tolerance, reason)
            )
        share, why = share_tolerance(d, row.share_positive)
        share, why = floored(row.kpi, "paired_share_positive", row.share_positive, days, share, why)
        rows.append(
            _row(
                row.subset, label, row.kpi, "paired_share_positive", row.share_positive, share, why
            )
        )
        rows.append(_row(row.subset, label, row.kpi, "paired_n", row.n, 0.0, "count: exact"))
    return rows


def golden_rows(
    table: pd.DataFrame, labels: dict[int, str], reference: int | None = None, days: int = 1
) -> list[dict]:
    """Every KPI statistic of a case with its tolerance and the reason for it (and, with a
    `reference` subset, the paired comparison of the others with it); `days`: the case's
    horizon, for the float-rounding floor."""
    rows = []
    for subset, runs in table.groupby("subset", sort=True):
        label = labels[int(subset)]
        for kpi in kpis.RUN_KPIS:
            stats = kpis.describe(runs[kpi.name])
            for stat, value in stats.items():
                tolerance, reason = noise_tolerance(runs[kpi.name], stat)
                tolerance, reason = floored(kpi.name, stat, value, days, tolerance, reason)
                rows.append(_row(subset, label, kpi.name, stat, value, tolerance, reason))
        for kpi in kpis.SUBSET_KPIS:
            value = kpi.function(runs)
            tolerance, reason = share_tolerance(runs, value)
            tolerance, reason = floored(kpi.name, "value", value, days, tolerance, reason)
            rows.append(_row(subset, label, kpi.name, "value", value, tolerance, reason))
    if reference is not None and table["subset"].nunique() > 1:
        rows += comparison_rows(table, labels, reference, days)
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
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
        raise GoldenError(
            f"invalid golden file '{path}': not valid JSON ({error}); restore it from git or "
            "rewrite it with `regress --update`"
        ) from None
    rows = document.get("kpis") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows:
        raise GoldenError(f"invalid golden file '{path}': no 'kpis' rows")
    for index, row in enumerate(rows):
        missing = [k for k in GOLDEN_ROW_KEYS if not isinstance(row, dict) or k not in row]
        if missing:
            raise GoldenError(f"invalid golden file '{path}': a row lacks '{missing[0]}'")
        problem = _row_problem(row)
        if problem:
            where = f"kpis[{index}]"
            if isinstance(row["kpi"], str) and isinstance(row["stat"], str):
                where += f" ({row['kpi']}.{row['stat']})"
            raise GoldenError(f"invalid golden file '{path}': {where} {problem}")
    return document


def _shown(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _row_problem(row: dict) -> str | None:
    """What is wrong with the types of a golden row's fields, or None."""
    for field in ("label", "kpi", "stat"):
        if not isinstance(row[field], str):
            return f"field '{field}' must be text, not {_shown(row[field])}"
    if not isinstance(row["subset"], int) or isinstance(row["subset"], bool):
        return f"field 'subset' must be an integer, not {_shown(row['subset'])}"
    if row["golden"] is not None and not is_finite_number(row["golden"]):
        return f"field 'golden' must be a finite number or null, not {_shown(row['golden'])}"
    if not is_finite_number(row["tolerance"]) or row["tolerance"] < 0:
        return f"field 'tolerance' must be a finite number >= 0, not {_shown(row['tolerance'])}"
    return None


def check_golden(name: str, golden_dir: Path = GOLDEN_DIR) -> None:
    """Raise GoldenError if case `name` has no usable golden file: a `--golden-dir` that is not
    a folder or lacks the case's file is said before any case runs (`--update` writes it)."""
    if not golden_dir.is_dir():
        raise GoldenError(
            f"invalid --golden-dir '{golden_dir}': not a folder of golden files (the default is "
            f"{GOLDEN_DIR}; `regress --update --golden-dir DIR` writes a new one)"
        )
    if not golden_path(name, golden_dir).exists():
        raise GoldenError(
            f"invalid --golden-dir '{golden_dir}': no golden file {golden_path(name, golden_dir).name}"
            f" for case '{name}'; write it with `regress --update --golden-dir {golden_dir}`"
        )
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


def compare(golden: list[dict], now: list[dict], days: int = 1) -> pd.DataFrame:
    """Join golden and current rows; status PASS, FAIL, MISSING (golden only) or NEW. Each
    tolerance is at least the statistic's float-rounding floor over `days` days (a golden file
    written on another CPU, or before the floor was derived, is judged by the same rule)."""
    key = ["subset", "kpi", "stat"]
    old = pd.DataFrame(golden)[key + ["label", "golden", "tolerance"]]
    new = pd.DataFrame(now)[key + ["golden"]].rename(columns={"golden": "now"})
    table = old.merge(new, on=key, how="outer", indicator=True)
    table["tolerance"] = [
        t if pd.isna(t) else max(float(t), tolerances.kpi_floor(k, s, _value(g), days)[0])
        for k, s, g, t in zip(
            table["kpi"], table["stat"], table["golden"], table["tolerance"], strict=True
        )
    ]
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


def _value(value):
    return None if value is None or pd.isna(value) else float(value)


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
        rows = golden_rows(table, labels, experiments[case.experiment].reference, case.days)
        path = golden_path(name, golden_dir)
        if update:
            if path.exists():
                diff = compare(load_golden(name, golden_dir)["kpis"], rows, case.days)
                same = (diff["golden"] == diff["now"]) | (
                    diff["golden"].isna() & diff["now"].isna()
                )
                moved = diff[(diff["status"] != "PASS") | ~same]
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
        result = compare(load_golden(name, golden_dir)["kpis"], rows, case.days)
        print_table(name, result, only_problems=not verbose)
        failed |= bool((result["status"] != "PASS").any())
    return 1 if failed else 0
