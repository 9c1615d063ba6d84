"""Table 3 and the protocol line from hand-made metrics: what a reader of a report sees."""

import json

import numpy as np
import pandas as pd
import pytest

from pdtlib.report import params as parameters
from pdtlib.evaluation import evaluate
from pdtlib.report import pipeline
from pdtlib.system.runs import run_dir, write_metrics


def table(splits_speakers: dict, sessions: bool) -> pd.DataFrame:
    rows = []
    for split, speakers in splits_speakers.items():
        for k, speaker in enumerate(speakers):
            rows.append({"utterance_id": f"{speaker}_{k}", "label": "happy", "speaker": speaker, "split": split,
                         "session": (k + 1) if sessions else "", "duration_s": 2.0 + k})
    return pd.DataFrame(rows)


def test_the_protocol_names_sessions_or_else_speakers():
    iemocap = table({"train": ["Ses01F", "Ses02M"], "val": ["Ses03F"], "test": ["Ses04M"]}, sessions=True)
    iemocap["session"] = [1, 2, 4, 5]
    assert pipeline.protocol(iemocap, svm_refit_on="train+val") == \
        "sessions: train 1,2 / val 4 / test 5; svm refit on train+val"
    manifest = table({"train": ["03", "08", "09"], "val": ["13"], "test": ["15", "16"]}, sessions=False)
    assert pipeline.protocol(manifest) == "speakers: train 03,08,09 / val 13 / test 15,16"
    read_back = manifest.assign(session=float("nan"))  # work/corpus.csv without sessions reads back as NaN
    assert pipeline.protocol(read_back) == "speakers: train 03,08,09 / val 13 / test 15,16"


def test_the_padding_note_says_how_much_is_padding():
    short = pd.DataFrame({"duration_s": [2.0, 2.0, 2.0, 5.5]})
    note = pipeline.padding_note(short, [4.0, 7.0])
    assert note.startswith("Utterances shorter than the clip and padded to it (75% at 4 s, 100% at 7 s)")
    assert "At 7 s more than three quarters of the utterances are padded" in note  # 4 s is the PDT's: never named
    assert "three quarters" not in pipeline.padding_note(pd.DataFrame({"duration_s": [6.0, 8.0]}), [4.0, 7.0])


def confusion(predicted_classes: int, n: int = 8) -> list:
    """A 4x4 confusion whose predictions fall into the first `predicted_classes` columns."""
    counts = np.zeros((4, 4), dtype=int)
    for c in range(4):
        counts[c, min(c, predicted_classes - 1)] = n
    return counts.tolist()


def test_table3_has_seven_rows_with_choices_scores_and_notes(tmp_path):
    run = run_dir("tables")
    write_metrics(run, "data", {"corpus": "manifest", "durations": [4.0, 7.0]})
    metrics = {"traditional_4s": (0.62, 3), "traditional_7s": (0.31, 1), "pdt_svm": (0.70, 4),
               "traditional_encoder_svm": (0.66, 4), "egemaps_svm": (0.69, 4)}
    for name, (ua, classes) in metrics.items():
        counts = confusion(classes)
        m = {"ua": ua, "wa": ua + 0.01, "f1": ua - 0.02, "classes_predicted": classes, "confusion": counts,
             "selection": f"chosen for {name}", "protocol": "speakers: train a / val b / test c"}
        m["notes"] = evaluate.quality_notes(m)
        write_metrics(run, name, m)
    write_metrics(run, "traditional_5s", {"ua": 0.5, "wa": 0.5, "notes": []})  # stale: 5 s is not in this run
    p = parameters.resolve({**parameters.defaults(), "run": "tables", "baseline_durations": [4.0, 7.0]})
    t3 = pipeline.table3(run, p)
    assert list(t3["exp"]) == [1, 2, 3, 4, 5, 6, 7]
    assert t3.set_index("exp")["ua"].to_dict() == pytest.approx(
        {1: 62.0, 2: np.nan, 3: np.nan, 4: 31.0, 5: 70.0, 6: 66.0, 7: 69.0}, nan_ok=True)
    assert t3.loc[t3["exp"] == 4, "notes"].item() == (
        "Exp 4 (traditional, 7 s): predicts 1 of 4 classes on test (never angry, neutral, sad)")
    text = pipeline.write_table3(run, t3, notes=("a note of the caller",)).read_text()
    assert "| Chosen on validation" in text and "chosen for egemaps_svm" in text and "eGeMAPS + SVM" in text
    assert "- Corpus: manifest; speakers: train a / val b / test c; seed 0." in text
    assert "- a note of the caller" in text and "- Exp 4 (traditional, 7 s): predicts 1 of 4" in text
    assert "macro-F1" in text
    assert json.loads((run / "metrics" / "pdt_svm.json").read_text())["ua"] == 0.70


def test_a_single_value_for_a_list_parameter_becomes_a_grid():
    assert parameters.load("params/default.yaml", ["pdt_lr=1e-4", "baseline_lr=0.01"])["pdt_lr"] == [1e-4]
    assert parameters.resolve({**parameters.defaults(), "baseline_lr": 0.01}).baseline_lr == [0.01]
    with pytest.raises(ValueError, match="--set: encoder_input_norm = 3 is a number; it must be a str"):
        parameters.load("params/default.yaml", ["encoder_input_norm=3"])


def test_every_parameter_reaches_a_config_field_by_the_naming_rule():
    """One name per setting: a parameter is <prefix><field> of one config, a shared name set in every
    config that has the field, a grid of a field, or one of the few that steer the report itself."""
    import dataclasses

    from pdtlib.report.pipeline.configs import GRIDS, PREFIXES, SHARED

    report_level = {"smoke", "run", "corpus", "iemocap_root", "manifest", "split", "baseline_durations",
                    "test_manifest", "test_balance"}
    fields = {prefix + f.name for prefix, cls in PREFIXES.items() for f in dataclasses.fields(cls)}
    shared = {f.name for cls in PREFIXES.values() for f in dataclasses.fields(cls)} & set(SHARED)
    for key in parameters.defaults():
        assert key in report_level | fields | shared | set(GRIDS) | {"duration", "pad"}, key
    # and a value set in the file arrives in the field
    from types import SimpleNamespace

    p = SimpleNamespace(**{**parameters.defaults(), "pdt_lam": 0.5, "patience": 2, "encoder_input_norm": "bins"})
    built = pipeline.build(p)
    assert built["pdt"][0].lam == 0.5 and built["pdt"][0].patience == 2 == built["baseline"][0].patience
    assert built["encoder"].input_norm == "bins" == built["pdt"][0].encoder.input_norm
