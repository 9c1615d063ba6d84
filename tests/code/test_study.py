"""Studies: folds (disjoint speakers, deterministic, every utterance tested once), the statistics on
hand-made cells, study files, and resume. The run through Ray is tests/pipeline/test_study_ray.py."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pdtlib import EMOTIONS
from pdtlib.system import paths, runs
from pdtlib.study import figures as study_figures
from pdtlib.study import running as study_running
from pdtlib.study import stats as study_stats
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
    """3 cells (3 folds of one seed) x rows 1, 5, 7 with known numbers (UA in %)."""
    ua = {1: [50.0, 54.0, 58.0], 5: [60.0, 61.0, 65.0], 7: [70.0, 70.0, 70.0]}
    rows = []
    for exp, values in ua.items():
        for c, value in enumerate(values):
            rows.append({"cell": f"c{c}", "seed": 0, "fold": f"loso:{c + 1}", "exp": exp,
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


def test_paired_differences_are_fold_level():
    table = studies.paired(hand_made_cells()).set_index("exp")
    assert list(table.index) == [1, 7]
    assert table.at[1, "mean_diff"] == pytest.approx(8.0) and table.at[1, "n"] == table.at[1, "folds"] == 3  # 10, 7, 7
    half = 4.302652729911275 * np.sqrt(3) / np.sqrt(3)  # t(0.975, 2) * sd between folds / sqrt(folds)
    assert (table.at[1, "low"], table.at[1, "high"]) == pytest.approx((8 - half, 8 + half))
    corrected = 4.302652729911275 * np.sqrt(3 * (1 / 3 + 1 / 3))  # loso: n_test/n_train 1/3
    assert (table.at[1, "corrected_low"], table.at[1, "corrected_high"]) == pytest.approx((8 - corrected, 8 + corrected))
    assert table.loc[1, ["p_worse", "p_rope", "p_better"]].sum() == pytest.approx(1.0) and table.at[1, "p_better"] > 0.9
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
    monkeypatch.setattr(study_running, "run_cell", lambda values, cpus, notebooks=None: ran.append(values["run"]) or
                        {"run": values["run"], "status": "failed", "error": "injected", "wall_s": 0.0})
    table = studies.run_study(study, use_ray=False, progress_enabled=False)
    assert ran == [second["run"]]  # the complete cell is not run again
    assert table.set_index("cell")["status"].to_dict() == {"loso5-seed0": "complete", "loso5-seed1": "failed"}


def test_relative_paths_mean_the_same_files_wherever_the_study_is_read_again(tmp_path, monkeypatch):
    """`make study MANIFEST=ravdess.csv`: the summary notebook (cwd notebooks/) reloads the study with the
    command's overrides and must find the cells complete under the very parameters they ran with."""
    spec = write_study(tmp_path, set={"corpus": "manifest", "baseline_durations": [4.0], "iemocap_root": "data/z"},
                       points=[{"name": "in", "test_manifest": ""},
                               {"name": "across", "test_manifest": "$test_manifest"}],
                       grid={"iemocap_root": ["data/x", "/data/y"]})
    monkeypatch.chdir(tmp_path)  # where the user typed the command
    given = {"manifest": "a.csv", "test_manifest": "../b.csv"}
    study = studies.with_overrides(studies.load_study(spec), given, "--set")
    cells = study.cells()
    assert {v["manifest"] for v in cells.values()} == {str(tmp_path / "a.csv")}
    assert {v["test_manifest"] for v in cells.values()} == {"", str(tmp_path / "../b.csv")}
    # a study file's own paths are the project's; an absolute one stays
    project = {str(paths.PROJ_ROOT / p) for p in ("data/x", "data/z")}
    assert {v["iemocap_root"] for v in cells.values()} == project | {"/data/y"}
    monkeypatch.chdir(paths.NOTEBOOKS)  # where the summary notebook reads the study again
    again = studies.with_overrides(studies.load_study(spec), study.overrides, "--set")
    assert again.cells() == cells
    assert {runs.params_hash(v) for v in again.cells().values()} == {runs.params_hash(v) for v in cells.values()}


