"""The corpus plan: the generator's config, the emotion, speaker and channel models, and the list
of utterances (who says which code in which dialog, how long, with what acoustic emotion)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np

from ... import EMOTIONS
from ...audio import SAMPLE_RATE
from ..iemocap import EXPECTED_COUNTS, SESSIONS


@dataclass(frozen=True)
class SyntheticConfig:
    """Every generator parameter; the defaults make the default corpus of `make report`.

    Counts are `max(1, round(IEMOCAP count * scale))` per session and class, so any scale works:
    `SyntheticConfig(scale=0.02)` (about 115 kept utterances) is the tests' tiny corpus.
    """

    seed: int = 0
    scale: float = 0.2  # x IEMOCAP's kept counts per session and class, each at least 1
    hap_share: float = 0.364  # of happy labelled `hap`, the rest `exc` (IEMOCAP: 595 / 1636)
    fru_share: float = 0.06  # extra `fru` per kept utterance (IEMOCAP has 0.33: kept small for speed)
    xxx_share: float = 0.06  # extra `xxx` (no agreement; IEMOCAP 0.45)
    other_share: float = 0.01  # extra sur/fea/dis/oth
    duration_mean: float = 4.5  # seconds, log-normal
    duration_sigma: float = 0.55  # of log duration
    duration_range: tuple[float, float] = (0.9, 20.0)
    intensity_power: float = 0.6  # intensity = U(0,1) ** power; mean 0.63, 2% below 0.1
    label_noise: float = 0.04  # labels that disagree with the acoustics
    spread: float = 1.0  # x the per-utterance scatter of every acoustic parameter (difficulty)
    channel_spread: float = 1.0  # x the differences between sessions' microphones
    snr_db: tuple[float, float] = (20.0, 30.0)  # range of the sessions' noise floors, in dB below neutral speech

    def __post_init__(self):
        problems = [name for name, ok in (
            ("scale > 0", self.scale > 0), ("0 <= hap_share <= 1", 0 <= self.hap_share <= 1),
            ("shares >= 0", min(self.fru_share, self.xxx_share, self.other_share) >= 0),
            ("0 < duration_range[0] < duration_range[1]", 0 < self.duration_range[0] < self.duration_range[1]),
            ("0 <= label_noise <= 1", 0 <= self.label_noise <= 1),
            ("spread, channel_spread >= 0", min(self.spread, self.channel_spread) >= 0)) if not ok]
        if problems:
            raise ValueError(f"SyntheticConfig: need {', '.join(problems)}; got {self}")

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))  # tuples as lists, as the stamp holds them


# ---------------------------------------------------------------- emotion and speaker models
# Acoustic parameters an emotion moves, per emotion at full intensity. Units: semitones (st),
# dB, dB/octave (tilt > 0 = flatter = more high-frequency energy), log factors; `shape` > 0 =
# smooth late-peaking accents (happy), < 0 = sharp early ones (angry).
PARAMS = ("f0_st", "range_st", "level_db", "log_rate", "tilt_db", "breath", "jitter", "log_formant",
          "log_f1", "accent_p", "shape", "log_pause", "decl_st", "stress_db")
PROFILES = {  # f0  range level rate  tilt breath jitter formant f1   acc  shape pause decl stress
    "neutral": (0.0, 3.0, 0.0, 0.00, 0.0, 0.00, 0.010, 0.00, 0.00, 0.30, 0.0, 0.0, 2.0, 3.0),
    "happy":   (5.0, 7.0, 7.0, 0.12, 5.0, 0.00, 0.012, 0.05, 0.02, 0.50, 1.0, -0.2, 1.5, 4.0),
    "angry":   (4.5, 6.0, 8.5, 0.14, 6.0, -0.05, 0.020, 0.00, 0.08, 0.50, -1.0, -0.3, 3.5, 6.0),
    "sad":     (-3.0, 1.2, -8.0, -0.30, -6.0, 0.20, 0.015, -0.03, -0.03, 0.20, 0.0, 0.8, 1.5, 1.5),
}
# Per-utterance standard deviation of each parameter (x config.spread): the classes overlap.
SPREAD = np.array((0.8, 0.5, 1.3, 0.04, 0.8, 0.03, 0.002, 0.008, 0.015, 0.04, 0.3, 0.15, 0.4, 0.5))
# Extras (dropped by the loader) sound like: fru a mild anger or neutral, the others anything.
EXTRA_ACOUSTICS = {"fru": ("angry", "neutral")}
# IEMOCAP's codes the loader keeps, and the emotion each is read as.
KEPT = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
# Ranges a session's speaker of each gender is drawn from: median F0 (Hz), vocal-tract scale,
# breathiness (see Speaker).
VOICE_RANGES = {"F": ((180, 240), (1.10, 1.22), (0.05, 0.2)),
                "M": ((100, 135), (0.93, 1.05), (0.0, 0.15))}

# The synthesiser's analysis grid; a session's microphone EQ and noise colour live on its bins.
N_FFT, HOP = 512, 128  # 32 ms frames every 8 ms: fine enough for syllables, accents, formant moves
FREQS = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)  # (257,) bin centres in Hz


@dataclass(frozen=True)
class Speaker:
    name: str  # Ses01F: session + gender, as IEMOCAP's speakers
    f0: float  # Hz, median F0 of neutral speech
    vtl: float  # formant scale (vocal-tract length; 1 = the adult male of Peterson & Barney)
    rate: float  # syllables per second, neutral
    breath: float  # aspiration noise share, 0..1
    tilt: float  # dB/octave added to the source slope
    level: float  # dB, habitual loudness
    expressiveness: float  # x every emotional deviation


@dataclass(frozen=True)
class Channel:
    eq_db: tuple  # (257,) microphone + room response in dB on the STFT bins
    noise_db: tuple  # (257,) noise-floor colour in dB
    snr: float  # noise floor in dB below the level of neutral speech (SNR of neutral speech)
    gain: float  # dB


def speakers(config: SyntheticConfig) -> dict[str, Speaker]:
    """The two speakers of each session (female, male), drawn from (seed, session)."""
    out = {}
    for session in SESSIONS:
        for number, (gender, (f0_range, vtl_range, breath_range)) in enumerate(VOICE_RANGES.items()):
            rng = np.random.default_rng([config.seed, 2, session, number])
            name = f"Ses{session:02d}{gender}"
            # Keyword arguments in field order: the draws keep their order.
            out[name] = Speaker(name, f0=rng.uniform(*f0_range), vtl=rng.uniform(*vtl_range),
                                rate=rng.uniform(3.8, 5.5), breath=rng.uniform(*breath_range),
                                tilt=rng.uniform(-1, 1), level=rng.uniform(-1.5, 1.5),
                                expressiveness=rng.uniform(0.85, 1.15))
    return out


def channels(config: SyntheticConfig) -> dict[int, Channel]:
    """Each session's microphone (smooth random EQ, high-pass, low-pass) and noise floor."""
    freqs = np.maximum(FREQS, 1.0)  # (257,), 0 Hz raised to 1 Hz for the logarithms
    out = {}
    for session in SESSIONS:
        rng = np.random.default_rng([config.seed, 3, session])
        bumps = sum(_eq_bump(freqs, rng) for _ in range(4))
        highpass = 10 * np.log10(freqs**4 / (freqs**4 + rng.uniform(50, 120) ** 4))  # 4th order, 50-120 Hz
        lowpass = -10 * np.log10(1 + (freqs / rng.uniform(6500, 7800)) ** 8)
        # Noise colour in dB: a falling slope (dB/octave about 500 Hz) and up to 6 dB of hum near 120 Hz.
        slope = rng.uniform(-3, -1)
        hum = np.exp(-0.5 * (np.log2(freqs / 120) / 0.3) ** 2)  # (257,), peak 1
        noise = slope * np.log2(freqs / 500) + 6 * hum * rng.random()
        out[session] = Channel(tuple(config.channel_spread * bumps + highpass + lowpass), tuple(noise),
                               snr=rng.uniform(*config.snr_db), gain=config.channel_spread * rng.uniform(-2, 2))
    return out


