"""Studies: folds (disjoint speakers, deterministic, every utterance tested once), the statistics on
hand-made cells, study files, and resume. The run through Ray is tests/pipeline/test_study_ray.py."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pdtlib import EMOTIONS, paths, runs
from pdtlib import study as studies
from pdtlib.corpora import CorpusError, load_manifest
from pdtlib.corpora.folds import fold_splits, parse_fold, speaker_folds
from pdtlib.corpora.iemocap import session_splits


def manifest(tmp_path, n_speakers=10, per_speaker=8, fold_column=None) -> Path:
    rows = []
    for s in range(n_speakers):
        for i in range(per_speaker):
            path = tmp_path / f"s{s}_{i}.wav"
            # each recording its own bytes: the loader refuses the same audio in two rows
            sf.write(path, np.full(1600, (s * per_speaker + i + 1) / 1000, dtype=np.float32), 16000)
            row = {"path": path.name, "label": EMOTIONS[i % 4], "speaker": f"spk{s:02d}"}
            if fold_column:
                row["fold"] = fold_column(s)
            rows.append(row)
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    return tmp_path / "m.csv"


def test_manifest_folds_are_speaker_disjoint_deterministic_and_test_each_utterance_once(tmp_path):
    csv = manifest(tmp_path)
    tested = []
    for k in range(1, 6):
        table = load_manifest(csv, split=f"fold:{k}/5")  # no split column needed
        parts = table.groupby("split")["speaker"].apply(set)
        assert set(parts.index) == {"train", "val", "test"}
        assert not (parts["train"] & parts["val"]) and not (parts["train"] & parts["test"]) \
            and not (parts["val"] & parts["test"])
        tested += table.loc[table["split"] == "test", "utterance_id"].tolist()
        again = load_manifest(csv, split=f"fold:{k}/5")
        assert again["split"].tolist() == table["split"].tolist()  # deterministic
    assert sorted(tested) == sorted(load_manifest(csv, split="fold:1/5")["utterance_id"])  # each exactly once


def test_a_fold_column_is_used_and_checked(tmp_path):
    csv = manifest(tmp_path, n_speakers=6, fold_column=lambda s: s // 2 + 1)  # speakers 0,1 -> fold 1, ...
    table = load_manifest(csv, split="fold:2/3")
    assert sorted(table.loc[table["split"] == "test", "speaker"].unique()) == ["spk02", "spk03"]
    assert sorted(table.loc[table["split"] == "val", "speaker"].unique()) == ["spk04", "spk05"]
    with pytest.raises(CorpusError, match="fold outside 1..2"):
        speaker_folds(pd.read_csv(csv), 2)  # folds 1..3 in the column, N = 2 asked
    split_speakers = pd.read_csv(csv).assign(fold=lambda d: np.arange(len(d)) % 3 + 1)
    with pytest.raises(CorpusError, match="speakers in more than one fold"):
        speaker_folds(split_speakers, 3)


def test_fold_names_and_the_iemocap_layout():
    assert parse_fold("fold:2/5") == (2, 5) and parse_fold("loso:3") is None
    with pytest.raises(ValueError, match="N >= 3"):
        parse_fold("fold:1/2")
    assert fold_splits(pd.Series([1, 2, 3, 3]), 3, 3).tolist() == ["val", "train", "test", "test"]
    tested = [next(s for s, part in session_splits(f"loso:{k}").items() if part == "test") for k in range(1, 6)]
    assert sorted(tested) == [1, 2, 3, 4, 5]  # every session tested once over the five folds
    assert session_splits("loso:5") == session_splits("paper")


def hand_made_cells() -> pd.DataFrame:
    """3 cells x rows 1, 5, 7 with known numbers (UA in %)."""
    ua = {1: [50.0, 54.0, 58.0], 5: [60.0, 61.0, 65.0], 7: [70.0, 70.0, 70.0]}
    rows = []
    for exp, values in ua.items():
        for c, value in enumerate(values):
            rows.append({"cell": f"c{c}", "seed": c, "fold": "loso:5", "exp": exp,
                         "method": {1: "traditional", 5: "PDT + SVM", 7: "eGeMAPS + SVM"}[exp],
                         "duration": {1: 4.0, 5: 4.0, 7: np.nan}[exp], "paper_ua": {1: 51.09, 5: 56.33, 7: np.nan}[exp],
                         "ua": value, "wa": value + 1, "f1": value - 1})
    rows.append({**rows[0], "exp": 2, "method": "traditional", "duration": 5.0, "ua": np.nan, "wa": np.nan,
                 "f1": np.nan})  # a row this study did not run
    return pd.DataFrame(rows)


def test_summary_has_known_means_sds_and_intervals():
    summary = studies.summarise(hand_made_cells()).set_index("exp")
    assert list(summary.index) == [1, 5, 7]  # row 2 was not run
    assert summary.at[1, "ua_mean"] == pytest.approx(54.0) and summary.at[1, "ua_sd"] == pytest.approx(4.0)
    half = 4.302652729911275 * 4.0 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert (summary.at[1, "ua_low"], summary.at[1, "ua_high"]) == pytest.approx((54 - half, 54 + half))
    assert summary.at[7, "ua_sd"] == 0 and summary.at[7, "ua_low"] == summary.at[7, "ua_high"] == 70.0
    assert summary.at[5, "wa_mean"] == pytest.approx(63.0) and summary.at[5, "ua_n"] == 3


def test_paired_differences_bootstrap_and_wilcoxon():
    table = studies.paired(hand_made_cells()).set_index("exp")
    assert list(table.index) == [1, 7]
    assert table.at[1, "mean_diff"] == pytest.approx(8.0) and table.at[1, "n"] == 3  # 10, 7, 7
    assert 7.0 <= table.at[1, "low"] <= 8.0 <= table.at[1, "high"] <= 10.0
    assert table.at[1, "wilcoxon_p"] == pytest.approx(0.25)  # all three positive: the exact two-sided p
    assert table.at[7, "mean_diff"] == pytest.approx(-8.0)
    assert "exp 1 (traditional) +8.0" in studies.in_words(studies.summarise(hand_made_cells()), table.reset_index())


def write_study(tmp_path, **changes) -> Path:
    data = {"study": "st", "base": "params/smoke.yaml", "seeds": [0, 1], "folds": ["loso:5"],
            "set": {"baseline_durations": [4.0]}, "resources": {"num_cpus": 1}, **changes}
    path = tmp_path / "study.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    return path


def test_study_files_expand_into_ordinary_runs_and_bad_ones_say_what_is_wrong(tmp_path):
    study = studies.load_study(write_study(tmp_path))
    cells = study.cells()
    assert list(cells) == ["loso5-seed0", "loso5-seed1"]
    assert cells["loso5-seed1"]["run"] == "st/loso5-seed1" and cells["loso5-seed1"]["seed"] == 1
    assert cells["loso5-seed1"]["split"] == "loso:5" and cells["loso5-seed1"]["baseline_durations"] == [4.0]
    assert cells["loso5-seed1"]["synthetic_seed"] == 0  # the corpus stays, the training seed moves
    with pytest.raises(ValueError, match="seeds must be a list of integers"):
        studies.load_study(write_study(tmp_path, seeds="0"))
    with pytest.raises(ValueError, match="unknown parameter"):
        studies.load_study(write_study(tmp_path, set={"pdt_epoch": 1}))
    with pytest.raises(ValueError, match="seed cannot be set for every cell"):
        studies.load_study(write_study(tmp_path, set={"seed": 3}))  # the study's own axis
    more = studies.with_overrides(studies.load_study(write_study(tmp_path)), {"max_passes": 64}, "--set")
    assert {v["max_passes"] for v in more.cells().values()} == {64}  # over the file's `set`, in every cell


def test_complete_cells_are_skipped_on_a_rerun(tmp_path, monkeypatch):
    study = studies.load_study(write_study(tmp_path))
    first, second = study.cells().values()
    (paths.reports_dir() / first["run"]).mkdir(parents=True)
    record = {"status": "complete", "params": first, "params_hash": runs.params_hash(first)}
    (paths.reports_dir() / first["run"] / "run.json").write_text(json.dumps(record))
    (paths.reports_dir() / second["run"]).mkdir(parents=True)  # complete, but under other parameters
    (paths.reports_dir() / second["run"] / "run.json").write_text(
        json.dumps({**record, "params": second, "params_hash": runs.params_hash({**second, "max_passes": 9})}))
    ran = []
    monkeypatch.setattr(studies, "run_cell", lambda values, cpus: ran.append(values["run"]) or
                        {"run": values["run"], "status": "failed", "error": "injected", "wall_s": 0.0})
    table = studies.run_study(study, use_ray=False, progress_enabled=False)
    assert ran == [second["run"]]  # the complete cell is not run again
    assert table.set_index("cell")["status"].to_dict() == {"loso5-seed0": "complete", "loso5-seed1": "failed"}