# ---------------------------------------------------------------- honest intervals, studies side by side

def spread_cells() -> pd.DataFrame:
    """2 cells x rows 1, 5, 7, far apart: a t-interval on 1 degree of freedom reaches past 0 and 100."""
    ua = {1: [5.0, 80.0], 5: [10.0, 90.0], 7: [20.0, 30.0]}
    rows = []
    for exp, values in ua.items():
        for c, value in enumerate(values):
            rows.append({"cell": f"c{c}", "seed": 0, "fold": f"fold:{c + 1}/5", "exp": exp,
                         "method": {1: "traditional", 5: "PDT + SVM", 7: "eGeMAPS + SVM"}[exp],
                         "duration": {1: 4.0, 5: 4.0, 7: np.nan}[exp], "paper_ua": {1: 51.09, 5: 56.33, 7: np.nan}[exp],
                         "ua": value, "wa": value, "f1": value})
    return pd.DataFrame(rows)


def test_percentage_intervals_are_clipped_and_few_cells_are_flagged():
    summary = studies.summarise(spread_cells()).set_index("exp")
    assert summary.at[5, "ua_mean"] == pytest.approx(50.0) and summary.at[5, "ua_n"] == 2
    for metric in ("ua", "wa", "f1"):  # unclipped: 50 ± 12.71 * 56.57 / sqrt(2), about [-458, 558]
        assert (summary.at[5, f"{metric}_low"], summary.at[5, f"{metric}_high"]) == (0.0, 100.0)
    assert (summary["note"] == studies.FEW_NOTE).all() and "n < 5 folds" in studies.FEW_NOTE
    shown = studies.summary_table(summary.reset_index())
    assert shown.loc[shown["Exp"] == 5, "UA"].item() == "50.00 ± 56.57 [0.00, 100.00]"
    assert (shown["Note"] == studies.FEW_NOTE).all()
    assert (studies.summarise(hand_made_cells())["note"] == studies.FEW_NOTE).all()  # 3 folds: still few
    one = studies.summary_table(studies.summarise(hand_made_cells().query("cell == 'c0'")))
    assert one["UA"].tolist()[0] == "50.00 (one fold: no interval)"  # not "± nan [nan, nan]"
    many = pd.concat([hand_made_cells().assign(cell=lambda d, k=k: d["cell"] + f"-{k}",
                                               fold=lambda d, k=k: d["fold"] + f"-{k}") for k in range(2)])
    assert (studies.summarise(many)["note"] == "").all()  # 6 folds: no note
    seeds = pd.concat([hand_made_cells().assign(cell=lambda d, k=k: d["cell"] + f"-{k}", seed=k) for k in range(2)])
    assert (studies.summarise(seeds)["note"] == studies.FEW_NOTE).all()  # 6 cells, but 3 folds: still few
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
    assert table.loc[("study-A", 1), "p_better"] > 0.9 and table.loc[("study-A", 1), "diff_folds"] == 3
    assert pd.isna(table.loc[("study-A", 5), "diff"])  # PDT + SVM is not compared with itself
    assert table.loc[("study-B", 1), "diff"] == pytest.approx(7.5)  # differences 5 and 10
    half = 12.706204736174707 * 2.5  # t(0.975, 1) * sd between the 2 folds (3.54) / sqrt(2)
    assert (table.loc[("study-B", 1), "diff_low"], table.loc[("study-B", 1), "diff_high"]) == pytest.approx(
        (7.5 - half, 7.5 + half))
    assert table.loc[("study-B", 7), "diff"] == pytest.approx(25.0)  # -10 and 60
    assert (table.loc[("study-B", 5), "ua_low"], table.loc[("study-B", 5), "ua_high"]) == (0.0, 100.0)
    assert (table["note"] == studies.FEW_NOTE).all()
    text = (out / "compare.md").read_text()
    assert "| study-A | synthetic |" in text and "50.00 ± 56.57 [0.00, 100.00]" in text
    assert "+8.00 [+3.70, +12.30]" in text and studies.FEW_NOTE in text
    assert "+5.24 UA points" in text and "## The answer: PDT + SVM minus traditional, per corpus and pooled" in text
    answer = pd.read_csv(out / "answer.csv").set_index("study")
    assert list(answer.index) == ["study-A", "study-B", "pooled"]
    assert answer.at["pooled", "low"] < answer.at["pooled", "mean_diff"] < answer.at["pooled", "high"]
    assert "DerSimonian & Laird" in text and (out / "power.csv").exists()
    for suffix in ("png", "svg"):
        assert (out / "figures" / f"compare.{suffix}").stat().st_size > 1000


