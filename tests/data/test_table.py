from pathlib import Path

import pandas as pd
import pytest
from tiny_corpora import write_wav

from pdtlib.corpora.table import COLUMNS, CorpusError, audio_duration, counts, validate_table


@pytest.fixture
def table(tmp_path):
    """A valid 4-row table: speakers a, b in train, c in val, d in test."""
    rows = []
    for i, (label, speaker, split) in enumerate([("happy", "a", "train"), ("angry", "b", "train"),
                                                 ("neutral", "c", "val"), ("sad", "d", "test")]):
        path = write_wav(tmp_path / f"u{i}.wav", 0.25, seed=i)
        rows.append({"utterance_id": f"u{i}", "path": str(path), "label": label, "speaker": speaker,
                     "session": 1, "gender": "", "split": split, "duration_s": audio_duration(path)})
    # columns shuffled and a non-default index: validate_table puts them in order
    return pd.DataFrame(rows, index=[10, 11, 12, 13])[list(reversed(COLUMNS))]


def test_a_valid_table_comes_back_ordered(table):
    df = validate_table(table)
    assert list(df.columns) == list(COLUMNS) and list(df.index) == [0, 1, 2, 3]
    assert df["duration_s"].tolist() == pytest.approx([0.25] * 4)
    assert counts(df).loc["total", "total"] == 4


def test_missing_columns(table):
    with pytest.raises(CorpusError, match=r"lacks columns \['gender', 'duration_s'\]"):
        validate_table(table.drop(columns=["gender", "duration_s"]))


def test_label_outside_the_four_classes(table):
    table.loc[11, "label"] = "fear"
    table.loc[13, "label"] = "Happy"  # case matters: labels are normalised by the loaders
    with pytest.raises(CorpusError, match="2 rows have a label outside") as err:
        validate_table(table)
    assert "fear" in str(err.value) and "u1" in str(err.value)


def test_split_outside_train_val_test(table):
    table.loc[12, "split"] = "dev"
    with pytest.raises(CorpusError, match="1 rows have a split outside") as err:
        validate_table(table)
    assert "u2" in str(err.value)


def test_duplicate_utterance_ids(table):
    table.loc[13, "utterance_id"] = "u0"
    table.loc[13, "speaker"] = "a"
    table.loc[13, "split"] = "train"
    with pytest.raises(CorpusError, match=r"1 utterance ids are not unique \(2 rows\)") as err:
        validate_table(table)
    assert "u0" in str(err.value)


def test_missing_files(table, tmp_path):
    (tmp_path / "u1.wav").unlink()
    (tmp_path / "u3.wav").unlink()
    with pytest.raises(CorpusError, match="2 audio files do not exist") as err:
        validate_table(table)
    assert "u1" in str(err.value) and "u3" in str(err.value)
    validate_table(table, check_files=False)  # a table can be checked without its audio


def test_speaker_in_two_splits(table):
    table.loc[13, "speaker"] = "a"  # a is in train already
    table.loc[12, "speaker"] = "b"
    with pytest.raises(CorpusError, match="2 speakers appear in more than one split") as err:
        validate_table(table)
    message = str(err.value)
    assert "[test, train]" in message and "[train, val]" in message and "u3" in message


def test_errors_name_the_corpus(table):
    table.loc[10, "label"] = "bored"
    with pytest.raises(CorpusError, match="^my corpus: 1 rows"):
        validate_table(table, name="my corpus")


def test_audio_duration_of_an_unreadable_file_is_nan(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    assert pd.isna(audio_duration(bad)) and pd.isna(audio_duration(tmp_path / "none.wav"))


def test_the_same_file_in_two_splits_is_refused(table, tmp_path):
    """Explicit utterance ids let one wav sit in train and test (issue 11): the path decides, after
    `..` and links are resolved."""
    (tmp_path / "link.wav").symlink_to(tmp_path / "u0.wav")
    (tmp_path / "sub").mkdir()
    table.loc[13, "path"] = str(tmp_path / "sub" / ".." / "link.wav")  # u3 (test) is u0 (train) again
    with pytest.raises(CorpusError, match="2 rows use the same file as another row") as err:
        validate_table(table)
    assert "u0" in str(err.value) and "u3" in str(err.value) and "u1" not in str(err.value)


def test_the_same_audio_under_two_names_is_refused(table, tmp_path):
    copy = tmp_path / "copy_of_u1.wav"
    copy.write_bytes((tmp_path / "u1.wav").read_bytes())
    table.loc[12, "path"] = str(copy)  # u2 (val) holds u1's (train) bytes
    with pytest.raises(CorpusError, match="2 rows use the same audio content as another row") as err:
        validate_table(table)
    assert "u1" in str(err.value) and "u2" in str(err.value) and "copy_of_u1.wav" in str(err.value)
    validate_table(table, check_files=False)  # without the audio nothing is read


def test_equal_sizes_alone_are_not_duplicates(table):
    """The four files have equal sizes (0.25 s each) and different samples: hashed, and accepted."""
    assert len({Path(p).stat().st_size for p in table["path"]}) == 1
    assert len(validate_table(table)) == 4
