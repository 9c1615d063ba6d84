"""What every corpus recipe shares: the release it is checked against, a decoded file, the recipe
itself, and the search of a source folder for files of the corpus's naming.

A recipe (one module per corpus in this folder) turns a corpus's own file naming into the rows of
a manifest (corpora.manifest): `decode(path)` reads one file's name (and folder) into a Recording,
a Skip (a file of the corpus that is not used, e.g. RAVDESS's song files) or None (not of the
naming). pdtlib.corpora.prepare runs it: search, decode, drop copies, check counts, make folds, write.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ..table import CorpusError

AUDIO_SUFFIX = ".wav"  # every corpus here is released as wav files
EXAMPLES_SHOWN = 5


class UsageError(CorpusError):
    """A NAME, SOURCE_DIR or --out that cannot be used as given: the command's exit status 2."""


@dataclass(frozen=True)
class Release:
    """What the full public release holds, so that a partial copy is named with what it lacks."""

    files: int  # files of the corpus's naming, every emotion (what the release counts)
    kept: dict  # of those, per class of pdtlib.EMOTIONS
    speakers: tuple  # every speaker id, as decode writes it
    files_per_speaker: int | None = None  # when every speaker recorded the same set


@dataclass(frozen=True)
class Recording:
    """One file of the corpus, decoded from its name."""

    utterance_id: str
    speaker: str
    gender: str  # "F", "M" or "" when unknown
    emotion: str  # the corpus's own name for it ("calm", "boredom", ...)
    label: str = ""  # one of pdtlib.EMOTIONS, "" when the emotion is left out
    session: str = ""


@dataclass(frozen=True)
class Skip:
    """A file of the corpus's naming that is not used, and why (counted in the summary)."""

    reason: str


@dataclass(frozen=True)
class Recipe:
    """How to read one corpus. Either `decode` (one file name at a time) or `scan` (the whole
    folder at once, as IEMOCAP's label files need) is given; `assign` replaces the speaker folds
    (corpora.recipes.assign) where a corpus has its own (IEMOCAP's sessions, TESS's two speakers)."""

    name: str  # the NAME of `pdt corpus NAME`
    title: str  # the corpus's published name
    naming: str  # the file naming, for messages
    where: str  # which folder to pass, for messages
    release: Release
    decode: Callable[[Path], Recording | Skip | None] | None = None
    scan: Callable[[Path], tuple[pd.DataFrame, list[str]]] | None = None
    n_folds: int = 5  # folds of speaker groups when there are more speakers than one fold each allows
    assign: Callable | None = None
    speaker_noun: str = "speaker"


def audio_files(source: Path) -> list[Path]:
    """The .wav files below `source` (any case), hidden entries (`.DS_Store`, macOS `._*` forks)
    left out, linked folders followed once each; sorted by path, the order copies are kept in."""
    found, seen = [], set()
    for folder, subfolders, files in os.walk(source, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back into a folder already searched
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        found += [Path(folder, f) for f in files if not f.startswith(".") and f.lower().endswith(AUDIO_SUFFIX)]
    return sorted(found)


def scan_files(recipe: Recipe, source: Path) -> tuple[pd.DataFrame, list[str]]:
    """Every file of the recipe's naming below `source` -> a table (path, utterance_id, speaker,
    gender, emotion, label, session), sorted by path, and notes on the files left out."""
    rows, skipped, foreign = [], Counter(), []
    files = audio_files(source)
    for path in files:
        decoded = recipe.decode(path)
        if isinstance(decoded, Recording):
            rows.append({"path": str(path), **decoded.__dict__})
        elif isinstance(decoded, Skip):
            skipped[decoded.reason] += 1
        else:
            foreign.append(path)
    if not rows:
        raise UsageError(no_files_message(recipe, source, files))
    notes = [f"left out {n} {reason} files" for reason, n in sorted(skipped.items())]
    if foreign:
        shown = ", ".join(str(p.relative_to(source)) for p in foreign[:EXAMPLES_SHOWN])
        notes.append(f"{len(foreign)} .wav files not named like {recipe.naming} were ignored, e.g. {shown}")
    return pd.DataFrame(rows), notes


def no_files_message(recipe: Recipe, source: Path, files) -> str:
    what = (f"its {len(files)} .wav files are named otherwise, e.g. {files[0].relative_to(source)}" if files
            else "it holds no .wav file")
    return (f"{recipe.title}: no file named like {recipe.naming} under {source} ({what}). "
            f"Pass {recipe.where}.")

