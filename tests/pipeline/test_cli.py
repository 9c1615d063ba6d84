"""The `pdt` command on audio as users have it: 44.1 kHz stereo flac next to 16 kHz mono wav, a
corrupt file among good ones, long files with --segments, manifests, every output format.

The model is the smoke-sized bundle of tests/code/test_bundle.py (`build_tiny_bundle`, shared
through the session's temporary folder); `main([...])` runs in-process, and once each through
`python -m pdtlib.serving.cli` and the installed `pdt` console script.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr
import torch

from pdtlib import EMOTIONS
from pdtlib.audio import load_audio
from pdtlib.serving.bundle import load_bundle
from pdtlib.serving.cli import main
from pdtlib.serving.inference import embed_waves

_spec = importlib.util.spec_from_file_location("bundle_tests", Path(__file__).parents[1] / "code" / "test_bundle.py")
bundle_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bundle_tests)

SR = 16000


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model: one thread is faster on a shared 2-core machine
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return bundle_tests.build_tiny_bundle(tmp_path_factory.getbasetemp() / "tiny-bundle")


@pytest.fixture(scope="module")
def bundle(tiny):
    return load_bundle(tiny.run)


def lowpass(x: np.ndarray, cut: float = 7000.0) -> np.ndarray:
    """Band-limit below 7 kHz: resampling's anti-alias filter then leaves the content untouched
    (it removes ~7.3-8 kHz, which the generated 16 kHz corpus has and a resampled file lacks)."""
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / SR) > cut] = 0
    return np.fft.irfft(spectrum, len(x)).astype(np.float32)


@pytest.fixture(scope="module")
def user_audio(tiny, tmp_path_factory):
    """mono/<id>.wav at 16 kHz and stereo/<id>.flac at 44.1 kHz (different gains on L and R) of
    the same three band-limited corpus utterances."""
    folder = tmp_path_factory.mktemp("user-audio")
    (folder / "mono").mkdir()
    (folder / "stereo").mkdir()
    ids = tiny.table["utterance_id"].iloc[[3, 30, 60]].tolist()
    for uid, path in zip(ids, tiny.table["path"].iloc[[3, 30, 60]]):
        x = lowpass(load_audio(path))
        sf.write(folder / "mono" / f"{uid}.wav", x, SR)
        y = soxr.resample(x, SR, 44100)
        sf.write(folder / "stereo" / f"{uid}.flac", np.stack([0.7 * y, 1.3 * y], axis=1), 44100)
    return folder, ids


def run(capsys, *argv):
    """main(argv) in-process -> (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_stereo_44k_gives_the_vector_of_mono_16k(tiny, user_audio, capsys, tmp_path):
    folder, ids = user_audio
    status, out, err = run(capsys, "embed", folder / "mono", folder / "stereo", "--model", tiny.run,
                           "--out", tmp_path / "v.npz")
    assert status == 0, err
    assert "note: 3 files resampled from 44100 Hz to 16000 Hz" in err and "note: 3 stereo files averaged to mono" in err
    with np.load(tmp_path / "v.npz") as data:
        vectors, uid = data["vectors"], data["utterance_id"].tolist()
    # Two files per stem: the ids become the paths as given, so they stay unique.
    assert uid == [str(folder / "mono" / f"{i}.wav") for i in ids] + [str(folder / "stereo" / f"{i}.flac") for i in ids]
    mono, stereo = vectors[:3], vectors[3:]
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    cosine = unit(mono) @ unit(stereo).T  # (3, 3): originals x converted copies
    # A trained encoder with recomputed batch-norm statistics gives 0.989-0.995 on the diagonal
    # (16-bit flac, resampling there and back); the untrained weights an earlier selection kept gave
    # 0.9996. Each copy must also be nearer its own original than any other utterance (0.66-0.92).
    assert np.diag(cosine).min() > 0.98, cosine
    assert (cosine.argmax(axis=0) == np.arange(3)).all(), cosine
    assert (np.abs(mono - stereo).max(1) < 0.15 * np.abs(mono).max(1)).all()  # 0.08-0.12 measured


def test_a_bad_file_is_named_and_the_others_still_come_out(tiny, user_audio, capsys, tmp_path):
    folder, ids = user_audio
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), SR)
    status, out, err = run(capsys, "predict", folder / "mono", tmp_path / "corrupt.wav", tmp_path / "empty.wav",
                           tmp_path / "missing.wav", "--model", tiny.run, "--format", "csv")
    assert status == 1
    lines = err.splitlines()
    for name, reason in (("corrupt.wav", "unreadable or corrupt audio"), ("empty.wav", "zero samples"),
                         ("missing.wav", "no such file")):
        assert sum(name in line and reason in line for line in lines) == 1, err
    table = pd.read_csv(StringIO(out))
    assert table["utterance_id"].tolist() == ids and set(table["predicted"]) <= set(EMOTIONS)


