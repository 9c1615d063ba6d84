import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_corpora import write_wav

from pdtlib.corpora import cache
from pdtlib.system import paths
from pdtlib.audio import AudioError, load_audio
from pdtlib.corpora.cache import load_features
from pdtlib.features import FeatureSet
from pdtlib.corpora.table import audio_duration
from pdtlib.features import FeatureConfig, encoder_input, log_spectrogram

# (file, seconds, rate, channels): shorter than 4 s (padded), longer (cut), 44.1 kHz stereo (resampled, downmixed)
FILES = [("short.wav", 1.3, 16000, 1), ("long.wav", 4.6, 16000, 1), ("stereo.wav", 2.2, 44100, 2),
         ("tiny.wav", 0.4, 16000, 1), ("exact.wav", 4.0, 16000, 1)]


@pytest.fixture
def table(tmp_path):
    rows = []
    for i, (name, seconds, rate, channels) in enumerate(FILES):
        path = write_wav(tmp_path / "audio" / name, seconds, rate, channels, seed=i)
        rows.append({"utterance_id": path.stem, "path": str(path), "label": ["happy", "angry", "sad"][i % 3],
                     "speaker": f"s{i % 2}", "session": 1, "gender": "", "split": ["train", "test"][i % 2],
                     "duration_s": audio_duration(path)})
    return pd.DataFrame(rows)


@pytest.fixture
def calls(monkeypatch):
    """Counts the utterances encoder_input computes inside the cache builder."""
    counter = {"utterances": 0}

    def counting(wave, *args, **kwargs):
        counter["utterances"] += len(wave)
        return encoder_input(wave, *args, **kwargs)

    monkeypatch.setattr(cache, "encoder_input", counting)
    return counter


def feature_folders():
    root = paths.cache_dir() / "features"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_built_once_then_reused(table, calls):
    config = FeatureConfig()
    first = load_features(table, config, batch_size=2)
    assert calls["utterances"] == 5
    assert isinstance(first, FeatureSet) and first.features.shape == (5, 257, 400)
    assert isinstance(first.features, np.memmap) and first.features.dtype == np.float16
    assert not first.features.flags.writeable  # opened read-only: a consumer cannot damage the cache

    second = load_features(table, config, batch_size=3)
    assert calls["utterances"] == 5  # nothing computed the second time
    np.testing.assert_array_equal(second.features, first.features)
    pd.testing.assert_frame_equal(second.table, first.table)
    assert second.labels.tolist() == [0, 1, 3, 0, 1] and second.indices("test").tolist() == [1, 3]

    [key] = feature_folders()
    folder = paths.cache_dir() / "features" / key
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["key"] == key and meta["config"]["duration"] == 4.0 and meta["shape"] == [5, 257, 400]
    assert {"pdtlib_version", "created", "format"} <= set(meta)
    index = pd.read_csv(folder / "index.csv")
    assert index["utterance_id"].tolist() == table["utterance_id"].tolist()
    assert index["file_size"].tolist() == [os.stat(p).st_size for p in table["path"]]


def test_values_are_the_files_log_spectrograms(table):
    config = FeatureConfig()
    features = load_features(table, config, batch_size=2).features  # mixed lengths in each batch
    for row, path in zip(features, table["path"]):
        expected = log_spectrogram(load_audio(path), config=config).numpy()  # one file alone, float32
        # float16 spacing is 2**-6 near |x| = 23, so rounding moves a value by at most 0.008
        np.testing.assert_allclose(row.astype(np.float32), expected, rtol=0, atol=0.008)
    assert np.isfinite(features).all() and features.min() >= np.log(1e-10) - 0.01


def test_a_changed_file_changes_the_key(table, calls):
    config = FeatureConfig()
    before = np.array(load_features(table, config).features)
    path = table.loc[2, "path"]
    write_wav(path, 3.1, 16000, 1, seed=99)  # new content and size
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 5_000_000_000))
    after = load_features(table, config)
    assert calls["utterances"] == 10 and len(feature_folders()) == 2
    assert not np.array_equal(after.features[2], before[2])
    np.testing.assert_array_equal(after.features[0], before[0])


def test_a_touched_file_changes_the_key(table, calls):
    load_features(table, FeatureConfig())
    path = table.loc[0, "path"]
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # same size, 1 ns newer
    load_features(table, FeatureConfig())
    assert calls["utterances"] == 10


def test_labels_and_splits_are_part_of_the_key(table, calls):
    load_features(table, FeatureConfig())
    load_features(table.assign(label=["sad"] * 5), FeatureConfig())
    assert calls["utterances"] == 10


def test_a_changed_config_changes_the_key(table, calls):
    four = load_features(table, FeatureConfig(duration=4.0))
    five = load_features(table, FeatureConfig(duration=5.0))
    assert four.features.shape == (5, 257, 400) and five.features.shape == (5, 257, 500)
    assert calls["utterances"] == 10 and len(feature_folders()) == 2
    load_features(table, FeatureConfig(duration=4.0, pad="zero"))
    assert calls["utterances"] == 15 and len(feature_folders()) == 3


