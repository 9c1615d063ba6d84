"""A trained model (a bundle, pdtlib.bundle) on audio files: their 256-D vectors, or emotions and
SVM scores, returned with what was done to the audio and what could not be read. Prints nothing.

    from pdtlib.predict import predict_files
    result = predict_files("reports/default", ["clip.wav", "recordings/", "my_corpus.csv"])
    print(result.table())              # utterance_id, path, [label], predicted, a score per emotion, warning
    print(*result.failures, sep="\n")  # "FILE: REASON" for each input skipped
    result.vectors, result.notes       # (N, 256) float32; ["3 files resampled from 44100 Hz to 16000 Hz", ...]

INPUTS: audio files, folders (searched recursively for AUDIO_EXTENSIONS, through symbolic links;
a link that loops or leads nowhere is a failure when it has an audio file's name, a note when
not) and manifest CSVs (corpora.manifest: their labels, speakers and ids come along). A file given
twice is used once; file names shared by different files become their paths as ids.

AUDIO: any rate and channel count, resampled to the model's 16 kHz and averaged to mono; audio
longer than the model's duration is cropped from the start as in training, or with
`segments=True` cut into windows whose vectors are averaged; only the part used is read. A
near-silent or very short file is kept, with its `warnings`. The notes, the files' warnings and
the failures are kept in one `log`, in the order met (what `pdt` prints on stderr).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import soundfile as sf

from . import paths
from .audio import AudioError, file_problem, load_audio
from .corpora import CorpusError, load_manifest
from .precision import check as check_precision
from .progress import progress

# pdtlib.bundle (torch: seconds to import) is imported where it is used, so that importing this
# module (as `pdt --help` does, for AUDIO_EXTENSIONS) stays instant.
if TYPE_CHECKING:
    from .bundle import Bundle

# File name extension -> soundfile format; a folder is searched for those libsndfile reads here.
_EXTENSION_FORMATS = {"wav": "WAV", "wave": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "opus": "OGG",
                      "mp3": "MP3", "aif": "AIFF", "aiff": "AIFF", "aifc": "AIFF", "au": "AU", "snd": "AU",
                      "caf": "CAF", "w64": "W64", "rf64": "RF64", "sph": "NIST", "nist": "NIST", "voc": "VOC"}
AUDIO_EXTENSIONS = tuple(ext for ext, fmt in _EXTENSION_FORMATS.items() if fmt in sf.available_formats())
PROGRESS_MIN_FILES = 8  # a progress bar (on stderr, where one is shown at all) for more files than this


@dataclass
class Item:
    """One audio file to process; label, speaker and split come from a manifest."""

    path: Path
    shown: str  # the path as the user gave or would write it
    utterance_id: str
    label: str = ""
    speaker: str = ""
    split: str = ""
    warnings: tuple[str, ...] = ()  # bundle.input_warnings: near silence, far shorter than the window


@dataclass(frozen=True)
class Failure:
    """An input skipped, and why: an audio file, a folder without audio, a bad link, a manifest."""

    file: str
    reason: str
    manifest: bool = False  # a manifest CSV that could not be read (its files are then unknown)

    def __str__(self) -> str:
        return f"{'manifest ' if self.manifest else ''}{self.file}: {self.reason}"


@dataclass(frozen=True)
class Note:
    """What the user should know that is not a failure: a conversion, a link skipped, a file's warnings."""

    text: str
    from_manifest: bool = False  # load_manifest's own remark (rows dropped), in its words

    def __str__(self) -> str:
        return self.text


