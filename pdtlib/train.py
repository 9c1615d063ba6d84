"""Training: the pairwise discriminative task (paper §2.1, eq. 1, Table 2) and the traditional
classifier (§4.1), with resumable, atomic checkpoints.

`train_pdt` trains encoder + discriminator on pairs of the train split (pairs.py: the paper's
`sampled` pairs or this project's `in-batch` pairs), with Adam at the paper's lr 1e-5 and batch
32 by default. It evaluates on a fixed set of validation pairs (the same set in both modes, so
they compare), logs to `run_dir/log.csv`, and keeps the weights that score best on the
validation split (`best.pt`); the test split is never read.

`train_classifier` is the traditional baseline as the paper trained it: train + validation
concatenated, Adam at a fixed lr, a fixed number of epochs (the paper gives none: 20 here),
cross entropy over the 4 classes; one call per duration (4, 5, 6, 7 s), the duration being
the FeatureSet's.

Both write `run_dir/checkpoint.pt` atomically (model, optimiser, step, RNG states, running
sums, config as a plain dict; loadable with `torch.load(weights_only=True)`) at every log
point, and `resume=True` continues from it: on a CPU a resumed run ends at exactly the weights
of an uninterrupted one, because every batch is a pure function of (seed, step) (pairs.py).

Device: CUDA when present (bf16 autocast, channels_last convolutions, the whole feature set
held on the GPU as float16 when it fits in half the free memory, batches gathered there), else
CPU (channels_last too, batches read from the float16 memmap and converted to float32,
deterministic algorithms on). Exact resume is promised on a CPU only.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import EMOTIONS
from .atomic import atomic_path, write_json
from .cache import FeatureSet
from .losses import check_lam, check_margin, pdt_loss
from .models import DiscriminatorConfig, EmotionClassifier, EncoderConfig, PDTModel
from .pairs import (POSITIVE_FRACTION, BalancedBatchSampler, PairSampler, PairSet, evaluation_pairs,
                    in_batch_pairs, pairs_per_batch)
from .progress import progress

MODES = ("sampled", "in-batch")
SELECT_ON = {"val_pair_acc": max, "val_acc": max, "val_cos_acc": max, "val_loss": min}


def _require(ok: bool, setting: str, value, allowed: str):
    if not ok:
        raise ValueError(f"{setting} = {value!r} is not allowed: {allowed}")


@dataclass
class PDTConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    mode: str = "sampled"  # "sampled" (paper) or "in-batch" (this project)
    lam: float = 0.9  # λ of eq. 1 (Table 2: [0, 1], best 0.9)
    margin: float = 0.1  # m of eq. 2 (Table 2: [0, 0.3], best 0.1)
    lr: float = 1e-5  # Table 2: [1e-6, 1e-3], best 1e-5
    batch_size: int = 32  # pairs per step (sampled) or utterances per step (in-batch)
    pairs_per_epoch: int = 4_000_000  # paper §3: "> 4 million" training pairs
    epochs: int = 1
    evals_per_epoch: int = 1  # log rows, validation evaluations and checkpoints per epoch
    eval_pairs: int = 50_000  # paper §3: "> 50 thousand"; fewer if the split is small
    positive_fraction: float = POSITIVE_FRACTION
    select_on: str = "val_pair_acc"  # checkpoint selection on the validation pairs, see _evaluate_pairs
    duration: float = 4.0  # seconds; must be the FeatureSet's
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.encoder, dict):
            self.encoder = EncoderConfig.from_dict(self.encoder)
        if isinstance(self.discriminator, dict):
            self.discriminator = DiscriminatorConfig(**self.discriminator)
        _require(self.mode in MODES, "PDTConfig.mode", self.mode, f"one of {MODES}")
        check_lam(self.lam), check_margin(self.margin)
        _require(self.lr > 0, "PDTConfig.lr", self.lr, "> 0 (Table 2 searches [1e-6, 1e-3])")
        _require(self.batch_size >= 2, "PDTConfig.batch_size", self.batch_size, ">= 2")
        _require(self.pairs_per_epoch >= 1, "PDTConfig.pairs_per_epoch", self.pairs_per_epoch, ">= 1")
        _require(self.epochs >= 1, "PDTConfig.epochs", self.epochs, ">= 1")
        _require(self.evals_per_epoch >= 1, "PDTConfig.evals_per_epoch", self.evals_per_epoch, ">= 1")
        _require(self.eval_pairs >= 2, "PDTConfig.eval_pairs", self.eval_pairs, ">= 2")
        _require(0 < self.positive_fraction < 1, "PDTConfig.positive_fraction", self.positive_fraction, "in (0, 1)")
        _require(self.select_on in SELECT_ON, "PDTConfig.select_on", self.select_on, f"one of {tuple(SELECT_ON)}")
        _require(self.encoder.embedding_dim == self.discriminator.embedding_dim, "PDTConfig.discriminator."
                 "embedding_dim", self.discriminator.embedding_dim, f"the encoder's {self.encoder.embedding_dim}")

    @property
    def pairs_per_step(self) -> int:
        return pairs_per_batch(self.mode, self.batch_size)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.pairs_per_epoch / self.pairs_per_step)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClassifierConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    n_classes: int = len(EMOTIONS)
    lr: float = 1e-5  # §4.1: fixed, as the PDT's
    batch_size: int = 32
    epochs: int = 20  # not given by the paper
    train_splits: tuple[str, ...] = ("train", "val")  # §4.1: training and validation sets concatenated
    duration: float = 4.0  # seconds; must be the FeatureSet's (the paper: 4, 5, 6, 7)
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.encoder, dict):
            self.encoder = EncoderConfig.from_dict(self.encoder)
        self.train_splits = tuple(self.train_splits)
        _require(self.lr > 0, "ClassifierConfig.lr", self.lr, "> 0")
        _require(self.batch_size >= 2, "ClassifierConfig.batch_size", self.batch_size, ">= 2")
        _require(self.epochs >= 1, "ClassifierConfig.epochs", self.epochs, ">= 1")
        _require(self.n_classes >= 2, "ClassifierConfig.n_classes", self.n_classes, ">= 2")
        _require("test" not in self.train_splits and len(self.train_splits) > 0, "ClassifierConfig.train_splits",
                 self.train_splits, "a non-empty subset of ('train', 'val')")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    run_dir: Path
    model: nn.Module  # PDTModel (weights selected on validation) or EmotionClassifier (final weights); eval mode
    log: pd.DataFrame  # log.csv
    steps: int  # optimiser steps done, across resumes
    completed: bool  # False when stopped by stop_after
    best: dict  # PDT: {"step", "metric", "value"} of the selected weights; classifier: {}
    device: str
    wall_s: float  # this call's
    notes: list = field(default_factory=list)

    @property
    def encoder(self) -> nn.Module:
        return self.model.encoder


# ---------------------------------------------------------------- device, seeds, data

def pick_device(device=None) -> torch.device:
    """`device` if given, else CUDA when present, else CPU."""
    return torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))


def seed_everything(seed: int) -> None:
    """Seed python, numpy's global RNG and torch (CPU and CUDA): the one place seeds are set."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def _deterministic(enabled: bool):
    if not enabled:
        yield
        return
    import torch.utils.deterministic as det

    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                det.fill_uninitialized_memory)
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Filling every new tensor with NaN (the default under deterministic algorithms) only
    # guards ops that read uninitialised memory, and costs about 15% of a CPU step.
    det.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        det.fill_uninitialized_memory = previous[2]


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


