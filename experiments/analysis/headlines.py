"""What the headlines hang on: each quoted number moved by one unsupported parameter at a time.

A headline is a number a reader would quote (README "What the experiments say now"): a share of
runs, the median of a KPI, or the median paired difference between two scenarios on common
random numbers. An unsupported parameter is one whose source is an assumption (its `source` in
`model.Parameters` names one) rather than a contract, the code or an observation.

For every headline and every unsupported parameter the headline is recomputed with that
parameter at the low and at the high end of its plausible range (`sensitivity.bounds`, the same
ranges the Morris screening uses; whole-number parameters rounded), everything else at its
default, on the same draws: run r of every point sees the shocks of run r at the default. The
table says, per headline, which assumptions move it and how far ("the swing"), which is the form
an audit quotes: "parity within two years: 42% at the default; 13% at growth 0.5%/day, 64% at
2%". One-at-a-time sweeps miss interactions (the Morris screening, `sensitivity`, measures
those); they answer "what does this sentence hang on".

How it runs: every (scenario, parameter, end) point is one subset; all go through the vectorized
engine in one KPI-only call with common draws (`HeadlineExperiment` in
`experiments.definitions`), so a headline's low and high are paired with its default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from experiments.analysis import kpis, sensitivity
from model import Parameters

DEFAULT = "default"  # the `parameter` of a scenario's point with every parameter at its default
CONF_LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_STREAM = 7  # spawn key of the bootstrap's generator (apart from the model's draws)


@dataclass(frozen=True)
class Headline:
    """A quoted number: `kpi` (a run-level or subset-level KPI of `experiments.analysis.kpis`)
    in `scenario` (overrides), reduced over runs by its statistic (a subset KPI is its own
    reduction; a run-level KPI its median), or, with a `reference` scenario, the median of the
    per-run paired differences scenario minus reference."""

    name: str
    claim: str
    kpi: str
    scenario: Mapping[str, Any] = field(default_factory=dict)
    reference: Mapping[str, Any] | None = None

    @property
    def unit(self) -> str:
        return kpis.REGISTRY[self.kpi].unit

    @property
    def fixed(self) -> set[str]:
        """The parameters the headline's scenarios set: not varied for it."""
        return set(self.scenario) | set(self.reference or {})


ROUTED = {"pro_revenue_route": "pool"}

HEADLINES: tuple[Headline, ...] = (
    Headline(
        "parity_within_2y_routed",
        "share of runs whose first fee-parity crossing is within two years, Pro revenue routed "
        "to the pool",
        "fee_parity_within_730d",
        scenario=ROUTED,
    ),
    Headline(
        "pool_5y_routed_vs_baseline",
        "5-year Staking Reward Pool, Pro revenue routed to the pool minus not routed (paired "
        "median)",
        "reward_pool_5y",
        scenario=ROUTED,
        reference={},
    ),
    Headline(
        "pool_5y_split_100_vs_90",
        "5-year Staking Reward Pool, 100% of fee buys to the pool minus 90% (Pro routed; paired "
        "median)",
        "reward_pool_5y",
        scenario={**ROUTED, "fee_pool_share": 1.0},
        reference={**ROUTED, "fee_pool_share": 0.9},
    ),
    Headline("nodes_min_baseline", "fewest nodes on the path, baseline (median)", "nodes_min"),
    Headline("price_5y_baseline", "SESH price at the end, baseline (median)", "price_usd_end"),
)


# Parameters inactive at the defaults: the `stress` experiment's shock (no stress day), the
# `funding_failure` day (0: never) and the governance rule's settings (the rule is off). They are
# those experiments' scenarios, not assumptions the headlines rest on: moving them changes nothing.
NOT_VARIED = (
    "stress_day",
    "stress_price_drop",
    "stress_exit_share",
    "foundation_failure_day",
    "gov_node_level",
    "gov_node_days",
    "gov_requirement_step",
    "gov_requirement_floor",
)


def unsupported_parameters() -> tuple[str, ...]:
    """The numeric parameters whose source is an assumption (not switches or choices)."""
    names = []
    for name, meta in Parameters.field_info().items():
        if meta["choices"] or isinstance(meta["default"], bool) or name in NOT_VARIED:
            continue
        if "assumption" in str(meta["source"]).lower():
            names.append(name)
    return tuple(names)


