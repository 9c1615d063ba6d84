"""The statistics of a study (`pdtlib.study`): what the cells say about each Table 3 row, and about
PDT + SVM against the other rows, within one study and across studies (corpora).

    summarise       per row: mean, sd, 95% t-interval of the mean, n cells (UA, WA, macro-F1)
    paired          PDT + SVM minus each row over the cells both have: mean, 95% bootstrap interval,
                    Wilcoxon signed-rank p, n (`paired_difference`, which Table 2 uses too)
    compare_table   several studies in one table: each row's UA, and PDT + SVM minus the traditional
                    row (exp 1, 4 s) and minus eGeMAPS + SVM (exp 7), per study
    between         two runs of one study (e.g. fp32 and bf16): each row's UA, second minus first,
                    paired cell by cell, and the same for PDT + SVM minus traditional (the answer)

Intervals are honest about their scale and their support: a percentage's bounds are clipped to
[0, 100] and a difference of percentages to [-100, 100] (a t-interval over two far-apart cells can
reach past both ends, which no score can), and a row with fewer than FEW_CELLS cells carries a
`note` saying its interval rests on few cells. Table 2 (a grid study over the PDT's m and λ) is
study.table2's, on the same machinery.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..evaluation.evaluate import PAPER_TABLE3
from .format import difference_interval, mean_sd_interval, or_blank

REFERENCE_EXP = 5  # PDT + SVM: the row every other row is compared with
TRADITIONAL_EXP, EGEMAPS_EXP = 1, 7  # the rows a comparison across studies sets PDT + SVM against
_PAPER = {row["exp"]: row["paper_ua"] for row in PAPER_TABLE3}
PAPER_CLAIM = round(_PAPER[REFERENCE_EXP] - _PAPER[TRADITIONAL_EXP], 2)  # +5.24 UA points, Table 3
FEW_CELLS = 5  # below this many cells an interval says more about luck than about the method
FEW_NOTE = f"n < {FEW_CELLS}: the interval is wide and rests on few cells"


def few_cells_note(n) -> str:
    """FEW_NOTE for a row over fewer than FEW_CELLS cells, else ''."""
    return FEW_NOTE if n < FEW_CELLS else ""


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


def interval_columns(values: pd.Series, metric: str) -> dict:
    """The values present (NaN left out) of `metric` over some cells: `<metric>_mean`, `_sd`, `_low`,
    `_high` (`t_interval`) and `_n`. The one builder of an interval row (Table 3's rows, Table 2's points)."""
    values = values.dropna().to_numpy(dtype=float)
    mean, sd, low, high = t_interval(values)
    return {f"{metric}_mean": mean, f"{metric}_sd": sd, f"{metric}_low": low, f"{metric}_high": high,
            f"{metric}_n": len(values)}


def summarise(cells: pd.DataFrame, metrics=("ua", "wa", "f1")) -> pd.DataFrame:
    """Per Table 3 row that any cell ran: for each metric the mean, sd, 95% t-interval of the mean
    (clipped to [0, 100]) and n (the cells that ran it); `note` where n (of UA) < FEW_CELLS."""
    rows = []
    run = cells.dropna(subset=["ua"])  # rows a study leaves out (e.g. durations) have no cell
    for (exp, method, duration, paper), group in run.groupby(["exp", "method", "duration", "paper_ua"],
                                                             dropna=False, sort=True):
        row = {"exp": exp, "method": method, "duration": duration, "paper_ua": paper}
        for metric in metrics:
            row.update(interval_columns(group[metric], metric))
        row["note"] = few_cells_note(row[f"{metrics[0]}_n"])
        rows.append(row)
    return pd.DataFrame(rows).sort_values("exp").reset_index(drop=True)


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`summarise`'s table as a reader sees it: per metric "mean ± sd [low, high]", n, the paper's UA
    (blank where the paper has no such row), and the note on rows over few cells."""
    shown = pd.DataFrame({"Exp": summary["exp"], "Method": summary["method"],
                          "Duration (s)": summary["duration"].map(lambda v: or_blank(v, "g")),
                          "Paper UA": summary["paper_ua"].map(lambda v: or_blank(v, ".2f"))})
    for metric, name in (("ua", "UA"), ("wa", "WA"), ("f1", "Macro-F1")):
        shown[name] = [mean_sd_interval(*values) for values in
                       summary[[f"{metric}_mean", f"{metric}_sd", f"{metric}_low", f"{metric}_high"]].to_numpy()]
    shown["n"] = summary["ua_n"]
    shown["Note"] = summary["note"]
    return shown


