"""The checks every recipe runs on what it found: copies of one recording, and the counts of the
published release (a partial download is named with what it lacks, and still written)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ... import EMOTIONS
from ..table import CorpusError, audio_problems, recording_keys, repeated_recordings
from .common import Recipe


def drop_unreadable(table: pd.DataFrame, source: Path) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Drop the files whose header cannot be read as audio (table.audio_problem: empty, not audio, no
    frames, cut short), as a damaged download carries them; returns the rest and each file dropped as a
    (path relative to `source`, why) pair. Only headers are read: a stat and a few bytes per file."""
    problems = audio_problems(table["path"])
    bad = problems != ""
    dropped = [(_shown(table.at[i, "path"], source), problems[i]) for i in table.index[bad]]
    return table.loc[~bad].reset_index(drop=True), dropped


def drop_copies(table: pd.DataFrame, source: Path) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Drop byte-identical copies of one speaker's recording under one emotion (a corpus unpacked
    twice, as some downloads are), keeping the first in path order; returns the rest and each copy
    dropped as a (copy, original) pair of paths relative to `source`. The same bytes under two
    speakers or two emotions, or two different recordings decoding to one utterance id, are a
    damaged copy: CorpusError naming both files."""
    repeats = repeated_recordings(table, within=("speaker", "emotion"))
    dropped = [(_shown(table.at[i, 'path'], source), _shown(table.at[j, 'path'], source)) for i, j in repeats.items()]
    kept = table.drop(index=repeats.index).reset_index(drop=True)
    _refuse_clashes(kept, recording_keys(kept["path"]), source, "holds the same bytes as",
                    "one recording under two speakers or emotions; remove the wrong one")
    _refuse_clashes(kept, kept["utterance_id"], source, "decodes to the same utterance id as",
                    "two different recordings of one utterance; remove the wrong one")
    return kept, dropped


def _refuse_clashes(table: pd.DataFrame, key: pd.Series, source: Path, what: str, fix: str) -> None:
    clash = key.duplicated(keep=False)
    if clash.any():
        pairs = [table.loc[key == k] for k in key[clash].unique()[:5]]
        shown = "\n".join(f"  {_describe(rows.iloc[1], source)} {what} {_describe(rows.iloc[0], source)}"
                          for rows in pairs)
        raise CorpusError(f"{int(clash.sum())} files clash:\n{shown}\nEach is {fix}.")


def _describe(row, source: Path) -> str:
    return f"{_shown(row['path'], source)} (speaker {row['speaker']}, {row['emotion']})"


def _shown(path, source: Path) -> str:
    try:
        return str(Path(path).relative_to(source))
    except ValueError:
        return str(path)


def release_check(table: pd.DataFrame, recipe: Recipe) -> list[str]:
    """Lines comparing what was found with the published release: files, kept per class, absent
    speakers and speakers with fewer files; a single 'complete' line when nothing lacks."""
    release, noun = recipe.release, recipe.speaker_noun
    found = len(table)
    kept = table.loc[table["label"] != "", "label"].value_counts().reindex(list(EMOTIONS), fill_value=0)
    expected = pd.Series(release.kept).reindex(list(EMOTIONS), fill_value=0)
    if found == release.files and kept.equals(expected):
        return [f"complete: {found} of {release.files} files of the release, {kept.sum()} in the four classes"]
    lines = [f"{found} of the release's {release.files} files ({_difference(found - release.files)})"]
    if kept.equals(expected):
        lines.append(f"the four classes are complete ({kept.sum()}); the files lacking are of emotions left out")
    else:
        lines.append("kept per class, found of the release's: "
                     + ", ".join(f"{e} {kept[e]} of {expected[e]}" for e in EMOTIONS))
    lines += _speaker_lines(table, release, noun)
    return lines


def _difference(n: int) -> str:
    return f"{-n} short" if n < 0 else f"{n} more than the release"


def _speaker_lines(table: pd.DataFrame, release, noun: str) -> list[str]:
    per_speaker = table["speaker"].value_counts()
    lines = []
    absent = [s for s in release.speakers if s not in per_speaker.index]
    if absent:
        lines.append(f"{noun}s absent ({len(absent)} of {len(release.speakers)}): {runs(absent, release.speakers)}")
    unknown = sorted(set(per_speaker.index) - set(release.speakers))
    if unknown:
        lines.append(f"{noun}s not in the release: {' '.join(unknown)}")
    if release.files_per_speaker:
        short = [f"{s} ({per_speaker[s]} of {release.files_per_speaker})" for s in release.speakers
                 if s in per_speaker.index and per_speaker[s] < release.files_per_speaker]
        if short:
            lines.append(f"{noun}s with files lacking: {', '.join(short)}")
    return lines


def runs(ids, order) -> str:
    """`ids` as runs of neighbours in `order`: 'actor04, actor06-actor24' rather than 20 names."""
    position = {s: i for i, s in enumerate(order)}
    groups = []
    for speaker in sorted(ids, key=position.get):
        if groups and position[speaker] == position[groups[-1][-1]] + 1:
            groups[-1].append(speaker)
        else:
            groups.append([speaker])
    return ", ".join(g[0] if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups)
