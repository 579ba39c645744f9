""" "What this run says": the report's opening sentences, generated from kpis.json and
comparison.csv.

Every number comes with its uncertainty: a KPI of one subset is its median over the runs with
P5-P95 across them and the number of runs; a share of runs comes with its 95% (Wilson) interval
and the number of runs; a difference between subsets is the mean paired difference with its 95%
bootstrap interval, the share of pairs in which the subset is larger and the number of pairs (as
comparison.csv holds them). A difference whose mean and interval all lie within the KPI's
materiality threshold (`materiality`) is said to be no material difference rather than quoted as
a finding. Each finding names the assumptions (ASSUMPTIONS.md rows) it hangs on: what a finding
calls a KPI and the rows it hangs on are fields of its record in experiments.analysis.kpis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from experiments.analysis import kpis
from experiments.reporting import numbers

# The pool KPI a finding quotes: the longest horizon the run has a value for.
POOL_KPIS = ("reward_pool_5y", "reward_pool_2y", "reward_pool_1y")
PARITY_DAY = "fee_parity_day"
PARITY_SHARE = "fee_parity_within_730d"
UNMET_SHARE = "runs_with_unmet_trade_share"
# A finding per subset for at most this many subsets (a larger sweep: see the tables).
MAX_SUBSETS = 6
CONFIDENCE = 0.95
# A paired difference within this fraction of the KPI's scale in the reference (its median's
# magnitude) is no material difference: float-level effects such as $4e-9 a day on a node's
# income of a few dollars. A KPI's record may set an absolute `resolution` too (half a day).
RELATIVE_RESOLUTION = 1e-6
RELATIVE_TEXT = "one millionth"  # RELATIVE_RESOLUTION in words, for the sentence


@dataclass(frozen=True)
class Finding:
    """One sentence: `text`, the ASSUMPTIONS.md rows it hangs on, and the numbers it quotes
    (KPI, subset, statistic -> exact value) for a test or a reader to check."""

    text: str
    assumptions: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    subset: int | None = None
    kpi: str | None = None


def title(kpi: str) -> str:
    """What a sentence calls `kpi`: its record's title (its name if it has none)."""
    record = kpis.REGISTRY.get(kpi)
    return record.heading if record is not None else kpi


def assumption_ids(kpi: str) -> tuple[str, ...]:
    """The ASSUMPTIONS.md rows `kpi` hangs on most (its record's `assumptions`)."""
    record = kpis.REGISTRY.get(kpi)
    return tuple(record.assumptions) if record is not None else ()


def kind(kpi: str, stats: Mapping[str, Any] | None = None) -> str:
    """How `kpi` is shown: its record's kind (kpis.AMOUNT, FLAG or SHARE); a KPI this version
    does not know by its statistics (a single `value` is a share of runs)."""
    record = kpis.REGISTRY.get(kpi)
    if record is not None:
        return record.kind
    return kpis.SHARE if stats is not None and "value" in stats else kpis.AMOUNT


