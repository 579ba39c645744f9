""" "What this run says": the report's opening sentences, generated from kpis.json and
comparison.csv.

Every number comes with its uncertainty: a KPI of one subset is its median over the runs with
P5-P95 across them and the number of runs; a share of runs comes with its 95% (Wilson) interval
and the number of runs; a difference between subsets is the mean paired difference with its 95%
bootstrap interval, the share of pairs in which the subset is larger and the number of pairs (as
comparison.csv holds them). Each finding names the assumptions (ASSUMPTIONS.md) it hangs on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from experiments.reporting import numbers

# The pool KPI a finding quotes: the longest horizon the run has a value for.
POOL_KPIS = ("reward_pool_5y", "reward_pool_2y", "reward_pool_1y")
PARITY_DAY = "fee_parity_day"
PARITY_SHARE = "fee_parity_within_730d"
UNMET_SHARE = "runs_with_unmet_trade_share"
# (KPI, what a sentence calls it): the run-level KPIs a finding quotes, in this order.
TITLES = {
    "reward_pool_5y": "Staking Reward Pool at 5 years",
    "reward_pool_2y": "Staking Reward Pool at 2 years",
    "reward_pool_1y": "Staking Reward Pool at 1 year",
    PARITY_DAY: "first day at fee parity",
    "price_usd_end": "SESH price at the end",
    "nodes_end": "registered nodes at the end",
    "node_net_usd_per_day_last_year": "a node's net income in the last year",
    "node_apr_sesh_last_year": "a node's SESH reward over its stake in the last year",
}
# The ASSUMPTIONS.md rows (their # column) each KPI's value hangs on most.
ASSUMPTION_IDS = {
    "reward_pool": ("E1", "E2", "D1", "D2"),
    PARITY_DAY: ("D1", "D2", "D3", "E2"),
    PARITY_SHARE: ("D1", "D2", "D3", "E2"),
    "price_usd_end": ("M3", "M6", "V2", "S4"),
    "nodes_end": ("S1", "S2", "S3"),
    "node_net_usd_per_day_last_year": ("S2", "M3"),
    "node_apr_sesh_last_year": ("E1", "E2", "S2"),
    UNMET_SHARE: ("M5",),
}
# A finding per subset for at most this many subsets (a larger sweep: see the tables).
MAX_SUBSETS = 6
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Finding:
    """One sentence: `text`, the ASSUMPTIONS.md rows it hangs on, and the numbers it quotes
    (KPI, subset, statistic -> exact value) for a test or a reader to check."""

    text: str
    assumptions: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    subset: int | None = None
    kpi: str | None = None


def assumption_ids(kpi: str) -> tuple[str, ...]:
    if kpi.startswith("reward_pool_"):
        return ASSUMPTION_IDS["reward_pool"]
    return ASSUMPTION_IDS.get(kpi, ())


def wilson(share: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a share of `n` runs."""
    if n <= 0:
        return math.nan, math.nan
    centre = (share + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(share * (1 - share) / n + Z95**2 / (4 * n * n))
    # at a share of 0 or 1 the bound is exact: no rounding residue (3e-18) for the page to print
    low = 0.0 if share <= 0 else max(0.0, centre - half)
    high = 1.0 if share >= 1 else min(1.0, centre + half)
    return low, high


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


def share_text(share, runs: int) -> str | None:
    """ "44.0% of 100 runs (95% interval 34.7% to 53.8%)", or None without a value."""
    value = numbers.finite(share)
    if value is None or runs <= 0:
        return None
    low, high = wilson(value, runs)
    shown = numbers.format_value(value, "share")
    return (
        f"{shown} of {runs:,} runs (95% interval {numbers.format_value(low, 'share')} to "
        f"{numbers.format_value(high, 'share')})"
    )


def difference_text(row: Mapping[str, Any], unit: str, kpi: str) -> str | None:
    """ "+2.30M SESH [+1.50M, +3.00M], larger in 96.0% of 100 pairs", or None without pairs."""
    mean, n = numbers.finite(row.get("mean_difference")), int(numbers.finite(row.get("n")) or 0)
    if mean is None or n == 0:
        return None
    low, high = (
        numbers.quantity(row.get(c), unit, difference=True, short=True)
        for c in ("ci_low", "ci_high")
    )
    if n < 2:  # one pair gives a difference, not an interval
        return f"{numbers.quantity(mean, unit, difference=True)} in the one pair (no interval)"
    share = numbers.format_value(row.get("share_positive"), "share")
    larger = "later" if unit in ("day", "days") and kpi == PARITY_DAY else "larger"
    pairs = f"{n:,} pairs" + (" where both runs reach parity" if kpi == PARITY_DAY else "")
    text = (
        f"{numbers.quantity(mean, unit, difference=True)} [{low}, {high}], "
        f"{larger} in {share} of {pairs}"
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
) -> list[Group]:
    """The sentences of "What this run says", in groups: each subset's paired differences
    against the reference (what a comparison is run for), then the reference's own medians (the
    only subset's, in a run of one), then how many runs hit a trading limit. Without
    comparison.csv each subset's medians."""
    if not summary:
        return []
    subsets = sorted(summary)
    reference = subsets[0]
    if comparison is not None and len(comparison):
        reference = int(comparison["reference_subset"].iloc[0])
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
        more = Finding(
            f"{len(others) - MAX_SUBSETS:,} more subsets are not summarised here: the KPI "
            "tables and the paired differences below hold them all."
        )
        groups.append(Group("More subsets", [more]))
    own = _subset_findings(reference, summary, units, runs)
    if own:
        title = None if not others else f"{name} (the reference) on its own"
        groups.append(Group(title, own))
    limits = _limit_findings(summary, labels, runs)
    if limits:
        groups.append(Group("Read the tails with care", limits))
    return [g for g in groups if g.items]


def _pool_kpi(stats: Mapping[str, Mapping[str, Any]]) -> str | None:
    return next(
        (k for k in POOL_KPIS if numbers.finite(stats.get(k, {}).get("p50")) is not None), None
    )


def _kpi_finding(kpi: str, text: str, values: dict[str, Any], subset) -> Finding:
    """One headline KPI's sentence ("Title: text."), with the assumptions it hangs on."""
    return Finding(f"{_capital(TITLES[kpi])}: {text}.", assumption_ids(kpi), values, subset, kpi)


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
    total = runs or reached
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
    within = share_text(stats.get(PARITY_SHARE, {}).get("value"), total)
    if within is not None:
        out.append(
            Finding(
                f"At fee parity within 730 days: {within}.",
                assumption_ids(PARITY_SHARE),
                {"value": stats[PARITY_SHARE]["value"], "n": total},
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
        text = difference_text(row, units.get(kpi, ""), kpi)
        if text is None:
            continue
        columns = ("mean_difference", "ci_low", "ci_high", "share_positive", "n")
        out.append(_kpi_finding(kpi, text, {c: row[c] for c in columns}, subset))
    mine = share_text(summary[subset].get(PARITY_SHARE, {}).get("value"), runs or 0)
    theirs = share_text(summary[reference].get(PARITY_SHARE, {}).get("value"), runs or 0)
    if mine is not None and theirs is not None:
        out.append(
            Finding(
                f"At fee parity within 730 days: {mine}, against {theirs} in {against}.",
                assumption_ids(PARITY_SHARE),
                {"value": summary[subset][PARITY_SHARE]["value"], "n": runs},
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
        if (v := numbers.finite(stats.get(UNMET_SHARE, {}).get("value"))) is not None and v > 0
    }
    if not hit or not runs:
        return []
    parts = [
        f"{labels.get(s, f'subset {s}') if len(summary) > 1 else 'the run'}: {share_text(v, runs)}"
        for s, v in sorted(hit.items())
    ]
    return [
        Finding(
            "Some runs could not fill a trade (a reserve or the tradable float ran out), so "
            "their tails come from a limit of the model rather than from the economy; "
            + "; ".join(parts)
            + ".",
            assumption_ids(UNMET_SHARE),
            {"value": dict(sorted(hit.items()))},
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
        title = TITLES.get(kpi, kpi)
        items.append(
            Finding(
                f"{_capital(title)} moves most with {parts[0]}"
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
