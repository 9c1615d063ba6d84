"""Training: the pairwise discriminative task (paper §2.1, eq. 1, Table 2) and the traditional
classifier (§4.1), with resumable, atomic checkpoints.

`train_pdt` trains encoder + discriminator on pairs of the train split (pairs.py: the paper's
`sampled` pairs or this project's `in-batch` pairs). At each log point it evaluates on the
validation split (fixed pairs and a linear probe: evaluate.evaluate_pairs, linear_probe), logs,
and keeps the weights that score best (`best.pt`, by `select_on`); the test split is never read.

`train_classifier` is the traditional baseline: cross entropy over the 4 classes, Adam at a fixed
lr, on `train_splits`; one call per duration (4, 5, 6, 7 s), the duration being the FeatureSet's.
The paper trains it on train + validation and gives no length; with `select_on="val_ua"` it trains
on the train split and keeps its best checkpoint on the validation split, which is how the report
chooses the number of passes before training on train + validation (pipeline.train_baseline).

Both are a trainer.Trainer (the loop: evaluations every `eval_every` steps, early stopping after
`patience` evaluations without improvement, the cap `max_passes` in encoder passes, the same for
both methods), with their own hooks. Their configs live in configs.py; the run's files in a
checkpoints.Checkpointer: `resume=True` continues from `run_dir/checkpoint.pt`, and on a CPU a
resumed run ends at exactly the weights of an uninterrupted one, because every batch is a pure
function of (seed, step) (seeds.py, pairs.py).

Device: CUDA when present, else CPU (batches from the float16 memmap, deterministic algorithms:
exact resume is promised on a CPU only); `config.precision` (pdtlib.system.precision) is bf16 autocast
where it is native, with weights, optimiser, statistics and losses kept fp32.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..evaluation.evaluate import evaluate_pairs, evaluate_predictions, linear_probe
from ..features import FeatureSet
from ..losses import pdt_loss
from ..models import EmotionClassifier, PDTModel
from ..pairs import BalancedBatchSampler, PairSampler, evaluation_pairs, in_batch_pairs
from ..seeds import Stream, seed_everything, stream_rng
from ..system.precision import autocast
from .configs import ClassifierConfig, PDTConfig, check_setting
from .inference import FeatureBatches, forward_rows, pick_device
from .trainer import Trainer, TrainResult


def _pools(features: FeatureSet, splits) -> dict[str, np.ndarray]:
    """Rows of each split (a name, or a tuple of names taken together); an empty one is an error."""
    pools = {}
    for split in splits:
        rows = features.indices(*split) if isinstance(split, tuple) else features.indices(split)
        name = "+".join(split) if isinstance(split, tuple) else split
        if len(rows) == 0:
            present = sorted(features.table["split"].unique().tolist())
            raise ValueError(f"the FeatureSet's {name!r} split is empty (splits present: {present}); "
                             "training needs it")
        pools[name] = rows
    return pools


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` on `device`; the encoder's convolutions are channels_last already (models.py)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels once
    return model.to(device)


# ---------------------------------------------------------------- the PDT

class PDTTrainer(Trainer):
    """Encoder + discriminator on pairs of the train split, eq. 1 loss; selection on validation.

    `sampled`: step k takes the B pairs of PairSampler.batch(k), their 2B utterances encoded in one
    pass. `in-batch`: the B utterances of BalancedBatchSampler.batch(k), encoded once, all
    B(B-1)/2 pairs scored with 1 : 2 weights.

    Each evaluation encodes the train and val rows once and logs both signals: the pair metrics
    on the fixed validation pairs (evaluate_pairs) and the UA of a linear probe fit on the train
    vectors and scored on the val vectors (evaluate.linear_probe). The pair accuracy can stay at
    the share of "different" pairs (0.667) for a whole run on a real corpus, so it carries no
    information for selection; the probe measures what the SVM will be asked, and is the default.
    """

    kind = "pdt"
    log_initial = True  # the untrained encoder: where the validation curves start

    def __init__(self, features: FeatureSet, config: PDTConfig, run_dir, device: torch.device,
                 keep_on_device: bool | None = None):
        pools = _pools(features, ("train", "val"))
        labels = features.labels
        self.eval_set = evaluation_pairs(labels, pools["val"], config.eval_pairs, config.positive_fraction,
                                         config.seed)
        if len(np.unique(labels[pools["train"]])) < 2:
            raise ValueError("the train split holds a single emotion: there are no different-emotion pairs")
        seed_everything(config.seed)  # just before the weights are initialised
        model = prepare_model(PDTModel(config.encoder, config.discriminator), device)
        super().__init__(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=config.lr),
                         features=features, config=config, run_dir=run_dir, device=device, train_rows=pools["train"],
                         batch_size=config.batch_size, passes_per_step=config.passes_per_step)
        self.pdt = config
        self.pools, self.eval_rows = pools, np.union1d(pools["train"], pools["val"])  # sorted
        self.batches = FeatureBatches(features.features, device, keep_on_device, self.precision)
        self.labels = torch.tensor(labels, device=device)  # (N,) labels of every row, on the device once
        self.sampler = (PairSampler(labels, pools["train"], config.batch_size, config.positive_fraction, config.seed)
                        if config.mode == "sampled" else
                        BalancedBatchSampler(labels, pools["train"], config.batch_size, config.seed))
        self.notes.append(self.eval_set.note)

    def compute_forward(self, step: int) -> dict:
        device, model = self.device, self.model
        if self.pdt.mode == "sampled":
            a, b, same = self.sampler.batch(step)  # (B,) rows each
            with autocast(device, self.precision):
                z = model.encoder(self.batches(np.concatenate([a, b]))).float()  # (2B, 256)
            za, zb, weight = z[: len(a)], z[len(a):], None
            same = torch.as_tensor(same).to(device, non_blocking=True)
        else:
            rows = self.sampler.batch(step)  # (B,)
            rows_t = torch.as_tensor(rows).to(device, non_blocking=True)
            with autocast(device, self.precision):
                z = model.encoder(self.batches(rows_t if self.batches.on_device else rows)).float()  # (B, 256)
            ia, ib, same, weight = in_batch_pairs(self.labels[rows_t], rows_t, self.pdt.positive_fraction)  # (P,)
            za, zb = z[ia], z[ib]  # (P, 256)
        with autocast(device, self.precision):
            logits = model.discriminator(za, zb).float()  # (P, 2)
        return {"za": za, "zb": zb, "logits": logits, "same": same, "weight": weight}

    def compute_objectives(self, outputs: dict) -> dict:
        loss = pdt_loss(outputs["za"], outputs["zb"], outputs["logits"], outputs["same"], lam=self.pdt.lam,
                        margin=self.pdt.margin, weight=outputs["weight"])
        # The discriminator's accuracy on the step's pairs (in-batch: with their 1 : 2 weights): how well
        # the training task is fit, for the under-fit note (pipeline.selection.training_notes).
        # λ = 1 trains no discriminator: its accuracy would say nothing.
        metrics = {"loss": loss.total, "cos_loss": loss.cosine, "cro_loss": loss.cross_entropy}
        if self.pdt.lam < 1:
            hit = (outputs["logits"].argmax(1) == outputs["same"].long()).float()  # (P,)
            weight = outputs["weight"]
            metrics["acc"] = (hit.mean() if weight is None else (hit * weight).sum() / weight.sum()).detach()
        return metrics

    def describe(self, step: int) -> dict:
        return {"pairs_seen": step * self.pdt.pairs_per_step}

    def on_stage_end(self, step: int) -> dict:
        vectors = forward_rows(self.model.encoder, self.batches, self.eval_rows, 128)  # (n_train + n_val, 256)
        metrics = evaluate_pairs(self.model.discriminator, vectors, self.eval_rows, self.eval_set,
                                 lam=self.pdt.lam, margin=self.pdt.margin)
        z, labels = vectors.cpu().numpy(), self.features.labels
        at = {split: np.searchsorted(self.eval_rows, rows) for split, rows in self.pools.items()}
        return {**metrics, **linear_probe(z[at["train"]], labels[self.pools["train"]], z[at["val"]],
                                          labels[self.pools["val"]])}


def train_pdt(features: FeatureSet, config: PDTConfig, run_dir, *, resume: bool | str = False, device=None,
              stop_after: int | None = None, callback=None, keep_on_device: bool | None = None) -> TrainResult:
    """Train the PDT (encoder + discriminator) on the train split; select on the val split.

    config:     PDTConfig; the features' duration is the input's (FeatureSet.config).
    run_dir:    folder for checkpoint.pt, best.pt, log.csv and train.json.
    resume:     continue from run_dir/checkpoint.pt when present (else start afresh); a finished
                run is returned as it is. A checkpoint made by another configuration or on other
                features (FeatureSet.fingerprint) is refused with resume=True; resume="auto" then
                starts afresh with a note (what `make report` wants after a parameter change).
    stop_after: stop (with a checkpoint) once this many steps are done: an interruption on purpose.
    callback:   called as callback(step, metrics) after every step (tests inject failures here).
    Returns a TrainResult whose model holds the weights selected on validation (best.pt).
    """
    trainer = PDTTrainer(features, config, run_dir, pick_device(device), keep_on_device)
    result = trainer.fit(resume=resume, stop_after=stop_after, callback=callback)
    trainer.checkpointer.write_record(result, {"eval_pairs": len(trainer.eval_set),
                                               "pairs_seen": result.steps * config.pairs_per_step,
                                               "features_on_device": trainer.batches.on_device})
    return result


# ---------------------------------------------------------------- the traditional classifier

class ClassifierTrainer(Trainer):
    """Encoder + FC, 4-way cross entropy on shuffled epochs of config.train_splits.

    Epoch e visits the pool in the order of a permutation drawn from (seed, e); the last, partial
    batch of an epoch is dropped. With config.select_on = "val_ua" every evaluation scores the UA,
    WA and macro-F1 of the val split, and the best checkpoint's weights are kept (best.pt): how the
    report chooses the number of passes before training on train + val for that many (§4.1).
    """

    kind = "classifier"

    def __init__(self, features: FeatureSet, config: ClassifierConfig, run_dir, device: torch.device,
                 keep_on_device: bool | None = None):
        self.pool = next(iter(_pools(features, (config.train_splits,)).values()))
        labels = features.labels
        check_setting(labels.max() < config.n_classes, "ClassifierConfig.n_classes", config.n_classes,
                 f"more than the largest label {labels.max()}")
        self.batch = min(config.batch_size, len(self.pool))
        check_setting(self.batch >= 2, "the training splits' size", len(self.pool), ">= 2 utterances")
        self.steps_per_epoch = len(self.pool) // self.batch
        seed_everything(config.seed)  # just before the weights are initialised
        model = prepare_model(EmotionClassifier(config.encoder, config.n_classes), device)
        super().__init__(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=config.lr),
                         features=features, config=config, run_dir=run_dir, device=device, train_rows=self.pool,
                         batch_size=self.batch, passes_per_step=self.batch)
        self.seed = config.seed
        self.val_rows = features.indices("val") if config.select_on else None
        if self.val_rows is not None and len(self.val_rows) == 0:
            raise ValueError("ClassifierConfig.select_on: the FeatureSet's 'val' split is empty")
        self.batches = FeatureBatches(features.features, device, keep_on_device, self.precision)
        self.labels = torch.tensor(labels, device=device)

    def compute_forward(self, step: int) -> dict:
        epoch, j = divmod(step, self.steps_per_epoch)
        order = stream_rng(self.seed, Stream.CLASSIFIER_EPOCHS, epoch).permutation(self.pool)
        rows = order[j * self.batch:(j + 1) * self.batch]
        target = self.labels[torch.as_tensor(rows).to(self.device, non_blocking=True)]
        with autocast(self.device, self.precision):
            logits = self.model(self.batches(rows)).float()  # (B, 4)
        return {"logits": logits, "target": target}

    def compute_objectives(self, outputs: dict) -> dict:
        logits, target = outputs["logits"], outputs["target"]
        return {"loss": F.cross_entropy(logits, target), "acc": (logits.argmax(1) == target).float().mean()}

    def on_stage_end(self, step: int) -> dict:
        if self.val_rows is None:
            return {}
        predicted = forward_rows(self.model, self.batches, self.val_rows, 128).argmax(1).cpu().numpy()
        m = evaluate_predictions(self.features.labels[self.val_rows], predicted)
        return {"val_ua": m["ua"], "val_wa": m["wa"], "val_f1": m["f1"]}


def train_classifier(features: FeatureSet, config: ClassifierConfig, run_dir, *, resume: bool | str = False, device=None,
                     stop_after: int | None = None, callback=None, keep_on_device: bool | None = None) -> TrainResult:
    """The traditional baseline (§4.1): encoder + FC, 4-way cross entropy on config.train_splits
    (train + val), fixed lr, config.max_passes encoder passes; the final weights are returned, or with
    config.select_on = "val_ua" (train_splits ("train",)) the best checkpoint's on the val split, the
    run stopping early after config.patience evaluations without improvement.

    Arguments as train_pdt; one log row per evaluation (train loss and accuracy; val UA, WA,
    macro-F1 when selecting).
    """
    trainer = ClassifierTrainer(features, config, run_dir, pick_device(device), keep_on_device)
    result = trainer.fit(resume=resume, stop_after=stop_after, callback=callback)
    trainer.checkpointer.write_record(result, {"train_utterances": len(trainer.pool),
                                               "features_on_device": trainer.batches.on_device})
    return result
