"""The fold as the unit: what a study's paired differences (one per seed x fold cell) say about a
comparison, when the two seeds of one fold share its test speakers and its training data, and the
folds of a cross-validation share most of their training data.

    per_fold          the difference per fold: the mean over its seeds
    t_over_folds      the 95% t-interval of the mean over the folds (df = folds - 1)
    corrected_t       the corrected resampled t over every cell (Nadeau & Bengio 2003; Bouckaert &
                      Frank 2004): variance x (1/n + n_test/n_train), df = n - 1
    holdout_ratio     n_test/n_train of the study's splits, from its fold names (how pdtlib splits)
    hierarchical_bootstrap  folds with replacement, then seeds within each fold drawn
    spread            the sd between seeds within a fold and the sd between the folds' means
    folds_needed      folds for 80% power at the paper's gain (two-sided 5% t-test, iterated)

A difference is a DataFrame with columns fold, seed, diff (points of UA), one row per cell.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.95
# pdtlib's splits: fold:K/N tests fold K, validates on fold K+1 and trains on the other N - 2
# (corpora/folds.py); loso:K and paper on IEMOCAP's 5 sessions (and the generated corpus's) test
# one session, validate on one, train on three (corpora/iemocap.py): n_test/n_train = 1/3
FOLD_SPLIT = re.compile(r"fold:(\d+)/(\d+)")
SESSION_SPLIT = re.compile(r"loso:[1-5]|paper")
SESSIONS = 5


def holdout_ratio(folds) -> float:
    """n_test/n_train of a study's splits, from its fold names, as pdtlib splits them: fold:K/N ->
    1/(N - 2) (one fold tests, one validates, N - 2 train), loso:K and paper -> 1/3 (5 sessions:
    one tests, one validates, three train). Equal-sized folds assumed (speaker folds roughly are).
    NaN when a name says nothing of sizes, or the names disagree."""
    ratios = set()
    for name in pd.unique(pd.Series(list(folds), dtype=str).str.strip()):
        fold = FOLD_SPLIT.fullmatch(name)
        if fold:
            ratios.add(1 / (int(fold.group(2)) - 2))
        elif SESSION_SPLIT.fullmatch(name):
            ratios.add(1 / (SESSIONS - 2))
        else:
            return np.nan
    return ratios.pop() if len(ratios) == 1 else np.nan


def per_fold(diffs: pd.DataFrame) -> pd.Series:
    """The difference per fold: the mean over the fold's seeds, indexed by fold (in sorted order)."""
    return diffs.groupby("fold", sort=True)["diff"].mean()


def t_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """The t-interval of the mean of `values` (df = n - 1); fewer than 2: NaN; no spread: the point."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return np.nan, np.nan
    mean, sd = values.mean(), values.std(ddof=1)
    if sd == 0:
        return mean, mean
    return tuple(float(b) for b in stats.t.interval(level, len(values) - 1, loc=mean, scale=sd / np.sqrt(len(values))))


def t_over_folds(diffs: pd.DataFrame, level: float = LEVEL) -> tuple[float, float]:
    """The t-interval of the mean over the folds' differences (each the mean over its seeds)."""
    return t_interval(per_fold(diffs), level)


