"""Log-spectrogram features (paper §3), batched, on CPU or CUDA with the same code.

20 ms Hamming window, 10 ms hop (half-window overlap), 512-point FFT keeping 257
bins, natural log of the power with a floor so silence stays finite. A clip of
`duration` seconds gives exactly `100 * duration` frames: 4 s -> (257, 400),
7 s -> (257, 700). Longer audio is cut at `duration`; shorter audio is "padded
the last frame in the end" (the paper's words), read here as repeating the
last frame that covers real audio; `pad="zero"` keeps the zero-padded frames.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from .audio import SAMPLE_RATE, fix_duration
from .corpora.table import label_index

# Bump when this module changes what it computes for an unchanged FeatureConfig: every
# feature cache (and every checkpoint's data fingerprint) then misses and is rebuilt.
FORMAT = 2  # 2: log_spectrogram writes power with mul + addcmul (last-bit differences)
# What the encoder sees is float16: samples in [-1, 1] bound the power by (sum of the Hamming
# window)^2 = 172.8^2, so log-power lies in [log(1e-10), log(29860)] = [-23.0, +10.3], far
# inside float16's +-65504; its 11-bit mantissa rounds by at most 0.008, far under the spread of
# speech spectrograms, at half the disk and memory of float32 (IEMOCAP at 4 s: 5531 x 257 x 400
# x 2 bytes = 1.1 GB). Training reads the float16 cache, so serving rounds the same way.
DTYPE = np.float16


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = SAMPLE_RATE
    duration: float = 4.0  # seconds; the traditional baselines also use 5, 6, 7
    window_ms: float = 20.0
    hop_ms: float = 10.0
    n_fft: int = 512
    log_floor: float = 1e-10  # power floor: log(1e-10) = -23 for digital silence
    pad: str = "repeat"  # "repeat" the last real frame, or "zero"

    def __post_init__(self):
        if self.pad not in ("repeat", "zero"):
            raise ValueError(f"FeatureConfig.pad must be 'repeat' or 'zero', got {self.pad!r}")
        if self.duration <= 0:
            raise ValueError(f"FeatureConfig.duration must be positive, got {self.duration}")

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.window_ms / 1000))  # 320

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))  # 160

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1  # 257

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def n_frames(self) -> int:
        return self.n_samples // self.hop_length  # 100 per second

    def to_dict(self) -> dict:
        return asdict(self)


def log_spectrogram(wave, sample_rate: int = SAMPLE_RATE, duration: float = 4.0, *,
                    pad: str = "repeat", lengths=None, config: FeatureConfig | None = None) -> torch.Tensor:
    """`(..., samples)` waveform -> `(..., 257, 100 * duration)` float32 log-power spectrogram.

    wave:    torch tensor or numpy array at `sample_rate`; runs on the tensor's device.
    lengths: optional `(...)` count of real samples per item, for a batch that was
             zero-padded to a common length; padding is then applied per item, so a
             batch gives exactly what its items give one by one.
    config:  a FeatureConfig; when given it overrides sample_rate, duration and pad.
    """
    cfg = config or FeatureConfig(sample_rate=sample_rate, duration=duration, pad=pad)
    x = torch.as_tensor(wave)
    x = x.to(torch.float32) if x.dtype != torch.float32 else x
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"log_spectrogram needs a (..., samples) waveform with samples > 0, got {tuple(x.shape)}")
    batch_shape = x.shape[:-1]
    x = x.reshape(-1, x.shape[-1])  # (B, samples)
    n_in = x.shape[-1]
    if lengths is None:
        lengths = torch.full((x.shape[0],), n_in, device=x.device)
    else:
        lengths = torch.as_tensor(lengths, device=x.device).reshape(-1).clamp(max=n_in)
    # On a CPU, chunks of 4 utterances keep the STFT's working set in cache (about 1.5x faster
    # than one large batch); a GPU takes the batch whole.
    chunk = x.shape[0] if x.is_cuda else 4
    out = torch.empty(x.shape[0], cfg.n_bins, cfg.n_frames, device=x.device)  # chunks write into it
    for xs, ls, os_ in zip(x.split(chunk), lengths.split(chunk), out.split(chunk)):
        _log_spectrogram(xs, ls, cfg, out=os_)
    return out.reshape(*batch_shape, cfg.n_bins, cfg.n_frames)


def _log_spectrogram(x: torch.Tensor, lengths: torch.Tensor, cfg: FeatureConfig, out: torch.Tensor) -> None:
    """`(B, samples)` with `(B,)` real lengths -> `out` `(B, 257, T)`; see log_spectrogram."""
    n = cfg.n_samples
    # Cut at `duration` (paper: "cut at 4 s") or zero-pad up to it; zero anything past
    # each item's length so that padded batches and single items see the same samples.
    x = x[:, :n] if x.shape[-1] >= n else torch.nn.functional.pad(x, (0, n - x.shape[-1]))
    if bool((lengths < x.shape[-1]).any()):
        x = x * (torch.arange(n, device=x.device) < lengths[:, None])

    window = torch.hamming_window(cfg.win_length, periodic=True, device=x.device)
    spec = torch.stft(x, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                      window=window, center=True, pad_mode="reflect", return_complex=True)
    spec = spec[..., : cfg.n_frames]  # (B, 257, T)
    logp = torch.mul(spec.real, spec.real, out=out).addcmul_(spec.imag, spec.imag)  # power, in place
    logp.clamp_min_(cfg.log_floor).log_()

    if cfg.pad == "repeat":
        # Frame t is centred on sample t * hop; frames from `valid` on start past the
        # audio, so each of them becomes a copy of the last frame that covers audio.
        valid = (lengths // cfg.hop_length).clamp(min=1, max=cfg.n_frames)  # (B,)
        if bool((valid < cfg.n_frames).any()):
            last = logp.gather(2, (valid - 1)[:, None, None].expand(-1, logp.shape[1], 1))  # (B, 257, 1)
            past = torch.arange(cfg.n_frames, device=x.device)[None, :] >= valid[:, None]  # (B, T)
            torch.where(past[:, None, :], last, logp, out=logp)


def log_spectrograms(waves, config: FeatureConfig) -> torch.Tensor:
    """A list of 1-D waves of any lengths -> `(B, 257, T)`: each cropped or padded exactly as
    it would be alone (zero-padded to the duration, with its real length passed as `lengths`)."""
    lengths = [min(len(w), config.n_samples) for w in waves]
    batch = np.stack([fix_duration(np.asarray(w, dtype=np.float32), config.duration, config.sample_rate)
                      for w in waves])  # (B, samples)
    return log_spectrogram(batch, lengths=lengths, config=config)


def encoder_input(waves, config: FeatureConfig) -> np.ndarray:
    """What the encoder is given for a list of 16 kHz mono waves: `(B, 257, T)` DTYPE arrays.

    The one definition of the encoder's input: the feature cache stores exactly this, and a
    model bundle computes exactly this from a user's audio.
    """
    return log_spectrograms(waves, config).numpy().astype(DTYPE)


@dataclass
class FeatureSet:
    """Spectrograms aligned with their utterance table: `features[i]` is `table.iloc[i]`.

    features: `(N, 257, T)` array, DTYPE memmap from the cache (float32 also accepted).
    table:    the utterance table (pdtlib.corpora.table.COLUMNS), index 0..N-1.
    config:   the FeatureConfig that made the features (its duration fixes T).
    """

    features: np.ndarray
    table: pd.DataFrame
    config: FeatureConfig
    key: str | None = None  # the cache key when loaded by cache.load_features

    def __post_init__(self):
        if len(self.features) != len(self.table):
            raise ValueError(f"FeatureSet: {len(self.features)} spectrograms for {len(self.table)} table rows")
        self.table = self.table.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def labels(self) -> np.ndarray:
        """`(N,)` int64 indices into EMOTIONS (0 happy, 1 angry, 2 neutral, 3 sad)."""
        return label_index(self.table["label"]).to_numpy()

    def indices(self, *splits: str) -> np.ndarray:
        """Row indices of the utterances in any of `splits` ("train", "val", "test")."""
        return np.flatnonzero(self.table["split"].isin(splits).to_numpy())

    def fingerprint(self) -> str:
        """What identifies these features for a checkpoint: the cache key, which covers the files,
        labels, splits and config; for features built in memory, a hash of the same and the array."""
        if self.key is not None:
            return self.key
        digest = hashlib.sha256(json.dumps([FORMAT, self.config.to_dict()]).encode())
        digest.update(self.table[["utterance_id", "label", "split"]].to_csv(index=False).encode())
        digest.update(np.ascontiguousarray(self.features).tobytes())
        return digest.hexdigest()[:20]
