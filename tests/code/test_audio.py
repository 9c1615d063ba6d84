import numpy as np
import pytest
import soundfile as sf

from pdtlib.audio import AudioError, fix_duration, load_audio


def tone(freq, seconds, rate, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_stereo_44k_loads_as_16k_mono_of_the_right_length(tmp_path):
    left, right = tone(440, 2.5, 44100), tone(440, 2.5, 44100, amplitude=0.1)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 40000) <= 1  # 2.5 s at 16 kHz
    # channels are averaged: amplitude (0.5 + 0.1) / 2 = 0.3, away from the resampler's edges
    assert np.abs(wave[1000:-1000]).max() == pytest.approx(0.3, abs=0.01)
    # the tone survives resampling: its spectrum peaks at 440 Hz
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.fft.rfftfreq(len(wave), 1 / 16000)[spectrum.argmax()] == pytest.approx(440, abs=1)


def test_16k_mono_is_returned_unchanged(tmp_path):
    wave = tone(300, 1.0, 16000)
    sf.write(tmp_path / "a.wav", wave, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "a.wav"), wave)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(AudioError, match="nope.wav: no such file"):
        load_audio(tmp_path / "nope.wav")


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEgarbage-not-audio")
    with pytest.raises(AudioError, match="corrupt.wav: unreadable or corrupt"):
        load_audio(path)


def test_empty_file_names_the_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav"):
        load_audio(path)


def test_zero_sample_file_names_the_file(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="silent.wav: zero samples"):
        load_audio(path)


def test_non_finite_samples_are_refused(tmp_path):
    path = tmp_path / "nan.wav"
    wave = tone(300, 0.5, 16000)
    wave[100] = np.nan
    sf.write(path, wave, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: non-finite"):
        load_audio(path)


def test_fix_duration_crops_from_the_start_and_pads_with_zeros():
    wave = np.arange(16000 * 5, dtype=np.float32)
    np.testing.assert_array_equal(fix_duration(wave, 4.0), wave[:64000])
    short = np.ones(16000, dtype=np.float32)
    padded = fix_duration(short, 4.0)
    assert padded.shape == (64000,)
    assert padded[:16000].sum() == 16000 and not padded[16000:].any()