def _eq_bump(freqs: np.ndarray, rng) -> np.ndarray:
    """`(257,)` dB of one Gaussian bump on a log-frequency axis: gain, centre, width in octaves."""
    gain_db = rng.normal(0, 1.5)
    centre, octaves = rng.uniform(150, 6000), rng.uniform(0.3, 1.0)
    return gain_db * np.exp(-0.5 * (np.log2(freqs / centre) / octaves) ** 2)


# ---------------------------------------------------------------------------- the corpus plan
@dataclass(frozen=True)
class Utterance:
    index: int  # position in the sorted plan: the synthesis seed is (config.seed, index)
    utterance_id: str
    session: int
    dialog: str
    speaker: str
    code: str  # IEMOCAP's categorical code on the label line
    label: str  # one of EMOTIONS, or "" when the loader drops the code
    acoustic: str  # the emotion that drives the acoustics (differs from label under label_noise)
    intensity: float
    duration: float  # seconds, a whole number of samples
    start: float  # seconds into the dialog


def dialogs(session: int) -> list[str]:
    """IEMOCAP-like dialog names, with its odd ones (Ses03M_impro05a/b, Ses05M_script01_1b)."""
    names = [f"impro{i:02d}" for i in range(1, 9)] + ["script01_1", "script01_2", "script01_3",
                                                      "script02_1", "script02_2", "script03_1", "script03_2"]
    odd = {3: {"impro05": ("impro05a", "impro05b"), "impro08": ("impro08a", "impro08b")},
           5: {"script01_1": ("script01_1b",)}}.get(session, {})
    return [f"Ses{session:02d}{gender}_{variant}" for gender in "FM" for name in names
            for variant in (odd.get(name, (name,)) if gender == "M" else (name,))]


