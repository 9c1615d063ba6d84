"""Corpora: every loader returns the utterance table of `table.py`."""

from .table import COLUMNS, SPLITS, CorpusError, counts, label_index, validate_table

__all__ = ["COLUMNS", "SPLITS", "CorpusError", "counts", "label_index", "validate_table"]
