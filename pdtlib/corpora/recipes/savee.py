"""SAVEE, Surrey Audio-Visual Expressed Emotion (Haq & Jackson, 2009; kahlan.eps.surrey.ac.uk/savee):
4 male speakers (DC, JE, JK, KL), 120 utterances each.

Naming: `DC_a01.wav` (speaker, emotion code, number) in a flat folder, or the original release's
`AudioData/DC/a01.wav` (the speaker is the folder). Emotion codes: a anger, d disgust, f fear,
h happiness, n neutral, sa sadness, su surprise; a, h, n and sa are kept. Per speaker: 15 of each
emotion and 30 neutral, so the release holds 480 files, 300 in the four classes (anger, happiness,
sadness 60 each, neutral 120). Folds: 4 of one speaker each.
"""

from __future__ import annotations

import re
from pathlib import Path

from .common import Recipe, Recording, Release

SPEAKERS = ("DC", "JE", "JK", "KL")
UTTERANCE = r"(?P<emotion>sa|su|[adfhn])(?P<number>\d\d)"
FLAT_NAME = re.compile(rf"(?P<speaker>{'|'.join(SPEAKERS)})_{UTTERANCE}")
SPEAKER_FOLDER_NAME = re.compile(UTTERANCE)
EMOTION_CODES = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral", "sa": "sadness",
                 "su": "surprise"}
KEPT = {"anger": "angry", "happiness": "happy", "neutral": "neutral", "sadness": "sad"}


def decode(path: Path) -> Recording | None:
    fields = FLAT_NAME.fullmatch(path.stem)
    if fields is not None:
        speaker = fields["speaker"]
    elif path.parent.name in SPEAKERS and (fields := SPEAKER_FOLDER_NAME.fullmatch(path.stem)) is not None:
        speaker = path.parent.name
    else:
        return None
    emotion = EMOTION_CODES[fields["emotion"]]
    # Both layouts give one id, so a copy in each layout is found as a copy.
    return Recording(utterance_id=f"{speaker}_{fields['emotion']}{fields['number']}", speaker=speaker, gender="M",
                     emotion=emotion, label=KEPT.get(emotion, ""))


RECIPE = Recipe(
    name="savee", title="SAVEE",
    naming="DC_a01.wav (speaker_emotion+number) or AudioData/DC/a01.wav",
    where="the folder holding the DC_a01.wav files, or the release's AudioData folder (DC/ JE/ JK/ KL/)",
    release=Release(files=480, kept={"angry": 60, "happy": 60, "sad": 60, "neutral": 120},
                    speakers=SPEAKERS, files_per_speaker=120),
    decode=decode, n_folds=4)
