"""Table 2 of the paper from a grid study's cells (`pdtlib.study`, e.g. params/study-table2.yaml):
the PDT's margin m (eq. 2) and weight λ (eq. 1) chosen on validation, and the pairing scheme.

    settings     one row per point, on PDT + SVM (Table 3 row 5): the point's settings, its caps in
                 encoder passes and in pairs, and over its cells the validation UA of the SVM
                 (`val_ua`) and of the linear probe (`probe_val_ua`) and the test UA (`ua`): mean
                 over folds, sd between folds, 95% t-interval over folds (clipped to [0, 100]), n
                 cells and folds (stats.interval_columns: the fold is the unit); how many of its cells kept the
                 untrained encoder (`untrained`: validation chose the step-0 checkpoint); which
                 points are Table 2's settings, the one chosen on validation and the paper's best
    comparisons  test UA differences paired over (seed, fold) (stats.paired_difference: per fold
                 the mean over its seeds, t over folds, corrected t, baycomp's probabilities): the paper's best minus λ = 0 and minus
                 λ = 1 at its m; the setting chosen minus the paper's best; in-batch minus sampled
                 pairs at the same m and λ, under the same encoder passes (about the same wall
                 clock) and under the same pairs

Table 2's settings are the points that share every setting but m and λ with most points (the
pairing scheme, the cap, the batch); the others are variants, compared with their twins. The
setting chosen is Table 2's with the highest mean validation UA of the SVM, the score row 5 picks
its SVM on (ties: the first in the study's order); the test split never chooses.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..report import artefacts
from .fold_stats import holdout_ratio
from .format import mean_sd_interval_or_blank
from .stats import (DIFFERENCE_COLUMNS, REFERENCE_EXP, cell_differences, differences_shown, few_folds_note,
                    interval_columns, paired_difference)

AXES = ("pdt_margin", "pdt_lam")  # Table 2's two axes
PAPER_BEST = {"pdt_margin": 0.1, "pdt_lam": 0.9}  # Table 2's best values
METRICS = ("val_ua", "probe_val_ua", "ua")
# a cell's rows and scores; every other column of a grid study's cells is a setting (cells.collect)
NOT_SETTINGS = {"cell", "seed", "fold", "exp", "method", "duration", "paper_ua", "ua", "wa", "f1", "corpus",
                "val_ua", "probe_val_ua", "chosen_passes", "point"}
# pair caps within 2% are "the same pairs": steps are whole, so two schemes' caps rarely match exactly
SAME_PAIRS = 0.02


def setting_columns(cells: pd.DataFrame) -> list[str]:
    """The settings a grid study's cells carry (pdt_margin, pdt_lam, pdt_mode, max_passes, ...)."""
    return [c for c in cells.columns if c not in NOT_SETTINGS]


def _same(value):
    """A setting as compared: floats read back from CSV compare at 9 decimals."""
    return round(float(value), 9) if isinstance(value, (float, np.floating)) else value


def _matches(row, other, columns, skip=(), **changes) -> bool:
    """Whether `other` has `row`'s settings in `columns`, but for `skip` and the values in `changes`."""
    return all(_same(other[c]) == _same(changes.get(c, row[c])) for c in columns if c not in skip)