def plausible_range(name: str) -> tuple[float, float]:
    """The low and high end a parameter is moved to: `sensitivity.bounds` for a real-valued one;
    a whole-number one gets the same rule (default -50%/+50% clipped to its allowed range),
    rounded."""
    meta = Parameters.field_info()[name]
    if name in sensitivity.DAY_BOUNDS:
        return sensitivity.DAY_BOUNDS[name]
    if not meta["integer"]:
        return sensitivity.bounds(name)
    default = float(meta["default"])
    low, high = (default * 0.5, default * 1.5) if default > 0 else (meta["min"], meta["max"])
    low, high = max(low, meta["min"]), min(high, meta["max"])
    return float(math.ceil(low)), float(math.floor(high))


def _value(name: str, number: float):
    return int(round(number)) if Parameters.field_info()[name]["integer"] else float(number)


def _valid_end(scenario: Mapping[str, Any], name: str, number: float):
    """`number` for `name` in `scenario`, or, where it breaks a rule between parameters (a launch
    window's latest day before its earliest), the value nearest to it towards the default that
    keeps the set valid (bisection): the table then shows the end actually used."""
    from model import ParameterError

    def valid(value) -> bool:
        try:
            Parameters.from_overrides({**scenario, name: value})
        except ParameterError:
            return False
        return True

    value = _value(name, number)
    if valid(value):
        return value
    good, bad = float(Parameters.field_info()[name]["default"]), float(number)
    for _ in range(60):
        middle = _value(name, (good + bad) / 2.0)
        if middle in (_value(name, good), _value(name, bad)):
            break
        good, bad = (middle, bad) if valid(middle) else (good, middle)
    return _value(name, good)


def scenarios(headlines: Sequence[Headline] = HEADLINES) -> list[dict[str, Any]]:
    """The distinct scenarios the headlines read (each a dict of overrides), in first-use order."""
    seen: list[dict[str, Any]] = []
    for headline in headlines:
        for scenario in (headline.scenario, headline.reference):
            if scenario is not None and dict(scenario) not in seen:
                seen.append(dict(scenario))
    return seen


