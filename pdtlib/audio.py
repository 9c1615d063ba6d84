"""Audio in: any file soundfile reads -> float32 mono at 16 kHz (paper §3).

Reading is soundfile's, resampling soxr's (torchaudio is not used: see README).
Fixed duration follows the paper: longer audio is cut N seconds from the start,
shorter audio is padded (zeros here; the spectrogram then repeats its last real frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the problem."""

    def __init__(self, path, problem: str, hint: str = ""):
        self.path = Path(path)
        self.problem = problem
        message = f"{self.path}: {problem}"
        super().__init__(message + (f" ({hint})" if hint else ""))


def read_audio(path) -> tuple[np.ndarray, int]:
    """The file's samples as float32 `(samples, channels)` and its sample rate, checked."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "no such file" if not path.exists() else "not a regular file",
                         "check the path, or the corpus root it was resolved against")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(path, f"unreadable or corrupt audio: {exc}",
                         "re-export it as wav/flac/ogg, or drop it from the corpus") from exc
    if data.shape[0] == 0:
        raise AudioError(path, "zero samples", "the file holds a header but no audio")
    if not np.isfinite(data).all():
        raise AudioError(path, "non-finite samples (NaN or inf)", "the file is damaged")
    return data, int(rate)


def load_audio(path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Load `path` as a float32 mono array at `sample_rate`.

    Channels are averaged; any other rate is resampled with soxr (high quality).
    Raises AudioError for a missing, unreadable, empty or non-finite file.
    """
    data, rate = read_audio(path)
    mono = data.mean(axis=1, dtype=np.float32)  # (samples,)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32, copy=False)
    return np.ascontiguousarray(mono)


def duration_samples(duration: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Number of samples in `duration` seconds."""
    return int(round(duration * sample_rate))


def fix_duration(wave: np.ndarray, duration: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Crop `wave` to its first `duration` seconds, or zero-pad it to that length.

    `wave` is `(..., samples)`. Pass `lengths=len(original)` to `log_spectrogram` to
    have the spectrogram repeat the last real frame instead of showing the zeros.
    """
    n = duration_samples(duration, sample_rate)
    if wave.shape[-1] >= n:
        return wave[..., :n]
    pad = [(0, 0)] * (wave.ndim - 1) + [(0, n - wave.shape[-1])]
    return np.pad(wave, pad)
