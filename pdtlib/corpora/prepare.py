"""Public corpora into manifests in one command (docs/corpora.md):

    pdt corpus NAME SOURCE_DIR --out MANIFEST.csv [--force]
    python -m pdtlib.corpora.prepare NAME SOURCE_DIR --out MANIFEST.csv [--force]

NAME is one of corpora.recipes.RECIPES: ravdess, crema-d, emodb, savee, tess, iemocap. The recipe
decodes the corpus's file naming into label, speaker, gender and utterance id; opens each file's
header and drops the files that cannot be read as audio (empty, not audio, cut short), naming each
with why; drops byte-identical copies of one speaker's recording under one emotion (the first in
path order kept, the others named); checks the counts against the published release and names what a partial download lacks
(then still writes); gives every row a speaker-disjoint split (train/val/test) and a fold of
speaker groups (corpora.recipes.assign); and writes the manifest (corpora.manifest's columns plus
`fold`), paths relative to its folder when the audio lies below it, else absolute.
Exit status: 0 written, 1 a corpus that cannot be used as it is, 2 a usage error (unknown NAME,
SOURCE_DIR not a folder or without any file of the corpus's naming, --out not usable).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from .. import EMOTIONS
from ..system.atomic import atomic_path
from .recipes import RECIPES, Recipe, UsageError, get_recipe
from .recipes.assign import Assignment, speaker_assignment, split_lines
from .recipes.checks import drop_copies, drop_unreadable, release_check
from .recipes.common import scan_files
from .table import COLUMNS, CorpusError, validate_table

MANIFEST_COLUMNS = ("path", "label", "speaker", "split", "session", "gender", "utterance_id", "fold")
KEY_WIDTH = 9  # the summary's left column
COPIES_SHOWN = 10


@dataclass
class Prepared:
    """What prepare_corpus wrote: the manifest's rows (paths as written) and the summary."""

    recipe: Recipe
    out: Path
    manifest: pd.DataFrame
    summary: list


def prepare_corpus(name: str, source, out, *, force: bool = False) -> Prepared:
    """Read corpus `name` below `source` and write its manifest to `out` (see the module docstring).
    Raises UsageError for a NAME, SOURCE_DIR or out that cannot be used, CorpusError for a corpus
    that cannot be (too few speakers, one recording under two labels)."""
    recipe = get_recipe(name)
    source, out = source_folder(source), destination(out, force)
    table, notes = (recipe.scan or partial(scan_files, recipe))(source)
    table = table.sort_values("path", kind="stable").reset_index(drop=True)
    table, unreadable = drop_unreadable(table, source)  # before copies: two empty files are no copies
    table, copies = drop_copies(table, source)
    release = release_check(table, recipe)
    kept = table[table["label"] != ""].reset_index(drop=True)
    assignment = (recipe.assign or speaker_assignment)(kept, recipe)
    manifest = manifest_rows(kept, assignment, out.parent)
    validate_table(kept.assign(speaker=manifest["speaker"], split=assignment.split, duration_s=float("nan"))
                   .loc[:, list(COLUMNS)], check_files=False, name=f"{recipe.title} manifest")
    write_manifest(manifest, out)
    summary = summary_lines(recipe, source, out, table, notes, release, copies, assignment, unreadable)
    return Prepared(recipe, out, manifest, summary)


def source_folder(source) -> Path:
    source = Path(source).expanduser()
    if not source.is_dir():
        raise UsageError(f"SOURCE_DIR {source} is not a folder{'' if source.exists() else ' (it does not exist)'}; "
                         "pass the folder where the corpus was unpacked")
    return source.resolve()


def destination(out, force: bool) -> Path:
    """`out` as an absolute path, once it is a .csv name that may be written."""
    out = Path(out).expanduser().absolute()
    if out.suffix.lower() != ".csv":
        raise UsageError(f"--out {out}: a manifest is a .csv file; give a name ending in .csv")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name in it, e.g. {out / 'manifest.csv'}")
    if out.exists() and not force:
        raise UsageError(f"--out {out} exists; pass --force to overwrite it, or choose another name")
    return out


def manifest_rows(kept: pd.DataFrame, assignment: Assignment, folder: Path) -> pd.DataFrame:
    """The manifest's columns (MANIFEST_COLUMNS), one row per kept recording, in path order."""
    folder = folder.resolve()
    speaker = kept["speaker"] if assignment.speaker is None else assignment.speaker
    return pd.DataFrame({
        "path": kept["path"].map(lambda p: manifest_path(Path(p), folder)),
        "label": kept["label"], "speaker": speaker, "split": assignment.split,
        "session": kept["session"].astype(str), "gender": kept["gender"],
        "utterance_id": kept["utterance_id"],
        "fold": assignment.fold.map(lambda k: str(int(k)) if k else ""),  # 0: the corpus has no folds
    }, columns=list(MANIFEST_COLUMNS))


