import warnings
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
from tiny_corpora import IEMOCAP_COUNTS, IEMOCAP_LABELS, IGNORED_ID, make_iemocap

from pdtlib.corpora import COLUMNS, CorpusError, iemocap, load_corpus, load_iemocap


@pytest.fixture
def root(tmp_path):
    return make_iemocap(tmp_path)


def counts_by_session(df):
    return pd.crosstab(df["session"], df["label"]).reindex(columns=["neutral", "happy", "angry", "sad"],
                                                             fill_value=0)


def test_keeps_four_classes_with_exact_counts(root):
    df = load_iemocap(root)
    assert list(df.columns) == list(COLUMNS) and len(df) == 15
    assert counts_by_session(df).to_dict("index") == IEMOCAP_COUNTS
    assert df["utterance_id"].is_monotonic_increasing  # sorted, deterministic
    ids = set(df["utterance_id"])
    # fru, xxx and sur are dropped; the sub-folder's label file and the `._` fork are not read
    assert not ids & {"Ses01F_impro01_F001", "Ses01F_impro01_M002", "Ses05M_script01_1b_M011", IGNORED_ID}
    assert df["session"].dtype == "int64"


def test_excited_is_merged_into_happy(root):
    df = load_iemocap(root).set_index("utterance_id")
    excited = [u for dialogs in IEMOCAP_LABELS.values() for lines in dialogs.values() for u, c in lines if c == "exc"]
    assert len(excited) == 2 and (df.loc[excited, "label"] == "happy").all()
    assert (df["label"] == "happy").sum() == 4  # 2 hap + 2 exc


def test_speaker_comes_from_the_last_token(root):
    df = load_iemocap(root).set_index("utterance_id")
    # the F of Ses01F names the marker wearer; M013 is the male speaker of session 1
    assert df.loc["Ses01F_impro01_M013", ["speaker", "gender", "session"]].tolist() == ["Ses01M", "M", 1]
    assert df.loc["Ses05M_script01_1b_F003", ["speaker", "gender", "session"]].tolist() == ["Ses05F", "F", 5]
    assert df.loc["Ses03M_impro05a_M001", "speaker"] == "Ses03M"
    assert set(df["speaker"]) == {f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"}


def test_paths_follow_the_layout_and_durations_come_from_the_header(root):
    df = load_iemocap(root).set_index("utterance_id")
    path = Path(df.loc["Ses05M_script01_1b_F003", "path"])
    assert path == root / "Session5/sentences/wav/Ses05M_script01_1b/Ses05M_script01_1b_F003.wav"
    for utt, row in df.iterrows():
        info = sf.info(row["path"])
        assert row["duration_s"] == pytest.approx(info.frames / info.samplerate)
    assert df["duration_s"].between(0.29, 0.5).all()


def test_paper_split(root):
    df = load_iemocap(root)
    assert df.groupby("session")["split"].unique().map(list).to_dict() == {
        1: ["train"], 2: ["train"], 3: ["train"], 4: ["val"], 5: ["test"]}
    assert df["split"].value_counts().to_dict() == {"train": 9, "val": 3, "test": 3}


@pytest.mark.parametrize("test_session, val_session", [(1, 5), (2, 1), (3, 2), (4, 3), (5, 4)])
def test_leave_one_session_out_folds(root, test_session, val_session):
    df = load_iemocap(root, split=f"loso:{test_session}")
    sessions = df.groupby("split")["session"].unique().map(set).to_dict()
    assert sessions == {"test": {test_session}, "val": {val_session},
                        "train": {1, 2, 3, 4, 5} - {test_session, val_session}}


def test_loso_5_is_the_paper_split(root):
    pd.testing.assert_frame_equal(load_iemocap(root, split="loso:5"), load_iemocap(root))


@pytest.mark.parametrize("split", ["loso:6", "loso", "sessions", "loso:0"])
def test_unknown_split_is_an_error(root, split):
    with pytest.raises(ValueError, match="'paper' or 'loso:K'"):
        load_iemocap(root, split=split)


def test_missing_wav_is_an_error_listing_it(tmp_path):
    root = make_iemocap(tmp_path, missing=("Ses04F_impro02_M000",))
    with pytest.raises(CorpusError, match=r"1 of 15 labelled utterances have no wav") as err:
        load_iemocap(root)
    assert "Ses04F_impro02_M000.wav" in str(err.value) and "missing='drop'" in str(err.value)


def test_missing_wav_is_dropped_with_a_warning_on_request(tmp_path):
    root = make_iemocap(tmp_path, missing=("Ses04F_impro02_M000", "Ses02M_script01_1_F000"))
    with pytest.warns(UserWarning, match=r"2 of 15 labelled utterances have no wav") as record:
        df = load_iemocap(root, missing="drop")
    assert "Ses04F_impro02_M000.wav" in str(record[0].message)
    assert len(df) == 13 and "Ses04F_impro02_M000" not in set(df["utterance_id"])


def test_wrong_root_lists_missing_folders_and_the_layout(tmp_path, root):
    (root / "Session3" / "sentences" / "wav").rename(root / "Session3" / "sentences" / "wavs")
    with pytest.raises(CorpusError) as err:
        load_iemocap(root)
    message = str(err.value)
    assert "1 of 10 expected folders are missing" in message
    assert "Session3/sentences/wav" in message and "Expected layout" in message

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="10 of 10 expected folders are missing") as err:
        load_iemocap(empty)
    assert "Session1/dialog/EmoEvaluation" in str(err.value)
    with pytest.raises(CorpusError, match="is not a folder"):
        load_iemocap(tmp_path / "nowhere")


