"""Global sensitivity of the main KPIs to the behavioural parameters: the Morris method (SALib).

Morris screening moves one parameter at a time along `samples` random trajectories through the
parameter space (k parameters: samples x (k + 1) points, each parameter on a grid of 4 levels
between its bounds) and records each step's elementary effect, the KPI change per step. Per KPI
and parameter, `mu_star` is the mean absolute elementary effect (how much the parameter moves the
KPI), `sigma` their standard deviation (how much that depends on where the others are:
interactions and non-linearity), `mu_star_conf` the bootstrap 95% half-width of `mu_star` (a
symmetric normal approximation: `mu_star_bounds` gives the interval clipped at 0). Effects
are per normalised step (SALib's unscaled default), so `mu_star` is in the KPI's unit and compares
parameters across their whole ranges; rank 1 is the most influential parameter of a KPI.

How it runs: every sample point is one subset, and all of them go through the vectorized engine in
one KPI-only call (`experiments.engines.streaming.stream`), which takes seconds. The points share their
random draws (common random numbers, the draws of subset 0): an elementary effect then measures
the parameter step, not a different draw of the market and demand shocks.

KPIs, one value per point (the mean over its runs, the price the median over its runs):
- `reward_pool_5y`: Staking Reward Pool balance at 5 years (so the horizon must be >= 5 years);
- `fee_parity_day`: first day the 30-day mean pool inflow >= mean emission. A run that never gets
  there within the horizon has no day (NaN in kpis.json); here it counts as horizon + 1 days, so
  "later than the run shows" is the latest value rather than a hole in the analysis;
- `node_apr_sesh_last_year`: a node's reward over its stake in SESH, mean over the last year;
- `price_usd_end`: the SESH price at the end (P50 over the point's runs).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from experiments.analysis import kpis
from experiments.engines.registry import RunSpec
from experiments.engines.streaming import stream
from model import ParameterError, Parameters

COLUMNS = ["kpi", "parameter", "mu_star", "mu_star_conf", "sigma", "rank"]
# KPI name (experiments.kpis registry) -> how a point's runs are reduced to one value.
KPIS = {
    "reward_pool_5y": "mean",
    "fee_parity_day": "mean",
    "node_apr_sesh_last_year": "mean",
    "price_usd_end": "median",
}
# Fixed for every point: the docs' intended flow of Pro revenue to the pool. Under the default
# (no route, as the public code stands) no fee reaches the pool and fee parity never varies.
BASE = {"pro_revenue_route": "pool"}
MIN_YEARS = 5.0  # reward_pool_5y needs the 5-year state
NUM_LEVELS = 4
CONF_LEVEL = 0.95
NUM_RESAMPLES = 1000
SAMPLE_STREAM, BOOTSTRAP_STREAM = 0, 1  # spawn keys of SALib's random numbers

# Default parameters and their bounds: behavioural assumptions (and the contract payout rate, the
# lever the emission experiment sweeps), each range inside the parameter's allowed range and
# around its default. Ranges follow the named experiments where they exist (adoption x1/4..x4,
# payout 10-20%, fee split 80-100%) and otherwise span plausible values either side.
BOUNDS: dict[str, tuple[float, float]] = {
    "pool_payout_rate": (0.10, 0.20),
    "fee_pool_share": (0.8, 1.0),
    "pro_conversion": (0.001, 0.03),
    "monthly_users_growth": (-0.5, 1.0),
    "pro_ramp_early_share": (0.4, 1.0),
    "app_store_commission": (0.15, 0.30),
    "unlock_sell_share_strategic": (0.2, 0.8),
    "unlock_sell_share_ecosystem": (0.0, 0.3),
    "unlock_sell_share_treasury_ops": (0.05, 0.5),
    "unlock_sell_share_contributors": (0.1, 0.6),
    "reward_sell_share": (0.2, 0.6),
    "exit_sell_share": (0.1, 0.6),
    "node_entry_hurdle_apr": (0.04, 0.25),
    "node_exit_hurdle_apr": (-0.05, 0.04),
    "node_opex_usd_per_month": (5.0, 50.0),
    "stake_buy_share": (0.0, 1.0),
    "yield_sensitivity": (0.05, 0.20),
    "max_entry_rate": (0.001, 0.01),
    "max_exit_rate": (0.001, 0.01),
    "impact_permanent_share": (0.0, 1.0 / 3.0),
    "impact_half_life_days": (7.0, 90.0),
    "outside_depth_share": (0.0, 0.25),
    "ref_volatility": (0.4, 1.2),
    # a trend of -40%/+50% a year (log drift +-0.4) either side of the neutral zero: the allowed
    # +-2 is a numerical range, not a belief (ASSUMPTIONS M2)
    "eth_drift": (-0.4, 0.4),
    "ref_drift": (-0.4, 0.4),
    # the ranges ASSUMPTIONS.md documents for the issue-21 parameters (D9, D11, S7)
    "pro_ramp_early_days": (30.0, 180.0),
    "pro_ramp_full_days": (180.0, 1095.0),
    "sns_ramp_days": (90.0, 1095.0),
    "migrated_hurdle_offset": (-0.05, 0.05),
    "migrated_hurdle_spread": (0.05, 0.20),
    "initial_amm_sesh": (2_500_000.0, 10_000_000.0),
}
PARAMETERS = tuple(BOUNDS)
# Whole-day parameters are not screened (Morris needs real values) but the one-at-a-time
# headline table moves them over these documented ranges (ASSUMPTIONS D10, V5).
DAY_BOUNDS: dict[str, tuple[float, float]] = {
    "pro_launch_day_earliest": (385.0, 563.0),
    "pro_launch_day_latest": (563.0, 1095.0),
    "cliff_sell_start_day": (670.0, 730.0),
    "cliff_sell_end_day": (730.0, 790.0),
}


def bounds(name: str) -> tuple[float, float]:
    """The range a parameter is varied over: the table above, else its default -50%/+50% (its
    whole allowed range when the default is 0), clipped to the allowed range."""
    info = Parameters.field_info()
    if name not in info:
        Parameters.from_overrides({name: None})  # raises the usual unknown-parameter message
    meta = info[name]
    if meta["integer"] or meta["choices"] or isinstance(meta["default"], bool):
        raise ParameterError(
            f"invalid sensitivity parameter '{name}': must be a real-valued parameter "
            "(not an integer, switch or choice)"
        )
    if name in BOUNDS:
        return BOUNDS[name]
    default = float(meta["default"])
    lo, hi = (default * 0.5, default * 1.5) if default > 0 else (meta["min"], meta["max"])
    return max(lo, meta["min"]), min(hi, meta["max"])


def chosen_parameters(
    parameters: Sequence[str] | None, overrides: Mapping[str, Any] | None
) -> tuple[str, ...]:
    """The parameters to vary: those given, else the defaults that `overrides` does not fix."""
    if parameters is None:
        return tuple(p for p in PARAMETERS if p not in (overrides or {}))
    parameters = tuple(parameters)
    if len(parameters) < 2 or len(set(parameters)) != len(parameters):
        raise ParameterError(
            f"invalid sensitivity parameters: must be at least two distinct names, got {parameters}"
        )
    return parameters


def problem(parameters: Sequence[str]) -> dict:
    """The SALib problem definition."""
    return {
        "num_vars": len(parameters),
        "names": list(parameters),
        "bounds": [list(bounds(p)) for p in parameters],
    }


def sample(parameters: Sequence[str], samples: int, seed: int) -> np.ndarray:
    """Morris sample: samples x (k + 1) points (rows) by k parameters (columns)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ParameterError(f"invalid samples: must be an integer >= 2, got {samples!r}")
    from SALib.sample import morris

    with salib_random(seed, SAMPLE_STREAM):
        return morris.sample(problem(parameters), samples, num_levels=NUM_LEVELS)


