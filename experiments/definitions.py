"""Named experiments: parameter overrides on the one model, never code forks.

An experiment is a base set of overrides plus a sweep. The sweep has two forms that combine:
- `sweep`: parameter -> list of values, expanded Cartesian (every combination is a subset);
- `levels`: named override sets that move several parameters together (low/base/high demand),
  which a Cartesian product cannot express.
Each subset becomes one validated `model.Parameters` with a label for reports.

Randomness: the model draws every trajectory's shocks from
`numpy.random.SeedSequence(seed, spawn_key=(subset, run))` (model/stochastic.py). Experiments use
common random numbers by default (`common_draws`): every subset draws with subset 0's key, so run
r of every subset sees the same shocks and a comparison between subsets is paired; with more than
one subset the results add `comparison.csv`, each subset against the `reference` subset.

The `sensitivity` experiment samples its subsets instead (Morris points, from the master seed) and
adds a ranked table to its results; it runs KPI-only on the vectorized engine with common random
numbers (every point gets subset 0's draws). See experiments/analysis/sensitivity.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from experiments.analysis import compare, headlines, kpis, sensitivity
from model import ParameterError, Parameters


@dataclass(frozen=True)
class Subset:
    """One parameter set of an experiment, as it is run and reported."""

    index: int
    label: str
    overrides: dict[str, Any]
    parameters: Parameters


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    runs: int = 100
    years: float = 5
    base: Mapping[str, Any] = field(default_factory=dict)
    sweep: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    levels: Sequence[tuple[str, Mapping[str, Any]]] = ()
    # How it must run, when that is not the command line's choice.
    engine: str | None = None  # the only engine it runs on (None: any)
    kpi_only: bool = False  # KPI-only streaming by default (--thin N adds a thinned timeseries)
    # Common random numbers: run r of every subset gets the draws of (subset 0, run r), so
    # subsets differ by their parameters only and comparisons are paired. On by default;
    # `--independent-draws` turns it off for a run.
    common_draws: bool = True
    # The subset that paired comparisons are taken against: this one when given, else the subset
    # whose swept values are the model defaults, else subset 0 (compare.reference_subset, the
    # one rule; set here once the experiment is built, so `reference` is always a subset).
    reference: int | None = None
    min_years: float = 0.0  # shortest horizon its KPIs are defined for

    def __post_init__(self) -> None:
        object.__setattr__(self, "reference", self.reference_subset(self.reference))

    def reference_subset(self, explicit: int | None = None) -> int:
        """compare.reference_subset of this experiment's subsets (their swept values)."""
        defaults = {name: info["default"] for name, info in Parameters.field_info().items()}
        swept = [varied for _, varied in self._combinations()]
        return compare.reference_subset(swept, defaults, explicit)

    def swept(self) -> set[str]:
        """The parameters that differ between subsets."""
        names = set(self.sweep)
        for _, overrides in self.levels:
            names.update(overrides)
        return names

    def subsets(self, extra: Mapping[str, Any] | None = None, seed: int = 0) -> list[Subset]:
        """Expand into validated subsets; `extra` (from `--set`) applies to every subset.

        `seed` (the master seed) matters only to experiments that sample their subsets. Raises
        ParameterError for an unknown name, a bad value, or an `extra` override of a swept
        parameter (it would silently lose to the sweep).
        """
        extra = dict(extra or {})
        clash = sorted(set(extra) & self.swept())
        if clash:
            raise ParameterError(
                f"invalid override '{clash[0]}': experiment '{self.name}' sweeps it; "
                "choose another experiment or parameter"
            )
        subsets = []
        for index, (label, varied) in enumerate(self._combinations(seed)):
            overrides = {**self.base, **extra, **varied}
            subsets.append(Subset(index, label, overrides, Parameters.from_overrides(overrides)))
        return subsets

    def results(self, per_run, seed: int, timesteps: int) -> dict[str, Any]:
        """Extra result tables (file name -> DataFrame) from the run-level KPI table: with more
        than one subset, the paired comparison of every subset with the reference."""
        if per_run["subset"].nunique() < 2:
            return {}
        names = [k.name for k in kpis.RUN_KPIS]
        return {"comparison.csv": compare.comparison_table(per_run, names, self.reference)}

    def _combinations(self, seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
        """(label, overrides) per subset: levels x Cartesian sweep, levels outermost."""
        levels = list(self.levels) or [("", {})]
        names = list(self.sweep)
        grid = list(itertools.product(*(self.sweep[n] for n in names)))
        combos = []
        for level_label, level in levels:
            for values in grid:
                point = dict(zip(names, values, strict=True))
                parts = [level_label] if level_label else []
                parts += [f"{n}={_fmt(v)}" for n, v in point.items()]
                combos.append((", ".join(parts) or self.name, {**level, **point}))
        return combos


@dataclass(frozen=True)
class SensitivityExperiment(Experiment):
    """Morris global sensitivity: subsets are the sample points, results add the ranked table."""

    samples: int = 32
    parameters: tuple[str, ...] = ()

    def swept(self) -> set[str]:
        return set(self.parameters)

    def reference_subset(self, explicit: int | None = None) -> int:
        """Morris points are sampled, not swept around the defaults: no paired comparison."""
        return compare.reference_subset([], {}, explicit)

    def _combinations(self, seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
        return sensitivity.points(self.parameters, self.samples, seed)

    def results(self, per_run, seed: int, timesteps: int) -> dict[str, Any]:
        table = sensitivity.ranked_table(self.parameters, self.samples, seed, per_run, timesteps)
        return {"sensitivity.csv": table}


def sensitivity_experiment(samples: int = 32, parameters: Sequence[str] | None = None):
    """The `sensitivity` experiment, with other sample counts or parameters."""
    return SensitivityExperiment(
        "sensitivity",
        "Morris sensitivity of pool at 5 y, fee parity day, node APR, price to behavioural "
        "parameters, with Pro revenue routed to the pool (else no fee flow to vary)",
        runs=1,
        base=sensitivity.BASE,
        engine="vectorized",
        kpi_only=True,
        common_draws=True,
        min_years=sensitivity.MIN_YEARS,
        samples=samples,
        parameters=tuple(sensitivity.PARAMETERS if parameters is None else parameters),
    )


@dataclass(frozen=True)
class HeadlineExperiment(Experiment):
    """One-at-a-time sensitivity of the headlines (`experiments.analysis.headlines`): subsets are
    each headline scenario at its defaults and with one unsupported parameter at the low or high
    end of its range; results add `headline_sensitivity.csv`."""

    def swept(self) -> set[str]:
        names = set(headlines.unsupported_parameters())
        for scenario in headlines.scenarios():
            names.update(scenario)
        return names

    def _combinations(self, seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
        return [(label, overrides) for label, overrides, _ in headlines.points()]

    def results(self, per_run, seed: int, timesteps: int) -> dict[str, Any]:
        where = [w for _, _, w in headlines.points()]
        return {"headline_sensitivity.csv": headlines.table(per_run, where, seed)}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# Demand levels move Pro and names together: one adoption story, not a grid of mismatched ones.
# Base is the model default (Pro conversion 0.5% of monthly users, the Telegram Premium benchmark;
# 0.01 names per user); low and high are a quarter and four times that (assumptions, for a range,
# not forecasts: x4 is 2%, inside the benchmark's 3% target).
# Fee experiments only mean something when fees buy SESH: Pro revenue routed to the pool (the
# docs' intended flow; the default "none" is the public facts) and the name service deployed.
_FEES_REACH_THE_POOL = {"pro_revenue_route": "pool", "sns_deployed": True}

_ADOPTION_LEVELS = (
    ("low demand", {"pro_conversion": 0.00125, "sns_names_per_user": 0.0025}),
    ("base demand", {"pro_conversion": 0.005, "sns_names_per_user": 0.01}),
    ("high demand", {"pro_conversion": 0.02, "sns_names_per_user": 0.04}),
)

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "baseline",
            "the model's defaults, as the public facts stand: Pro revenue does not reach the pool, "
            "no name service; 90/10 fee split, 15.1% payout, 25,000 SESH per node",
        ),
        Experiment(
            "fee_split",
            "pool share of fees 90% (tokenomics docs) vs 100% (Session Pro docs), with Pro "
            "revenue routed to the pool (the docs' intended flow)",
            runs=50,
            base=_FEES_REACH_THE_POOL,
            sweep={"fee_pool_share": [0.9, 1.0]},
            common_draws=True,
        ),
        Experiment(
            "adoption",
            "low / base / high Pro and name-service demand (saturation levels x1/4, x1, x4), "
            "with Pro revenue routed to the pool and SNS deployed",
            runs=50,
            base=_FEES_REACH_THE_POOL,
            levels=_ADOPTION_LEVELS,
            common_draws=True,
        ),
        Experiment(
            "emission_rate",
            "Staking Reward Pool payout rate swept around the contract's 15.1%/year",
            runs=50,
            sweep={"pool_payout_rate": [0.10, 0.125, 0.151, 0.175, 0.20]},
            common_draws=True,
        ),
        Experiment(
            "staking_requirement",
            "stake per node at 25,000 SESH (contract) and lower; the SESH staked at TGE is held "
            "fixed (initial_stake_sesh), so only the node size differs",
            runs=50,
            sweep={"staking_requirement": [25_000.0, 20_000.0, 15_000.0, 10_000.0]},
            common_draws=True,
        ),
        Experiment(
            "contract_only",
            "the RewardRatePool contract alone: no fee inflows, no liquidations, no launch "
            "smoothing, no exits (54,321,374 SESH left after 365 days)",
            runs=1,
            base={
                "launch_smoothing": False,
                "pro_revenue_route": "none",
                "sns_deployed": False,
                "liquidation_rate": 0.0,
                "max_exit_rate": 0.0,
                "stress_day": 0,
            },
        ),
        Experiment(
            "price_model",
            "the three structural price models on the same draws: decaying impact on "
            "consolidated depth (default), exogenous price (neutral reference), pool-only ratchet",
            runs=50,
            sweep={"price_model": ["impact", "exogenous", "pool_only"]},
            common_draws=True,
        ),
        Experiment(
            "scenarios",
            "Pro revenue route (none, pool) x SNS deployed (no, yes) x price model (exogenous, "
            "impact), on the same draws",
            runs=50,
            sweep={
                "pro_revenue_route": ["none", "pool"],
                "sns_deployed": [False, True],
                "price_model": ["exogenous", "impact"],
            },
            common_draws=True,
        ),
        Experiment(
            "stress",
            "ETH and SESH prices fall 60% on day 400 and 30% of unlocked nodes ask to exit",
            base={"stress_day": 400, "stress_price_drop": 0.6, "stress_exit_share": 0.3},
        ),
        sensitivity_experiment(),
        HeadlineExperiment(
            "headline_sensitivity",
            "what the headlines hang on: each quoted number with one unsupported parameter at "
            "the low and the high end of its range, on the same draws (one at a time)",
            runs=100,
            engine="vectorized",
            kpi_only=True,
            common_draws=True,
            min_years=5.0,
        ),
        # issue 21 item 2: the foundation's appeal fails and development stops
        Experiment(
            "funding_failure",
            "development stops on the announced shutdown day (2026-07-08, day 413) against the "
            "baseline on the same draws: app health decays, so Pro and name spending fall and "
            "the nodes' hurdles rise",
            runs=50,
            levels=(("baseline", {}), ("funding failure", {"foundation_failure_day": 413})),
            common_draws=True,
        ),
        # issue 21 item 6: the owner lowers the staking requirement when nodes stay low
        Experiment(
            "governance_rule",
            "the staking requirement lowered by 2,500 SESH (to 15,000 at most) after 30 "
            "consecutive days below 1,500 active nodes, against the baseline on the same draws",
            runs=50,
            levels=(("baseline", {}), ("requirement rule", {"gov_rule_on": True})),
            common_draws=True,
        ),
    )
}


def get(name: str) -> Experiment:
    """The experiment called `name`, or ParameterError naming the known ones."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        known = ", ".join(EXPERIMENTS)
        raise ParameterError(f"unknown experiment '{name}': choose one of {known}") from None
