"""The utterance table every corpus loads into, and its checks.

One row per utterance, columns `COLUMNS`:

| column        | meaning |
|---------------|---------|
| utterance_id  | unique id (IEMOCAP's, e.g. `Ses01F_impro01_F000`) |
| path          | absolute path of the audio file |
| label         | one of `EMOTIONS`: happy, angry, neutral, sad |
| speaker       | speaker id, e.g. `Ses01F` (session + gender for IEMOCAP) |
| session       | session number or name (`1`..`5` for IEMOCAP) |
| gender        | `F`, `M` or empty when unknown |
| split         | `train`, `val` or `test` |
| duration_s    | audio duration in seconds (from the file header) |
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import soundfile as sf

from .. import EMOTIONS

COLUMNS = ("utterance_id", "path", "label", "speaker", "session", "gender", "split", "duration_s")
SPLITS = ("train", "val", "test")


class CorpusError(ValueError):
    """A corpus that cannot be used as it is; the message says what, where, and what to do."""


def _rows(df: pd.DataFrame, mask, columns=("utterance_id", "path", "label", "speaker", "split"), first=5) -> str:
    shown = df.loc[mask, [c for c in columns if c in df.columns]].head(first)
    return shown.to_string(index=False)


def audio_duration(path) -> float:
    """Duration in seconds from the file header (no decoding); NaN when unreadable."""
    try:
        info = sf.info(str(path))
    except Exception:  # reported by validate_table / load_audio with the reason
        return float("nan")
    return info.frames / info.samplerate if info.samplerate else float("nan")


def audio_problem(path) -> str:
    """Why a corpus file cannot serve as audio, from its header alone (no decoding): '' when it can.
    Missing, empty (0 bytes), not a format soundfile reads (a text file, a header cut short), no
    audio frames, or a wav whose data chunk declares more bytes than the file holds (a download cut
    short: `wav_shortfall`)."""
    p = Path(path)
    if not p.is_file():
        return "does not exist"
    if p.stat().st_size == 0:
        return "empty (0 bytes)"
    try:
        info = sf.info(str(p))
    except Exception as exc:  # soundfile's LibsndfileError, or a RuntimeError on older versions
        reason = getattr(exc, "error_string", "") or str(exc)
        return f"not audio soundfile can read ({reason.strip().rstrip('.')})"
    if not info.frames or not info.samplerate:
        return "no audio frames in it"
    short = wav_shortfall(p)
    if short:
        return f"truncated: its header declares {short:,} more bytes of audio than the file holds"
    return ""


def wav_shortfall(path) -> int:
    """Bytes a RIFF/WAVE file's data chunk declares beyond the file's end (0 when it is whole, when the
    size is left open, 0 or 0xFFFFFFFF as streaming writers leave it, or when it is not a RIFF wav)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        position = 12
        while True:
            f.seek(position)
            chunk = f.read(8)
            if len(chunk) < 8:
                return 0
            length = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return 0 if length in (0, 0xFFFFFFFF) else max(0, position + 8 + length - size)
            position += 8 + length + (length & 1)


def audio_problems(paths: pd.Series) -> pd.Series:
    """`audio_problem` of every path: '' where the file can be read."""
    return paths.map(audio_problem)


def unreadable_message(paths: pd.Series, problems: pd.Series, name: str) -> str:
    """One message naming every file with a problem (`audio_problems`) and why."""
    bad = problems != ""
    lines = [f"  {path}: {problems[i]}" for i, path in paths[bad].items()]
    missing = int((problems == "does not exist").sum())
    return (f"{name}: {int(bad.sum())} of {len(paths)} audio files cannot be used, every one named below"
            + (f" ({missing} of them do not exist)" if missing else "") + ":\n"
            + "\n".join(lines) + "\nReplace them with whole copies, or remove their rows.")


