"""The statistics of a study (`pdtlib.study`): what the cells say about each Table 3 row, and about
PDT + SVM against the other rows, within one study and across studies (corpora). The fold is the
unit (fold_stats): the seeds of one fold share its test speakers and its training data, so each
interval is over the folds (each the mean over its seeds), not over the cells.

    summarise          per row: mean over folds, sd between folds, 95% t-interval over folds, n folds
                       and cells (UA, WA, macro-F1)
    paired             PDT + SVM minus each row over the cells both have (`paired_difference`, which
                       Table 2 and `between` use too): per fold the mean over its seeds; the t-interval
                       over folds; the corrected resampled t over the cells; a hierarchical bootstrap;
                       the sd between seeds and between folds; baycomp's P(worse / within ROPE /
                       better); the folds 80% power at the paper's gain needs
    compare_table      several studies in one table: each row's UA, and PDT + SVM minus the traditional
                       row (exp 1, 4 s) and minus eGeMAPS + SVM (exp 7), per study (pooled: the answer
                       over studies)
    between            two runs of one study (e.g. fp32 and bf16): each row's UA, second minus first,
                       paired cell by cell, and the same for PDT + SVM minus traditional (the answer)

Intervals are honest about their scale and their support: a percentage's bounds are clipped to
[0, 100] and a difference of percentages to [-100, 100] (a t-interval over two far-apart folds can
reach past both ends, which no score can), and a row over fewer than FEW_FOLDS folds carries a
`note` saying its interval rests on few folds. Table 2 (a grid study over the PDT's m and λ) is
study.table2's, on the same machinery.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..evaluation.evaluate import PAPER_TABLE3
from .fold_stats import (corrected_t, folds_needed, hierarchical_bootstrap, holdout_ratio, per_fold,
                         seeds_per_fold, spread, t_over_folds)
from .format import difference_interval, interval, mean_sd_interval, or_blank, probabilities
from .verdict import ROPE, bayes_verdict

REFERENCE_EXP = 5  # PDT + SVM: the row every other row is compared with
TRADITIONAL_EXP, EGEMAPS_EXP = 1, 7  # the rows a comparison across studies sets PDT + SVM against
_PAPER = {row["exp"]: row["paper_ua"] for row in PAPER_TABLE3}
PAPER_CLAIM = round(_PAPER[REFERENCE_EXP] - _PAPER[TRADITIONAL_EXP], 2)  # +5.24 UA points, Table 3
FEW_FOLDS = 5  # below this many folds an interval says more about luck than about the method
FEW_NOTE = f"n < {FEW_FOLDS} folds: the interval is wide and rests on few folds"
# what `paired_difference` says of one comparison, in this order (paired.csv, between.csv, table2_paired.csv)
DIFFERENCE_COLUMNS = ["n", "folds", "seeds", "mean_diff", "low", "high", "corrected_low", "corrected_high",
                      "boot_low", "boot_high", "sd_seeds", "sd_folds", "p_worse", "p_rope", "p_better",
                      "folds_needed", "note"]


def few_folds_note(folds) -> str:
    """FEW_NOTE for a row over fewer than FEW_FOLDS folds, else ''."""
    return FEW_NOTE if folds < FEW_FOLDS else ""


def clipped(low: float, high: float, bound: float = 100.0, floor: float = 0.0) -> tuple[float, float]:
    """An interval's bounds inside [floor, bound]; NaN stays NaN (no interval)."""
    return (float(np.clip(low, floor, bound)) if low == low else low,
            float(np.clip(high, floor, bound)) if high == high else high)


def t_interval(values: np.ndarray) -> tuple[float, float, float, float]:
    """mean, sd, and the 95% t-interval of the mean of percentages, clipped to [0, 100]. One value:
    no sd, no interval; every value the same: the interval is that point."""
    n = len(values)
    mean = values.mean() if n else np.nan
    sd = values.std(ddof=1) if n > 1 else np.nan
    if n < 2:
        return mean, sd, np.nan, np.nan
    low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=sd / np.sqrt(n)) if sd > 0 else (mean, mean)
    return (mean, sd, *clipped(low, high))