def test_the_forest_plot_has_a_line_per_study_the_pooled_diamond_and_the_papers_claim(tmp_path):
    from pdtlib.study import pooled

    answers = pooled.answer_table({"study-A": hand_made_cells(), "study-B": spread_cells()})
    assert answers["study"].tolist() == ["study-A", "study-B", "pooled"]
    fig = study_figures.plot_compare(answers, paper=studies.PAPER_CLAIM)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 3 and labels[0].startswith("study-A\n3 folds × 1 seeds") and labels[2].startswith("pooled, random effects")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paper: +5.24" in legend and "pooled (random effects), 95%" in legend and "t over folds, 95%" in legend
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_xdata()[0] == pytest.approx(5.24)  # the paper's +5.24, at x
    assert len(ax.patches) == 1  # the diamond


def test_between_pairs_two_runs_of_one_study_cell_by_cell_and_the_answer(tmp_path):
    first = spread_cells()  # cells c0, c1; rows 1 (5, 80), 5 (10, 90), 7 (20, 30)
    second = first.copy()
    second.loc[second["exp"] == 5, "ua"] += [1.0, 3.0]  # PDT + SVM up by 1 and 3 points
    second.loc[(second["exp"] == 1) & (second["cell"] == "c1"), "ua"] -= 2.0  # traditional down 2 in c1
    extra = first[first["cell"] == "c0"].assign(cell="c9")  # only in the second: not paired
    a = write_cells(tmp_path / "study-fp32", first)
    b = write_cells(tmp_path / "study-bf16", pd.concat([second, extra]))
    out = tmp_path / "compare"
    assert studies.main(["compare", "--between", str(a), str(b), "--out", str(out)]) == 0
    table = pd.read_csv(out / "between.csv")
    rows = table.set_index("method")
    assert rows.at["PDT + SVM", "mean_diff"] == pytest.approx(2.0) and rows.at["PDT + SVM", "n"] == 2
    half = 12.706204736174707 * 1.0  # differences 1 and 3 on 2 folds: t(0.975, 1) * sqrt(2) / sqrt(2)
    assert (rows.at["PDT + SVM", "low"], rows.at["PDT + SVM", "high"]) == pytest.approx((2 - half, 2 + half))
    assert rows.at["PDT + SVM", "max_abs"] == pytest.approx(3.0)
    assert rows.at["traditional", "mean_diff"] == pytest.approx(-1.0)
    assert rows.at["eGeMAPS + SVM", "mean_diff"] == 0 and rows.at["eGeMAPS + SVM", "p_rope"] == 1.0
    # the answer, PDT + SVM minus traditional, per cell: c0 +1 - 0, c1 +3 - (-2)
    assert rows.at[studies.ANSWER, "mean_diff"] == pytest.approx(3.0) and rows.at[studies.ANSWER, "max_abs"] == 5.0
    text = (out / "between.md").read_text()
    assert "study-bf16 − study-fp32" in text and "+2.00 [-10.71, +14.71]" in text
    with pytest.raises(SystemExit, match="give two study folders"):
        studies.main(["compare", "--between", str(a)])
    lone = write_cells(tmp_path / "study-other", first.assign(cell=lambda d: d["cell"] + "x"))
    with pytest.raises(SystemExit, match="no cell in common"):
        studies.main(["compare", "--between", str(a), str(lone), "--out", str(out)])