@contextlib.contextmanager
def salib_random(seed: int, stream: int) -> Iterator[None]:
    """SALib draws from numpy's global generator, and seeds it only for a non-zero seed: seed it
    here from the master seed (a stream of its own, apart from the model's (subset, run) ones),
    and give the caller its global state back afterwards."""
    saved = np.random.get_state()
    np.random.seed(np.random.SeedSequence(int(seed), spawn_key=(stream,)).generate_state(1)[0])
    try:
        yield
    finally:
        np.random.set_state(saved)


def points(parameters: Sequence[str], samples: int, seed: int) -> list[tuple[str, dict]]:
    """(label, overrides) per sample point: 'morris t<trajectory> s<step>'."""
    steps = len(parameters) + 1
    return [
        (
            f"morris t{i // steps} s{i % steps}",
            {name: float(value) for name, value in zip(parameters, row, strict=True)},
        )
        for i, row in enumerate(sample(parameters, samples, seed))
    ]


def point_values(per_run: pd.DataFrame, points: int, timesteps: int) -> dict[str, np.ndarray]:
    """KPI -> one value per point (subset 0..points-1), from the run-level KPI table."""
    table = per_run.assign(fee_parity_day=per_run["fee_parity_day"].fillna(timesteps + 1.0))
    grouped = table.groupby("subset", sort=True)
    values = {}
    for kpi, how in KPIS.items():
        reduced = grouped[kpi].median() if how == "median" else grouped[kpi].mean()
        values[kpi] = reduced.reindex(range(points)).to_numpy(dtype="float64")
    return values


