"""Eq. 1-4: reference values, CosineEmbeddingLoss, weights, range errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from pdtlib.losses import cosine_margin_loss, pair_cross_entropy, pdt_loss

X1 = torch.tensor([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
X2 = torch.tensor([[0.0, 3.0], [1.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])  # cos: 0, 0.7071, 0.7071, -1
R = math.sqrt(0.5)


@pytest.mark.parametrize("same, margin, expected", [
    ([1, 1, 1, 1], 0.1, [1.0, 1 - R, 1 - R, 2.0]),  # 1 - cos
    ([0, 0, 0, 0], 0.1, [0.0, R - 0.1, R - 0.1, 0.0]),  # max(0, cos - m)
    ([0, 0, 0, 0], 0.0, [0.0, R, R, 0.0]),
    ([1, 0, 1, 0], 0.3, [1.0, R - 0.3, 1 - R, 0.0]),
])
def test_cosine_margin_loss_hand_values(same, margin, expected):
    loss = cosine_margin_loss(X1, X2, torch.tensor(same), margin)
    assert loss.item() == pytest.approx(sum(expected) / 4, abs=1e-6)


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.3, 0.9])
def test_cosine_margin_loss_equals_cosine_embedding_loss(margin):
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(64, 256, generator=g), torch.randn(64, 256, generator=g)
    x2[:20] = x1[:20] + 0.3 * torch.randn(20, 256, generator=g)  # some high cosines, so the margin bites
    same = torch.rand(64, generator=g) < 1 / 3
    ours = cosine_margin_loss(x1, x2, same, margin)
    torch_ = torch.nn.CosineEmbeddingLoss(margin=margin)(x1, x2, same.float() * 2 - 1)
    assert ours.item() == pytest.approx(torch_.item(), abs=1e-6)


def test_pair_cross_entropy_hand_values():
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])  # p(same) = 1/2, 3/4
    same = torch.tensor([1, 0])
    assert pair_cross_entropy(logits, same).item() == pytest.approx((math.log(2) + math.log(4)) / 2)
    assert pair_cross_entropy(logits, same).item() == pytest.approx(F.cross_entropy(logits, same).item())


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9, 1.0])
def test_pdt_loss_combines_the_two_terms(lam):
    logits = torch.randn(4, 2)
    same = torch.tensor([1, 0, 1, 0])
    out = pdt_loss(X1, X2, logits, same, lam=lam, margin=0.1)
    expected = lam * cosine_margin_loss(X1, X2, same, 0.1) + (1 - lam) * pair_cross_entropy(logits, same)
    assert out.total.item() == pytest.approx(expected.item(), abs=1e-6)
    assert out.cosine.item() == pytest.approx(cosine_margin_loss(X1, X2, same, 0.1).item())


def test_lambda_one_trains_no_discriminator_and_zero_no_cosine():
    x1, x2 = X1.clone().requires_grad_(), X2.clone()
    logits = torch.randn(4, 2, requires_grad=True)
    pdt_loss(x1, x2, logits, torch.tensor([1, 0, 1, 0]), lam=1.0).total.backward()
    assert logits.grad.abs().sum() == 0 and x1.grad.abs().sum() > 0
    x1.grad, logits.grad = None, None
    pdt_loss(x1, x2, logits, torch.tensor([1, 0, 1, 0]), lam=0.0).total.backward()
    assert x1.grad.abs().sum() == 0 and logits.grad.abs().sum() > 0


def test_weights_act_as_repeated_pairs():
    logits = torch.randn(4, 2)
    same = torch.tensor([1, 0, 1, 0])
    weight = torch.tensor([2.0, 1.0, 0.0, 3.0])
    repeated = torch.tensor([0, 0, 1, 3, 3, 3])
    weighted = pdt_loss(X1, X2, logits, same, weight=weight)
    plain = pdt_loss(X1[repeated], X2[repeated], logits[repeated], same[repeated])
    for a, b in zip(weighted, plain):
        assert a.item() == pytest.approx(b.item(), abs=1e-6)
    # normalisation does not matter
    assert pdt_loss(X1, X2, logits, same, weight=weight / 7).total.item() == pytest.approx(weighted.total.item())


@pytest.mark.parametrize("kwargs, match", [({"lam": 1.5}, r"lam .*1\.5.*\[0, 1\]"), ({"lam": -0.1}, "lam"),
                                           ({"margin": 1.0}, r"margin .*1\.0.*\[0, 1\)"), ({"margin": -0.2}, "margin")])
def test_out_of_range_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pdt_loss(X1, X2, torch.zeros(4, 2), torch.tensor([1, 0, 1, 0]), **kwargs)
