"""Any corpus from a CSV manifest -> the utterance table (RAVDESS, CREMA-D, your own recordings).

One row per audio file. Required columns `path,label,speaker,split`; optional
`session,gender,utterance_id,fold` (`fold`: integers 1..N for `split: fold:K/N`, which then needs
no split column; see corpora.folds). For example::

    path,label,speaker,split,gender
    actor01/03-01-05-01-01-01-01.wav,angry,actor01,train,M
    actor01/03-01-03-01-01-01-01.wav,happy,actor01,train,M
    actor02/03-01-01-01-01-01-02.wav,neutral,actor02,val,F
    /data/mine/take7.flac,sad,me,test,

- path: relative paths resolve against the CSV's folder (not the working directory).
  Any format soundfile reads; audio is resampled to 16 kHz mono when features are made.
- label: one of the paper's four classes (case-insensitive), or an alias in LABEL_ALIASES
  (ang/anger -> angry, hap/happiness/exc/excited -> happy, neu -> neutral, sadness -> sad).
  Rows with any other label (fear, disgust, ...) are dropped and counted per label on
  stdout; with strict=True they are an error instead.
- split: train, val or test; also training, validation/dev, eval. Speakers must not
  appear in two splits (a speaker-independent protocol, as the paper's, §3).
- utterance_id: defaults to the file name without extension, which must then be unique.
- gender: F/M (female/male, w/woman, man also read); empty when unknown.

One recording, one row: a row whose file, or whose bytes under another name, repeat an earlier
row's with the same split, speaker and label is dropped with a printed note naming both (a corpus
unpacked twice into one folder); across splits, speakers or labels it stays an error
(table.validate_table). Only files whose sizes collide are hashed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .. import EMOTIONS
from .folds import fold_splits, parse_fold, speaker_folds
from .table import (CorpusError, audio_duration, audio_problems, repeated_recordings, unreadable_message,
                    validate_table)

REQUIRED = ("path", "label", "speaker", "split")
OPTIONAL = ("session", "gender", "utterance_id")
EXAMPLE_HEADER = "path,label,speaker,split[,session,gender,utterance_id]"

LABEL_ALIASES = {
    **{e: e for e in EMOTIONS},
    "ang": "angry", "anger": "angry",
    "hap": "happy", "happiness": "happy", "exc": "happy", "excited": "happy",
    "neu": "neutral",
    "sadness": "sad",
}
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "validation": "val", "dev": "val",
                 "valid": "val", "test": "test", "eval": "test"}
GENDER_ALIASES = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}


def manifest_split(split: str) -> tuple[int, int] | None:
    """Check a manifest's `split` parameter: None for "paper" (or "manifest": the split column),
    (K, N) for "fold:K/N"; ValueError otherwise."""
    fold = parse_fold(split)
    if fold is None and split not in ("paper", "manifest"):
        raise ValueError(f"manifest split {split!r}: use 'paper' (the manifest's split column) or 'fold:K/N'")
    return fold


def load_manifest(csv_path, strict: bool = False, split: str = "paper", test_only: bool = False) -> pd.DataFrame:
    """The utterance table (pdtlib.corpora.table.COLUMNS) of the corpus listed in `csv_path`.

    strict: raise a CorpusError on rows whose label is not one of the four classes (or an
            alias) instead of dropping them with a printed count per label.
    split:  "paper" (or "manifest"): the manifest's split column; "fold:K/N": fold K of N
            speaker-independent folds (corpora.folds; the split column is then not needed).
    test_only: every row is the test split (a cross-corpus run's test corpus, corpora.cross_corpus);
            the split and fold columns are not read, and `split` is ignored.
    Every file's header is read first: CorpusError naming every file that cannot be used.
    See the module docstring for the columns, aliases and an example.
    """
    fold = None if test_only else manifest_split(split)
    csv_path = Path(csv_path).expanduser().resolve()
    if not csv_path.is_file():
        raise CorpusError(f"manifest {csv_path} does not exist; expected a CSV with header {EXAMPLE_HEADER}")
    raw = _read_csv(csv_path)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    absent = [c for c in REQUIRED if c not in raw.columns and not (c == "split" and (fold or test_only))]
    if absent:
        raise CorpusError(f"manifest {csv_path} lacks the columns {absent} (it has {list(raw.columns)}). "
                          f"Example header:\n  {EXAMPLE_HEADER}")
    raw = raw.apply(lambda col: col.str.strip())

    df = _keep_known_labels(raw, csv_path, strict)
    df["path"] = df["path"].map(lambda p: _resolve(p, csv_path.parent))
    problems = audio_problems(df["path"])  # every file's header, so that one message names them all
    if (problems != "").any():
        raise CorpusError(unreadable_message(df["path"], problems, f"manifest {csv_path}"))
    if test_only:
        df["split"] = "test"
        df = _drop_repeated_rows(df, csv_path, within=("speaker", "label"))
    elif fold:  # folds group speakers, so a speaker's copies share a split whichever fold it lands in
        df = _drop_repeated_rows(df, csv_path, within=("speaker", "label"))
        df["split"] = fold_splits(speaker_folds(df, fold[1], f"manifest {csv_path}"), *fold)
    else:
        df["split"] = _normalise_splits(df, csv_path)
        df = _drop_repeated_rows(df, csv_path, within=("split", "speaker", "label"))
    df["utterance_id"] = _utterance_ids(df, csv_path)
    df["gender"] = df.get("gender", pd.Series("", index=df.index)).map(
        lambda g: GENDER_ALIASES.get(g.lower(), g))
    df["session"] = _sessions(df.get("session", pd.Series("", index=df.index)))
    df["duration_s"] = df["path"].map(audio_duration)
    return validate_table(df, name=f"manifest {csv_path}")


def _read_csv(csv_path: Path) -> pd.DataFrame:
    """The CSV as text columns; CorpusError naming the file, the line and the fix when it is not a
    CSV pandas can read: empty, not UTF-8, or a row with more fields than the header."""
    try:
        # Everything as text: speaker "007" stays "007", and "NA" is a name, not a missing value.
        # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name.
        return pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except OSError as exc:
        raise CorpusError(f"manifest {csv_path} cannot be read ({exc.strerror}); check its permissions") from None
    except pd.errors.EmptyDataError:
        raise CorpusError(f"manifest {csv_path} is empty; it needs a header line ({EXAMPLE_HEADER}) and one row "
                          "per audio file") from None
    except UnicodeDecodeError as exc:
        line = csv_path.read_bytes()[:exc.start].count(b"\n") + 1
        raise CorpusError(f"manifest {csv_path}, line {line}: not UTF-8 text (byte {exc.object[exc.start]:#04x}); "
                          "save it as UTF-8 (in a spreadsheet: CSV UTF-8)") from None
    except pd.errors.ParserError as exc:  # "Expected 4 fields in line 3, saw 5"
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        where = (f", line {found[2]}: {found[3]} fields where the header has {found[1]}" if found
                 else f": {str(exc).strip()}")
        raise CorpusError(f"manifest {csv_path}{where}; put a value containing a comma in double quotes, or "
                          "remove the extra fields") from None


def _keep_known_labels(raw: pd.DataFrame, csv_path: Path, strict: bool) -> pd.DataFrame:
    labels = raw["label"].str.lower().map(LABEL_ALIASES)
    unknown = labels.isna()
    if unknown.any():
        per_label = raw.loc[unknown, "label"].replace("", "<empty>").value_counts()
        detail = ", ".join(f"{label}: {n}" for label, n in per_label.items())
        if strict:
            raise CorpusError(f"manifest {csv_path}: {unknown.sum()} rows have labels outside the four classes "
                              f"({detail}); use {sorted(LABEL_ALIASES)} or remove those rows.")
        print(f"manifest {csv_path.name}: dropped {unknown.sum()} of {len(raw)} rows with other labels ({detail})")
    df = raw.loc[~unknown].copy()
    df["label"] = labels[~unknown]
    if df.empty:
        raise CorpusError(f"manifest {csv_path}: no rows left with a label among {EMOTIONS} or their aliases")
    return df.reset_index(drop=True)


def _drop_repeated_rows(df: pd.DataFrame, csv_path: Path, within) -> pd.DataFrame:
    """Rows repeating an earlier row's recording (the same file, or the same bytes under another
    name) within one `within` group are dropped with a printed note naming them: a corpus copied
    twice into one folder is common and harmless once counted once. Across groups they stay, for
    validate_table to refuse (one recording under two labels or in two splits is the user's call)."""
    repeats = repeated_recordings(df, within)
    if len(repeats):
        notes = [f"  {df.at[i, 'path']} (the same recording as {df.at[j, 'path']})" for i, j in repeats.items()]
        more = f"\n  ... and {len(notes) - 10} more" if len(notes) > 10 else ""
        same = " and ".join([", ".join(within[:-1]), within[-1]])
        print(f"manifest {csv_path.name}: dropped {len(notes)} of {len(df)} rows that repeat the recording of an "
              f"earlier row with the same {same} (the first row kept):\n" + "\n".join(notes[:10]) + more)
    return df.drop(index=repeats.index).reset_index(drop=True)


def _normalise_splits(df: pd.DataFrame, csv_path: Path) -> pd.Series:
    splits = df["split"].str.lower().map(SPLIT_ALIASES)
    bad = splits.isna()
    if bad.any():
        values = sorted(df.loc[bad, "split"].unique())
        raise CorpusError(f"manifest {csv_path}: {bad.sum()} rows have an unknown split {values[:5]}; "
                          f"use train, val or test (or {sorted(SPLIT_ALIASES)}). First rows:\n"
                          f"{df.loc[bad, list(REQUIRED)].head(5).to_string(index=False)}")
    return splits


def _resolve(path: str, base: Path) -> str:
    p = Path(path).expanduser()
    return str((p if p.is_absolute() else base / p).resolve())


def _utterance_ids(df: pd.DataFrame, csv_path: Path) -> pd.Series:
    stems = df["path"].map(lambda p: Path(p).stem)
    if "utterance_id" not in df.columns:
        ids = stems
    else:  # empty cells fall back to the file stem
        ids = df["utterance_id"].where(df["utterance_id"] != "", stems)
    dup = ids.duplicated(keep=False)
    if dup.any() and "utterance_id" not in df.columns:
        raise CorpusError(f"manifest {csv_path}: {ids[dup].nunique()} file names are shared by several rows "
                          f"({dup.sum()} rows), so they cannot serve as utterance ids, e.g.\n"
                          f"{df.loc[dup, 'path'].head(5).to_string(index=False)}\n"
                          "Add an utterance_id column with a unique id per row.")
    return ids  # duplicates among given ids are reported by validate_table


def _sessions(column: pd.Series) -> pd.Series:
    # Integer sessions (as IEMOCAP's) stay integers; names stay names.
    if len(column) and column.str.fullmatch(r"\d+").all():
        return column.astype("int64")
    return column