@dataclass
class Embeddings:
    """What embed_files returns: one row per file read, in input order."""

    bundle: Bundle
    items: list[Item]  # the files read; row i of `vectors` is items[i]'s
    vectors: np.ndarray  # (N, embedding_dim) float32
    log: list[Note | Failure]  # in the order met: the bundle's notes, the inputs', the audio's

    @property
    def notes(self) -> list[str]:
        return [note.text for note in self.log if isinstance(note, Note)]

    @property
    def failures(self) -> list[Failure]:
        return [failure for failure in self.log if isinstance(failure, Failure)]

    @property
    def warnings(self) -> dict[str, tuple[str, ...]]:
        """Each file with warnings (by its path as given) -> the warnings; its row is kept."""
        return {item.shown: item.warnings for item in self.items if item.warnings}

    def table(self) -> pd.DataFrame:
        """utterance_id, path, [label, speaker, split when any file has one], warning ('' or the
        file's warnings joined by '; '): the per-row columns vectors.write_vectors takes."""
        return pd.DataFrame({"utterance_id": [i.utterance_id for i in self.items],
                             "path": [str(i.path) for i in self.items],
                             **{c: [getattr(i, c) for i in self.items] for c in self._known_columns()},
                             "warning": ["; ".join(i.warnings) for i in self.items]})

    def _known_columns(self) -> list[str]:
        return [c for c in ("label", "speaker", "split") if any(getattr(i, c) for i in self.items)]


@dataclass
class Predictions(Embeddings):
    """What predict_files returns: Embeddings plus each file's emotion and SVM scores."""

    predicted: list[str]  # one of bundle.labels per row
    scores: np.ndarray  # (N, len(bundle.labels)) SVM decision scores (Bundle.predict_vectors); NaN: a class unseen

    def table(self) -> pd.DataFrame:
        """utterance_id, path, [label when a manifest gave one], predicted, one score column per
        label (bundle.labels order), warning."""
        rows = super().table()
        return pd.DataFrame({"utterance_id": rows["utterance_id"], "path": rows["path"],
                             **({"label": rows["label"]} if "label" in rows else {}), "predicted": self.predicted,
                             **{label: self.scores[:, k] for k, label in enumerate(self.bundle.labels)},
                             "warning": rows["warning"]})

    def accuracy(self) -> dict | None:
        """evaluate.evaluate_predictions (ua, wa, n, ...) when every file came with a label (a
        manifest), else None."""
        if not self.items or not all(item.label for item in self.items):
            return None
        from .evaluate import evaluate_predictions

        index = {label: k for k, label in enumerate(self.bundle.labels)}
        return evaluate_predictions(pd.Series([item.label for item in self.items]).map(index),
                                    pd.Series(self.predicted).map(index))


def embed_files(bundle_or_path, inputs, *, segments: bool = False, batch_size: int = 32,
                precision: str | None = None) -> Embeddings:
    """The 256-D vector of every audio file in `inputs` (files, folders, manifest CSVs; one path or
    a list) by the bundle (a Bundle, or a run folder, run name or bundle folder: bundle.find_bundle).
    `segments`: average the vectors of consecutive windows over each whole file instead of using
    its first window. `batch_size` files are read and windows encoded at a time. Files that cannot
    be read are left out and listed in `failures`; raises bundle.BundleError for an unusable model.
    `precision` (auto, fp32, bf16; pdtlib.precision): default the one the model was trained in."""
    return _embeddings(bundle_or_path, inputs, segments, batch_size, precision, desc="pdt embed")


def predict_files(bundle_or_path, inputs, *, segments: bool = False, batch_size: int = 32,
                  precision: str | None = None) -> Predictions:
    """embed_files, then the SVM's emotion and per-emotion decision scores of each file."""
    embedded = _embeddings(bundle_or_path, inputs, segments, batch_size, precision, desc="pdt predict")
    predicted, scores = embedded.bundle.predict_vectors(embedded.vectors)
    return Predictions(**vars(embedded), predicted=predicted, scores=scores)


