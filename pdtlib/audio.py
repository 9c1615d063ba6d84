"""Audio in: any file soundfile reads -> float32 mono at 16 kHz (paper §3).

Reading is soundfile's, resampling soxr's (torchaudio is not used: see README).
Fixed duration follows the paper: longer audio is cut N seconds from the start,
shorter audio is padded (zeros here; the spectrogram then repeats its last real frame).
"""

from __future__ import annotations

import errno
import os
import stat
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


# Read past a `seconds` limit, so the resampler's filter sees the samples that follow the cut as it
# would in the whole file (soxr's filters reach a few milliseconds).
READ_MARGIN_S = 0.05


def file_problem(path) -> str:
    """Why `path` is not a regular file to read ('' when it is): missing, a broken symbolic link,
    a link loop, or something else (a folder, a device)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # follows links
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (the link points back at itself through other links)"
        if path.is_symlink():
            return f"a broken symbolic link (to {os.readlink(path)}, which does not exist)"
        return "no such file"
    return "" if stat.S_ISREG(mode) else "not a regular file"


def read_audio(path, seconds: float | None = None) -> tuple[np.ndarray, int]:
    """The file's samples as float32 `(samples, channels)` and its sample rate, checked; with
    `seconds`, only about that much from the start is read (READ_MARGIN_S more), not the whole file."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise AudioError(path, problem, "check the path, or the corpus root it was resolved against")
    try:
        frames = -1
        if seconds is not None:
            frames = int(np.ceil((seconds + READ_MARGIN_S) * sf.info(str(path)).samplerate))
        data, rate = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(path, f"unreadable or corrupt audio: {exc}",
                         "re-export it as wav/flac/ogg, or drop it from the corpus") from exc
    if data.shape[0] == 0:
        raise AudioError(path, "zero samples", "the file holds a header but no audio")
    if not np.isfinite(data).all():
        raise AudioError(path, "non-finite samples (NaN or inf)", "the file is damaged")
    return data, int(rate)


def load_audio(path, sample_rate: int = SAMPLE_RATE, seconds: float | None = None) -> np.ndarray:
    """Load `path` as a float32 mono array at `sample_rate`.

    Channels are averaged; any other rate is resampled with soxr (high quality). `seconds`: only
    the first `seconds` are read and returned (a 10-minute file costs what 4 s cost).
    Raises AudioError for a missing, unreadable, empty or non-finite file.
    """
    data, rate = read_audio(path, seconds)
    mono = data.mean(axis=1, dtype=np.float32)  # (samples,)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32, copy=False)
    if seconds is not None:
        mono = mono[:duration_samples(seconds, sample_rate)]
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
