"""A model bundle on waveforms: audio goes through the training path.

16 kHz mono (audio.load_audio), the first `duration` seconds (shorter audio padded as the
FeatureConfig says), log-spectrograms rounded to float16 as the feature cache stores them, the
encoder in eval mode (training.inference.embed). With `segments=True` a long file is cut into
consecutive windows of `duration` seconds (a last, shorter window kept if it lasts at least
MIN_LAST_SEGMENT_S) and the windows' vectors are averaged. `input_warnings` says when the
model's answer on an input says little; `embed_items` loads files, tells what was done to their
audio (`Conversions`) and embeds them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import AudioError, load_audio
from ..features import FeatureConfig, encoder_input
from ..system.progress import progress
from ..training.inference import embed
from .bundle import Bundle
from .inputs import Failure, Item, Note, counted

MIN_LAST_SEGMENT_S = 1.0  # --segments: a shorter last window is dropped (unless it is the only one)
# An input the model can say little about: RMS of the samples used below NEAR_SILENT_DBFS (speech
# recorded at any usable level is 20-40 dB above it), or less audio than SHORT_FRACTION of the
# window (the rest is padding, which the model never saw that much of in training).
NEAR_SILENT_DBFS = -60.0
SHORT_FRACTION = 0.25
PROGRESS_MIN_FILES = 8  # a progress bar (on stderr, where one is shown at all) for more files than this


def embed_waves(bundle: Bundle, waves, *, segments: bool = False, batch_size: int = 32) -> np.ndarray:
    """16 kHz mono float waveforms, through `bundle`'s encoder, `(samples,)` each -> `(n, 256)` float32 vectors.

    Each wave gives the vector of its first `duration` seconds (shorter waves padded as in
    training), or with `segments=True` the mean vector of its windows (`segment_bounds`).
    Windows are featurised and encoded `batch_size` at a time; batching never changes a
    vector (per-item lengths in log_spectrogram, batch norm in eval mode).
    """
    cfg = bundle.feature_config
    windows, owner = [], []
    for i, wave in enumerate(waves):
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or len(wave) == 0:
            raise ValueError(f"embed_waves: wave {i} must be a non-empty 1-D array, got shape {wave.shape}")
        for start, length in (segment_bounds(len(wave), cfg) if segments else [(0, min(len(wave), cfg.n_samples))]):
            windows.append(wave[start:start + length])
            owner.append(i)
    vectors = np.empty((len(windows), bundle.embedding_dim), dtype=np.float32)
    for s in range(0, len(windows), batch_size):
        chunk = windows[s:s + batch_size]
        # (B, 257, T): exactly what the feature cache stored for training (features.encoder_input)
        vectors[s:s + len(chunk)] = embed(bundle.encoder, encoder_input(chunk, cfg), batch_size=batch_size,
                                          precision=bundle.precision)
    owner = np.asarray(owner, dtype=np.int64)
    out = np.zeros((len(waves), bundle.embedding_dim), dtype=np.float64)
    np.add.at(out, owner, vectors)
    return (out / np.bincount(owner, minlength=len(waves))[:, None]).astype(np.float32)



def segment_bounds(n_samples: int, config: FeatureConfig,
                   min_last_s: float = MIN_LAST_SEGMENT_S) -> list[tuple[int, int]]:
    """(start, length) of the consecutive `config.duration` windows of an `n_samples`-long wave.

    The last window may be shorter; it is kept if it lasts at least `min_last_s` seconds or is the
    only window (it is then padded as in training). 10 s at 4 s -> (0, 4 s), (4 s, 4 s), (8 s, 2 s).
    """
    size = config.n_samples
    bounds = [(s, min(size, n_samples - s)) for s in range(0, max(n_samples, 1), size)]
    if len(bounds) > 1 and bounds[-1][1] < min_last_s * config.sample_rate:
        bounds.pop()
    return bounds


def input_warnings(wave: np.ndarray, config: FeatureConfig, segments: bool = False) -> list[str]:
    """What makes the model's answer on a 16 kHz mono `wave` unreliable: near silence in the part
    used (the first window, or all of it with `segments`), or far less audio than the window."""
    used = np.asarray(wave if segments else wave[:config.n_samples], dtype=np.float64)
    rms = float(np.sqrt(np.mean(np.square(used)))) if len(used) else 0.0
    out = []
    if rms == 0:
        out.append("silent (every sample is 0)")
    elif 20 * np.log10(rms) < NEAR_SILENT_DBFS:
        out.append(f"near-silent ({20 * np.log10(rms):.0f} dBFS)")
    seconds = len(wave) / config.sample_rate
    if seconds < SHORT_FRACTION * config.duration:
        out.append(f"{seconds:.3g} s of audio for the model's {config.duration:g} s window (mostly padding)")
    return out


# ---------------------------------------------------------------- saving


class Conversions:
    """What was done to the audio to match the model's input, told as one note per kind."""

    def __init__(self, bundle: Bundle, segments: bool):
        self.cfg, self.segments = bundle.feature_config, segments
        self.rates, self.channels = Counter(), Counter()
        self.cropped = self.padded = self.split = self.windows = self.dropped = 0

    def add(self, path: Path) -> None:
        info = sf.info(str(path))  # the header: rate, channels and length before load_audio's conversion
        n_samples = int(round(info.frames * self.cfg.sample_rate / info.samplerate))  # the whole file's, at 16 kHz
        if info.samplerate != self.cfg.sample_rate:
            self.rates[info.samplerate] += 1
        if info.channels > 1:
            self.channels[info.channels] += 1
        if self.segments:
            bounds = segment_bounds(n_samples, self.cfg)
            self.split += len(bounds) > 1
            self.windows += len(bounds)
            self.dropped += len(segment_bounds(n_samples, self.cfg, min_last_s=0)) - len(bounds)
        self.cropped += n_samples > self.cfg.n_samples and not self.segments
        self.padded += n_samples < self.cfg.n_samples

    def notes(self) -> list[str]:
        d, sr = f"{self.cfg.duration:g} s", self.cfg.sample_rate
        out = [f"{counted(n, 'file')} resampled from {rate} Hz to {sr} Hz" for rate, n in sorted(self.rates.items())]
        out += [f"{counted(n, 'stereo file')} averaged to mono" if c == 2 else
                f"{counted(n, 'file')} with {c} channels averaged to mono" for c, n in sorted(self.channels.items())]
        if self.cropped:
            out.append(f"{counted(self.cropped, 'file')} longer than {d}: only the first {d} used, as in training "
                       f"(--segments averages {d} windows over the whole file)")
        if self.split:
            out.append(f"--segments: {counted(self.split, 'file')} cut into {self.windows} windows in all "
                       f"(up to {d} each), vectors averaged per file")
        if self.dropped:
            out.append(f"--segments: {counted(self.dropped, 'last window')} under 1 s dropped")
        if self.padded:
            how = "by repeating the last frame" if self.cfg.pad == "repeat" else "with zeros"
            out.append(f"{counted(self.padded, 'file')} shorter than {d} padded {how}, as in training")
        return out