def manifest_path(path: Path, folder: Path) -> str:
    """Relative to the manifest's folder when below it (corpora.manifest resolves it there, so the
    two move together), else absolute."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def write_manifest(manifest: pd.DataFrame, out: Path) -> None:
    with atomic_path(out) as tmp:
        manifest.to_csv(tmp, index=False)


def summary_lines(recipe, source, out, table, notes, release, copies, assignment, unreadable=()) -> list:
    """The summary `pdt corpus` prints: found, notes, release check, kept, unreadable files, copies, folds,
    split, written."""
    kept = table[table["label"] != ""]
    per_class = kept["label"].value_counts()
    left_out = table.loc[table["label"] == "", "emotion"].value_counts().sort_index()
    sections = [
        ("corpus", [f"{recipe.title} in {source}"]),
        ("found", [f"{len(table) + len(copies) + len(unreadable)} files named like {recipe.naming}, "
                   f"{table['speaker'].nunique()} {recipe.speaker_noun}s", *notes]),
        ("release", release),
        ("kept", [f"{len(kept)} in the four classes (" + ", ".join(f"{e} {per_class.get(e, 0)}" for e in EMOTIONS)
                  + ")" + (f"; left out {left_out.sum()} of other emotions ("
                           + ", ".join(f"{e} {n}" for e, n in left_out.items()) + ")" if len(left_out) else "")]),
        ("broken", _unreadable_lines(unreadable)),
        ("copies", _copies_lines(copies, recipe.speaker_noun)),
        ("folds", assignment.lines),
        ("split", split_lines(kept.reset_index(drop=True), assignment.split)),
        ("wrote", [f"{out} ({len(kept)} rows)", f"use it: make report CORPUS=manifest MANIFEST={out}"]),
    ]
    return [_line(key if i == 0 else "", text) for key, lines in sections for i, text in enumerate(lines)]


def _unreadable_lines(unreadable) -> list:
    """Every file dropped because its header cannot be read as audio, each with why: all named, as the
    manifest loader would name them (a damaged download has few; each must be fetched again)."""
    if not unreadable:
        return ["none"]
    return [f"dropped {len(unreadable)} file{'' if len(unreadable) == 1 else 's'} that cannot be read as audio "
            "(fetch them again to use them):", *(f"  {path}: {why}" for path, why in unreadable)]


def _copies_lines(copies: list, noun: str) -> list:
    """The copies dropped, the first COPIES_SHOWN named (a corpus unpacked twice has thousands),
    and the folder they all lie in when they share one (usually the second copy's)."""
    if not copies:
        return ["none"]
    below = os.path.commonpath([copy for copy, _ in copies])
    lines = [f"dropped {len(copies)} byte-identical cop{'y' if len(copies) == 1 else 'ies'} of one {noun}'s "
             "recording under one emotion, the first in path order kept"
             + (f"; all of them below {below}/" if below and len(copies) > 1 else "") + ":"]
    lines += [f"  {copy} (a copy of {original})" for copy, original in copies[:COPIES_SHOWN]]
    if len(copies) > COPIES_SHOWN:
        lines.append(f"  ... and {len(copies) - COPIES_SHOWN} more")
    return lines


def _line(key: str, text: str) -> str:
    indent = "\n" + " " * (KEY_WIDTH + 1)
    return f"{key:<{KEY_WIDTH}} {indent.join(str(text).splitlines())}"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """NAME SOURCE_DIR --out MANIFEST.csv [--force], for `pdt corpus` and this module's main."""
    parser.add_argument("name", metavar="NAME", help=f"the corpus: {', '.join(RECIPES)}")
    parser.add_argument("source", metavar="SOURCE_DIR", help="the folder where the corpus was unpacked")
    parser.add_argument("--out", required=True, metavar="MANIFEST.csv",
                        help="the manifest to write (paths in it relative to its folder when the audio is below it)")
    parser.add_argument("--force", action="store_true", help="overwrite MANIFEST.csv if it exists")
    return parser


def run(args, prog: str = "pdt corpus") -> int:
    """Prepare the corpus `args` name and print the summary: exit status 0, 1 or 2."""
    try:
        prepared = prepare_corpus(args.name, args.source, args.out, force=args.force)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (CorpusError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(prepared.summary))
    return 0


def main(argv=None) -> int:
    parser = add_arguments(argparse.ArgumentParser(
        prog="python -m pdtlib.corpora.prepare", description="Write a public emotion corpus as a pdt manifest "
        "(docs/corpora.md); the same as `pdt corpus`."))
    return run(parser.parse_args(argv), prog=parser.prog)


if __name__ == "__main__":
    sys.exit(main())
