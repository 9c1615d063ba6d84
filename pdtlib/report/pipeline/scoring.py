"""Scores on the test split, read once per Table 3 row: a classifier's predictions (rows 1-4) or
vectors through the SVM chosen on validation (rows 5-7), written to metrics/<row>.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import artefacts
from ... import label_index
from ...evaluation.evaluate import evaluate_predictions, fit_svm, quality_notes
from ..summaries import protocol, svm_text
from .configs import svm_config


def score_test(run: Path, name: str, table: pd.DataFrame, y_true, y_pred, training_notes=(), **extra) -> dict:
    """UA, WA, macro-F1, recalls, classes predicted, confusion and notes (the training's, from
    selection.training_notes, then the scores' own) of test predictions, written to
    metrics/<name>.json. `extra["training"]` ({"steps", "passes", ...}) goes to Table 3."""
    m = evaluate_predictions(y_true, y_pred)
    metrics = {"ua": m["ua"], "wa": m["wa"], "f1": m["f1"], "n": int(m["n"]),
               "classes_predicted": m["classes_predicted"], "recall": m["recall"],
               "confusion": np.asarray(m["confusion"]).tolist(), **extra,
               "protocol": protocol(table, **({"svm refit on": extra["refit_on"]} if "refit_on" in extra else {}))}
    metrics["notes"] = [*training_notes, *quality_notes(metrics)]
    artefacts.write(run, name, metrics)
    return metrics


def svm_row(run: Path, name: str, table: pd.DataFrame, vectors: np.ndarray, p, chosen: str = "", training_notes=(),
            **extra):
    """Table 3 rows 5-7: `vectors` (N, d) of every utterance of `table` -> the SVM chosen on the
    val split by UA (evaluate.fit_svm, refit on `svm_refit_on`) -> scored once on the test split,
    into metrics/<name>.json. `chosen` says what was chosen on validation before the SVM.
    Returns (metrics, the SVMResult)."""
    labels, splits = label_index(table["label"]).to_numpy(), table["split"].to_numpy()
    svm = fit_svm(vectors, labels, splits, refit_on=svm_config(p).splits, seed=p.seed)
    test = np.flatnonzero(splits == "test")
    selection = "; ".join(filter(None, [chosen, svm_text(svm)]))
    metrics = score_test(run, name, table, labels[test], svm.pipeline.predict(vectors[test]), training_notes,
                         best_params=svm.best_params, val_ua=svm.val_ua, refit_on="+".join(svm.refit_on),
                         selection=selection, **extra)
    return metrics, svm
