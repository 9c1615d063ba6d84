"""IEMOCAP -> the utterance table (docs/protocol.md, section 3; paper §3).

Reads the categorical labels from `SessionN/dialog/EmoEvaluation/<dialog>.txt` (regular
`.txt` files only: that folder also holds sub-folders of per-annotator files), keeps
neu, hap, exc, sad, ang with excited merged INTO happy (5531 utterances on the full
release), and maps each utterance to `SessionN/sentences/wav/<dialog>/<utterance id>.wav`.

Expected layout (`root` is the `IEMOCAP_full_release` folder)::

    IEMOCAP_full_release/
      Session1/
        dialog/EmoEvaluation/Ses01F_impro01.txt ...
        sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav ...
      Session2/ ... Session5/

Splits:
  "paper"   Sessions 1-3 train, 4 validation, 5 test (paper §3, Table 1).
  "loso:K"  leave-one-session-out fold K: test = session K, validation = the session
            before it, cyclically (K-1, and 5 for K=1), train = the other three.
            "loso:5" is therefore the paper's split.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd

from .table import CorpusError, audio_duration, validate_table

SESSIONS = (1, 2, 3, 4, 5)
LABEL_DIR = Path("dialog", "EmoEvaluation")
WAV_DIR = Path("sentences", "wav")

# Categorical codes kept for the 4-class task; excited is merged into happy (docs/protocol.md).
CODES = {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"}

# Kept utterances per session on the full release (docs/protocol.md; the paper's Table 1 by split).
EXPECTED_COUNTS = {
    1: {"neutral": 384, "happy": 278, "angry": 229, "sad": 194},
    2: {"neutral": 362, "happy": 327, "angry": 137, "sad": 197},
    3: {"neutral": 320, "happy": 286, "angry": 240, "sad": 305},
    4: {"neutral": 258, "happy": 303, "angry": 327, "sad": 143},
    5: {"neutral": 384, "happy": 442, "angry": 170, "sad": 245},
}

# `[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]`.
# Anchored on the time span and the `Ses` id, so annotator lines (`C-E3:<TAB>Anger;<TAB>()`)
# and the `%` header never match.
LABEL_LINE = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(Ses\d\d\S*)\s+(\w+)\s+\[")

LAYOUT_HINT = (
    "Expected layout (pass the IEMOCAP_full_release folder as root):\n"
    "  IEMOCAP_full_release/\n"
    "    Session1/dialog/EmoEvaluation/<dialog>.txt\n"
    "    Session1/sentences/wav/<dialog>/<utterance id>.wav\n"
    "    Session2/ ... Session5/ (the same)"
)


def load_iemocap(root, split: str = "paper", *, missing: str = "raise",
                 check_counts: bool | None = None) -> pd.DataFrame:
    """The IEMOCAP utterance table (pdtlib.corpora.table.COLUMNS), sorted by utterance id.

    root:         the `IEMOCAP_full_release` folder (see the module docstring for the layout).
    split:        "paper" (1-3 train / 4 val / 5 test) or "loso:K" for K in 1..5 (test K,
                  val the session before K cyclically, train the rest).
    missing:      what to do with labelled utterances whose wav file is absent: "raise"
                  (default: a CorpusError with the count and the first few) or "drop"
                  (drop them with a warning giving the count and the first few). Never silent.
    check_counts: compare the kept counts per session and class with docs/protocol.md's table
                  (EXPECTED_COUNTS) and warn on any mismatch. None (default) checks when the
                  corpus is about the full release's size (within 10% of 5531), so small
                  debug corpora stay quiet while a damaged full release is caught.
    """
    if missing not in ("raise", "drop"):
        raise ValueError(f"load_iemocap: missing must be 'raise' or 'drop', got {missing!r}")
    split_of = session_splits(split)
    root = check_root(root)
    df = parse_labels(root)
    if check_counts or (check_counts is None and _about_full_size(len(df))):
        check_session_counts(df)
    df = _check_wavs(df, missing)
    df["split"] = df["session"].map(split_of)
    df["duration_s"] = df["path"].map(audio_duration)
    return validate_table(df, name=f"IEMOCAP at {root}")


def session_splits(split: str) -> dict[int, str]:
    """`"paper"` or `"loso:K"` -> {session: "train" | "val" | "test"}."""
    if split == "paper":
        return {1: "train", 2: "train", 3: "train", 4: "val", 5: "test"}
    match = re.fullmatch(r"loso:([1-5])", str(split).strip())
    if not match:
        raise ValueError(f"IEMOCAP split {split!r}: use 'paper' or 'loso:K' with K in 1..5 "
                         "(leave-one-session-out, test = session K)")
    test = int(match.group(1))
    val = (test - 2) % len(SESSIONS) + 1  # the session before `test`, cyclically: 5->4, 1->5
    return {s: "test" if s == test else "val" if s == val else "train" for s in SESSIONS}


def check_root(root) -> Path:
    """Return `root` resolved if it has the IEMOCAP layout, else raise a CorpusError that says
    which folders are missing and, for a root one level too high or too low, which to pass."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise CorpusError(f"IEMOCAP root {root} is not a folder. {LAYOUT_HINT}")
    expected = [root / f"Session{s}" / sub for s in SESSIONS for sub in (LABEL_DIR, WAV_DIR)]
    absent = [p for p in expected if not p.is_dir()]
    if not absent:
        return root
    # One level above: a child folder (usually IEMOCAP_full_release) holds the sessions.
    below = sorted(p for p in root.iterdir() if p.is_dir() and (p / "Session1").is_dir())
    if below:
        raise CorpusError(f"IEMOCAP root {root} is one level above the corpus: pass {below[0]} instead.")
    # One level below: root is a SessionN folder or one of its sub-folders.
    for level in (root, *root.parents[:3]):
        if re.fullmatch(r"Session[1-5]", level.name):
            raise CorpusError(f"IEMOCAP root {root} is inside the corpus (in {level.name}): "
                              f"pass {level.parent} instead.")
    shown = "\n".join(f"  {p.relative_to(root)}" for p in absent[:10])
    more = f"\n  ... and {len(absent) - 10} more" if len(absent) > 10 else ""
    raise CorpusError(f"IEMOCAP root {root}: {len(absent)} of {len(expected)} expected folders are "
                      f"missing:\n{shown}{more}\n{LAYOUT_HINT}")