def test_predict_formats_agree_with_the_bundle(tiny, bundle, user_audio, capsys):
    folder, ids = user_audio
    files = [folder / "mono" / f"{i}.wav" for i in ids]
    expected_labels, expected_scores = bundle.predict_vectors(embed_waves(bundle, [load_audio(f) for f in files]))
    status, out, _ = run(capsys, "predict", *files, "--model", tiny.run, "--format", "json")
    records = json.loads(out)
    assert status == 0 and [r["predicted"] for r in records] == expected_labels
    np.testing.assert_allclose([[r["scores"][e] for e in EMOTIONS] for r in records], expected_scores, atol=1e-5)
    status, out, _ = run(capsys, "predict", *files, "--model", tiny.run)
    header, *rows = out.splitlines()
    assert header.split() == ["file", "predicted", *EMOTIONS] and len(rows) == 3
    assert [row.split()[1] for row in rows] == expected_labels


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".parquet"])
def test_embed_formats_read_back(tiny, user_audio, capsys, tmp_path, suffix):
    folder, ids = user_audio
    out = tmp_path / f"vectors{suffix}"
    status, _, err = run(capsys, "embed", folder / "mono", "--model", tiny.run, "--out", out)
    assert status == 0 and f"wrote 3 vectors of 256 dimensions to {out}" in err
    if suffix == ".npz":
        with np.load(out) as data:
            vectors, uid = data["vectors"], data["utterance_id"].tolist()
    else:
        table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        vectors, uid = table[[f"v{k:03d}" for k in range(256)]].to_numpy(), table["utterance_id"].tolist()
    assert vectors.shape == (3, 256) and uid == ids and np.isfinite(vectors).all()


def test_a_manifest_brings_labels_and_speakers_and_the_training_vectors(tiny, capsys, tmp_path):
    rows = tiny.table.iloc[::10]
    manifest = tmp_path / "mine.csv"
    rows[["path", "label", "speaker", "split"]].to_csv(manifest, index=False)
    status, _, err = run(capsys, "embed", manifest, "--model", tiny.run, "--out", tmp_path / "v.parquet")
    assert status == 0, err
    table = pd.read_parquet(tmp_path / "v.parquet")
    assert table["utterance_id"].tolist() == rows["utterance_id"].tolist()
    assert table["label"].tolist() == rows["label"].tolist() and table["speaker"].tolist() == rows["speaker"].tolist()
    # The CLI's path from audio file to vector is the report's (feature cache + inference.embed).
    np.testing.assert_allclose(table[[f"v{k:03d}" for k in range(256)]].to_numpy(), tiny.vectors[rows.index],
                               rtol=1e-4, atol=1e-5)
    status, out, err = run(capsys, "predict", manifest, "--model", tiny.run)
    assert status == 0 and out.splitlines()[0].split()[:3] == ["file", "label", "predicted"]
    assert f"on {len(rows)} labelled files" in err and "UA " in err


