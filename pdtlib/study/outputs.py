"""What a study writes from its cells (`pdtlib.study`): its cells and Table 3 over them (`write_cells`,
`write_study`: notebook 09), studies side by side (`compare`) and Table 2 (`write_table2`, `table2`),
the last two from the cells.csv a study folder holds (notebooks 09 and 10 write it; the cells' run
folders are not needed, so committed results suffice).

    cells     <folder>/cells.md/.csv: every cell's rows
    study     <folder>/table3_study.md/.csv, paired.md/.csv, figures/study.*   (stats.summarise, stats.paired)
    summarise <folder>/table3_study.*, paired.* (or Table 2's files) again from its cells.csv
    compare   <out>/compare.md/.csv, answer.csv, power.csv, <out>/figures/compare.*   (stats.compare_table,
              pooled.answer_table and power_table: the answer per corpus and pooled)
    between   <out>/between.md/.csv: two runs of one study cell by cell   (stats.between)
    table2    <folder>/table2.md/.csv, table2_paired.csv, figures/table2.*   (study.table2)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..report import artefacts
from ..system import paths
from . import table2 as study_table2
from ..system.atomic import atomic_path, write_text
from .fold_stats import holdout_ratio
from .format import or_blank
from .pooled import POWER_CAPTION, answer_caption, answer_shown, answer_table, power_shown, power_table
from .stats import (ANSWER, DIFFERENCES_CAPTION, FEW_NOTE, PAPER_CLAIM, between, compare_shown, compare_table,
                    differences_shown, paired, paired_caption, summarise, summary_table)
from .verdict import ROPE

ROWS_CAPTION = ("Each metric: mean over the folds (each fold the mean over its seeds) ± standard deviation between "
                "the folds [95% t-interval over the folds, clipped to 0-100], in %, on each cell's test split; folds "
                "and cells counted.")


# ---------------------------------------------------------------- one study

def write_cells(cells: pd.DataFrame, out: Path, study) -> Path:
    """<out>/cells.csv and cells.md: every cell's rows (`cells.collect`) of `study` (a Study), captioned
    for Table 3 over the cells, or for Table 2 when the study has a grid or points."""
    from ..report.pipeline import write_table  # torch: only once there is a table to write

    if study.has_points():
        return write_table(out, "cells", cells, f"Every cell's rows, study `{study.name}`",
                           ("UA, WA and macro-F1 in % on each cell's test split; val_ua and probe_val_ua: row 5's "
                            "validation UA of the SVM and of the linear probe at the PDT checkpoint chosen; a row the "
                            "cell's notebooks do not make is left out.",))
    return write_table(out, "cells", cells, f"Every cell's Table 3, study `{study.name}`",
                       ("UA, WA and macro-F1 in % on each cell's test split; the rows a study leaves out are empty.",))


def write_study(cells: pd.DataFrame, out: Path, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3 over a study's cells -> <out>/table3_study.md/.csv (`summarise`), paired.md/.csv (PDT + SVM
    minus each row, `paired`) and the figure <out>/figures/study.png and .svg. Returns (summary, comparisons)."""
    from ..report.pipeline import write_table  # torch: only once there is a table to write
    from ..report.plots import save_figure  # matplotlib: only once there is a figure to draw
    from .figures import plot_study

    summary = summarise(cells)
    write_table(out, "table3_study", summary, f"Table 3 over {cells['cell'].nunique()} cells, study `{study}`",
                (ROWS_CAPTION,), summary_table(summary))
    comparisons = paired(cells)
    shown = pd.concat([comparisons[["exp", "method"]].rename(columns={"exp": "Exp", "method": "Method"}),
                       differences_shown(comparisons, "PDT + SVM − row")], axis=1)
    write_table(out, "paired", comparisons, f"PDT + SVM minus each row, UA points, study `{study}`",
                (paired_caption(holdout_ratio(cells["fold"])),), shown)
    save_figure(plot_study(cells, summary, title=f"Study {study}"), out / "figures" / "study")
    return summary, comparisons


