"""The PDT loss, paper eq. 1-4.

    L     = λ · L_cos + (1 − λ) · L_cro                                  (eq. 1)
    L_cos = 1 − cos(x1, x2)            for a same-emotion pair           (eq. 2)
            max(0, cos(x1, x2) − m)    for a different-emotion pair
    L_cro = −log softmax(logits)[same] (2-way cross entropy)             (eq. 3-4)

L_cos is `torch.nn.CosineEmbeddingLoss(margin=m)` with target +1 for same and −1 for
different pairs. Every loss here takes `same` as a (P,) bool/int tensor (1 = same emotion,
the discriminator's class 1) and optional per-pair weights (P,); a weighted loss is
sum(w · l) / sum(w), so weights need not be normalised (the in-batch mode weights positives
and negatives to the paper's 1 : 2, see pairs.py).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


def check_lam(lam: float) -> float:
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam (λ of eq. 1) = {lam} is outside its range [0, 1]")
    return float(lam)


def check_margin(margin: float) -> float:
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin (m of eq. 2) = {margin} is outside its range [0, 1); Table 2 searches [0, 0.3]")
    return float(margin)


def _reduce(per_pair: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return per_pair.mean()
    weight = weight.to(per_pair.dtype)
    return (per_pair * weight).sum() / weight.sum().clamp_min(torch.finfo(per_pair.dtype).tiny)


def cosine_margin_loss(x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor, margin: float = 0.1,
                       weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2 on (P, D) vector pairs: mean (or weighted mean) over the P pairs."""
    cos = F.cosine_similarity(x1, x2, dim=1, eps=1e-8)  # (P,)
    per_pair = torch.where(same.bool(), 1.0 - cos, (cos - check_margin(margin)).clamp_min(0.0))
    return _reduce(per_pair, weight)


def pair_cross_entropy(logits: torch.Tensor, same: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 3-4: 2-way cross entropy of the discriminator's (P, 2) logits against `same`."""
    return _reduce(F.cross_entropy(logits, same.long(), reduction="none"), weight)


class PDTLoss(NamedTuple):
    total: torch.Tensor  # eq. 1, what is back-propagated
    cosine: torch.Tensor  # L_cos, eq. 2
    cross_entropy: torch.Tensor  # L_cro, eq. 4


def pdt_loss(x1: torch.Tensor, x2: torch.Tensor, logits: torch.Tensor, same: torch.Tensor, *,
             lam: float = 0.9, margin: float = 0.1, weight: torch.Tensor | None = None) -> PDTLoss:
    """Eq. 1: λ · L_cos(x1, x2) + (1 − λ) · L_cro(logits); x1, x2 (P, 256), logits (P, 2), same (P,)."""
    lam = check_lam(lam)
    l_cos = cosine_margin_loss(x1, x2, same, margin, weight)
    l_cro = pair_cross_entropy(logits, same, weight)
    return PDTLoss(lam * l_cos + (1.0 - lam) * l_cro, l_cos, l_cro)