def wilson(share: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a share of `n` runs (scipy's binomtest)."""
    from scipy.stats import binomtest

    if n <= 0 or not math.isfinite(share):
        return math.nan, math.nan
    k = min(n, max(0, round(share * n)))
    ci = binomtest(k, n).proportion_ci(CONFIDENCE, method="wilson")
    # at a share of 0 or 1 the bound is exact: no rounding residue for the page to print
    low = 0.0 if k == 0 else max(0.0, float(ci.low))
    high = 1.0 if k == n else min(1.0, float(ci.high))
    return low, high


def total_runs(stats: Mapping[str, Mapping[str, Any]], runs: int | None = None) -> int:
    """The runs of a subset: `runs` (the manifest's runs per subset) when known, else the most
    runs any of its run-level KPIs has a value for."""
    if isinstance(runs, int) and runs > 0:
        return runs
    counts = [int(n) for v in stats.values() if (n := numbers.finite(v.get("n"))) is not None]
    return max(counts, default=0)


@dataclass(frozen=True)
class Share:
    """A share of runs: its value, the runs it is over (`n` of the subset's `total`) and its 95%
    Wilson interval."""

    value: float | None
    n: int
    total: int
    low: float
    high: float


def share(
    kpi: str, stats: Mapping[str, Mapping[str, Any]], runs: int | None = None
) -> Share | None:
    """`kpi` of one subset (`stats`: KPI -> statistics) as a share of runs, or None when it is
    not one: a SubsetKPI's value over the runs its record names (`over`: that KPI's n; else
    every run), a FLAG KPI's mean over the runs it has a value for."""
    own = stats.get(kpi)
    total = total_runs(stats, runs)
    if own is None:
        return None
    how = kind(kpi, own)
    if how == kpis.FLAG:
        value, n = numbers.finite(own.get("mean")), int(numbers.finite(own.get("n")) or 0)
    elif how == kpis.SHARE:
        value = numbers.finite(own.get("value"))
        record = kpis.REGISTRY.get(kpi)
        over = getattr(record, "over", "")
        n = int(numbers.finite(stats.get(over, {}).get("n")) or 0) if over else total
    else:
        return None
    low, high = wilson(value, n) if value is not None else (math.nan, math.nan)
    return Share(value, n, total, low, high)


def of_runs(kpi: str, n, total: int) -> str | None:
    """ "12 of 40" where `kpi` has a value for only some of a subset's `total` runs: always for a
    KPI whose record says it is defined for some runs only (a parity day: "0 of 40" says no run
    reached parity), else when 0 < n < total (none at all: the horizon is too short for it, and
    the page says so with the KPI). None otherwise."""
    count = numbers.finite(n)
    if count is None or not total:
        return None
    count = int(count)
    if getattr(kpis.REGISTRY.get(kpi), "defined_for", "") or 0 < count < total:
        return f"{count:,} of {total:,}"
    return None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def spread_text(stats: Mapping[str, Any], unit: str, runs: int | None = None) -> str | None:
    """ "29.8M SESH (median of 100 runs; P5-P95 28.1M to 31.6M)", or None without a median."""
    median = numbers.finite(stats.get("p50"))
    if median is None:
        return None
    n = int(stats.get("n") or 0)
    of = f"{n:,} runs" if runs is None or n == runs else f"the {n:,} of {runs:,} runs with a value"
    if n == 1:  # one run has no spread to show
        return f"{numbers.quantity(median, unit)} (one run: no spread across runs)"
    low, high = (numbers.quantity(stats.get(p), unit, short=True) for p in ("p5", "p95"))
    return f"{numbers.quantity(median, unit)} (median of {of}; P5\u2013P95 {low} to {high})"


def share_text(value, runs: int) -> str | None:
    """ "44.0% of 100 runs (95% interval 34.7% to 53.8%)", or None without a value."""
    value = numbers.finite(value)
    if value is None or runs <= 0:
        return None
    low, high = wilson(value, runs)
    shown = numbers.format_value(value, "share")
    return (
        f"{shown} of {runs:,} runs (95% interval {numbers.format_value(low, 'share')} to "
        f"{numbers.format_value(high, 'share')})"
    )


def materiality(kpi: str, reference: Mapping[str, Any] | None) -> tuple[float, str]:
    """The smallest paired difference of `kpi` that is material, and why: the larger of its
    record's `resolution` and RELATIVE_RESOLUTION of its scale in the reference subset (the
    magnitude of its median there, else of its P5/P95, its mean or its single value)."""
    record = kpis.REGISTRY.get(kpi)
    resolution = float(getattr(record, "resolution", 0.0) or 0.0)
    reference = reference or {}
    scale = 0.0
    for stat in ("p50", "p95", "p5", "mean", "value"):
        value = numbers.finite(reference.get(stat))
        if value:
            scale = abs(value)
            break
    relative = RELATIVE_RESOLUTION * scale
    if resolution >= relative:
        return resolution, "the KPI's resolution"
    return relative, f"{RELATIVE_TEXT} of its median in the reference"


def negligible(row: Mapping[str, Any], threshold: float) -> bool:
    """Whether a paired difference (comparison.csv's row) is no material difference: a positive
    `threshold` and its mean and 95% interval all within +-threshold."""
    if not threshold > 0:
        return False
    values = [numbers.finite(row.get(c)) for c in ("mean_difference", "ci_low", "ci_high")]
    if values[0] is None:
        return False
    return all(abs(v) <= threshold for v in values if v is not None)


def difference_text(
    row: Mapping[str, Any], unit: str, kpi: str, threshold: tuple[float, str] | None = None
) -> str | None:
    """ "+2.30M SESH [+1.50M, +3.00M], larger in 96.0% of 100 pairs", or None without pairs;
    with a `threshold` (`materiality`) that the mean and interval lie within: "no material
    difference (...)"."""
    mean, n = numbers.finite(row.get("mean_difference")), int(numbers.finite(row.get("n")) or 0)
    if mean is None or n == 0:
        return None
    pairs = f"{n:,} pairs" + (" where both runs reach parity" if kpi == PARITY_DAY else "")
    if threshold is not None and negligible(row, threshold[0]):
        size = numbers.quantity(threshold[0], unit, difference=True).lstrip("+")
        spread = "mean paired difference and its 95% interval" if n >= 2 else "difference"
        return (
            f"no material difference: the {spread} lie within \u00b1{size} "
            f"({threshold[1]}), over {pairs}"
        )
    low, high = (
        numbers.quantity(row.get(c), unit, difference=True, short=True)
        for c in ("ci_low", "ci_high")
    )
    if n < 2:  # one pair gives a difference, not an interval
        return f"{numbers.quantity(mean, unit, difference=True)} in the one pair (no interval)"
    share_positive = numbers.format_value(row.get("share_positive"), "share")
    larger = "later" if unit in ("day", "days") and kpi == PARITY_DAY else "larger"
    text = (
        f"{numbers.quantity(mean, unit, difference=True)} [{low}, {high}], "
        f"{larger} in {share_positive} of {pairs}"
    )
    lo, hi = numbers.finite(row.get("ci_low")), numbers.finite(row.get("ci_high"))
    if lo is not None and hi is not None and lo <= 0 <= hi and not lo == hi == 0:
        text += " (the interval includes 0: no clear difference)"
    elif lo == hi == 0 and mean == 0:
        text += " (the same in every pair)"
    return text


@dataclass(frozen=True)
class Group:
    """Findings under one heading (None: no heading, a run of one subset)."""

    title: str | None
    items: list[Finding]


def findings(
    summary: Mapping[int, Mapping[str, Mapping[str, Any]]],
    labels: Mapping[int, str],
    units: Mapping[str, str],
    runs: int | None,
    comparison: pd.DataFrame | None = None,
    reference: int | None = None,
) -> list[Group]:
    """The sentences of "What this run says", in groups: each subset's paired differences
    against the reference (what a comparison is run for), then the reference's own medians (the
    only subset's, in a run of one), then how many runs hit a trading limit. Without
    comparison.csv each subset's medians.

    The reference is comparison.csv's (the experiment's, compare.reference_subset), else
    `reference` (the manifest's), else the first subset. Past MAX_SUBSETS other subsets, the rest
    are named in one closing sentence."""
    if not summary:
        return []
    subsets = sorted(summary)
    if comparison is not None and len(comparison):
        reference = int(comparison["reference_subset"].iloc[0])
    if reference not in summary:
        reference = subsets[0]
    name = labels.get(reference, f"subset {reference}")
    others = [s for s in subsets if s != reference]
    groups = []
    for subset in others[:MAX_SUBSETS]:
        who = labels.get(subset, f"subset {subset}")
        rows = None if comparison is None else comparison[comparison["subset"] == subset]
        if rows is not None and len(rows):
            items = _difference_findings(subset, reference, rows, summary, labels, units, runs)
            groups.append(Group(f"{who} against {name}, run by run", items))
        else:
            groups.append(Group(who, _subset_findings(subset, summary, units, runs)))
    if len(others) > MAX_SUBSETS:
        groups.append(Group("More subsets", [_more(others[MAX_SUBSETS:], labels)]))
    own = _subset_findings(reference, summary, units, runs)
    if own:
        title = None if not others else f"{name} (the reference) on its own"
        groups.append(Group(title, own))
    limits = _limit_findings(summary, labels, runs)
    if limits:
        groups.append(Group("Read the tails with care", limits))
    return [g for g in groups if g.items]


def _more(left: Sequence[int], labels: Mapping[int, str]) -> Finding:
    """The subsets the findings leave out, by name."""
    names = "; ".join(labels.get(s, f"subset {s}") for s in left)
    what, where = ("subset", "it is") if len(left) == 1 else ("subsets", "they are")
    return Finding(
        f"... and {len(left):,} more {what} ({names}): not summarised here; {where} in the KPI "
        "tables and the paired differences below.",
        values={"subsets": list(left)},
    )


def _pool_kpi(stats: Mapping[str, Mapping[str, Any]]) -> str | None:
    return next(
        (k for k in POOL_KPIS if numbers.finite(stats.get(k, {}).get("p50")) is not None), None
    )


def _kpi_finding(kpi: str, text: str, values: dict[str, Any], subset) -> Finding:
    """One headline KPI's sentence ("Title: text."), with the assumptions it hangs on."""
    return Finding(f"{_capital(title(kpi))}: {text}.", assumption_ids(kpi), values, subset, kpi)


def _subset_findings(subset, summary, units, runs) -> list[Finding]:
    stats = summary[subset]
    out = []
    pool = _pool_kpi(stats)
    for kpi in (pool, "price_usd_end", "nodes_end", "node_net_usd_per_day_last_year"):
        if kpi is None or kpi not in stats:
            continue
        text = spread_text(stats[kpi], units.get(kpi, ""), runs)
        if text is None:
            continue
        values = {p: stats[kpi].get(p) for p in ("p50", "p5", "p95", "n")}
        out.append(_kpi_finding(kpi, text, values, subset))
        if kpi == pool:
            out += _parity_findings(subset, stats, runs)
    return out


def _parity_findings(subset, stats, runs) -> list[Finding]:
    """When runs first reach fee parity, and how many do within two years."""
    day = stats.get(PARITY_DAY)
    if day is None:
        return []
    reached = int(day.get("n") or 0)
    total = total_runs(stats, runs) or reached
    out = []
    if reached == 0:
        out.append(
            Finding(
                f"No run of {total:,} reaches fee parity (30-day mean pool inflow at or "
                "above emission) within the simulated period.",
                assumption_ids(PARITY_DAY),
                {"n": 0},
                subset,
                PARITY_DAY,
            )
        )
    else:
        low, high = (numbers.format_value(day.get(p), "day") for p in ("p5", "p95"))
        out.append(
            Finding(
                f"{reached:,} of {total:,} runs reach fee parity (30-day mean pool inflow "
                f"at or above emission), first on day {numbers.format_value(day.get('p50'), 'day')}"
                f" at the median of those runs (P5\u2013P95 day {low} to {high}).",
                assumption_ids(PARITY_DAY),
                {"p50": day.get("p50"), "p5": day.get("p5"), "p95": day.get("p95")}
                | {"n": reached},
                subset,
                PARITY_DAY,
            )
        )
    at = share(PARITY_SHARE, stats, runs)
    within = None if at is None else share_text(at.value, at.n)
    if within is not None:
        out.append(
            Finding(
                f"At fee parity within 730 days: {within}.",
                assumption_ids(PARITY_SHARE),
                {"value": at.value, "n": at.n},
                subset,
                PARITY_SHARE,
            )
        )
    return out


def _difference_findings(subset, reference, rows, summary, labels, units, runs) -> list[Finding]:
    """The paired differences of the headline KPIs, then both subsets' parity shares."""
    against = labels.get(reference, f"subset {reference}")
    by_kpi = {row["kpi"]: row for row in rows.to_dict(orient="records")}
    pool = _pool_kpi(summary[subset]) or next((k for k in POOL_KPIS if k in by_kpi), None)
    out = []
    for kpi in (pool, PARITY_DAY, "price_usd_end", "nodes_end", "node_net_usd_per_day_last_year"):
        if kpi is None or kpi not in by_kpi:
            continue
        row = by_kpi[kpi]
        threshold = materiality(kpi, summary[reference].get(kpi))
        text = difference_text(row, units.get(kpi, ""), kpi, threshold)
        if text is None:
            continue
        columns = ("mean_difference", "ci_low", "ci_high", "share_positive", "n")
        out.append(_kpi_finding(kpi, text, {c: row[c] for c in columns}, subset))
    at, at_reference = (share(PARITY_SHARE, summary[s], runs) for s in (subset, reference))
    mine = None if at is None else share_text(at.value, at.n)
    theirs = None if at_reference is None else share_text(at_reference.value, at_reference.n)
    if mine is not None and theirs is not None:
        out.append(
            Finding(
                f"At fee parity within 730 days: {mine}, against {theirs} in {against}.",
                assumption_ids(PARITY_SHARE),
                {"value": at.value, "n": at.n},
                subset,
                PARITY_SHARE,
            )
        )
    return out


def _limit_findings(summary, labels, runs) -> list[Finding]:
    """A warning where some runs could not fill a trade: their tails come from a limit."""
    hit = {
        s: v
        for s, stats in summary.items()
        if (v := share(UNMET_SHARE, stats, runs)) is not None and v.value and v.n > 0
    }
    if not hit:
        return []
    parts = [
        f"{labels.get(s, f'subset {s}') if len(summary) > 1 else 'the run'}: "
        f"{share_text(v.value, v.n)}"
        for s, v in sorted(hit.items())
    ]
    return [
        Finding(
            "Some runs could not fill a trade (a reserve or the tradable float ran out), so "
            "their tails come from a limit of the model rather than from the economy; "
            + "; ".join(parts)
            + ".",
            assumption_ids(UNMET_SHARE),
            {"value": {s: v.value for s, v in sorted(hit.items())}},
            None,
            UNMET_SHARE,
        )
    ]


def _change(value, unit: str, short: bool = False) -> str:
    return numbers.quantity(value, unit, difference=True, short=short).lstrip("+")


def sensitivity_findings(
    table: pd.DataFrame, units: Mapping[str, str], top: int = 3
) -> list[Group]:
    """A Morris run's answer: per KPI (registry order, as `table` is sorted), the parameters that
    move it most, each with mu* and its 95% interval over the trajectories (clipped at zero:
    mu* is a mean of absolute changes; `sensitivity.mu_star_bounds`)."""
    from experiments.analysis.sensitivity import mu_star_bounds

    items = []
    for kpi, group in table.groupby("kpi", sort=False):
        unit = units.get(kpi, "")
        ranked = mu_star_bounds(group.sort_values("rank", kind="stable").head(top))
        # mu* is a size of change: in percentage points for shares and rates, never signed
        parts = [
            f"{row.parameter} (mu* {_change(row.mu_star, unit)} "
            f"[{_change(row.mu_star_low, unit, short=True)}, "
            f"{_change(row.mu_star_high, unit, short=True)}])"
            for row in ranked.itertuples(index=False)
        ]
        if not parts:
            continue
        items.append(
            Finding(
                f"{_capital(title(kpi))} moves most with {parts[0]}"
                + (f", then {', '.join(parts[1:])}" if len(parts) > 1 else "")
                + ".",
                assumption_ids(kpi),
                {"parameters": [row.parameter for row in ranked.itertuples(index=False)]},
                None,
                kpi,
            )
        )
    if not items:
        return []
    return [Group("What moves each KPI most (Morris screening)", items)]
