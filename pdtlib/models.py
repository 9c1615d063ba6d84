"""The networks of the paper: audio encoder (§2.1.1, Fig. 2), pair discriminator (§2.1.2),
and the traditional 4-way classifier (§4.1).

Encoder. The paper says: five convolution layers, each followed by batch normalisation and
ReLU, then a fully connected layer giving a 256-D vector, "modified from" Satt et al.
(Interspeech 2017). Fig. 2's kernel sizes, channels, strides and pooling are not published,
so this is this project's reading of Fig. 2 (every choice is an `EncoderConfig` field):

    input (B, 257, T) log-spectrogram, T = 100 * seconds, normalised as EncoderConfig.input_norm
          says (features.InputNormalization), unsqueezed to (B, 1, 257, T)
    block 1   conv 5x5 stride 2, 32 ch  + BN + ReLU + maxpool 2x2   -> (B,  32, 64, T/4)
    block 2   conv 3x3,          64 ch  + BN + ReLU + maxpool 2x2   -> (B,  64, 32, T/8)
    block 3   conv 3x3,         128 ch  + BN + ReLU + maxpool 2x2   -> (B, 128, 16, T/16)
    block 4   conv 3x3,         128 ch  + BN + ReLU + maxpool 2x2   -> (B, 128,  8, T/32)
    block 5   conv 3x3,         128 ch  + BN + ReLU                 -> (B, 128,  8, T/32)
    head      mean and std over time, flattened with frequency      -> (B, 128 * 8 * 2 = 2048)
              fully connected                                       -> (B, 256)

(T/4 etc. rounded down: T = 400 gives a last map of 128 x 8 x 12, T = 700 one of 128 x 8 x 21.)
`flops(EncoderConfig())` = 0.66 GFLOP per 257 x 400 input (2 FLOPs per multiply-add, conv and
linear layers only), inside the 0.5-1 GFLOP the protocol asks for. Pooling over time makes the
head independent of the input length, so one encoder takes the 4-7 s inputs of §4.1 (T = 400-700).
The 256-D output is linear (no activation): it is the vector the cosine loss, the SVM and
the classifier all see. Half the width, `channels=(16, 32, 64, 128, 128)`, costs 0.23 GFLOP
and trains about three times faster on a CPU
(benchmarks/train_throughput.py).

Discriminator (§2.1.2): concat of the two 256-D vectors (512) -> FC 128 + ReLU -> FC 2 (logits;
the softmax lives in the loss). Class 1 means "same emotion", class 0 "different".

Classifier (§4.1, the "traditional method"): the same encoder, then FC 256 -> 4 classes (logits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn as nn

from . import EMOTIONS
from .features import INPUT_NORMS, InputNormalization


class ConvBlock(NamedTuple):
    """One Conv-BN-ReLU(-pool) block and the (frequency, time) size of the map it makes."""

    c_in: int
    c_out: int
    kernel: int
    stride: int
    pool: bool  # 2x2 max-pool after the ReLU
    conv_size: tuple[int, int]  # (F, T) after the convolution, before pooling
    out_size: tuple[int, int]  # (F, T) the block hands on


@dataclass
class EncoderConfig:
    n_bins: int = 257  # frequency bins of the input (512-point FFT)
    channels: tuple[int, ...] = (32, 64, 128, 128, 128)  # one conv block each; the paper has five
    first_kernel: int = 5
    first_stride: int = 2
    kernel: int = 3  # blocks 2..5, stride 1, "same" padding
    pool_blocks: int = 4  # 2x2 max-pool after blocks 1..pool_blocks
    pooling: str = "mean+std"  # over time of the last map: "mean" or "mean+std"
    embedding_dim: int = 256
    input_norm: str = "none"  # features.InputNormalization: "none" (the paper's text), "utterance" or "bins"

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"EncoderConfig.channels must be positive channel counts, got {self.channels}")
        if self.pooling not in ("mean", "mean+std"):
            raise ValueError(f"EncoderConfig.pooling must be 'mean' or 'mean+std', got {self.pooling!r}")
        if not 0 <= self.pool_blocks <= len(self.channels):
            raise ValueError(f"EncoderConfig.pool_blocks must be in [0, {len(self.channels)}], got {self.pool_blocks}")
        if self.input_norm not in INPUT_NORMS:
            raise ValueError(f"EncoderConfig.input_norm must be one of {INPUT_NORMS}, got {self.input_norm!r}")

    def blocks(self, frames: int = 400) -> list[ConvBlock]:
        """The conv blocks in order, with their map sizes for a `frames`-long input: the one walk
        through the stack that the encoder, `map_shape` and `flops` all read."""
        out, c_in, size = [], 1, (self.n_bins, frames)
        for i, c_out in enumerate(self.channels):
            k, s = (self.first_kernel, self.first_stride) if i == 0 else (self.kernel, 1)
            conv = tuple((n + 2 * (k // 2) - k) // s + 1 for n in size)  # padding k // 2
            pool = i < self.pool_blocks
            size = tuple(n // 2 for n in conv) if pool else conv
            out.append(ConvBlock(c_in, c_out, k, s, pool, conv, size))
            c_in = c_out
        return out

    def map_shape(self, frames: int) -> tuple[int, int, int]:
        """(channels, frequency, time) of the last block's map for a `frames`-long input."""
        f, t = self.blocks(frames)[-1].out_size
        if f < 1 or t < 1:
            raise ValueError(f"an input of {frames} frames is too short for this encoder (last map {f} x {t})")
        return self.channels[-1], f, t

    @property
    def head_features(self) -> int:
        c, f, _ = self.map_shape(10 ** 4)
        return c * f * (2 if self.pooling == "mean+std" else 1)

    def to_dict(self) -> dict:
        return asdict(self)


