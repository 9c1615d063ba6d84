"""pdtlib.evaluation.egemaps: eGeMAPSv02 functionals computed by the real openSMILE, cached, in parallel."""

import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pdtlib.evaluation import egemaps
from pdtlib.audio import AudioError
from pdtlib.corpora.table import COLUMNS
from pdtlib.evaluation.egemaps import N_FEATURES, egemaps_features, egemaps_names

RATE = 16000


def _harmonic(f0, seconds, rate=RATE, amp=0.3, seed=0):
    """A voiced-like signal: a gliding f0 with 5 harmonics, a little noise, and a fade in/out."""
    t = np.arange(int(seconds * rate)) / rate
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f) / rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 6))
    wave += 0.02 * np.random.default_rng(seed).standard_normal(len(t))
    envelope = np.minimum(1, np.minimum(t, t[-1] - t) / 0.05)
    return (amp * wave / np.abs(wave).max() * envelope).astype(np.float32)


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("PDT_CACHE", str(tmp_path / "cache"))
    audio = tmp_path / "audio"
    audio.mkdir()
    rng = np.random.default_rng(1)
    signals = {  # name: (samples, rate)
        "tone220": (_harmonic(220, 1.0), RATE),
        "tone140": (_harmonic(140, 1.5, seed=2), RATE),
        "noise": ((0.1 * rng.standard_normal(RATE // 2)).astype(np.float32), RATE),
        "stereo44k": (np.stack([_harmonic(180, 1.0, rate=44100), _harmonic(181, 1.0, rate=44100)], axis=1), 44100),
        "tone300": (_harmonic(300, 2.0, amp=0.1, seed=3), RATE),
    }
    rows = []
    for i, (name, (samples, rate)) in enumerate(signals.items()):
        path = audio / f"{name}.wav"
        sf.write(path, samples, rate, subtype="FLOAT")
        rows.append({"utterance_id": name, "path": str(path), "label": ("happy", "angry", "neutral", "sad")[i % 4],
                     "speaker": f"spk{i}", "session": str(i % 3 + 1), "gender": "FM"[i % 2],
                     "split": ("train", "val", "test")[i % 3], "duration_s": len(samples) / rate})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_shape_names_and_worker_count_independence(corpus, tmp_path):
    one = egemaps_features(corpus, workers=1)
    two = egemaps_features(corpus, workers=2, cache_root=tmp_path / "other-cache")  # computed afresh
    assert one.shape == (len(corpus), N_FEATURES) == (5, 88) and one.dtype == np.float32
    assert np.isfinite(one).all()
    np.testing.assert_array_equal(one, two)
    names = egemaps_names()
    assert len(names) == 88 and len(set(names)) == 88
    assert "loudness_sma3_amean" in names
    # rows follow the table: a different order permutes the rows
    np.testing.assert_array_equal(egemaps_features(corpus.iloc[::-1], workers=1), one[::-1])


def test_second_call_reads_the_cache(corpus, monkeypatch):
    first = egemaps_features(corpus, workers=1)
    stored = list((egemaps.paths.cache_dir() / "egemaps").glob("*.npz"))
    assert len(stored) == 1

    def fail(*args, **kwargs):
        raise AssertionError("recomputed an utterance that was cached")

    monkeypatch.setattr(egemaps, "_features_of", fail)
    monkeypatch.setattr(egemaps, "_compute", fail)
    again = egemaps_features(corpus, workers=1)
    np.testing.assert_array_equal(first, again)
    assert list((egemaps.paths.cache_dir() / "egemaps").glob("*.npz")) == stored
    assert not list((egemaps.paths.cache_dir() / "egemaps").glob(".*"))  # no temporary left behind


def test_louder_copy_raises_loudness(corpus):
    source = corpus.loc[0, "path"]
    samples, rate = sf.read(source, dtype="float32")
    louder = source.replace(".wav", "_louder.wav")
    sf.write(louder, 3 * samples, rate, subtype="FLOAT")
    table = pd.concat([corpus.iloc[[0]], corpus.iloc[[0]].assign(utterance_id="louder", path=louder)],
                      ignore_index=True)
    features = egemaps_features(table, workers=1)
    loudness = egemaps_names().index("loudness_sma3_amean")
    assert features[1, loudness] > 1.5 * features[0, loudness] > 0
    pitch = egemaps_names().index("F0semitoneFrom27.5Hz_sma3nz_amean")
    assert features[1, pitch] == pytest.approx(features[0, pitch], abs=0.5)  # same tone, only louder


@pytest.mark.parametrize("workers", [1, 2])
def test_corrupt_file_raises_audio_error_naming_it(corpus, workers):
    bad = corpus.loc[2, "path"].replace("noise.wav", "corrupt.wav")
    with open(bad, "wb") as f:
        f.write(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(200))
    table = corpus.assign(path=corpus["path"].where(corpus.index != 2, bad))
    with pytest.raises(AudioError, match="corrupt.wav") as caught:
        egemaps_features(table, workers=workers)
    assert caught.value.path.name == "corrupt.wav"
    assert not list((egemaps.paths.cache_dir() / "egemaps").glob("*.npz"))  # nothing cached


def test_non_finite_values_become_zero_with_a_warning(corpus, monkeypatch):
    real = egemaps._features_of

    def nan_for_noise(wave, path):
        values = real(wave, path)
        if str(path).endswith("noise.wav"):
            values[:3] = np.nan
        return values

    monkeypatch.setattr(egemaps, "_features_of", nan_for_noise)
    with pytest.warns(UserWarning, match="1 of 5 utterances"):
        features = egemaps_features(corpus, workers=1)
    assert np.isfinite(features).all() and (features[2, :3] == 0).all()
    with pytest.warns(UserWarning, match="1 of 5 utterances"):  # also when read back from the cache
        np.testing.assert_array_equal(egemaps_features(corpus, workers=1), features)


def test_missing_opensmile_says_what_to_install(corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "opensmile", None)  # `import opensmile` now raises ImportError
    with pytest.raises(ImportError, match="pip install opensmile"):
        egemaps_features(corpus, workers=1)
