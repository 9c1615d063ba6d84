"""`pdt`: a trained PDT + SVM (a model bundle, serving.bundle) on your own audio. This module parses
the arguments, calls pdtlib.serving.predict (the same as a library call) and prints what it returns.

    pdt predict clip.wav recordings/ --model reports/default        emotion + SVM scores per file
    pdt embed recordings/ my_corpus.csv --out vectors.parquet        256-D vectors per file
    pdt info reports/default                                         what the model is and how it scored
    pdt corpus ravdess ~/data/RAVDESS --out ravdess.csv             a public corpus as a manifest (docs/corpora.md)

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
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import __version__
from ..system import paths
from .inputs import AUDIO_EXTENSIONS, Failure
from .predict import embed_files, predict_files
from ..evaluation.vectors import VECTOR_FORMATS, write_vectors

# pdtlib.serving.bundle (torch, scikit-learn: seconds to import) is imported where it is used, once the
# arguments are parsed, so that `pdt --help` stays instant; pdtlib.serving.predict defers it too.
if TYPE_CHECKING:
    from .bundle import Bundle


def _print_err(line: str) -> None:
    print(line, file=sys.stderr)


def _tell(command: str, log) -> None:
    """predict's log on stderr, in the order met: failures as `pdt COMMAND: skipped FILE: REASON`,
    notes as `note: ...`, a manifest's own remarks as they are."""
    for entry in log:
        if isinstance(entry, Failure):
            _print_err(f"pdt {command}: skipped {entry}")
        else:
            _print_err(entry.text if entry.from_manifest else f"note: {entry.text}")


# ---------------------------------------------------------------- commands

def _model_path(args):
    return args.model if args.model is not None else paths.reports_dir() / "default"


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


def cmd_embed(args) -> int:
    out = Path(args.out).expanduser()
    problem = destination_problem(out, args.force)
    if problem:
        _print_err(f"pdt embed: error: --out {problem}")
        return 2
    result = embed_files(_model_path(args), args.inputs, segments=args.segments, batch_size=args.batch_size,
                         precision=args.precision)
    _tell("embed", result.log)
    skipped = len(result.failures)
    if not result.items:
        _print_err(f"pdt embed: no audio could be read; {out} not written")
        return 1
    try:
        write_vectors(out, result.table(), result.vectors)
    except OSError as exc:  # the disk filled up while embedding, or the folder changed
        _print_err(f"pdt embed: error: writing {out} failed ({exc.strerror or exc}); nothing was written")
        return 1
    _print_err(f"wrote {len(result.items)} vectors of {result.vectors.shape[1]} dimensions to {out}"
               + (f" ({skipped} skipped)" if skipped else ""))
    return 1 if skipped else 0


def cmd_predict(args) -> int:
    result = predict_files(_model_path(args), args.inputs, segments=args.segments, batch_size=args.batch_size,
                           precision=args.precision)
    _tell("predict", result.log)
    table, labels = result.table(), result.bundle.labels
    if args.format == "json":
        records = [{"utterance_id": r["utterance_id"], "path": r["path"],
                    **({"label": r["label"]} if "label" in table else {}), "predicted": r["predicted"],
                    "scores": {label: None if np.isnan(r[label]) else round(float(r[label]), 6) for label in labels},
                    "warnings": list(item.warnings)}
                   for r, item in zip(table.to_dict("records"), result.items)]
        print(json.dumps(records, indent=2))
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False, float_format="%.6f")
    elif len(table):
        dropped = ["path"] + (["warning"] if not table["warning"].any() else [])  # the notes on stderr say why
        shown = table.drop(columns=dropped).rename(columns={"utterance_id": "file"})
        print(shown.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    accuracy = result.accuracy()
    if accuracy:
        _print_err(f"UA {100 * accuracy['ua']:.2f}%, WA {100 * accuracy['wa']:.2f}% on {accuracy['n']} labelled files")
    return 1 if result.failures or not result.items else 0


def cmd_info(args) -> int:
    from .bundle import load_bundle

    bundle = load_bundle(_model_path(args))
    for note in bundle.notes:
        _print_err(f"note: {note}")
    if args.json:
        print(json.dumps(bundle.info, indent=2))
    else:
        print(describe(bundle))
    return 0


def cmd_corpus(args) -> int:
    from ..corpora.prepare import run  # the recipes live in pdtlib/corpora; this only runs them

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
    if Path(text).suffix.lower() not in VECTOR_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: the format comes from the extension: "
                                         f"{', '.join(VECTOR_FORMATS)}")
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
        p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                       help="the encoder's arithmetic: auto (bf16 on CUDA and on CPUs with native bf16, else "
                            "fp32), fp32 or bf16; default: the precision the model was trained in")
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

    from ..corpora.prepare import add_arguments as add_corpus_arguments

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
    try:
        return args.run(args)
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