def corrected_moments(values, ratio: float) -> tuple[float, float, int]:
    """mean, corrected variance of the mean, df of the corrected resampled t over all cells:
    var(cells) x (1/n + n_test/n_train), df n - 1 (Nadeau & Bengio 2003, Bouckaert & Frank 2004)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    var = values.var(ddof=1) * (1 / n + ratio) if n > 1 else np.nan
    return float(values.mean()) if n else np.nan, var, n - 1


def corrected_t(diffs: pd.DataFrame, ratio: float, level: float = LEVEL) -> tuple[float, float]:
    """The corrected resampled t-interval over every cell (seeds x folds) at test/train `ratio`."""
    mean, var, df = corrected_moments(diffs["diff"], ratio)
    if not var == var or df < 1:  # NaN (one cell, or no ratio): no interval
        return np.nan, np.nan
    if var == 0:
        return mean, mean
    return tuple(float(b) for b in stats.t.interval(level, df, loc=mean, scale=np.sqrt(var)))


def hierarchical_bootstrap(diffs: pd.DataFrame, n_resamples: int = 9999, seed: int = 0,
                           level: float = LEVEL) -> tuple[float, float]:
    """A percentile interval of the mean difference from resampling folds with replacement, then
    the seeds within each fold drawn with replacement; the statistic is the mean of the fold means.
    The same `seed`, the same interval. Fewer than 2 folds: NaN."""
    groups = [group.to_numpy(dtype=float) for _, group in diffs.groupby("fold", sort=True)["diff"]]
    if len(groups) < 2:
        return np.nan, np.nan
    rng = np.random.default_rng(seed)
    folds = rng.integers(0, len(groups), size=(n_resamples, len(groups)))
    means = np.empty(folds.shape)
    for j, fold in enumerate(groups):  # every fold's seed draws at once, whichever resample picks it
        picked = folds == j
        draws = fold[rng.integers(0, len(fold), size=(int(picked.sum()), len(fold)))]
        means[picked] = draws.mean(axis=1)
    low, high = np.percentile(means.mean(axis=1), [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def spread(diffs: pd.DataFrame) -> tuple[float, float]:
    """(sd between seeds within a fold, pooled over the folds; sd between the folds' means). NaN
    where a fold has one seed only, or there is one fold."""
    within = diffs.groupby("fold")["diff"].var(ddof=1).dropna()
    sizes = diffs.groupby("fold")["diff"].size()[within.index]
    sd_seeds = np.sqrt(((sizes - 1) * within).sum() / (sizes - 1).sum()) if len(within) else np.nan
    fold_means = per_fold(diffs)
    sd_folds = fold_means.std(ddof=1) if len(fold_means) > 1 else np.nan
    return float(sd_seeds), float(sd_folds)


def seeds_per_fold(diffs: pd.DataFrame) -> float:
    """The seeds of a fold, as the harmonic mean over the folds (the study's count when balanced)."""
    return float(stats.hmean(diffs.groupby("fold")["diff"].size()))


def variance_split(diffs: pd.DataFrame) -> tuple[float, float]:
    """(between-fold variance, within-fold variance) of one cell's difference: the folds' means vary
    by var_between + var_within / seeds, so var_between = var(fold means) - var_within / seeds,
    floored at 0 (method of moments); one seed per fold: the within part is unknown (NaN) and the
    folds' variance is all counted as between."""
    sd_seeds, sd_folds = spread(diffs)
    within = sd_seeds ** 2
    if within != within:
        return sd_folds ** 2, np.nan
    return max(0.0, sd_folds ** 2 - within / seeds_per_fold(diffs)), within


def t_test_power(n: int, sd: float, effect: float, alpha: float = 0.05) -> float:
    """The power of a two-sided one-sample t-test at `alpha` over n folds (each one difference with
    sd `sd`) when the true difference is `effect`: the noncentral t's mass beyond +-t(1 - alpha/2, n - 1)."""
    df, shift = n - 1, effect / sd * np.sqrt(n)
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))


def folds_needed(sd: float, effect: float, power: float = 0.8, alpha: float = 0.05, most: int = 10_000) -> float:
    """The fewest folds (at least 2) whose two-sided t-test at `alpha` tells `effect` from 0 with
    `power` (`t_test_power`), iterated upwards from the normal answer (n = ((z(1 - alpha/2) +
    z(power)) sd / effect)^2, which the t-test cannot beat); NaN without an sd, `most` at most."""
    if not (sd == sd and effect):
        return np.nan
    if sd == 0:
        return 2
    n = max(2, int(np.ceil(((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * sd / effect) ** 2)))
    while n < most and t_test_power(n, sd, abs(effect), alpha) < power:
        n += 1
    return n


def folds_needed_with_seeds(var_between: float, var_within: float, seeds: int, effect: float,
                            power: float = 0.8, alpha: float = 0.05) -> float:
    """`folds_needed` when each fold averages `seeds` seeds: a fold's sd is sqrt(var_between +
    var_within / seeds); var_within NaN (the study ran one seed): the folds' variance as measured."""
    var = var_between + (0.0 if var_within != var_within else var_within / seeds)
    return folds_needed(np.sqrt(var), effect, power, alpha)
