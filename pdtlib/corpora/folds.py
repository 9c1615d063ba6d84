"""Folds of a manifest corpus: `split: fold:K/N` turns one labelled corpus into N speaker-independent
(train, val, test) splits, each utterance tested in exactly one of them.

A manifest with a `fold` column (integers 1..N) keeps its own folds; without one, speakers are
grouped into N folds by scikit-learn's StratifiedGroupKFold (shuffled with a fixed seed, so the
same manifest always gives the same folds; classes as balanced across folds as speakers allow).
Fold K is the test split, fold K+1 (cyclically) the validation split, taken from the speakers
that are not tested, and the rest is the training split: the manifest's own counterpart of
IEMOCAP's leave-one-session-out (`loso:K`, validation = the session before K).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from .table import CorpusError

FOLD = re.compile(r"fold:(\d+)/(\d+)")
FOLD_SEED = 0  # the speakers' shuffle: fixed, so a study's folds never move between runs


def parse_fold(split: str) -> tuple[int, int] | None:
    """'fold:K/N' -> (K, N); any other split name -> None. K must be in 1..N, N at least 3."""
    match = FOLD.fullmatch(str(split).strip())
    if match is None:
        return None
    k, n = int(match.group(1)), int(match.group(2))
    if not (n >= 3 and 1 <= k <= n):
        raise ValueError(f"split {split!r}: fold K of N needs N >= 3 (train, val and test) and 1 <= K <= N")
    return k, n


def speaker_folds(table: pd.DataFrame, n_folds: int, name: str = "manifest") -> pd.Series:
    """Each row's fold, 1..n_folds: the table's `fold` column if it has one, else speakers grouped
    by StratifiedGroupKFold on the labels. No speaker is in two folds."""
    if "fold" in table.columns and table["fold"].astype(str).str.strip().ne("").all():
        folds = pd.to_numeric(table["fold"], errors="coerce")
        bad = folds.isna() | ~folds.isin(range(1, n_folds + 1))
        if bad.any():
            raise CorpusError(f"{name}: {int(bad.sum())} rows have a fold outside 1..{n_folds}, e.g. "
                              f"{table.loc[bad, 'fold'].head(3).tolist()}: fix the fold column or the N of fold:K/N")
        folds = folds.astype(int)
    else:
        speakers = table["speaker"].astype(str).to_numpy()
        if len(np.unique(speakers)) < n_folds:
            raise CorpusError(f"{name}: {len(np.unique(speakers))} speakers cannot make {n_folds} speaker-disjoint "
                              "folds: use fewer folds or add a fold column")
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=FOLD_SEED)
        folds = pd.Series(0, index=table.index)
        for fold, (_, test) in enumerate(splitter.split(np.zeros(len(table)), table["label"], speakers), start=1):
            folds.iloc[test] = fold
    shared = folds.groupby(table["speaker"].astype(str)).nunique()
    if (shared > 1).any():
        raise CorpusError(f"{name}: speakers in more than one fold: {sorted(shared[shared > 1].index)[:5]}")
    return folds


def fold_splits(folds: pd.Series, k: int, n: int) -> pd.Series:
    """Fold k -> "test", fold k % n + 1 -> "val", every other fold -> "train"."""
    val = k % n + 1
    return folds.map(lambda f: "test" if f == k else "val" if f == val else "train")
