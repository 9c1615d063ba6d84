"""`pdt corpus NAME SOURCE_DIR --out MANIFEST.csv`: each recipe on a tiny tree in its corpus's
naming (public_corpora.py), the manifest it writes, and the errors it names."""

import shutil

import pandas as pd
import pytest
import public_corpora as make
from tiny_corpora import break_files, make_iemocap

from pdtlib import EMOTIONS
from pdtlib.serving.cli import main as pdt
from pdtlib.corpora import CorpusError, load_iemocap, load_manifest
from pdtlib.corpora.prepare import main as prepare_main
from pdtlib.corpora.prepare import prepare_corpus
from pdtlib.corpora.recipes import UsageError


def manifest_of(prepared) -> pd.DataFrame:
    return pd.read_csv(prepared.out, dtype=str, keep_default_na=False).set_index("utterance_id")


def assert_loads_with_every_split(csv, n_folds):
    """The manifest loads as the report reads it: its split column, and each fold:K/N."""
    table = load_manifest(csv, split="paper")
    assert set(table["split"]) == {"train", "val", "test"}
    for k in range(1, n_folds + 1):
        folded = load_manifest(csv, split=f"fold:{k}/{n_folds}")
        assert sorted(folded["utterance_id"]) == sorted(table["utterance_id"])
    return table


def test_ravdess_decodes_actors_genders_and_emotions(tmp_path):
    prepared = prepare_corpus("ravdess", make.ravdess(tmp_path / "src"), tmp_path / "src" / "m.csv")
    df = manifest_of(prepared)
    assert len(df) == 12  # 3 actors x (neutral, happy, sad, angry); calm and the song files left out
    row = df.loc["03-01-05-01-01-01-02"]
    assert (row["label"], row["speaker"], row["gender"], row["path"]) == (
        "angry", "actor02", "F", "Actor_02/03-01-05-01-01-01-02.wav")  # relative: the manifest is above the audio
    assert df.groupby("speaker")["gender"].first().to_dict() == {"actor01": "M", "actor02": "F", "actor03": "M"}
    assert df.groupby("label").size().to_dict() == {"angry": 3, "happy": 3, "neutral": 3, "sad": 3}
    summary = "\n".join(prepared.summary)
    assert "left out 3 song (03-02-...) files" in summary and "left out 3 of other emotions (calm 3)" in summary
    table = assert_loads_with_every_split(prepared.out, 3)
    assert table.set_index("utterance_id").loc["03-01-05-01-01-01-02", "path"] == str(
        tmp_path / "src" / "Actor_02" / "03-01-05-01-01-01-02.wav")


def test_a_partial_download_is_named_and_still_written(tmp_path):
    prepared = prepare_corpus("ravdess", make.ravdess(tmp_path / "src", actors=(1, 2, 3, 5)),
                              tmp_path / "out" / "m.csv")
    summary = "\n".join(prepared.summary)
    assert "20 of the release's 1440 files (1420 short)" in summary  # song files are not speech
    assert "kept per class, found of the release's: happy 4 of 192, angry 4 of 192, neutral 4 of 96, sad 4 of 192" \
        in summary
    assert "actors absent (20 of 24): actor04, actor06-actor24" in summary
    assert "actors with files lacking: actor01 (5 of 60), actor02 (5 of 60)" in summary
    assert prepared.out.is_file() and len(manifest_of(prepared)) == 16
    assert manifest_of(prepared)["path"].str.startswith(str(tmp_path / "src")).all()  # not below: absolute


def test_a_complete_release_says_so(tmp_path):
    source = make.savee(tmp_path / "src", speakers=("DC", "JE", "JK", "KL"), per_emotion=make.SAVEE_PER_SPEAKER)
    prepared = prepare_corpus("savee", source, tmp_path / "m.csv")
    assert any("complete: 480 of 480 files of the release, 300 in the four classes" in line
               for line in prepared.summary)
    assert manifest_of(prepared).groupby("label").size().to_dict() == {"angry": 60, "happy": 60, "neutral": 120,
                                                                      "sad": 60}


