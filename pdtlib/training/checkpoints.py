"""Training state on disk and the randomness it must restore, so that a resumed run ends at the
weights of an uninterrupted one: the `Checkpointer` of a run folder, checkpoint files, RNG state,
and the determinism switch.

A `Checkpointer` (in the manner of speechbrain's) owns what one training run keeps in its
`run_dir`: it recovers the state to resume from (refusing, or with resume="auto" discarding, a
checkpoint made by another configuration or on other features), saves `checkpoint.pt` at every
log point, keeps the best weights by the selection metric (`best.pt`), and writes beside them
the log (`log.csv`, one row per log point) and the record of the run (`train.json`).

A checkpoint (`checkpoint.pt`, `best.pt`) is a dict of tensors and plain values, written
atomically and read with `torch.load(weights_only=True)` (no code runs from the file):

    kind       "pdt" or "classifier"
    step       optimiser steps done
    config     the training config as a plain dict (PDTConfig / ClassifierConfig .to_dict())
    features   the FeatureConfig of the features it was trained on, as a plain dict
    data       the FeatureSet's fingerprint: resume refuses other features
    model      the state_dict (PDTModel or EmotionClassifier: both hold `.encoder`)
    optimizer, rng, running, best, sampler    in checkpoint.pt only: what resuming needs
    average    in checkpoint.pt of a run that averages its weights (averaging.WeightAverage)

Randomness comes from two places. Every batch is drawn by a numpy Generator seeded with
(seed, stream, step...) (seeds.stream_rng): a pure function of the step, so nothing but the
step needs restoring. Initialisation and anything else that reads the global generators (torch,
numpy, python) is covered by seeds.seed_everything and by `rng_state` in every checkpoint.
"""
from __future__ import annotations

import contextlib
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..system.atomic import atomic_path, remove_stale, write_json
from .configs import SELECT_ON, from_dict
from ..features import FeatureConfig, FeatureSet
from ..models import AudioEncoder, EncoderConfig
from ..system.runs import environment_record


@contextlib.contextmanager
def deterministic(enabled: bool):
    """Deterministic torch algorithms inside the block (CPU training: exact resume), restored after."""
    if not enabled:
        yield
        return
    import torch.utils.deterministic as det  # a submodule `import torch` does not load

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


def rng_state(device: torch.device) -> dict:
    """The global generators' states (torch, numpy, python; CUDA on a GPU) as tensors and numbers."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                       "cached_gaussian": float(cached)},
             "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64), "gauss": gauss}}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    """Restore what `rng_state` recorded."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(state: dict, path) -> None:
    """`torch.save(state, path)`, atomically: a reader sees the old file or the new one."""
    remove_stale(Path(path).parent)  # temporaries of a writer killed mid-save
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read; the message names it and what to do."""


def load_checkpoint(path, map_location="cpu") -> dict:
    """A checkpoint.pt / best.pt written by this project (safe: weights_only=True); CheckpointError
    naming the file when it is truncated, damaged or not a checkpoint."""
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        # torch: "PytorchStreamReader failed reading zip archive", "unexpected EOF", EINVAL, ...
        raise CheckpointError(f"checkpoint {path} cannot be read ({str(exc).splitlines()[0]}): it is truncated "
                              "or damaged (a copy cut short, a full disk). Delete it to train that run from the "
                              "start, or put back an earlier copy of it to resume from there.") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"checkpoint {path} holds no model state: it was not written by pdtlib; delete it")
    return ckpt


def config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    """The keys where two plain config dicts differ, as `key: checkpoint A, now B` lines."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_diff(va, vb, f"{prefix}{key}.")
        elif va != vb and not (isinstance(va, (list, tuple)) and isinstance(vb, (list, tuple))
                               and list(va) == list(vb)):
            out.append(f"{prefix}{key}: checkpoint {va!r}, now {vb!r}")
    return out


def load_encoder(path) -> tuple[AudioEncoder, dict]:
    """The AudioEncoder inside a checkpoint (the PDT's or the classifier's), in eval mode.

    Returns (encoder, info) with info = {"kind", "step", "config", "features", "best"} of the file,
    all plain values; "features" is the FeatureConfig dict the encoder was trained on (what to feed it).
    """
    ckpt = load_checkpoint(path)
    encoder = AudioEncoder(from_dict(EncoderConfig, ckpt["config"]["encoder"]))
    encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in ckpt["model"].items()
                             if k.startswith("encoder.")})
    return encoder.eval(), {"kind": ckpt.get("kind"), "step": int(ckpt.get("step", 0)), "config": ckpt["config"],
                            "features": from_dict(FeatureConfig, ckpt["features"]).to_dict(), "best": ckpt.get("best", {})}


