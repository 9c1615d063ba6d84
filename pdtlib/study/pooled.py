"""The answer over studies (corpora): PDT + SVM minus the traditional classifier (Table 3 rows 5 and
1, 4 s), per study at the fold level (stats.paired_difference) and pooled over the studies by a
random-effects meta-analysis (verdict.random_effects, DerSimonian & Laird 1986); and what more folds
or seeds would buy (fold_stats.folds_needed_with_seeds).

    answer_table  one row per study (folds, seeds, mean fold difference, t over folds, corrected t,
                  sd between seeds and folds, baycomp's probabilities, folds for 80% power), then the
                  pooled row
    power_table   per study, the folds 80% power at the paper's gain needs with 1, 2, 3, 5 or 10
                  seeds per fold, from the study's variance within and between folds
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .fold_stats import folds_needed_with_seeds, holdout_ratio, variance_split
from .format import difference_interval, interval, or_blank, probabilities
from .stats import (PAPER_CLAIM, REFERENCE_EXP, TRADITIONAL_EXP, cell_differences, paired_difference,
                    study_corpus)
from .verdict import POOLED_METHOD, ROPE, random_effects

POOLED = "pooled"  # the answer table's last row
SEEDS = (1, 2, 3, 5, 10)  # seeds per fold the power table sizes


def answer_differences(cells: pd.DataFrame, metric: str = "ua") -> pd.DataFrame:
    """PDT + SVM minus the traditional row, cell by cell: fold, seed, diff (empty without both rows)."""
    wide = cells.pivot_table(index=["cell", "fold", "seed"], columns="exp", values=metric)
    return cell_differences(wide, REFERENCE_EXP, TRADITIONAL_EXP)


def answer_table(studies: dict[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """Per study with both rows: study, corpus, `paired_difference` of PDT + SVM minus traditional
    (folds, seeds, mean_diff, low/high over folds, corrected_low/high, sd_seeds, sd_folds, p_*,
    folds_needed, ...); then the row `POOLED`: the random-effects pooled difference over the
    studies' mean fold differences (variance sd_folds^2 / folds each) with its 95% interval, tau2,
    i2 and the studies pooled (k)."""
    rows = []
    for name, cells in studies.items():
        diffs = answer_differences(cells)
        if len(diffs):
            rows.append({"study": name, "corpus": study_corpus(cells),
                         **paired_difference(diffs, holdout_ratio(cells["fold"]), seed)})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    pooled = random_effects(table["mean_diff"], table["sd_folds"] ** 2 / table["folds"])
    table = pd.concat([table, pd.DataFrame([{
        "study": POOLED, "corpus": ", ".join(c for c in table["corpus"] if c), "n": table["n"].sum(),
        "folds": table["folds"].sum(), "mean_diff": pooled["pooled"], "low": pooled["low"], "high": pooled["high"],
        "tau2": pooled["tau2"], "i2": pooled["i2"], "k": pooled["k"], "note": ""}])], ignore_index=True)
    return table


def answer_shown(table: pd.DataFrame) -> pd.DataFrame:
    """`answer_table` as a reader sees it, one line per study and the pooled line last."""
    pooled = table["study"] == POOLED
    return pd.DataFrame({
        "Study": table["study"], "Corpus": table["corpus"],
        "Folds × seeds": [f"{f:.0f}" if p else f"{f:.0f} × {s:g}" for p, f, s in
                          zip(pooled, table["folds"], table["seeds"])],
        "PDT + SVM − traditional": [difference_interval(*v) for v in table[["mean_diff", "low", "high"]].to_numpy()],
        "Corrected t": [interval(*v) for v in table[["corrected_low", "corrected_high"]].to_numpy()],
        "sd seeds / folds": ["" if p else f"{or_blank(a, '.2f') or '–'} / {or_blank(b, '.2f') or '–'}"
                             for p, a, b in zip(pooled, table["sd_seeds"], table["sd_folds"])],
        f"P(better / ±{ROPE:g} / worse)": [probabilities(*v) for v in
                                            table[["p_better", "p_rope", "p_worse"]].to_numpy()],
        "Folds for 80% power": table["folds_needed"].map(lambda v: or_blank(v, ".0f")),
        "Note": [f"τ² {t:.2f}, I² {i:.0f}%, {k:.0f} studies" if p else n
                 for p, t, i, k, n in zip(pooled, table["tau2"], table["i2"], table["k"], table["note"])]})


def answer_caption(table: pd.DataFrame) -> str:
    """What the answer table's columns mean, the pooled row's method named."""
    return (f"UA points, PDT + SVM (Table 3 row 5) minus the traditional classifier (row 1, 4 s); the paper: "
            f"{PAPER_CLAIM:+.2f} (one run). Per study the fold is the unit: per fold the mean over its seeds, then "
            "the mean over folds [95% t-interval over folds]; corrected t: the corrected resampled t over every "
            "cell (Nadeau & Bengio 2003; n_test/n_train of the study's splits); sd seeds / folds: between the seeds "
            "of a fold and between the folds' means; P(better / ±{r:g} / worse): baycomp's Bayesian correlated "
            "t-test (Benavoli et al. 2017), P(difference > +{r:g}), P(within ±{r:g}, the ROPE), P(< −{r:g}); folds "
            "for 80% power: the folds a two-sided 5% t-test over folds needs to tell the paper's gain from 0 at the "
            "study's sd between folds. Pooled: {m}, each study's mean fold difference weighted by 1/(sd between "
            "folds² / folds + τ²), with a normal 95% interval; with few studies τ² is imprecise and the interval "
            "optimistic. docs/protocol.md, section 6.").format(r=ROPE, m=POOLED_METHOD)


def power_table(studies: dict[str, pd.DataFrame], seeds=SEEDS) -> pd.DataFrame:
    """Per study with both rows: study, its variance between folds and within a fold (of one cell's
    difference, `variance_split`), and for each count of seeds per fold in `seeds` the folds 80%
    power at the paper's gain needs (column `seeds_<s>`)."""
    rows = []
    for name, cells in studies.items():
        diffs = answer_differences(cells)
        if diffs["fold"].nunique() < 2:
            continue
        var_between, var_within = variance_split(diffs)
        rows.append({"study": name, "var_between": var_between, "var_within": var_within,
                     **{f"seeds_{s}": folds_needed_with_seeds(var_between, var_within, s, PAPER_CLAIM)
                        for s in seeds}})
    return pd.DataFrame(rows)


