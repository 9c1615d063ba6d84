"""Which audio files a call of `pdt` or serving.predict reads: files, folders (searched recursively
for AUDIO_EXTENSIONS, through symbolic links; a link that loops or leads nowhere is a failure when
it has an audio file's name, a note when not) and manifest CSVs (corpora.manifest: their labels,
speakers and ids come along). A file given twice is used once; file names shared by different
files become their paths as ids. What was skipped goes to a `log` of Notes and Failures.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from ..audio import file_problem
from ..corpora import CorpusError, load_manifest
from ..system import paths

# File name extension -> soundfile format; a folder is searched for those libsndfile reads here.
_EXTENSION_FORMATS = {"wav": "WAV", "wave": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "opus": "OGG",
                      "mp3": "MP3", "aif": "AIFF", "aiff": "AIFF", "aifc": "AIFF", "au": "AU", "snd": "AU",
                      "caf": "CAF", "w64": "W64", "rf64": "RF64", "sph": "NIST", "nist": "NIST", "voc": "VOC"}
AUDIO_EXTENSIONS = tuple(ext for ext, fmt in _EXTENSION_FORMATS.items() if fmt in sf.available_formats())

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
        log.append(Note(f"{counted(len(items) - len(kept), 'file')} given more than once, used once"))
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


def counted(n: int, noun: str) -> str:
    """"1 file", "3 files": `n` and its noun."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