def test_compare_names_a_folder_without_cells(tmp_path):
    with pytest.raises(SystemExit, match="no cells.csv"):
        studies.main(["compare", str(tmp_path / "nowhere")])


# ---------------------------------------------------------------- grids, notebook subsets, Table 2

def test_a_grid_and_points_expand_into_named_cells_with_their_values(tmp_path):
    study = studies.load_study(write_study(
        tmp_path, set={"baseline_durations": [4.0], "max_passes": 64},
        grid={"pdt_margin": [0, 0.1], "pdt_lam": [0.9, 1]},
        points=[{"pdt_lam": 0.5, "pdt_mode": "sampled"}, {"max_passes": 32, "pdt_lr": "1e-4"}]))
    assert list(study.points()) == ["m0-lam0.9", "m0-lam1", "m0.1-lam0.9", "m0.1-lam1", "lam0.5-sampled",
                                    "passes32-pdt_lr0.0001"]
    cells = study.cells()
    assert len(cells) == 6 * 2 * 1  # points x seeds x folds
    assert list(cells)[:3] == ["m0-lam0.9-loso5-seed0", "m0-lam0.9-loso5-seed1", "m0-lam1-loso5-seed0"]
    one = cells["m0.1-lam1-loso5-seed1"]
    assert (one["pdt_margin"], one["pdt_lam"], one["seed"], one["split"]) == (0.1, 1, 1, "loso:5")
    assert one["run"] == "st/m0.1-lam1-loso5-seed1" and one["max_passes"] == 64  # `set` where the point is silent
    assert cells["lam0.5-sampled-loso5-seed0"]["pdt_mode"] == "sampled"
    assert cells["passes32-pdt_lr0.0001-loso5-seed0"]["max_passes"] == 32  # the point's own value wins over `set`
    assert cells["passes32-pdt_lr0.0001-loso5-seed0"]["pdt_lr"] == [1e-4]  # checked as `set` is: a one-value grid
    assert study.has_points() and not studies.load_study(write_study(tmp_path)).has_points()
    assert studies.load_study(write_study(tmp_path, notebooks=[1, "02", "03", "04"])).notebooks == ["01", "02",
                                                                                                   "03", "04"]