def test_crema_d_genders_come_from_the_demographics_table(tmp_path):
    prepared = prepare_corpus("crema-d", make.crema_d(tmp_path / "src"), tmp_path / "src" / "m.csv")
    df = manifest_of(prepared)
    assert df.loc["1002_DFA_HAP_XX", ["label", "speaker", "gender"]].tolist() == ["happy", "1002", "F"]
    assert df.groupby("speaker")["gender"].first().to_dict() == {"1001": "M", "1002": "F", "1003": "M"}
    assert len(df) == 12 and "DIS" not in " ".join(df.index)
    # AudioWAV itself passed: the table is found beside it
    again = prepare_corpus("crema_d", tmp_path / "src" / "AudioWAV", tmp_path / "m2.csv")
    assert manifest_of(again)["gender"].tolist() == df["gender"].tolist()


def test_crema_d_without_demographics_leaves_gender_empty(tmp_path):
    prepared = prepare_corpus("crema-d", make.crema_d(tmp_path / "src", demographics=False), tmp_path / "m.csv")
    assert (manifest_of(prepared)["gender"] == "").all()
    assert any("no VideoDemographics.csv under" in line for line in prepared.summary)


def test_emodb_letters_speakers_and_published_genders(tmp_path):
    prepared = prepare_corpus("emodb", make.emodb(tmp_path / "src"), tmp_path / "src" / "m.csv")
    df = manifest_of(prepared)
    assert df.loc[["03a01Wa", "08a01Fa", "09a01Ta", "03a01Na"], "label"].tolist() == ["angry", "happy", "sad", "neutral"]
    assert df.groupby("speaker")["gender"].first().to_dict() == {"03": "M", "08": "F", "09": "F"}
    assert "03a01La" not in df.index  # boredom left out
    assert_loads_with_every_split(prepared.out, 3)


@pytest.mark.parametrize("layout", ["flat", "release"])
def test_savee_in_both_layouts(tmp_path, layout):
    prepared = prepare_corpus("savee", make.savee(tmp_path / "src", layout=layout), tmp_path / "m.csv")
    df = manifest_of(prepared)
    assert df.loc["JE_sa01", ["label", "speaker", "gender"]].tolist() == ["sad", "JE", "M"]
    assert sorted(df.index) == sorted(f"{s}_{c}01" for s in ("DC", "JE", "JK") for c in ("a", "h", "n", "sa"))


def test_tess_tests_on_the_unseen_speaker_and_says_why(tmp_path):
    prepared = prepare_corpus("tess", make.tess(tmp_path / "src"), tmp_path / "src" / "m.csv")
    df = manifest_of(prepared)
    assert df.loc["OAF_bite_neutral", ["speaker", "session", "split"]].tolist() == ["OAF", "OAF", "train"]
    assert set(df.loc[df["split"] == "test", "speaker"]) == {"YAF"}
    val = df[df["split"] == "val"]
    assert set(val["speaker"]) == {"OAF-val-words"} and set(val["session"]) == {"OAF"}
    assert set(val.index.str.split("_").str[1]) == {"bean"}  # the 5th of OAF's sorted words
    assert set(df.loc[df["split"] == "train"].index.str.split("_").str[1]).isdisjoint({"bean"})
    assert (df["fold"] == "").all() and (df["gender"] == "F").all()
    summary = "\n".join(prepared.summary)
    assert "no speaker-independent train/val/test split exists" in summary and "optimistic" in summary
    assert set(load_manifest(prepared.out)["split"]) == {"train", "val", "test"}


def test_tess_needs_both_speakers(tmp_path):
    with pytest.raises(CorpusError, match=r"found the speakers \['YAF'\]; its split needs both OAF"):
        prepare_corpus("tess", make.tess(tmp_path / "src", speakers=("YAF",)), tmp_path / "m.csv")


def test_iemocap_is_the_loaders_table_with_session_folds(tmp_path):
    root = make_iemocap(tmp_path)
    prepared = prepare_corpus("iemocap", root, tmp_path / "m.csv")
    df = manifest_of(prepared)
    loaded = load_iemocap(root).set_index("utterance_id")
    assert sorted(df.index) == sorted(loaded.index)
    for column in ("label", "speaker", "gender", "split"):
        assert df[column].to_dict() == loaded.loc[df.index, column].astype(str).to_dict()
    assert (df["fold"] == df["session"]).all()
    from_manifest = load_manifest(prepared.out).set_index("utterance_id")
    assert from_manifest.loc[df.index, "split"].tolist() == loaded.loc[df.index, "split"].tolist()
    assert any("the release's 5531 files" in line for line in prepared.summary)


