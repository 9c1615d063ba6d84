"""Notebook 05's rows of the traditional method: rows 1-4 (the classifier at each duration, chosen
on validation, trained on train + validation, scored once on the test split) and row 6 (its encoder's
vectors through row 5's SVM selection)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...training.checkpoints import load_encoder
from ...training.inference import embed, predict
from ..summaries import selection_text
from .scoring import score_test, svm_row
from .selection import run_features, selection_log, train_baseline, training_notes


def traditional_rows(run: Path, p, table: pd.DataFrame) -> tuple[dict, dict, dict]:
    """Rows 1-4: at each of `p.baseline_durations` the classifier chosen on validation (train_baseline:
    continued, or trained again if anything changed) scored once on the test split ->
    metrics/traditional_<d>s.json. Returns {duration: its test metrics}, {duration: the choice made
    on validation}, {duration: the selection run's log}."""
    scores, choices, logs = {}, {}, {}
    for duration in p.baseline_durations:
        fs = run_features(run, duration, table)
        chosen, final = train_baseline(run, p, fs)
        test = fs.indices("test")
        choices[duration], logs[duration] = chosen, selection_log(run, chosen)
        selection = chosen["trained"][f"{chosen['lr']:g}"]  # the selection run: steps, passes, why it stopped
        notes = training_notes(logs[duration], chosen, selection["stopped"], p.max_passes,
                               final=chosen["final"])
        scores[duration] = score_test(run, f"traditional_{duration:g}s", table, fs.labels[test],
                                      predict(final.model, fs, test, precision=p.precision), notes,
                                      chosen=chosen, selection=selection_text(chosen),
                                      training={**selection, "final": chosen["final"]},
                                      train_loss=float(final.log["train_loss"].iloc[-1]))
    return scores, choices, logs


def traditional_encoder_row(run: Path, p, table: pd.DataFrame, chosen: dict) -> dict:
    """Row 6: the 256-D vectors of the traditional encoder `chosen` at `p.duration` (its selection
    run's checkpoint, trained on the training split like the PDT's encoder, run in the precision it
    was trained in) through row 5's SVM selection -> metrics/traditional_encoder_svm.json."""
    encoder, info = load_encoder(run / chosen["checkpoint"])
    vectors = embed(encoder, run_features(run, p.duration, table), precision=info["config"]["precision"])
    selection = {k: v for k, v in chosen.items() if k != "final"}  # its checkpoint, not the final run
    row, _ = svm_row(run, "traditional_encoder_svm", table, vectors, p, chosen=selection_text(selection))
    return row
