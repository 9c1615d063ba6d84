"""The generated corpus (pdtlib.corpora.synthetic): IEMOCAP's layout and label format, its
codes and counts, determinism, reuse and regeneration, audio format, durations, and the
calibration of its difficulty against the spectral-statistics reference (slow)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from pdtlib import EMOTIONS, label_index
from pdtlib.system import paths
from pdtlib.audio import load_audio
from pdtlib.corpora import synthetic
from pdtlib.corpora.iemocap import EXPECTED_COUNTS, load_iemocap
from pdtlib.corpora.synthetic import SyntheticConfig, default_root, generate_corpus, plan, read_metadata
from pdtlib.features import log_spectrogram
from pdtlib.system.progress import progress_enabled
from pdtlib.evaluation.difficulty import spectral_stats_reference

TINY = SyntheticConfig(scale=0.02)  # every session and class at least 1 utterance
TINIER = SyntheticConfig(scale=0.005, seed=3)  # 1-2 per session and class: for the double generations
LABEL_LINE = re.compile(r"^\[(\d+\.\d{4}) - (\d+\.\d{4})\]\t(Ses0[1-5][FM]_\S+)\t([a-z]{3})\t"
                        r"\[\d\.\d{4}, \d\.\d{4}, \d\.\d{4}\]$")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return generate_corpus(TINY, tmp_path_factory.mktemp("tiny") / "corpus", workers=1)


def label_lines(root: Path) -> dict[str, tuple]:
    """utterance id -> (start, end, code, file) from every top-level EmoEvaluation .txt."""
    found = {}
    for txt in sorted(root.glob("Session*/dialog/EmoEvaluation/*.txt")):
        for line in txt.read_text().splitlines():
            match = LABEL_LINE.match(line)
            if match:
                start, end, utt, code = match.groups()
                found[utt] = (float(start), float(end), code, txt)
    return found


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".wav", ".txt")}


def test_layout_and_label_lines(tiny):
    lines = label_lines(tiny)
    wavs = sorted(tiny.glob("Session*/sentences/wav/*/*.wav"))
    assert len(wavs) == len(lines) == len(read_metadata(tiny)) > 100
    for session in range(1, 6):
        assert (tiny / f"Session{session}" / "dialog" / "EmoEvaluation" / "Categorical").is_dir()
    for wav in wavs:
        utt = wav.stem
        start, end, code, txt = lines[utt]
        dialog, last = utt.rsplit("_", 1)
        assert wav.parent.name == dialog == txt.stem and re.fullmatch(r"[FM]\d{3}", last)
        assert wav.parents[3].name == f"Session{int(utt[3:5])}"
        assert end - start == pytest.approx(sf.info(str(wav)).duration, abs=2e-4)
    text = next(iter(lines.values()))[3].read_text()
    assert text.startswith("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n")
    annotator = [ln for ln in text.splitlines() if ln.startswith(("C-", "A-"))]
    assert annotator and not any(LABEL_LINE.match(ln) for ln in annotator)
    assert all(len(ln.split("\t")) == 3 for ln in annotator)  # e.g. `C-E3:<TAB>Anger;<TAB>()`


def test_loader_reads_it_with_merging_and_filtering(tiny):
    codes = Counter(code for _, _, code, _ in label_lines(tiny).values())
    assert {"neu", "hap", "exc", "ang", "sad", "fru", "xxx"} <= set(codes)
    table = load_iemocap(tiny)
    meta = read_metadata(tiny)
    kept = meta[meta["label"] != ""]
    assert len(table) == len(kept) == sum(codes[c] for c in ("neu", "hap", "exc", "ang", "sad"))
    assert (table.groupby("label").size() == kept.groupby("label").size()).all()
    for session in range(1, 6):  # max(1, round(count * scale)) per session and class
        found = table[table["session"] == session]["label"].value_counts().to_dict()
        assert found == {e: max(1, round(c * TINY.scale)) for e, c in EXPECTED_COUNTS[session].items()}
    assert set(table["speaker"]) == {f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"}
    assert (table["speaker"] == table["utterance_id"].map(lambda u: u[:5] + u.rsplit("_", 1)[1][0])).all()
    assert sorted(table["split"].unique()) == ["test", "train", "val"]


def test_counts_and_odd_dialogs_at_full_scale():
    utterances = plan(SyntheticConfig(scale=1.0))
    kept = [u for u in utterances if u.label]
    assert len(kept) == 5531  # exactly docs/protocol.md's table
    for session, row in EXPECTED_COUNTS.items():
        assert Counter(u.label for u in kept if u.session == session) == row
    codes = Counter(u.code for u in utterances)
    assert codes["hap"] / (codes["hap"] + codes["exc"]) == pytest.approx(595 / 1636, abs=0.01)
    assert codes["fru"] > 0 and codes["xxx"] > 0
    dialogs = {u.dialog for u in utterances}
    assert {"Ses03M_impro05a", "Ses03M_impro05b", "Ses05M_script01_1b"} <= dialogs
    assert any(u.utterance_id.startswith("Ses01F_") and u.speaker == "Ses01M" for u in utterances)
    default = sum(max(1, round(c * 0.2)) for row in EXPECTED_COUNTS.values() for c in row.values())
    assert sum(bool(u.label) for u in plan(SyntheticConfig())) == default == pytest.approx(1106, abs=3)


def test_wav_format(tiny):
    for wav in sorted(tiny.glob("Session*/sentences/wav/*/*.wav"))[::7]:
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        samples, _ = sf.read(str(wav), dtype="int16")
        assert samples.std() > 30  # not silence


def test_durations_are_spread_around_4_seconds(tiny):
    durations = np.array([u.duration for u in plan(SyntheticConfig())])
    assert 4.0 < durations.mean() < 5.0 and durations.min() >= 0.9 and durations.max() > 10
    assert 0.3 < (durations < 4.0).mean() < 0.7  # both the 4 s crop and the padding matter
    meta = read_metadata(tiny)
    on_disk = np.array([sf.info(p).duration for p in meta["path"]])
    assert np.allclose(on_disk, meta["duration"]) and (on_disk < 4).any() and (on_disk > 4).any()


def test_emotions_move_the_acoustics(tiny):
    meta = read_metadata(tiny)
    level = {e: np.mean([20 * np.log10(np.sqrt(np.mean(load_audio(p) ** 2)))
                         for p in meta.loc[meta["acoustic"] == e, "path"]]) for e in EMOTIONS}
    assert level["angry"] > level["neutral"] + 2 and level["happy"] > level["neutral"] + 2
    assert level["sad"] < level["neutral"] - 2


def test_deterministic_and_independent_of_worker_count(tmp_path):
    first = generate_corpus(TINIER, tmp_path / "a", workers=1)
    second = generate_corpus(TINIER, tmp_path / "b", workers=2)
    a, b = files(first), files(second)
    assert len(a) > 50 and a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert (first / "metadata.csv").read_bytes() == (second / "metadata.csv").read_bytes()
    other = files(generate_corpus(SyntheticConfig(scale=0.005, seed=4), tmp_path / "c", workers=1))
    assert any(other.get(k) != v for k, v in a.items())  # another seed, other files


def test_reused_when_complete(monkeypatch):
    root = generate_corpus(TINIER, workers=1)
    assert root == default_root(TINIER) and root.parent.parent == paths.data_dir()
    stamp = json.loads((root / synthetic.STAMP).read_text())
    assert stamp["version"] == synthetic.VERSION and stamp["config"]["seed"] == TINIER.seed
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    monkeypatch.setattr(synthetic.writer, "synthesize", lambda *a: pytest.fail("regenerated a complete corpus"))
    assert generate_corpus(TINIER, workers=1) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == mtimes


def test_other_parameters_go_to_another_folder():
    roots = {default_root(c) for c in (TINIER, SyntheticConfig(scale=0.005, seed=4),
                                       SyntheticConfig(scale=0.005, seed=3, label_noise=0.1), SyntheticConfig())}
    assert len(roots) == 4
    assert default_root(SyntheticConfig(scale=0.005, seed=3)) == default_root(TINIER)


@pytest.mark.parametrize("damage", ["no stamp", "other version", "other config"])
def test_incomplete_or_foreign_corpus_is_regenerated(tmp_path, monkeypatch, damage):
    root = generate_corpus(TINIER, tmp_path / "corpus", workers=1)
    stamp = root / synthetic.STAMP
    reference = files(root)
    if damage == "no stamp":  # killed before the stamp: some files written, some missing
        stamp.unlink()
        next(root.glob("Session2/sentences/wav/*/*.wav")).unlink()
        junk = next(root.glob("Session1/sentences/wav/*/*.wav")).with_name("Ses01F_impro01_F999.wav")
        junk.write_bytes(b"half a file")
    else:
        data = json.loads(stamp.read_text())
        data["version" if damage == "other version" else "config"] = {"old": True} if damage == "other config" else -1
        stamp.write_text(json.dumps(data))
    calls = []
    real = synthetic.synthesize
    monkeypatch.setattr(synthetic.writer, "synthesize", lambda *a: calls.append(1) or real(*a))
    assert generate_corpus(TINIER, tmp_path / "corpus", workers=1) == root
    assert len(calls) == len(read_metadata(root)) and synthetic.is_complete(root, TINIER)
    assert files(root) == reference  # the junk file is gone, the missing one back


@pytest.mark.parametrize("bad", [dict(scale=0), dict(label_noise=1.5), dict(duration_range=(4.0, 2.0))])
def test_invalid_config_is_refused(bad):
    with pytest.raises(ValueError, match="SyntheticConfig"):
        SyntheticConfig(**bad)


def test_progress_switch(monkeypatch):
    monkeypatch.setenv("PDT_PROGRESS", "0")
    assert not progress_enabled() and progress_enabled(True)
    monkeypatch.setenv("PDT_PROGRESS", "1")
    assert progress_enabled() and not progress_enabled(False)
    monkeypatch.delenv("PDT_PROGRESS")
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled()


@pytest.mark.slow
def test_default_corpus_is_calibrated():
    """Reference (band mean + std -> linear SVM), Sessions 1-3 -> Session 5: 45% <= UA <= 75%."""
    table = load_iemocap(generate_corpus())
    waves = [load_audio(p) for p in table["path"]]
    batch = np.zeros((len(waves), 64000), np.float32)
    for i, wave in enumerate(waves):
        batch[i, :min(len(wave), 64000)] = wave[:64000]
    features = log_spectrogram(torch.from_numpy(batch), lengths=[len(w) for w in waves]).numpy()
    labels = label_index(table["label"]).to_numpy()
    result = spectral_stats_reference(features, labels, np.flatnonzero(table["session"] <= 3),
                                      np.flatnonzero(table["session"] == 5))
    assert 0.45 <= result["ua"] <= 0.75, result
    # Happy's commonest mistake is angry (the paper's Fig. 4).
    happy = result["confusion"][EMOTIONS.index("happy")].copy()
    happy[EMOTIONS.index("happy")] = -1
    assert EMOTIONS[int(happy.argmax())] == "angry", result["confusion"]
