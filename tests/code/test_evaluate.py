import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix

from pdtlib import EMOTIONS
from pdtlib.evaluation.evaluate import (PAPER_TABLE3, UA_DEFINITION, WA_DEFINITION, classification_summary,
                                        compare_with_paper, evaluate_predictions, fit_svm, largest_confusions,
                                        linear_probe, quality_notes, tsne, unweighted_accuracy, weighted_accuracy)


def blobs(n_per_class, split, rng, spread=0.5, dim=16):
    centers = np.eye(4, dim) * 4.0  # four well separated class centres
    y = np.repeat(np.arange(4), n_per_class)
    x = centers[y] + spread * rng.standard_normal((len(y), dim))
    return x, y, np.full(len(y), split)


def dataset(seed=0, spread=0.5):
    rng = np.random.default_rng(seed)
    parts = [blobs(30, "train", rng, spread), blobs(10, "val", rng, spread), blobs(10, "test", rng, spread)]
    return tuple(np.concatenate(p) for p in zip(*parts))


SMALL_GRID = [{"svc__kernel": ["linear"], "svc__C": [0.1, 1.0]},
              {"svc__kernel": ["rbf"], "svc__C": [1.0], "svc__gamma": ["scale"]}]


def test_ua_and_wa_differ_for_a_majority_class_predictor():
    # 8 neutral, 1 happy, 1 angry; everything predicted neutral.
    y_true = np.array([2] * 8 + [0, 1])
    y_pred = np.full(10, 2)
    assert weighted_accuracy(y_true, y_pred) == pytest.approx(0.8)  # 8 / 10
    assert unweighted_accuracy(y_true, y_pred) == pytest.approx(1 / 3)  # (0 + 0 + 1) / 3 classes
    assert "recall" in UA_DEFINITION and "balanced_accuracy_score" in UA_DEFINITION
    assert "accuracy_score" in WA_DEFINITION


def test_evaluate_predictions_hand_computed():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3])
    y_pred = np.array([0, 0, 1, 3, 1, 0, 2, 3, 3, 2])
    out = evaluate_predictions(y_true, y_pred)
    assert out["confusion"].tolist() == [[2, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 2]]
    assert out["recall"] == pytest.approx({"happy": 0.5, "angry": 0.5, "neutral": 1.0, "sad": 2 / 3})
    assert out["ua"] == pytest.approx((0.5 + 0.5 + 1 + 2 / 3) / 4)
    assert out["ua"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert out["wa"] == pytest.approx(0.6)
    np.testing.assert_allclose(out["confusion_normalized"].sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(out["confusion_normalized"]), list(out["recall"].values()))


def test_absent_class_row_is_zero_and_recall_nan():
    out = evaluate_predictions([0, 0, 1, 2], [0, 1, 1, 2])
    assert out["confusion"].shape == (4, 4)
    assert np.isnan(out["recall"]["sad"]) and out["confusion_normalized"][3].sum() == 0
    assert out["ua"] == pytest.approx((0.5 + 1 + 1) / 3)


def test_classification_summary():
    summary = classification_summary(confusion_matrix([0, 0, 1, 2, 3], [0, 1, 1, 2, 2], labels=range(4)))
    assert list(summary.index) == list(EMOTIONS)
    assert summary["support"].tolist() == [2, 1, 1, 1]
    assert summary.loc["neutral", "precision"] == pytest.approx(0.5)
    assert summary.loc["sad", "recall"] == 0 and np.isnan(summary.loc["sad", "precision"])


def test_fit_svm_separable_blobs():
    x, y, s = dataset()
    result = fit_svm(x, y, s, param_grid=SMALL_GRID)
    assert result.val_ua >= 0.95
    test = s == "test"
    assert unweighted_accuracy(y[test], result.pipeline.predict(x[test])) >= 0.95
    assert isinstance(result.cv_results, pd.DataFrame) and len(result.cv_results) == 3
    assert set(result.best_params) >= {"svc__kernel", "svc__C"}
    svc = result.pipeline.named_steps["svc"]
    assert svc.class_weight == "balanced" and not hasattr(result.pipeline, "predict_proba")
    assert result.pipeline.decision_function(x[:3]).shape == (3, 4)


def test_fit_svm_never_sees_test_rows():
    x, y, s = dataset()
    test = s == "test"
    spoiled_x, spoiled_y = x.copy(), y.copy()
    spoiled_x[test] = 1e6  # absurd vectors and shuffled labels on test rows
    spoiled_y[test] = np.roll(y[test], 1)
    clean = fit_svm(x, y, s, param_grid=SMALL_GRID)
    spoiled = fit_svm(spoiled_x, spoiled_y, s, param_grid=SMALL_GRID)
    assert clean.best_params == spoiled.best_params and clean.val_ua == spoiled.val_ua
    scaler = spoiled.pipeline.named_steps["scaler"]
    assert scaler.n_samples_seen_ == (~test).sum()
    np.testing.assert_allclose(scaler.mean_, clean.pipeline.named_steps["scaler"].mean_)
    # one fold: fit on the train rows, scored on the val rows, nothing else
    assert "split0_test_score" in spoiled.cv_results and "split1_test_score" not in spoiled.cv_results


def test_validation_ua_is_a_train_fit_scored_on_val():
    x, y, s = dataset(spread=3.0)  # overlapping classes, so val UA is well below 1
    result = fit_svm(x, y, s, param_grid=SMALL_GRID, refit_on=("train",))
    val = s == "val"
    assert 0.3 < result.val_ua < 1.0
    assert result.val_ua == pytest.approx(unweighted_accuracy(y[val], result.pipeline.predict(x[val])))


@pytest.mark.parametrize("refit_on", [("train", "val"), ("train",)])
def test_refit_on(refit_on):
    x, y, s = dataset()
    result = fit_svm(x, y, s, param_grid=SMALL_GRID, refit_on=refit_on)
    rows = np.isin(s, refit_on)
    scaler = result.pipeline.named_steps["scaler"]
    assert scaler.n_samples_seen_ == rows.sum()
    np.testing.assert_allclose(scaler.mean_, x[rows].mean(axis=0))
    assert result.refit_on == refit_on


def test_refit_on_rejects_test():
    x, y, s = dataset()
    with pytest.raises(ValueError):
        fit_svm(x, y, s, refit_on=("train", "test"))


def test_tsne_deterministic_on_20_points():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20, 256))
    a, b = tsne(vectors, seed=3), tsne(vectors, seed=3)
    assert a.shape == (20, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)