def session_codes(config: SyntheticConfig, session: int) -> list[str]:
    """The categorical codes of one session: IEMOCAP's kept counts x scale, then the extras."""
    counts = {emotion: max(1, round(count * config.scale)) for emotion, count in EXPECTED_COUNTS[session].items()}
    hap = round(counts["happy"] * config.hap_share)
    codes = (["neu"] * counts["neutral"] + ["ang"] * counts["angry"] + ["sad"] * counts["sad"]
             + ["hap"] * hap + ["exc"] * (counts["happy"] - hap))
    kept = len(codes)
    codes += ["fru"] * max(1, round(config.fru_share * kept)) + ["xxx"] * max(1, round(config.xxx_share * kept))
    return codes + [("sur", "fea", "dis", "oth")[i % 4] for i in range(round(config.other_share * kept))]


def plan(config: SyntheticConfig) -> list[Utterance]:
    """Every utterance of the corpus, sorted by utterance id; a function of `config` only."""
    rows = []
    for session in SESSIONS:
        rng = np.random.default_rng([config.seed, 4, session])  # drawn first by _draw, then by _place
        rows += _place(_draw(config, session, rng), rng)
    rows.sort(key=lambda u: u.utterance_id)
    return [replace(u, index=i) for i, u in enumerate(rows)]


def _draw(config: SyntheticConfig, session: int, rng) -> dict[str, list[Utterance]]:
    """One session's utterances by dialog, in drawing order, without their ids and start times."""
    shortest, longest = config.duration_range
    log_mean = np.log(config.duration_mean) - config.duration_sigma**2 / 2  # log-normal with that mean
    codes = [str(c) for c in rng.permutation(session_codes(config, session))]
    names = dialogs(session)
    by_dialog: dict[str, list[Utterance]] = {}
    for code in codes:
        label = KEPT.get(code, "")
        acoustic = _acoustic(code, label, config, rng)
        seconds = float(np.clip(rng.lognormal(log_mean, config.duration_sigma), shortest, longest))
        duration = round(seconds * SAMPLE_RATE) / SAMPLE_RATE  # a whole number of samples
        intensity = rng.random() ** config.intensity_power * (0.5 if code == "fru" else 1.0)
        dialog = names[rng.integers(len(names))]
        speaker = f"Ses{session:02d}{'FM'[rng.integers(2)]}"
        by_dialog.setdefault(dialog, []).append(Utterance(0, "", session, dialog, speaker, code, label, acoustic,
                                                          float(intensity), duration, 0.0))
    return by_dialog


def _acoustic(code: str, label: str, config: SyntheticConfig, rng) -> str:
    """The emotion an utterance sounds like: its label, another one (label noise), or an extra's."""
    if label and rng.random() < config.label_noise:
        return str(rng.choice([e for e in EMOTIONS if e != label]))
    if label:
        return label
    return str(rng.choice(EXTRA_ACOUSTICS.get(code, EMOTIONS)))


def _place(by_dialog: dict[str, list[Utterance]], rng) -> list[Utterance]:
    """Each dialog's utterances one after another (random gaps), numbered per speaker as IEMOCAP:
    Ses01F_impro01_F000, Ses01F_impro01_M000, Ses01F_impro01_F001, ..."""
    placed = []
    for dialog, items in by_dialog.items():
        clock, number = rng.uniform(2, 8), {"F": 0, "M": 0}  # seconds into the dialog, turns per gender
        for utt in items:
            gender = utt.speaker[-1]
            placed.append(replace(utt, utterance_id=f"{dialog}_{gender}{number[gender]:03d}", start=round(clock, 4)))
            number[gender] += 1
            clock += utt.duration + rng.uniform(0.2, 3.0)
    return placed
