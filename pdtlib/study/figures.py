"""The study's figures: Table 3 over the cells (`plot_study`), studies side by side as a forest
plot (`plot_compare`) and Table 2's heatmap over m and λ (`plot_table2`). Built as the report's
figures are (report.plots: Figures without pyplot, written by `save_figure`).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle


def plot_study(cells: pd.DataFrame, summary: pd.DataFrame, *, title: str = "Table 3 over seeds and folds") -> Figure:
    """Each Table 3 row's UA per cell (points, one colour per fold), its mean and 95% interval
    (a black bar), and the paper's UA (a grey diamond) where the paper has one.

    cells:   long table with exp, fold, ua (percent), one row per cell and Table 3 row.
    summary: stats.summarise(cells): exp, method, duration, paper_ua, ua_mean, ua_low, ua_high.
    """
    fig = Figure(figsize=(1.3 * len(summary) + 2.5, 4.4), layout="constrained")
    ax = fig.subplots()
    folds = sorted(cells["fold"].astype(str).unique())
    jitter = np.linspace(-0.3, -0.05, len(folds)) if len(folds) > 1 else np.array([-0.15])  # points left of the bar
    for pos, row in enumerate(summary.itertuples()):
        mine = cells[cells["exp"] == row.exp]
        for offset, fold, color in zip(jitter, folds, sns.color_palette("colorblind", len(folds))):
            values = mine.loc[mine["fold"].astype(str) == fold, "ua"]
            ax.scatter(np.full(len(values), pos + offset), values, s=18, color=color, alpha=0.8,
                       label=fold if pos == 0 else None, zorder=2)
        ax.errorbar(pos + 0.1, row.ua_mean, yerr=np.nan_to_num([[row.ua_mean - row.ua_low], [row.ua_high - row.ua_mean]]),
                    fmt="_", color="k", markersize=18, capsize=5, lw=1.5, zorder=3)
        if row.paper_ua == row.paper_ua:  # NaN for this project's rows
            ax.scatter(pos + 0.3, row.paper_ua, marker="D", s=40, color="0.55", zorder=4,
                       label="paper" if pos == 0 else None)
    names = ["\n".join(textwrap.wrap(f"{r.exp}: {r.method}", 16))
             + "\n" + (f"{r.duration:g} s" if r.duration == r.duration else "whole utterance")
             for r in summary.itertuples()]
    ax.axhline(25, color="k", ls=":", lw=1, label="chance (25%)")
    ax.set(xticks=np.arange(len(summary)), xticklabels=names, ylabel="UA (%)",
           title=f"{title}: points = cells, bar = mean and 95% interval")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", ncol=2)
    return fig


def plot_compare(answers: pd.DataFrame, *, paper: float | None = None,
                 title: str = "PDT + SVM minus the traditional classifier, per corpus and pooled") -> Figure:
    """A forest plot of the answer: one line per study, its mean fold difference (a point), its 95%
    t-interval over folds (a thick bar) and its corrected resampled t-interval (a thin line); the
    pooled difference over the studies as a diamond spanning its 95% interval; a solid line at 0 (no
    difference) and, dashed, the paper's claim (`paper`, PDT + SVM minus traditional 4 s).

    answers: pooled.answer_table: study, corpus, folds, seeds, mean_diff, low, high, corrected_low,
             corrected_high, p_better (UA points), the row "pooled" last.
    """
    fig = Figure(figsize=(8.5, 0.6 * len(answers) + 2.6), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(len(answers))[::-1]  # the first study on top, as in the table; pooled at the bottom
    color = sns.color_palette("colorblind", 1)[0]
    for y, row in zip(pos, answers.itertuples()):
        if row.study == "pooled":
            if row.low == row.low:
                ax.fill([row.low, row.mean_diff, row.high, row.mean_diff], [y, y + 0.25, y, y - 0.25], color="k",
                        label="pooled (random effects), 95%")
            continue
        if row.corrected_low == row.corrected_low:
            ax.plot([row.corrected_low, row.corrected_high], [y, y], color=color, lw=1, alpha=0.6,
                    label="corrected t, 95%" if y == pos[0] else None)
        # no interval (a single fold): the point alone, not a bar of zero width that reads as certainty
        span = [[row.mean_diff - row.low], [row.high - row.mean_diff]] if row.low == row.low else None
        ax.errorbar(row.mean_diff, y, xerr=span, fmt="o", color=color, capsize=4, lw=3,
                    label="t over folds, 95%" if y == pos[0] else None)
    labels = [f"pooled, random effects\n{r.folds:.0f} folds of {r.k:.0f} studies" if r.study == "pooled" else
              f"{r.study}" + (f" ({r.corpus})" if isinstance(r.corpus, str) and r.corpus else "")
              + f"\n{r.folds:.0f} folds × {r.seeds:g} seeds, P(better) {r.p_better:.2f}"
              for r in answers.itertuples()]
    ax.axvline(0, color="k", lw=1)
    if paper is not None:
        ax.axvline(paper, color="0.35", ls="--", lw=1.2, label=f"paper: {paper:+.2f}")
    ax.set(yticks=pos, yticklabels=labels, xlabel="UA difference (points): PDT + SVM minus traditional (4 s)")
    # over the whole figure, not the axes: the study labels on the left take much of the width
    fig.suptitle(f"{title}\npoint = mean of the folds (each the mean over its seeds)", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)  # off the lines
    return fig


def plot_table2(table: pd.DataFrame, *, title: str = "Table 2: PDT + SVM over m and λ") -> Figure:
    """A heatmap of Table 2's settings: m (rows) x λ (columns), each cell the mean test UA over the
    study's folds, annotated with it ± its sd between folds, the mean validation UA (of the SVM) and
    n; the setting chosen on validation outlined solid black, the paper's best (m 0.1, λ 0.9) dashed;
    a setting not run stays blank. The colours span the means' range only, which can be narrower than
    one setting's spread: the sd beside each mean says how much of a colour difference is noise.

    table: table2.settings: pdt_margin, pdt_lam, ua_mean, ua_sd, val_ua_mean, ua_n, table2, chosen, paper.
    """
    grid = table[table["table2"]]
    test, sd, val, n = (grid.pivot_table(index="pdt_margin", columns="pdt_lam", values=col, aggfunc="first")
                        for col in ("ua_mean", "ua_sd", "val_ua_mean", "ua_n"))
    sd, val, n = sd.reindex_like(test), val.reindex_like(test), n.reindex_like(test)

    def shown(i: int, j: int) -> str:  # "" where not run; no sd from one fold
        mean, spread = test.iat[i, j], sd.iat[i, j]
        if mean != mean:
            return ""
        return (f"{mean:.1f}" + ("" if spread != spread else f" ± {spread:.1f}")
                + f"\nval {val.iat[i, j]:.1f}\nn {n.iat[i, j]:.0f}")

    annot = np.array([[shown(i, j) for j in range(test.shape[1])] for i in range(len(test))])
    fig = Figure(figsize=(1.5 * test.shape[1] + 3.0, 1.1 * test.shape[0] + 2.2), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(test, annot=annot, fmt="", cmap="viridis", mask=test.isna(), ax=ax, linewidths=0.5, linecolor="w",
                annot_kws={"fontsize": 8}, cbar_kws={"label": "mean test UA (%)"})
    handles = []
    # inset a little for the paper's: the same cell can be both, and both outlines must show
    for column, inset, style, label in (("chosen", 0.03, "-", "chosen on validation"),
                                        ("paper", 0.1, "--", "paper's best (m 0.1, λ 0.9)")):
        for row in grid[grid[column]].itertuples():
            i, j = test.index.get_loc(row.pdt_margin), test.columns.get_loc(row.pdt_lam)
            handles.append(ax.add_patch(Rectangle(
                (j + inset, i + inset), 1 - 2 * inset, 1 - 2 * inset, fill=False, lw=2.5, ls=style,
                edgecolor="k" if column == "chosen" else "#D55E00", label=label)))
    ax.set_xticklabels([f"{v:g}" for v in test.columns])
    ax.set_yticklabels([f"{v:g}" for v in test.index], rotation=0)
    ax.set(xlabel="λ (eq. 1)", ylabel="m (eq. 2)",
           title=f"{title}\nmean test UA ± sd between folds; val = mean validation UA (SVM)")
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    return fig
