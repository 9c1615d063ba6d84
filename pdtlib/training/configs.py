"""The training configurations, PDTConfig (paper §2.1, Table 2) and ClassifierConfig (§4.1),
with the checks they run on construction, and `from_dict`, which builds any dataclass config
from a plain dict (checkpoints, bundle.json, run records)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from .. import EMOTIONS
from ..losses import check_lam, check_margin
from ..models import DiscriminatorConfig, EncoderConfig
from ..pairs import POSITIVE_FRACTION, pairs_per_batch
from ..system.precision import PRECISIONS

MODES = ("sampled", "in-batch")
# The metrics a run may select its best.pt on, each with the builtin that picks the better of two values
# (checkpoints.Checkpointer).
SELECT_ON = {"val_ua": max, "val_pair_acc": max, "val_acc": max, "val_cos_acc": max, "val_loss": min}


def from_dict(cls, data: dict):
    """`cls(**data)` keeping only the keys that are fields of the dataclass `cls`.

    Files written by other versions may carry keys this version dropped (or lack new ones,
    which then take their defaults); the dataclass's own checks still run on what is kept.
    """
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in dict(data).items() if k in names})


def check_setting(ok: bool, setting: str, value, allowed: str):
    if not ok:
        raise ValueError(f"{setting} = {value!r} is not allowed: {allowed}")


def _check_budget(config) -> None:
    """The training budget both methods share: a cap in encoder passes, evaluations every
    `eval_every` steps, early stopping after `patience` evaluations without improvement."""
    name = type(config).__name__
    check_setting(config.max_passes >= 1, f"{name}.max_passes", config.max_passes, ">= 1 encoder pass")
    check_setting(config.eval_every >= 1, f"{name}.eval_every", config.eval_every, ">= 1 step")
    check_setting(config.patience >= 0, f"{name}.patience", config.patience, ">= 0 (0: no early stopping)")
    check_setting(config.min_epochs >= 0, f"{name}.min_epochs", config.min_epochs, ">= 0 epochs of the training split")
    check_setting(config.warmup >= 0, f"{name}.warmup", config.warmup, ">= 0 steps")


def steps_within(max_passes: int, passes_per_step: int) -> int:
    """The training steps a cap of `max_passes` encoder passes allows at `passes_per_step` (at least
    one): the one rule, for PDTConfig.total_steps and every Trainer."""
    return max(1, max_passes // passes_per_step)


def min_steps(min_epochs: float, train_size: int, passes_per_step: int, total_steps: int) -> int:
    """The steps a run trains before early stopping may end it: `min_epochs` epochs of its training
    split (`train_size` utterances, one epoch = that many encoder passes), at most the cap's
    `total_steps`. The fair-length rule both methods share (docs/protocol.md, "Training budgets")."""
    return min(total_steps, math.ceil(min_epochs * train_size / passes_per_step))


def min_passes(min_epochs: float, train_size: int, max_passes: int) -> int:
    """The encoder passes of `min_epochs` epochs of a training split of `train_size` utterances, at
    most the cap `max_passes`: the fair length of a run that keeps no checkpoint, the traditional
    final run on train + val (pipeline.train_baseline; docs/protocol.md, "Training budgets")."""
    return min(int(max_passes), math.ceil(min_epochs * train_size))


def pair_cap(mode: str, batch_size, max_passes) -> int:
    """The pairs a PDT run in `mode` may see before its cap: its steps times the pairs of one step
    (sampled: 1 per 2 passes; in-batch: B(B-1)/2 per B)."""
    config = PDTConfig(mode=mode, batch_size=int(batch_size), max_passes=int(max_passes))
    return config.total_steps * config.pairs_per_step


# The budget's defaults (docs/protocol.md, "Training budgets"): the same for both methods.
MAX_PASSES = 40_000  # the cap in encoder passes (utterances encoded): 1250 steps of 32
EVAL_EVERY = 25  # steps between validation evaluations (800 passes at batch 32)
PATIENCE = 6  # evaluations without a better validation value before stopping (4800 passes)
# No run is stopped before it has trained this many epochs of its training split: on a small, noisy
# validation split (RAVDESS: 140 utterances of 5 actors) the best value of the first evaluations is
# often luck, and patience counted from them stopped runs after 150 steps, before either method had
# fit its training data (docs/results.md, "The PDT on RAVDESS").
MIN_EPOCHS = 40
# Nor is it stopped while its training accuracy (the PDT's: its pair accuracy) is below this: a run
# that has not fit its own training data has not had a real chance, whatever validation says; the cap
# still ends it. The same bar is the report's under-fit note (report.pipeline.selection).
UNDERFIT_ACC = 0.9


@dataclass
class PDTConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    mode: str = "sampled"  # "sampled" (paper) or "in-batch" (this project)
    lam: float = 0.9  # λ of eq. 1 (Table 2: [0, 1], best 0.9)
    margin: float = 0.1  # m of eq. 2 (Table 2: [0, 0.3], best 0.1)
    lr: float = 1e-5  # Table 2: [1e-6, 1e-3], best 1e-5
    batch_size: int = 32  # pairs per step (sampled) or utterances per step (in-batch)
    max_passes: int = MAX_PASSES  # the cap: encoder passes (sampled: 2 per pair; paper §3: > 4 million pairs)
    eval_every: int = EVAL_EVERY  # steps between validation evaluations (log rows and checkpoints)
    patience: int = PATIENCE  # evaluations without improvement before stopping (0: train to the cap)
    min_epochs: float = MIN_EPOCHS  # epochs of the train split before patience may stop the run
    warmup: int = 0  # steps of linear learning-rate warm-up from 0
    eval_pairs: int = 50_000  # paper §3: "> 50 thousand"; fewer if the split is small
    positive_fraction: float = POSITIVE_FRACTION
    # Checkpoint selection on validation: "val_ua", a linear probe's UA (evaluate.linear_probe),
    # or "val_pair_acc" and the other pair metrics of evaluate_pairs.
    select_on: str = "val_ua"
    recalibrate_bn: bool = True  # batch norm's statistics recomputed at each evaluation (Trainer)
    precision: str = "auto"  # pdtlib.system.precision: bf16 autocast where native (CUDA, AMX/AVX512-BF16), else fp32
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.encoder, dict):
            self.encoder = from_dict(EncoderConfig, self.encoder)
        if isinstance(self.discriminator, dict):
            self.discriminator = from_dict(DiscriminatorConfig, self.discriminator)
        check_setting(self.mode in MODES, "PDTConfig.mode", self.mode, f"one of {MODES}")
        check_setting(self.precision in PRECISIONS, "PDTConfig.precision", self.precision, f"one of {PRECISIONS}")
        check_lam(self.lam), check_margin(self.margin)
        check_setting(self.lr > 0, "PDTConfig.lr", self.lr, "> 0 (Table 2 searches [1e-6, 1e-3])")
        check_setting(self.batch_size >= 2, "PDTConfig.batch_size", self.batch_size, ">= 2")
        _check_budget(self)
        check_setting(self.eval_pairs >= 2, "PDTConfig.eval_pairs", self.eval_pairs, ">= 2")
        check_setting(0 < self.positive_fraction < 1, "PDTConfig.positive_fraction", self.positive_fraction,
                      "in (0, 1)")
        check_setting(self.select_on in SELECT_ON, "PDTConfig.select_on", self.select_on, f"one of {tuple(SELECT_ON)}")
        check_setting(self.encoder.embedding_dim == self.discriminator.embedding_dim, "PDTConfig.discriminator."
                 "embedding_dim", self.discriminator.embedding_dim, f"the encoder's {self.encoder.embedding_dim}")

    @property
    def pairs_per_step(self) -> int:
        return pairs_per_batch(self.mode, self.batch_size)

    @property
    def passes_per_step(self) -> int:
        """Encoder passes of one step: both utterances of each pair (sampled), each utterance once (in-batch)."""
        return 2 * self.batch_size if self.mode == "sampled" else self.batch_size

    @property
    def total_steps(self) -> int:
        return steps_within(self.max_passes, self.passes_per_step)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClassifierConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    n_classes: int = len(EMOTIONS)
    lr: float = 1e-5  # §4.1: fixed, as the PDT's
    batch_size: int = 32
    # The paper gives no epoch count: the selection run trains up to the cap and stops when validation
    # stops improving; the final run (no select_on) trains for the passes chosen, and at least min_epochs
    # epochs of train + val (pipeline.train_baseline).
    max_passes: int = MAX_PASSES
    eval_every: int = EVAL_EVERY
    patience: int = PATIENCE
    min_epochs: float = MIN_EPOCHS
    warmup: int = 0
    # A run that keeps no checkpoint (select_on None: the final run on train + val) returns the
    # exponential moving average of its weights with this decay per step (training.averaging);
    # 0: its last weights. A selecting run keeps the checkpoint validation chose and ignores it.
    weight_average: float = 0.0
    train_splits: tuple[str, ...] = ("train", "val")  # §4.1: training and validation sets concatenated
    select_on: str | None = None  # "val_ua": evaluate on the val split, keep the best (train_splits: train)
    recalibrate_bn: bool = True  # batch norm's statistics recomputed at the end (Trainer)
    precision: str = "auto"  # as PDTConfig.precision
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.encoder, dict):
            self.encoder = from_dict(EncoderConfig, self.encoder)
        self.train_splits = tuple(self.train_splits)
        check_setting(self.lr > 0, "ClassifierConfig.lr", self.lr, "> 0")
        check_setting(self.precision in PRECISIONS, "ClassifierConfig.precision", self.precision,
                      f"one of {PRECISIONS}")
        check_setting(self.batch_size >= 2, "ClassifierConfig.batch_size", self.batch_size, ">= 2")
        check_setting(0 <= self.weight_average < 1, "ClassifierConfig.weight_average", self.weight_average,
                      "in [0, 1) (0: no averaging)")
        _check_budget(self)
        check_setting(self.n_classes >= 2, "ClassifierConfig.n_classes", self.n_classes, ">= 2")
        check_setting("test" not in self.train_splits and len(self.train_splits) > 0, "ClassifierConfig.train_splits",
                 self.train_splits, "a non-empty subset of ('train', 'val')")
        check_setting(self.select_on in (None, "val_ua"), "ClassifierConfig.select_on", self.select_on,
                      "None or 'val_ua'")
        check_setting(self.select_on is None or "val" not in self.train_splits, "ClassifierConfig.train_splits",
                 self.train_splits, "without 'val' when selecting on it (select_on)")

    def to_dict(self) -> dict:
        return asdict(self)
