"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo,
PLoS ONE 2018; zenodo.org/record/1188976): 24 actors (odd numbers male, even female), two
statements, speech in 8 emotions.

Naming: `Actor_AA/03-01-EE-II-SS-RR-AA.wav`, seven two-digit fields: modality (03 audio-only),
vocal channel (01 speech, 02 song), emotion EE (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
06 fearful, 07 disgust, 08 surprised), intensity II (01 normal, 02 strong; neutral has no strong),
statement SS, repetition RR, actor AA. Song files (03-02-...) are not speech and left out, as are
the other emotions. The speech release (Audio_Speech_Actors_01-24.zip) holds 1440 files, 60 per
actor; 672 of them in the four classes (per actor: neutral 4, happy 8, sad 8, angry 8).
Folds: 6 of 4 actors each (2 female, 2 male), as EmoBox's.
"""

from __future__ import annotations

import re
from pathlib import Path

from .common import Recipe, Recording, Release, Skip

FILE_NAME = re.compile(r"(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<emotion>\d\d)-(?P<intensity>\d\d)-"
                       r"(?P<statement>\d\d)-(?P<repetition>\d\d)-(?P<actor>\d\d)")
EMOTION_CODES = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                 "07": "disgust", "08": "surprised"}
KEPT = {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry"}
ACTORS = tuple(f"actor{a:02d}" for a in range(1, 25))


def decode(path: Path) -> Recording | Skip | None:
    fields = FILE_NAME.fullmatch(path.stem)
    if fields is None or fields["emotion"] not in EMOTION_CODES:
        return None
    if fields["channel"] == "02":
        return Skip("song (03-02-...)")
    if fields["modality"] != "03" or fields["channel"] != "01":
        return None
    emotion = EMOTION_CODES[fields["emotion"]]
    return Recording(utterance_id=path.stem, speaker=f"actor{fields['actor']}",
                     gender="M" if int(fields["actor"]) % 2 else "F",
                     emotion=emotion, label=KEPT.get(emotion, ""))


RECIPE = Recipe(
    name="ravdess", title="RAVDESS", speaker_noun="actor",
    naming="Actor_AA/03-01-EE-II-SS-RR-AA.wav",
    where="the folder holding Actor_01 ... Actor_24 (Audio_Speech_Actors_01-24.zip unpacked)",
    release=Release(files=1440, kept={"neutral": 96, "happy": 192, "sad": 192, "angry": 192},
                    speakers=ACTORS, files_per_speaker=60),
    decode=decode, n_folds=6)
