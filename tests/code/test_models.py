"""The networks: shapes for 4-7 s inputs, the FLOP budget of Fig. 2's reading, batch invariance."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from pdtlib.models import (AudioEncoder, DiscriminatorConfig, EmotionClassifier, EncoderConfig, PairDiscriminator,
                           PDTModel, flops)

HALF = EncoderConfig(channels=(16, 32, 64, 128, 128))


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return AudioEncoder().eval()


@pytest.mark.parametrize("frames", [400, 700])  # 4 s and 7 s
def test_encoder_maps_4_to_7_seconds_to_256(encoder, frames):
    with torch.no_grad():
        out = encoder(torch.randn(2, 257, frames))
    assert out.shape == (2, 256) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_flops_of_the_default_encoder_are_in_the_protocol_range():
    assert 0.5e9 <= flops(EncoderConfig()) <= 1.0e9  # protocol: about 0.5-1 GFLOP per 257 x 400
    assert flops(HALF) < flops(EncoderConfig()) / 2.5
    assert flops(EncoderConfig(), frames=700) > 1.6 * flops(EncoderConfig(), frames=400)


@pytest.mark.parametrize("config", [EncoderConfig(), HALF, EncoderConfig(channels=(4, 8, 8, 8, 8), pooling="mean")])
def test_flops_helper_agrees_with_torch_flop_counter(config):
    model = AudioEncoder(config).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 257, 400))
    assert flops(config, 400) == counter.get_total_flops()


def test_same_input_alone_or_in_a_batch_gives_the_same_vector(encoder):
    torch.manual_seed(1)
    batch = torch.randn(5, 257, 400) * 3 - 5
    with torch.no_grad():
        alone = encoder(batch[2:3])
        together = encoder(batch)[2:3]
        reordered = encoder(batch.flip(0))[2:3]
    torch.testing.assert_close(alone, together, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(alone, reordered, atol=1e-5, rtol=1e-4)


def test_head_is_length_independent():
    config = EncoderConfig(channels=(4, 8, 8, 8, 8))
    assert config.map_shape(400)[:2] == config.map_shape(700)[:2]  # only time differs, and it is pooled
    model = AudioEncoder(config)
    assert model.fc.in_features == 8 * 8 * 2


def test_encoder_rejects_wrong_shapes(encoder):
    with pytest.raises(ValueError, match="257"):
        encoder(torch.randn(2, 128, 400))
    with pytest.raises(ValueError, match="too short"):
        EncoderConfig().map_shape(16)


@pytest.mark.parametrize("kwargs, match", [({"channels": ()}, "channels"), ({"pooling": "max"}, "pooling"),
                                           ({"pool_blocks": 6}, "pool_blocks")])
def test_encoder_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EncoderConfig(**kwargs)


def test_discriminator_and_classifier_shapes():
    a, b = torch.randn(7, 256), torch.randn(7, 256)
    disc = PairDiscriminator()
    assert disc(a, b).shape == (7, 2)
    assert [m.out_features for m in disc.net if isinstance(m, torch.nn.Linear)] == [128, 2]  # paper §2.1.2
    assert disc.net[0].in_features == 512
    clf = EmotionClassifier(EncoderConfig(channels=(4, 8, 8, 8, 8))).eval()
    with torch.no_grad():
        assert clf(torch.randn(3, 257, 500)).shape == (3, 4)


def test_pdt_model_checks_the_embedding_sizes():
    with pytest.raises(ValueError, match="embedding_dim"):
        PDTModel(EncoderConfig(embedding_dim=64), DiscriminatorConfig(embedding_dim=256))
