"""Small corpora written into tmp_path: an IEMOCAP-shaped tree with its traps, and loose wav files.

Imported by the tests of this folder (pytest puts it on sys.path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

# Session -> dialog -> (utterance id, code). Traps (docs/protocol.md): odd dialog names
# (Ses03M_impro05a, Ses05M_script01_1b, Ses02M_script01_1), a speaker that is not the
# marker wearer (Ses01F_impro01_M013 is the male of session 1), exc to merge into happy,
# and codes to drop (fru, xxx, sur).
IEMOCAP_LABELS = {
    1: {"Ses01F_impro01": [("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M013", "exc"),
                           ("Ses01F_impro01_F001", "fru"), ("Ses01F_impro01_M002", "xxx"),
                           ("Ses01F_impro01_F002", "ang")]},
    2: {"Ses02M_script01_1": [("Ses02M_script01_1_F000", "sad"), ("Ses02M_script01_1_M000", "hap"),
                              ("Ses02M_script01_1_M001", "sad")]},
    3: {"Ses03M_impro05a": [("Ses03M_impro05a_M001", "hap"), ("Ses03M_impro05a_F000", "neu")],
        "Ses03F_impro02": [("Ses03F_impro02_F001", "ang")]},
    4: {"Ses04F_impro02": [("Ses04F_impro02_F000", "sad"), ("Ses04F_impro02_M000", "ang"),
                           ("Ses04F_impro02_M001", "neu")]},
    5: {"Ses05M_script01_1b": [("Ses05M_script01_1b_F003", "neu"), ("Ses05M_script01_1b_M010", "exc"),
                               ("Ses05M_script01_1b_F004", "sad"), ("Ses05M_script01_1b_M011", "sur")]},
}
# What load_iemocap must keep, per session and class.
IEMOCAP_COUNTS = {
    1: {"neutral": 1, "happy": 1, "angry": 1, "sad": 0},
    2: {"neutral": 0, "happy": 1, "angry": 0, "sad": 2},
    3: {"neutral": 1, "happy": 1, "angry": 1, "sad": 0},
    4: {"neutral": 1, "happy": 0, "angry": 1, "sad": 1},
    5: {"neutral": 1, "happy": 1, "angry": 0, "sad": 1},
}
IGNORED_ID = "Ses01F_impro01_F050"  # labelled only in a sub-folder's .txt: must not be read


def write_wav(path, seconds: float, rate: int = 16000, channels: int = 1, seed: int = 0) -> Path:
    """Noise of `seconds` at `rate`, written as 16-bit PCM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = 0.1 * np.random.default_rng(seed).standard_normal((int(round(seconds * rate)), channels))
    sf.write(path, noise.astype(np.float32), rate, subtype="PCM_16")
    return path


def _label_file(lines) -> str:
    out = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for i, (utt, code) in enumerate(lines):
        out += [f"[{1.5 * i + 0.25:.4f} - {1.5 * i + 1.2:.4f}]\t{utt}\t{code}\t[2.5000, 3.0000, 2.5000]",
                "C-E2:\tNeutral;\t()", "C-E3:\tAnger;\t(annoyed)", "A-E3:\tval 3; act 2; dom  2;\t()", ""]
    return "\n".join(out) + "\n"


def make_iemocap(base, missing=()) -> Path:
    """Write the IEMOCAP-shaped tree of IEMOCAP_LABELS under `base`; return its root.

    Every labelled utterance gets a wav (0.3 s + 0.01 s per index), except the ids in `missing`.
    """
    root = Path(base) / "IEMOCAP_full_release"
    index = 0
    for session, dialogs in IEMOCAP_LABELS.items():
        emo = root / f"Session{session}" / "dialog" / "EmoEvaluation"
        emo.mkdir(parents=True)
        for dialog, lines in dialogs.items():
            (emo / f"{dialog}.txt").write_text(_label_file(lines))
            for utt, _ in lines:
                if utt not in missing:
                    write_wav(root / f"Session{session}" / "sentences" / "wav" / dialog / f"{utt}.wav",
                              0.3 + 0.01 * index, seed=index)
                index += 1
    # Traps in session 1: a sub-folder with per-annotator .txt files (a well-formed label line whose
    # wav exists), and a macOS resource fork `._<dialog>.txt` of binary junk.
    emo = root / "Session1" / "dialog" / "EmoEvaluation"
    (emo / "Categorical").mkdir()
    (emo / "Categorical" / "Ses01F_impro01_e1_cat.txt").write_text(_label_file([(IGNORED_ID, "ang")]))
    write_wav(root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / f"{IGNORED_ID}.wav", 0.5)
    (emo / "._Ses01F_impro01.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \xff\xfe\x00")
    return root


def break_files(zero_byte, text, truncated) -> list[Path]:
    """Three broken files as public releases carry them: a 0-byte file at `zero_byte`, a text file at
    `text`, and at `truncated` a wav cut short (its header whole, most of its audio gone)."""
    Path(zero_byte).parent.mkdir(parents=True, exist_ok=True)
    Path(zero_byte).write_bytes(b"")
    Path(text).parent.mkdir(parents=True, exist_ok=True)
    Path(text).write_text("<html><body>404 Not Found</body></html>\n")
    whole = write_wav(truncated, 0.5, seed=99).read_bytes()
    Path(truncated).write_bytes(whole[: len(whole) // 3])
    return [Path(zero_byte), Path(text), Path(truncated)]