def flops(config: EncoderConfig = EncoderConfig(), frames: int = 400) -> int:
    """Forward FLOPs of `AudioEncoder(config)` on one (n_bins, frames) input.

    2 FLOPs per multiply-add of the conv and linear layers, the convention of
    torch.utils.flop_counter; batch norm, ReLU, pooling and biases are left out (under 2%).
    """
    conv = sum(2 * b.c_out * b.c_in * b.kernel ** 2 * b.conv_size[0] * b.conv_size[1] for b in config.blocks(frames))
    return conv + 2 * config.head_features * config.embedding_dim


class AudioEncoder(nn.Module):
    """(B, n_bins, T) log-spectrograms -> (B, embedding_dim) vectors. See the module docstring."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        self.config = config
        self.input_norm = InputNormalization(config.input_norm, config.n_bins)  # fit by the trainer in "bins" mode
        layers = []
        for b in config.blocks():
            layers += [nn.Conv2d(b.c_in, b.c_out, b.kernel, stride=b.stride, padding=b.kernel // 2, bias=False),
                       nn.BatchNorm2d(b.c_out)]  # BN has the bias
            # ReLU then max-pool equals max-pool then ReLU (ReLU is monotone), values and gradients
            # alike; pooling first runs the ReLU on a quarter of the map.
            layers += [nn.MaxPool2d(2), nn.ReLU(inplace=True)] if b.pool else [nn.ReLU(inplace=True)]
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(config.head_features, config.embedding_dim)
        # channels_last: about 1.8x faster on a CPU (oneDNN) and the fast layout on a GPU;
        # .to(device) and load_state_dict keep it.
        self.blocks.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.config.n_bins:
            raise ValueError(f"AudioEncoder expects (batch, {self.config.n_bins}, frames), got {tuple(x.shape)}")
        x = self.input_norm(x)  # (B, F, T)
        h = self.blocks(x.unsqueeze(1).contiguous(memory_format=torch.channels_last))  # (B, C, F', T')
        h = h.float()  # the statistics in float32, also under bf16 autocast
        mean = h.mean(dim=3, keepdim=True)  # (B, C, F', 1)
        pooled = [mean.squeeze(3)]  # (B, C, F')
        if self.config.pooling == "mean+std":
            # eps: a finite gradient where the variance is 0; written out, twice as fast as var() on a CPU
            pooled.append(((h - mean).square().mean(dim=3) + 1e-5).sqrt())
        return self.fc(torch.cat(pooled, dim=2).flatten(1))  # (B, C*F'*2) -> (B, 256)


@dataclass
class DiscriminatorConfig:
    embedding_dim: int = 256  # each of the two inputs; they are concatenated to 512
    hidden: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class PairDiscriminator(nn.Module):
    """(B, 256), (B, 256) -> (B, 2) logits; class 1 = same emotion (paper §2.1.2)."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        self.net = nn.Sequential(nn.Linear(2 * config.embedding_dim, config.hidden), nn.ReLU(inplace=True),
                                 nn.Linear(config.hidden, 2))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([a, b], dim=1))  # (B, 512) -> (B, 2)


class PDTModel(nn.Module):
    """Encoder and discriminator together: one state_dict for the pairwise discriminative task."""

    def __init__(self, encoder: EncoderConfig = EncoderConfig(),
                 discriminator: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        if encoder.embedding_dim != discriminator.embedding_dim:
            raise ValueError(f"encoder embedding_dim {encoder.embedding_dim} != discriminator embedding_dim "
                             f"{discriminator.embedding_dim}")
        self.encoder = AudioEncoder(encoder)
        self.discriminator = PairDiscriminator(discriminator)


class EmotionClassifier(nn.Module):
    """The traditional baseline (§4.1): encoder, then FC -> n_classes logits; (B, 257, T) -> (B, 4)."""

    def __init__(self, encoder: EncoderConfig = EncoderConfig(), n_classes: int = len(EMOTIONS)):
        super().__init__()
        self.encoder = AudioEncoder(encoder)
        self.fc = nn.Linear(encoder.embedding_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.encoder(x))