def interval_columns(cells: pd.DataFrame, metric: str) -> dict:
    """`metric` over some cells (NaN left out), the fold the unit: each fold's mean over its seeds,
    then `<metric>_mean` (over the folds), `_sd` (between the folds), `_low`, `_high` (`t_interval`
    over the folds), `_n` (cells) and `_folds`. The one builder of an interval row (Table 3's rows,
    Table 2's points)."""
    present = cells.dropna(subset=[metric])
    folds = present.groupby("fold")[metric].mean().to_numpy(dtype=float)
    mean, sd, low, high = t_interval(folds)
    return {f"{metric}_mean": mean, f"{metric}_sd": sd, f"{metric}_low": low, f"{metric}_high": high,
            f"{metric}_n": len(present), f"{metric}_folds": len(folds)}


def summarise(cells: pd.DataFrame, metrics=("ua", "wa", "f1")) -> pd.DataFrame:
    """Per Table 3 row that any cell ran: for each metric `interval_columns` (mean over folds, sd
    between folds, 95% t-interval over folds clipped to [0, 100], n cells, folds); `note` where the
    folds (of UA) < FEW_FOLDS."""
    rows = []
    run = cells.dropna(subset=["ua"])  # rows a study leaves out (e.g. durations) have no cell
    for (exp, method, duration, paper), group in run.groupby(["exp", "method", "duration", "paper_ua"],
                                                             dropna=False, sort=True):
        row = {"exp": exp, "method": method, "duration": duration, "paper_ua": paper}
        for metric in metrics:
            row.update(interval_columns(group, metric))
        row["note"] = few_folds_note(row[f"{metrics[0]}_folds"])
        rows.append(row)
    return pd.DataFrame(rows).sort_values("exp").reset_index(drop=True)


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`summarise`'s table as a reader sees it: per metric "mean ± sd [low, high]" (over folds),
    folds and cells, the paper's UA (blank where the paper has no such row), and the note on rows
    over few folds."""
    shown = pd.DataFrame({"Exp": summary["exp"], "Method": summary["method"],
                          "Duration (s)": summary["duration"].map(lambda v: or_blank(v, "g")),
                          "Paper UA": summary["paper_ua"].map(lambda v: or_blank(v, ".2f"))})
    for metric, name in (("ua", "UA"), ("wa", "WA"), ("f1", "Macro-F1")):
        shown[name] = [mean_sd_interval(*values) for values in
                       summary[[f"{metric}_mean", f"{metric}_sd", f"{metric}_low", f"{metric}_high"]].to_numpy()]
    shown["Folds"], shown["Cells"] = summary["ua_folds"], summary["ua_n"]
    shown["Note"] = summary["note"]
    return shown


def cell_differences(wide: pd.DataFrame, a, b) -> pd.DataFrame:
    """Column `a` minus column `b` of a (cell, fold, seed)-indexed table, over the cells both have:
    fold, seed, diff (one row per cell), the input of `paired_difference`."""
    both = wide[[a, b]].dropna() if {a, b} <= set(wide.columns) else wide.iloc[:0]
    return (both[a] - both[b]).rename("diff").reset_index()[["fold", "seed", "diff"]]


def paired(cells: pd.DataFrame, metric: str = "ua", reference: int = REFERENCE_EXP, seed: int = 0) -> pd.DataFrame:
    """Row `reference` (PDT + SVM) minus every other row, over the cells both have (same seed and
    fold): `paired_difference` per row, at the test/train ratio of the study's folds. Points of UA
    (or the metric) in %."""
    wide = cells.pivot_table(index=["cell", "fold", "seed"], columns="exp", values=metric)
    ratio = holdout_ratio(cells["fold"])
    rows = []
    for exp in wide.columns:
        if exp == reference or reference not in wide:
            continue
        diffs = cell_differences(wide, reference, exp)
        if len(diffs) == 0:  # a row this study did not run
            continue
        rows.append({"exp": exp, "method": cells.loc[cells["exp"] == exp, "method"].iloc[0],
                     **paired_difference(diffs, ratio, seed)})
    # the columns even with no row (a study of PDT + SVM alone): readers index them all the same
    return pd.DataFrame(rows, columns=["exp", "method", *DIFFERENCE_COLUMNS])


def paired_difference(diffs: pd.DataFrame, ratio: float, seed: int = 0) -> dict:
    """What paired differences say, the fold the unit (fold_stats, verdict). diffs: fold, seed, diff
    (points of a percentage, one row per cell); ratio: n_test/n_train of the folds. Returns n
    (cells), folds, seeds (per fold), mean_diff (the mean of the folds' means), low/high (95%
    t-interval over the folds), corrected_low/high (corrected resampled t over the cells),
    boot_low/high (hierarchical bootstrap, 9999 resamples, `seed`), sd_seeds and sd_folds,
    p_worse/p_rope/p_better (baycomp, ROPE ± 1 point), folds_needed (80% power at the paper's
    gain, from sd_folds) and `note` where folds < FEW_FOLDS; bounds clipped to [-100, 100]. One
    fold: no interval, no corrected t and no probabilities (its seeds say nothing of other data)."""
    diffs = diffs.dropna(subset=["diff"])
    fold_means = per_fold(diffs)
    row = {"n": len(diffs), "folds": len(fold_means), "seeds": seeds_per_fold(diffs) if len(diffs) else np.nan,
           "mean_diff": fold_means.mean() if len(diffs) else np.nan}
    row.update(zip(("low", "high"), clipped(*t_over_folds(diffs), floor=-100.0)))
    ratio = ratio if len(fold_means) > 1 else np.nan  # one fold: its seeds' spread says nothing of other data
    row.update(zip(("corrected_low", "corrected_high"), clipped(*corrected_t(diffs, ratio), floor=-100.0)))
    row.update(zip(("boot_low", "boot_high"), hierarchical_bootstrap(diffs, seed=seed)))
    row["sd_seeds"], row["sd_folds"] = spread(diffs)
    row["p_worse"], row["p_rope"], row["p_better"] = bayes_verdict(diffs["diff"], ratio)
    row["folds_needed"] = folds_needed(row["sd_folds"], PAPER_CLAIM)
    row["note"] = few_folds_note(row["folds"])
    return row


def differences_shown(table: pd.DataFrame, label: str = "Difference") -> pd.DataFrame:
    """`paired_difference`'s columns as a reader sees them: the difference [t over folds], the
    corrected t and the hierarchical bootstrap, the two sds, baycomp's probabilities, the folds
    for 80% power, folds x seeds, and the note."""
    return pd.DataFrame({
        label: [difference_interval(*v) for v in table[["mean_diff", "low", "high"]].to_numpy()],
        "Corrected t": [interval(*v) for v in table[["corrected_low", "corrected_high"]].to_numpy()],
        "Hier. bootstrap": [interval(*v) for v in table[["boot_low", "boot_high"]].to_numpy()],
        "sd seeds / folds": [f"{or_blank(a, '.2f') or '–'} / {or_blank(b, '.2f') or '–'}"
                             for a, b in table[["sd_seeds", "sd_folds"]].to_numpy()],
        f"P(better / ±{ROPE:g} / worse)": [probabilities(*v) for v in
                                            table[["p_better", "p_rope", "p_worse"]].to_numpy()],
        "Folds for 80% power": table["folds_needed"].map(lambda v: or_blank(v, ".0f")),
        "Folds × seeds": [f"{f:.0f} × {s:g}" if s == s else f"{f:.0f}" for f, s in table[["folds", "seeds"]].to_numpy()],
        "Note": table["note"]}, index=table.index)


DIFFERENCES_CAPTION = (
    "The fold is the unit: per fold the mean over its seeds. Difference: the mean of the folds' differences "
    "[95% t-interval over the folds]; corrected t: the corrected resampled t over every cell (Nadeau & Bengio "
    "2003), variance × (1/cells + n_test/n_train); hier. bootstrap: folds, then seeds within a fold, resampled "
    "(percentile, 9999 resamples; narrow on few folds); sd seeds / folds: the sd between the seeds of a fold "
    "(pooled) and between the folds' means; P(better / ±{rope:g} / worse): baycomp's Bayesian correlated t-test "
    "(Benavoli et al. 2017), the probability that the difference is above +{rope:g}, within ±{rope:g} (the ROPE, "
    "UA points) or below −{rope:g}; folds for 80% power: the folds a two-sided 5% t-test needs to tell "
    f"{PAPER_CLAIM:+.2f} (the paper's gain) from 0 at the sd between folds. docs/protocol.md, section 6.")


def paired_caption(ratio: float) -> str:
    """What paired.md's columns mean, with the study's n_test/n_train."""
    return DIFFERENCES_CAPTION.format(rope=ROPE) + (f" Here n_test/n_train = {ratio:.3g}." if ratio == ratio else
                                                    " The folds' names give no n_test/n_train: no corrected t.")


def in_words(summary: pd.DataFrame, comparisons: pd.DataFrame) -> str:
    """The study's result in words: PDT + SVM's interval over folds, then each paired difference with
    its t-interval over folds, baycomp's probabilities and the folds 80% power needs; and a warning
    when any of them rests on fewer than FEW_FOLDS folds."""
    rows = summary.set_index("exp")
    if REFERENCE_EXP not in rows.index:
        return f"No PDT + SVM row in the study's cells; rows: {', '.join(rows['method'])}."
    ref = rows.loc[REFERENCE_EXP]
    spread = "(one fold: no interval)" if ref["ua_low"] != ref["ua_low"] else f"[{ref['ua_low']:.1f}, {ref['ua_high']:.1f}]"
    text = (f"Over {int(ref['ua_folds'])} folds ({int(ref['ua_n'])} cells), PDT + SVM scores UA "
            f"{ref['ua_mean']:.1f}% {spread} (paper: {ref['paper_ua']:.1f}%). "
            f"Against the other rows (PDT + SVM minus row, UA points, per fold the mean over its seeds, 95% "
            f"t-interval over folds; P(better / within ±{ROPE:g} / worse) from baycomp's correlated t-test): ")
    parts = [f"exp {r.exp} ({r.method}) {difference_interval(r.mean_diff, r.low, r.high)}, "
             f"P {probabilities(r.p_better, r.p_rope, r.p_worse) or 'unknown'}, {r.folds} folds"
             + ("" if r.folds_needed != r.folds_needed else
                f"; {r.folds_needed:.0f} folds for 80% power at {PAPER_CLAIM:+.2f}") for r in comparisons.itertuples()]
    fewest = min([int(ref["ua_folds"]), *comparisons.get("folds", pd.Series(dtype=int)).tolist()])
    caution = f" Caution, {FEW_NOTE}." if few_folds_note(fewest) else ""
    return text + "; ".join(parts) + "." + caution


# ---------------------------------------------------------------- across studies

def study_corpus(cells: pd.DataFrame) -> str:
    """The corpus a study's cells ran on (cells.csv's `corpus` column), '' when it does not say."""
    if "corpus" not in cells:
        return ""
    return ", ".join(sorted(cells["corpus"].dropna().astype(str).unique()))


COMPARED = {"mean_diff": "diff", "low": "diff_low", "high": "diff_high", "n": "diff_n", "folds": "diff_folds",
            "corrected_low": "corrected_low", "corrected_high": "corrected_high", "p_worse": "p_worse",
            "p_rope": "p_rope", "p_better": "p_better", "folds_needed": "folds_needed"}


def compare_table(studies: dict[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """One row per study x Table 3 row: study, corpus, exp, method, duration, paper_ua, UA mean, sd,
    95% interval, n and folds (`summarise`); on the traditional row (exp 1) and the eGeMAPS row
    (exp 7), PDT + SVM minus that row (`paired`): diff, diff_low, diff_high (t over folds),
    corrected_low/high, p_worse/p_rope/p_better, folds_needed, diff_n, diff_folds; and `note` where
    either has fewer than FEW_FOLDS folds."""
    frames = []
    for name, cells in studies.items():
        summary = summarise(cells, metrics=("ua",)).drop(columns="note")
        # reindex: a study without PDT + SVM has no paired rows, and so no columns, to merge on
        diffs = paired(cells, seed=seed).reindex(columns=["exp", *COMPARED])
        diffs = diffs[diffs["exp"].isin([TRADITIONAL_EXP, EGEMAPS_EXP])].astype({"exp": summary["exp"].dtype})
        table = summary.merge(diffs.rename(columns=COMPARED), on="exp", how="left")
        frames.append(table.assign(study=name, corpus=study_corpus(cells)))
    table = pd.concat(frames, ignore_index=True)
    fewest = table[["ua_folds", "diff_folds"]].min(axis=1)  # diff_folds NaN off rows 1 and 7: the row's own
    table["note"] = fewest.map(few_folds_note)
    first = ["study", "corpus", "exp", "method", "duration", "paper_ua"]
    return table[first + [c for c in table.columns if c not in first]]


def compare_shown(table: pd.DataFrame) -> pd.DataFrame:
    """`compare_table` as a reader sees it: UA "mean ± sd [low, high]" over folds, folds and cells,
    and PDT + SVM minus the row "+diff [low, high]" with the corrected t and baycomp's probabilities,
    blank where the row is not compared."""
    compared = table["diff_n"].notna()
    return pd.DataFrame({
        "Study": table["study"], "Corpus": table["corpus"], "Exp": table["exp"], "Method": table["method"],
        "Duration (s)": table["duration"].map(lambda v: or_blank(v, "g")),
        "Paper UA": table["paper_ua"].map(lambda v: or_blank(v, ".2f")),
        "UA": [mean_sd_interval(*v) for v in table[["ua_mean", "ua_sd", "ua_low", "ua_high"]].to_numpy()],
        "Folds": table["ua_folds"], "Cells": table["ua_n"],
        "PDT + SVM − row": [difference_interval(*v) if ok else "" for ok, v in
                            zip(compared, table[["diff", "diff_low", "diff_high"]].to_numpy())],
        "Corrected t": [interval(*v) if ok else "" for ok, v in
                        zip(compared, table[["corrected_low", "corrected_high"]].to_numpy())],
        f"P(better / ±{ROPE:g} / worse)": [probabilities(*v) if ok else "" for ok, v in
                                            zip(compared, table[["p_better", "p_rope", "p_worse"]].to_numpy())],
        "Note": table["note"]})


def compare_differences(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of `compare_table` that carry a paired difference."""
    return table.dropna(subset=["diff_n"]).reset_index(drop=True)


