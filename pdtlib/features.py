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

from . import label_index
from .audio import SAMPLE_RATE, fix_duration

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


# ---------------------------------------------------------------- input normalisation

INPUT_NORMS = ("none", "utterance", "bins")


class InputNormalization(torch.nn.Module):
    """The last step of the encoder's input, applied inside the encoder (its first layer), so that
    checkpoints and model bundles carry it and `pdt predict` applies exactly what training did.

    none:      the log-spectrogram as it is: the paper's text (§3) says nothing more.
    utterance: each utterance minus its own mean and divided by its own standard deviation over
               all bins and frames: removes the recording's gain and overall level, keeps the
               spectral shape (the tilt that tells loud from soft speech).
    bins:      each frequency bin minus its mean and divided by its standard deviation over the
               training rows (`fit`), stored as buffers `mean` and `std` (257,): one fixed affine
               map that equalises the bins' ranges, fit on training rows only.

    `(B, 257, T)` in, `(B, 257, T)` out, float32.

    The report's default, `input_norm: none`, was chosen on validation splits only. Best validation
    UA over each run's checkpoints, 4 s, half-width encoder, batch-norm statistics recomputed:

        input_norm   EmoDB PDT   EmoDB baseline   generated PDT   generated baseline   mean
        none           84.1          74.7             70.5             71.7            75.3
        utterance      81.7          66.6             71.4             69.5            72.3
        bins           87.9          74.3             65.7             73.2            75.3

    `utterance` is behind; `none` and `bins` tie on the mean of both corpora and both methods
    (`bins` ahead on EmoDB by 1.7 points, behind on the generated corpus by as much: within the noise
    of 77 and 206 validation utterances). The tie goes to `none`: the paper's text, and robust to
    the resampling users' audio goes through: on the test suite's tiny model (a trained PDT), 44.1 kHz
    stereo flac copies of three 16 kHz files gave vectors at cosine 0.989-0.995 to the originals'
    under `none`, 0.978-0.988 under `bins`, whose per-bin scaling amplifies the bins where the
    conversion differs most (tests/pipeline/test_cli.py, test_stereo_44k_gives_the_vector_of_mono_16k).
    """

    def __init__(self, mode: str = "none", n_bins: int = 257):
        super().__init__()
        if mode not in INPUT_NORMS:
            raise ValueError(f"input normalisation {mode!r}: choose one of {INPUT_NORMS}")
        self.mode = mode
        if mode == "bins":  # only this mode has state: other modes keep the state_dict of older files
            # NaN until `fit`: an encoder whose statistics were never fitted (or loaded) gives NaN,
            # never silently the raw input.
            self.register_buffer("mean", torch.full((n_bins,), float("nan")))
            self.register_buffer("std", torch.full((n_bins,), float("nan")))

    def fit(self, features, rows, chunk: int = 256) -> "InputNormalization":
        """Per-bin mean and standard deviation of `features[rows]` ((N, 257, T), float16 memmaps
        too) over rows and frames, accumulated in float64 a chunk at a time."""
        if self.mode != "bins":
            return self
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        sums, squares, count = 0.0, 0.0, 0
        for s in range(0, len(rows), chunk):
            x = np.asarray(features[rows[s:s + chunk]], dtype=np.float64)  # (b, 257, T)
            sums = sums + x.sum(axis=(0, 2))  # (257,)
            squares = squares + np.square(x).sum(axis=(0, 2))
            count += x.shape[0] * x.shape[2]
        mean = sums / count
        std = np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))
        self.mean.copy_(torch.from_numpy(mean))
        self.std.copy_(torch.from_numpy(np.maximum(std, 1e-3)))  # a constant bin (digital silence) stays finite
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "utterance":
            mean = x.mean(dim=(1, 2), keepdim=True)  # (B, 1, 1)
            return (x - mean) / x.std(dim=(1, 2), keepdim=True).clamp_min(1e-3)
        if self.mode == "bins":
            return (x - self.mean[:, None]) / self.std[:, None]
        return x

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