def summarise_folder(folder) -> str:
    """A study's tables again from its committed cells.csv, with this code's statistics: Table 2's
    files for a grid study's cells (`point` column), else table3_study and paired (`write_study`).
    Returns the main file written."""
    found = find_study_folder(folder)
    cells, name = read_cells(found), found.resolve().name
    if "point" in cells:
        write_table2(cells, found, name)
        return str(found / "table2.md")
    write_study(cells, found, name)
    return str(found / "table3_study.md")


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
    """Studies side by side (`stats.compare_table`) and the answer per study and pooled
    (`pooled.answer_table`, `power_table`), each study named by its folder -> <out>/compare.md,
    compare.csv, answer.csv, power.csv and the forest plot <out>/figures/compare.png and .svg; out
    defaults to reports/compare. Returns compare_table's table."""
    from ..report.plots import save_figure  # matplotlib: only once there is a figure to draw
    from .figures import plot_compare

    found = [find_study_folder(f) for f in folders]
    names = [f.resolve().name for f in found]
    if len(set(names)) < len(names):
        raise ValueError(f"two study folders share a name ({', '.join(names)}): the table tells studies by name")
    studies = {name: read_cells(f) for name, f in zip(names, found)}
    table, answers, power = compare_table(studies, seed=seed), answer_table(studies, seed=seed), power_table(studies)
    out = Path(out) if out is not None else paths.reports_dir() / "compare"
    write_compare(table, out, answers, power)
    if len(answers):
        save_figure(plot_compare(answers, paper=PAPER_CLAIM), out / "figures" / "compare")
    return table


def write_compare(table: pd.DataFrame, out: Path, answers: pd.DataFrame | None = None,
                  power: pd.DataFrame | None = None) -> Path:
    """<out>/compare.csv, answer.csv and power.csv (every column) and compare.md: the answer per study
    and pooled, what more folds or seeds would buy, then every row side by side, with what they mean."""
    for name, frame in (("compare", table), ("answer", answers), ("power", power)):
        if frame is not None and len(frame):
            with atomic_path(out / f"{name}.csv") as tmp:
                frame.to_csv(tmp, index=False)
    few = [f"Note: {FEW_NOTE}."] if (table["note"] != "").any() else []
    answer = [] if answers is None or answers.empty else [
        "## The answer: PDT + SVM minus traditional, per corpus and pooled", answer_shown(answers).to_markdown(index=False),
        answer_caption(answers), "![forest plot](figures/compare.png)"]
    sizing = [] if power is None or power.empty else [
        "## Folds for 80% power, by seeds per fold", power_shown(power).to_markdown(index=False), POWER_CAPTION]
    return write_text(out / "compare.md", "\n\n".join([
        f"# Studies side by side: {', '.join(table['study'].unique())}", *answer, *sizing,
        "## Every row", compare_shown(table).to_markdown(index=False),
        "UA: mean over a study's folds (each the mean over its seeds) ± standard deviation between the folds [95% "
        "t-interval over the folds, clipped to 0-100], in %; folds and cells counted. PDT + SVM − row: PDT + SVM's UA "
        "minus the row's, paired over the cells both have (same seed and fold), the mean of the folds' differences "
        f"[95% t-interval over folds], the corrected resampled t over the cells, and baycomp's P(better / within ±{ROPE:g} "
        "/ worse); on the traditional row (exp 1, 4 s) and eGeMAPS + SVM (exp 7).",
        f"The paper (Table 3, one run): PDT + SVM minus traditional 4 s = {PAPER_CLAIM:+.2f} UA points.",
        *few]) + "\n")