def embed_items(bundle: Bundle, items: list[Item], *, segments: bool, batch_size: int, log: list,
                desc: str = "embedding") -> tuple[list[Item], np.ndarray]:
    """Load, convert and embed `items` `batch_size` files at a time -> the items read and their
    `(n, embedding_dim)` vectors; files that cannot be read, each file's warnings and the
    conversions go to `log`."""
    conversions = Conversions(bundle, segments)
    done, vectors = [], []
    bar = progress(total=len(items), desc=desc, unit="file", enabled=None if len(items) > PROGRESS_MIN_FILES else False)
    cfg = bundle.feature_config
    for start in range(0, len(items), batch_size):
        waves = []
        for item in items[start:start + batch_size]:
            try:  # the first window only, unless `segments` uses the whole file
                wave = load_audio(item.path, cfg.sample_rate, seconds=None if segments else cfg.duration)
                conversions.add(item.path)
            except AudioError as exc:  # its message: "<path>: <problem> (<hint>)"
                log.append(Failure(str(exc.path), str(exc).removeprefix(f"{exc.path}: ")))
                continue
            except (OSError, ValueError, RuntimeError) as exc:  # e.g. the resampler on an odd rate
                log.append(Failure(str(item.path), str(exc)))
                continue
            item.warnings = tuple(input_warnings(wave, cfg, segments))
            if item.warnings:
                log.append(Note(f"{item.shown}: {'; '.join(item.warnings)}: its result says little"))
            waves.append(wave)
            done.append(item)
        if waves:
            vectors.append(embed_waves(bundle, waves, segments=segments, batch_size=batch_size))
        bar.update(len(items[start:start + batch_size]))
    bar.close()
    log += [Note(note) for note in conversions.notes()]
    return done, (np.concatenate(vectors) if vectors else np.empty((0, bundle.embedding_dim), np.float32))