def test_segments_average_a_long_file(tiny, bundle, capsys, tmp_path):
    wave = np.tile(np.concatenate([load_audio(p) for p in tiny.table["path"].iloc[:3]]), 4)[: 10 * SR]
    sf.write(tmp_path / "long.wav", wave, SR, subtype="FLOAT")
    status, _, err = run(capsys, "embed", tmp_path / "long.wav", "--model", tiny.run, "--out", tmp_path / "a.npz")
    assert status == 0 and "1 file longer than 4 s: only the first 4 s used" in err
    status, _, err = run(capsys, "embed", tmp_path / "long.wav", "--segments", "--model", tiny.run,
                         "--out", tmp_path / "b.npz")
    assert status == 0 and "1 file cut into 3 windows" in err
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        np.testing.assert_allclose(a["vectors"], embed_waves(bundle, [wave]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b["vectors"], embed_waves(bundle, [wave], segments=True), rtol=1e-5, atol=1e-6)
        assert not np.allclose(a["vectors"], b["vectors"])


def test_info_tells_corpus_parameters_and_scores(tiny, capsys):
    status, out, _ = run(capsys, "info", tiny.run)
    assert status == 0
    assert f"UA {100 * tiny.metrics['ua']:.2f}%" in out and "WA " in out
    assert f"{len(tiny.table)} utterances" in out and "4-8-8-8-8" in out and "GFLOP" in out
    assert "first 4 s" in out and "kernel=" in out
    assert "log-spectrogram, as it is" in out  # the tiny model's input normalisation: none
    status, out, _ = run(capsys, "info", tiny.run, "--json")
    assert json.loads(out)["labels"] == list(EMOTIONS)


def test_the_default_model_is_reports_default(tiny, user_audio, capsys, tmp_path, monkeypatch):
    folder, _ = user_audio
    monkeypatch.setenv("PDT_REPORTS", str(tmp_path / "reports"))
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "predict", folder / "mono")
    assert status == 1 and "no model bundle in reports/default: run `make report` first" in err
    shutil.copytree(tiny.model, tmp_path / "reports" / "default" / "model")
    status, out, _ = run(capsys, "predict", folder / "mono")
    assert status == 0 and len(out.splitlines()) == 4


