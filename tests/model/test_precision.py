"""Precision (pdtlib.system.precision): `auto` resolves by the hardware, bf16 is real and repeatable, a
checkpoint is not resumed in the other precision without saying so, and the records name it."""

import json

import numpy as np
import pytest
import torch

from pdtlib.system import precision
from pdtlib.training.inference import embed
from pdtlib.system.runs import environment_record
from pdtlib.training.train import train_classifier, train_pdt

from test_train import budget, classifier_config, epochs, pdt_config, synthetic_features


@pytest.fixture(scope="module")
def features():
    return synthetic_features(sizes=(48, 24, 8))


def test_auto_is_bf16_where_native_and_fp32_elsewhere(monkeypatch):
    assert precision.resolve("fp32", "cuda") == "fp32" and precision.resolve("bf16", "cpu") == "bf16"
    assert precision.resolve("auto", torch.device("cuda")) == "bf16"
    monkeypatch.setattr(precision, "native_bf16_cpu", lambda: True)
    assert precision.resolve("auto", torch.device("cpu")) == "bf16"
    monkeypatch.setattr(precision, "native_bf16_cpu", lambda: False)
    assert precision.resolve("auto", "cpu") == "fp32"
    with pytest.raises(ValueError, match="fp16.*auto"):
        precision.resolve("fp16", "cpu")
    with pytest.raises(ValueError, match="precision"):
        pdt_config(precision="half")


def test_bf16_training_is_repeatable_and_not_fp32(features, tmp_path):
    runs = {name: train_classifier(features, classifier_config(**epochs(2, pool=48), precision=p), tmp_path / name)
            for name, p in (("bf16", "bf16"), ("bf16_again", "bf16"), ("fp32", "fp32"))}
    weights = {name: r.model.state_dict() for name, r in runs.items()}
    assert all(torch.equal(weights["bf16"][k], weights["bf16_again"][k]) for k in weights["bf16"])
    assert not all(torch.equal(weights["bf16"][k], weights["fp32"][k]) for k in weights["bf16"])
    record = json.loads((tmp_path / "bf16" / "train.json").read_text())
    assert record["config"]["precision"] == "bf16"
    assert record["environment"]["device"]["cpu"] and "precision_auto" in record["environment"]["device"]
    # the weights stay fp32 (mixed precision), and bf16 vectors are close to fp32 ones of the same weights
    encoder = runs["bf16"].model.encoder
    assert all(p.dtype == torch.float32 for p in encoder.parameters())
    v16, v32 = (embed(encoder, features.features, precision=p) for p in ("bf16", "fp32"))
    assert v16.dtype == np.float32 and np.abs(v16 - v32).max() < 0.05 * np.abs(v32).max()


def test_a_checkpoint_is_not_resumed_in_the_other_precision_silently(features, tmp_path):
    config = pdt_config(**budget(2), precision="fp32")
    train_pdt(features, config, tmp_path, stop_after=1)
    other = pdt_config(**budget(2), precision="bf16")
    with pytest.raises(ValueError, match="precision: checkpoint 'fp32', now 'bf16'"):
        train_pdt(features, other, tmp_path, resume=True)
    again = train_pdt(features, other, tmp_path, resume="auto")
    assert again.completed and "started afresh" in again.events[0] and "precision" in again.events[0]


def test_run_records_name_the_cpu_and_its_isa():
    device = environment_record()["device"]
    assert device["cpu"] and isinstance(device["isa"], list) and device["precision_auto"] in ("fp32", "bf16")
    assert device["bf16_native"] == precision.native_bf16_cpu()
