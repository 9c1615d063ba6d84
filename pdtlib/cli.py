"""`pdt`: a trained PDT + SVM (a model bundle, bundle.py) on your own audio.

    pdt predict clip.wav recordings/ --model reports/default        emotion + SVM scores per file
    pdt embed recordings/ my_corpus.csv --out vectors.parquet        256-D vectors per file
    pdt info reports/default                                         what the model is and how it scored

INPUT: audio files, folders (searched recursively for AUDIO_EXTENSIONS) or manifest CSVs
(corpora.manifest: their labels, speakers and ids come along). Any sample rate, any channel
count: files are resampled to 16 kHz and averaged to mono (a note on stderr says how many).
Audio longer than the model's duration is cropped from the start as in training (noted), or
with --segments cut into windows whose vectors are averaged; only the part used is read. A file
that cannot be read is named on stderr with the reason and skipped; the exit status is then 1
(2: usage errors, such as an --out that cannot be written, found before any audio is read). A
near-silent or very short input is named on stderr and flagged in the output (`warning`).
Folders are searched through symbolic links; a link that loops or leads nowhere is named.
`--model` defaults to reports/default, the run `make report` makes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import soundfile as sf

from . import __version__, paths
from .atomic import atomic_path
from .audio import AudioError, file_problem, load_audio
from .corpora import CorpusError, load_manifest
from .progress import progress

# pdtlib.bundle and pdtlib.evaluate (torch, scikit-learn: seconds to import) are imported where
# they are used, once the arguments are parsed, so that `pdt --help` stays instant.
if TYPE_CHECKING:
    from .bundle import Bundle

# File name extension -> soundfile format; a folder is searched for those libsndfile reads here.
_EXTENSION_FORMATS = {"wav": "WAV", "wave": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "opus": "OGG",
                      "mp3": "MP3", "aif": "AIFF", "aiff": "AIFF", "aifc": "AIFF", "au": "AU", "snd": "AU",
                      "caf": "CAF", "w64": "W64", "rf64": "RF64", "sph": "NIST", "nist": "NIST", "voc": "VOC"}
AUDIO_EXTENSIONS = tuple(ext for ext, fmt in _EXTENSION_FORMATS.items() if fmt in sf.available_formats())
OUTPUT_FORMATS = (".npz", ".csv", ".parquet")
PROGRESS_MIN_FILES = 8  # a progress bar (on stderr) for more files than this


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


class Failures:
    """Problems met along the way, each told once on stderr; any of them makes the exit status 1."""

    def __init__(self, command: str):
        self.command, self.count = command, 0

    def __call__(self, message: str, writer=None) -> None:
        self.count += 1
        (writer or _print_err)(f"pdt {self.command}: skipped {message}")


def _print_err(line: str) -> None:
    print(line, file=sys.stderr)


# ---------------------------------------------------------------- inputs

def collect_inputs(inputs, fail: Failures) -> list[Item]:
    """Files, folders and manifest CSVs -> one Item per distinct audio file, ids made unique."""
    items: list[Item] = []
    for arg in inputs:
        path = Path(arg).expanduser()
        if path.is_dir():
            found = _folder_audio(path, Path(arg), fail)
            if not found:
                fail(f"{arg}: a folder with no audio files (looked for {', '.join(AUDIO_EXTENSIONS)})")
            items += found
        elif path.suffix.lower() == ".csv" and path.is_file():
            items += _manifest_items(path, arg, fail)
        else:  # a file, or a path that does not exist: load_audio names the problem
            items.append(Item(path, str(arg), path.stem))
    return _unique(items)


def _folder_audio(folder: Path, shown: Path, fail: Failures) -> list[Item]:
    """The audio files below `folder` (hidden entries left out), symbolic links to files and
    folders followed. Each folder is searched once: a link back into one already searched (a
    loop) is named and skipped, as is a link that leads nowhere (a failure when it has an audio
    file's name). Sorted by path."""
    found, searched, pending = [], {}, [(folder, shown)]
    while pending:
        here, name = pending.pop()
        status = here.stat()
        inode = (status.st_dev, status.st_ino)
        if inode in searched:
            _print_err(f"note: skipped {name}: a link to {searched[inode]}, which is searched already")
            continue
        searched[inode] = name
        for entry in os.scandir(here):
            path, entry_name = Path(entry.path), name / entry.name
            if entry.name.startswith("."):
                continue
            problem = file_problem(path) if entry.is_symlink() else ""
            if problem and problem != "not a regular file":  # a link that loops or leads nowhere
                if _is_audio(path):
                    fail(f"{entry_name}: {problem}")
                else:
                    _print_err(f"note: skipped {entry_name}: {problem}")
            elif path.is_dir():
                pending.append((path, entry_name))
            elif path.is_file() and _is_audio(path):
                found.append(Item(path, str(entry_name), path.stem))
    return sorted(found, key=lambda item: Path(item.shown).parts)


def _is_audio(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS


def _manifest_items(path: Path, arg: str, fail: Failures) -> list[Item]:
    try:
        with contextlib.redirect_stdout(sys.stderr):  # its notes on dropped labels are not output
            table = load_manifest(path)
    except CorpusError as exc:
        fail(f"manifest {arg}: {exc}")
        return []
    return [Item(Path(r.path), paths.shown(r.path, Path.cwd()), str(r.utterance_id), str(r.label), str(r.speaker), str(r.split))
            for r in table.itertuples(index=False)]


def _unique(items: list[Item]) -> list[Item]:
    """Drop repeats of a file; ids shared by different files become their paths (then numbered)."""
    seen, kept = set(), []
    for item in items:
        key = item.path.resolve() if item.path.exists() else item.path
        if key not in seen:
            seen.add(key)
            kept.append(item)
    if len(kept) < len(items):
        _print_err(f"note: {_count(len(items) - len(kept), 'file')} given more than once, used once")
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
        return [f"note: {line}" for line in out]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def embed_items(bundle: Bundle, items: list[Item], *, segments: bool, batch_size: int, fail: Failures,
                desc: str) -> tuple[list[Item], np.ndarray]:
    """Load, convert and embed `items` `batch_size` files at a time -> the items read and their vectors."""
    from .bundle import input_warnings

    conversions = Conversions(bundle, segments)
    done, vectors = [], []
    bar = progress(total=len(items), desc=desc, unit="file", file=sys.stderr,
                   enabled=None if len(items) > PROGRESS_MIN_FILES else False)
    write = lambda line: bar.write(line, file=sys.stderr)  # noqa: E731 (above the bar, not through it)
    cfg = bundle.feature_config
    for start in range(0, len(items), batch_size):
        waves = []
        for item in items[start:start + batch_size]:
            try:  # the first window only, unless --segments uses the whole file
                wave = load_audio(item.path, cfg.sample_rate, seconds=None if segments else cfg.duration)
                conversions.add(item.path)
            except AudioError as exc:
                fail(str(exc), write)
                continue
            except (OSError, ValueError, RuntimeError) as exc:  # e.g. the resampler on an odd rate
                fail(f"{item.path}: {exc}", write)
                continue
            item.warnings = tuple(input_warnings(wave, cfg, segments))
            if item.warnings:
                write(f"note: {item.shown}: {'; '.join(item.warnings)}: its result says little")
            waves.append(wave)
            done.append(item)
        if waves:
            vectors.append(bundle.embed_waves(waves, segments=segments, batch_size=batch_size))
        bar.update(len(items[start:start + batch_size]))
    bar.close()
    for note in conversions.notes():
        _print_err(note)
    return done, (np.concatenate(vectors) if vectors else np.empty((0, bundle.embedding_dim), np.float32))


# ---------------------------------------------------------------- outputs

def _known_columns(items: list[Item]) -> list[str]:
    return [c for c in ("label", "speaker", "split") if any(getattr(i, c) for i in items)]


def _warning_column(items: list[Item]) -> list[str]:
    """Each item's warnings in one text cell, '' when none."""
    return ["; ".join(i.warnings) for i in items]


def vector_table(items: list[Item], vectors: np.ndarray) -> pd.DataFrame:
    """utterance_id, path, [label, speaker, split when known], warning, v000..v255."""
    meta = pd.DataFrame({"utterance_id": [i.utterance_id for i in items], "path": [str(i.path) for i in items],
                         **{c: [getattr(i, c) for i in items] for c in _known_columns(items)},
                         "warning": _warning_column(items)})
    values = pd.DataFrame(vectors, columns=[f"v{k:03d}" for k in range(vectors.shape[1])])
    return pd.concat([meta, values], axis=1)


def write_vectors(path: Path, items: list[Item], vectors: np.ndarray) -> None:
    """`.npz` (the keys of work/vectors.npz: vectors, utterance_id, ..., warning), `.csv` or `.parquet`
    (any case), atomically."""
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, vectors=vectors.astype(np.float32),
                         utterance_id=np.array([i.utterance_id for i in items], dtype=str),
                         path=np.array([str(i.path) for i in items], dtype=str),
                         **{c: np.array([getattr(i, c) for i in items], dtype=str) for c in _known_columns(items)},
                         warning=np.array(_warning_column(items), dtype=str))
        elif path.suffix.lower() == ".csv":
            vector_table(items, vectors).to_csv(tmp, index=False)
        else:
            vector_table(items, vectors).to_parquet(tmp, index=False)


def prediction_table(bundle: Bundle, items: list[Item], vectors: np.ndarray) -> pd.DataFrame:
    predicted, scores = bundle.predict_vectors(vectors)
    known = [c for c in _known_columns(items) if c == "label"]
    return pd.DataFrame({"utterance_id": [i.utterance_id for i in items], "path": [str(i.path) for i in items],
                         **{c: [getattr(i, c) for i in items] for c in known}, "predicted": predicted,
                         **{label: scores[:, k] for k, label in enumerate(bundle.labels)},
                         "warning": _warning_column(items)})


def _accuracy_line(table: pd.DataFrame, labels) -> str | None:
    """UA and WA when every file came with a label (a manifest)."""
    if "label" not in table or not (table["label"] != "").all():
        return None
    from .evaluate import evaluate_predictions

    index = {label: k for k, label in enumerate(labels)}
    m = evaluate_predictions(table["label"].map(index), table["predicted"].map(index))
    return f"UA {100 * m['ua']:.2f}%, WA {100 * m['wa']:.2f}% on {m['n']} labelled files"


# ---------------------------------------------------------------- commands

def _model(args) -> Bundle:
    from .bundle import load_bundle

    bundle = load_bundle(args.model if args.model is not None else paths.reports_dir() / "default")
    for note in bundle.notes:
        _print_err(f"note: {note}")
    return bundle


def destination_problem(out: Path, force: bool) -> str:
    """What stops `out` from being written ('' when nothing does), found before any audio is read:
    a folder, something that is not a regular file (a device such as /dev/full), an existing file
    without `force`, a missing or unwritable folder. The vectors are written beside it first and
    renamed over it (atomic_path), so its folder must take a new file."""
    if out.is_dir():
        return f"{out} is a folder; give a file name in it, e.g. {out / 'vectors.npz'}"
    if out.exists() and not out.is_file():
        return f"{out} is not a regular file; give the name of a file to write"
    if out.exists() and not force:
        return f"{out} exists; pass --force to overwrite it, or choose another name"
    folder = out.absolute().parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist; create it first"
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        return f"cannot write in {folder} ({exc.strerror})"
    return ""


def cmd_embed(args, fail: Failures) -> int:
    out = Path(args.out).expanduser()
    problem = destination_problem(out, args.force)
    if problem:
        _print_err(f"pdt embed: error: --out {problem}")
        return 2
    bundle = _model(args)
    items = collect_inputs(args.inputs, fail)
    done, vectors = embed_items(bundle, items, segments=args.segments, batch_size=args.batch_size, fail=fail,
                                desc="pdt embed")
    if not done:
        _print_err(f"pdt embed: no audio could be read; {out} not written")
        return 1
    try:
        write_vectors(out, done, vectors)
    except OSError as exc:  # the disk filled up while embedding, or the folder changed
        _print_err(f"pdt embed: error: writing {out} failed ({exc.strerror or exc}); nothing was written")
        return 1
    _print_err(f"wrote {len(done)} vectors of {vectors.shape[1]} dimensions to {out}"
               + (f" ({fail.count} skipped)" if fail.count else ""))
    return 1 if fail.count else 0


def cmd_predict(args, fail: Failures) -> int:
    bundle = _model(args)
    items = collect_inputs(args.inputs, fail)
    done, vectors = embed_items(bundle, items, segments=args.segments, batch_size=args.batch_size, fail=fail,
                                desc="pdt predict")
    table = prediction_table(bundle, done, vectors)
    if args.format == "json":
        records = [{"utterance_id": r["utterance_id"], "path": r["path"],
                    **({"label": r["label"]} if "label" in table else {}), "predicted": r["predicted"],
                    "scores": {label: None if np.isnan(r[label]) else round(float(r[label]), 6)
                               for label in bundle.labels}, "warnings": list(item.warnings)}
                   for r, item in zip(table.to_dict("records"), done)]
        print(json.dumps(records, indent=2))
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False, float_format="%.6f")
    elif len(table):
        dropped = ["path"] + (["warning"] if not table["warning"].any() else [])  # the notes on stderr say why
        shown = table.drop(columns=dropped).rename(columns={"utterance_id": "file"})
        print(shown.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    accuracy = _accuracy_line(table, bundle.labels) if len(table) else None
    if accuracy:
        _print_err(accuracy)
    return 1 if fail.count or not done else 0


def cmd_info(args, fail: Failures) -> int:
    bundle = _model(args)
    if args.json:
        print(json.dumps(bundle.info, indent=2))
    else:
        print(describe(bundle))
    return 0


def cmd_corpus(args, fail: Failures) -> int:
    from .corpora.prepare import run  # the recipes live in pdtlib/corpora; this only runs them

    return run(args)


def describe(bundle: Bundle) -> str:
    """What `pdt info` prints: corpus, parameters and scores of a bundle, one labelled line each."""
    info, cfg, enc = bundle.info, bundle.feature_config, bundle.encoder_config
    lines = [("model", f"{paths.shown(bundle.path, Path.cwd())} (created {info.get('created', '?')}, pdtlib "
                       f"{info.get('pdtlib_version', '?')}, git "
                       f"{str(_get(info, 'environment', 'git', 'commit'))[:10]})"),
             ("labels", ", ".join(bundle.labels))]
    corpus = dict(info.get("corpus") or {})
    counts = corpus.pop("counts", None)
    speakers = corpus.pop("speakers", None)
    what = [f"{corpus.pop('corpus')} corpus" if "corpus" in corpus else "corpus"]
    if "utterances" in corpus:
        what.append(f"{corpus.pop('utterances')} utterances")
    if isinstance(speakers, dict):
        what.append(f"{sum(speakers.values())} speakers ({', '.join(f'{k} {v}' for k, v in speakers.items())})")
    what += [f"{k} {corpus[k]}" for k in ("split", "source", "manifest") if corpus.get(k)]
    lines.append(("trained on", "; ".join(what)))
    if isinstance(counts, dict) and counts:
        table = pd.DataFrame(counts).T.rename_axis("split").reset_index()
        lines += [("", row) for row in table.to_string(index=False).splitlines()]
    channels = "-".join(str(c) for c in enc.channels)
    lines.append(("encoder", f"{len(enc.channels)} conv blocks of {channels} channels + FC -> {enc.embedding_dim}-D, "
                             f"{_get(info, 'encoder', 'parameters', default=0) / 1e6:.2f} M parameters, "
                             f"{_get(info, 'encoder', 'flops', default=0) / 1e9:.3f} GFLOP per "
                             f"{cfg.duration:g} s input"))
    pad = "by repeating the last frame" if cfg.pad == "repeat" else "with zeros"
    norm = {"none": "as it is", "utterance": "standardised per utterance",
            "bins": "standardised per frequency bin with the training split's statistics"}[enc.input_norm]
    lines.append(("features", f"first {cfg.duration:g} s of {cfg.sample_rate / 1000:g} kHz mono audio (shorter audio "
                              f"padded {pad}), {cfg.n_bins} x {cfg.n_frames} log-spectrogram, {norm}"))
    svm = info.get("svm", {})
    params = ", ".join(f"{k}={svm[k]}" for k in ("kernel", "C", "gamma", "class_weight") if k in svm)
    metrics = info.get("metrics") or {}
    chosen = [f"chosen on validation UA {100 * metrics['val_ua']:.2f}%" if "val_ua" in metrics else "",
              f"refit on {metrics['refit_on']}" if "refit_on" in metrics else ""]
    lines.append(("svm", "; ".join([f"StandardScaler + SVC({params})", *filter(None, chosen)])))
    if "ua" in metrics:
        score = f"UA {100 * metrics['ua']:.2f}%" + (f", WA {100 * metrics['wa']:.2f}%" if "wa" in metrics else "")
        score += f" on {metrics['n']} test utterances" if "n" in metrics else ""
        score += f" ({metrics['protocol']})" if "protocol" in metrics else ""
        lines.append(("test", score))
        if isinstance(metrics.get("recall"), dict):
            lines.append(("recall", ", ".join(f"{k} {100 * v:.1f}%" for k, v in metrics["recall"].items()
                                              if isinstance(v, (int, float)))))
    else:
        lines.append(("test", "no UA/WA recorded in this bundle"))
    return "\n".join(f"{key:<11} {value}" for key, value in lines)


def _get(d: dict, *keys, default=None):
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


# ---------------------------------------------------------------- parser

def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _output_path(text: str) -> str:
    if Path(text).suffix.lower() not in OUTPUT_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: the format comes from the extension: "
                                         f"{', '.join(OUTPUT_FORMATS)}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pdt", description="Use a trained PDT + SVM emotion model (happy, angry, neutral, sad) on your own "
        "audio. The model is a bundle that `make report` writes to reports/<run>/model/.",
        epilog="Run `pdt COMMAND --help` for each command's options.")
    parser.add_argument("--version", action="version", version=f"pdt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    model_help = ("a report run folder (reports/<run>), a run name, or a bundle folder (holding bundle.json); "
                  "default: reports/default, the run `make report` makes (its model/ folder)")
    inputs_help = ("audio files (any rate, mono or stereo; " + ", ".join(AUDIO_EXTENSIONS) + "), folders "
                   "(searched recursively) or manifest CSVs (path,label,speaker,split columns, see README)")

    def audio_command(name, help_text, description):
        p = sub.add_parser(name, help=help_text, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_help)
        p.add_argument("--model", metavar="RUN_OR_BUNDLE", default=None, help=model_help)
        p.add_argument("--segments", action="store_true",
                       help="cut audio longer than the model's duration into consecutive windows of that duration "
                            "(a last window under 1 s dropped) and average their vectors; default: the first "
                            "duration seconds only, as in training")
        p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                       help="files read and windows encoded at a time (default 32)")
        return p

    embed = audio_command("embed", "write each file's 256-D PDT vector to a file", (
        "Write the encoder's 256-D vector of each audio file, with its utterance id (the file name without\n"
        "extension, or the path where two files share a name; a manifest's utterance_id), and its label,\n"
        "speaker and split when a manifest gives them.\n\n"
        "example:\n  pdt embed recordings/ --out vectors.parquet\n"
        "  pdt embed my_corpus.csv --model reports/default --out vectors.npz"))
    embed.add_argument("--out", required=True, type=_output_path, metavar="FILE",
                       help="output file; .npz (keys vectors, utterance_id, path[, label, speaker, split], warning), "
                            ".csv or .parquet (columns utterance_id, path[, label, speaker, split], warning, "
                            "v000..v255); checked before any audio is read")
    embed.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    embed.set_defaults(run=cmd_embed)

    predict = audio_command("predict", "print each file's predicted emotion and SVM scores", (
        "Print the predicted emotion of each audio file and the SVM's decision score for each emotion\n"
        "(one-vs-rest decision_function: higher = more that emotion; the prediction has the top score).\n"
        "With a manifest, its labels are shown and UA/WA printed on stderr.\n\n"
        "example:\n  pdt predict clip.wav recordings/\n  pdt predict recordings/ --format csv > predictions.csv"))
    predict.add_argument("--format", choices=("table", "csv", "json"), default="table",
                         help="an aligned table (default), csv or json, on stdout")
    predict.set_defaults(run=cmd_predict)

    info = sub.add_parser("info", help="what a model was trained on, its parameters and its UA/WA", description=(
        "Describe a model bundle: the corpus it was trained on (utterances per split and class), the\n"
        "encoder (channels, parameters, FLOPs), the features (duration, padding), the SVM's chosen\n"
        "parameters, and its UA/WA on the test split.\n\nexample:\n  pdt info reports/default"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    info.add_argument("model", nargs="?", metavar="RUN_OR_BUNDLE", default=None, help=model_help)
    info.add_argument("--model", dest="model_option", metavar="RUN_OR_BUNDLE", default=None,
                      help="the same, as the other commands take it")
    info.add_argument("--json", action="store_true", help="print the whole bundle.json instead")
    info.set_defaults(run=cmd_info)

    from .corpora.prepare import add_arguments as add_corpus_arguments

    corpus = sub.add_parser("corpus", help="write a public corpus (RAVDESS, CREMA-D, EmoDB, ...) as a manifest",
                            description=(
        "Read a public emotion corpus in its own file naming and write a manifest CSV: the four classes,\n"
        "speakers, genders, a speaker-disjoint split and speaker folds; copies dropped, a partial\n"
        "download named with what it lacks (docs/corpora.md).\n\n"
        "example:\n  pdt corpus ravdess ~/data/ravdess --out ~/data/ravdess/manifest.csv\n"
        "  make report CORPUS=manifest MANIFEST=~/data/ravdess/manifest.csv"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(corpus)
    corpus.set_defaults(run=cmd_corpus)
    return parser


def main(argv=None) -> int:
    """The `pdt` console script; returns the exit status (0 ok, 1 a file or the model failed, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from .bundle import BundleError

    if getattr(args, "model_option", None):
        args.model = args.model_option
    fail = Failures(args.command)
    try:
        return args.run(args, fail)
    except BrokenPipeError:  # `pdt predict ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BundleError as exc:
        _print_err(f"pdt {args.command}: error: {exc}")
        return 1
    except KeyboardInterrupt:
        _print_err(f"pdt {args.command}: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