def validate_table(df: pd.DataFrame, *, check_files: bool = True, name: str = "corpus") -> pd.DataFrame:
    """Check an utterance table and return it with columns in order and a fresh index.

    Raises CorpusError naming the count and the first offending rows for: missing
    columns, labels outside EMOTIONS, splits outside SPLITS, duplicate ids, missing
    files, one file or the same audio bytes in two rows (with check_files), and speakers
    that appear in more than one split.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CorpusError(f"{name}: the utterance table lacks columns {missing}; it needs {list(COLUMNS)}")
    df = df.loc[:, list(COLUMNS)].reset_index(drop=True)

    bad = ~df["label"].isin(EMOTIONS)
    if bad.any():
        raise CorpusError(f"{name}: {bad.sum()} rows have a label outside {EMOTIONS}:\n{_rows(df, bad)}")
    bad = ~df["split"].isin(SPLITS)
    if bad.any():
        raise CorpusError(f"{name}: {bad.sum()} rows have a split outside {SPLITS}:\n{_rows(df, bad)}")
    bad = df["utterance_id"].duplicated(keep=False)
    if bad.any():
        raise CorpusError(f"{name}: {df.loc[bad, 'utterance_id'].nunique()} utterance ids are not unique "
                          f"({bad.sum()} rows):\n{_rows(df, bad)}")
    if check_files:
        bad = ~df["path"].map(lambda p: Path(p).is_file())
        if bad.any():
            raise CorpusError(f"{name}: {bad.sum()} audio files do not exist:\n{_rows(df, bad)}\n"
                              "Check the corpus root, or remove those rows.")
        _refuse_repeated_audio(df, name)
    splits_per_speaker = df.groupby("speaker")["split"].nunique()
    shared = splits_per_speaker[splits_per_speaker > 1].index
    if len(shared):
        bad = df["speaker"].isin(shared)
        detail = df.loc[bad].groupby("speaker")["split"].unique().map(sorted).head(5).to_string()
        raise CorpusError(f"{name}: {len(shared)} speakers appear in more than one split, which leaks "
                          f"speakers into evaluation:\n{detail}\nfirst rows:\n{_rows(df, bad)}")
    return df


def _refuse_repeated_audio(df: pd.DataFrame, name: str) -> None:
    """One recording, one row: the same file (after links and `..` are resolved) or the same bytes
    under two names would put one utterance in two splits, or count it twice. Only files whose
    sizes collide are hashed, so an IEMOCAP-size table costs a stat per file."""
    resolved = df["path"].map(lambda p: str(Path(p).resolve()))
    for what, key in (("the same file", resolved), ("the same audio content", _content_keys(resolved))):
        bad = key.notna() & key.duplicated(keep=False)
        if bad.any():
            shown = df.loc[bad].assign(same=key[bad].rank(method="dense").astype(int)).sort_values("same")
            raise CorpusError(f"{name}: {bad.sum()} rows use {what} as another row, so one recording would "
                              f"count twice or sit in two splits (rows of one recording share a `same` number):\n"
                              f"{_rows(shown, slice(None), ('same', 'utterance_id', 'path', 'split'), first=10)}\n"
                              "Each recording may appear once: remove the repeated rows.")


def _content_keys(resolved: pd.Series) -> pd.Series:
    """SHA-256 of the files whose size another file shares; None for a file of a unique size."""
    sizes = resolved.map(lambda p: os.stat(p).st_size)
    keys = pd.Series(None, index=resolved.index, dtype=object)
    shared = sizes.duplicated(keep=False) & ~resolved.duplicated(keep=False)  # same paths: reported above
    for i in resolved.index[shared]:
        keys[i] = f"{sizes[i]}:{_content_hash(resolved[i])}"
    return keys


def recording_keys(paths: pd.Series) -> pd.Series:
    """Per row, a key that rows of one recording share: the same file (links and `..` resolved) or
    the same bytes under another name. The content is hashed only where a file's size is shared
    by another file, so a corpus of distinct recordings costs a stat per file."""
    resolved = paths.map(lambda p: str(Path(p).resolve()))
    files = pd.Series(resolved.unique())
    sizes = files.map(lambda p: os.stat(p).st_size)
    key_of = dict(zip(files, files))
    shared = sizes.duplicated(keep=False)
    for path, size in zip(files[shared], sizes[shared]):
        key_of[path] = f"{size}:{_content_hash(path)}"
    return resolved.map(key_of)


def repeated_recordings(df: pd.DataFrame, within) -> pd.Series:
    """The rows that repeat the recording (recording_keys) of an earlier row with the same values
    of the columns `within` (e.g. split, speaker and label), as a Series: index of the repeat ->
    index of the first row. A copy counted twice changes no split and no label, so a caller may
    drop them; repeats across those columns are left to validate_table, which refuses them (which
    row is right is the user's call), and so are rows whose file is missing (it names them)."""
    exists = df["path"].map(lambda p: Path(p).is_file())
    first_of, repeats = {}, {}
    for i, recording in recording_keys(df.loc[exists, "path"]).items():
        group = (*(str(df.at[i, c]) for c in within), recording)
        if group in first_of:
            repeats[i] = first_of[group]
        else:
            first_of[group] = i
    return pd.Series(repeats, dtype=object)


@functools.lru_cache(maxsize=1 << 16)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def _content_hash(path: str) -> str:
    """SHA-256 of a corpus file, remembered while its size and mtime stay: a loader that checks
    for repeats twice (drop, then refuse) reads each file once."""
    status = os.stat(path)
    return _cached_sha256(path, status.st_size, status.st_mtime_ns)


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def counts(df: pd.DataFrame) -> pd.DataFrame:
    """Utterances per split and class, with totals: the paper's Table 1 for this corpus."""
    table = pd.crosstab(df["split"], df["label"], margins=True, margins_name="total")
    order = [s for s in SPLITS if s in table.index] + ["total"]
    return table.reindex(index=order, columns=[e for e in EMOTIONS if e in table.columns] + ["total"], fill_value=0)


def file_fingerprints(table: pd.DataFrame) -> pd.DataFrame:
    """Per utterance, what a cache of derived features keys on: (utterance_id, path resolved,
    file_size, mtime_ns, label, split). Size and mtime stand for the content: a stat is
    microseconds, while hashing the audio (about 1 GB for IEMOCAP) would cost more than a cache saves."""
    resolved = [str(Path(p).resolve()) for p in table["path"]]
    stats = [os.stat(p) for p in resolved]
    return pd.DataFrame({"utterance_id": table["utterance_id"].astype(str).to_numpy(), "path": resolved,
                         "file_size": [s.st_size for s in stats], "mtime_ns": [s.st_mtime_ns for s in stats],
                         "label": table["label"].astype(str).to_numpy(),
                         "split": table["split"].astype(str).to_numpy()})


def fingerprint_key(header: dict, fingerprints: pd.DataFrame) -> str:
    """20 hex digits of SHA-256 over `header` (what computes the features: format, config,
    versions) and every fingerprint row, in order: the name a cache stores them under."""
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for row in fingerprints.itertuples(index=False):
        digest.update(json.dumps([str(row.utterance_id), row.path, int(row.file_size), int(row.mtime_ns),
                                  row.label, row.split]).encode() + b"\n")
    return digest.hexdigest()[:20]
