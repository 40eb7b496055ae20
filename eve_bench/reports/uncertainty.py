"""How far a mean over samples can be trusted: bootstrap intervals and paired comparisons.

- `bootstrap_interval`: a 95% percentile bootstrap interval of a statistic of per-sample values,
  resampling samples with replacement. Resampling is seeded and depends only on the number of
  samples, so the same run gives the same interval on every machine and every call.
- `paired_comparison`: two runs scored on the same samples, compared sample by sample: a paired
  bootstrap interval of the mean difference (the quantity a leaderboard ranks by) and a two-sided
  sign test on wins and losses (which ignores how large each difference is, so a few outliers
  cannot make a difference look real). The verdict follows the bootstrap interval: a difference
  is called real when its interval excludes 0. Why these two: docs/paper_tables.md#uncertainty.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

N_RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int  # samples the statistic is taken over

    def excludes(self, value: float) -> bool:
        return value < self.low or value > self.high


def bootstrap_interval(data, statistic: Callable[[np.ndarray], np.ndarray] | None = None) -> Interval | None:
    """Percentile bootstrap interval of `statistic` over the rows of `data` (one row per sample).

    `statistic` maps an array whose second-to-last axis (or last, for 1-D data) holds samples to
    one value per leading index, so all resamples are evaluated at once; default the mean. None
    when there is no sample."""
    data = np.asarray(data, dtype=np.float64)
    n = data.shape[0]
    if n == 0:
        return None
    statistic = statistic or (lambda x: x.mean(axis=-1))
    index = np.random.default_rng(SEED).integers(0, n, size=(N_RESAMPLES, n))
    with warnings.catch_warnings():
        # A resample may draw no sample where a value is defined (NaN rows, as in a preference
        # criterion undefined for some tasks): its nanmean is NaN by design, not worth a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        estimate = float(statistic(data))
        resampled = statistic(data[index])
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.nanquantile(resampled, [alpha, 1 - alpha]) if np.isfinite(resampled).any() else (np.nan, np.nan)
    return Interval(estimate, float(low), float(high), n)


@dataclass(frozen=True)
class PairedComparison:
    n: int  # samples both runs scored
    wins: int  # samples where A is better (by the metric's direction)
    ties: int
    losses: int
    difference: Interval  # mean over samples of A - B, in the metric's units
    sign_test_p: float  # two-sided, on wins against losses (ties left out)
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        if not self.difference.excludes(0.0):
            return "within noise"
        a_better = (self.difference.low > 0) == self.higher_is_better
        return "A better" if a_better else "B better"


def paired_comparison(a: dict[str, float], b: dict[str, float], higher_is_better: bool) -> PairedComparison | None:
    """A against B on the samples (keys) both have a value for; None when they share none."""
    keys = sorted(a.keys() & b.keys())
    if not keys:
        return None
    diff = np.array([a[k] - b[k] for k in keys])
    better = diff > 0 if higher_is_better else diff < 0
    worse = diff < 0 if higher_is_better else diff > 0
    wins, losses = int(better.sum()), int(worse.sum())
    return PairedComparison(len(keys), wins, len(keys) - wins - losses, losses, bootstrap_interval(diff),
                            sign_test(wins, losses), higher_is_better)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of `wins` successes in `wins + losses` fair coin flips."""
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