def test_folds_of_many_speakers_follow_emobox_sizes_and_mix_genders(tmp_path):
    source = make.ravdess(tmp_path / "src", actors=range(1, 25), emotions=("01", "03", "04", "05"), song=False)
    first = manifest_of(prepare_corpus("ravdess", source, tmp_path / "a.csv"))
    second = manifest_of(prepare_corpus("ravdess", source, tmp_path / "b.csv"))
    pd.testing.assert_frame_equal(first.drop(columns="path"), second.drop(columns="path"))  # deterministic
    per_speaker = first.groupby("speaker")[["fold", "gender", "split"]].first()
    assert per_speaker.groupby("fold").size().tolist() == [4] * 6
    assert (per_speaker.groupby(["fold", "gender"]).size() == 2).all()
    assert first.groupby("speaker")["split"].nunique().max() == 1
    for split in ("train", "val", "test"):
        assert set(first.loc[first["split"] == split, "label"]) == set(EMOTIONS)
    assert_loads_with_every_split(tmp_path / "a.csv", 6)


def test_emodb_makes_five_folds_of_a_woman_and_a_man(tmp_path):
    speakers = ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")
    prepared = prepare_corpus("emodb", make.emodb(tmp_path / "src", speakers=speakers), tmp_path / "m.csv")
    per_speaker = manifest_of(prepared).groupby("speaker")[["fold", "gender"]].first()
    assert per_speaker.groupby("fold")["gender"].apply(sorted).tolist() == [["F", "M"]] * 5


def test_copies_within_a_speaker_and_emotion_are_dropped_and_named(tmp_path):
    source = make.ravdess(tmp_path / "src")
    shutil.copytree(source / "Actor_01", source / "zz_copy" / "Actor_01")  # a download unpacked twice
    prepared = prepare_corpus("ravdess", source, tmp_path / "m.csv")
    assert len(manifest_of(prepared)) == 12
    summary = "\n".join(prepared.summary)
    assert "dropped 5 byte-identical copies" in summary  # the speech files (the song file is left out anyway)
    assert "zz_copy/Actor_01/03-01-05-01-01-01-01.wav (a copy of Actor_01/03-01-05-01-01-01-01.wav)" in summary


def test_a_corpus_unpacked_twice_is_counted_once(tmp_path):
    """As some TESS downloads are: the whole set again in a nested folder of the same name."""
    source = make.tess(tmp_path / "src")
    shutil.copytree(source, tmp_path / "nested")
    shutil.move(tmp_path / "nested", source / "zz again")  # sorts after the first: its files are the copies
    prepared = prepare_corpus("tess", source, tmp_path / "m.csv")
    assert len(manifest_of(prepared)) == 49
    summary = "\n".join(prepared.summary)
    assert "dropped 85 byte-identical copies" in summary and "all of them below zz again/:" in summary
    assert "zz again/OAF_angry/OAF_back_angry.wav (a copy of OAF_angry/OAF_back_angry.wav)" in summary
    assert "... and 75 more" in summary and "85 of the release's 2800 files" in summary


def test_two_recordings_of_one_utterance_are_an_error(tmp_path):
    source = make.savee(tmp_path / "src", speakers=("DC", "JE", "JK"))
    make.noise_wav(source / "AudioData" / "DC" / "a01.wav")  # other bytes than DC_a01.wav
    with pytest.raises(CorpusError, match="decodes to the same utterance id as") as err:
        prepare_corpus("savee", source, tmp_path / "m.csv")
    assert "AudioData/DC/a01.wav" in str(err.value) and "DC_a01.wav" in str(err.value)


@pytest.mark.parametrize("copy_to, clash", [
    ("Actor_02/03-01-05-01-01-01-02.wav", "speaker actor02"),  # another actor
    ("Actor_01/03-01-04-01-01-01-01.wav", "sad"),  # another emotion
])
def test_the_same_bytes_under_two_speakers_or_emotions_is_an_error_naming_both(tmp_path, copy_to, clash):
    source = make.ravdess(tmp_path / "src")
    shutil.copyfile(source / "Actor_01" / "03-01-05-01-01-01-01.wav", source / copy_to)
    with pytest.raises(CorpusError, match="holds the same bytes as") as err:
        prepare_corpus("ravdess", source, tmp_path / "m.csv")
    assert copy_to in str(err.value) and "Actor_01/03-01-05-01-01-01-01.wav" in str(err.value)
    assert clash in str(err.value) and not (tmp_path / "m.csv").exists()


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(UsageError, match="unknown corpus 'msp'; known corpora: ravdess, crema-d, emodb, savee, "
                                         "tess, iemocap"):
        prepare_corpus("msp", tmp_path, tmp_path / "m.csv")


