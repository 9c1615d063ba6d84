"""Pairs for the pairwise discriminative task (paper §2.1, §3): 33% same emotion, 67% different.

Two ways to feed the PDT, both counted in "pairs seen":

`sampled` (the paper's): independent pairs (i, j), same emotion with probability 1/3, 32 per
step, each utterance of a pair encoded on its own (2 encoder passes per pair). `PairSampler.batch(k)`
is a pure function of (seed, k), drawn by a numpy Generator seeded with both: the paper's
> 4 million pairs are streamed batch by batch and never held in memory, and a run resumes at
any step with no sampler state beyond the step number.

`in-batch` (this project's): `BalancedBatchSampler.batch(k)` gives B utterances, as equal a
number of each emotion as B allows; each is encoded once and all B(B−1)/2 pairs of the batch
are scored (`in_batch_pairs`), with weights that put positives and negatives in the paper's
1 : 2 ratio. Same loss, B(B−1)/2 pairs for B encoder passes instead of B/2.

`evaluation_pairs` draws the fixed evaluation set from the validation split: 50,000 distinct
pairs by default (paper: "> 50 thousand"), 1 : 2 same : different; a small split has fewer
distinct pairs, and the set is then cut to what keeps the 1 : 2 ratio (`PairSet.note`).

Integer labels index pdtlib.EMOTIONS; `pool` holds the rows (e.g. FeatureSet.indices("train"))
that pairs are drawn from. Returned indices are rows of the FeatureSet, not positions in `pool`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import EMOTIONS
from .seeds import Stream, stream_rng

POSITIVE_FRACTION = 1 / 3  # paper §3: "33% positive samples"


class _ByClass:
    """The rows of `pool` grouped by label: members[start[c]:start[c] + count[c]] have label classes[c]."""

    def __init__(self, labels: np.ndarray, pool: np.ndarray | None):
        labels = np.asarray(labels)
        pool = np.arange(len(labels)) if pool is None else np.asarray(pool, dtype=np.int64)
        if len(pool) == 0:
            raise ValueError("pairs: the pool of utterances is empty (is the split empty?)")
        order = np.argsort(labels[pool], kind="stable")
        self.members = pool[order]  # (N,) rows sorted by label
        self.classes, self.start, self.count = np.unique(labels[self.members], return_index=True, return_counts=True)
        self.cls_of = np.searchsorted(self.classes, labels[self.members])  # (N,) class position of each member

    def __len__(self) -> int:
        return len(self.members)


def _check_fraction(positive_fraction: float) -> float:
    if not 0.0 < positive_fraction < 1.0:
        raise ValueError(f"positive_fraction = {positive_fraction} is outside (0, 1); the paper uses 1/3")
    return positive_fraction


def _check_batch(batch_size: int) -> int:
    if batch_size < 2:
        raise ValueError(f"batch_size = {batch_size}: it must be at least 2 (pairs need two utterances, "
                         "batch norm needs two samples)")
    return int(batch_size)


class PairSampler:
    """`sampled` mode: batch k -> (a, b, same), each (batch_size,); rows a[p], b[p] form pair p.

    Each pair is "same" with probability positive_fraction (a Bernoulli draw per pair). Same
    pair: i uniform over the pool's utterances whose class has at least two, j uniform over
    the rest of i's class. Different pair: i uniform over the pool, j uniform over the other
    classes. Pairs are drawn with replacement: across 4 million draws a pair can recur.
    """

    def __init__(self, labels, pool=None, batch_size: int = 32, positive_fraction: float = POSITIVE_FRACTION,
                 seed: int = 0):
        self.labels = np.asarray(labels)
        self.groups = _ByClass(self.labels, pool)
        self.batch_size = _check_batch(batch_size)
        self.positive_fraction = _check_fraction(positive_fraction)
        self.seed = int(seed)
        g = self.groups
        if len(g.classes) < 2:
            raise ValueError(f"pairs: the pool holds only class(es) {g.classes.tolist()}; different-emotion "
                             "pairs need at least two")
        # Members whose class has >= 2 utterances can start a same-emotion pair.
        self._can_same = np.flatnonzero(g.count[g.cls_of] >= 2)
        if len(self._can_same) == 0:
            raise ValueError("pairs: no class has two utterances, so there are no same-emotion pairs")

    def batch(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = stream_rng(self.seed, Stream.SAMPLED_PAIRS, k)
        g, n = self.groups, self.batch_size
        same = rng.random(n) < self.positive_fraction  # (n,) bool
        u = rng.random(n)  # position of j inside its candidate range
        # i: a position in g.members; same pairs start from members of classes with >= 2.
        pos_i = np.where(same, self._can_same[rng.integers(0, len(self._can_same), n)], rng.integers(0, len(g), n))
        c = g.cls_of[pos_i]
        start, count = g.start[c], g.count[c]
        # same: uniform over the count - 1 other members of the class (skip i's own slot)
        r = np.minimum((u * (count - 1)).astype(np.int64), count - 2)
        r_same = start + r + (start + r >= pos_i)
        # different: uniform over the len - count members outside the class (skip its block)
        r = np.minimum((u * (len(g) - count)).astype(np.int64), len(g) - count - 1)
        r_diff = r + np.where(r >= start, count, 0)
        pos_j = np.where(same, r_same, r_diff)
        return g.members[pos_i], g.members[pos_j], same

    def stream(self, n_pairs: int, start: int = 0):
        """Yield batches start, start + 1, ... until `n_pairs` pairs (rounded up to a batch) are given."""
        for k in range(start, -(-int(n_pairs) // self.batch_size)):
            yield self.batch(k)


class BalancedBatchSampler:
    """`in-batch` mode: batch k -> (batch_size,) rows, classes as equal as batch_size allows.

    Each class present gets batch_size // K utterances, a random batch_size % K classes one
    more; within a class they are drawn without replacement (with replacement only if the
    class is smaller than its share). The batch is shuffled, so pair order is random.
    """

    def __init__(self, labels, pool=None, batch_size: int = 32, seed: int = 0):
        self.labels = np.asarray(labels)
        self.groups = _ByClass(self.labels, pool)
        self.batch_size = _check_batch(batch_size)
        self.seed = int(seed)

    def batch(self, k: int) -> np.ndarray:
        rng = stream_rng(self.seed, Stream.BALANCED_BATCHES, k)
        g, n_cls = self.groups, len(self.groups.classes)
        share = np.full(n_cls, self.batch_size // n_cls)
        share[rng.choice(n_cls, self.batch_size % n_cls, replace=False)] += 1
        rows = [g.members[g.start[c] + rng.choice(g.count[c], share[c], replace=share[c] > g.count[c])]
                for c in range(n_cls) if share[c]]
        return rng.permutation(np.concatenate(rows))


def in_batch_pairs(y: torch.Tensor, rows: torch.Tensor | None = None,
                   positive_fraction: float = POSITIVE_FRACTION):
    """All B(B−1)/2 pairs of a batch with labels y (B,), on y's device.

    Returns (ia, ib, same, weight), each (B(B−1)/2,): batch positions ia < ib, same-emotion
    flags, and weights summing to 1 that give the same pairs `positive_fraction` of the total
    and the different ones the rest (1 : 2 for the paper's 1/3). A pair of one row with itself
    (possible when `rows`, the batch's FeatureSet rows, repeat) gets weight 0.
    """
    ia, ib = torch.triu_indices(len(y), len(y), offset=1, device=y.device)  # (P,), (P,)
    same = y[ia] == y[ib]
    valid = (rows[ia] != rows[ib]) if rows is not None else torch.ones_like(same)
    pos, neg = (same & valid).float(), (~same & valid).float()
    n_pos, n_neg = pos.sum(), neg.sum()
    # With only one kind present it takes the whole weight.
    w_pos = torch.where(n_neg > 0, _check_fraction(positive_fraction), 1.0) / n_pos.clamp_min(1)
    w_neg = torch.where(n_pos > 0, 1.0 - positive_fraction, 1.0) / n_neg.clamp_min(1)
    return ia, ib, same, pos * w_pos + neg * w_neg


def pairs_per_batch(mode: str, batch_size: int) -> int:
    """Pairs one training step sees: batch_size (sampled) or batch_size(batch_size−1)/2 (in-batch)."""
    return batch_size if mode == "sampled" else batch_size * (batch_size - 1) // 2


@dataclass
class PairSet:
    """A fixed set of pairs: rows a, b (n,) int64 and same (n,) bool; `requested` = n asked for."""

    a: np.ndarray
    b: np.ndarray
    same: np.ndarray
    requested: int
    available_same: int
    available_different: int

    def __len__(self) -> int:
        return len(self.a)

    @property
    def note(self) -> str:
        n, s = len(self), int(self.same.sum())
        text = f"{n:,} evaluation pairs ({s:,} same, {n - s:,} different)"
        if n < self.requested:
            text += (f", fewer than the {self.requested:,} asked for: the split has only "
                     f"{self.available_same:,} distinct same-emotion and {self.available_different:,} "
                     f"different-emotion pairs, and the 1 : 2 ratio is kept")
        return text


def _triangle(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear index r over pairs (i < j), ordered by j then i, -> (i, j)."""
    j = np.floor((1 + np.sqrt(1 + 8 * r.astype(np.float64))) / 2).astype(np.int64)
    j -= j * (j - 1) // 2 > r  # float rounding guards
    j += (j + 1) * j // 2 <= r
    return r - j * (j - 1) // 2, j


def evaluation_pairs(labels, pool=None, n_pairs: int = 50_000, positive_fraction: float = POSITIVE_FRACTION,
                     seed: int = 0) -> PairSet:
    """A fixed set of distinct pairs of `pool`, same : different = positive_fraction : rest.

    Distinct unordered pairs are drawn without replacement (each in a random order); the set
    is cut below `n_pairs` when the pool lacks the pairs for the ratio (see PairSet.note).
    """
    g = _ByClass(np.asarray(labels), pool)
    positive_fraction = _check_fraction(positive_fraction)
    rng = stream_rng(seed, Stream.EVALUATION_PAIRS)
    n_cls = len(g.classes)
    same_sizes = g.count * (g.count - 1) // 2  # (K,) same pairs per class
    cross = [(c, d) for c in range(n_cls) for d in range(c + 1, n_cls)]
    diff_sizes = np.array([g.count[c] * g.count[d] for c, d in cross], dtype=np.int64)
    n_same_avail, n_diff_avail = int(same_sizes.sum()), int(diff_sizes.sum())
    n = min(int(n_pairs), int(n_same_avail / positive_fraction), int(n_diff_avail / (1 - positive_fraction)))
    if n < 2:
        raise ValueError(f"evaluation_pairs: the pool ({len(g)} utterances, classes {g.classes.tolist()}) "
                         "has too few same- or different-emotion pairs")
    n_same = int(round(n * positive_fraction))
    n_diff = n - n_same

    def draw(sizes: np.ndarray, k: int, to_rows):
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        r = np.sort(rng.choice(offsets[-1], size=k, replace=False))
        block = np.searchsorted(offsets, r, side="right") - 1
        return to_rows(block, r - offsets[block])

    def same_rows(block, r):  # block = class
        i, j = _triangle(r)
        return g.members[g.start[block] + i], g.members[g.start[block] + j]

    def diff_rows(block, r):  # block = (c, d) class pair
        c, d = np.array(cross, dtype=np.int64).reshape(-1, 2)[block].T
        return g.members[g.start[c] + r // g.count[d]], g.members[g.start[d] + r % g.count[d]]

    a = np.empty(n, dtype=np.int64)
    b = np.empty(n, dtype=np.int64)
    a[:n_same], b[:n_same] = draw(same_sizes, n_same, same_rows)
    a[n_same:], b[n_same:] = draw(diff_sizes, n_diff, diff_rows)
    same = np.arange(n) < n_same
    swap = rng.random(n) < 0.5  # random order within a pair (the discriminator sees [a, b])
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    order = rng.permutation(n)
    return PairSet(a[order], b[order], same[order], int(n_pairs), n_same_avail, n_diff_avail)


def pairing_summary(labels, train, val, *, batch_size: int, n_pairs: int, seed: int) -> dict:
    """What the PDT sees (notebook 02): the sampled pairs of one epoch (positive share, which
    classes meet), the pairs and positive weight of one in-batch step, and the fixed evaluation
    pair set."""
    sampler = PairSampler(labels, train, batch_size, seed=seed)
    counts = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=np.int64)
    n, n_same = 0, 0
    for a, b, same in sampler.stream(n_pairs):
        np.add.at(counts, (labels[a], labels[b]), 1)
        n, n_same = n + len(a), n_same + int(same.sum())
    rows = BalancedBatchSampler(labels, train, batch_size, seed=seed).batch(0)
    _, _, same, weight = in_batch_pairs(torch.as_tensor(labels[rows]), torch.as_tensor(rows))
    eval_set = evaluation_pairs(labels, val, seed=seed)
    return {"sampled_pairs": n, "sampled_positive_share": n_same / n,
            "class_pairs": pd.DataFrame(counts, index=EMOTIONS, columns=EMOTIONS),
            "in_batch_pairs_per_step": len(weight), "in_batch_positive_weight": float(weight[same].sum()),
            "evaluation_pairs": len(eval_set), "evaluation_note": eval_set.note}