def paired(cells: pd.DataFrame, metric: str = "ua", reference: int = REFERENCE_EXP, seed: int = 0) -> pd.DataFrame:
    """Row `reference` (PDT + SVM) minus every other row, over the cells both have: mean difference,
    95% bootstrap interval (clipped to [-100, 100]), Wilcoxon signed-rank p-value, n, and `note`
    where n < FEW_CELLS. Points of UA (or the metric) in %."""
    wide = cells.pivot_table(index="cell", columns="exp", values=metric)
    rows = []
    for exp in wide.columns:
        if exp == reference or reference not in wide:
            continue
        both = wide[[reference, exp]].dropna()
        diff = (both[reference] - both[exp]).to_numpy(dtype=float)
        if len(diff) == 0:  # a row this study did not run
            continue
        rows.append({"exp": exp, "method": cells.loc[cells["exp"] == exp, "method"].iloc[0],
                     **paired_difference(diff, seed)})
    # the columns even with no row (a study of PDT + SVM alone): readers index them all the same
    return pd.DataFrame(rows, columns=["exp", "method", "n", "mean_diff", "low", "high", "wilcoxon_p", "note"])


def paired_difference(diff: np.ndarray, seed: int = 0) -> dict:
    """What paired differences (points of a percentage, one per cell) say: n, mean_diff, its 95%
    bootstrap interval (percentile, 9999 resamples, clipped to [-100, 100]; one cell: none; every
    cell the same: that point), the Wilcoxon signed-rank p-value (NaN when every difference is 0)
    and `note` where n < FEW_CELLS. Table 3's rows (`paired`) and Table 2's settings use it."""
    diff = np.asarray(diff, dtype=float)
    n = len(diff)
    row = {"n": n, "mean_diff": diff.mean() if n else np.nan, "low": np.nan, "high": np.nan, "wilcoxon_p": np.nan}
    if n >= 2 and np.ptp(diff) > 0:
        ci = stats.bootstrap((diff,), np.mean, confidence_level=0.95, n_resamples=9999, method="percentile",
                             random_state=seed).confidence_interval
        row.update(zip(("low", "high"), clipped(ci.low, ci.high, floor=-100.0)))
    elif n >= 2:  # every cell the same difference: the interval is that point
        row.update(low=diff.mean(), high=diff.mean())
    if np.any(diff != 0):
        row["wilcoxon_p"] = float(stats.wilcoxon(diff).pvalue)
    row["note"] = few_cells_note(n)
    return row


def in_words(summary: pd.DataFrame, comparisons: pd.DataFrame) -> str:
    """The study's result in words: PDT + SVM's interval, then each paired difference with its
    interval; and a warning when any of them rests on fewer than FEW_CELLS cells."""
    rows = summary.set_index("exp")
    if REFERENCE_EXP not in rows.index:
        return f"No PDT + SVM row in the study's cells; rows: {', '.join(rows['method'])}."
    ref = rows.loc[REFERENCE_EXP]
    text = (f"Over {int(ref['ua_n'])} cells, PDT + SVM scores UA {ref['ua_mean']:.1f} ± {ref['ua_sd']:.1f}% "
            f"[{ref['ua_low']:.1f}, {ref['ua_high']:.1f}] (paper: {ref['paper_ua']:.1f}%). Against the other rows "
            f"(PDT + SVM minus row, UA points, paired over cells): ")
    parts = [f"exp {r.exp} ({r.method}) {r.mean_diff:+.1f} [{r.low:+.1f}, {r.high:+.1f}], "
             f"Wilcoxon p = {r.wilcoxon_p:.3g}, n {r.n}" for r in comparisons.itertuples()]
    fewest = min([int(ref["ua_n"]), *comparisons.get("n", pd.Series(dtype=int)).tolist()])
    caution = f" Caution, {FEW_NOTE}." if few_cells_note(fewest) else ""
    return text + "; ".join(parts) + "." + caution


# ---------------------------------------------------------------- across studies

def study_corpus(cells: pd.DataFrame) -> str:
    """The corpus a study's cells ran on (cells.csv's `corpus` column), '' when it does not say."""
    if "corpus" not in cells:
        return ""
    return ", ".join(sorted(cells["corpus"].dropna().astype(str).unique()))