def points(
    headlines: Sequence[Headline] = HEADLINES, parameters: Sequence[str] | None = None
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, overrides, where) per subset: every scenario at its defaults, then each scenario
    with each parameter that no headline reading it fixes at its low and its high end. `where`
    says what the point is: scenario index, parameter (or DEFAULT) and end ("low"/"high")."""
    names = unsupported_parameters() if parameters is None else tuple(parameters)
    found = scenarios(headlines)
    fixed = [set() for _ in found]
    for headline in headlines:
        for scenario in (headline.scenario, headline.reference):
            if scenario is not None:
                fixed[found.index(dict(scenario))] |= headline.fixed
    out = []
    for i, scenario in enumerate(found):
        where = {"scenario": i, "parameter": DEFAULT, "end": DEFAULT}
        out.append((f"s{i} default", dict(scenario), where))
    for name in names:
        low, high = plausible_range(name)
        for i, scenario in enumerate(found):
            if name in fixed[i]:
                continue
            for end, number in (("low", low), ("high", high)):
                value = _valid_end(scenario, name, number)
                where = {"scenario": i, "parameter": name, "end": end, "value": value}
                out.append((f"s{i} {name}={value:g}", {**scenario, name: value}, where))
    return out


def _statistic(headline: Headline, rows: pd.DataFrame, reference: pd.DataFrame | None) -> float:
    record = kpis.REGISTRY[headline.kpi]
    if isinstance(record, kpis.SubsetKPI):
        return float(record.function(rows))
    values = _values(headline, rows, reference)
    return float(np.median(values)) if len(values) else math.nan


def _values(headline: Headline, rows: pd.DataFrame, reference: pd.DataFrame | None) -> np.ndarray:
    """The per-run values (or paired differences, matched by run) the headline's median is of;
    runs where either side has no value (e.g. no parity day) are left out."""
    mine = rows.set_index("run")[headline.kpi]
    if reference is not None:
        mine = mine - reference.set_index("run")[headline.kpi].reindex(mine.index)
    return mine.dropna().to_numpy(dtype="float64")


def interval(
    headline: Headline, rows: pd.DataFrame, reference: pd.DataFrame | None, seed: int
) -> tuple[float, float, int]:
    """The headline's 95% interval at its point and the number of runs it is over: a share of runs
    by the Wilson score interval, a median by a percentile bootstrap (seeded from `seed`)."""
    record = kpis.REGISTRY[headline.kpi]
    if isinstance(record, kpis.SubsetKPI):
        share = float(record.function(rows))
        n = len(rows)
        if not math.isfinite(share) or n == 0:
            return math.nan, math.nan, n
        found = stats.binomtest(int(round(share * n)), n).proportion_ci(CONF_LEVEL, "wilson")
        return float(found.low), float(found.high), n
    values = _values(headline, rows, reference)
    if len(values) < 2 or np.ptp(values) == 0:
        middle = float(np.median(values)) if len(values) else math.nan
        return middle, middle, len(values)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(BOOTSTRAP_STREAM,)))
    found = stats.bootstrap(
        (values,),
        np.median,
        confidence_level=CONF_LEVEL,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        random_state=rng,
    ).confidence_interval
    return float(found.low), float(found.high), len(values)


COLUMNS = [
    "headline",
    "claim",
    "kpi",
    "unit",
    "parameter",
    "source",
    "low",
    "high",
    "at_default",
    "ci_low",
    "ci_high",
    "n",
    "at_low",
    "at_high",
    "swing",
    "rank",
]


def table(
    per_run: pd.DataFrame,
    where: Sequence[Mapping[str, Any]],
    seed: int,
    headlines: Sequence[Headline] = HEADLINES,
) -> pd.DataFrame:
    """One row per (headline, parameter): the headline at its default (with its interval and n)
    and at the parameter's low and high end; `swing` = |at_high - at_low|, `rank` 1 = the
    parameter that moves the headline most. `where[i]` describes subset i (from `points`)."""
    found = scenarios(headlines)
    index = {(w["scenario"], w["parameter"], w["end"]): i for i, w in enumerate(where)}
    groups = dict(tuple(per_run.groupby("subset", sort=True)))
    info = Parameters.field_info()

    def rows_of(scenario, parameter, end):
        subset = index.get((scenario, parameter, end))
        return None if subset is None else groups[subset]

    out = []
    for headline in headlines:
        mine = found.index(dict(headline.scenario))
        theirs = None if headline.reference is None else found.index(dict(headline.reference))

        def at(parameter, end, mine=mine, theirs=theirs, headline=headline):
            rows = rows_of(mine, parameter, end)
            reference = None if theirs is None else rows_of(theirs, parameter, end)
            return rows, reference

        rows, reference = at(DEFAULT, DEFAULT)
        at_default = _statistic(headline, rows, reference)
        ci_low, ci_high, n = interval(headline, rows, reference, seed)
        varied = sorted({w["parameter"] for w in where} - {DEFAULT} - headline.fixed)
        for name in varied:
            low_rows, low_ref = at(name, "low")
            high_rows, high_ref = at(name, "high")
            if low_rows is None or high_rows is None:
                continue
            at_low = _statistic(headline, low_rows, low_ref)
            at_high = _statistic(headline, high_rows, high_ref)
            low, high = (where[index[(mine, name, end)]]["value"] for end in ("low", "high"))
            out.append(
                {
                    "headline": headline.name,
                    "claim": headline.claim,
                    "kpi": headline.kpi,
                    "unit": headline.unit,
                    "parameter": name,
                    "source": str(info[name]["source"]),
                    "low": low,
                    "high": high,
                    "at_default": at_default,
                    "ci_low": ci_low,
                    "ci_high": ci_high,
                    "n": n,
                    "at_low": at_low,
                    "at_high": at_high,
                    "swing": abs(at_high - at_low),
                }
            )
    frame = pd.DataFrame(out, columns=COLUMNS[:-1])
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype="int64"))[COLUMNS]
    rank = frame.groupby("headline", sort=False)["swing"].rank(
        ascending=False, method="first", na_option="bottom"
    )
    order = frame["headline"].map({h.name: i for i, h in enumerate(headlines)})
    frame = frame.assign(rank=rank.astype("int64"), order=order)
    return frame.sort_values(["order", "rank"]).reset_index(drop=True)[COLUMNS]