def power_shown(table: pd.DataFrame, seeds=SEEDS) -> pd.DataFrame:
    """`power_table` as a reader sees it: the sds within and between, then folds per seeds count."""
    shown = pd.DataFrame({"Study": table["study"],
                          "sd between folds (σ_b)": np.sqrt(table["var_between"]).map(lambda v: f"{v:.2f}"),
                          "sd within a fold (σ_w)": np.sqrt(table["var_within"]).map(lambda v: or_blank(v, ".2f"))})
    for s in seeds:
        shown[f"{s} seed{'s' if s > 1 else ''}/fold"] = table[f"seeds_{s}"].map(lambda v: or_blank(v, ".0f"))
    return shown


POWER_CAPTION = (
    f"Folds needed to tell the paper's {PAPER_CLAIM:+.2f} from 0 with 80% power (two-sided 5% t-test over the folds' "
    "differences), by seeds per fold: a fold's difference has variance σ_b² + σ_w² / seeds, σ_w² the variance "
    "between seeds within a fold and σ_b² = (sd between the folds' means)² − σ_w² / (the study's seeds per fold), "
    "floored at 0. More seeds shrink only the second term; a corpus caps the folds at its speakers (or sessions), "
    "so past that only another corpus, or repeated cross-validation over other speaker groupings, adds folds.")