def test_a_folder_without_the_naming_says_what_was_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"EmoDB: no file named like .*03a01Wa.wav.* under .*empty \(it holds no "
                                         r"\.wav file\)\. Pass the EmoDB folder"):
        prepare_corpus("emodb", tmp_path / "empty", tmp_path / "m.csv")
    make.savee(tmp_path / "savee")
    with pytest.raises(UsageError, match=r"its 21 \.wav files are named otherwise, e\.g\. DC_a01\.wav"):
        prepare_corpus("emodb", tmp_path / "savee", tmp_path / "m.csv")
    with pytest.raises(UsageError, match="is not a folder"):
        prepare_corpus("emodb", tmp_path / "absent", tmp_path / "m.csv")


def test_too_few_speakers_for_a_split(tmp_path):
    with pytest.raises(CorpusError, match=r"2 actors found \(actor01, actor02\): a speaker-independent"):
        prepare_corpus("ravdess", make.ravdess(tmp_path / "src", actors=(1, 2)), tmp_path / "m.csv")


def test_the_pdt_corpus_command(tmp_path, capsys):
    source, out = make.savee(tmp_path / "src"), tmp_path / "out" / "savee.csv"
    assert pdt(["corpus", "savee", str(source), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "kept      12 in the four classes (happy 3, angry 3, neutral 3, sad 3)" in printed
    assert "3 folds of 1 speaker" in printed and f"wrote     {out} (12 rows)" in printed
    assert pdt(["corpus", "savee", str(source), "--out", str(out)]) == 2  # exists: --force
    assert "exists; pass --force" in capsys.readouterr().err
    assert pdt(["corpus", "savee", str(source), "--out", str(out), "--force"]) == 0
    assert pdt(["corpus", "nope", str(source), "--out", str(out)]) == 2
    assert "known corpora: ravdess" in capsys.readouterr().err
    assert pdt(["corpus", "tess", str(source), "--out", str(tmp_path / "t.csv")]) == 2
    assert prepare_main(["SAVEE", str(source), "--out", str(tmp_path / "m.csv")]) == 0  # python -m entry
    assert load_manifest(tmp_path / "m.csv", split="fold:2/3")["speaker"].nunique() == 3


BROKEN = ("Actor_01/03-01-01-01-01-01-01.wav", "Actor_02/03-01-03-01-01-01-02.wav", "Actor_03/03-01-04-01-01-01-03.wav")


def test_unreadable_files_are_dropped_and_every_one_named(tmp_path):
    """A 0-byte file, a text file and a truncated wav in a RAVDESS tree (issue 30): the recipe opens each
    file's header, drops all three with why, and writes the rest; the loader then reads the manifest."""
    source = make.ravdess(tmp_path / "src")
    break_files(*(source / name for name in BROKEN))
    prepared = prepare_corpus("ravdess", source, tmp_path / "m.csv")
    assert len(manifest_of(prepared)) == 9 and not set(manifest_of(prepared)["path"]) & set(BROKEN)
    summary = "\n".join(prepared.summary)
    assert "dropped 3 files that cannot be read as audio" in summary
    assert f"{BROKEN[0]}: empty (0 bytes)" in summary
    assert f"{BROKEN[1]}: not audio soundfile can read" in summary
    assert f"{BROKEN[2]}: truncated: its header declares" in summary
    assert len(load_manifest(prepared.out)) == 9


def test_the_manifest_loader_names_every_unreadable_file_at_once(tmp_path):
    """A manifest written before the files broke: one error naming all three, not the first of them."""
    source = make.ravdess(tmp_path / "src")
    prepared = prepare_corpus("ravdess", source, tmp_path / "m.csv")
    break_files(*(source / name for name in BROKEN))
    with pytest.raises(CorpusError, match="3 of 12 audio files cannot be used, every one named below") as err:
        load_manifest(prepared.out)
    message = str(err.value)
    for name, why in zip(BROKEN, ("empty (0 bytes)", "not audio soundfile can read", "truncated")):
        assert f"{source / name}: {why}" in message
