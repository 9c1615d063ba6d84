"""Figures of the report: the paper's Fig. 3 (t-SNE) and Fig. 4 (confusion), Table 3 as bars,
training curves, the duration histogram and example log-spectrograms (§3). A study's figures are
study.figures'.

Every function builds a `matplotlib.figure.Figure` directly, without pyplot: no global
figure state, no backend needed (Agg-safe on headless machines), nothing shown twice in a
notebook, and nothing to close. Each returns the Figure; `save_figure` writes it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .. import EMOTIONS
from ..system.atomic import atomic_path
from ..evaluation.evaluate import compare_with_paper, recall_from_confusion, row_normalize

CROP_DURATIONS = (4.0, 5.0, 6.0, 7.0)  # seconds, the durations of Table 3
# happy, angry, neutral, sad: Okabe-Ito orange, a dark red (apart from the orange by lightness),
# grey, blue; distinct for colour-blind readers, and angry and sad never share a hue.
CLASS_COLORS = ["#E69F00", "#A50F15", "#7F7F7F", "#0072B2"]
SVG_HASH_SALT = "pdt"


def save_figure(fig: Figure, path_without_suffix, dpi: int = 150) -> tuple[Path, Path]:
    """Write `<path>.png` (at `dpi`) and `<path>.svg`, each atomically (a reader never sees
    half a file). A trailing .png or .svg on the path is ignored. Returns (png_path, svg_path)."""
    base = Path(path_without_suffix)
    if base.suffix in (".png", ".svg"):
        base = base.with_suffix("")
    paths = []
    for fmt in ("png", "svg"):
        final = base.with_name(f"{base.name}.{fmt}")
        # Same figure, same bytes: no date in the SVG, and its element ids hashed with a fixed salt
        # (matplotlib draws a random one per process otherwise), so a re-run report changes in git
        # only where its results changed.
        with atomic_path(final) as tmp, matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
        paths.append(final)
    return tuple(paths)


def plot_training_curves(log_df: pd.DataFrame, *, best=None, title: str = "PDT training") -> Figure:
    """Losses, validation pair accuracy and validation UA against the first of pairs_seen / step / epoch.

    Panels and columns that are absent are skipped; NaN entries (e.g. val_* logged only at
    evaluation points) are dropped per curve. `best` is the step of the selected checkpoint
    (marked on every panel); by default the row with the best val_ua (else val_pair_acc, else the
    lowest val_loss); False: no mark.
    """
    xcol = next((c for c in ("pairs_seen", "step", "epoch") if c in log_df), None)
    x = log_df[xcol] if xcol else pd.Series(np.arange(len(log_df)), index=log_df.index)
    panels = [(name, [c for c in cols if c in log_df and log_df[c].notna().any()])
              for name, cols in (("loss", ("train_loss", "val_loss")),
                                 ("pair accuracy", ("train_pair_acc", "val_pair_acc")),
                                 ("validation UA (linear probe)", ("val_ua",)))]
    panels = [(name, cols) for name, cols in panels if cols]
    marked = None
    if best is None:  # the row a selection on validation would pick
        for col, pick in (("val_ua", "idxmax"), ("val_pair_acc", "idxmax"), ("val_loss", "idxmin")):
            if col in log_df and log_df[col].notna().any():
                marked = x[getattr(log_df[col], pick)()]
                break
    elif best is not False and "step" in log_df and (log_df["step"] == best).any():
        marked = x[log_df.index[log_df["step"] == best][0]]
    fig = Figure(figsize=(4.6 * max(1, len(panels)), 3.6), layout="constrained")
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    if not panels:
        axes[0].text(0.5, 0.5, "no loss or accuracy columns in the log", ha="center", va="center")
    for ax, (name, cols) in zip(axes, panels):
        for col in cols:
            ok = log_df[col].notna()
            ax.plot(x[ok], log_df[col][ok], label=col, marker="o" if ok.sum() < 30 else None, ms=3)
        if marked is not None:
            ax.axvline(marked, color="k", ls="--", lw=1, label=f"selected ({xcol} {marked:g})")
        if name.startswith("validation UA"):
            ax.axhline(0.25, color="0.5", ls=":", lw=1, label="chance")
        ax.set(xlabel=xcol or "row", ylabel=name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def plot_selection(logs: dict, *, title: str = "Validation UA per epoch") -> Figure:
    """One validation-UA curve per setting (e.g. per duration: {4.0: log DataFrame, ...}) against
    the epoch, each with its best epoch marked: how the baselines' epoch counts were chosen."""
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.subplots()
    for (name, log), color in zip(logs.items(), sns.color_palette("dark", len(logs))):
        ok = log["val_ua"].notna()
        label = f"{name:g} s" if isinstance(name, float) else str(name)
        ax.plot(log["epoch"][ok], 100 * log["val_ua"][ok], marker="o", ms=3, color=color, label=label)
        top = log.loc[ok, "val_ua"].idxmax()
        ax.plot(log.at[top, "epoch"], 100 * log.at[top, "val_ua"], marker="*", ms=12, color=color)
    ax.axhline(25, color="k", ls=":", lw=1, label="chance (25%)")
    ax.set(xlabel="epoch", ylabel="validation UA (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_tsne(points_2d, labels, *, title: str = "t-SNE of the training vectors") -> Figure:
    """Fig. 3: one colour per class, legend as the paper's ("0 happy", "1 angry", ...)."""
    points_2d, labels = np.asarray(points_2d), np.asarray(labels)
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    for k, name in enumerate(EMOTIONS):  # every class gets its legend entry, even if absent
        sel = labels == k
        ax.scatter(points_2d[sel, 0], points_2d[sel, 1], s=6, alpha=0.7, color=CLASS_COLORS[k],
                   label=f"{k} {name}", linewidths=0)
    ax.legend(markerscale=2.5, frameon=True)
    ax.set(xticks=[], yticks=[], title=title)
    return fig


def plot_confusion(confusion_counts, *, title: str = "Confusion matrix, Session 5") -> Figure:
    """Fig. 4: row-normalised heatmap (rows true, columns predicted, EMOTIONS order), each
    cell "percent of the row\\n(count)"; the title carries UA (mean of the diagonal)."""
    counts = np.asarray(confusion_counts)
    share = row_normalize(counts)
    ua = np.nanmean(recall_from_confusion(counts))
    annot = np.array([[f"{100 * p:.1f}%\n({int(c)})" for p, c in zip(prow, crow)]
                      for prow, crow in zip(share, counts)])
    fig = Figure(figsize=(5.6, 4.6), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(share, annot=annot, fmt="", cmap="Blues", vmin=0, vmax=1, square=True, ax=ax,
                xticklabels=EMOTIONS, yticklabels=EMOTIONS, cbar_kws={"label": "share of the true class"})
    ax.set(xlabel="predicted", ylabel="true", title=f"{title} (UA {100 * ua:.2f}%)")
    return fig


def plot_duration_histogram(durations_s, *, crops=CROP_DURATIONS, bins: int = 60,
                            title: str = "Utterance durations") -> Figure:
    """Histogram of durations with a line at each crop length, labelled with the share cut."""
    durations = np.asarray(durations_s, dtype=float)
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.hist(durations, bins=bins, color="0.6")
    for crop, color in zip(crops, sns.color_palette("dark", len(crops))):
        ax.axvline(crop, color=color, ls="--", lw=1.2,
                   label=f"{crop:g} s: {100 * np.mean(durations > crop):.0f}% longer (cut)")
    ax.set(xlabel="duration (s)", ylabel="utterances", title=f"{title} (n = {len(durations)})")
    ax.legend(fontsize=8)
    return fig


def plot_spectrograms(specs, titles=None, *, sample_rate: int = 16000, hop_s: float = 0.01,
                      ncols: int = 2) -> Figure:
    """Log-spectrograms (257 x T each, or one (N, 257, T) array): time in s, frequency in Hz."""
    specs = [np.asarray(s) for s in ([specs] if np.ndim(specs) == 2 else specs)]
    titles = list(titles) if titles is not None else [""] * len(specs)
    ncols = min(ncols, len(specs))
    nrows = -(-len(specs) // ncols)
    fig = Figure(figsize=(4.5 * ncols, 3 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, spec, name in zip(axes, specs, titles):
        # Colour limits from the 1st percentile up: zero-padded frames sit at the log floor
        # (-23) and would otherwise flatten the speech into one colour.
        im = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma",
                       vmin=np.percentile(spec, 1), vmax=spec.max(),
                       extent=(0, spec.shape[1] * hop_s, 0, sample_rate / 2))
        ax.set(xlabel="time (s)", ylabel="frequency (Hz)", title=name)
        fig.colorbar(im, ax=ax, label="log power")
    for ax in axes[len(specs):]:
        ax.set_axis_off()
    return fig


def plot_table3(table_df: pd.DataFrame, *, title: str = "Table 3: UA on the test split") -> Figure:
    """This run's UA beside the paper's for the Table 3 rows; `table_df` has columns exp and ua
    (percent), and method and duration for rows beyond the paper's five. Rows not run show only
    the paper's bar; rows the paper lacks only this run's. Chance = 25%."""
    table = compare_with_paper(table_df)
    names = ["\n".join(textwrap.wrap(f"{r.exp}: {r.method}", 16))
             + "\n" + (f"{r.duration:g} s" if r.duration == r.duration else "whole utterance")  # NaN: whole
             for r in table.itertuples()]
    pos, width = np.arange(len(table)), 0.38
    fig = Figure(figsize=(1.6 * len(table) + 1.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for offset, col, label, color in ((-width / 2, "paper_ua", "paper", "0.65"),
                                      (width / 2, "ua", "this run", CLASS_COLORS[0])):
        bars = ax.bar(pos + offset, table[col].fillna(0), width, label=label, color=color)
        ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.1f}" for v in table[col]], fontsize=8)
    ax.axhline(25, color="k", ls=":", lw=1, label="chance (25%)")
    ax.set(xticks=pos, xticklabels=names, ylabel="UA (%)", ylim=(0, 100), title=title)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_pair_counts(counts: pd.DataFrame, *, title: str = "Sampled training pairs by emotion") -> Figure:
    """Heatmap of how often each (first, second) emotion meets in the sampled pairs; the
    diagonal holds the same-emotion pairs (a third of all, paper §3)."""
    fig = Figure(figsize=(4.8, 4.0), layout="constrained")
    ax = fig.add_subplot()
    share = counts / counts.to_numpy().sum()
    sns.heatmap(share, annot=counts.to_numpy(), fmt=",d", cmap="Blues", cbar_kws={"label": "share of pairs"}, ax=ax)
    ax.set(xlabel="second utterance", ylabel="first utterance", title=title)
    return fig