def _embeddings(bundle_or_path, inputs, segments: bool, batch_size: int, precision: str | None,
                desc: str) -> Embeddings:
    bundle = _loaded(bundle_or_path)
    if precision is not None:
        bundle = dataclasses.replace(bundle, precision=check_precision(precision))
    log: list[Note | Failure] = [Note(note) for note in bundle.notes]
    items = collect_inputs([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs, log)
    done, vectors = embed_items(bundle, items, segments=segments, batch_size=batch_size, log=log, desc=desc)
    return Embeddings(bundle, done, vectors, log)


def _loaded(bundle_or_path) -> Bundle:
    from .bundle import Bundle, load_bundle

    return bundle_or_path if isinstance(bundle_or_path, Bundle) else load_bundle(bundle_or_path)


# ---------------------------------------------------------------- inputs

def collect_inputs(inputs, log: list) -> list[Item]:
    """Files, folders and manifest CSVs -> one Item per distinct audio file, ids made unique; what
    was skipped goes to `log` (Notes and Failures)."""
    items: list[Item] = []
    for arg in inputs:
        path = Path(arg).expanduser()
        if path.is_dir():
            found = _folder_audio(path, Path(arg), log)
            if not found:
                looked_for = ", ".join(AUDIO_EXTENSIONS)
                log.append(Failure(str(arg), f"a folder with no audio files (looked for {looked_for})"))
            items += found
        elif path.suffix.lower() == ".csv" and path.is_file():
            items += _manifest_items(path, str(arg), log)
        else:  # a file, or a path that does not exist: load_audio names the problem
            items.append(Item(path, str(arg), path.stem))
    return _unique(items, log)


def _folder_audio(folder: Path, shown: Path, log: list) -> list[Item]:
    """The audio files below `folder` (hidden entries left out), symbolic links to files and
    folders followed. Each folder is searched once: a link back into one already searched (a
    loop) is noted and skipped, as is a link that leads nowhere (a failure when it has an audio
    file's name). Sorted by path."""
    found, searched, pending = [], {}, [(folder, shown)]
    while pending:
        here, name = pending.pop()
        status = here.stat()
        inode = (status.st_dev, status.st_ino)
        if inode in searched:
            log.append(Note(f"skipped {name}: a link to {searched[inode]}, which is searched already"))
            continue
        searched[inode] = name
        for entry in os.scandir(here):
            path, entry_name = Path(entry.path), name / entry.name
            if entry.name.startswith("."):
                continue
            problem = file_problem(path) if entry.is_symlink() else ""
            if problem and problem != "not a regular file":  # a link that loops or leads nowhere
                log.append(Failure(str(entry_name), problem) if _is_audio(path)
                           else Note(f"skipped {entry_name}: {problem}"))
            elif path.is_dir():
                pending.append((path, entry_name))
            elif path.is_file() and _is_audio(path):
                found.append(Item(path, str(entry_name), path.stem))
    return sorted(found, key=lambda item: Path(item.shown).parts)


def _is_audio(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS


def _manifest_items(path: Path, arg: str, log: list) -> list[Item]:
    said = io.StringIO()  # load_manifest prints its remarks (rows dropped for their labels): kept as notes
    try:
        with contextlib.redirect_stdout(said):
            table = load_manifest(path)
    except CorpusError as exc:
        table, problem = None, str(exc)
    log += [Note(line, from_manifest=True) for line in said.getvalue().splitlines()]
    if table is None:
        log.append(Failure(arg, problem, manifest=True))
        return []
    return [Item(Path(r.path), paths.shown(r.path, Path.cwd()), str(r.utterance_id), str(r.label), str(r.speaker),
                 str(r.split)) for r in table.itertuples(index=False)]


def _unique(items: list[Item], log: list) -> list[Item]:
    """Drop repeats of a file; ids shared by different files become their paths (then numbered)."""
    seen, kept = set(), []
    for item in items:
        key = item.path.resolve() if item.path.exists() else item.path
        if key not in seen:
            seen.add(key)
            kept.append(item)
    if len(kept) < len(items):
        log.append(Note(f"{_count(len(items) - len(kept), 'file')} given more than once, used once"))
    shared = Counter(item.utterance_id for item in kept)
    for item in kept:
        if shared[item.utterance_id] > 1:
            item.utterance_id = item.shown
    taken = Counter()
    for item in kept:
        taken[item.utterance_id] += 1
        if taken[item.utterance_id] > 1:
            item.utterance_id = f"{item.utterance_id}#{taken[item.utterance_id]}"
    return kept


# ---------------------------------------------------------------- audio -> vectors

class Conversions:
    """What was done to the audio to match the model's input, told as one note per kind."""

    def __init__(self, bundle: Bundle, segments: bool):
        self.cfg, self.segments = bundle.feature_config, segments
        self.rates, self.channels = Counter(), Counter()
        self.cropped = self.padded = self.split = self.windows = self.dropped = 0

    def add(self, path: Path) -> None:
        info = sf.info(str(path))  # the header: rate, channels and length before load_audio's conversion
        n_samples = int(round(info.frames * self.cfg.sample_rate / info.samplerate))  # the whole file's, at 16 kHz
        if info.samplerate != self.cfg.sample_rate:
            self.rates[info.samplerate] += 1
        if info.channels > 1:
            self.channels[info.channels] += 1
        if self.segments:
            from .bundle import segment_bounds

            bounds = segment_bounds(n_samples, self.cfg)
            self.split += len(bounds) > 1
            self.windows += len(bounds)
            self.dropped += len(segment_bounds(n_samples, self.cfg, min_last_s=0)) - len(bounds)
        self.cropped += n_samples > self.cfg.n_samples and not self.segments
        self.padded += n_samples < self.cfg.n_samples

    def notes(self) -> list[str]:
        d, sr = f"{self.cfg.duration:g} s", self.cfg.sample_rate
        out = [f"{_count(n, 'file')} resampled from {rate} Hz to {sr} Hz" for rate, n in sorted(self.rates.items())]
        out += [f"{_count(n, 'stereo file')} averaged to mono" if c == 2 else
                f"{_count(n, 'file')} with {c} channels averaged to mono" for c, n in sorted(self.channels.items())]
        if self.cropped:
            out.append(f"{_count(self.cropped, 'file')} longer than {d}: only the first {d} used, as in training "
                       f"(--segments averages {d} windows over the whole file)")
        if self.split:
            out.append(f"--segments: {_count(self.split, 'file')} cut into {self.windows} windows in all "
                       f"(up to {d} each), vectors averaged per file")
        if self.dropped:
            out.append(f"--segments: {_count(self.dropped, 'last window')} under 1 s dropped")
        if self.padded:
            how = "by repeating the last frame" if self.cfg.pad == "repeat" else "with zeros"
            out.append(f"{_count(self.padded, 'file')} shorter than {d} padded {how}, as in training")
        return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def embed_items(bundle: Bundle, items: list[Item], *, segments: bool, batch_size: int, log: list,
                desc: str = "embedding") -> tuple[list[Item], np.ndarray]:
    """Load, convert and embed `items` `batch_size` files at a time -> the items read and their
    `(n, embedding_dim)` vectors; files that cannot be read, each file's warnings and the
    conversions go to `log`."""
    from .bundle import input_warnings

    conversions = Conversions(bundle, segments)
    done, vectors = [], []
    bar = progress(total=len(items), desc=desc, unit="file", enabled=None if len(items) > PROGRESS_MIN_FILES else False)
    cfg = bundle.feature_config
    for start in range(0, len(items), batch_size):
        waves = []
        for item in items[start:start + batch_size]:
            try:  # the first window only, unless `segments` uses the whole file
                wave = load_audio(item.path, cfg.sample_rate, seconds=None if segments else cfg.duration)
                conversions.add(item.path)
            except AudioError as exc:  # its message: "<path>: <problem> (<hint>)"
                log.append(Failure(str(exc.path), str(exc).removeprefix(f"{exc.path}: ")))
                continue
            except (OSError, ValueError, RuntimeError) as exc:  # e.g. the resampler on an odd rate
                log.append(Failure(str(item.path), str(exc)))
                continue
            item.warnings = tuple(input_warnings(wave, cfg, segments))
            if item.warnings:
                log.append(Note(f"{item.shown}: {'; '.join(item.warnings)}: its result says little"))
            waves.append(wave)
            done.append(item)
        if waves:
            vectors.append(bundle.embed_waves(waves, segments=segments, batch_size=batch_size))
        bar.update(len(items[start:start + batch_size]))
    bar.close()
    log += [Note(note) for note in conversions.notes()]
    return done, (np.concatenate(vectors) if vectors else np.empty((0, bundle.embedding_dim), np.float32))