class Checkpointer:
    """The on-disk state of one training run in `run_dir`: checkpoint.pt, best.pt, log.csv and
    train.json. It saves and restores the model and optimizer it is given (with the global RNG
    state), and keeps the run's log rows (`rows`), its selection (`best`: {"step", "metric",
    "value"} of best.pt, {} before the first) and what this call did to the state (`events`)."""

    def __init__(self, run_dir, *, kind: str, config: dict, features: FeatureSet, select_on: str | None,
                 model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device):
        self.run_dir = Path(run_dir)
        self.ckpt_path, self.best_path = self.run_dir / "checkpoint.pt", self.run_dir / "best.pt"
        self.log_path, self.record_path = self.run_dir / "log.csv", self.run_dir / "train.json"
        self.kind, self.config, self.select_on = kind, config, select_on
        self.features, self.data = features, features.fingerprint()
        self.model, self.optimizer, self.device = model, optimizer, device
        self.best: dict = {}
        self.rows: list[dict] = []
        self.events: list[str] = []
        self.average = None  # an averaging.WeightAverage the trainer keeps, saved and restored with the run

    # ---- what the files hold
    def _weights(self, step: int) -> dict:
        """best.pt: the weights and what made them."""
        return {"kind": self.kind, "step": step, "config": self.config, "features": self.features.config.to_dict(),
                "data": self.data, "model": self.model.state_dict(), "best": self.best}

    def _resumable(self, step: int, running: dict) -> dict:
        """checkpoint.pt: best.pt's keys and what resuming needs on top of the weights (`running`:
        the loop's metric sums since the last log point)."""
        return {**self._weights(step), "optimizer": self.optimizer.state_dict(), "rng": rng_state(self.device),
                "running": {k: float(v) for k, v in running.items()},
                "sampler": {"seed": int(self.config["seed"]), "position": step},
                **({"average": self.average.state_dict()} if self.average is not None else {})}

    def _differences(self, ckpt: dict) -> list[str]:
        """How the checkpoint's kind, config and features differ from this run's ([] when they do not)."""
        detail = config_diff(ckpt.get("config", {}), self.config)
        if ckpt.get("kind") != self.kind:
            detail.insert(0, f"kind: checkpoint {ckpt.get('kind')!r}, now {self.kind!r}")
        if ckpt.get("data") != self.data:
            detail.append("data: other features (the corpus, its files, labels, splits or the feature config "
                          "changed)")
        return detail

    # ---- recover, save, keep the best
    def recover(self, resume: bool | str, total_steps: int) -> tuple[int, dict]:
        """Load checkpoint.pt when asked and it was made by this config on these features; else
        delete what an earlier run left. Returns (steps done, the loop's running sums) to go on from.

        resume: False: start afresh; True: resume (afresh when there is no checkpoint.pt), refusing a
        checkpoint of another configuration or other features; "auto": as True, but start afresh from
        such a checkpoint (an event says why).
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ckpt = load_checkpoint(self.ckpt_path) if resume and self.ckpt_path.exists() else None
        if ckpt is not None:
            detail = self._differences(ckpt)
            if detail and resume != "auto":
                raise ValueError(f"resume: {self.ckpt_path} was made by another configuration or data ("
                                 + "; ".join(detail) + "); use another run_dir, resume='auto' to start afresh, "
                                 "or resume=False")
            if detail:
                self.events.append("started afresh: the checkpoint was made by another configuration or data ("
                                   + "; ".join(detail) + ")")
                ckpt = None
        if ckpt is None:
            for path in (self.ckpt_path, self.best_path, self.log_path):
                path.unlink(missing_ok=True)
            return 0, {}
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        step, running, self.best = int(ckpt["step"]), dict(ckpt["running"]), dict(ckpt["best"])
        set_rng_state(ckpt["rng"], self.device)
        if self.average is not None:
            self.average.load_state_dict(ckpt["average"])
        if self.log_path.exists():
            log = pd.read_csv(self.log_path)
            self.rows = log[log["step"] <= step].to_dict("records")  # rows past the checkpoint are redone
        self.events.append(f"resumed at step {step} of {total_steps}")
        return step, running

    def save(self, step: int, running: dict) -> None:
        """checkpoint.pt at `step`."""
        save_checkpoint(self._resumable(step, running), self.ckpt_path)

    def save_log_point(self, row: dict, step: int, running: dict, eligible: bool = True) -> None:
        """Append `row` to the log; best.pt := the weights when the row is `eligible` and its selection
        metric beats the best so far; then log.csv and checkpoint.pt."""
        self.rows.append(row)
        if self.select_on is not None and eligible:
            better = SELECT_ON[self.select_on]
            if not self.best or better(row[self.select_on], self.best["value"]) != self.best["value"]:
                self.best = {"step": step, "metric": self.select_on, "value": float(row[self.select_on])}
                save_checkpoint(self._weights(step), self.best_path)
        with atomic_path(self.log_path) as tmp:
            pd.DataFrame(self.rows).to_csv(tmp, index=False)
        self.save(step, running)

    def restore_best(self) -> None:
        """The model := best.pt's weights, when the run kept any (a run that selects)."""
        if self.best_path.exists():
            self.model.load_state_dict(load_checkpoint(self.best_path)["model"])

    def write_record(self, result, extra: dict) -> None:
        """train.json: config, features, device, steps, selection, notes and the environment, from
        `result` (a train.TrainResult) and the trainer's `extra` fields."""
        write_json(self.record_path, {
            "kind": self.kind, "config": self.config, "features": self.features.config.to_dict(),
            "n_utterances": len(self.features), "device": result.device, "steps": result.steps,
            "completed": result.completed, "best": result.best, "wall_s_this_call": round(result.wall_s, 2),
            "notes": result.notes, "events": result.events, **extra, "environment": environment_record()})