class FeatureBatches:
    """Rows of a (N, 257, T) feature array -> float32 (B, 257, T) tensors on `device`.

    On CUDA the array goes to the GPU once, as float16, when it fits in half the free memory
    (or when on_device=True); batches are then gathered there. Otherwise batches are read from
    the (memmapped) array per step.
    """

    def __init__(self, features, device: torch.device, on_device: bool | None = None):
        self.device, self.data, self.on_device = device, features, False
        if isinstance(features, torch.Tensor):
            self.on_device = features.device == device
            self.data = features if self.on_device else features.cpu().numpy()
        elif device.type == "cuda" and on_device is not False:
            n = len(features)
            fits = n * int(np.prod(features.shape[1:])) * 2 < 0.5 * torch.cuda.mem_get_info(device)[0]
            if on_device or fits:
                self.data = torch.empty(features.shape, dtype=torch.float16, device=device)
                for s in range(0, n, 1024):  # chunked: never a float32 copy of the whole set on the host
                    chunk = np.asarray(features[s:s + 1024], dtype=np.float16)
                    self.data[s:s + 1024] = torch.from_numpy(chunk).to(device)
                self.on_device = True

    def __call__(self, rows: np.ndarray) -> torch.Tensor:
        if self.on_device:
            return self.data[torch.as_tensor(rows).to(self.device, non_blocking=True)].float()
        x = torch.from_numpy(np.ascontiguousarray(self.data[np.asarray(rows)]))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        return x.float()


