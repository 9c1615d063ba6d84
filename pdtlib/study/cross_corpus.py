"""A cross-corpus study's summary (notebook 11_cross_corpus): per corpus pair (train on A, test on B),
each Table 3 row's UA in-corpus (trained and tested on A) beside cross-corpus (trained on A, tested
on B), the drop between them, and PDT + SVM minus the traditional row in both, paired over the
training seeds (the unit: one seed's cell pair).

A study is cross-corpus when a point sets `test_manifest` (params/study-cross-corpus.yaml): its cells
with `test_manifest` empty are the in-corpus runs of their `manifest`, the others the cross-corpus
runs; a cross-corpus cell pairs with the in-corpus cell of its training manifest at the same seed and
fold (the same training and validation rows: a cross-corpus run leaves its corpus's test split out).

The unit is the training seed: every cell of a pair shares its data (the training corpus's train and
val rows, the test corpus), so the seeds are replicates of training alone, and an interval says how
much the answer moves with the seed, not with other speakers or corpora. Statistics over the n paired
seeds (`seed_difference`): the mean difference, its 95% t-interval (fold_stats.t_interval, df n - 1,
clipped to [-100, 100]), the one-sample t-test's p (scipy.stats.ttest_1samp) and baycomp's
P(worse / within the ROPE of 1 UA point / better) (verdict.bayes_verdict, seeds uncorrelated: ratio 0).
With fewer than FEW_SEEDS seeds a row carries a note.

    cross_corpus.md / .csv           per pair x row: in-corpus UA, cross-corpus UA, drop
    cross_corpus_answer.md / .csv    per pair: PDT + SVM − traditional in-corpus, cross-corpus, and
                                     how much less PDT + SVM drops (the difference of the two)
    figures/cross_corpus.png / .svg  per pair, each row's in-corpus and cross-corpus UA, joined
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..report.params import corpus_label
from .fold_stats import t_interval as difference_t_interval
from .format import difference_interval, mean_sd_interval, or_blank, probabilities
from .stats import REFERENCE_EXP, TRADITIONAL_EXP, clipped, t_interval
from .verdict import ROPE, bayes_verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAIR_KEYS = ("manifest", "test_manifest")
FEW_SEEDS = 5
FEW_NOTE = f"n < {FEW_SEEDS} seeds: the interval is wide and rests on few seeds"


def few_seeds_note(n) -> str:
    return FEW_NOTE if n < FEW_SEEDS else ""


def is_cross_corpus(cells: pd.DataFrame) -> bool:
    return "test_manifest" in cells and cells["test_manifest"].fillna("").astype(str).ne("").any()


def paired_cells(cells: pd.DataFrame, metric: str = "ua") -> pd.DataFrame:
    """One row per cross-corpus cell x Table 3 row with its in-corpus partner (same training manifest,
    seed and fold): train, test (labels), seed, fold, exp, method, duration, in_<metric>, cross_<metric>."""
    missing = [k for k in PAIR_KEYS if k not in cells]
    if missing:
        raise ValueError(f"the cells lack {missing}: a cross-corpus study's points set manifest and test_manifest")
    cells = cells.assign(test_manifest=cells["test_manifest"].fillna("").astype(str),
                         manifest=cells["manifest"].astype(str))
    keys = ["manifest", "seed", "fold", "exp"]
    within = cells[cells["test_manifest"] == ""][[*keys, metric]].rename(columns={metric: f"in_{metric}"})
    across = cells[cells["test_manifest"] != ""]
    both = across.merge(within, on=keys, how="inner").rename(columns={metric: f"cross_{metric}"})
    both = both.assign(train=both["manifest"].map(corpus_label), test=both["test_manifest"].map(corpus_label))
    return both[["train", "test", "manifest", "test_manifest", "seed", "fold", "exp", "method", "duration",
                 f"in_{metric}", f"cross_{metric}"]].reset_index(drop=True)


def seed_difference(diff) -> dict:
    """What paired differences over seeds (points of UA) say: n, mean, sd, 95% t-interval (clipped to
    [-100, 100]; one seed: none; every seed the same: that point), the one-sample t-test's p, and
    baycomp's P(worse), P(within ROPE), P(better) (seeds uncorrelated), and a note under FEW_SEEDS."""
    diff = np.asarray(diff, dtype=float)
    n = len(diff)
    low, high = clipped(*difference_t_interval(diff), floor=-100.0) if n >= 2 else (np.nan, np.nan)
    worse, within, better = bayes_verdict(diff, 0.0) if n >= 2 and np.ptp(diff) > 0 else (np.nan,) * 3
    return {"n": n, "mean": diff.mean() if n else np.nan, "sd": diff.std(ddof=1) if n > 1 else np.nan,
            "low": low, "high": high,
            "p": float(stats.ttest_1samp(diff, 0.0).pvalue) if n >= 2 and np.ptp(diff) > 0 else np.nan,
            "p_worse": worse, "p_rope": within, "p_better": better, "note": few_seeds_note(n)}