def test_compare_with_paper():
    assert [r["paper_ua"] for r in PAPER_TABLE3] == [51.09, 54.71, 53.26, 55.36, 56.33]
    table = compare_with_paper(pd.DataFrame({"exp": [1, 5], "ua": [50.0, 60.0]}))
    assert len(table) == 5 and table["ua"].isna().sum() == 3
    assert table.loc[table["exp"] == 5, "diff"].item() == pytest.approx(60.0 - 56.33)
    with pytest.raises(ValueError, match="percent"):
        compare_with_paper(pd.DataFrame({"exp": [1], "ua": [0.5]}))


def test_macro_f1_and_classes_predicted_hand_computed():
    y_true, y_pred = [0, 0, 1, 1, 2, 3], [0, 1, 1, 1, 2, 2]
    m = evaluate_predictions(y_true, y_pred)
    # F1: happy 2/3 (p 1, r 1/2), angry 4/5 (p 2/3, r 1), neutral 2/3 (p 1/2, r 1), sad 0 (never predicted)
    assert m["f1"] == pytest.approx((2 / 3 + 4 / 5 + 2 / 3 + 0) / 4)
    assert m["classes_predicted"] == 3


def test_quality_notes_name_weak_results_without_failing():
    good = evaluate_predictions([0, 1, 2, 3] * 5, [0, 1, 2, 3] * 5)
    assert quality_notes(good) == []
    collapsed = evaluate_predictions([0, 1, 2, 3] * 5, [1] * 20)
    notes = quality_notes(collapsed)
    assert any("within 5 points of chance" in n for n in notes)
    assert any("predicts 1 of 4 classes on test (never happy, neutral, sad)" in n for n in notes)


def test_linear_probe_scores_validation_vectors():
    x, y, s = dataset()
    train, val = s == "train", s == "val"
    scores = linear_probe(x[train], y[train], x[val], y[val])
    assert scores["val_ua"] > 0.95 and set(scores) == {"val_ua", "val_wa", "val_f1"}
    shuffled = np.random.default_rng(0).permutation(y[train])  # labels that say nothing about the vectors
    assert linear_probe(x[train], shuffled, x[val], y[val])["val_ua"] < 0.5


def test_largest_confusions_are_row_shares_in_order():
    counts = [[6, 4, 0, 0],   # happy: 40% taken for angry
              [1, 9, 0, 0],   # angry: 10% for happy
              [0, 0, 5, 5],   # neutral: 50% for sad
              [0, 0, 0, 10]]
    assert largest_confusions(counts, 2) == [("neutral", "sad", 0.5), ("happy", "angry", 0.4)]
    assert len(largest_confusions(counts, 10)) == 3  # only the confusions that happened