ANSWER = "PDT + SVM − traditional"  # the `between` row that compares the studies' answers, not a Table 3 row


def between(first: pd.DataFrame, second: pd.DataFrame, metric: str = "ua", seed: int = 0) -> pd.DataFrame:
    """Two runs of one study, cell by cell (same cell: seed and fold), e.g. the default study in fp32
    (`first`) and in bf16 (`second`): per Table 3 row, the second's metric minus the first's over the
    cells both ran (`paired_difference`, the fold the unit), and the largest absolute difference of
    one cell; then one more row, ANSWER, whose differences are those of the PDT + SVM minus
    traditional gap: does the second run change the study's answer?"""
    wide = [cells.pivot_table(index=["cell", "fold", "seed"], columns="exp", values=metric)
            for cells in (first, second)]
    methods = pd.concat([first, second]).drop_duplicates("exp").set_index("exp")["method"]
    ratio = holdout_ratio(pd.concat([first["fold"], second["fold"]]))

    def row(exp, method, a: pd.Series, b: pd.Series) -> dict:  # a, b: one value per (cell, fold, seed)
        diffs = cell_differences(pd.concat([b, a], axis=1, keys=["b", "a"]), "b", "a")
        return {"exp": exp, "method": method, **paired_difference(diffs, ratio, seed),
                "max_abs": diffs["diff"].abs().max() if len(diffs) else np.nan}

    rows = [row(exp, methods[exp], wide[0][exp], wide[1][exp])
            for exp in sorted(set(wide[0].columns) & set(wide[1].columns))]
    if all({REFERENCE_EXP, TRADITIONAL_EXP} <= set(w.columns) for w in wide):
        gaps = [w[REFERENCE_EXP] - w[TRADITIONAL_EXP] for w in wide]
        rows.append(row(np.nan, ANSWER, *gaps))
    return pd.DataFrame(rows, columns=["exp", "method", *DIFFERENCE_COLUMNS, "max_abs"])
