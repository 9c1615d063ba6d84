"""Training state on disk and the randomness it must restore: checkpoints, RNG streams, seeds,
and the determinism switch, so that a resumed run ends at the weights of an uninterrupted one.

A checkpoint (`checkpoint.pt`, `best.pt`) is a dict of tensors and plain values, written
atomically and read with `torch.load(weights_only=True)` (no code runs from the file):

    kind       "pdt" or "classifier"
    step       optimiser steps done
    config     the training config as a plain dict (PDTConfig / ClassifierConfig .to_dict())
    features   the FeatureConfig of the features it was trained on, as a plain dict
    data       the FeatureSet's fingerprint: resume refuses other features
    model      the state_dict (PDTModel or EmotionClassifier: both hold `.encoder`)
    optimizer, rng, running, best, sampler    in checkpoint.pt only: what resuming needs

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
import torch

from .atomic import atomic_path, remove_stale
from .configs import from_dict
from .features import FeatureConfig
from .models import AudioEncoder, EncoderConfig


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
