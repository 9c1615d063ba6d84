"""TESS, the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, University of Toronto 2010;
tspace.library.utoronto.ca/handle/1807/24487): two actresses, OAF (older adult female, 64) and YAF
(younger adult female, 26), each saying "Say the word ___" with 200 target words in 7 emotions.

Naming: `OAF_back_angry.wav`, speaker_word_emotion, in folders such as `OAF_angry/`; emotions
angry, disgust, fear, happy, neutral, ps (pleasant surprise) and sad; angry, happy, neutral and sad
are kept. One file of the release is misnamed `OA_bite_neutral.wav`: its folder (`OAF_neutral`)
says whose it is. The release holds 2800 files, 1400 per speaker; 1600 in the four classes.

Split: with two speakers no speaker-independent train, validation and test split exists. This
recipe keeps the test speaker-independent: YAF is the test split, never heard in training or in
selection; OAF trains, on 4 of every 5 words (sorted), and validates on the other fifth
(VAL_EVERY-th words: word-disjoint from training but the same voice, so validation scores are
optimistic and selection may favour what fits OAF). The loader refuses a speaker in two splits,
so the validation rows carry the speaker id `OAF-val-words`; the session column keeps the true
speaker. There are no folds (the fold column is empty): `split=fold:K/N` would treat the three
groups as speakers, which they are not; use `split=paper`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .assign import Assignment
from .common import Recipe, Recording, Release
from ..table import CorpusError

FILE_NAME = re.compile(r"(?P<speaker>OAF|YAF|OA)_(?P<word>[a-z]+)_(?P<emotion>angry|disgust|fear|happy|neutral|ps|sad)",
                       re.IGNORECASE)
SPEAKER_FOLDER = re.compile(r"(?P<speaker>OAF|YAF)_.*", re.IGNORECASE)
EMOTION_NAMES = {"ps": "pleasant surprise"}
KEPT = ("angry", "happy", "neutral", "sad")
TRAIN_SPEAKER, TEST_SPEAKER = "OAF", "YAF"
VAL_SPEAKER_ID = f"{TRAIN_SPEAKER}-val-words"
VAL_EVERY = 5  # every 5th of the training speaker's words (sorted) validates: 40 of 200


def decode(path: Path) -> Recording | None:
    fields = FILE_NAME.fullmatch(path.stem)
    if fields is None:
        return None
    folder = SPEAKER_FOLDER.fullmatch(path.parent.name)
    speaker = (folder["speaker"] if folder else fields["speaker"]).upper()
    speaker = "OAF" if speaker == "OA" else speaker  # the one misnamed file, outside its folder
    word, emotion = fields["word"].lower(), fields["emotion"].lower()
    return Recording(utterance_id=f"{speaker}_{word}_{emotion}", speaker=speaker, gender="F",
                     emotion=EMOTION_NAMES.get(emotion, emotion), label=emotion if emotion in KEPT else "",
                     session=speaker)


def assign(table: pd.DataFrame, recipe: Recipe) -> Assignment:
    """Train on OAF's words but every VAL_EVERY-th, validate on those, test on YAF; no folds."""
    found = set(table["speaker"])
    if found != {TRAIN_SPEAKER, TEST_SPEAKER}:
        raise CorpusError(f"TESS: found the speakers {sorted(found)}; its split needs both {TRAIN_SPEAKER} "
                          f"(training and validation) and {TEST_SPEAKER} (test): add the missing speaker's folders")
    words = table["utterance_id"].str.split("_").str[1]
    train_words = sorted(words[table["speaker"] == TRAIN_SPEAKER].unique())
    val_words = set(train_words[VAL_EVERY - 1::VAL_EVERY])
    if not val_words:
        raise CorpusError(f"TESS: {TRAIN_SPEAKER} has {len(train_words)} words, fewer than {VAL_EVERY}: too few to "
                          "hold some out for validation")
    is_val = (table["speaker"] == TRAIN_SPEAKER) & words.isin(val_words)
    split = pd.Series("train", index=table.index).where(table["speaker"] == TRAIN_SPEAKER, "test").mask(is_val, "val")
    lines = ["no folds: TESS has two speakers, so no speaker-independent train/val/test split exists",
             f"split: test {TEST_SPEAKER} (unseen in training and selection); train {TRAIN_SPEAKER} "
             f"({len(train_words) - len(val_words)} words); val {TRAIN_SPEAKER}'s other {len(val_words)} "
             f"word{'s' if len(val_words) > 1 else ''} "
             f"(speaker {VAL_SPEAKER_ID}: word-disjoint, same voice, so validation scores are optimistic)"]
    return Assignment(split, pd.Series(0, index=table.index), lines,
                      speaker=table["speaker"].mask(is_val, VAL_SPEAKER_ID))


RECIPE = Recipe(
    name="tess", title="TESS",
    naming="OAF_back_angry.wav (speaker_word_emotion, speaker OAF or YAF)",
    where="the TESS folder (holding OAF_angry/, YAF_sad/, ... or the files themselves)",
    release=Release(files=2800, kept={e: 400 for e in KEPT}, speakers=(TRAIN_SPEAKER, TEST_SPEAKER),
                    files_per_speaker=1400),
    decode=decode, assign=assign)
