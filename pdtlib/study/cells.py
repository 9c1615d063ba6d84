"""What a study's cells hold, read back: whether a cell is complete, and its Table 3
rows with the validation UA that Table 2 chooses on.

A cell that ran notebook 08 has its table3.csv; a cell made of fewer notebooks by design (a study's
`notebooks`, e.g. 01-04 for PDT + SVM alone) has only the metrics its notebooks wrote, and its rows
are built from those, as notebook 08 would (pipeline.table3), each file read only when the notebook
that writes it ran under the cell's parameters (a file left by an earlier run is not this cell's).
Row 5 (PDT + SVM) also carries the two validation scores a setting is chosen on, in %:
`val_ua`, the SVM's UA on the validation split (metrics/pdt_svm.json), and `probe_val_ua`, the
linear probe's at the PDT checkpoint chosen (metrics/pdt_training.json, when it selects on val_ua),
and `chosen_passes`, the encoder passes of that checkpoint (0: the untrained encoder was kept).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..report import artefacts
from ..system import paths
from ..system.runs import params_hash, read_record
from .spec import Study
from .stats import REFERENCE_EXP

# a grid study's cells carry their point and these settings (with the grid's own parameters), so that
# Table 2 can tell settings, pairing schemes and budgets apart from cells.csv alone
SETTING_KEYS = ("pdt_margin", "pdt_lam", "pdt_mode", "max_passes", "pdt_batch_size")
ROW_COLUMNS = ["cell", "seed", "fold", "exp", "method", "duration", "paper_ua", "ua", "wa", "f1"]
VALIDATION_COLUMNS = ["val_ua", "probe_val_ua"]
ROW5_COLUMNS = [*VALIDATION_COLUMNS, "chosen_passes"]  # what row 5 carries beyond its scores


def is_complete(values: dict, notebooks: list[str] | None = None) -> bool:
    """Whether the cell's run folder already holds a complete run made with these parameters, of
    (at least) `notebooks` (name prefixes; None: every notebook)."""
    record = read_record(paths.reports_dir() / values["run"])
    if record.get("status") != "complete" or record.get("params_hash") != params_hash(values):
        return False
    scope = record.get("scope")  # present only on a run made of some notebooks (report.execute)
    if scope is None:
        return True
    return notebooks is not None and all(any(stem.startswith(prefix) for stem in scope) for prefix in notebooks)


def notebooks_ran(record: dict) -> set[str]:
    """The notebooks (stems) that succeeded under the parameters run.json records."""
    return {stem for stem, r in record.get("notebooks", {}).items()
            if r.get("status") == "ok" and r.get("params_hash") == record.get("params_hash")}


def current_metrics(run: Path, name: str, ran: set[str]) -> dict:
    """metrics/<name>.json when the notebook writing it ran under the run's parameters, else {}."""
    if artefacts.writer_of(name) not in ran or not (run / "metrics" / f"{name}.json").exists():
        return {}
    return artefacts.read(run, name)


def metrics_rows(run: Path, record: dict, ran: set[str]) -> pd.DataFrame:
    """Table 3's rows of a cell without table3.csv, from its current metrics: exp, method, duration,
    paper_ua, ua, wa, f1 (%), corpus; rows whose notebook did not run are left out."""
    from ..report.pipeline import TABLE3_ROWS  # torch: only for a cell made of some notebooks

    durations = {float(d) for d in record.get("params", {}).get("baseline_durations", [])}
    corpus = current_metrics(run, "data", ran).get("corpus", "")
    rows = []
    for row in TABLE3_ROWS:
        if row["method"] == "traditional" and row["duration"] not in durations:
            continue  # a duration this run left out: as in pipeline.table3
        metrics = current_metrics(run, row["metrics"], ran)
        if metrics:
            rows.append({**{k: v for k, v in row.items() if k != "metrics"},
                         **{k: round(100 * metrics[k], 2) for k in ("ua", "wa", "f1")}, "corpus": corpus})
    return pd.DataFrame(rows, columns=["exp", "method", "duration", "paper_ua", "ua", "wa", "f1", "corpus"])


def validation_ua(run: Path, ran: set[str]) -> dict:
    """Row 5's validation scores in %: the SVM's UA on the validation split (`val_ua`) and the
    linear probe's at the chosen PDT checkpoint (`probe_val_ua`), and that checkpoint's encoder
    passes (`chosen_passes`); NaN where not run."""
    svm = current_metrics(run, "pdt_svm", ran)
    chosen = current_metrics(run, "pdt_training", ran).get("chosen", {})
    return {"val_ua": round(100 * svm["val_ua"], 2) if "val_ua" in svm else np.nan,
            # a checkpoint chosen on the validation pairs says nothing of UA: no value rather than a wrong one
            "probe_val_ua": round(100 * chosen["value"], 2) if chosen.get("metric") == "val_ua" else np.nan,
            # 0: validation kept the untrained encoder, and row 5 is an SVM on random-weight vectors
            "chosen_passes": chosen.get("passes", np.nan)}


def cell_rows(run: Path) -> pd.DataFrame:
    """One complete cell's Table 3 rows (table3.csv when notebook 08 ran, else `metrics_rows`), with
    row 5's `validation_ua` columns (NaN on the other rows)."""
    record = read_record(run)
    ran = notebooks_ran(record)
    table3 = run / "table3.csv"
    rows = pd.read_csv(table3) if artefacts.TABLE3 in ran and table3.exists() else metrics_rows(run, record, ran)
    validation = validation_ua(run, ran)
    for column in ROW5_COLUMNS:
        rows[column] = np.where(rows["exp"] == REFERENCE_EXP, validation[column], np.nan)
    return rows


def _plain(value):
    """A setting as one CSV field: a list (e.g. pdt_lr) as its values joined by '_'."""
    return "_".join(map(str, value)) if isinstance(value, list) else value


def collect(study: Study) -> pd.DataFrame:
    """Every complete cell's Table 3 rows that it ran, long: cell, seed, fold, exp, method, duration,
    paper_ua, ua, wa, f1, corpus (where the cells say), val_ua, probe_val_ua, chosen_passes (row 5); for a study
    with a grid or points also its `point` and settings (SETTING_KEYS, a cross-corpus study's manifest and
    test_manifest, then the grid's parameters)."""
    cells, points = study.cells(), study.points()
    corpora = ("manifest", "test_manifest") if study.is_cross_corpus() else ()  # what pairs its cells (cross_corpus)
    keys = (list(dict.fromkeys([*SETTING_KEYS, *corpora, *(k for p in points.values() for k in p)]))
            if study.has_points() else [])
    frames = []
    for cell, point, fold, seed in study.plan():
        values = cells[cell]
        if is_complete(values, study.notebooks):
            rows = cell_rows(paths.reports_dir() / values["run"]).assign(cell=cell, seed=seed, fold=fold)
            frames.append(rows.assign(point=point, **{k: _plain(values[k]) for k in keys}) if keys else rows)
    if not frames:
        raise ValueError(f"study {study.name}: no complete cell yet (run `python -m pdtlib.study {study.source}`)")
    table = pd.concat(frames, ignore_index=True).dropna(subset=["ua"])  # rows the study leaves out: no UA
    columns = ROW_COLUMNS + (["corpus"] if "corpus" in table else [])  # so cells.csv says which corpus, for `compare`
    columns += ROW5_COLUMNS + (["point", *keys] if keys else [])
    return table[columns].reset_index(drop=True)
