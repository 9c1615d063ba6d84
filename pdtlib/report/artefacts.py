"""What each notebook writes into `reports/<run>/` and which notebook writes it: the one place
notebook names are written.

A later notebook reads an earlier one's result through this registry, so a missing or stale
file names the notebook that makes it (runs.require / runs.read_metrics), and a result's schema
lives in one typed writer beside its reader (e.g. `write_pdt_training` / `pdt_choice`).

    01_data        work/corpus.csv, metrics/data.json, metrics/reference.json, table1.*, feature caches
    02_pairing     metrics/pairing.json
    03_train_pdt   checkpoints/pdt/, metrics/pdt_training.json
    04_svm_eval    work/vectors.npz, metrics/pdt_svm.json, model/
    05_traditional checkpoints/traditional_*s/, metrics/traditional_*s.json, traditional_encoder_svm, egemaps_svm
    06_tsne        figures/fig3_tsne.*
    07_confusion   figures/fig4_confusion.*
    08_table3      table3.*, figures/table3.*
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..system.atomic import atomic_path
from ..evaluation.vectors import write_vectors
from ..corpora.table import validate_table
from .params import RESOLVED_ENV
from ..system.runs import (lock_run, read_metrics, reconcile_parameters, require, require_current, run_dir,
                           write_metrics, write_stamp)

DATA, PAIRING, PDT, SVM, BASELINES = "01_data", "02_pairing", "03_train_pdt", "04_svm_eval", "05_traditional_baselines"
TSNE, CONFUSION, TABLE3 = "06_tsne", "07_confusion_matrix", "08_table3"
STUDY = "09_study"  # summarises a study's runs (pdtlib.study), not part of one run
TABLE2 = "10_table2"  # Table 2 from a grid study's runs (pdtlib.study), not part of one run
CROSS = "11_cross_corpus"  # a cross-corpus study's in- and cross-corpus UA (pdtlib.study), not part of one run

# metrics/<name>.json -> the notebook that writes it (a name matching a pattern: traditional_4s ...)
METRICS = {"data": DATA, "reference": DATA, "pairing": PAIRING, "pdt_training": PDT, "pdt_svm": SVM,
           r"traditional_[\d.]+s": BASELINES, "traditional_encoder_svm": BASELINES, "egemaps_svm": BASELINES}
CORPUS_TABLE, VECTORS = "work/corpus.csv", "work/vectors.npz"  # relative to the run folder


def writer_of(metrics_name: str) -> str:
    """The notebook that writes metrics/<metrics_name>.json."""
    for pattern, notebook in METRICS.items():
        if re.fullmatch(pattern, metrics_name):
            return notebook
    raise KeyError(f"no notebook writes metrics '{metrics_name}'; known: {sorted(METRICS)}")


def read(run: Path, name: str) -> dict:
    """metrics/<name>.json of this run's parameters; a missing or stale file names its notebook."""
    return read_metrics(run, name, writer_of(name))


def write(run: Path, name: str, metrics: dict) -> Path:
    """metrics/<name>.json, stamped with the run's parameter hash (a registered name only)."""
    writer_of(name)
    return write_metrics(run, name, metrics)


def folder(p) -> Path:
    """reports/<run>/ of these parameters, which become the run's if a notebook was run with others
    than run.json records (runs.reconcile_parameters). A notebook run by hand (not by the report
    driver, whose kernels it tells so) is refused while a report holds the folder."""
    run = run_dir(p.run)
    if os.environ.get(RESOLVED_ENV) != "1":
        with lock_run(run, "a notebook run outside the report"):
            pass
    reconcile_parameters(run, vars(p))
    return run


# ---------------------------------------------------------------- the utterance table (01)

def save_table(run: Path, table: pd.DataFrame) -> Path:
    with atomic_path(run / CORPUS_TABLE) as tmp:
        table.to_csv(tmp, index=False)
    write_stamp(run, run / CORPUS_TABLE)
    return run / CORPUS_TABLE


def run_table(run: Path) -> pd.DataFrame:
    """The utterance table notebook 01 resolved for this run's parameters, checked again."""
    path = require_current(run, run / CORPUS_TABLE, DATA, "the run's utterance table")
    table = pd.read_csv(path, dtype={"speaker": str, "gender": str, "utterance_id": str})
    return validate_table(table.fillna({"gender": ""}), name=str(path))


# ---------------------------------------------------------------- the PDT's training (03)

def write_pdt_training(run: Path, *, chosen: dict, result, notes: list) -> Path:
    """metrics/pdt_training.json: the checkpoint chosen on validation (pipeline.selection's
    `chosen`, its `checkpoint` relative to the run folder), how far the chosen run trained (a
    train.TrainResult: steps, encoder passes, why it stopped) and the training notes
    (selection.training_notes), which Table 3 shows under row 5."""
    return write(run, "pdt_training", {"chosen": chosen, "best": result.best, "device": result.device,
                                       "training": pdt_training_record(result), "notes": notes})


def pdt_training_record(result) -> dict:
    """How far a PDT run trained: steps, encoder passes, why it stopped, and the discriminator's pair
    accuracy on its training batches at the end (absent when λ = 1 trains no discriminator)."""
    acc = result.log["train_acc"].dropna() if "train_acc" in result.log else []
    return {"steps": result.steps, "passes": result.passes, "stopped": result.stopped,
            **({"train_acc": float(acc.iloc[-1])} if len(acc) else {})}


def run_notes(run: Path) -> dict[str, list[str]]:
    """Every metrics file's notes (training and scores), by name: what run.json records."""
    found = {}
    for path in sorted((run / "metrics").glob("*.json")):
        notes = json.loads(path.read_text()).get("notes") or []
        if notes:
            found[path.stem] = notes
    return found


def pdt_choice(run: Path) -> dict:
    """The PDT checkpoint notebook 03 chose: lr, step, epoch, metric, value, checkpoint (relative path)."""
    return read(run, "pdt_training")["chosen"]


def pdt_checkpoint(run: Path) -> Path:
    """best.pt of the chosen PDT."""
    return require(run / pdt_choice(run)["checkpoint"], PDT, "the trained PDT (best.pt)")


# ---------------------------------------------------------------- the PDT's vectors (04)

def save_vectors(run: Path, table: pd.DataFrame, vectors: np.ndarray) -> Path:
    """work/vectors.npz: the 256-D vectors with utterance ids, labels, splits and speakers (the
    same writer as `pdt embed --out vectors.npz`)."""
    path = write_vectors(run / VECTORS, table[["utterance_id", "label", "split", "speaker"]], vectors)
    write_stamp(run, path)
    return path


def load_vectors(run: Path) -> dict:
    path = require_current(run, run / VECTORS, SVM, "the PDT vectors")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
