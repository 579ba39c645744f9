"""Paired comparisons between an experiment's subsets: differences a researcher can quote.

Experiments run on common random numbers by default: run r of every subset sees the same
exogenous shocks (ETH/USD, the outside valuation, demand, hurdle noise, ...). The difference
between two subsets is then taken run by run, KPI(subset, r) - KPI(reference, r), which removes the
shared noise; the mean of those paired differences is quoted with a 95% bootstrap interval
(BCa, resampling the pairs in batches: memory and time linear in the pairs; the same interval
as `scipy.stats.bootstrap`, without its n x n jackknife), the share of pairs in which the subset is
higher, and the number of pairs (runs where both have a value). Beside the mean, the median of the
paired differences with its 95% interval: a few runs in the tail can carry the mean (a fee buy
that fills at a collapsed price), and the median says what the typical pair does. Its interval is
the distribution-free one from order statistics (`median_interval`): no resampling, exact
coverage of at least 95% for any continuous distribution of the differences.

The reference (`reference_subset`, the one rule every caller uses: the experiment's definition,
comparison.csv, the report's findings and charts): the subset an experiment names, else the
subset whose swept values are the model defaults (`emission_rate`: the contract's 0.151, not the
first value swept), else subset 0.

Known answers: a subset identical to the reference gives a difference of exactly 0 with a
zero-width interval; the interval always contains the mean difference.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = [
    "kpi",
    "subset",
    "reference_subset",
    "mean_difference",
    "ci_low",
    "ci_high",
    "median_difference",
    "median_ci_low",
    "median_ci_high",
    "share_positive",
    "n",
]
CONFIDENCE = 0.95
RESAMPLES = 2000
BOOTSTRAP_SEED = 20250521  # fixed: the same table for the same runs, on every machine
# The bootstrap's working memory: resamples (and BCa's jackknife samples) are drawn in batches of
# rows of n values, at most this many bytes at once (~33 bytes per value measured with
# tracemalloc: indices, values, masks). Unbatched, the jackknife alone is n x n: 3.2 GB at 20,000
# pairs. The batches draw from the same generator in the same order, so the interval is
# bit-identical for every batch size (tests/test_memory.py checks it).
BOOTSTRAP_MEMORY_BYTES = 64 * 2**20
BOOTSTRAP_BYTES_PER_VALUE = 40


def reference_subset(
    swept: Sequence[Mapping[str, Any]], defaults: Mapping[str, Any], explicit: int | None = None
) -> int:
    """The subset paired comparisons are taken against. `swept`: per subset (in order), the
    values of the parameters that differ between subsets; `defaults`: the model's defaults.

    `explicit` when given; else the first subset whose swept values all equal their defaults
    (a sweep around the model, compared with the model); else subset 0."""
    if explicit is not None:
        return int(explicit)
    for index, values in enumerate(swept):
        if values and all(
            name in defaults and value == defaults[name] for name, value in values.items()
        ):
            return index
    return 0


def bootstrap_batch(n: int) -> int:
    """Resamples per batch for n pairs: memory O(batch x n) within BOOTSTRAP_MEMORY_BYTES."""
    return int(max(1, min(RESAMPLES, BOOTSTRAP_MEMORY_BYTES // (BOOTSTRAP_BYTES_PER_VALUE * n))))


def paired(per_run: pd.DataFrame, kpi: str, subset: int, reference: int) -> np.ndarray:
    """KPI(subset, r) - KPI(reference, r) for every run r where both have a value."""
    labels = per_run["subset"].to_numpy()
    runs = per_run["run"].to_numpy()
    values = per_run[kpi].to_numpy(dtype="float64")
    mine, theirs = labels == subset, labels == reference
    if np.array_equal(runs[mine], runs[theirs]) and len(np.unique(runs[mine])) == mine.sum():
        # the usual table: both subsets hold the same runs in the same order (a join on run
        # would pair them row by row)
        a, b = values[mine], values[theirs]
        both = ~(np.isnan(a) | np.isnan(b))
        return a[both] - b[both]
    a = per_run[mine].set_index("run")[kpi]
    b = per_run[theirs].set_index("run")[kpi]
    both = pd.concat([a, b], axis=1, keys=["a", "b"], join="inner").dropna()
    return (both["a"] - both["b"]).to_numpy(dtype="float64")


def interval(differences: np.ndarray, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """The 95% bootstrap interval of the mean of `differences` (BCa; percentile where BCa is
    undefined). Zero width when every difference is the same; NaN for fewer than two.

    The same interval as `scipy.stats.bootstrap(..., method="BCa")` with this generator and
    batches (tests/test_compare.py holds it to scipy's), in time linear in the pairs: scipy
    finds BCa's acceleration from a jackknife that recomputes the mean n times over n - 1 values
    (n x n work: 28 s a KPI at 40,000 pairs). The mean's jackknife has a closed form: leaving
    out pair i moves the mean by (mean - d_i) / (n - 1), so the acceleration
    sum(U^3) / (6 sum(U^2)^1.5) has U_i = d_i - mean.
    """
    n = len(differences)
    if n < 2:
        return math.nan, math.nan
    if np.all(differences == differences[0]):
        return float(differences[0]), float(differences[0])
    from scipy.special import ndtr, ndtri

    rng = np.random.default_rng(seed)
    means = np.empty(RESAMPLES)
    batch = bootstrap_batch(n)
    for start in range(0, RESAMPLES, batch):  # scipy's draws, batch by batch
        size = min(batch, RESAMPLES - start)
        means[start : start + size] = np.mean(differences[rng.integers(0, n, (size, n))], axis=-1)
    mean = float(np.mean(differences))
    alpha = (1 - CONFIDENCE) / 2
    with np.errstate(all="ignore"):
        z0 = ndtri(((means < mean).sum() + (means <= mean).sum()) / (2 * RESAMPLES))
        u = differences - mean
        acceleration = (u**3).sum() / (6 * (u**2).sum() ** 1.5)
        z = ndtri(np.array([alpha, 1 - alpha]))
        levels = ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
    if not np.all(np.isfinite(levels)):  # BCa undefined (e.g. every resample on one side)
        levels = np.array([alpha, 1 - alpha])
    low, high = np.percentile(means, levels * 100)
    if not (math.isfinite(low) and math.isfinite(high)):
        return math.nan, math.nan
    return min(float(low), mean), max(float(high), mean)


@functools.cache
def median_rank(n: int, confidence: float = CONFIDENCE) -> int:
    """j for the median's interval over n values: the largest j with P(B < j) <= (1 -
    confidence) / 2, B ~ Binomial(n, 1/2) the count of values below the true median; 0 when
    even the sample's extremes do not reach the confidence (n <= 5 at 95%)."""
    from scipy.stats import binom

    tail = (1 - confidence) / 2
    below = binom.cdf(np.arange(n // 2 + 1), n, 0.5)  # P(B <= x), x = 0 .. n/2
    return int((below <= tail).sum())


def median_interval(differences: np.ndarray) -> tuple[float, float]:
    """The 95% interval of the median of `differences`: the j-th smallest and the j-th largest
    (`median_rank`). The true median lies below the j-th smallest value only if fewer than j
    values fall below it, which has probability P(B < j) <= 2.5% (B ~ Binomial(n, 1/2)); so
    the interval covers it with probability 1 - 2 P(B < j) >= 95% for any continuous
    distribution of the differences (the binomial order-statistic interval that goes with
    the sign test). No resampling, so no seed; n = 10 gives the 2nd and 9th values (97.9%). Zero width when every difference is the same; NaN for fewer than two, or
    fewer than six that differ (the extremes cover the median with less than 95%)."""
    n = len(differences)
    if n < 2:
        return math.nan, math.nan
    if np.all(differences == differences[0]):
        return float(differences[0]), float(differences[0])
    j = median_rank(n)
    if j == 0:
        return math.nan, math.nan
    ordered = np.partition(differences, [j - 1, n - j])
    return float(ordered[j - 1]), float(ordered[n - j])


def comparison_table(
    per_run: pd.DataFrame, kpis: Sequence[str], reference: int = 0
) -> pd.DataFrame:
    """One row per (KPI, subset other than the reference): the mean paired difference and its
    interval, the median paired difference and its interval. `per_run` is the run-level KPI
    table (`kpis.per_run`); `reference` the subset they are taken against: an experiment passes
    its `reference` (`reference_subset`); 0 is the explorer's A, which its B is compared with."""
    rows = []
    subsets = sorted(int(s) for s in per_run["subset"].unique())
    if reference not in subsets:
        raise ValueError(f"reference subset {reference} is not among the subsets {subsets}")
    for kpi in kpis:
        for subset in subsets:
            if subset == reference:
                continue
            d = paired(per_run, kpi, subset, reference)
            low, high = interval(d)
            median_low, median_high = median_interval(d)
            rows.append(
                {
                    "kpi": kpi,
                    "subset": subset,
                    "reference_subset": reference,
                    "mean_difference": float(d.mean()) if len(d) else math.nan,
                    "ci_low": low,
                    "ci_high": high,
                    "median_difference": float(np.median(d)) if len(d) else math.nan,
                    "median_ci_low": median_low,
                    "median_ci_high": median_high,
                    "share_positive": float((d > 0).mean()) if len(d) else math.nan,
                    "n": int(len(d)),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def as_document(table: pd.DataFrame, labels: dict[int, str]) -> list[dict]:
    """The table as kpis.json's `comparison` section (labels added, NaN kept for the writer)."""
    records = table.to_dict(orient="records")
    for row in records:
        row["label"] = labels.get(int(row["subset"]), "")
        row["reference_label"] = labels.get(int(row["reference_subset"]), "")
    return records