def test_root_one_level_above_says_which_folder_to_pass(tmp_path, root):
    with pytest.raises(CorpusError, match="one level above") as err:
        load_iemocap(tmp_path)
    assert f"pass {root}" in str(err.value)


@pytest.mark.parametrize("inside", ["Session1", "Session2/sentences", "Session4/sentences/wav"])
def test_root_inside_the_corpus_says_which_folder_to_pass(root, inside):
    with pytest.raises(CorpusError, match="inside the corpus") as err:
        load_iemocap(root / inside)
    assert f"pass {root} instead" in str(err.value)


def test_count_check_is_quiet_on_small_corpora(root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_iemocap(root)  # 15 utterances: far from 5531, not checked


def test_count_mismatch_warns(root, monkeypatch):
    monkeypatch.setattr(iemocap, "EXPECTED_COUNTS", IEMOCAP_COUNTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_iemocap(root)  # the counts match: no warning
    wrong = {s: dict(c) for s, c in IEMOCAP_COUNTS.items()}
    wrong[4]["sad"] = 2
    monkeypatch.setattr(iemocap, "EXPECTED_COUNTS", wrong)
    with pytest.warns(UserWarning, match="differ from docs/protocol.md") as record:
        df = load_iemocap(root)  # 15 found vs 16 expected: about full size, so checked
    assert len(df) == 15
    assert "15 found, 16 expected" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_iemocap(root, check_counts=False)


def test_protocol_table_is_the_papers_table_1():
    totals = {s: sum(c.values()) for s, c in iemocap.EXPECTED_COUNTS.items()}
    assert totals == {1: 1085, 2: 1023, 3: 1151, 4: 1031, 5: 1241}
    assert totals[1] + totals[2] + totals[3] == 3259 and sum(totals.values()) == 5531


def test_load_corpus_dispatches(root):
    pd.testing.assert_frame_equal(load_corpus("iemocap", root=root, split="loso:2"),
                                  load_iemocap(root, split="loso:2"))
    with pytest.raises(ValueError, match="unknown corpus kind 'ravdess'.*iemocap.*manifest"):
        load_corpus("ravdess")