@pytest.mark.parametrize("changes, message", [
    ({"grid": {"seed": [0, 1]}}, "seed cannot be a grid parameter"),
    ({"points": [{"split": "loso:4"}]}, "split cannot be a grid parameter"),
    ({"grid": {"pdt_margin": 0.1}}, "pdt_margin must be a non-empty list"),
    ({"grid": {"pdt_margn": [0.1]}}, "unknown parameter"),
    ({"grid": {"pdt_mode": [3]}}, "pdt_mode = 3 is a number"),
    ({"grid": {"pdt_lam": [0.9, 0.9]}}, "two points are both lam0.9"),
    ({"points": [{}]}, "list of mappings"),
    ({"notebooks": ["99"]}, "99 matches no notebook"),
    ({"grids": {}}, "keys must be"),
])
def test_bad_grids_points_and_notebooks_say_what_is_wrong(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        studies.load_study(write_study(tmp_path, **changes))


def test_a_run_of_some_notebooks_by_design_is_complete_for_them(tmp_path, monkeypatch):
    from pdtlib.report import runner as report

    monkeypatch.setattr(report, "run_notebook", lambda *args, **kwargs: None)  # the notebooks' work is not the point
    values = studies.load_study(write_study(tmp_path)).cells()["loso5-seed0"]
    subset = ["01", "02", "03", "04"]
    folder, status = report.execute(values, scope=subset)
    record = json.loads((folder / "run.json").read_text())
    assert status == record["status"] == "complete"
    assert record["scope"] == ["01_data", "02_pairing", "03_train_pdt", "04_svm_eval"]
    assert studies.is_complete(values, subset) and studies.is_complete(values, ["03"])
    assert not studies.is_complete(values)  # a study of every notebook runs the cell again
    _, status = report.execute(values, only=["05"])  # a whole report's partial re-run: still says what is missing
    assert status == "incomplete: not run with these parameters: 06_tsne, 07_confusion_matrix, 08_table3"
    assert "scope" not in json.loads((folder / "run.json").read_text())


def fake_cell(values: dict, *, ua: float, val: float, probe: float, table3: bool = False) -> Path:
    """A complete cell's run folder as report.execute leaves it: run.json and the metrics of 01-04 (and
    08's table3.csv when `table3`), plus a stale metrics file of notebook 05 from an earlier run."""
    folder = paths.reports_dir() / values["run"]
    digest = runs.params_hash(values)
    stems = ["01_data", "02_pairing", "03_train_pdt", "04_svm_eval"] + (["08_table3"] if table3 else [])
    record = {"status": "complete", "params": values, "params_hash": digest,
              "notebooks": {stem: {"status": "ok", "params_hash": digest} for stem in stems},
              **({} if table3 else {"scope": stems})}
    (folder / "metrics").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(record))
    metrics = {"data": {"corpus": "synthetic"}, "pdt_svm": {"ua": ua / 100, "wa": 0.5, "f1": 0.4, "val_ua": val / 100},
               "pdt_training": {"chosen": {"metric": "val_ua", "value": probe / 100, "passes": 3200 * int(probe > 55)}},
               "traditional_4s": {"ua": 0.9, "wa": 0.9, "f1": 0.9, "params_hash": "an-earlier-run"}}
    for name, content in metrics.items():
        (folder / "metrics" / f"{name}.json").write_text(json.dumps({"params_hash": digest, **content}))
    if table3:
        pd.DataFrame([{"exp": 5, "method": "PDT + SVM", "duration": 4.0, "paper_ua": 56.33, "ua": ua, "wa": 50.0,
                       "f1": 40.0, "corpus": "synthetic"}]).to_csv(folder / "table3.csv", index=False)
    return folder


def test_collect_reads_cells_of_some_notebooks_from_their_metrics(tmp_path):
    study = studies.load_study(write_study(tmp_path, grid={"pdt_lam": [0.9, 1]}, notebooks=["01", "02", "03", "04"]))
    for k, values in enumerate(study.cells().values()):
        fake_cell(values, ua=50.0 + k, val=60.0 + k, probe=55.0 + k)
    cells = studies.collect(study)
    assert list(cells["cell"]) == ["lam0.9-loso5-seed0", "lam0.9-loso5-seed1", "lam1-loso5-seed0", "lam1-loso5-seed1"]
    assert (cells["exp"] == 5).all()  # row 1's file is from another run: not this cell's
    assert cells["ua"].tolist() == [50.0, 51.0, 52.0, 53.0] and cells["val_ua"].tolist() == [60.0, 61.0, 62.0, 63.0]
    assert cells["probe_val_ua"].tolist() == [55.0, 56.0, 57.0, 58.0] and (cells["corpus"] == "synthetic").all()
    assert cells["chosen_passes"].tolist() == [0, 3200, 3200, 3200]  # the first kept its untrained encoder
    assert cells["point"].tolist() == ["lam0.9", "lam0.9", "lam1", "lam1"]
    assert cells["pdt_lam"].tolist() == [0.9, 0.9, 1, 1]
    assert {"pdt_margin", "pdt_mode", "max_passes", "pdt_batch_size"} <= set(cells.columns)

    plain = studies.load_study(write_study(tmp_path, study="plain"))  # no grid: table3.csv, no point columns
    for values in plain.cells().values():
        fake_cell(values, ua=70.0, val=71.0, probe=72.0, table3=True)
    cells = studies.collect(plain)
    assert cells["ua"].tolist() == [70.0, 70.0] and cells["val_ua"].tolist() == [71.0, 71.0]
    assert "point" not in cells and list(cells.columns)[:10] == ["cell", "seed", "fold", "exp", "method", "duration",
                                                                 "paper_ua", "ua", "wa", "f1"]