def _check_features(features: FeatureSet, duration: float, setting: str, splits) -> dict:
    have = float(features.config.duration)
    _require(abs(have - float(duration)) < 1e-9, f"{setting}.duration", duration,
             f"this FeatureSet holds {have:g} s features (T = {features.features.shape[-1]}); "
             f"build the feature cache at {float(duration):g} s, or set duration={have:g}")
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


# ---------------------------------------------------------------- forward passes outside training

@torch.no_grad()
def _forward(module: nn.Module, batches: FeatureBatches, rows: np.ndarray, batch_size: int) -> torch.Tensor:
    """module(features[rows]) in eval mode, batch by batch -> float32 (n, out) on batches.device."""
    was_training = module.training
    module.eval()
    try:
        out = []
        for s in range(0, len(rows), batch_size):
            with _autocast(batches.device):
                out.append(module(batches(rows[s:s + batch_size])).float())
        return torch.cat(out) if out else torch.empty(0)
    finally:
        module.train(was_training)


def _rows_and_batches(features, indices, device, module):
    device = pick_device(device) if device is not None else next(module.parameters()).device
    array = features.features if isinstance(features, FeatureSet) else features
    rows = np.arange(len(array)) if indices is None else np.asarray(indices, dtype=np.int64)
    return rows, FeatureBatches(array, device, on_device=False)


def embed(encoder: nn.Module, features, indices=None, batch_size: int = 64, device=None) -> np.ndarray:
    """256-D vectors of `features` (a FeatureSet or a (N, 257, T) array/tensor) -> (n, 256) float32.

    indices: rows to embed (default all). Eval mode (batch norm's running statistics), no
    gradients; the encoder runs where its parameters are unless `device` is given.
    """
    rows, batches = _rows_and_batches(features, indices, device, encoder)
    encoder.to(batches.device)
    return _forward(encoder, batches, rows, batch_size).cpu().numpy()


def predict(classifier: nn.Module, features, indices=None, batch_size: int = 64, device=None) -> np.ndarray:
    """Class predictions (n,) int64 (indices into EMOTIONS) of an EmotionClassifier, as `embed`."""
    rows, batches = _rows_and_batches(features, indices, device, classifier)
    classifier.to(batches.device)
    return _forward(classifier, batches, rows, batch_size).argmax(1).cpu().numpy()


def _best_threshold_accuracy(score: np.ndarray, same: np.ndarray) -> float:
    """Accuracy of `same iff score > t` at the best threshold t (decide "same" for the top k, best k)."""
    hits = same[np.argsort(-score, kind="stable")].astype(np.int64)
    tp = np.concatenate([[0], np.cumsum(hits)])  # same pairs among the top k, k = 0..n
    k = np.arange(len(hits) + 1)
    return float((tp + (len(hits) - hits.sum()) - (k - tp)).max() / len(hits))


def _evaluate_pairs(model: PDTModel, batches: FeatureBatches, pairs: PairSet, config: PDTConfig) -> dict:
    """Loss and accuracy on a fixed pair set, from one encoder pass per utterance (eval mode).

    val_acc:      the discriminator's decision (softmax argmax).
    val_cos_acc:  "same iff cos > t", t the best threshold on these pairs: the decision the
                  cosine loss trains (λ = 1 trains no discriminator).
    val_pair_acc: the better of the two; what the default checkpoint selection uses.
    """
    rows = np.unique(np.concatenate([pairs.a, pairs.b]))
    z = _forward(model.encoder, batches, rows, 128)  # (n_rows, 256)
    za = z[torch.as_tensor(np.searchsorted(rows, pairs.a), device=z.device)]  # (P, 256)
    zb = z[torch.as_tensor(np.searchsorted(rows, pairs.b), device=z.device)]
    same = torch.as_tensor(pairs.same, device=z.device)
    with torch.no_grad():
        logits = torch.cat([model.discriminator(a, b).float() for a, b in zip(za.split(65536), zb.split(65536))])
        loss = pdt_loss(za, zb, logits, same, lam=config.lam, margin=config.margin)
        acc = (logits.argmax(1) == same.long()).float().mean().item()
        cos = F.cosine_similarity(za, zb, dim=1).cpu().numpy()
    cos_acc = _best_threshold_accuracy(cos, pairs.same)
    return {"val_loss": loss.total.item(), "val_cos_loss": loss.cosine.item(), "val_cro_loss":
            loss.cross_entropy.item(), "val_acc": acc, "val_cos_acc": cos_acc, "val_pair_acc": max(acc, cos_acc)}


