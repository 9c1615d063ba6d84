"""The exponential moving average of a run's weights (Polyak averaging; as SWA, Izmailov et al.
2018, averages along the trajectory): what a run that keeps no checkpoint returns, where nothing
on validation can choose among its weights.

The traditional method's final run (§4.1: train + validation, the passes its selection run chose)
is such a run. Its last weights are one draw from the noisy end of a trajectory: on RAVDESS's six
study folds (seed 0) the classifier's validation UA moved by a standard deviation of 1.9–6.9 points
between evaluations after step 200, the average's by 1.6–2.9 (docs/results.md, "Weight averaging
for the run that keeps no checkpoint").
"""

from __future__ import annotations

import torch
import torch.nn as nn


class WeightAverage:
    """An exponential moving average of `model`'s parameters, updated after every optimiser step.

    decay: the weight of the old average per step (0.99: a horizon of about 100 steps). At step t
    (0-based) the decay is min(decay, (1 + t) / (10 + t)), as tf.train.ExponentialMovingAverage's
    num_updates, so the initial weights fade from the first steps instead of weighing 0.99^t.
    Batch norm's running statistics are not averaged: the trainer recomputes them at the averaged
    weights (batchnorm.py)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = float(decay)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        rate = 1.0 - min(self.decay, (1 + step) / (10 + step))
        for a, p in zip(self.average, self.params):
            a.lerp_(p.detach(), rate)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """The model's parameters := the average (the end of a run)."""
        for p, a in zip(self.params, self.average):
            p.copy_(a)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "average": [a.detach().clone() for a in self.average]}

    def load_state_dict(self, state: dict) -> None:
        if len(state["average"]) != len(self.average):
            raise ValueError(f"weight average: {len(state['average'])} tensors in the checkpoint, the model has "
                             f"{len(self.average)}")
        for a, saved in zip(self.average, state["average"]):
            a.copy_(saved)
