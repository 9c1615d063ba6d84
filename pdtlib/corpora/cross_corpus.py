"""Cross-corpus runs: train and validate on one corpus, test on another's manifest (`test_manifest`).

The run's utterance table is the training corpus's train and val rows (its own test split left out,
so the model and the SVMs are those of the in-corpus run with the same seed and split) and the test
corpus's rows as the test split: every utterance (`test_balance: all`) or a class-balanced subset
(`balanced`: per class as many as the test corpus's rarest class has, drawn once with BALANCE_SEED,
so every training seed meets the same test utterances; EmoBox's cross-corpus track tests so). UA is
class-balanced either way; WA differs.

A test corpus that shares a recording with the training corpus's train or val rows is refused as a
leak, naming the files: the same file (links and `..` resolved), the same bytes under another name,
or the same decoded audio in another container or header (compared only where two files agree on
frames, sample rate and channels, read from their headers). The test corpus's speaker and utterance
ids are its own: where one equals a training id it gets the prefix TEST_PREFIX (a speaker in two
splits would otherwise be refused; ids are corpus-local, so a shared name is no shared speaker).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .. import EMOTIONS
from .manifest import load_manifest
from .table import CorpusError, recording_keys, validate_table

TEST_BALANCES = ("all", "balanced")
BALANCE_SEED = 0  # the balanced subset's draw: fixed, whatever the training seed
TEST_PREFIX = "test:"
LEAKS_SHOWN = 20


def check_balance(balance: str) -> str:
    if balance not in TEST_BALANCES:
        raise ValueError(f"test_balance {balance!r}: choose all (every utterance of test_manifest) or balanced "
                         "(per class as many as its rarest class has)")
    return balance


def load_test_corpus(csv_path, balance: str = "all") -> tuple[pd.DataFrame, dict]:
    """Every row of the manifest at `csv_path` as the test split (its split and fold columns are not
    read), or a class-balanced subset; and what it is (source, balance, utterances, of)."""
    check_balance(balance)
    table = load_manifest(csv_path, test_only=True)
    total = len(table)
    if balance == "balanced":
        table = balanced(table)
    per_class = table["label"].value_counts().reindex(list(EMOTIONS), fill_value=0)
    info = {"source": str(csv_path), "balance": balance, "utterances": len(table), "of": total,
            "per_class": {e: int(n) for e, n in per_class.items()}}
    return table, info


def balanced(table: pd.DataFrame, seed: int = BALANCE_SEED) -> pd.DataFrame:
    """Per class as many rows as the rarest class present has, drawn with `seed`, in table order."""
    n = int(table["label"].value_counts().min())
    keep = table.groupby("label", group_keys=False).sample(n=n, random_state=seed).index
    return table.loc[sorted(keep)].reset_index(drop=True)


def cross_corpus(train: pd.DataFrame, test_manifest, balance: str = "all", train_source: str = "",
                 test_source: str = "") -> tuple[pd.DataFrame, dict]:
    """The run's table (`cross_corpus_table`) of the training corpus's table `train` and the manifest
    `test_manifest` (`load_test_corpus`), and what its test split is: source, balance, utterances, of,
    per_class, the training corpus's test rows left out, and `description`, one line for Table 3's notes.
    `train_source` and `test_source` name the two corpora in that line (default the manifest's path)."""
    test, info = load_test_corpus(test_manifest, balance)
    table = cross_corpus_table(train, test)
    info = {**info, "source": test_source or str(test_manifest), "train_source": train_source,
            "train_test_left_out": int((train["split"] == "test").sum())}
    return table, {**info, "description": describe(info)}


def describe(info: dict) -> str:
    """One line: what trained and what tested in a cross-corpus run."""
    what = (f"every utterance ({info['utterances']})" if info["balance"] == "all"
            else f"a class-balanced subset ({info['utterances']} of {info['of']}, "
                 f"{min(info['per_class'].values())} per class)")
    left_out = info.get("train_test_left_out", 0)
    return (f"Cross-corpus: trained and validated on {info.get('train_source') or 'the training corpus'}"
            + (f" (its {left_out} test-split utterances left out)" if left_out else "")
            + f", tested on {what} of {info['source']} (test_balance: {info['balance']}).")


def cross_corpus_table(train: pd.DataFrame, test: pd.DataFrame, name: str = "cross-corpus run") -> pd.DataFrame:
    """The run's table: `train`'s train and val rows, then every row of `test` as the test split;
    CorpusError when the two share a recording (`refuse_shared_recordings`)."""
    kept = train[train["split"].isin(("train", "val"))].reset_index(drop=True)
    if not {"train", "val"} <= set(kept["split"]):
        raise CorpusError(f"{name}: the training corpus needs train and val rows; it has {sorted(set(train['split']))}")
    refuse_shared_recordings(kept, test)
    test = test.assign(split="test")
    for column in ("speaker", "utterance_id"):
        clash = test[column].astype(str).isin(set(kept[column].astype(str)))
        if clash.any():
            test[column] = np.where(clash, TEST_PREFIX + test[column].astype(str), test[column].astype(str))
    return validate_table(pd.concat([kept, test], ignore_index=True), name=name)


def shared_recordings(train: pd.DataFrame, test: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(test path, training path, how) for every test file that is a recording of a training row:
    "the same file", "the same bytes" (table.recording_keys: hashed only where sizes collide) or "the
    same audio" (decoded samples, compared only where frames, sample rate and channels agree)."""
    paths = pd.concat([train["path"], test["path"]], ignore_index=True).astype(str)
    keys, n = recording_keys(paths), len(train)
    first_train = {}
    for i in range(n):
        first_train.setdefault(keys[i], i)
    found, unmatched = [], []
    for j in range(n, len(paths)):
        i = first_train.get(keys[j])
        if i is None:
            unmatched.append(j)
            continue
        same_file = Path(paths[i]).resolve() == Path(paths[j]).resolve()
        found.append((paths[j], paths[i], "the same file" if same_file else "the same bytes"))
    by_shape = {}
    for i in range(n):
        by_shape.setdefault(_shape(paths[i]), []).append(i)
    for j in unmatched:
        for i in by_shape.get(_shape(paths[j]), []) if _shape(paths[j]) else []:
            if _samples_hash(paths[i]) == _samples_hash(paths[j]):
                found.append((paths[j], paths[i], "the same audio"))
                break
    return found


def refuse_shared_recordings(train: pd.DataFrame, test: pd.DataFrame) -> None:
    """CorpusError naming every test file that is a recording of the training corpus's train or val rows."""
    shared = shared_recordings(train, test)
    if shared:
        lines = [f"  {t} is {how} as {s}" for t, s, how in shared[:LEAKS_SHOWN]]
        more = [f"  ... and {len(shared) - LEAKS_SHOWN} more"] if len(shared) > LEAKS_SHOWN else []
        raise CorpusError(f"test_manifest shares {len(shared)} recording(s) with the training corpus's train and val "
                          "rows, so the test would score audio the model trained or was chosen on (a leak):\n"
                          + "\n".join(lines + more)
                          + "\nTest on another corpus, or remove those rows from one of the two manifests.")


def _shape(path) -> tuple | None:
    """(frames, sample rate, channels) from the header; None when unreadable or empty."""
    try:
        info = sf.info(str(path))
    except Exception:  # the loaders name unreadable files; here it only cannot match
        return None
    return (info.frames, info.samplerate, info.channels) if info.frames else None


@functools.lru_cache(maxsize=1 << 12)
def _cached_samples_hash(path: str, size: int, mtime_ns: int) -> str:
    samples, _ = sf.read(path, dtype="int32", always_2d=True)
    return hashlib.sha256(np.ascontiguousarray(samples).tobytes()).hexdigest()


def _samples_hash(path: str) -> str:
    """SHA-256 of the decoded samples (int32), remembered while the file's size and mtime stay."""
    status = os.stat(path)
    return _cached_samples_hash(path, status.st_size, status.st_mtime_ns)
