"""The project's own emotional-speech corpus, generated in IEMOCAP's release layout.

IEMOCAP is licence-gated, so `make report` runs on this corpus by default. It is written
exactly as IEMOCAP is laid out (docs/protocol.md, section 3) and read back by the same
`load_iemocap`, so every step after loading is the one a user's IEMOCAP goes through:

    <root>/SessionN/sentences/wav/<dialog>/<utterance id>.wav      16 kHz mono 16-bit PCM
    <root>/SessionN/dialog/EmoEvaluation/<dialog>.txt              label lines + annotator lines
    <root>/SessionN/dialog/EmoEvaluation/Categorical/<dialog>_e2_cat.txt   (a sub-folder, as IEMOCAP)
    <root>/metadata.csv        what drove each file (acoustic emotion, intensity, ...): not IEMOCAP's
    <root>/pdt_synthetic.json  the stamp: generator version + config, written last and atomically

The package, in the order the data flows:

    corpus_plan.py  SyntheticConfig; the emotion (PROFILES, SPREAD), speaker and channel models;
                    plan(config): every utterance (code, label, acoustic emotion, speaker, duration)
    voice.py        synthesize(utterance, speaker, channel, config): its int16 samples
    writer.py       generate_corpus / load_synthetic: wavs, label files, metadata.csv, the stamp

Speech model (a source-filter synthesiser, Fant 1960; frame-wise like a channel vocoder):
glottal pulses on an F0 contour (phrase declination, pitch accents, jitter, shimmer), shaped
by a source spectral tilt and breath noise, filtered by vowel formants (Peterson & Barney 1952
values scaled by vocal-tract length) over a random CV-syllable sequence, frication noise for
consonants, syllable amplitude envelopes and pauses; then a session's microphone EQ and a
coloured noise floor that belongs to the room (so loud speech has the higher SNR). Durations
are log-normal (IEMOCAP's mean is about 4.5 s, from under 1 s to over 10 s), so both the 4 s
crop and the padding of features.py matter.

Emotion acts only through overlapping distributions of these parameters, in the directions
that reviews of vocal affect report (Scherer 2003, Speech Commun. 40; Juslin & Laukka 2003,
Psychol. Bull. 129; Banse & Scherer 1996): angry and happy are high-arousal (higher, wider F0;
louder; faster; flatter spectral tilt, i.e. more high-frequency energy), sad is low-arousal
(lower, narrower F0; quieter; slower; steeper tilt, breathier; more pauses), neutral lies
between. Happy and angry differ only subtly (happy: smooth, late-peaking accents and a
raised-formant "smile"; angry: sharp early accents, harder stress, pressed voice, wider F1),
so they are the most confused pair, as in the paper's Fig. 4. Each utterance has a random
intensity (some near zero, then it sounds neutral), each speaker a random expressiveness, and
`label_noise` of the labels disagree with the acoustics (annotator disagreement). Speakers
(F0, vocal-tract length, rate, breathiness, tilt, level) and sessions (EQ, band limits, noise)
vary enough that session-independent generalisation is a real problem.

Class counts per session are IEMOCAP's (`EXPECTED_COUNTS`) times `scale`, each at least 1
(`max(1, round(count * scale))`): scale=1.0 gives exactly the 5531 kept utterances, the
default 0.2 about 1106. Happy is split between `hap` and `exc` as in IEMOCAP (595 : 1041), and
`fru`, `xxx` and a few `sur`/`fea`/`dis`/`oth` utterances come on top, to be dropped by the loader.
Every file is a function of (seed, utterance index) only: the worker count never changes a byte.

Usage: `table = load_iemocap(generate_corpus())` (about 15 s on 2 cores the first time, then
reused). Difficulty, measured with pdtlib.evaluation.difficulty (band mean/std of the 4 s log-spectrogram ->
linear SVM, Sessions 1-3 -> Session 5): UA 0.66 on the default corpus, happy<->angry the most
confused pair; 0.60, 0.46, 0.65 for seeds 1-3, as the draw of Session 5's two speakers decides.

To replace a function the writer calls (e.g. in a test), patch it on `synthetic.writer`.
"""

from __future__ import annotations

from .corpus_plan import (
    PARAMS, PROFILES, SPREAD, Channel, Speaker, SyntheticConfig, Utterance, channels, dialogs, plan,
    session_codes, speakers,
)
from .voice import emotion_params, istft, prosody, stft, synthesize
from .writer import (
    METADATA, STAMP, VERSION, default_root, generate_corpus, is_complete, load_synthetic, read_metadata,
    wav_path, write_labels,
)

__all__ = ["PARAMS", "PROFILES", "SPREAD", "Channel", "Speaker", "SyntheticConfig", "Utterance", "channels",
           "dialogs", "plan", "session_codes", "speakers", "emotion_params", "istft", "prosody", "stft",
           "synthesize", "METADATA", "STAMP", "VERSION", "default_root", "generate_corpus", "is_complete",
           "load_synthetic", "read_metadata", "wav_path", "write_labels"]
