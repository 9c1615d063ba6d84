"""IEMOCAP (Busso et al., Language Resources and Evaluation 2008; sail.usc.edu/iemocap), read by
the project's own loader (pdtlib.corpora.iemocap, docs/protocol.md section 3) and written as a
manifest, so that every corpus can take the same road.

Naming: `SessionN/dialog/EmoEvaluation/<dialog>.txt` label lines and
`SessionN/sentences/wav/<dialog>/<utterance id>.wav`; neu, hap + exc (into happy), sad and ang are
kept: 5531 utterances on the full release, 10 speakers (Ses01F ... Ses05M). Folds: the 5 sessions
(2 speakers each); the split column is the paper's (sessions 1-3 train, 4 val, 5 test).
Utterances whose wav file is absent are left out with a note (load_iemocap's missing="drop").
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from ..iemocap import EXPECTED_COUNTS, SESSIONS, check_root, load_iemocap
from ..table import CorpusError
from .assign import Assignment
from .common import Recipe, Release, UsageError

SPEAKERS = tuple(f"Ses{s:02d}{g}" for s in SESSIONS for g in "FM")


def scan(source: Path) -> tuple[pd.DataFrame, list[str]]:
    """load_iemocap's table (paper split) with the columns of a decoded corpus; its warnings (wav
    files absent, counts per session off the release's) become notes."""
    try:
        check_root(source)
    except CorpusError as exc:
        raise UsageError(str(exc)) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # check_counts=None: the per-session comparison only for a copy of about the full size;
        # a smaller one is told by the release check, without a table of differences per session.
        table = load_iemocap(source, split="paper", missing="drop")
    notes = [str(w.message) for w in caught]
    table = table.assign(emotion=table["label"], session=table["session"].astype(str), paper_split=table["split"])
    return table.drop(columns=["split", "duration_s"]), notes


def assign(table: pd.DataFrame, recipe: Recipe) -> Assignment:
    """Folds are the sessions; the split is the paper's, as load_iemocap gave it."""
    folds = table["session"].astype(int)
    split = table["paper_split"]
    lines = [f"{len(SESSIONS)} folds, the sessions (2 speakers each); the split column is the paper's "
             "(sessions 1-3 train, 4 val, 5 test). fold:K/5 validates on session K+1, where the IEMOCAP "
             "loader's loso:K validates on session K-1"]
    return Assignment(split, folds, lines)


RECIPE = Recipe(
    name="iemocap", title="IEMOCAP",
    naming="SessionN/sentences/wav/<dialog>/<utterance id>.wav with SessionN/dialog/EmoEvaluation/<dialog>.txt",
    where="the IEMOCAP_full_release folder (holding Session1 ... Session5)",
    release=Release(files=sum(sum(c.values()) for c in EXPECTED_COUNTS.values()),
                    kept={e: sum(c[e] for c in EXPECTED_COUNTS.values()) for e in EXPECTED_COUNTS[1]},
                    speakers=SPEAKERS),
    scan=scan, assign=assign)
