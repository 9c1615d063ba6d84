"""Corpora: every loader returns the utterance table of `table.py`.

`load_corpus(kind, **kwargs)` picks a loader by name, so a notebook parameter can name
the corpus: "synthetic" (load_synthetic(config, split=...): the generated corpus, read by
load_iemocap), "iemocap" (load_iemocap(root, split=...)) or "manifest" (load_manifest(csv_path)).
"""

from __future__ import annotations

from .iemocap import load_iemocap
from .manifest import load_manifest
from .synthetic import SyntheticConfig, load_synthetic
from .table import COLUMNS, SPLITS, CorpusError, counts, validate_table

# A new corpus kind is one more entry here: a function returning a table checked by validate_table.
LOADERS = {
    "synthetic": load_synthetic,
    "iemocap": load_iemocap,
    "manifest": load_manifest,
}


def load_corpus(kind: str, **kwargs):
    """The utterance table of corpus `kind` (a key of LOADERS); `kwargs` go to its loader."""
    try:
        loader = LOADERS[kind]
    except KeyError:
        raise ValueError(f"unknown corpus kind {kind!r}; choose one of {sorted(LOADERS)}") from None
    return loader(**kwargs)


__all__ = ["COLUMNS", "SPLITS", "CorpusError", "LOADERS", "counts", "load_corpus",
           "load_iemocap", "load_manifest", "load_synthetic", "SyntheticConfig", "validate_table"]
