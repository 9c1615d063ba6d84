"""The synthesiser: one utterance's samples from its plan entry, speaker and session channel.

A source-filter model computed frame-wise on the STFT grid of `plan` (N_FFT, HOP): a glottal
pulse train on an F0 contour, shaped by a spectral tilt and breath noise, filtered by formant
resonances over a syllable sequence (`prosody`), plus frication for consonants; then the
session's microphone EQ and noise floor. Every random draw comes from one generator seeded by
(config.seed, utterance index), in a fixed order, so a file never depends on anything else.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...audio import SAMPLE_RATE
from .corpus_plan import FREQS, HOP, N_FFT, PARAMS, PROFILES, SPREAD, Channel, Speaker, SyntheticConfig, Utterance

FPS = SAMPLE_RATE / HOP  # 125 frames per second
WINDOW = np.hanning(N_FFT + 1)[:-1]  # periodic Hann
# F1-F4 in Hz of an adult male (Peterson & Barney 1952): /a/ /ɛ/ /i/ /ɔ/ /u/ /ə/, then a nasal murmur.
VOWELS = np.array([[730, 1090, 2440, 3400], [530, 1840, 2480, 3500], [270, 2290, 3010, 3700],
                   [570, 840, 2410, 3400], [300, 870, 2240, 3300], [500, 1500, 2500, 3500],
                   [250, 1100, 2300, 3300]], dtype=float)
NASAL = 6
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])
FORMANT_GAINS = np.array([1.0, 0.6, 0.45, 0.3])
# Syllable onsets: (name, frication centre in Hz, width in octaves, level, probability).
CONSONANTS = (("none", 1000, 1.0, 0.0, 0.2), ("s", 5500, 0.5, 0.5, 0.18), ("sh", 3000, 0.5, 0.4, 0.1),
              ("f", 4000, 1.5, 0.12, 0.12), ("stop", 2500, 1.5, 0.7, 0.25), ("nasal", 1000, 1.0, 0.0, 0.15))
_ONSET_WEIGHTS = np.array([c[4] for c in CONSONANTS])
ONSET_PROBS = _ONSET_WEIGHTS / _ONSET_WEIGHTS.sum()  # (6,), normalised for rng.choice


def emotion_params(utt: Utterance, speaker: Speaker, config: SyntheticConfig, rng) -> dict:
    """One utterance's acoustic parameters: neutral + intensity x (emotion - neutral) + scatter."""
    neutral, target = np.array(PROFILES["neutral"]), np.array(PROFILES[utt.acoustic])
    mean = neutral + speaker.expressiveness * utt.intensity * (target - neutral)  # (14,) in PARAMS order
    params = dict(zip(PARAMS, mean + config.spread * SPREAD * rng.standard_normal(len(PARAMS))))
    # Keep the scatter physical: some pitch range and jitter, shares and probabilities in range.
    params.update(range_st=max(params["range_st"], 0.3),
                  breath=float(np.clip(params["breath"] + speaker.breath, 0, 0.9)),
                  jitter=max(params["jitter"], 0.002), accent_p=float(np.clip(params["accent_p"], 0.05, 0.9)),
                  decl_st=max(params["decl_st"], 0.0))
    return params


# --------------------------------------------------------------------------------- prosody
def prosody(n_frames: int, rate: float, params: dict, rng) -> dict:
    """Frame tracks `(T,)` of a random CV-syllable sequence in phrases separated by pauses:
    voiced and frication amplitudes, consonant kind, vowel, F0 offset in semitones."""
    track = dict(voiced=np.zeros(n_frames), fric=np.zeros(n_frames), f0=np.zeros(n_frames),
                 kind=np.zeros(n_frames, int), vowel=np.full(n_frames, 5))  # vowel 5 (schwa) in silences
    edge = min(1.0, n_frames / FPS / 1.5) * FPS  # short utterances get short silences around
    # Positions are fractional frames; the last syllable must start 6 frames before `end`.
    frame = rng.uniform(0.05, 0.35) * edge
    end = n_frames - rng.uniform(0.05, 0.4) * edge
    phrase_start, shape = frame, float(np.clip(params["shape"], -1.5, 1.5))
    while frame < end - 6:
        syllable_frames = min(FPS / rate * np.exp(0.25 * rng.standard_normal()), end - frame)
        _syllable(track, frame, syllable_frames, shape, params, rng)
        frame += syllable_frames
        if rng.random() < 0.15 * np.exp(params["log_pause"]) or frame >= end - 6:
            _phrase_end(track, phrase_start, frame, shape, params)
            frame += rng.uniform(0.15, 0.5) * np.exp(params["log_pause"]) * FPS  # the pause
            phrase_start = frame
    # Slow random F0 wander (a 25-frame = 200 ms smoothing), 0.6 semitones standard deviation.
    drift = np.convolve(rng.standard_normal(n_frames + 24), np.hanning(25), "valid")  # (T,)
    track["f0"] += 0.6 * drift / max(drift.std(), 1e-9)
    return track


