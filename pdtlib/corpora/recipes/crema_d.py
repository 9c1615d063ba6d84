"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., IEEE Transactions
on Affective Computing 2014; github.com/CheyneyComputerScience/CREMA-D): 91 actors (1001-1091),
12 sentences, 6 emotions.

Naming: `AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav`, e.g. `1001_DFA_ANG_XX.wav`: actor id,
sentence code (DFA, IEO, ...), emotion (ANG, DIS, FEA, HAP, NEU, SAD), level (LO, MD, HI, XX
unspecified). NEU, HAP, SAD and ANG are kept. Gender comes from `VideoDemographics.csv` (columns
ActorID, Age, Sex with Male/Female, ...) in or below the source folder (or beside AudioWAV when
that is passed), else it stays empty.
The release holds 7442 files (20 fewer than 91 x 82: a few takes were never published); 4900 in
the four classes (ANG, HAP, SAD 1271 each, NEU 1087). Folds: 7 of 13 actors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .common import Recipe, Recording, Release, scan_files

FILE_NAME = re.compile(r"(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})")
EMOTION_CODES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
KEPT = {"anger": "angry", "happy": "happy", "neutral": "neutral", "sad": "sad"}
ACTORS = tuple(str(a) for a in range(1001, 1092))
DEMOGRAPHICS = "VideoDemographics.csv"
SEXES = {"male": "M", "female": "F"}


def decode(path: Path) -> Recording | None:
    fields = FILE_NAME.fullmatch(path.stem)
    if fields is None or fields["emotion"] not in EMOTION_CODES:
        return None
    emotion = EMOTION_CODES[fields["emotion"]]
    return Recording(utterance_id=path.stem, speaker=fields["actor"], gender="", emotion=emotion,
                     label=KEPT.get(emotion, ""))


def scan(source: Path) -> tuple[pd.DataFrame, list[str]]:
    """The files, with each actor's gender from VideoDemographics.csv when the folder has it."""
    table, notes = scan_files(RECIPE, source)
    # Beside AudioWAV in the release, so one level up when AudioWAV itself is passed.
    found = [p for p in (source / DEMOGRAPHICS, source.parent / DEMOGRAPHICS) if p.is_file()] or \
        sorted(source.rglob(DEMOGRAPHICS))
    if not found:
        return table, notes + [f"no {DEMOGRAPHICS} under {source}: the gender column is left empty"]
    sexes = actor_sexes(found[0])
    table["gender"] = table["speaker"].map(sexes).fillna("")
    unknown = sorted(set(table["speaker"]) - set(sexes))
    if unknown:
        notes.append(f"{found[0].name} gives no sex for actors {' '.join(unknown)}: gender left empty")
    return table, notes


def actor_sexes(csv: Path) -> dict:
    """ActorID -> "F" or "M" from the release's demographics table."""
    demographics = pd.read_csv(csv, dtype=str, skipinitialspace=True)
    sex = demographics["Sex"].str.strip().str.lower().map(SEXES)
    return dict(zip(demographics["ActorID"].str.strip(), sex.fillna("")))


RECIPE = Recipe(
    name="crema-d", title="CREMA-D", speaker_noun="actor",
    naming="{actor}_{sentence}_{EMO}_{level}.wav (e.g. 1001_DFA_ANG_XX.wav)",
    where="the CREMA-D folder (holding AudioWAV/ and VideoDemographics.csv), or AudioWAV itself",
    release=Release(files=7442, kept={"angry": 1271, "happy": 1271, "sad": 1271, "neutral": 1087},
                    speakers=ACTORS),
    decode=decode, scan=scan, n_folds=7)