def compare_between(first, second, out=None, seed: int = 0) -> pd.DataFrame:
    """Two runs of one study cell by cell (`stats.between`; e.g. fp32 then bf16) -> <out>/between.md
    and .csv; out defaults to reports/compare."""
    found = [find_study_folder(f) for f in (first, second)]
    names = [f.resolve().name for f in found]
    table = between(*(read_cells(f) for f in found), seed=seed)
    if not (table["n"] > 0).any():
        raise ValueError(f"{names[0]} and {names[1]} have no cell in common (cells pair by name, e.g. loso5-seed0)")
    out = Path(out) if out is not None else paths.reports_dir() / "compare"
    with atomic_path(out / "between.csv") as tmp:
        table.to_csv(tmp, index=False)
    shown = pd.concat([pd.DataFrame({"Exp": table["exp"].map(lambda v: or_blank(v, ".0f")), "Method": table["method"]}),
                       differences_shown(table, f"{names[1]} − {names[0]}")], axis=1)
    shown.insert(len(shown.columns) - 1, "largest difference (abs.)", table["max_abs"].map(lambda v: f"{v:.2f}"))
    write_text(out / "between.md", "\n\n".join([
        f"# {names[1]} against {names[0]}, cell by cell", shown.to_markdown(index=False),
        f"UA points, {names[1]} minus {names[0]}, paired over the cells both ran (same seed and fold). "
        + DIFFERENCES_CAPTION.format(rope=ROPE) + " Largest difference: of one cell. The row "
        f"'{ANSWER}' pairs the study's answer, PDT + SVM's UA minus the traditional row's, cell by cell: an interval "
        "around 0 there means the second run does not change the answer."]) + "\n")
    return table


# ---------------------------------------------------------------- Table 2

def write_table2(cells: pd.DataFrame, out: Path, study: str, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 2 of a grid study's cells (study.table2) -> <out>/table2.csv (one row per point, every
    column), table2_paired.csv (the paired comparisons), table2.md (both as read, what they mean,
    the setting chosen beside the paper's best) and the heatmap <out>/figures/table2.png and .svg.
    Returns (settings, comparisons)."""
    from ..report.plots import save_figure  # matplotlib: only once there is a figure to draw
    from .figures import plot_table2

    out = Path(out)
    table = study_table2.settings(cells)
    diffs = study_table2.comparisons(cells, table, seed=seed)
    for name, frame in (("table2", table), ("table2_paired", diffs)):
        with atomic_path(out / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    few = [f"Note: {FEW_NOTE}."] if (table["note"] != "").any() or (diffs["note"] != "").any() else []
    write_text(out / "table2.md", "\n\n".join([
        f"# Table 2: the PDT's m and λ, study `{study}`", study_table2.settings_shown(table).to_markdown(index=False),
        "PDT + SVM (Table 3 row 5) per point, over its cells (seeds x folds), the fold the unit: mean over the "
        "folds (each the mean over its seeds) ± standard deviation between the folds [95% t-interval over the "
        "folds, clipped to 0-100], in %; folds and cells counted. Val UA, SVM: the SVM's UA on the validation "
        "split, which chooses the setting; Val UA, probe: the linear probe's at the PDT checkpoint chosen; Test UA: "
        "the test split, never used to choose. Caps: the training cap in encoder passes (max_passes, the same "
        "for both pairing schemes: about the same wall clock) and the pairs it allows (sampled: 1 per 2 passes; "
        "in-batch: B(B-1)/2 per B). A variant differs from Table 2's settings in more than m and λ." + (
            " Untrained kept: cells whose PDT checkpoint chosen on validation is the untrained encoder (step 0), "
            "so that their row 5 is an SVM on the vectors of random weights." if "untrained" in table else ""),
        study_table2.in_words(table),
        "## Paired comparisons", study_table2.comparisons_shown(diffs).to_markdown(index=False),
        "Test UA of the first point minus the second's, paired over the (seed, fold) cells both have. "
        + DIFFERENCES_CAPTION.format(rope=ROPE), *few]) + "\n")
    if table["table2"].any():
        fig = plot_table2(table, title=f"Table 2: PDT + SVM over m and λ, {study}")
        save_figure(fig, out / "figures" / "table2")
    return table, diffs


def table2(folder, out=None, seed: int = 0) -> pd.DataFrame:
    """Table 2 again from a grid study folder's cells.csv (`write_table2`); out defaults to the folder."""
    found = find_study_folder(folder)
    table, _ = write_table2(read_cells(found), Path(out) if out is not None else found, found.resolve().name, seed)
    return table