def _syllable(track: dict, frame: float, syllable_frames: float, shape: float, params: dict, rng) -> None:
    """Write one consonant + vowel syllable into `track`, starting at fractional frame `frame`."""
    consonant, vowel = rng.choice(len(CONSONANTS), p=ONSET_PROBS), rng.integers(6)
    # Frame indices: the consonant spans [onset, vowel_start) (empty for "none"), the vowel
    # [vowel_start, vowel_end); the consonant takes 35% of the syllable, 3 to 12 frames.
    onset = int(frame)
    vowel_start = int(frame + (0 if consonant == 0 else np.clip(0.35 * syllable_frames, 3, 12)))
    vowel_end = int(frame + syllable_frames)
    accent = rng.random() < params["accent_p"]
    gain = 10 ** ((params["stress_db"] * accent + 1.5 * rng.standard_normal()) / 20)  # stressed when accented
    vowel_frames = vowel_end - vowel_start
    ramp = np.minimum(1, np.minimum(np.arange(1, vowel_frames + 1), np.arange(vowel_frames, 0, -1)) / 3)  # 3-frame fades
    track["voiced"][vowel_start:vowel_end], track["vowel"][onset:vowel_end] = gain * ramp, vowel
    _consonant(track, consonant, onset, vowel_start, gain)
    if accent:
        _pitch_accent(track["f0"], vowel_start, vowel_end, shape, params["range_st"], rng)


def _consonant(track: dict, consonant: int, onset: int, vowel_start: int, gain: float) -> None:
    """A nasal murmur, a stop (silent closure, then a 2-frame burst) or frication noise."""
    name, level = CONSONANTS[consonant][0], CONSONANTS[consonant][3]
    if name == "nasal":
        track["voiced"][onset:vowel_start], track["vowel"][onset:vowel_start] = 0.3 * gain, NASAL
        return
    burst = max(onset, vowel_start - 2) if name == "stop" else onset
    track["fric"][burst:vowel_start], track["kind"][burst:vowel_start] = level * gain, consonant


def _pitch_accent(f0: np.ndarray, vowel_start: int, vowel_end: int, shape: float, range_st: float, rng) -> None:
    """Add a Gaussian F0 peak on the vowel: happy (shape > 0) broad and late; angry (< 0)
    narrow and early, so harder."""
    frames = np.arange(len(f0))
    width = max(1.0, (vowel_end - vowel_start) * (0.35 + 0.15 * shape))
    centre = vowel_start + (vowel_end - vowel_start) * (0.5 + 0.2 * shape)
    f0 += range_st * rng.uniform(0.6, 1.0) * np.exp(-0.5 * ((frames - centre) / width) ** 2)


def _phrase_end(track: dict, phrase_start: float, frame: float, shape: float, params: dict) -> None:
    """Declination of F0 and level over the phrase [phrase_start, frame), and a final rise
    (happy) or fall (angry) at its end."""
    frames = np.arange(len(track["f0"]))
    span = slice(int(phrase_start), int(frame))
    position = (frames[span] - phrase_start) / max(frame - phrase_start, 1)  # 0 -> 1 across the phrase
    track["f0"][span] += params["decl_st"] * (0.5 - position)
    track["voiced"][span] *= 10 ** (-2 * position / 20)  # 2 dB quieter by the end
    track["fric"][span] *= 10 ** (-2 * position / 20)
    track["f0"] += 0.5 * params["range_st"] * np.tanh(shape) * np.exp(-0.5 * ((frames - frame) / 6) ** 2)