def test_an_interrupted_build_leaves_no_trusted_cache(table, monkeypatch):
    batches = []

    def fail_on_third_batch(wave, *args, **kwargs):
        batches.append(len(wave))
        if len(batches) == 3:
            raise KeyboardInterrupt  # as a user's Ctrl-C mid-build
        return encoder_input(wave, *args, **kwargs)

    monkeypatch.setattr(cache, "encoder_input", fail_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        load_features(table, FeatureConfig(), batch_size=1)
    assert feature_folders() == []  # neither the final folder nor the partial one

    monkeypatch.setattr(cache, "encoder_input", encoder_input)
    features = load_features(table, FeatureConfig(), batch_size=1).features
    assert len(feature_folders()) == 1 and np.isfinite(features).all() and features[4].any()


def test_a_folder_without_meta_is_not_trusted(table, calls):
    config = FeatureConfig()
    load_features(table, config)
    [key] = feature_folders()
    (paths.cache_dir() / "features" / key / "meta.json").unlink()  # as a build killed before its last write
    with pytest.warns(UserWarning, match="incomplete or damaged; rebuilding"):
        load_features(table, config)
    assert calls["utterances"] == 10 and feature_folders() == [key]


def test_a_truncated_features_file_is_named_and_rebuilt(table, calls):
    config = FeatureConfig()
    built = np.array(load_features(table, config).features)
    [key] = feature_folders()
    target = paths.cache_dir() / "features" / key / "features.npy"
    os.truncate(target, target.stat().st_size // 2)  # a copy cut short, a full disk
    with pytest.warns(UserWarning, match=f"{key}/features.npy cannot be read .*truncated or damaged; rebuilding"):
        again = load_features(table, config)
    assert calls["utterances"] == 10 and feature_folders() == [key]
    np.testing.assert_array_equal(again.features, built)


def test_a_bad_file_fails_the_build_naming_it(table):
    Path(table.loc[3, "path"]).write_bytes(b"RIFF but not really a wav")
    with pytest.raises(AudioError, match="tiny.wav: unreadable or corrupt audio"):
        load_features(table, FeatureConfig())
    assert feature_folders() == []


def test_cache_root_and_table_checks(table, tmp_path):
    load_features(table, FeatureConfig(), cache_root=tmp_path / "elsewhere")
    assert len(list((tmp_path / "elsewhere").iterdir())) == 1 and feature_folders() == []
    with pytest.raises(ValueError, match="empty"):
        load_features(table.iloc[:0], FeatureConfig())


def test_progress_bar_follows_the_switch(table, monkeypatch, capsys):
    monkeypatch.setenv("PDT_PROGRESS", "1")
    load_features(table, FeatureConfig(), batch_size=2)
    assert "spectrograms" in capsys.readouterr().err
    load_features(table, FeatureConfig(duration=5.0), batch_size=2, progress=False)  # explicit wins
    assert "spectrograms" not in capsys.readouterr().err


KILLED_BUILD = """
import os, signal, sys
import pandas as pd
from pdtlib.corpora import cache
from pdtlib.features import FeatureConfig

real, batches = cache.encoder_input, []
def dying(waves, *args, **kwargs):
    batches.append(len(waves))
    if len(batches) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 mid-build: no finally, no atexit
    return real(waves, *args, **kwargs)
cache.encoder_input = dying
cache.load_features(pd.read_csv(sys.argv[1]), FeatureConfig(), batch_size=1)
"""


def test_a_build_killed_with_sigkill_leaves_nothing_behind_the_next_build(table, tmp_path):
    import signal
    import subprocess
    import sys

    import pdtlib

    table.to_csv(tmp_path / "table.csv", index=False)
    env = {**os.environ, "PYTHONPATH": str(Path(pdtlib.__file__).parents[1])}
    killed = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(tmp_path / "table.csv")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    root = paths.cache_dir() / "features"
    left = [p.name for p in root.iterdir()]
    building = [name for name in left if name.startswith(".") and ".building" in name]
    assert len(building) == 1  # what kill -9 leaves: the partial folder, and the build lock's file
    assert [name for name in left if name not in building] == [f".{building[0].split('.')[1]}.lock"]

    features = load_features(table, FeatureConfig(), batch_size=2)  # the next build: a dead owner's folder goes
    assert [p.name for p in root.iterdir()] == [features.key]


def test_two_runs_asking_for_the_same_features_at_once_build_them_once(table, calls, monkeypatch):
    """A study runs cells side by side: the second waits for the first's build and reuses it."""
    import threading

    build = cache._build

    def slow_build(*args, **kwargs):  # widen the window in which both would otherwise build
        time.sleep(0.5)
        return build(*args, **kwargs)

    monkeypatch.setattr(cache, "_build", slow_build)
    results = []
    threads = [threading.Thread(target=lambda: results.append(load_features(table, FeatureConfig(), batch_size=5)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls["utterances"] == 5  # built once
    assert len(results) == 2 and np.array_equal(results[0].features, results[1].features)
    assert feature_folders() == [results[0].key]  # no lock file or temporary left beside it
