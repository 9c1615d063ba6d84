"""What a study writes from its cells (`pdtlib.study`): studies side by side (`compare`) and Table 2
(`write_table2`, `table2`), each from the cells.csv a study folder holds (notebooks 09 and 10 write
it; the cells' run folders are not needed, so committed results suffice).

    compare   <out>/compare.md/.csv, <out>/figures/compare.*   (study_stats.compare_table)
    between   <out>/between.md/.csv: two runs of one study cell by cell   (study_stats.between)
    table2    <folder>/table2.md/.csv, table2_paired.csv, figures/table2.*   (study_table2)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from . import artefacts, paths, study_table2
from .atomic import atomic_path, write_text
from .study_stats import (ANSWER, FEW_NOTE, PAPER_CLAIM, _difference_interval, _or_blank, between,
                          compare_differences, compare_shown, compare_table)


# ---------------------------------------------------------------- studies side by side

def find_study_folder(where) -> Path:
    """A study folder as typed (from here, or from the project root), or a study name under reports/."""
    for candidate in (Path(where), paths.PROJ_ROOT / where, paths.reports_dir() / where):
        if (candidate / "cells.csv").exists():
            return candidate
    raise ValueError(f"{where}: no cells.csv there, nor under {paths.shown(paths.reports_dir())}; a study folder "
                     f"gets it from notebook {artefacts.STUDY} or {artefacts.TABLE2} (python -m pdtlib.study "
                     "STUDY_FILE)")


def read_cells(folder) -> pd.DataFrame:
    """The cells of a study from its committed cells.csv, the rows it ran (with a UA)."""
    path = Path(folder) / "cells.csv"
    cells = pd.read_csv(path)
    missing = sorted({"cell", "exp", "method", "duration", "paper_ua", "ua"} - set(cells.columns))
    if missing:
        raise ValueError(f"{paths.shown(path)}: columns {missing} missing; is it a study's cells.csv?")
    return cells.dropna(subset=["ua"])


def compare(folders, out=None, seed: int = 0) -> pd.DataFrame:
    """Studies side by side (`study_stats.compare_table`), each named by its folder -> <out>/compare.md
    and .csv, and the forest plot <out>/figures/compare.png and .svg; out defaults to reports/compare."""
    from . import plots  # matplotlib: only once there is a figure to draw

    found = [find_study_folder(f) for f in folders]
    names = [f.resolve().name for f in found]
    if len(set(names)) < len(names):
        raise ValueError(f"two study folders share a name ({', '.join(names)}): the table tells studies by name")
    table = compare_table({name: read_cells(f) for name, f in zip(names, found)}, seed=seed)
    out = Path(out) if out is not None else paths.reports_dir() / "compare"
    write_compare(table, out)
    fig = plots.plot_compare(compare_differences(table), paper=PAPER_CLAIM)
    plots.save_figure(fig, out / "figures" / "compare")
    return table


def write_compare(table: pd.DataFrame, out: Path) -> Path:
    """<out>/compare.csv (every column) and compare.md (the table as read, what it means, the paper's claim)."""
    with atomic_path(out / "compare.csv") as tmp:
        table.to_csv(tmp, index=False)
    few = [f"Note: {FEW_NOTE}."] if (table["note"] != "").any() else []
    return write_text(out / "compare.md", "\n\n".join([
        f"# Studies side by side: {', '.join(table['study'].unique())}", compare_shown(table).to_markdown(index=False),
        "UA: mean ± standard deviation over a study's cells [95% t-interval of the mean, clipped to 0-100], in %; "
        "n = cells. PDT + SVM − row: PDT + SVM's UA minus the row's, paired over the cells both have (same seed "
        "and fold), mean [95% bootstrap interval, percentile, 9999 resamples], with the Wilcoxon signed-rank p "
        "and n pairs; on the traditional row (exp 1, 4 s) and eGeMAPS + SVM (exp 7).",
        f"The paper (Table 3, one run): PDT + SVM minus traditional 4 s = {PAPER_CLAIM:+.2f} UA points.",
        *few]) + "\n")


def compare_between(first, second, out=None, seed: int = 0) -> pd.DataFrame:
    """Two runs of one study cell by cell (`study_stats.between`; e.g. fp32 then bf16) -> <out>/between.md
    and .csv; out defaults to reports/compare."""
    found = [find_study_folder(f) for f in (first, second)]
    names = [f.resolve().name for f in found]
    table = between(*(read_cells(f) for f in found), seed=seed)
    if not (table["n"] > 0).any():
        raise ValueError(f"{names[0]} and {names[1]} have no cell in common (cells pair by name, e.g. loso5-seed0)")
    out = Path(out) if out is not None else paths.reports_dir() / "compare"
    with atomic_path(out / "between.csv") as tmp:
        table.to_csv(tmp, index=False)
    shown = pd.DataFrame({
        "Exp": table["exp"].map(lambda v: _or_blank(v, ".0f")), "Method": table["method"],
        "n cells": table["n"],
        f"{names[1]} − {names[0]}": [_difference_interval(*v) for v in table[["mean_diff", "low", "high"]].to_numpy()],
        "Wilcoxon p": table["wilcoxon_p"].map(lambda v: _or_blank(v, ".3g")),
        "largest difference (abs.)": table["max_abs"].map(lambda v: f"{v:.2f}"), "Note": table["note"]})
    write_text(out / "between.md", "\n\n".join([
        f"# {names[1]} against {names[0]}, cell by cell", shown.to_markdown(index=False),
        f"UA points, {names[1]} minus {names[0]}, paired over the cells both ran (same seed and fold): mean [95% "
        "bootstrap interval, percentile, 9999 resamples], Wilcoxon signed-rank p, and the largest difference of "
        f"one cell. The row '{ANSWER}' pairs the study's answer, PDT + SVM's UA minus the traditional row's, "
        "cell by cell: an interval around 0 there means the second run does not change the answer."]) + "\n")
    return table


def compare_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study compare",
                                     description="Studies side by side (e.g. one per corpus) from their cells.csv; "
                                                 "--between: two runs of one study, cell by cell.")
    parser.add_argument("folders", nargs="+", help="study folders (reports/<study>/, each with cells.csv)")
    parser.add_argument("--out", default=None, help="where compare.md/.csv and figures/compare.* go "
                                                    "(default reports/compare)")
    parser.add_argument("--between", action="store_true",
                        help="two folders of one study run twice (e.g. precision fp32, then bf16): each row's UA, "
                             "second minus first, paired cell by cell -> between.md/.csv")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else paths.reports_dir() / "compare"
    if args.between and len(args.folders) != 2:
        raise SystemExit(f"study compare --between: give two study folders, got {len(args.folders)}")
    try:
        if args.between:
            compare_between(*args.folders, out=out)
            print(f"study compare --between -> {paths.shown(out / 'between.md', Path.cwd())}")
            return 0
        table = compare(args.folders, out)
    except ValueError as exc:
        raise SystemExit(f"study compare: {exc}") from None
    print(f"study compare: {table['study'].nunique()} studies -> {paths.shown(out / 'compare.md', Path.cwd())}")
    return 0