# ------------------------------------------------------------------------------------ STFT
def stft(signal: np.ndarray) -> np.ndarray:
    """`(..., n)` -> `(..., n // HOP + 1, 257)`, frame t centred on sample t * HOP."""
    n_frames = signal.shape[-1] // HOP + 1
    padded = np.pad(signal, [(0, 0)] * (signal.ndim - 1) + [(N_FFT // 2, N_FFT // 2 + HOP)])
    frames = sliding_window_view(padded, N_FFT, axis=-1)[..., ::HOP, :][..., :n_frames, :]
    return np.fft.rfft(frames * WINDOW, axis=-1)


def istft(spec: np.ndarray, n_samples: int) -> np.ndarray:
    """Inverse of `stft` by weighted overlap-add: `(..., T, 257)` -> `(..., n_samples)`."""
    frames = np.fft.irfft(spec, N_FFT, axis=-1) * WINDOW  # (..., T, N)
    weight = _overlap_add(np.broadcast_to(WINDOW**2, frames.shape[-2:]))  # 1.5 inside, less at the edges
    return (_overlap_add(frames) / np.maximum(weight, 1e-3))[..., N_FFT // 2:N_FFT // 2 + n_samples]


def _overlap_add(frames: np.ndarray) -> np.ndarray:
    """`(..., T, N)` frames spaced HOP apart -> `(..., (T + N / HOP) * HOP + N)` samples."""
    hops = N_FFT // HOP
    out = np.zeros(frames.shape[:-2] + ((frames.shape[-2] + hops) * HOP + N_FFT,))
    for first in range(hops):  # frames first, first + 4, first + 8, ... tile without overlapping
        block = frames[..., first::hops, :].reshape(*frames.shape[:-2], -1)
        out[..., first * HOP:first * HOP + block.shape[-1]] += block
    return out


# ------------------------------------------------------------------------------ synthesis
def synthesize(utt: Utterance, speaker: Speaker, channel: Channel, config: SyntheticConfig) -> np.ndarray:
    """One utterance as int16 samples: a function of (config, utt.index) only."""
    rng = np.random.default_rng([config.seed, 1, utt.index])
    params = emotion_params(utt, speaker, config, rng)
    n_samples = round(utt.duration * SAMPLE_RATE)
    track = prosody(n_samples // HOP + 1, speaker.rate * np.exp(params["log_rate"]), params, rng)
    source = _glottal_pulses(track["f0"], speaker, params, n_samples, rng)
    # Spectrograms (T, 257) of the pulse train and of three white noises: breath, frication, room.
    pulse, breath, frication, floor = stft(np.vstack([source, rng.standard_normal((3, n_samples))]))
    speech = _speech_spectrum(track, pulse, breath, frication, speaker, params)
    speech, noise = _through_channel(speech, floor, channel, n_samples)
    active = np.repeat((track["voiced"] > 0.1) | (track["fric"] > 0.05), HOP)[:n_samples]  # (n_samples,) not pauses
    return _to_pcm(speech, noise, active, speaker, channel, params, rng)


def _glottal_pulses(f0_offset: np.ndarray, speaker: Speaker, params: dict, n_samples: int, rng) -> np.ndarray:
    """`(n_samples,)` glottal pulses where the F0 phase wraps, with jitter (period) and shimmer
    (amplitude); amplitude ~ sqrt(period) keeps the power independent of F0."""
    f0_hz = np.clip(speaker.f0 * 2 ** ((params["f0_st"] + f0_offset) / 12), 55, 600)  # (T,)
    f0_hz = np.interp(np.arange(n_samples), np.arange(len(f0_hz)) * HOP, f0_hz)  # (n_samples,)
    pulse_at = np.flatnonzero(np.diff(np.floor(np.cumsum(f0_hz / SAMPLE_RATE)), prepend=0) > 0)  # sample indices
    period = SAMPLE_RATE / f0_hz[pulse_at]  # samples
    jittered_at = np.clip(np.round(pulse_at + params["jitter"] * period * rng.standard_normal(len(pulse_at))),
                          0, n_samples - 1)
    amplitudes = np.sqrt(period / 100) * np.exp(6 * params["jitter"] * rng.standard_normal(len(pulse_at)))
    return np.bincount(jittered_at.astype(int), weights=amplitudes, minlength=n_samples)


def _speech_spectrum(track: dict, pulse: np.ndarray, breath: np.ndarray, frication: np.ndarray,
                     speaker: Speaker, params: dict) -> np.ndarray:
    """`(T, 257)` speech: voiced source (tilted pulses + high-passed breath) through the vocal
    tract, plus frication noise shaped by each frame's consonant."""
    tract = _vocal_tract(track["vowel"], speaker, params)
    tilt = _source_tilt(track["voiced"], speaker, params)
    aspiration = 0.05 * params["breath"] * FREQS**2 / (FREQS**2 + 1500**2)  # (257,), above 1.5 kHz
    hiss = _frication_spectra(speaker.vtl)
    return (track["voiced"][:, None] * tract * (pulse * tilt + breath * aspiration)
            + 0.1 * track["fric"][:, None] * hiss[track["kind"]] * frication)


def _vocal_tract(vowel: np.ndarray, speaker: Speaker, params: dict) -> np.ndarray:
    """`(T, 257)` gain of parallel formant resonances (peak 1 at F_k) for the frames' vowels,
    moved with 40 ms coarticulation, plus a low-frequency floor."""
    formants = VOWELS[vowel] * speaker.vtl * np.exp(params["log_formant"])  # (T, 4) Hz
    formants[:, 0] *= np.exp(params["log_f1"])
    # Coarticulation: a 5-frame (40 ms) moving average along time, the ends held.
    formants = np.apply_along_axis(np.convolve, 0, np.pad(formants, ((2, 2), (0, 0)), mode="edge"),
                                   np.ones(5) / 5, "valid")
    # Broadcast to (T, formant, bin): freqs (1, 1, 257), bandwidths (1, 4, 1), formants (T, 4, 1).
    freqs, bandwidths = FREQS[None, None, :], (BANDWIDTHS * (1 + params["breath"]))[None, :, None]
    resonances = (FORMANT_GAINS[None, :, None] * freqs * bandwidths
                  / np.sqrt((formants[..., None] ** 2 - freqs**2) ** 2 + (freqs * bandwidths) ** 2))
    return resonances.sum(1) + 0.3 / (1 + (FREQS / 300) ** 2)


def _source_tilt(voiced: np.ndarray, speaker: Speaker, params: dict) -> np.ndarray:
    """`(T, 257)` source slope: -6 dB/oct from 300 Hz, steeper when breathy, flatter when
    emphatic (louder frames)."""
    loudness_db = 20 * np.log10(np.maximum(voiced, 1e-3)) * (voiced > 1e-3)  # (T,), 0 where silent
    slope = -6 + speaker.tilt + params["tilt_db"] - 6 * params["breath"] + 0.3 * loudness_db  # (T,) dB/octave
    octaves = np.log2(np.maximum(FREQS, 300) / 300)  # (257,) above 300 Hz
    return 10 ** (slope[:, None] * octaves[None, :] / 20)


def _frication_spectra(vtl: float) -> np.ndarray:
    """`(consonants, 257)` frication noise gain of each consonant kind: a log-frequency Gaussian
    at its centre (raised with a shorter vocal tract), scaled by its level."""
    return np.array([level * np.exp(-0.5 * (np.log2(np.maximum(FREQS, 1) / (centre * np.sqrt(vtl))) / octaves) ** 2)
                     for _, centre, octaves, level, _ in CONSONANTS])


def _through_channel(speech: np.ndarray, floor: np.ndarray, channel: Channel, n_samples: int):
    """The session's microphone EQ on speech and on the coloured noise floor: two `(T, 257)`
    spectra -> two `(n_samples,)` signals."""
    eq = 10 ** (np.array(channel.eq_db) / 20)  # (257,)
    return istft(np.stack([speech * eq, floor * eq * 10 ** (np.array(channel.noise_db) / 20)]), n_samples)


def _to_pcm(speech: np.ndarray, noise: np.ndarray, active: np.ndarray, speaker: Speaker, channel: Channel,
            params: dict, rng) -> np.ndarray:
    """Set the level of the active speech (pauses excluded) and of the noise floor, mix, quantise.
    The floor belongs to the room, not the talker: loud (angry) speech has the higher SNR."""
    rms = np.sqrt(np.mean(speech[active] ** 2)) if active.any() else np.sqrt(np.mean(speech**2)) + 1e-12
    level = -32 + speaker.level + channel.gain + params["level_db"]  # dB full scale
    floor_db = -32 + channel.gain - channel.snr + 1.5 * rng.standard_normal()
    speech *= 10 ** (level / 20) / rms
    noise *= 10 ** (floor_db / 20) / (np.sqrt(np.mean(noise**2)) + 1e-12)
    return np.round(np.clip(speech + noise, -1, 1) * 32767).astype(np.int16)
