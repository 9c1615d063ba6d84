"""A verdict in the field's terms: per study, the Bayesian correlated t-test with a region of
practical equivalence (Benavoli et al. 2017, JMLR 18(77); the `baycomp` package), and across
studies (corpora) one pooled difference from a random-effects meta-analysis of their fold-level
differences (DerSimonian & Laird 1986).

    bayes_verdict   P(worse by more than the ROPE), P(within it), P(better by more than it)
    random_effects  DerSimonian-Laird: pooled difference, its 95% interval, tau^2, I^2

baycomp's CorrelatedTTest sets the correlation of the cells to 1/(k - 1), k = cells / runs: the
test/train ratio of k-fold cross-validation where the other k - 1 folds train. pdtlib's splits
keep one fold for validation (n_test/n_train = 1/(k - 2)), so `bayes_verdict` takes baycomp's
posterior (`baycomp.single.Posterior`, the Student posterior of the correlated t-test) with the
corrected moments at the study's own ratio (`fold_stats.corrected_moments`); at 1/(k - 1) it gives
exactly `baycomp.two_on_single`'s probabilities (tests/code).

baycomp's test over several data sets (`two_on_multiple`, hierarchical) needs pystan; the random-
effects meta-analysis asks only scipy, and says so where it is shown.
"""

from __future__ import annotations

import numpy as np
from baycomp.single import Posterior
from scipy import stats

from .fold_stats import corrected_moments

ROPE = 1.0  # UA points: a gain below one point is no practical gain (Benavoli et al. use 1% accuracy)
POOLED_METHOD = "random-effects meta-analysis (DerSimonian & Laird 1986) of the studies' fold-level differences"


def bayes_verdict(diffs, ratio: float, rope: float = ROPE) -> tuple[float, float, float]:
    """(P(worse), P(within the ROPE), P(better)) of the mean difference (PDT + SVM minus the row;
    better: > rope) from baycomp's correlated t-test posterior over every cell, with the cells'
    correlation at `ratio` (n_test/n_train). NaN with fewer than 2 cells or no ratio."""
    mean, var, df = corrected_moments(diffs, ratio)
    if not var == var or df < 1:
        return np.nan, np.nan, np.nan
    worse, within, better = Posterior(mean, var, df, rope).probs()
    return float(worse), float(within), float(better)


def random_effects(estimates, variances, level: float = 0.95) -> dict:
    """DerSimonian-Laird over studies: each study's estimate (its mean fold difference) and variance
    (of that mean: sd between folds^2 / folds) -> pooled, low, high (normal interval, as DL has it),
    se, tau2 (between-study variance), i2 (% of the spread beyond chance), q, k (studies used: those
    with a finite, positive variance)."""
    y, v = np.asarray(estimates, dtype=float), np.asarray(variances, dtype=float)
    keep = np.isfinite(y) & np.isfinite(v) & (v > 0)
    y, v = y[keep], v[keep]
    k = len(y)
    if k == 0:
        return {"pooled": np.nan, "low": np.nan, "high": np.nan, "se": np.nan, "tau2": np.nan, "i2": np.nan,
                "q": np.nan, "k": 0}
    w = 1 / v
    fixed = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - fixed) ** 2))
    tau2 = max(0.0, (q - (k - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w))) if k > 1 else 0.0
    w_star = 1 / (v + tau2)
    pooled = float(np.sum(w_star * y) / np.sum(w_star))
    se = float(np.sqrt(1 / np.sum(w_star)))
    z = stats.norm.ppf(0.5 + level / 2)
    i2 = max(0.0, 100 * (q - (k - 1)) / q) if q > 0 else 0.0
    return {"pooled": pooled, "low": pooled - z * se, "high": pooled + z * se, "se": se, "tau2": float(tau2),
            "i2": float(i2), "q": q, "k": k}
