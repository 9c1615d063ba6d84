"""The training loop both methods share (train.PDTTrainer, train.ClassifierTrainer): steps, named
hooks, evaluations on validation, early stopping and the run's files (checkpoints.Checkpointer),
in the manner of speechbrain's Brain and minGPT's Trainer.

The budget is the same for both methods and counted in encoder passes (utterances encoded), the
compute a step costs whatever the task: the run evaluates every `eval_every` steps, keeps the best
checkpoint on validation, and stops after `patience` evaluations without a better value, or at
the cap `max_passes`. A run's length is then set by validation, not by an epoch count sized for
one corpus. `warmup` raises the learning rate linearly from 0 over its first steps. Every
quantity here is a pure function of the step and the log rows, so a resumed run stops where an
uninterrupted one does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from .averaging import WeightAverage
from .batchnorm import BatchNormRecalibration
from .checkpoints import Checkpointer, deterministic
from .configs import UNDERFIT_ACC, min_steps, steps_within
from ..features import FeatureSet
from ..system.precision import resolve
from ..system.progress import progress


@dataclass
class TrainResult:
    run_dir: Path
    model: nn.Module  # PDTModel (weights selected on validation) or EmotionClassifier (final weights); eval mode
    log: pd.DataFrame  # log.csv
    steps: int  # optimiser steps done, across resumes
    completed: bool  # False when stopped by stop_after
    best: dict  # selecting runs: {"step", "metric", "value"} of the selected weights; else {}
    device: str
    wall_s: float  # this call's
    notes: list = field(default_factory=list)  # about the result (a report records them)
    # About this call, not the result (resumed at step k, started afresh): a resumed run ends at the
    # weights of an uninterrupted one, so what a report records must not depend on them.
    events: list = field(default_factory=list)
    stopped: str = ""  # "patience" (validation stopped improving), "cap" (max_passes), "" (not finished)
    passes_per_step: int = 0  # encoder passes of one step

    @property
    def encoder(self) -> nn.Module:
        return self.model.encoder

    @property
    def passes(self) -> int:
        """Encoder passes (utterances encoded) of the training done."""
        return self.steps * self.passes_per_step


class Trainer:
    """Steps 0..total_steps-1 of a deterministic schedule, evaluated every `config.eval_every`
    steps, stopped early by `config.patience`. Nothing here knows what is trained: the hooks say.

    Hooks:
        on_fit_start()                    before the first step: input normalisation, batch norm
        compute_forward(step) -> dict      the step's batch through the model (outputs, targets)
        compute_objectives(outputs) -> dict  {"loss": what is back-propagated, other 0-d tensors}
        describe(step) -> dict            progress columns of a log row (pairs seen, ...)
        on_stage_end(step) -> dict        validation metrics at a log point ({} when none)
    `config.select_on` names the on_stage_end metric whose best value picks best.pt (None: no
    selection, the final weights are the result, and the run goes to the cap).
    """

    kind: str = ""
    log_initial: bool = False  # evaluate the untrained model (step 0) too: a reference, never selected

    def __init__(self, *, model: nn.Module, optimizer, features: FeatureSet, config, run_dir, device: torch.device,
                 train_rows: np.ndarray, batch_size: int, passes_per_step: int):
        self.model, self.optimizer, self.features, self.device = model, optimizer, features, device
        self.config, self.select_on = config, config.select_on
        self.train_rows, self.batch_size, self.passes_per_step = train_rows, batch_size, passes_per_step
        self.total_steps = steps_within(config.max_passes, passes_per_step)
        self.min_steps = min_steps(config.min_epochs, len(train_rows), passes_per_step, self.total_steps)
        # `auto` resolved here, on this device: the checkpoint records the precision the run used, so a
        # resume in the other one is a configuration change (refused, or afresh with a note).
        self.precision = resolve(config.precision, device)
        self.checkpointer = Checkpointer(run_dir, kind=self.kind, features=features,
                                         config={**config.to_dict(), "precision": self.precision},
                                         select_on=self.select_on, model=model, optimizer=optimizer, device=device)
        self.step, self.running = 0, {}
        self.recalibration: BatchNormRecalibration | None = None
        self.notes: list[str] = []
        # A run that keeps no checkpoint (select_on None) with config.weight_average > 0 returns the
        # average of its weights (averaging.py); a selecting run keeps what validation chose.
        decay = getattr(config, "weight_average", 0.0)
        self.average = WeightAverage(model, decay) if decay and self.select_on is None else None
        self.checkpointer.average = self.average

    # ---- hooks
    def on_fit_start(self) -> None:
        """What the encoder sees and how batch norm is read, settled here for both trainers: the
        encoder's input normalisation (features.InputNormalization) is fit on the training rows
        ("bins" mode; the other modes have nothing to fit; a resumed run then loads the same
        statistics with its weights), and with config.recalibrate_bn batch norm's running statistics
        are recomputed at the current weights before every evaluation and at the end (batchnorm.py)."""
        self.model.encoder.input_norm.fit(self.features.features, self.train_rows)
        if self.config.recalibrate_bn:
            self.recalibration = BatchNormRecalibration(self.train_rows, self.batch_size, self.config.seed)

    def compute_forward(self, step: int) -> dict:
        raise NotImplementedError

    def compute_objectives(self, outputs: dict) -> dict:
        raise NotImplementedError

    def describe(self, step: int) -> dict:
        return {}

    def on_stage_end(self, step: int) -> dict:
        return {}

    # ---- one step
    def fit_batch(self, step: int) -> dict:
        """Forward, objectives, backward, optimiser step; returns the 0-d metric tensors (no device sync)."""
        if self.config.warmup:  # a pure function of the step: resumes exactly
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.lr * min(1.0, (step + 1) / self.config.warmup)
        metrics = self.compute_objectives(self.compute_forward(step))
        self.optimizer.zero_grad(set_to_none=True)
        metrics["loss"].backward()
        self.optimizer.step()
        if self.average is not None:
            self.average.update(step)
        return metrics

    def _log_point(self, start_time: float) -> dict:
        """Evaluate (batch norm recalibrated first), then log the row, keep best.pt and checkpoint.
        At the last step a run that averages its weights puts the average in the model first."""
        if self.average is not None and self.step == self.total_steps:
            self.average.copy_to_model()
        if self.recalibration is not None and (self.select_on is not None or self.step == self.total_steps):
            self.recalibration(self.model.encoder, self.batches, self.device)
        n = self.running.pop("n", 0.0)
        row = {"step": self.step, "epoch": round(self.step * self.passes_per_step / len(self.train_rows), 4),
               "passes": self.step * self.passes_per_step, **self.describe(self.step),
               **{f"train_{k}": float(v) / n if n else float("nan") for k, v in self.running.items()},
               **self.on_stage_end(self.step), "elapsed_s": round(time.perf_counter() - start_time, 3)}
        self.running = {}
        # Step 0 (the untrained model, log_initial) is logged as where the curves start, never kept:
        # the row a method's run gives is that method's trained weights, not random ones.
        self.checkpointer.save_log_point(row, self.step, self.running, eligible=self.step > 0)
        return row

    def patience_spent(self) -> bool:
        """`patience` evaluations since the best one, none better, once the run has trained its
        `min_epochs` and fit its training data: the training accuracy of the last evaluation's
        interval at least UNDERFIT_ACC, where the run logs one (a λ = 1 PDT has no discriminator).
        Derived from the step and the log: resumable."""
        best, patience, rows = self.checkpointer.best, self.config.patience, self.checkpointer.rows
        if self.select_on is None or not patience or not best or self.step < self.min_steps:
            return False
        if rows and rows[-1].get("train_acc", float("nan")) < UNDERFIT_ACC:  # NaN compares False: no accuracy
            return False
        return sum(row["step"] > best["step"] for row in rows) >= patience

    # ---- the loop
    def fit(self, *, resume: bool | str = False, stop_after: int | None = None, callback=None) -> TrainResult:
        """Run until the cap or early stopping; return the model (best.pt's weights when selecting)
        in eval mode. `resume`: see Checkpointer.recover."""
        start_time = time.perf_counter()
        self.on_fit_start()
        self.step, self.running = self.checkpointer.recover(resume, self.total_steps)
        with deterministic(self.device.type == "cpu"):
            if self.step == 0 and not self.checkpointer.rows and self.select_on is not None and self.log_initial:
                self._log_point(start_time)  # the untrained model: where the validation curves start
            last = self.total_steps if stop_after is None else min(self.total_steps, max(self.step, stop_after))
            bar = progress(range(self.step, last), initial=self.step, total=self.total_steps, desc=self.kind,
                           unit="step")
            for k in bar:
                if self.patience_spent():
                    break
                metrics = self.fit_batch(k)
                self.step = k + 1
                for name, value in metrics.items():
                    self.running[name] = self.running.get(name, 0.0) + value.detach()
                self.running["n"] = self.running.get("n", 0.0) + 1
                if callback is not None:
                    callback(self.step, metrics)
                if self.step % self.config.eval_every == 0 or self.step == self.total_steps:
                    row = self._log_point(start_time)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k in ("train_loss", self.select_on)})
                elif self.step == last:
                    self.checkpointer.save(self.step, self.running)  # stopped between log points
            bar.close()
        stopped = "patience" if self.patience_spent() else "cap" if self.step >= self.total_steps else ""
        if stopped:
            self.checkpointer.restore_best()
            self.model.eval()
        return TrainResult(self.checkpointer.run_dir, self.model, pd.DataFrame(self.checkpointer.rows), self.step,
                           bool(stopped), self.checkpointer.best, str(self.device), time.perf_counter() - start_time,
                           self.notes, self.checkpointer.events, stopped, self.passes_per_step)