def test_usage_errors_exit_2(capsys):
    for argv in (["embed", "x.wav", "--out", "x.txt"], ["predict"], ["predict", "x.wav", "--format", "xml"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
    assert main([]) == 2  # no command: the overview on stderr
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["embed", "predict", "info"])
def test_help_of_each_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith(f"usage: pdt {command}")
    assert "RUN_OR_BUNDLE" in out and "reports/default" in out and "example:" in out


def test_the_console_script_and_module_run():
    out = subprocess.run([sys.executable, "-m", "pdtlib.serving.cli", "predict", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "usage: pdt predict" in out.stdout
    script = Path(sys.executable).parent / "pdt"
    if not script.exists():
        pytest.skip("the pdt console script is not installed (pip install -e .)")
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and all(c in out.stdout for c in ("embed", "predict", "info"))


def test_info_takes_the_model_as_an_option_too(capsys, tiny):
    assert main(["info", "--model", str(tiny.run)]) == 0
    assert "UA" in capsys.readouterr().out


# ---------------------------------------------------------------- issue 11: inputs, outputs, warnings

def test_a_bad_manifest_is_skipped_and_the_other_inputs_still_come_out(tiny, user_audio, capsys, tmp_path):
    folder, ids = user_audio
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "latin1.csv").write_bytes("path,label,speaker,split\nx.wav,sad,Jos\xe9,train\n".encode("latin-1"))
    status, out, err = run(capsys, "predict", tmp_path / "empty.csv", folder / "mono", tmp_path / "latin1.csv",
                           "--model", tiny.run, "--format", "csv")
    assert status == 1
    assert "skipped manifest" in err and "empty.csv is empty" in err and "latin1.csv, line 2: not UTF-8" in err
    assert pd.read_csv(StringIO(out))["utterance_id"].tolist() == ids


def test_folders_are_searched_through_links_and_loops_are_named(tiny, user_audio, capsys, tmp_path):
    folder, ids = user_audio
    top = tmp_path / "top"
    top.mkdir()
    (top / "linked").symlink_to(folder / "mono", target_is_directory=True)  # a symlinked subfolder
    (top / "back").symlink_to(top, target_is_directory=True)  # a loop: top/back/back/back/...
    (top / "a.wav").symlink_to(top / "b.wav")
    (top / "b.wav").symlink_to(top / "a.wav")  # a file link loop
    (top / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    status, out, err = run(capsys, "predict", top, "--model", tiny.run, "--format", "csv")
    assert status == 1, err
    assert pd.read_csv(StringIO(out))["utterance_id"].tolist() == ids  # the linked folder's three files
    assert f"note: skipped {top / 'back'}: a link to {top}, which is searched already" in err
    for name in ("a.wav", "b.wav"):
        assert f"skipped {top / name}: a symbolic link loop" in err
    assert f"skipped {top / 'gone.wav'}: a broken symbolic link (to {tmp_path / 'nowhere.wav'}" in err
    status, _, err = run(capsys, "predict", top / "a.wav", "--model", tiny.run)  # given directly
    assert status == 1 and "a symbolic link loop" in err and "no such file" not in err


def test_embed_checks_its_destination_before_reading_any_audio(tiny, user_audio, capsys, tmp_path, monkeypatch):
    import errno

    import pdtlib.serving.cli as cli

    folder, ids = user_audio
    existing = tmp_path / "mine.npz"
    existing.write_bytes(b"not to be lost")
    (tmp_path / "folder.npz").mkdir()
    (tmp_path / "full.npz").symlink_to("/dev/full")
    monkeypatch.setattr(cli, "embed_files", lambda *a, **k: pytest.fail("audio read before --out was checked"))
    for out, reason in ((tmp_path / "folder.npz", "is a folder; give a file name in it"),
                        (tmp_path / "full.npz", "is not a regular file"),
                        (existing, "exists; pass --force to overwrite it"),
                        (tmp_path / "absent" / "v.npz", f"the folder {tmp_path / 'absent'} does not exist")):
        status, _, err = run(capsys, "embed", folder / "mono", "--model", tiny.run, "--out", out)
        assert status == 2 and f"pdt embed: error: --out {out if 'folder ' not in reason else ''}" in err, err
        assert reason in err, err
    assert existing.read_bytes() == b"not to be lost"
    monkeypatch.undo()

    status, _, err = run(capsys, "embed", folder / "mono", "--model", tiny.run, "--out", existing, "--force")
    assert status == 0, err
    status, _, err = run(capsys, "embed", folder / "mono", "--model", tiny.run, "--out", tmp_path / "UPPER.NPZ")
    assert status == 0, err
    with np.load(existing) as a, np.load(tmp_path / "UPPER.NPZ") as b:
        assert a["utterance_id"].tolist() == b["utterance_id"].tolist() == ids
        np.testing.assert_array_equal(a["vectors"], b["vectors"])

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "write_vectors", disk_full)
    status, _, err = run(capsys, "embed", folder / "mono", "--model", tiny.run, "--out", tmp_path / "late.npz")
    assert status == 1 and "writing" in err and "No space left on device" in err and "Traceback" not in err


def test_silent_and_tiny_inputs_are_flagged(tiny, user_audio, capsys, tmp_path):
    folder, ids = user_audio
    sf.write(tmp_path / "silence.wav", np.zeros(5 * SR, np.float32), SR)
    sf.write(tmp_path / "hiss.wav", 1e-5 * np.random.default_rng(0).standard_normal(5 * SR).astype(np.float32), SR,
             subtype="FLOAT")
    sf.write(tmp_path / "one_sample.wav", np.array([0.3], np.float32), SR, subtype="FLOAT")
    speech = load_audio(folder / "mono" / f"{ids[0]}.wav")
    loudest = int(np.argmax(np.convolve(speech ** 2, np.ones(SR // 10), "valid")))
    sf.write(tmp_path / "blip.wav", speech[loudest:loudest + SR // 10], SR)  # 0.1 s of speech
    files = [tmp_path / n for n in ("silence.wav", "hiss.wav", "one_sample.wav", "blip.wav")] + [folder / "mono"]
    status, out, err = run(capsys, "predict", *files, "--model", tiny.run, "--format", "json")
    assert status == 0, err
    warnings = {r["utterance_id"]: r["warnings"] for r in json.loads(out)}
    assert warnings["silence"] == ["silent (every sample is 0)"]
    assert len(warnings["hiss"]) == 1 and warnings["hiss"][0].startswith("near-silent (-")
    assert warnings["one_sample"] == ["6.25e-05 s of audio for the model's 4 s window (mostly padding)"]
    assert warnings["blip"] == ["0.1 s of audio for the model's 4 s window (mostly padding)"]
    assert all(warnings[i] == [] for i in ids)  # speech at its level: nothing to say
    for name in ("silence", "hiss", "one_sample", "blip"):
        assert sum(f"{name}.wav: " in line and "its result says little" in line for line in err.splitlines()) == 1
    status, out, _ = run(capsys, "predict", *files, "--model", tiny.run, "--format", "csv")
    table = pd.read_csv(StringIO(out), keep_default_na=False).set_index("utterance_id")
    assert table.at["silence", "warning"] == "silent (every sample is 0)" and table.at[ids[0], "warning"] == ""
    status, out, _ = run(capsys, "predict", *files, "--model", tiny.run)
    assert out.splitlines()[0].split()[-1] == "warning"


def test_only_the_part_used_is_read(tiny, bundle, capsys, tmp_path, monkeypatch):
    """A long 44.1 kHz stereo file: its first 4 s (and a margin) are decoded, not the whole file,
    and the vector is that of the whole file's first 4 s."""
    rate, seconds = 44100, 30
    mono = np.concatenate([load_audio(p) for p in tiny.table["path"].iloc[:8]])[: seconds * SR]
    wave = soxr.resample(np.tile(mono, 2)[: seconds * SR], SR, rate)
    sf.write(tmp_path / "long.flac", np.stack([wave, 0.5 * wave], axis=1), rate)
    decoded = []
    real_read = sf.read

    def counting_read(*args, **kwargs):
        data, sr = real_read(*args, **kwargs)
        decoded.append(len(data))
        return data, sr

    monkeypatch.setattr(sf, "read", counting_read)
    status, _, err = run(capsys, "embed", tmp_path / "long.flac", "--model", tiny.run, "--out", tmp_path / "a.npz")
    assert status == 0 and "1 file longer than 4 s: only the first 4 s used" in err, err
    assert decoded and max(decoded) <= 4.1 * rate, decoded  # not 30 s
    whole = load_audio(tmp_path / "long.flac")  # decoded whole, then cut by the features
    decoded.clear()
    status, _, _ = run(capsys, "embed", tmp_path / "long.flac", "--segments", "--model", tiny.run,
                       "--out", tmp_path / "b.npz")
    assert status == 0 and max(decoded) == seconds * rate  # --segments uses the whole file
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        np.testing.assert_allclose(a["vectors"], embed_waves(bundle, [whole]), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b["vectors"], embed_waves(bundle, [whole], segments=True), rtol=1e-4, atol=1e-5)




# ---------------------------------------------------------------- the library under the command: pdtlib.serving.predict

def test_predict_files_returns_everything_and_prints_nothing(tiny, bundle, user_audio, capsys, tmp_path):
    from pdtlib.serving.predict import predict_files

    folder, ids = user_audio
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    sf.write(tmp_path / "silence.wav", np.zeros(5 * SR, np.float32), SR)
    files = [folder / "stereo", *(tmp_path / f"{name}.wav" for name in ("corrupt", "silence", "missing"))]
    result = predict_files(tiny.run, files)
    assert capsys.readouterr() == ("", "")  # notes, warnings and failures are returned, not told
    assert [i.utterance_id for i in result.items] == [*ids, "silence"] and result.vectors.shape == (4, 256)
    corrupt, missing = result.failures
    assert (corrupt.file, missing.file) == (str(tmp_path / "corrupt.wav"), str(tmp_path / "missing.wav"))
    assert corrupt.reason.startswith("unreadable or corrupt audio") and missing.reason.startswith("no such file")
    assert {"3 files resampled from 44100 Hz to 16000 Hz", "3 stereo files averaged to mono"} <= set(result.notes)
    assert result.warnings == {str(tmp_path / "silence.wav"): ("silent (every sample is 0)",)}
    predicted, scores = bundle.predict_vectors(result.vectors)
    assert result.predicted == predicted and np.array_equal(result.scores, scores)
    assert list(result.table().columns) == ["utterance_id", "path", "predicted", *EMOTIONS, "warning"]
    assert result.accuracy() is None  # no labels without a manifest
    again = predict_files(bundle, str(folder / "stereo"))  # a loaded Bundle, one path as a string
    np.testing.assert_array_equal(again.vectors, result.vectors[:3])