def compare_table(studies: dict[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """One row per study x Table 3 row: study, corpus, exp, method, duration, paper_ua, UA mean, sd,
    95% interval and n (`summarise`); on the traditional row (exp 1) and the eGeMAPS row (exp 7),
    PDT + SVM minus that row paired over the study's cells (`paired`): diff, diff_low, diff_high,
    wilcoxon_p, diff_n; and `note` where either n < FEW_CELLS."""
    frames = []
    for name, cells in studies.items():
        summary = summarise(cells, metrics=("ua",)).drop(columns="note")
        # reindex: a study without PDT + SVM has no paired rows, and so no columns, to merge on
        diffs = paired(cells, seed=seed).reindex(columns=["exp", "mean_diff", "low", "high", "wilcoxon_p", "n"])
        diffs = diffs[diffs["exp"].isin([TRADITIONAL_EXP, EGEMAPS_EXP])].astype({"exp": summary["exp"].dtype})
        diffs = diffs.rename(columns={"mean_diff": "diff", "low": "diff_low", "high": "diff_high", "n": "diff_n"})
        table = summary.merge(diffs, on="exp", how="left")
        frames.append(table.assign(study=name, corpus=study_corpus(cells)))
    table = pd.concat(frames, ignore_index=True)
    fewest = table[["ua_n", "diff_n"]].min(axis=1)  # diff_n NaN off rows 1 and 7: the row's own n counts
    table["note"] = fewest.map(few_cells_note)
    first = ["study", "corpus", "exp", "method", "duration", "paper_ua"]
    return table[first + [c for c in table.columns if c not in first]]


def compare_shown(table: pd.DataFrame) -> pd.DataFrame:
    """`compare_table` as a reader sees it: UA "mean ± sd [low, high]" and n, and PDT + SVM minus the
    row "+diff [low, high]" with its Wilcoxon p, blank where the row is not compared."""
    diff = ["" if n != n else difference_interval(d, low, high)
            for d, low, high, n in table[["diff", "diff_low", "diff_high", "diff_n"]].to_numpy()]
    return pd.DataFrame({
        "Study": table["study"], "Corpus": table["corpus"], "Exp": table["exp"], "Method": table["method"],
        "Duration (s)": table["duration"].map(lambda v: or_blank(v, "g")),
        "Paper UA": table["paper_ua"].map(lambda v: or_blank(v, ".2f")),
        "UA": [mean_sd_interval(*v) for v in table[["ua_mean", "ua_sd", "ua_low", "ua_high"]].to_numpy()],
        "n": table["ua_n"], "PDT + SVM − row": diff,
        "Wilcoxon p": table["wilcoxon_p"].map(lambda v: or_blank(v, ".3g")),
        "n pairs": table["diff_n"].map(lambda v: or_blank(v, ".0f")), "Note": table["note"]})


def compare_differences(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of `compare_table` that carry a paired difference (the forest plot's lines)."""
    return table.dropna(subset=["diff_n"]).reset_index(drop=True)


ANSWER = "PDT + SVM − traditional"  # the `between` row that compares the studies' answers, not a Table 3 row


def between(first: pd.DataFrame, second: pd.DataFrame, metric: str = "ua", seed: int = 0) -> pd.DataFrame:
    """Two runs of one study, cell by cell (same cell name: seed and fold), e.g. the default study in
    fp32 (`first`) and in bf16 (`second`): per Table 3 row, the second's metric minus the first's over
    the cells both ran (`paired_difference`: mean, 95% bootstrap interval, Wilcoxon p, n), and the
    largest absolute difference of one cell; then one more row, ANSWER, whose differences are those of
    the PDT + SVM minus traditional gap: does the second run change the study's answer?"""
    wide = [cells.pivot_table(index="cell", columns="exp", values=metric) for cells in (first, second)]
    methods = pd.concat([first, second]).drop_duplicates("exp").set_index("exp")["method"]

    def row(exp, method, a: pd.Series, b: pd.Series) -> dict:  # a, b: one value per cell
        both = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna()
        diff = (both["b"] - both["a"]).to_numpy(dtype=float)
        return {"exp": exp, "method": method, **paired_difference(diff, seed),
                "max_abs": np.abs(diff).max() if len(diff) else np.nan}

    rows = [row(exp, methods[exp], wide[0][exp], wide[1][exp])
            for exp in sorted(set(wide[0].columns) & set(wide[1].columns))]
    if all({REFERENCE_EXP, TRADITIONAL_EXP} <= set(w.columns) for w in wide):
        gaps = [w[REFERENCE_EXP] - w[TRADITIONAL_EXP] for w in wide]
        rows.append(row(np.nan, ANSWER, *gaps))
    return pd.DataFrame(rows, columns=["exp", "method", "n", "mean_diff", "low", "high", "wilcoxon_p", "max_abs",
                                       "note"])
