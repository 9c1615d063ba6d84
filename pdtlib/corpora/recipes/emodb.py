"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al., Interspeech 2005;
emodb.bilderbar.info): 10 actors, 10 German sentences, 7 emotions.

Naming: `{speaker}{text}{emotion}{version}.wav`, e.g. `03a01Wa.wav`: speaker (03, 08-16), text
(a01-a05, b01-b10), emotion letter (German initials: W Wut anger, L Langeweile boredom, E Ekel
disgust, A Angst fear, F Freude happiness, T Trauer sadness, N neutral), version (a, b, ...).
W, F, T and N are kept. Speakers' genders as published: male 03 10 11 12 15, female 08 09 13 14 16.
The files sit in the release's `wav/` folder or in a flat folder. The release holds 535 files;
339 in the four classes (anger 127, happiness 71, sadness 62, neutral 79). Folds: 5 of 2
speakers, one female and one male each.
"""

from __future__ import annotations

import re
from pathlib import Path

from .common import Recipe, Recording, Release

FILE_NAME = re.compile(r"(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[WLEAFTN])(?P<version>[a-z])")
EMOTION_CODES = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
                 "N": "neutral"}
KEPT = {"anger": "angry", "happiness": "happy", "sadness": "sad", "neutral": "neutral"}
GENDERS = {"03": "M", "10": "M", "11": "M", "12": "M", "15": "M", "08": "F", "09": "F", "13": "F", "14": "F", "16": "F"}


def decode(path: Path) -> Recording | None:
    fields = FILE_NAME.fullmatch(path.stem)
    if fields is None:
        return None
    emotion = EMOTION_CODES[fields["emotion"]]
    return Recording(utterance_id=path.stem, speaker=fields["speaker"], gender=GENDERS.get(fields["speaker"], ""),
                     emotion=emotion, label=KEPT.get(emotion, ""))


RECIPE = Recipe(
    name="emodb", title="EmoDB",
    naming="{speaker}{text}{emotion}{version}.wav (e.g. 03a01Wa.wav)",
    where="the EmoDB folder (holding wav/), or the folder of its wav files",
    release=Release(files=535, kept={"angry": 127, "happy": 71, "sad": 62, "neutral": 79},
                    speakers=tuple(sorted(GENDERS))),
    decode=decode, n_folds=5)