TABLE2_POINTS = {  # point: (m, λ, pairing, cap in passes, test UA of seeds 0-2, validation UA of seeds 0-2)
    "m0.1-lam0": (0.1, 0.0, "in-batch", 20000, [50, 52, 51], [55, 55, 55]),
    "m0.1-lam0.9": (0.1, 0.9, "in-batch", 20000, [60, 61, 62], [60, 60, 60]),
    "m0.1-lam1": (0.1, 1.0, "in-batch", 20000, [55, 55, 56], [58, 58, 58]),
    "m0.2-lam0": (0.2, 0.0, "in-batch", 20000, [50, 52, 51], [55, 55, 55]),
    "m0.2-lam0.9": (0.2, 0.9, "in-batch", 20000, [63, 64, 66], [62, 63, 64]),
    "m0.2-lam1": (0.2, 1.0, "in-batch", 20000, [54, 54, 54], [57, 57, 57]),
    "m0.1-lam0.9-sampled": (0.1, 0.9, "sampled", 20000, [57, 57, 59], [70, 70, 70]),  # best on validation: a variant
    "m0.1-lam0.9-passes640": (0.1, 0.9, "in-batch", 640, [52, 53, 55], [50, 50, 50]),
}


def table2_cells() -> pd.DataFrame:
    rows = []
    for point, (m, lam, mode, passes, test, val) in TABLE2_POINTS.items():
        for seed, (ua, v) in enumerate(zip(test, val)):
            rows.append({"cell": f"{point}-loso{seed + 3}-seed0", "seed": 0, "fold": f"loso:{seed + 3}", "exp": 5,
                         "method": "PDT + SVM", "duration": 4.0, "paper_ua": 56.33, "ua": float(ua), "wa": 50.0,
                         "f1": 50.0, "corpus": "synthetic", "val_ua": float(v), "probe_val_ua": v - 1.0,
                         # λ 0's seed 0 kept the untrained encoder (step 0); every other cell a trained one
                         "chosen_passes": 0 if (point, seed) == ("m0.1-lam0", 0) else 3200, "point": point,
                         "pdt_margin": m, "pdt_lam": lam, "pdt_mode": mode, "max_passes": passes,
                         "pdt_batch_size": 32})
    return pd.DataFrame(rows)


