"""The report's steps, as the notebooks call them (one function per step, no logic in notebooks),
by concern:

    configs     parameters -> every config of a run (one naming rule), checked before any work; the corpus
    selection   training with choices made on validation (03, 05) and the run's features
    scoring     test scores of a row: predictions, or vectors through the SVM chosen on validation
    baselines   the traditional method's rows (1-4, 6), notebook 05
    table3      Table 3 from the metrics the notebooks wrote
    ..artefacts what each notebook writes, where, and who reads it (notebook names live there)

    01_data        corpus_table, save_table, run_features      -> work/corpus.csv, table1, caches
    02_pairing     run_table, run_features, pairs.pairing_summary (looks only)
    03_train_pdt   pdt_config, train_pdt_selected              -> checkpoints/pdt/
    04_svm_eval    load_pdt_encoder, svm_row, save_vectors      -> work/vectors.npz, metrics/pdt_svm.json
    05_traditional traditional_rows, traditional_encoder_row, svm_row -> metrics/traditional_*s.json, rows 6-7
    06_tsne        load_vectors                                  -> figures/fig3_tsne.*
    07_confusion   artefacts.read                                -> figures/fig4_confusion.*
    08_table3      table3, write_table3                          -> table3.*, figures/table3.*

Every notebook reads its parameters with report.params.resolve, and `folder` holds them against
run.json's. The report driver calls `check_parameters` before the first notebook.
"""

from ..artefacts import folder, load_vectors, run_table, save_table, save_vectors
from ..summaries import padding_note, protocol, selection_text, svm_text
from .baselines import traditional_encoder_row, traditional_rows
from .configs import (build, check_parameters, classifier_config, corpus_arguments, corpus_table, encoder_config,
                      pdt_config, svm_config, tsne_config)
from .scoring import score_test, svm_row
from .selection import (baseline_dir, feature_config, load_pdt_encoder, pdt_dir, run_features, selection_log,
                        train_baseline, train_pdt_selected, training_notes)
from .table3 import TABLE3_ROWS, table3, write_table, write_table3

__all__ = ["TABLE3_ROWS", "baseline_dir", "build", "check_parameters", "classifier_config", "corpus_arguments",
           "corpus_table", "encoder_config", "feature_config", "folder", "load_pdt_encoder", "load_vectors",
           "padding_note", "pdt_config", "pdt_dir", "protocol", "run_features", "run_table", "save_table",
           "save_vectors", "score_test", "selection_log", "selection_text", "svm_config", "svm_row", "svm_text",
           "table3", "traditional_encoder_row", "traditional_rows", "train_baseline", "train_pdt_selected",
           "training_notes", "tsne_config", "write_table", "write_table3"]
