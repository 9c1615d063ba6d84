"""Cross-corpus runs (issue 30): train and validate on one manifest, test on another's utterances
(corpora.cross_corpus, and the report's corpus step with `test_manifest`)."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import soundfile as sf
from tiny_corpora import write_wav

from pdtlib import EMOTIONS
from pdtlib.corpora import CorpusError, load_manifest
from pdtlib.corpora.cross_corpus import balanced, cross_corpus, load_test_corpus
from pdtlib.report import params as parameters
from pdtlib.report.pipeline import check_parameters, corpus_table


def tiny_manifest(folder, speakers, splits=None, rate=16000, per_class=1, seed=0, channels=1) -> Path:
    """A manifest of noise wavs: every speaker says every class `per_class` times (lengths 0.3-1.2 s)."""
    folder = Path(folder)
    rows = []
    for s, speaker in enumerate(speakers):
        for e, label in enumerate(EMOTIONS):
            for k in range(per_class):
                name = f"{speaker}_{label}_{k}.wav"
                write_wav(folder / "wav" / name, 0.3 + 0.1 * ((s + e + k) % 10), rate=rate, channels=channels,
                          seed=seed + 100 * s + 10 * e + k)
                rows.append(f"wav/{name},{label},{speaker},{(splits or {}).get(speaker, 'train')}")
    csv = folder / "manifest.csv"
    csv.write_text("\n".join(["path,label,speaker,split", *rows]) + "\n")
    return csv


@pytest.fixture
def two_corpora(tmp_path):
    train = tiny_manifest(tmp_path / "alpha", ["a1", "a2", "a3", "a4"],
                          {"a1": "train", "a2": "train", "a3": "val", "a4": "test"}, per_class=2)
    # another sample rate, stereo, other lengths; its split column is not read
    test = tiny_manifest(tmp_path / "beta", ["b1", "b2", "b3"], {"b1": "train", "b2": "val", "b3": "test"},
                         rate=22050, channels=2, seed=7)
    return train, test


def test_the_run_trains_on_one_manifest_and_tests_on_the_other(two_corpora):
    train_csv, test_csv = two_corpora
    first, second = load_manifest(train_csv), load_manifest(test_csv, test_only=True)
    table, info = cross_corpus(first, test_csv, "all", train_source="alpha", test_source="beta")
    by_split = table.groupby("split")["utterance_id"].apply(set)
    assert by_split["test"] == set(second["utterance_id"])  # every utterance of the second corpus, and only those
    assert by_split["train"] | by_split["val"] == set(first.loc[first["split"] != "test", "utterance_id"])
    assert by_split["train"] == set(first.loc[first["split"] == "train", "utterance_id"])  # the same training rows
    assert not set(first.loc[first["split"] == "test", "utterance_id"]) & set(table["utterance_id"])  # alpha's test: out
    assert (info["utterances"], info["of"], info["balance"], info["train_test_left_out"]) == (12, 12, "all", 8)
    assert info["description"] == ("Cross-corpus: trained and validated on alpha (its 8 test-split utterances left "
                                   "out), tested on every utterance (12) of beta (test_balance: all).")


def test_a_balanced_test_split_has_as_many_per_class_as_the_rarest(two_corpora, tmp_path):
    _, test_csv = two_corpora
    lopsided = pd.read_csv(test_csv)
    extra = tiny_manifest(tmp_path / "beta" / "more", ["b4"], rate=22050, per_class=3, seed=50)
    more = pd.read_csv(extra).query("label == 'angry'").assign(path=lambda d: "more/" + d["path"])
    lopsided = pd.concat([lopsided, more], ignore_index=True)  # angry: 3 + 3 = 6, the others 3
    lopsided.to_csv(test_csv, index=False)
    table, info = load_test_corpus(test_csv, "balanced")
    assert table["label"].value_counts().to_dict() == {e: 3 for e in EMOTIONS}
    assert (info["utterances"], info["of"]) == (12, 15)
    assert table.equals(balanced(load_manifest(test_csv, test_only=True)))  # a fixed draw, whatever the run's seed


@pytest.mark.parametrize("how", ["the same bytes", "the same audio"])
def test_a_test_corpus_sharing_a_recording_is_refused_naming_the_files(two_corpora, how):
    train_csv, test_csv = two_corpora
    shared = train_csv.parent / "wav" / "a1_angry_0.wav"  # a training row's recording
    copy = test_csv.parent / "wav" / "b2_sad_0.wav"
    if how == "the same bytes":
        shutil.copyfile(shared, copy)  # under another name
    else:  # the same samples in another container: FLAC bytes, a .wav name
        samples, rate = sf.read(shared, dtype="int16")
        sf.write(copy, samples, rate, format="FLAC")
    with pytest.raises(CorpusError, match="shares 1 recording") as err:
        cross_corpus(load_manifest(train_csv), test_csv)
    assert f"{copy} is {how} as {shared}" in str(err.value) and "leak" in str(err.value)


def test_the_same_manifest_as_test_corpus_is_refused(two_corpora):
    train_csv, _ = two_corpora
    with pytest.raises(CorpusError, match="shares 24 recording"):  # alpha's train and val rows; its test rows are out
        cross_corpus(load_manifest(train_csv), train_csv)


def test_ids_the_two_corpora_share_get_a_prefix(tmp_path):
    train_csv = tiny_manifest(tmp_path / "alpha", ["s1", "s2", "s3"], {"s1": "train", "s2": "val", "s3": "test"})
    test_csv = tiny_manifest(tmp_path / "beta", ["s1"], seed=9)  # speaker s1 and its file names again
    table, _ = cross_corpus(load_manifest(train_csv), test_csv)
    test = table[table["split"] == "test"]
    assert set(test["speaker"]) == {"test:s1"} and test["utterance_id"].str.startswith("test:").all()


def params_of(**values):
    return SimpleNamespace(**{**parameters.defaults(), **values})


def test_the_report_parameters_make_a_cross_corpus_table(two_corpora):
    train_csv, test_csv = two_corpora
    p = params_of(corpus="manifest", manifest=str(train_csv), test_manifest=str(test_csv), test_balance="all")
    check_parameters(p)
    table, info = corpus_table(p)
    assert set(table.loc[table["split"] == "test", "speaker"]) == {"b1", "b2", "b3"}
    assert info["test"]["utterances"] == 12 and "Cross-corpus" in info["test"]["description"]
    in_corpus, _ = corpus_table(params_of(corpus="manifest", manifest=str(train_csv)))
    assert set(in_corpus.loc[in_corpus["split"] == "test", "speaker"]) == {"a4"}


def test_bad_test_parameters_are_named_before_any_notebook(tmp_path, two_corpora):
    train_csv, _ = two_corpora
    p = params_of(corpus="manifest", manifest=str(train_csv), test_manifest=str(tmp_path / "none.csv"),
                  test_balance="some")
    with pytest.raises(ValueError, match="test_manifest, test_balance: test_balance 'some'"):
        check_parameters(p)


def test_a_test_manifest_names_the_run_unless_the_user_does(two_corpora):
    _, test_csv = two_corpora
    named = parameters.load("params/default.yaml", ["corpus=manifest", "manifest=m.csv", f"test_manifest={test_csv}"])
    assert named["run"] == "default-manifest-to-beta" and named["test_manifest"] == str(test_csv)
    assert parameters.load("params/default.yaml", [f"test_manifest={test_csv}", "run=mine"])["run"] == "mine"


SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # the development copies, when present


def test_emodb_to_ravdess_on_the_development_copies():
    manifests = [SHARED / name / "manifest.csv" for name in ("emodb4", "ravdess4")]
    if not all(m.is_file() for m in manifests):
        pytest.skip(f"the development copies of EmoDB and RAVDESS are not at {SHARED} (only this machine has them)")
    emodb, ravdess = manifests
    table, info = cross_corpus(load_manifest(emodb), ravdess, "balanced")
    assert info["per_class"] == {e: 96 for e in EMOTIONS} and info["of"] == len(pd.read_csv(ravdess))  # neutral: 96
    assert set(table.loc[table["split"] == "test", "speaker"]) == set(load_manifest(ravdess)["speaker"])
    with pytest.raises(CorpusError, match="leak"):
        cross_corpus(load_manifest(emodb), emodb)