def rank_effects(
    parameters: Sequence[str], x: np.ndarray, values: Mapping[str, np.ndarray], seed: int
) -> pd.DataFrame:
    """Morris indices per KPI and parameter, ranked by mu_star within each KPI (1 = largest)."""
    from SALib.analyze import morris

    frames = []
    for kpi, y in values.items():
        with salib_random(seed, BOOTSTRAP_STREAM):
            indices = morris.analyze(
                problem(parameters),
                x,
                y,
                num_resamples=NUM_RESAMPLES,
                conf_level=CONF_LEVEL,
                num_levels=NUM_LEVELS,
            )
        frame = pd.DataFrame(
            {
                "kpi": kpi,
                "parameter": list(parameters),
                "mu_star": np.asarray(indices["mu_star"], dtype="float64"),
                "mu_star_conf": np.asarray(indices["mu_star_conf"], dtype="float64"),
                "sigma": np.asarray(indices["sigma"], dtype="float64"),
            }
        )
        order = frame["mu_star"].rank(ascending=False, method="first", na_option="bottom")
        frames.append(frame.assign(rank=order.astype("int64")).sort_values("rank"))
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def ranked_table(
    parameters: Sequence[str],
    samples: int,
    seed: int,
    per_run: pd.DataFrame,
    timesteps: int,
) -> pd.DataFrame:
    """The ranked table from a finished run of the sample points (subsets 0..n-1, in order)."""
    x = sample(parameters, samples, seed)
    return rank_effects(parameters, x, point_values(per_run, len(x), timesteps), seed)


def check_years(years: float) -> None:
    if isinstance(years, (int, float)) and not isinstance(years, bool) and years < MIN_YEARS:
        raise ParameterError(
            f"invalid years for sensitivity: must be >= {MIN_YEARS:g} "
            f"(the pool KPI is the 5-year balance), got {years!r}"
        )


def sensitivity_analysis(
    samples: int = 32,
    years: float = 5,
    seed: int = 0,
    parameters: Sequence[str] | None = None,
    overrides: dict | None = None,
    runs: int = 1,
) -> pd.DataFrame:
    """Morris sensitivity of the main KPIs; columns kpi, parameter, mu_star, mu_star_conf, sigma,
    rank (rank 1 = most influential parameter of that KPI).

    `samples` Morris trajectories (samples x (k + 1) points), `runs` runs per point, `seed` both
    for the sample and for the random draws, `parameters` the names to vary (default: `PARAMETERS`
    less those `overrides` fixes), `overrides` fixed values for every point. The same analysis as
    `python -m experiments run sensitivity`. Raises ParameterError on bad input.
    """
    check_years(years)
    spec = RunSpec(runs, years, seed, "vectorized", common_draws=True)
    names = chosen_parameters(parameters, overrides)
    clash = sorted(set(overrides or {}) & set(names))
    if clash:
        raise ParameterError(
            f"invalid override '{clash[0]}': the sensitivity analysis varies it; "
            "leave it out of `parameters` or of `overrides`"
        )
    sets = [
        Parameters.from_overrides({**BASE, **(overrides or {}), **point})
        for _, point in points(names, samples, seed)
    ]
    per_run = stream(sets, spec, kpis.per_run_paths, record=kpis.KPI_COLUMNS).reduced
    return ranked_table(names, samples, seed, per_run, spec.timesteps)


def mu_star_bounds(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the 95% interval of mu_star as columns `mu_star_low` and `mu_star_high`.

    SALib's `mu_star_conf` is a normal-approximation half-width (1.96 x the standard deviation of
    mu_star over bootstrap resamples of the elementary effects), so mu_star -/+ mu_star_conf is
    symmetric and runs below zero where mu_star is small beside its spread. mu_star is a mean of
    absolute values and cannot be negative: the low end is clipped at 0, which reads "at this
    sample size the effect cannot be told from none". The high end is mu_star + mu_star_conf.
    """
    low = (table["mu_star"] - table["mu_star_conf"]).clip(lower=0.0)
    return table.assign(mu_star_low=low, mu_star_high=table["mu_star"] + table["mu_star_conf"])


def describe(table: pd.DataFrame, top: int = 5) -> str:
    """The top parameters per KPI, one line each (for logs and reports)."""
    lines = []
    for kpi, rows in table.groupby("kpi", sort=False):
        best = rows.nsmallest(top, "rank")
        ranked = ", ".join(
            f"{r.parameter} ({r.mu_star:.3g})"
            for r in best.itertuples()
            if math.isfinite(r.mu_star)
        )
        lines.append(f"{kpi}: {ranked}")
    return "\n".join(lines)
