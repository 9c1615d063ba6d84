"""Writing the corpus out in IEMOCAP's layout: wavs, EmoEvaluation label files, metadata.csv,
and last the stamp that marks a complete corpus of this generator version and config."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from ...system import paths
from ...system.atomic import exclusive, write_json
from ...audio import SAMPLE_RATE
from ...system.progress import progress as progress_bar
from ..iemocap import LABEL_DIR, SESSIONS, WAV_DIR, load_iemocap
from .corpus_plan import SyntheticConfig, Utterance, channels, plan, speakers
from .voice import synthesize


VERSION = 1  # bump whenever the same config would give different files
STAMP = "pdt_synthetic.json"
METADATA = "metadata.csv"
# Annotators' category names for IEMOCAP's codes, and mean (valence, activation, dominance) of
# each acoustic emotion on IEMOCAP's 1-5 scales.
NAMES = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "sad": "Sadness", "ang": "Anger",
         "fru": "Frustration", "sur": "Surprise", "fea": "Fear", "dis": "Disgust", "oth": "Other"}
VAD = {"neutral": (2.9, 2.6, 2.8), "happy": (3.9, 3.3, 3.1), "angry": (1.9, 3.7, 3.8), "sad": (2.2, 2.3, 2.4)}


def default_root(config: SyntheticConfig = SyntheticConfig()) -> Path:
    """`paths.data_dir()/synthetic/<seed, scale and a short hash of version + config>`."""
    key = json.dumps({"version": VERSION, "config": config.to_dict()}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return paths.data_dir() / "synthetic" / f"seed{config.seed}-scale{config.scale:g}-{digest}"


def is_complete(root, config: SyntheticConfig = SyntheticConfig()) -> bool:
    """Whether `root` holds a finished corpus of this generator version and config (its stamp)."""
    try:
        stamp = json.loads((Path(root) / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("version") == VERSION and stamp.get("config") == config.to_dict()


def generate_corpus(config: SyntheticConfig = SyntheticConfig(), root: Path | None = None, *,
                    progress: bool | None = None, workers: int | None = None) -> Path:
    """Write the corpus of `config` into `root` (default: `default_root(config)`) and return `root`.

    A root whose stamp matches (same generator version and config) is returned untouched.
    Otherwise whatever an earlier, interrupted or different run left there (Session1..5,
    metadata.csv, the stamp) is removed and the corpus is written afresh; the stamp comes last,
    atomically, so only a complete corpus is ever trusted. `workers` processes synthesise
    (default: all CPU cores); the files do not depend on it. `progress`: None follows
    pdtlib.system.progress (PDT_PROGRESS, CI, a terminal).
    """
    root = Path(root) if root is not None else default_root(config)
    if not is_complete(root, config):
        with exclusive(root):  # two notebooks asking for the same corpus at once: one writes it
            if not is_complete(root, config):
                _write_corpus(config, root, progress, workers or os.cpu_count() or 1)
    return root


def _write_corpus(config: SyntheticConfig, root: Path, progress: bool | None, workers: int) -> None:
    for old in [root / STAMP, root / METADATA, *(root / f"Session{s}" for s in SESSIONS)]:
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    began = time.time()
    utterances = plan(config)
    write_labels(root, utterances, config)
    tasks = [(config, utt, wav_path(root, utt)) for utt in utterances]
    bar = dict(total=len(tasks), desc="synthetic corpus", unit="utt", enabled=progress)
    if workers == 1:
        for _ in progress_bar(map(_write_wav, tasks), **bar):
            pass
    else:
        with ProcessPoolExecutor(workers) as pool:
            for _ in progress_bar(pool.map(_write_wav, tasks, chunksize=8), **bar):
                pass
    table = pd.DataFrame([asdict(utt) for utt in utterances])
    table.insert(2, "path", [str(path.relative_to(root)) for _, _, path in tasks])
    table.to_csv(root / METADATA, index=False)
    # "generator" names the package (pdtlib.corpora.synthetic), as before it was split up.
    write_json(root / STAMP, {"generator": __package__, "version": VERSION, "config": config.to_dict(),
                              "utterances": len(table), "kept": int((table["label"] != "").sum()),
                              "seconds": round(time.time() - began, 1)})


def load_synthetic(config: SyntheticConfig = SyntheticConfig(), split: str = "paper", **kwargs) -> pd.DataFrame:
    """The generated corpus of `config` (made on first use) read by `load_iemocap`, exactly as a
    user's IEMOCAP is read; `split` and `kwargs` go to load_iemocap."""
    return load_iemocap(generate_corpus(config), split=split, **kwargs)