def settings(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per point, in the study's order: point, its settings, pairs_cap (where the pairing is
    known), for each of METRICS its mean, sd, low, high and n over the point's cells, untrained (its
    cells whose chosen checkpoint is step 0; where the cells say), note (folds < FEW_FOLDS), table2 (one
    of Table 2's m x λ settings), paper (the paper's best) and chosen (the highest mean val_ua of
    Table 2's settings)."""
    missing = sorted({"point", *AXES} - set(cells.columns))
    if missing:
        raise ValueError(f"the cells lack {missing}: Table 2 needs a grid study's cells (a study file with `grid` "
                         f"over pdt_margin and pdt_lam; notebook {artefacts.TABLE2} writes its cells.csv)")
    from ..training.configs import pair_cap  # the one rule for steps and pairs per step (torch: only here)

    columns = setting_columns(cells)
    rows = []
    for point, group in cells[cells["exp"] == REFERENCE_EXP].groupby("point", sort=False):
        row = {"point": point, **group.iloc[0][columns].to_dict()}
        if {"pdt_mode", "pdt_batch_size", "max_passes"} <= set(columns):
            row["pairs_cap"] = pair_cap(row["pdt_mode"], row["pdt_batch_size"], row["max_passes"])
        for metric in METRICS:
            row.update(interval_columns(group, metric))
        if "chosen_passes" in group:  # cells.csv written before the column existed: not known
            row["untrained"] = int((group["chosen_passes"] == 0).sum())
        row["note"] = few_folds_note(row["ua_folds"])
        rows.append(row)
    table = pd.DataFrame(rows)
    table["table2"] = in_table2(table, columns)
    table["paper"] = table["table2"] & np.isclose(table["pdt_margin"], PAPER_BEST["pdt_margin"]) \
        & np.isclose(table["pdt_lam"], PAPER_BEST["pdt_lam"])
    table["chosen"] = chosen_on_validation(table)
    return table


def in_table2(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Whether each point shares the settings other than m and λ that most points share (ties:
    those of the first point): Table 2's settings; the rest are variants (pairing, cap)."""
    others = [c for c in columns if c not in AXES]
    keys = [tuple(_same(v) for v in row) for row in table[others].itertuples(index=False)]
    main = Counter(keys).most_common(1)[0][0]  # most_common keeps first-seen order among ties
    return pd.Series([key == main for key in keys], index=table.index)


def chosen_on_validation(table: pd.DataFrame) -> pd.Series:
    """True on Table 2's setting with the highest mean validation UA of the SVM (the first of equals)."""
    candidates = table.loc[table["table2"], "val_ua_mean"].dropna()
    chosen = table.index == candidates.idxmax() if len(candidates) else np.zeros(len(table), dtype=bool)
    return pd.Series(chosen, index=table.index)


def comparison_pairs(table: pd.DataFrame, columns: list[str]) -> list[tuple[str, str, str]]:
    """(label, a, b) for each comparison `comparisons` makes, a minus b, on points of `table`."""
    pairs = []
    paper, chosen = table[table["paper"]], table[table["chosen"]]
    if len(paper) == 1:
        best = paper.iloc[0]
        for lam in (0.0, 1.0):
            twins = [t for _, t in table[table["table2"]].iterrows() if _matches(best, t, columns, pdt_lam=lam)]
            if twins:
                label = f"paper's best − λ {lam:g} (m {best['pdt_margin']:g})"
                pairs.append((label, best["point"], twins[0]["point"]))
        if len(chosen) == 1 and chosen.iloc[0]["point"] != best["point"]:
            pairs.append(("chosen on validation − paper's best", chosen.iloc[0]["point"], best["point"]))
    if "pdt_mode" in table and "pairs_cap" in table:
        for _, sampled in table[table["pdt_mode"] == "sampled"].iterrows():
            for _, batch in table[table["pdt_mode"] == "in-batch"].iterrows():
                if not _matches(sampled, batch, columns, skip=("pdt_mode", "max_passes")):
                    continue
                where = f"m {batch['pdt_margin']:g}, λ {batch['pdt_lam']:g}"
                if batch["max_passes"] == sampled["max_passes"]:
                    pairs.append((f"in-batch − sampled, same encoder passes ({int(batch['max_passes']):,}), {where}",
                                  batch["point"], sampled["point"]))
                elif abs(batch["pairs_cap"] - sampled["pairs_cap"]) <= SAME_PAIRS * max(batch["pairs_cap"],
                                                                                      sampled["pairs_cap"]):
                    pairs.append((f"in-batch − sampled, same pairs ({int(batch['pairs_cap']):,} and "
                                  f"{int(sampled['pairs_cap']):,}), {where}", batch["point"], sampled["point"]))
    return pairs


def comparisons(cells: pd.DataFrame, table: pd.DataFrame, metric: str = "ua", seed: int = 0) -> pd.DataFrame:
    """Each of `comparison_pairs` as a paired difference of `metric` (test UA) over the (seed, fold)
    both points have (stats.paired_difference): comparison, a, b, then DIFFERENCE_COLUMNS."""
    wide = cells[cells["exp"] == REFERENCE_EXP].pivot_table(index=["fold", "seed"], columns="point", values=metric)
    ratio = holdout_ratio(cells["fold"])
    rows = []
    for label, a, b in comparison_pairs(table, setting_columns(cells)):
        diffs = cell_differences(wide, a, b)
        if len(diffs):
            rows.append({"comparison": label, "a": a, "b": b, **paired_difference(diffs, ratio, seed)})
    return pd.DataFrame(rows, columns=["comparison", "a", "b", *DIFFERENCE_COLUMNS])


def settings_shown(table: pd.DataFrame) -> pd.DataFrame:
    """`settings` as a reader sees it: Table 2's settings first, then the variants; each score
    "mean ± sd [low, high]", n, and what the row is (chosen, the paper's best, a variant)."""
    table = table.sort_values("table2", ascending=False, kind="stable")
    marks = [", ".join(filter(None, ["chosen on validation" if r.chosen else "", "paper's best" if r.paper else "",
                                     "" if r.table2 else "variant"])) for r in table.itertuples()]
    shown = pd.DataFrame({"Point": table["point"], "m": table["pdt_margin"].map(lambda v: f"{v:g}"),
                          "λ": table["pdt_lam"].map(lambda v: f"{v:g}")})
    if "pdt_mode" in table:
        shown["Pairs"] = table["pdt_mode"]
    if "max_passes" in table:
        shown["Cap: passes"] = table["max_passes"].map(lambda v: f"{v:,.0f}")
    if "pairs_cap" in table:
        shown["Cap: pairs"] = table["pairs_cap"].map(lambda v: f"{v:,.0f}")
    for metric, name in (("val_ua", "Val UA, SVM"), ("probe_val_ua", "Val UA, probe"), ("ua", "Test UA")):
        shown[name] = [mean_sd_interval_or_blank(*v) for v in
                       table[[f"{metric}_mean", f"{metric}_sd", f"{metric}_low", f"{metric}_high"]].to_numpy()]
    shown["Folds"], shown["Cells"] = table["ua_folds"], table["ua_n"]
    if "untrained" in table:
        shown["Untrained kept"] = table["untrained"]
    shown["Row"] = marks
    return shown


def comparisons_shown(diffs: pd.DataFrame) -> pd.DataFrame:
    """`comparisons` as a reader sees it: the comparison, its points, and stats.differences_shown."""
    shown = differences_shown(diffs, "Test UA difference")
    shown.insert(0, "Points", diffs["a"] + " − " + diffs["b"])
    shown.insert(0, "Comparison", diffs["comparison"])
    return shown


def in_words(table: pd.DataFrame) -> str:
    """The setting chosen on validation beside the paper's best, their scores in words."""
    def said(row) -> str:
        return (f"m {row['pdt_margin']:g}, λ {row['pdt_lam']:g}: validation UA (SVM) {row['val_ua_mean']:.1f}%, "
                f"test UA {row['ua_mean']:.1f}% over {int(row['ua_folds'])} fold{'' if row['ua_folds'] == 1 else 's'} "
                f"({int(row['ua_n'])} cell{'' if row['ua_n'] == 1 else 's'})")

    chosen, paper = table[table["chosen"]], table[table["paper"]]
    text = f"Chosen on validation: {said(chosen.iloc[0])}." if len(chosen) else "No setting has a validation UA."
    if len(paper):
        text += f" The paper's best, {said(paper.iloc[0])}."
    return text
