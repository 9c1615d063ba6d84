"""Studies: folds (disjoint speakers, deterministic, every utterance tested once), the statistics on
hand-made cells, study files, and resume. The run through Ray is tests/pipeline/test_study_ray.py."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pdtlib import EMOTIONS, paths, plots, runs, study_stats
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


# ---------------------------------------------------------------- honest intervals, studies side by side

def spread_cells() -> pd.DataFrame:
    """2 cells x rows 1, 5, 7, far apart: a t-interval on 1 degree of freedom reaches past 0 and 100."""
    ua = {1: [5.0, 80.0], 5: [10.0, 90.0], 7: [20.0, 30.0]}
    rows = []
    for exp, values in ua.items():
        for c, value in enumerate(values):
            rows.append({"cell": f"c{c}", "seed": c, "fold": "fold:1/5", "exp": exp,
                         "method": {1: "traditional", 5: "PDT + SVM", 7: "eGeMAPS + SVM"}[exp],
                         "duration": {1: 4.0, 5: 4.0, 7: np.nan}[exp], "paper_ua": {1: 51.09, 5: 56.33, 7: np.nan}[exp],
                         "ua": value, "wa": value, "f1": value})
    return pd.DataFrame(rows)


def test_percentage_intervals_are_clipped_and_few_cells_are_flagged():
    summary = studies.summarise(spread_cells()).set_index("exp")
    assert summary.at[5, "ua_mean"] == pytest.approx(50.0) and summary.at[5, "ua_n"] == 2
    for metric in ("ua", "wa", "f1"):  # unclipped: 50 ± 12.71 * 56.57 / sqrt(2), about [-458, 558]
        assert (summary.at[5, f"{metric}_low"], summary.at[5, f"{metric}_high"]) == (0.0, 100.0)
    assert (summary["note"] == studies.FEW_NOTE).all() and "n < 5" in studies.FEW_NOTE
    shown = studies.summary_table(summary.reset_index())
    assert shown.loc[shown["Exp"] == 5, "UA"].item() == "50.00 ± 56.57 [0.00, 100.00]"
    assert (shown["Note"] == studies.FEW_NOTE).all()
    assert (studies.summarise(hand_made_cells())["note"] == studies.FEW_NOTE).all()  # 3 cells: still few
    one = studies.summary_table(studies.summarise(hand_made_cells().query("cell == 'c0'")))
    assert one["UA"].tolist()[0] == "50.00 (one cell: no interval)"  # not "± nan [nan, nan]"
    many = pd.concat([hand_made_cells().assign(cell=lambda d, k=k: d["cell"] + f"-{k}") for k in range(2)])
    assert (studies.summarise(many)["note"] == "").all()  # 6 cells: no note
    paired = studies.paired(spread_cells()).set_index("exp")
    assert paired.at[1, "mean_diff"] == pytest.approx(7.5) and paired.at[1, "note"] == studies.FEW_NOTE
    assert -100 <= paired["low"].min() and paired["high"].max() <= 100
    assert study_stats.clipped(-150.0, 130.0, floor=-100.0) == (-100.0, 100.0)  # differences: [-100, 100]
    assert study_stats.clipped(-3.0, 101.0) == (0.0, 100.0)
    words = studies.in_words(studies.summarise(spread_cells()), studies.paired(spread_cells()))
    assert words.endswith(f"Caution, {studies.FEW_NOTE}.")


def write_cells(folder: Path, cells: pd.DataFrame) -> Path:
    folder.mkdir(parents=True)
    cells.to_csv(folder / "cells.csv", index=False)
    return folder


def test_compare_sets_studies_side_by_side_from_their_cells_csv(tmp_path):
    a = write_cells(tmp_path / "study-A", hand_made_cells().assign(corpus="synthetic"))
    b = write_cells(tmp_path / "study-B", spread_cells())  # an older cells.csv: no corpus column
    out = tmp_path / "compare"
    assert studies.main(["compare", str(a), str(b), "--out", str(out)]) == 0
    table = pd.read_csv(out / "compare.csv").set_index(["study", "exp"])
    assert table.loc[("study-A", 5), "ua_mean"] == pytest.approx(62.0) and table.loc[("study-A", 5), "ua_n"] == 3
    assert table.loc[("study-A", 5), "corpus"] == "synthetic" and pd.isna(table.loc[("study-B", 5), "corpus"])
    assert table.loc[("study-A", 1), "diff"] == pytest.approx(8.0) and table.loc[("study-A", 1), "diff_n"] == 3
    assert table.loc[("study-A", 7), "diff"] == pytest.approx(-8.0)
    assert table.loc[("study-A", 1), "wilcoxon_p"] == pytest.approx(0.25)
    assert pd.isna(table.loc[("study-A", 5), "diff"])  # PDT + SVM is not compared with itself
    assert table.loc[("study-B", 1), "diff"] == pytest.approx(7.5)  # differences 5 and 10
    assert (table.loc[("study-B", 1), "diff_low"], table.loc[("study-B", 1), "diff_high"]) == (5.0, 10.0)
    assert table.loc[("study-B", 7), "diff"] == pytest.approx(25.0)  # -10 and 60
    assert (table.loc[("study-B", 5), "ua_low"], table.loc[("study-B", 5), "ua_high"]) == (0.0, 100.0)
    assert (table["note"] == studies.FEW_NOTE).all()
    text = (out / "compare.md").read_text()
    assert "| study-A | synthetic |" in text and "50.00 ± 56.57 [0.00, 100.00]" in text
    assert "+8.00 [+7.00, +10.00]" in text and "n < 5: the interval is wide and rests on few cells" in text
    assert "+5.24 UA points" in text
    for suffix in ("png", "svg"):
        assert (out / "figures" / f"compare.{suffix}").stat().st_size > 1000


def test_the_forest_plot_has_a_line_per_study_and_comparison_and_the_papers_claim(tmp_path):
    table = studies.compare_table({"study-A": hand_made_cells(), "study-B": spread_cells()})
    differences = studies.compare_differences(table)
    assert list(zip(differences["study"], differences["exp"])) == [("study-A", 1), ("study-A", 7),
                                                                   ("study-B", 1), ("study-B", 7)]
    fig = plots.plot_compare(differences, paper=studies.PAPER_CLAIM)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == 4 and "study-A: − traditional, n 3" in ax.get_yticklabels()[0].get_text()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paper: +5.24" in legend and "PDT + SVM − eGeMAPS + SVM" in legend
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_xdata()[0] == pytest.approx(5.24)  # the paper's +5.24, at x


def test_compare_names_a_folder_without_cells(tmp_path):
    with pytest.raises(SystemExit, match="no cells.csv"):
        studies.main(["compare", str(tmp_path / "nowhere")])
