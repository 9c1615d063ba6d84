"""A cross-corpus study at smoke size (issue 30): two tiny manifests, the in-corpus point beside the
cross-corpus one over two seeds, run as a study's cells are (report runs, notebooks 01-05), then
notebook 11_cross_corpus's tables and figure. A few minutes on two cores."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pdtlib import EMOTIONS
from pdtlib import study as studies
from pdtlib.study.cross_corpus import answers, drops, paired_cells
from pdtlib.system import paths


def manifest(folder: Path, speakers: dict, rate: int, per_class: int, seed: int) -> Path:
    """Noise wavs (0.4-1.3 s) of every class per speaker, and their manifest (speaker -> split)."""
    rng, rows = np.random.default_rng(seed), ["path,label,speaker,split"]
    for speaker, split in speakers.items():
        for label in EMOTIONS:
            for k in range(per_class):
                name = f"wav/{speaker}_{label}_{k}.wav"
                (folder / "wav").mkdir(parents=True, exist_ok=True)
                seconds = rng.uniform(0.4, 1.3)
                sf.write(folder / name, (0.1 * rng.standard_normal(int(seconds * rate))).astype(np.float32), rate,
                         subtype="PCM_16")
                rows.append(f"{name},{label},{speaker},{split}")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


@pytest.mark.slow
def test_a_smoke_cross_corpus_study_trains_on_one_corpus_and_tests_on_the_other(tmp_path):
    first = manifest(tmp_path / "alpha", {"a1": "train", "a2": "train", "a3": "val", "a4": "test"}, 16000, 3, 0)
    second = manifest(tmp_path / "beta", {"b1": "train", "b2": "val", "b3": "test"}, 22050, 2, 1)
    spec = tmp_path / "study-cross-tiny.yaml"
    spec.write_text(json.dumps({
        "study": "cross-tiny", "base": "params/smoke.yaml", "seeds": [0, 1], "folds": ["paper"],
        "notebooks": ["01", "02", "03", "04", "05"],
        "set": {"corpus": "manifest", "baseline_durations": [4.0], "manifest": str(first),
                "test_manifest": str(second)},
        "points": [{"name": "first", "test_manifest": ""}, {"name": "first-to-second", "test_manifest": "$test_manifest"}],
    }))
    study = studies.load_study(spec)
    assert study.is_cross_corpus() and len(study.cells()) == 4
    table = studies.run_study(study, use_ray=False, progress_enabled=False)
    assert (table["status"] == "complete").all(), table["error"].tolist()

    folder = paths.reports_dir() / "cross-tiny"
    ids = {name: set(pd.read_csv(csv)["path"].map(lambda p: Path(p).stem)) for name, csv in
           (("first", first), ("second", second))}
    cross = pd.read_csv(folder / "first-to-second-paper-seed0" / "work" / "corpus.csv")
    assert set(cross.loc[cross["split"] == "test", "utterance_id"]) == ids["second"]  # every utterance of beta
    assert set(cross.loc[cross["split"] != "test", "utterance_id"]) <= ids["first"]  # trained on alpha alone
    within = pd.read_csv(folder / "first-paper-seed0" / "work" / "corpus.csv")
    assert set(within.loc[within["split"] != "test", "utterance_id"]) == set(
        cross.loc[cross["split"] != "test", "utterance_id"])  # the same training and validation rows
    record = json.loads((folder / "first-to-second-paper-seed0" / "run.json").read_text())
    assert record["corpus"]["test"]["balance"] == "all" and record["corpus"]["test"]["utterances"] == 24

    cells = studies.collect(study)
    pairs = paired_cells(cells)
    assert set(pairs["train"]) == {"alpha"} and set(pairs["test"]) == {"beta"} and set(pairs["seed"]) == {0, 1}
    assert set(pairs["exp"]) == {1, 5, 6, 7}
    table, answer = drops(pairs), answers(pairs)
    assert (table["drop_n"] == 2).all() and np.allclose(table["drop_mean"], table["in_mean"] - table["cross_mean"])
    assert len(answer) == 1 and answer.loc[0, "cross_n"] == 2

    studies.summarise_notebook(study)  # notebook 11_cross_corpus
    assert (folder / "cross_corpus.md").exists() and (folder / "cross_corpus_answer.md").exists()
    assert (folder / "figures" / "cross_corpus.png").exists() and (folder / "cells.csv").exists()
    assert "alpha → beta" in (folder / "cross_corpus.md").read_text()
