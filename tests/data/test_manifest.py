from pathlib import Path

import pandas as pd
import pytest
from tiny_corpora import write_wav

from pdtlib.corpora import COLUMNS, CorpusError, load_corpus, load_manifest


def write_manifest(folder, rows, header="path,label,speaker,split", wavs=True) -> Path:
    """A CSV in `folder` with `rows` (tuples in `header` order); the wavs its paths name are written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        if wavs:
            write_wav(folder / row[0], 0.2 + 0.05 * i, seed=i)
    csv = folder / "manifest.csv"
    csv.write_text("\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n")
    return csv


def test_label_and_split_aliases(tmp_path):
    rows = [("a/1.wav", "ANG", "s1", "training"), ("a/2.wav", "Anger", "s1", "train"),
            ("a/3.wav", "hap", "s1", "Train"), ("b/4.wav", "Excited", "s2", "Validation"),
            ("b/5.wav", "exc", "s2", "val"), ("b/6.wav", "happiness", "s2", "val"),
            ("c/7.wav", "neu", "s3", "dev"), ("d/8.wav", "Sadness", "s4", "eval"),
            ("d/9.wav", "sad", "s4", "test"), ("d/10.wav", "Neutral", "s4", "TEST")]
    df = load_manifest(write_manifest(tmp_path, rows)).set_index("utterance_id")
    assert df["label"].to_dict() == {"1": "angry", "2": "angry", "3": "happy", "4": "happy", "5": "happy",
                                     "6": "happy", "7": "neutral", "8": "sad", "9": "sad", "10": "neutral"}
    assert df["split"].to_dict() == {"1": "train", "2": "train", "3": "train", "4": "val", "5": "val",
                                     "6": "val", "7": "val", "8": "test", "9": "test", "10": "test"}
    assert df["duration_s"].round(3).tolist() == [round(0.2 + 0.05 * i, 3) for i in range(10)]


def test_table_columns_and_optional_ones(tmp_path):
    rows = [("x.wav", "sad", "007", "train", "2", "female", "utt-x"),
            ("y.wav", "happy", "008", "test", "3", "M", "")]
    csv = write_manifest(tmp_path, rows, header="path,label,speaker,split,session,gender,utterance_id")
    df = load_manifest(csv)
    assert list(df.columns) == list(COLUMNS)
    assert df["utterance_id"].tolist() == ["utt-x", "y"]  # an empty id falls back to the file stem
    assert df["speaker"].tolist() == ["007", "008"]  # read as text: leading zeros kept
    assert df["session"].tolist() == [2, 3] and df["gender"].tolist() == ["F", "M"]


def test_unknown_labels_are_dropped_with_counts_per_label(tmp_path, capsys):
    rows = [("1.wav", "angry", "s1", "train"), ("2.wav", "fear", "s1", "train"), ("3.wav", "Fear", "s2", "test"),
            ("4.wav", "disgust", "s2", "test"), ("5.wav", "sad", "s2", "test"), ("6.wav", "fear", "s2", "test")]
    df = load_manifest(write_manifest(tmp_path, rows))
    assert df["utterance_id"].tolist() == ["1", "5"]
    out = capsys.readouterr().out
    assert "dropped 4 of 6 rows" in out and "fear: 2" in out and "Fear: 1" in out and "disgust: 1" in out


def test_unknown_labels_are_an_error_when_strict(tmp_path):
    rows = [("1.wav", "angry", "s1", "train"), ("2.wav", "surprise", "s2", "test")]
    with pytest.raises(CorpusError, match=r"1 rows have labels outside the four classes \(surprise: 1\)"):
        load_manifest(write_manifest(tmp_path, rows), strict=True)


def test_relative_paths_resolve_against_the_csv_folder(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    write_wav(corpus / "sub" / "a.wav", 0.3)
    write_wav(tmp_path / "shared" / "up.wav", 0.3, seed=1)  # another recording (equal bytes are refused)
    (corpus / "manifest.csv").write_text("path,label,speaker,split\n"
                                         "sub/a.wav,happy,s1,train\n../shared/up.wav,sad,s2,test\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the cwd nor a relative csv_path changes the result
    df = load_manifest(Path("..") / "corpus" / "manifest.csv").set_index("utterance_id")
    assert df.loc["a", "path"] == str(corpus / "sub" / "a.wav")
    assert df.loc["up", "path"] == str(tmp_path / "shared" / "up.wav")


def test_absolute_paths_are_kept(tmp_path):
    wav = write_wav(tmp_path / "far" / "z.wav", 0.3)
    csv = write_manifest(tmp_path / "m", [(str(wav), "angry", "s1", "train")], wavs=False)
    assert load_manifest(csv)["path"].tolist() == [str(wav)]


def test_speaker_in_two_splits_is_an_error(tmp_path):
    rows = [("1.wav", "angry", "alice", "train"), ("2.wav", "sad", "alice", "test"), ("3.wav", "sad", "bob", "test")]
    with pytest.raises(CorpusError, match="1 speakers appear in more than one split") as err:
        load_manifest(write_manifest(tmp_path, rows))
    assert "alice" in str(err.value)


def test_missing_columns_are_listed_with_an_example_header(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("file,emotion,speaker\nx.wav,sad,s1\n")
    with pytest.raises(CorpusError, match=r"lacks the columns \['path', 'label', 'split'\]") as err:
        load_manifest(csv)
    assert "path,label,speaker,split" in str(err.value)


def test_missing_audio_file_is_an_error(tmp_path):
    csv = write_manifest(tmp_path, [("here.wav", "sad", "s1", "train")])
    csv.write_text(csv.read_text() + "gone.wav,sad,s1,train\n")
    with pytest.raises(CorpusError, match=r"1 of 2 audio files cannot be used.*\(1 of them do not exist\)") as err:
        load_manifest(csv)
    assert "gone.wav: does not exist" in str(err.value)


def test_duplicate_file_stems_ask_for_an_utterance_id_column(tmp_path):
    rows = [("a/take.wav", "sad", "s1", "train"), ("b/take.wav", "angry", "s2", "test")]
    with pytest.raises(CorpusError, match="Add an utterance_id column"):
        load_manifest(write_manifest(tmp_path, rows))
    csv = write_manifest(tmp_path / "ids", [(*r, f"u{i}") for i, r in enumerate(rows)],
                         header="path,label,speaker,split,utterance_id")
    assert load_manifest(csv)["utterance_id"].tolist() == ["u0", "u1"]


def test_unknown_split_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match=r"unknown split \['holdout'\]"):
        load_manifest(write_manifest(tmp_path, [("1.wav", "sad", "s1", "holdout")]))


def test_load_corpus_dispatches(tmp_path):
    csv = write_manifest(tmp_path, [("1.wav", "sad", "s1", "train"), ("2.wav", "angry", "s2", "test")])
    pd.testing.assert_frame_equal(load_corpus("manifest", csv_path=csv), load_manifest(csv))


@pytest.mark.parametrize("content, expected", [
    (b"", r"manifest .*bad\.csv is empty; it needs a header line \(path,label,speaker,split"),
    ("path,label,speaker,split\na.wav,sad,Jos\xe9,train\n".encode("latin-1"),
     r"manifest .*bad\.csv, line 2: not UTF-8 text \(byte 0xe9\); save it as UTF-8"),
    (b"path,label,speaker,split\na.wav,sad,s1,train\nb.wav,sad,s1,train,extra\n",
     r"manifest .*bad\.csv, line 3: 5 fields where the header has 4; put a value containing a comma in double"),
])
def test_an_unreadable_manifest_names_the_file_the_line_and_the_fix(tmp_path, content, expected):
    (tmp_path / "bad.csv").write_bytes(content)
    with pytest.raises(CorpusError, match=expected):
        load_manifest(tmp_path / "bad.csv")


def test_the_same_wav_under_two_ids_in_two_splits_is_refused(tmp_path):
    rows = [("a.wav", "sad", "s1", "train", "one"), ("b.wav", "happy", "s2", "test", "two"),
            ("a.wav", "sad", "s3", "test", "three")]  # explicit ids: a.wav in train and in test
    csv = write_manifest(tmp_path, rows[:2], header="path,label,speaker,split,utterance_id")
    csv.write_text(csv.read_text() + ",".join(rows[2]) + "\n")
    with pytest.raises(CorpusError, match="2 rows use the same file as another row") as err:
        load_manifest(csv)
    assert "one" in str(err.value) and "three" in str(err.value)


def test_a_copy_within_one_split_speaker_and_label_is_dropped_with_a_note(tmp_path, capsys):
    """A corpus unpacked twice: the copy (other folder, same bytes) and the same row twice are
    dropped, the first row in file order kept, and the note names both files of each pair."""
    rows = [("a/x.wav", "sad", "s1", "train"), ("b/y.wav", "angry", "s2", "test"), ("a/z.wav", "happy", "s1", "train")]
    csv = write_manifest(tmp_path, rows)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "x2.wav").write_bytes((tmp_path / "a" / "x.wav").read_bytes())
    csv.write_text(csv.read_text() + "copy/x2.wav,sad,s1,train\nb/y.wav,angry,s2,test\n")
    df = load_manifest(csv)
    assert df["utterance_id"].tolist() == ["x", "y", "z"]
    out = capsys.readouterr().out
    assert "dropped 2 of 5 rows that repeat the recording of an earlier row with the same split, speaker and label" in out
    assert f"{tmp_path / 'copy' / 'x2.wav'} (the same recording as {tmp_path / 'a' / 'x.wav'})" in out
    assert f"{tmp_path / 'b' / 'y.wav'} (the same recording as {tmp_path / 'b' / 'y.wav'})" in out


@pytest.mark.parametrize("other, what", [("s1,train,happy", "label"), ("s2,train,sad", "speaker")])
def test_a_copy_across_labels_or_speakers_is_still_refused(tmp_path, other, what):
    speaker, split, label = other.split(",")
    csv = write_manifest(tmp_path, [("x.wav", "sad", "s1", "train"), ("w.wav", "angry", "s3", "test")])
    (tmp_path / "x2.wav").write_bytes((tmp_path / "x.wav").read_bytes())
    csv.write_text(csv.read_text() + f"x2.wav,{label},{speaker},{split}\n")
    with pytest.raises(CorpusError, match="2 rows use the same audio content as another row") as err:
        load_manifest(csv)
    assert "x2.wav" in str(err.value), what


def test_copies_are_dropped_before_folds_are_made(tmp_path, capsys):
    rows = [(f"{s}/{s}_{i}.wav", label, s) for s in ("s1", "s2", "s3") for i, label in enumerate(("sad", "happy"))]
    csv = write_manifest(tmp_path, rows, header="path,label,speaker")  # fold:K/N needs no split column
    (tmp_path / "s1" / "copy.wav").write_bytes((tmp_path / "s1" / "s1_0.wav").read_bytes())
    csv.write_text(csv.read_text() + "s1/copy.wav,sad,s1\n")
    df = load_manifest(csv, split="fold:1/3")
    assert len(df) == 6 and "copy" not in df["utterance_id"].tolist()
    assert "the same speaker and label (the first row kept)" in capsys.readouterr().out