def parse_labels(root: Path) -> pd.DataFrame:
    """Kept label lines of every session -> utterance_id, path, label, speaker, session, gender."""
    rows = []
    for session in SESSIONS:
        label_dir = root / f"Session{session}" / LABEL_DIR
        # Regular files only: sub-folders (Categorical/, Attribute/, ...) hold per-annotator
        # files; `._*` are macOS resource forks that copies from a Mac carry along.
        for txt in sorted(label_dir.glob("*.txt")):
            if txt.is_file() and not txt.name.startswith("._"):
                rows += [_row(root, utt, CODES[code]) for utt, code in _label_lines(txt) if code in CODES]
    df = pd.DataFrame(rows, columns=["utterance_id", "path", "label", "speaker", "session", "gender"])
    return df.sort_values("utterance_id", kind="stable").reset_index(drop=True)


def _label_lines(txt: Path):
    """(utterance id, code) for each label line of one EmoEvaluation file."""
    for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
        match = LABEL_LINE.match(line)
        if match:
            yield match.group(1), match.group(2)


def _row(root: Path, utterance_id: str, label: str) -> dict:
    # `Ses01F_impro01_M013`: session from `Ses01`, dialog = the id minus its last token,
    # speaker gender = first letter of the LAST token (the `F` of `Ses01F` names who wore the
    # motion-capture markers, not the speaker). Splitting on `_` copes with `Ses03M_impro05a`
    # and `Ses05M_script01_1b`, where fixed character offsets break.
    dialog, last = utterance_id.rsplit("_", 1)
    session, gender = int(utterance_id[3:5]), last[0].upper()
    wav = root / f"Session{session}" / WAV_DIR / dialog / f"{utterance_id}.wav"
    return {"utterance_id": utterance_id, "path": str(wav), "label": label,
            "speaker": f"Ses{session:02d}{gender}", "session": session, "gender": gender}


def _about_full_size(n: int) -> bool:
    expected = sum(sum(c.values()) for c in EXPECTED_COUNTS.values())
    return abs(n - expected) <= 0.1 * expected


def check_session_counts(df: pd.DataFrame) -> bool:
    """Warn (warnings.warn) when kept counts per session and class differ from EXPECTED_COUNTS."""
    found = pd.crosstab(df["session"], df["label"])
    expected = pd.DataFrame(EXPECTED_COUNTS).T
    found = found.reindex(index=expected.index, columns=expected.columns, fill_value=0)
    diff = found - expected
    if not diff.to_numpy().any():
        return True
    diff = diff.loc[(diff != 0).any(axis=1), (diff != 0).any(axis=0)]
    warnings.warn(f"IEMOCAP: kept utterances per session differ from docs/protocol.md's table "
                  f"({len(df)} found, {int(expected.to_numpy().sum())} expected); found - expected:\n"
                  f"{diff.to_string()}\nA partial or modified copy of the corpus, or labels "
                  "read from the wrong files? Results will not be comparable with the paper.",
                  stacklevel=3)
    return False


def _check_wavs(df: pd.DataFrame, missing: str) -> pd.DataFrame:
    absent = ~df["path"].map(lambda p: Path(p).is_file())
    if not absent.any():
        return df.reset_index(drop=True)
    first = "\n".join(f"  {p}" for p in df.loc[absent, "path"].head(5))
    message = f"IEMOCAP: {absent.sum()} of {len(df)} labelled utterances have no wav file, e.g.\n{first}"
    if missing == "raise":
        raise CorpusError(f"{message}\nRestore those files, or pass missing='drop' to go on without them.")
    warnings.warn(f"{message}\nDropped them (missing='drop').", stacklevel=3)
    return df.loc[~absent].reset_index(drop=True)
