"""Running a trained network on spectrograms: what training's evaluation and serving share.

`embed` gives the 256-D vectors of an encoder (paper §4.1: what the SVM sees), `predict` the
classes of the traditional classifier. Both run the network in eval mode (batch norm's
running statistics), without gradients, batch by batch through `FeatureBatches`, which reads
rows of a (memmapped) feature array onto the device. Training (train.py) and serving a model bundle
(serving.inference, the `pdt` command) both use this module; neither imports the other.

Device: CUDA when present (the whole feature set held on the GPU as float16 when it fits in
half the free memory, batches gathered there), else the CPU. Precision (pdtlib.system.precision): `auto`
is bf16 autocast on CUDA and on CPUs with native bf16, fp32 elsewhere; `fp32` and `bf16` force it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..features import FeatureSet
from ..system.precision import autocast, resolve


def pick_device(device=None) -> torch.device:
    """`device` if given, else CUDA when present, else CPU."""
    return torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))


class FeatureBatches:
    """Rows of a (N, 257, T) feature array -> float32 (B, 257, T) tensors on `device`, and the
    precision (`precision`, resolved) every network pass over them runs in.

    On CUDA the array goes to the GPU once, as float16, when it fits in half the free memory
    (or when on_device=True); batches are then gathered there. Otherwise batches are read from
    the (memmapped) array per step.
    """

    def __init__(self, features, device: torch.device, on_device: bool | None = None, precision: str = "auto"):
        self.device, self.data, self.on_device = device, features, False
        self.precision = resolve(precision, device)
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

    def __call__(self, rows) -> torch.Tensor:
        if self.on_device:
            return self.data[torch.as_tensor(rows).to(self.device, non_blocking=True)].float()
        x = torch.from_numpy(np.ascontiguousarray(self.data[np.asarray(rows)]))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        return x.float()


@torch.no_grad()
def forward_rows(module: nn.Module, batches: FeatureBatches, rows: np.ndarray, batch_size: int) -> torch.Tensor:
    """module(features[rows]) in eval mode, batch by batch -> float32 (n, out) on batches.device.

    The module's train/eval mode is restored afterwards, so training can call it mid-run.
    """
    was_training = module.training
    module.eval()
    try:
        out = []
        for s in range(0, len(rows), batch_size):
            with autocast(batches.device, batches.precision):
                out.append(module(batches(rows[s:s + batch_size])).float())
        return torch.cat(out) if out else torch.empty(0)
    finally:
        module.train(was_training)


def _rows_and_batches(features, indices, device, module, precision):
    device = pick_device(device) if device is not None else next(module.parameters()).device
    array = features.features if isinstance(features, FeatureSet) else features
    rows = np.arange(len(array)) if indices is None else np.asarray(indices, dtype=np.int64)
    return rows, FeatureBatches(array, device, on_device=False, precision=precision)


def embed(encoder: nn.Module, features, indices=None, batch_size: int = 64, device=None,
          precision: str = "auto") -> np.ndarray:
    """256-D vectors of `features` (a FeatureSet or a (N, 257, T) array/tensor) -> (n, 256) float32.

    indices: rows to embed (default all). Eval mode (batch norm's running statistics), no
    gradients; the encoder runs where its parameters are unless `device` is given, in
    `precision` (the one it was trained in: its checkpoint's config says).
    """
    rows, batches = _rows_and_batches(features, indices, device, encoder, precision)
    encoder.to(batches.device)
    return forward_rows(encoder, batches, rows, batch_size).cpu().numpy()


def predict(classifier: nn.Module, features, indices=None, batch_size: int = 64, device=None,
            precision: str = "auto") -> np.ndarray:
    """Class predictions (n,) int64 (indices into EMOTIONS) of an EmotionClassifier, as `embed`."""
    rows, batches = _rows_and_batches(features, indices, device, classifier, precision)
    classifier.to(batches.device)
    return forward_rows(classifier, batches, rows, batch_size).argmax(1).cpu().numpy()