def drops(pairs: pd.DataFrame, metric: str = "ua") -> pd.DataFrame:
    """Per pair x Table 3 row: in-corpus and cross-corpus mean, sd, 95% t-interval (over seeds, in %),
    and the drop (in − cross, paired by seed and fold): n, mean, 95% t-interval, t-test p, note."""
    rows = []
    for (train, test, exp), group in pairs.groupby(["train", "test", "exp"], sort=False):
        first = group.iloc[0]
        row = {"train": train, "test": test, "exp": exp, "method": first["method"], "duration": first["duration"]}
        for side in ("in", "cross"):
            mean, sd, low, high = t_interval(group[f"{side}_{metric}"].to_numpy(dtype=float))
            row.update({f"{side}_mean": mean, f"{side}_sd": sd, f"{side}_low": low, f"{side}_high": high})
        diff = seed_difference(group[f"in_{metric}"] - group[f"cross_{metric}"])
        row.update({f"drop_{k}": v for k, v in diff.items() if k != "note"}, note=diff["note"])
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["train", "test", "exp"], kind="stable").reset_index(drop=True)


def answers(pairs: pd.DataFrame, metric: str = "ua", reference: int = REFERENCE_EXP,
            against: int = TRADITIONAL_EXP) -> pd.DataFrame:
    """Per pair: PDT + SVM (`reference`) minus the traditional row (`against`), paired by seed and fold,
    in-corpus and cross-corpus; and `less_drop`, the traditional row's drop minus PDT + SVM's (> 0: the
    PDT's embedding loses less when the corpus changes). Each: n, mean, 95% t-interval, t-test p."""
    rows = []
    for (train, test), group in pairs.groupby(["train", "test"], sort=False):
        wide = group.pivot_table(index=["seed", "fold"], columns="exp", values=[f"in_{metric}", f"cross_{metric}"])
        if (f"in_{metric}", reference) not in wide or (f"in_{metric}", against) not in wide:
            continue
        gap_in = (wide[(f"in_{metric}", reference)] - wide[(f"in_{metric}", against)]).dropna()
        gap_cross = (wide[(f"cross_{metric}", reference)] - wide[(f"cross_{metric}", against)]).dropna()
        row = {"train": train, "test": test, "reference": reference, "against": against}
        for name, diff in (("in", gap_in), ("cross", gap_cross), ("less_drop", gap_cross - gap_in)):
            found = seed_difference(diff.dropna())
            row.update({f"{name}_{k}": v for k, v in found.items() if k != "note"})
        row["note"] = few_seeds_note(min(row["in_n"], row["cross_n"]))
        rows.append(row)
    return pd.DataFrame(rows)


def drops_shown(table: pd.DataFrame) -> pd.DataFrame:
    """`drops` as a reader sees it."""
    return pd.DataFrame({
        "Train → test": table["train"] + " → " + table["test"], "Exp": table["exp"], "Method": table["method"],
        "Duration (s)": table["duration"].map(lambda v: or_blank(v, "g")),
        "In-corpus UA": [mean_sd_interval(*v) for v in table[["in_mean", "in_sd", "in_low", "in_high"]].to_numpy()],
        "Cross-corpus UA": [mean_sd_interval(*v)
                            for v in table[["cross_mean", "cross_sd", "cross_low", "cross_high"]].to_numpy()],
        "Drop (points)": [difference_interval(*v) for v in table[["drop_mean", "drop_low", "drop_high"]].to_numpy()],
        "t-test p": table["drop_p"].map(lambda v: or_blank(v, ".3g")), "n seeds": table["drop_n"],
        "Note": table["note"]})


def answers_shown(table: pd.DataFrame) -> pd.DataFrame:
    cell = {name: [difference_interval(*v) for v in table[[f"{name}_mean", f"{name}_low", f"{name}_high"]].to_numpy()]
            for name in ("in", "cross", "less_drop")}
    return pd.DataFrame({
        "Train → test": table["train"] + " → " + table["test"],
        "In-corpus: PDT + SVM − traditional": cell["in"], "Cross-corpus: PDT + SVM − traditional": cell["cross"],
        "Cross − in (> 0: PDT + SVM drops less)": cell["less_drop"],
        "t-test p (cross − in)": table["less_drop_p"].map(lambda v: or_blank(v, ".3g")),
        f"P(worse / within ±{ROPE:g} / better), cross − in": [
            probabilities(*v) for v in table[["less_drop_p_worse", "less_drop_p_rope", "less_drop_p_better"]].to_numpy()],
        "n seeds": table["cross_n"], "Note": table["note"]})


def in_words(answer: pd.DataFrame) -> str:
    """The answer per pair in a sentence each."""
    if answer.empty:
        return "No pair has both PDT + SVM and the traditional row in- and cross-corpus."
    parts = []
    for r in answer.itertuples():
        verdict = ("loses less" if r.less_drop_low > 0 else "loses more" if r.less_drop_high < 0
                   else "is not told apart from the classifier") if r.less_drop_low == r.less_drop_low else \
            "cannot be told (too few seeds)"
        parts.append(f"{r.train} → {r.test}: PDT + SVM − traditional is {r.in_mean:+.1f} in-corpus and "
                     f"{r.cross_mean:+.1f} cross-corpus (UA points, n {r.cross_n} seeds); the PDT's embedding "
                     f"{verdict} when the corpus changes ({r.less_drop_mean:+.1f} "
                     f"[{r.less_drop_low:+.1f}, {r.less_drop_high:+.1f}], P(better by more than {ROPE:g} point) "
                     f"{r.less_drop_p_better:.2f})")
    caution = f" Caution, {FEW_NOTE}." if (answer["note"] != "").any() else ""
    return "; ".join(parts) + "." + caution


