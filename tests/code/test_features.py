import numpy as np
import pytest
import torch

from pdtlib.features import FeatureConfig, InputNormalization, log_spectrogram


def tone(freq, seconds, rate=16000):
    t = torch.arange(int(seconds * rate)) / rate
    return 0.5 * torch.sin(2 * torch.pi * freq * t)


@pytest.mark.parametrize("duration, frames", [(4.0, 400), (5.0, 500), (6.0, 600), (7.0, 700)])
def test_shape_is_257_by_100_frames_per_second(duration, frames):
    out = log_spectrogram(torch.randn(3, 16000 * 8), duration=duration)
    assert out.shape == (3, 257, frames) and out.dtype == torch.float32
    assert FeatureConfig(duration=duration).n_frames == frames


def test_arbitrary_batch_dimensions():
    assert log_spectrogram(torch.randn(2, 3, 64000)).shape == (2, 3, 257, 400)
    assert log_spectrogram(np.random.randn(64000).astype(np.float32)).shape == (257, 400)


@pytest.mark.parametrize("freq", [250.0, 1000.0, 3137.5, 6000.0])
def test_pure_tone_peaks_at_its_bin(freq):
    spec = log_spectrogram(tone(freq, 4.0))
    peak_bins = spec[:, 10:-10].argmax(dim=0)  # per frame, away from the edges
    assert (peak_bins == round(freq / 31.25)).all()


def test_silence_is_finite():
    spec = log_spectrogram(torch.zeros(64000))
    assert torch.isfinite(spec).all()
    assert spec.max().item() == pytest.approx(np.log(1e-10))


def test_short_input_repeats_its_last_real_frame():
    wave = torch.randn(16000 * 2)  # 2 s -> 200 real frames
    spec = log_spectrogram(wave, duration=4.0)
    assert spec.shape == (257, 400)
    last = spec[:, 199]
    assert torch.equal(spec[:, 200:], last[:, None].expand(-1, 200))
    assert not torch.equal(spec[:, 198], last)  # noise frames differ; only padding repeats


def test_zero_padding_option_keeps_silent_frames():
    spec = log_spectrogram(torch.randn(16000 * 2), duration=4.0, pad="zero")
    assert spec[:, 205:].max().item() == pytest.approx(np.log(1e-10))


def test_cropping_keeps_the_first_seconds():
    first, rest = torch.randn(64000), torch.randn(48000)
    long = log_spectrogram(torch.cat([first, rest]), duration=4.0)
    exact = log_spectrogram(first, duration=4.0)
    # frames up to the last one only see the first 4 s (the last is reflect-padded in both)
    torch.testing.assert_close(long[:, :398], exact[:, :398])
    # and a tone that starts after 4 s never shows
    late = torch.cat([torch.zeros(64000), tone(1000, 2.0)])
    assert log_spectrogram(late, duration=4.0).max().item() == pytest.approx(np.log(1e-10))


def test_batch_equals_items_one_by_one():
    lengths = [64000, 30000, 16000, 70000]
    items = [torch.randn(n) for n in lengths]
    batch = torch.zeros(len(items), max(lengths))
    for row, item in zip(batch, items):
        row[: len(item)] = item
    together = log_spectrogram(batch, lengths=torch.tensor(lengths))
    for i, item in enumerate(items):
        torch.testing.assert_close(together[i], log_spectrogram(item), rtol=1e-5, atol=1e-4)


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="pad"):
        FeatureConfig(pad="mirror")
    with pytest.raises(ValueError, match="samples"):
        log_spectrogram(torch.zeros(0))


def test_agrees_with_torchaudio_where_it_imports():
    try:  # with CPU torch, torchaudio's wheels fail to load (OSError), not only to import
        import torchaudio
    except Exception as exc:
        pytest.skip(f"torchaudio does not import here: {exc}")
    wave = torch.randn(2, 64000)
    reference = torchaudio.transforms.Spectrogram(
        n_fft=512, win_length=320, hop_length=160, window_fn=torch.hamming_window,
        power=2.0, center=True, pad_mode="reflect")(wave)
    reference = reference.clamp_min(1e-10).log()[..., :400]
    torch.testing.assert_close(log_spectrogram(wave), reference, rtol=0, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    wave = torch.randn(4, 64000)
    torch.testing.assert_close(log_spectrogram(wave.cuda()).cpu(), log_spectrogram(wave), rtol=0, atol=1e-3)


# ---------------------------------------------------------------- input normalisation

def test_bins_normalisation_standardises_each_bin_over_the_fit_rows():
    rng = np.random.default_rng(0)
    x = (rng.normal(-8, 3, (6, 257, 50)) + np.linspace(-5, 5, 257)[None, :, None]).astype(np.float16)
    norm = InputNormalization("bins")
    assert torch.isnan(norm(torch.zeros(1, 257, 5))).all()  # never silently the raw input before fit
    norm.fit(x, rows=[0, 2, 4])
    fit_rows = np.asarray(x[[0, 2, 4]], dtype=np.float64)
    np.testing.assert_allclose(norm.mean.numpy(), fit_rows.mean(axis=(0, 2)), rtol=1e-6)
    out = norm(torch.from_numpy(fit_rows.astype(np.float32))).double()  # (3, 257, 50)
    np.testing.assert_allclose(out.mean(dim=(0, 2)).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(dim=(0, 2), correction=0).numpy(), 1, atol=1e-3)
    assert set(norm.state_dict()) == {"mean", "std"}


def test_utterance_normalisation_removes_gain_and_level():
    x = torch.randn(2, 257, 40) * 3 - 8
    norm = InputNormalization("utterance")
    louder = x + 4.6  # the same recording 100 times louder in power: log-power + log(100)
    torch.testing.assert_close(norm(louder), norm(x), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(norm(2 * x), norm(x), atol=1e-4, rtol=1e-4)
    assert norm.state_dict() == {} and InputNormalization("none")(x) is x
    with pytest.raises(ValueError, match="choose one of"):
        InputNormalization("global")