# ---------------------------------------------------------------- checkpoints

def _rng_state(device: torch.device) -> dict:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                       "cached_gaussian": float(cached)},
             "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64), "gauss": gauss}}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _save(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path, map_location="cpu") -> dict:
    """A checkpoint.pt / best.pt written by this module (safe: weights_only=True)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def _diff(a: dict, b: dict, prefix="") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{key}.")
        elif va != vb and not (isinstance(va, (list, tuple)) and isinstance(vb, (list, tuple))
                               and list(va) == list(vb)):
            out.append(f"{prefix}{key}: checkpoint {va!r}, now {vb!r}")
    return out


# ---------------------------------------------------------------- the loop both trainers share

def _fit(*, kind: str, run_dir: Path, config: dict, model: nn.Module, optimizer, device: torch.device,
         total_steps: int, log_at: Callable[[int], bool], step_fn: Callable[[int], dict],
         evaluate: Callable[[], dict], describe: Callable[[int], dict], select_on: str | None,
         resume: bool | str, data: str, stop_after: int | None, callback, notes: list) -> TrainResult:
    """Run steps start..total_steps-1 of a deterministic schedule, logging and checkpointing."""
    start_time = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, best_path, log_path = run_dir / "checkpoint.pt", run_dir / "best.pt", run_dir / "log.csv"
    rows, running, best, step = [], {}, {}, 0

    ckpt = load_checkpoint(ckpt_path) if resume and ckpt_path.exists() else None
    if ckpt is not None:
        detail = _diff(ckpt.get("config", {}), config)
        if ckpt.get("kind") != kind:
            detail.insert(0, f"kind: checkpoint {ckpt.get('kind')!r}, now {kind!r}")
        if ckpt.get("data") != data:
            detail.append("data: other features (the corpus, its files, labels, splits or the feature config changed)")
        if detail and resume != "auto":
            raise ValueError(f"resume: {ckpt_path} was made by another configuration or data ("
                             + "; ".join(detail) + "); use another run_dir, resume='auto' to start afresh, "
                             "or resume=False")
        if detail:
            notes.append("started afresh: the checkpoint was made by another configuration or data ("
                         + "; ".join(detail) + ")")
            ckpt = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, running, best = int(ckpt["step"]), dict(ckpt["running"]), dict(ckpt["best"])
        _set_rng_state(ckpt["rng"], device)
        if log_path.exists():
            rows = pd.read_csv(log_path).query("step <= @step").to_dict("records")
        notes.append(f"resumed at step {step} of {total_steps}")
    else:
        for path in (ckpt_path, best_path, log_path):
            path.unlink(missing_ok=True)

    def write_log():
        with atomic_path(log_path) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)

    def checkpoint():
        _save({"kind": kind, "step": step, "config": config, "data": data, "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "rng": _rng_state(device),
               "running": {k: float(v) for k, v in running.items()}, "best": best,
               "sampler": {"seed": int(config["seed"]), "position": step}}, ckpt_path)

    def log_point():
        nonlocal running, best
        n = running.pop("n", 0.0)
        row = {"step": step, **describe(step), **{f"train_{k}": float(v) / n if n else float("nan")
                                                   for k, v in running.items()}, **evaluate(),
               "elapsed_s": round(time.perf_counter() - start_time, 3)}
        running = {}
        rows.append(row)
        if select_on is not None:
            better = SELECT_ON[select_on]
            if not best or better(row[select_on], best["value"]) != best["value"]:
                best = {"step": step, "metric": select_on, "value": float(row[select_on])}
                _save({"kind": kind, "step": step, "config": config, "data": data, "model": model.state_dict(),
                       "best": best},
                      best_path)
        write_log()
        checkpoint()
        return row

    with _deterministic(device.type == "cpu"):
        if step == 0 and not rows and select_on is not None:
            log_point()  # the untrained model: where the validation curves start
        last = total_steps if stop_after is None else min(total_steps, max(step, stop_after))
        bar = progress(range(step, last), initial=step, total=total_steps, desc=kind, unit="step")
        for k in bar:
            metrics = step_fn(k)  # {name: 0-d tensor}, summed below without a device sync
            step = k + 1
            for name, value in metrics.items():
                running[name] = running.get(name, 0.0) + value.detach()
            running["n"] = running.get("n", 0.0) + 1
            if callback is not None:
                callback(step, metrics)
            if log_at(step) or step == total_steps:
                row = log_point()
                bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k in ("train_loss", select_on)})
            elif step == last:
                checkpoint()  # stopped by stop_after between log points
        bar.close()

    completed = step >= total_steps
    if completed:
        if best_path.exists():
            model.load_state_dict(load_checkpoint(best_path)["model"])
        model.eval()
    return TrainResult(run_dir, model, pd.DataFrame(rows), step, completed, best, str(device),
                       time.perf_counter() - start_time, notes)


def _record(run_dir: Path, kind: str, config: dict, features: FeatureSet, result: TrainResult, extra: dict) -> None:
    from .runs import environment_record  # git, versions, device

    write_json(Path(run_dir) / "train.json", {
        "kind": kind, "config": config, "features": features.config.to_dict(), "n_utterances": len(features),
        "device": result.device, "steps": result.steps, "completed": result.completed, "best": result.best,
        "wall_s_this_call": round(result.wall_s, 2), "notes": result.notes, **extra,
        "environment": environment_record()})


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` on `device`; the encoder's convolutions are channels_last already (models.py)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels once
    return model.to(device)


# ---------------------------------------------------------------- the PDT

def pdt_step_fn(model: PDTModel, optimizer, config: PDTConfig, labels: np.ndarray, pool: np.ndarray,
                batches: FeatureBatches) -> Callable[[int], dict]:
    """The PDT's training step k (forward, eq. 1 loss, backward, Adam step) as a function of k.

    `sampled`: the B pairs of PairSampler.batch(k), their 2B utterances encoded in one pass.
    `in-batch`: the B utterances of BalancedBatchSampler.batch(k), encoded once, all B(B-1)/2
    pairs scored with 1 : 2 weights. Returns the loss terms as 0-d tensors (no device sync).
    """
    device = batches.device
    y = torch.tensor(labels, device=device)  # (N,) labels of every row, on the device once
    if config.mode == "sampled":
        sampler = PairSampler(labels, pool, config.batch_size, config.positive_fraction, config.seed)
    else:
        sampler = BalancedBatchSampler(labels, pool, config.batch_size, config.seed)

    def step(k: int) -> dict:
        if config.mode == "sampled":
            a, b, same = sampler.batch(k)  # (B,) rows each
            with _autocast(device):
                z = model.encoder(batches(np.concatenate([a, b]))).float()  # (2B, 256)
            za, zb, weight = z[: len(a)], z[len(a):], None
            same = torch.as_tensor(same).to(device, non_blocking=True)
        else:
            rows = sampler.batch(k)  # (B,)
            rows_t = torch.as_tensor(rows).to(device, non_blocking=True)
            with _autocast(device):
                z = model.encoder(batches(rows_t if batches.on_device else rows)).float()  # (B, 256)
            ia, ib, same, weight = in_batch_pairs(y[rows_t], rows_t, config.positive_fraction)  # (P,) each
            za, zb = z[ia], z[ib]  # (P, 256)
        with _autocast(device):
            logits = model.discriminator(za, zb).float()  # (P, 2)
        loss = pdt_loss(za, zb, logits, same, lam=config.lam, margin=config.margin, weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.total.backward()
        optimizer.step()
        return {"loss": loss.total, "cos_loss": loss.cosine, "cro_loss": loss.cross_entropy}

    return step


def train_pdt(features: FeatureSet, config: PDTConfig, run_dir, *, resume: bool | str = False, device=None,
              stop_after: int | None = None, callback=None, keep_on_device: bool | None = None) -> TrainResult:
    """Train the PDT (encoder + discriminator) on the train split; select on the val split.

    config:     PDTConfig; config.duration must be the FeatureSet's.
    run_dir:    folder for checkpoint.pt, best.pt, log.csv and train.json.
    resume:     continue from run_dir/checkpoint.pt when present (else start afresh); a finished
                run is returned as it is. A checkpoint made by another configuration or on other
                features (FeatureSet.fingerprint) is refused with resume=True; resume="auto" then
                starts afresh with a note (what `make report` wants after a parameter change).
    stop_after: stop (with a checkpoint) once this many steps are done: an interruption on purpose.
    callback:   called as callback(step, metrics) after every step (tests inject failures here).
    Returns a TrainResult whose model holds the weights selected on validation (best.pt).
    """
    device = pick_device(device)
    pools = _check_features(features, config.duration, "PDTConfig", ("train", "val"))
    labels = features.labels
    eval_set = evaluation_pairs(labels, pools["val"], config.eval_pairs, config.positive_fraction, config.seed)
    if len(np.unique(labels[pools["train"]])) < 2:
        raise ValueError("the train split holds a single emotion: there are no different-emotion pairs")

    seed_everything(config.seed)
    model = prepare_model(PDTModel(config.encoder, config.discriminator), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    batches = FeatureBatches(features.features, device, keep_on_device)
    step_fn = pdt_step_fn(model, optimizer, config, labels, pools["train"], batches)
    spe, pps = config.steps_per_epoch, config.pairs_per_step
    # log points: the end of each epoch and evals_per_epoch - 1 evenly spaced steps inside it
    inside = {round(spe * q / config.evals_per_epoch) for q in range(1, config.evals_per_epoch)}

    notes = [eval_set.note]
    result = _fit(kind="pdt", run_dir=Path(run_dir), config=config.to_dict(), model=model, optimizer=optimizer,
                  device=device, total_steps=config.epochs * spe, log_at=lambda s: s % spe == 0 or s % spe in inside,
                  step_fn=step_fn, evaluate=lambda: _evaluate_pairs(model, batches, eval_set, config),
                  describe=lambda s: {"epoch": round(s / spe, 4), "pairs_seen": s * pps,
                                      "utterances_encoded": s * (2 * config.batch_size if config.mode == "sampled"
                                                                 else config.batch_size)},
                  select_on=config.select_on, resume=resume, data=features.fingerprint(), stop_after=stop_after,
                  callback=callback, notes=notes)
    _record(run_dir, "pdt", config.to_dict(), features, result,
            {"eval_pairs": len(eval_set), "pairs_seen": result.steps * pps,
             "features_on_device": batches.on_device})
    return result


# ---------------------------------------------------------------- the traditional classifier

def train_classifier(features: FeatureSet, config: ClassifierConfig, run_dir, *, resume: bool | str = False, device=None,
                     stop_after: int | None = None, callback=None, keep_on_device: bool | None = None) -> TrainResult:
    """The traditional baseline (§4.1): encoder + FC, 4-way cross entropy on config.train_splits
    (train + val), fixed lr, config.epochs epochs, no selection (the final weights are returned).

    Arguments as train_pdt; one log row per epoch (train loss and accuracy).
    """
    device = pick_device(device)
    pool = _check_features(features, config.duration, "ClassifierConfig", (config.train_splits,))
    pool = next(iter(pool.values()))
    labels = features.labels
    _require(labels.max() < config.n_classes, "ClassifierConfig.n_classes", config.n_classes,
             f"more than the largest label {labels.max()}")
    batch = min(config.batch_size, len(pool))
    _require(batch >= 2, "the training splits' size", len(pool), ">= 2 utterances")
    spe = len(pool) // batch  # the last, partial batch of an epoch is dropped

    seed_everything(config.seed)
    model = prepare_model(EmotionClassifier(config.encoder, config.n_classes), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    batches = FeatureBatches(features.features, device, keep_on_device)
    y = torch.tensor(labels, device=device)

    def step_fn(k: int) -> dict:
        epoch, j = divmod(k, spe)
        rows = np.random.default_rng([config.seed, 3, epoch]).permutation(pool)[j * batch:(j + 1) * batch]
        target = y[torch.as_tensor(rows).to(device, non_blocking=True)]
        with _autocast(device):
            logits = model(batches(rows)).float()  # (B, 4)
        loss = F.cross_entropy(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss, "acc": (logits.argmax(1) == target).float().mean()}

    result = _fit(kind="classifier", run_dir=Path(run_dir), config=config.to_dict(), model=model, optimizer=optimizer,
                  device=device, total_steps=config.epochs * spe, log_at=lambda s: s % spe == 0, step_fn=step_fn,
                  evaluate=dict, describe=lambda s: {"epoch": round(s / spe, 4), "utterances_seen": s * batch},
                  select_on=None, resume=resume, data=features.fingerprint(), stop_after=stop_after,
                  callback=callback, notes=[])
    _record(run_dir, "classifier", config.to_dict(), features, result,
            {"train_utterances": len(pool), "features_on_device": batches.on_device})
    return result
