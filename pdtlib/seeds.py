"""Seeds and random streams: where every random number of a run comes from.

One integer seed drives a run. Each use of it (pairs, batches, evaluation pairs, epoch
orders) draws from its own stream, `stream_rng(seed, Stream.X, step...)`, a numpy Generator
that is a pure function of its arguments: any batch can be drawn again at any step, so a
resumed run sees the batches an uninterrupted one would. Initialisation draws from the global
generators, seeded by `seed_everything`.
"""

from __future__ import annotations

import random
from enum import IntEnum

import numpy as np
import torch


class Stream(IntEnum):
    """Tags that give each use of one seed its own random stream. The values are part of every
    deterministic schedule: changing one changes every run's batches."""

    SAMPLED_PAIRS = 0  # pairs.PairSampler
    BALANCED_BATCHES = 1  # pairs.BalancedBatchSampler
    EVALUATION_PAIRS = 2  # pairs.evaluation_pairs
    CLASSIFIER_EPOCHS = 3  # train: the traditional classifier's epoch permutations
    BATCHNORM_ROWS = 4  # train: the training rows batch norm's statistics are recomputed on


def stream_rng(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """The generator of `stream` for `seed` at `keys` (a step, an epoch): independent of every other."""
    return np.random.default_rng([int(seed), int(stream), *(int(k) for k in keys)])


def seed_everything(seed: int) -> None:
    """Seed python, numpy's global RNG and torch (CPU and CUDA): the one place seeds are set."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
