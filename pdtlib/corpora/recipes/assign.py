"""Speaker folds and the default split of a prepared corpus (docs/corpora.md, "Folds").

The rule, deterministic (no random numbers, so a corpus always gets the same folds):
- up to MAX_SINGLE_SPEAKER_FOLDS speakers: one speaker per fold, in the order of their ids;
- more: the recipe's number of folds (`Recipe.n_folds`, at most the number of speakers). Speakers
  are taken gender by gender (F, M, then unknown), within a gender the largest first (ties by id),
  and each goes to the fold with the fewest speakers, then the fewest of its gender, then the one
  whose class counts overlap least with its own (so every class ends up spread as evenly as the
  speakers allow), then the lowest number. Folds therefore differ by at most one speaker.
- the `split` column is fold:N/N of corpora.folds: fold N is the test split, fold 1 the validation
  split, the rest training; `split=fold:K/N` rotates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ... import EMOTIONS
from ..folds import fold_splits
from ..table import SPLITS, CorpusError

MAX_SINGLE_SPEAKER_FOLDS = 6  # EmoBox's rule: 4 to 6 speakers make one fold each
GENDER_ORDER = {"F": 0, "M": 1}


@dataclass
class Assignment:
    """Each row's split and fold (0 where a corpus has no folds), lines saying how, and the
    speaker ids to write where they are not the speakers' own (TESS's validation words)."""

    split: pd.Series
    fold: pd.Series
    lines: list = field(default_factory=list)
    speaker: pd.Series | None = None


def speaker_assignment(table: pd.DataFrame, recipe) -> Assignment:
    """Folds of speaker groups by the module's rule, and the split fold:N/N."""
    folds = speaker_folds(table, recipe.n_folds, recipe.speaker_noun)
    n = int(folds.max())
    split = fold_splits(folds, n, n)
    return Assignment(split, folds, describe_folds(table, folds, split, recipe.speaker_noun))


def speaker_folds(table: pd.DataFrame, n_folds: int, noun: str = "speaker") -> pd.Series:
    """Each row's fold, 1..N, by the module's rule; CorpusError with fewer than 3 speakers."""
    speakers = sorted(table["speaker"].unique())
    if len(speakers) < 3:
        raise CorpusError(f"{len(speakers)} {noun}s found ({', '.join(speakers)}): a speaker-independent train, "
                          f"val and test split needs at least 3; add the missing {noun}s' files")
    if len(speakers) <= MAX_SINGLE_SPEAKER_FOLDS:
        fold_of = {s: k for k, s in enumerate(speakers, start=1)}
    else:
        fold_of = _grouped_folds(table, min(n_folds, len(speakers)))
    return table["speaker"].map(fold_of).astype(int)


def _grouped_folds(table: pd.DataFrame, n_folds: int) -> dict:
    """Speaker -> fold for more speakers than folds: the greedy rule of the module docstring."""
    classes = pd.crosstab(table["speaker"], table["label"]).reindex(columns=list(EMOTIONS), fill_value=0)
    gender = table.groupby("speaker")["gender"].first()
    order = sorted(classes.index, key=lambda s: (GENDER_ORDER.get(gender[s], 2), -classes.loc[s].sum(), s))
    members = np.zeros(n_folds, int)
    of_gender = {g: np.zeros(n_folds, int) for g in gender.unique()}
    counts = np.zeros((n_folds, len(EMOTIONS)), int)
    fold_of = {}
    for speaker in order:
        own = classes.loc[speaker].to_numpy()
        g = gender[speaker]
        # lexsort: the last key is the primary one
        best = int(np.lexsort((np.arange(n_folds), counts @ own, of_gender[g], members))[0])
        fold_of[speaker] = best + 1
        members[best] += 1
        of_gender[g][best] += 1
        counts[best] += own
    return fold_of


def describe_folds(table: pd.DataFrame, folds: pd.Series, split: pd.Series, noun: str) -> list:
    """A line on the folds, then one per fold: its split, speakers, genders and utterances."""
    n = int(folds.max())
    per_fold = folds.groupby(table["speaker"]).first().value_counts()
    size = f"{per_fold.min()}" if per_fold.min() == per_fold.max() else f"{per_fold.min()}-{per_fold.max()}"
    lines = [f"{n} folds of {size} {noun}{'' if size == '1' else 's'} (fold:K/{n} tests fold K and validates "
             f"on fold K+1; the split column is fold:{n}/{n})"]
    for k in range(1, n + 1):
        rows = table[folds == k]
        genders = rows.groupby("speaker")["gender"].first().replace("", "?").value_counts().sort_index()
        mix = ", ".join(f"{g} {c}" for g, c in genders.items())
        lines.append(f"fold {k} ({split[folds == k].iloc[0]}): {' '.join(sorted(rows['speaker'].unique()))} "
                     f"({mix}; {len(rows)} utterances)")
    return lines


def split_lines(table: pd.DataFrame, split: pd.Series) -> list:
    """Utterances per split and class, and a warning for each split that lacks one."""
    counts = pd.crosstab(split, table["label"]).reindex(index=list(SPLITS), columns=list(EMOTIONS), fill_value=0)
    lines = [f"{s}: {counts.loc[s].sum()} ({', '.join(f'{e} {counts.loc[s, e]}' for e in EMOTIONS)})"
             for s in SPLITS]
    for s in SPLITS:
        absent = [e for e in EMOTIONS if counts.loc[s, e] == 0]
        if absent:
            lines.append(f"warning: split {s} has no {', '.join(absent)}: its UA is not over four classes")
    return lines
