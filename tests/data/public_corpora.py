"""Tiny trees in the naming of public corpora (RAVDESS, CREMA-D, EmoDB, SAVEE, TESS), written into
tmp_path with short noise wavs: no audio is shipped. Imported by test_recipes.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import soundfile as sf

_seeds = itertools.count(1000)


def noise_wav(path, seconds: float = 0.02, rate: int = 16000) -> Path:
    """A short wav of noise; every call writes other samples, so no two files are equal bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = 0.1 * np.random.default_rng(next(_seeds)).standard_normal(int(seconds * rate))
    sf.write(path, samples.astype(np.float32), rate, subtype="PCM_16")
    return path


def ravdess(root, actors=(1, 2, 3), emotions=("01", "02", "03", "04", "05"), song=True) -> Path:
    """Actor_AA/03-01-EE-01-01-01-AA.wav for each emotion (and a song file 03-02-... per actor)."""
    for actor in actors:
        folder = Path(root) / f"Actor_{actor:02d}"
        for emotion in emotions:
            noise_wav(folder / f"03-01-{emotion}-01-01-01-{actor:02d}.wav")
        if song:
            noise_wav(folder / f"03-02-03-01-01-01-{actor:02d}.wav")
    return Path(root)


def crema_d(root, actors=(1001, 1002, 1003), demographics=True) -> Path:
    """AudioWAV/{actor}_DFA_{EMO}_XX.wav for six emotions; VideoDemographics.csv (1002 female)."""
    for actor in actors:
        for emotion in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"):
            noise_wav(Path(root) / "AudioWAV" / f"{actor}_DFA_{emotion}_XX.wav")
    if demographics:
        rows = [f"{a},30,{'Female' if a == 1002 else 'Male'},Caucasian,Not Hispanic" for a in actors]
        (Path(root) / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n" + "\n".join(rows) + "\n")
    return Path(root)


def emodb(root, speakers=("03", "08", "09"), letters="WFTNL") -> Path:
    """wav/{speaker}a01{letter}a.wav per emotion letter, beside the release's other folders."""
    for speaker in speakers:
        for letter in letters:
            noise_wav(Path(root) / "wav" / f"{speaker}a01{letter}a.wav")
    (Path(root) / "lablaut").mkdir(parents=True, exist_ok=True)
    (Path(root) / "lablaut" / "03a01Wa.lab").write_text("not audio\n")
    return Path(root)


SAVEE_PER_SPEAKER = {"a": 15, "d": 15, "f": 15, "h": 15, "n": 30, "sa": 15, "su": 15}


def savee(root, speakers=("DC", "JE", "JK"), per_emotion=None, layout="flat") -> Path:
    """DC_a01.wav (flat) or AudioData/DC/a01.wav (the original release); `per_emotion` files per
    emotion code (default 1 each; SAVEE_PER_SPEAKER is the release's)."""
    per_emotion = per_emotion or {code: 1 for code in SAVEE_PER_SPEAKER}
    for speaker in speakers:
        for code, n in per_emotion.items():
            for number in range(1, n + 1):
                name = (f"{speaker}_{code}{number:02d}.wav" if layout == "flat"
                        else f"AudioData/{speaker}/{code}{number:02d}.wav")
                noise_wav(Path(root) / name)
    return Path(root)


TESS_WORDS = ("back", "bar", "base", "bath", "bean", "beg")


def tess(root, speakers=("OAF", "YAF"), words=TESS_WORDS,
         emotions=("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")) -> Path:
    """{SPK}_{emotion}/{SPK}_{word}_{emotion}.wav, and the release's misnamed OA_bite_neutral.wav."""
    for speaker in speakers:
        for emotion in emotions:
            for word in words:
                noise_wav(Path(root) / f"{speaker}_{emotion}" / f"{speaker}_{word}_{emotion}.wav")
    if "OAF" in speakers:
        noise_wav(Path(root) / "OAF_neutral" / "OA_bite_neutral.wav")
    return Path(root)