def plot_cross_corpus(table: pd.DataFrame, *, title: str = "In-corpus and cross-corpus UA") -> Figure:
    """One panel per pair (train → test): per Table 3 row, the in-corpus mean UA (filled) and the
    cross-corpus mean UA (open), each with its 95% interval, joined by a line labelled with the drop."""
    from matplotlib.figure import Figure

    pairs = list(dict.fromkeys(zip(table["train"], table["test"])))
    rows = table.drop_duplicates("exp").sort_values("exp")
    fig = Figure(figsize=(5.2 * len(pairs), 0.6 * len(rows) + 2.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(pairs), sharey=True, squeeze=False)[0])
    labels = [f"{r.exp}: {r.method}" + (f" {r.duration:g} s" if r.duration == r.duration else "")
              for r in rows.itertuples()]
    position = {exp: i for i, exp in enumerate(rows["exp"])}
    for ax, (train, test) in zip(axes, pairs):
        mine = table[(table["train"] == train) & (table["test"] == test)]
        for r in mine.itertuples():
            y = position[r.exp]
            ax.plot([r.in_mean, r.cross_mean], [y, y], color="0.6", lw=1.5, zorder=1)
            for side, face in (("in", "C0"), ("cross", "white")):
                mean, low, high = getattr(r, f"{side}_mean"), getattr(r, f"{side}_low"), getattr(r, f"{side}_high")
                err = np.nan_to_num([[mean - low], [high - mean]]) if low == low else None
                ax.errorbar(mean, y, xerr=err, fmt="o", mfc=face, mec="C0", color="C0", ms=7, capsize=3,
                            label=({"in": f"in-corpus ({train})", "cross": f"cross-corpus (test {test})"}[side]
                                   if y == 0 else None), zorder=2 if side == "in" else 3)
            ax.annotate(f"−{r.drop_mean:.1f}" if r.drop_mean >= 0 else f"+{-r.drop_mean:.1f}",
                        ((r.in_mean + r.cross_mean) / 2, y - 0.22), ha="center", fontsize=8)
        ax.axvline(25, color="k", ls=":", lw=1)
        ax.set(title=f"train {train} → test {test}", xlabel="UA (%)  (dotted: chance)")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    axes[0].set(yticks=range(len(rows)), yticklabels=labels)
    axes[0].set_ylim(len(rows) - 0.5, -0.8)  # the first row on top, its drop's label inside
    fig.suptitle(f"{title}: the drop per row (points = mean over seeds, bars = 95% interval)")
    return fig


def write_cross_corpus(cells: pd.DataFrame, out: Path, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A cross-corpus study's summary -> <out>/cross_corpus.md/.csv (`drops`), cross_corpus_answer.md/.csv
    (`answers`) and <out>/figures/cross_corpus.png/.svg. Returns (drops, answers)."""
    from ..report.pipeline import write_table  # torch: only once there is a table to write
    from ..report.plots import save_figure  # matplotlib: only once there is a figure to draw

    pairs = paired_cells(cells)
    if pairs.empty:
        raise ValueError(f"study {study}: no cross-corpus cell has its in-corpus partner (same training manifest, "
                         "seed and fold) complete yet")
    table, answer = drops(pairs), answers(pairs)
    method = ("over the training seeds (each cross-corpus cell paired with the in-corpus cell of its training "
              "corpus at the same seed and fold): mean ± sd [95% t-interval], in %; drop = in-corpus − "
              "cross-corpus UA, mean [95% t-interval], one-sample t-test p, n seeds.")
    write_table(out, "cross_corpus", table, f"In-corpus and cross-corpus UA per Table 3 row, study `{study}`",
                (f"UA {method}", "In-corpus: trained, validated and tested on the training corpus; cross-corpus: "
                 "the same training and validation rows, tested on the other corpus (its test split as the cells' "
                 "run.json and Table 3 notes say: every utterance or a class-balanced subset)."),
                drops_shown(table))
    write_table(out, "cross_corpus_answer", answer, f"PDT + SVM minus traditional, in- and cross-corpus, study "
                f"`{study}`", ("UA points, paired over the training seeds: mean [95% t-interval]. The last column is "
                               "the cross-corpus gap minus the in-corpus gap: the traditional row's drop minus PDT + "
                               "SVM's (> 0: the pairwise embedding loses less when the corpus changes).",
                               in_words(answer)), answers_shown(answer) if len(answer) else answer)
    save_figure(plot_cross_corpus(table, title=f"Study {study}"), out / "figures" / "cross_corpus")
    return table, answer