def test_table2_chooses_on_validation_and_pairs_the_comparisons():
    from pdtlib.study import table2 as study_table2

    cells = table2_cells()
    table = study_table2.settings(cells).set_index("point")
    assert list(table.index) == list(TABLE2_POINTS)
    assert table["table2"].tolist() == [True] * 6 + [False, False]  # the pairing variants are not Table 2's
    assert table.index[table["paper"]].tolist() == ["m0.1-lam0.9"]
    assert table.index[table["chosen"]].tolist() == ["m0.2-lam0.9"]  # not the sampled variant, higher as it is
    half = 4.302652729911275 / np.sqrt(3)  # t(0.975, 2) * sd (1) / sqrt(3)
    paper = table.loc["m0.1-lam0.9"]
    assert (paper["ua_mean"], paper["ua_sd"], paper["ua_n"]) == (pytest.approx(61.0), pytest.approx(1.0), 3)
    assert (paper["ua_low"], paper["ua_high"]) == pytest.approx((61 - half, 61 + half))
    assert paper["val_ua_mean"] == 60.0 and paper["probe_val_ua_mean"] == 59.0 and paper["note"] == studies.FEW_NOTE
    assert table["untrained"].to_dict() == {p: int(p == "m0.1-lam0") for p in TABLE2_POINTS}
    assert "chosen_passes" not in study_table2.setting_columns(cells)  # a result, not a setting
    assert table["pairs_cap"].to_dict() == {**{p: 310000 for p in list(TABLE2_POINTS)[:6]},
                                                "m0.1-lam0.9-sampled": 9984, "m0.1-lam0.9-passes640": 9920}
    diffs = study_table2.comparisons(cells, table.reset_index()).set_index("comparison")
    assert list(diffs.index) == [
        "paper's best − λ 0 (m 0.1)", "paper's best − λ 1 (m 0.1)", "chosen on validation − paper's best",
        "in-batch − sampled, same encoder passes (20,000), m 0.1, λ 0.9",
        "in-batch − sampled, same pairs (9,920 and 9,984), m 0.1, λ 0.9"]
    assert diffs["mean_diff"].tolist() == pytest.approx([10.0, 17 / 3, 10 / 3, 10 / 3, -13 / 3])
    assert (diffs["n"] == 3).all() and (diffs["folds"] == 3).all()
    same_passes = diffs.loc["in-batch − sampled, same encoder passes (20,000), m 0.1, λ 0.9"]
    assert (same_passes["a"], same_passes["b"]) == ("m0.1-lam0.9", "m0.1-lam0.9-sampled")
    best = diffs.loc["paper's best − λ 0 (m 0.1)"]  # 10, 9, 11 on three folds
    assert (best["low"], best["high"]) == pytest.approx((10 - half, 10 + half))
    words = study_table2.in_words(table.reset_index())
    assert words.startswith("Chosen on validation: m 0.2, λ 0.9") and "The paper's best, m 0.1, λ 0.9" in words


def test_table2_is_written_from_cells_csv_with_its_heatmap(tmp_path):
    folder = write_cells(tmp_path / "study-table2", table2_cells())
    assert studies.main(["table2", str(folder)]) == 0
    table = pd.read_csv(folder / "table2.csv").set_index("point")
    assert table.at["m0.2-lam0.9", "chosen"] and table.at["m0.1-lam0.9", "paper"]
    assert len(pd.read_csv(folder / "table2_paired.csv")) == 5
    text = (folder / "table2.md").read_text()
    assert "# Table 2: the PDT's m and λ, study `study-table2`" in text
    assert "| m0.2-lam0.9 " in text and "chosen on validation" in text and "paper's best" in text
    assert "61.00 ± 1.00 [58.52, 63.48]" in text and "+10.00 [+7.52, +12.48]" in text and "variant" in text
    assert "Untrained kept" in text and "untrained encoder (step 0)" in text
    for suffix in ("png", "svg"):
        assert (folder / "figures" / f"table2.{suffix}").stat().st_size > 1000
    fig = study_figures.plot_table2(pd.read_csv(folder / "table2.csv"))
    ax = fig.axes[0]
    outlines = [p for p in ax.patches if not p.get_fill()]
    assert [p.get_label() for p in outlines] == ["chosen on validation", "paper's best (m 0.1, λ 0.9)"]
    assert outlines[0].get_xy() == pytest.approx((1.03, 1.03))  # λ 0.9 (column 1), m 0.2 (row 1)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.9", "1"]
    texts = [t.get_text() for t in ax.texts]
    assert "61.0 ± 1.0\nval 60.0\nn 3" in texts  # the paper's best: its mean, sd between cells, val, n
    with pytest.raises(SystemExit, match="Table 2 needs a grid study's cells"):
        studies.main(["table2", str(write_cells(tmp_path / "plain", hand_made_cells()))])