# ---------------------------------------------------------------- Table 2

def write_table2(cells: pd.DataFrame, out: Path, study: str, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 2 of a grid study's cells (study_table2) -> <out>/table2.csv (one row per point, every
    column), table2_paired.csv (the paired comparisons), table2.md (both as read, what they mean,
    the setting chosen beside the paper's best) and the heatmap <out>/figures/table2.png and .svg.
    Returns (settings, comparisons)."""
    from . import plots  # matplotlib: only once there is a figure to draw

    out = Path(out)
    table = study_table2.settings(cells)
    diffs = study_table2.comparisons(cells, table, seed=seed)
    for name, frame in (("table2", table), ("table2_paired", diffs)):
        with atomic_path(out / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    few = [f"Note: {FEW_NOTE}."] if (table["note"] != "").any() or (diffs["note"] != "").any() else []
    write_text(out / "table2.md", "\n\n".join([
        f"# Table 2: the PDT's m and λ, study `{study}`", study_table2.settings_shown(table).to_markdown(index=False),
        "PDT + SVM (Table 3 row 5) per point, over its cells (seeds x folds): mean ± standard deviation [95% "
        "t-interval of the mean, clipped to 0-100], in %; n = cells. Val UA, SVM: the SVM's UA on the validation "
        "split, which chooses the setting; Val UA, probe: the linear probe's at the PDT checkpoint chosen; Test UA: "
        "the test split, never used to choose. Caps: the training cap in encoder passes (max_passes, the same "
        "for both pairing schemes: about the same wall clock) and the pairs it allows (sampled: 1 per 2 passes; "
        "in-batch: B(B-1)/2 per B). A variant differs from Table 2's settings in more than m and λ." + (
            " Untrained kept: cells whose PDT checkpoint chosen on validation is the untrained encoder (step 0), "
            "so that their row 5 is an SVM on the vectors of random weights." if "untrained" in table else ""),
        study_table2.in_words(table),
        "## Paired comparisons", study_table2.comparisons_shown(diffs).to_markdown(index=False),
        "Test UA of the first point minus the second's, paired over the (seed, fold) cells both have: mean [95% "
        "bootstrap interval, percentile, 9999 resamples], Wilcoxon signed-rank p, n pairs.", *few]) + "\n")
    if table["table2"].any():
        fig = plots.plot_table2(table, title=f"Table 2: PDT + SVM over m and λ, {study}")
        plots.save_figure(fig, out / "figures" / "table2")
    return table, diffs


def table2(folder, out=None, seed: int = 0) -> pd.DataFrame:
    """Table 2 again from a grid study folder's cells.csv (`write_table2`); out defaults to the folder."""
    found = find_study_folder(folder)
    table, _ = write_table2(read_cells(found), Path(out) if out is not None else found, found.resolve().name, seed)
    return table


def table2_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study table2",
                                     description="Table 2 (m x λ, pairing) from a grid study's cells.csv.")
    parser.add_argument("folder", help="a grid study's folder (reports/<study>/, with cells.csv)")
    parser.add_argument("--out", default=None, help="where table2.md/.csv and figures/table2.* go (default: folder)")
    args = parser.parse_args(argv)
    try:
        table = table2(args.folder, args.out)
    except ValueError as exc:
        raise SystemExit(f"study table2: {exc}") from None
    out = Path(args.out) if args.out else find_study_folder(args.folder)
    print(f"study table2: {len(table)} points -> {paths.shown(out / 'table2.md', Path.cwd())}")
    return 0