def read_metadata(root) -> pd.DataFrame:
    """The generator's per-utterance record (`Utterance` fields + path relative to `root`)."""
    table = pd.read_csv(Path(root) / METADATA, keep_default_na=False)
    return table.assign(path=[str(Path(root) / p) for p in table["path"]])


def wav_path(root: Path, utt: Utterance) -> Path:
    return root / f"Session{utt.session}" / WAV_DIR / utt.dialog / f"{utt.utterance_id}.wav"


_VOICES: dict = {}  # config -> (speakers, channels), once per worker process


def _write_wav(task) -> None:
    config, utt, path = task
    if config not in _VOICES:
        _VOICES[config] = speakers(config), channels(config)
    voices, rooms = _VOICES[config]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synthesize(utt, voices[utt.speaker], rooms[utt.session], config), SAMPLE_RATE, subtype="PCM_16")


def write_labels(root: Path, utterances: list[Utterance], config: SyntheticConfig) -> None:
    """IEMOCAP's EmoEvaluation files: one per dialog (label lines, each followed by annotator
    lines that are not label lines), plus per-annotator files in the Categorical/ sub-folder."""
    by_dialog: dict[str, list[Utterance]] = {}
    for utt in utterances:
        by_dialog.setdefault(utt.dialog, []).append(utt)
    for dialog, items in by_dialog.items():
        items.sort(key=lambda utt: utt.start)
        folder = root / f"Session{items[0].session}" / LABEL_DIR
        (folder / "Categorical").mkdir(parents=True, exist_ok=True)
        lines, categorical = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""], []
        for utt in items:
            block, names = _label_block(utt, config)
            lines += block
            categorical.append(f"{utt.utterance_id} :{names[1]}; ()")  # evaluator 2's file
        (folder / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
        (folder / "Categorical" / f"{dialog}_e2_cat.txt").write_text("\n".join(categorical) + "\n")


def _label_block(utt: Utterance, config: SyntheticConfig) -> tuple[list[str], list[str]]:
    """One utterance's lines of its dialog's label file (label line, annotator lines, a blank
    line) and its three annotators' category names."""
    rng = np.random.default_rng([config.seed, 5, utt.index])
    # V, A, D: neutral's moved towards the acoustic emotion by the intensity, plus rater scatter,
    # rounded to sixths (averages of integer ratings) within 1..5.
    vad = np.array(VAD["neutral"]) + utt.intensity * (np.array(VAD[utt.acoustic]) - VAD["neutral"])
    vad = np.clip(np.round((vad + 0.3 * rng.standard_normal(3)) * 6) / 6, 1, 5)
    names = _annotations(utt.code, rng)
    lines = [f"[{utt.start:.4f} - {utt.start + utt.duration:.4f}]\t{utt.utterance_id}\t{utt.code}\t"
             f"[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]"]
    lines += [f"C-E{evaluator}:\t{name};\t()" for evaluator, name in zip((1, 2, 4), names)]
    lines.append(f"C-{utt.speaker[-1]}1:\t{names[0]};\t()")
    lines += [f"A-E{evaluator}:\tval {round(vad[0])}; act {round(vad[1])}; dom  {round(vad[2])};\t()"
              for evaluator in (1, 2)]
    return lines + [""], names


def _annotations(code: str, rng) -> list[str]:
    """Three annotators' category names: two agree with `code`, or all differ for `xxx`."""
    others = [name for other, name in NAMES.items() if other != code]
    if code == "xxx":
        return [str(name) for name in rng.choice(others, 3, replace=False)]
    return [NAMES[code], NAMES[code], NAMES[code] if rng.random() < 0.5 else str(rng.choice(others))]
