"""The training budget (pdtlib.training.trainer): validation sets a run's length (early stopping after
`patience` evaluations without improvement), the cap is in encoder passes, the same for both
methods, a resumed run stops where an uninterrupted one does, and the notes say when a budget
binds or training did not help."""

import json

import pandas as pd
import pytest
import torch

from pdtlib.report.pipeline.selection import training_notes
from pdtlib.training.configs import UNDERFIT_ACC
from pdtlib.training.train import ClassifierTrainer, train_classifier, train_pdt

from test_train import assert_same_state, classifier_config, final_state, pdt_config, synthetic_features


@pytest.fixture(scope="module")
def features():
    return synthetic_features(sizes=(64, 32, 8))


def test_validation_stops_a_run_before_the_cap_and_a_resume_stops_at_the_same_step(features, tmp_path):
    # the synthetic classes separate within a few steps: validation UA stops improving long before the cap
    config = pdt_config(max_passes=400 * 16, eval_every=2, patience=3, min_epochs=0)
    whole = train_pdt(features, config, tmp_path / "whole")
    log = whole.log
    assert whole.completed and whole.stopped == "patience" and whole.steps < config.total_steps
    # it stops at the first evaluation with 3 since the best and its training data fit (UNDERFIT_ACC)
    after = (log["step"] > whole.best["step"]).cumsum()
    ready = (after >= 3) & (log["train_acc"] >= UNDERFIT_ACC)
    assert ready.iloc[-1] and not ready.iloc[:-1].any() and log["step"].iloc[-1] == whole.steps
    assert whole.passes == whole.steps * 16 and list(log["passes"]) == list(log["step"] * 16)

    train_pdt(features, config, tmp_path / "resumed", stop_after=whole.steps - 3)
    resumed = train_pdt(features, config, tmp_path / "resumed", resume=True)
    assert (resumed.steps, resumed.stopped) == (whole.steps, "patience")
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "resumed"))


def test_no_run_stops_before_min_epochs_and_step_0_is_never_kept(features, tmp_path):
    # the run of the test above stops by patience well before 30 epochs (64 training rows at 16 a
    # step: 4 steps an epoch); with min_epochs 30 the same run goes on to step 120 at least
    short = train_pdt(features, pdt_config(max_passes=400 * 16, eval_every=2, patience=3, min_epochs=0), tmp_path / "a")
    config = pdt_config(max_passes=400 * 16, eval_every=2, patience=3, min_epochs=30)
    long = train_pdt(features, config, tmp_path / "b")
    assert short.steps < 120 <= long.steps < config.total_steps and long.stopped == "patience"
    assert (long.log["step"] > long.best["step"]).sum() >= 3
    # the untrained model is logged (where the curves start) but never the weights kept
    for run in (short, long):
        assert run.log["step"].iloc[0] == 0 and run.best["step"] > 0
    # a cap below min_epochs wins: patience never ends the run before the cap (20 steps)
    capped = train_pdt(features, pdt_config(max_passes=20 * 16, eval_every=2, patience=1, min_epochs=30), tmp_path / "c")
    assert capped.steps == 20


def test_no_run_stops_by_patience_before_it_fits_its_training_data(features, tmp_path):
    # at a learning rate of 1e-9 neither model learns: validation never improves, so patience alone
    # would stop each run after 2 evaluations; below UNDERFIT_ACC training accuracy it goes on to the cap
    for name, train, config in [
            ("pdt", train_pdt, pdt_config(lr=1e-9, max_passes=24 * 16, eval_every=2, patience=2, min_epochs=0)),
            ("classifier", train_classifier,
             classifier_config(lr=1e-9, max_passes=24 * 16, eval_every=2, patience=2, min_epochs=0,
                               train_splits=("train",), select_on="val_ua"))]:
        run = train(features, config, tmp_path / name)
        acc = run.log["train_acc"].dropna()
        assert (acc < UNDERFIT_ACC).all() and (run.stopped, run.steps) == ("cap", 24), name
        assert (run.log["step"] > run.best["step"]).sum() > 2, name  # patience alone would have stopped it
    # a run that fits its training data still stops by patience: the test above's run, lr 1e-3
    fitted = train_pdt(features, pdt_config(max_passes=400 * 16, eval_every=2, patience=3, min_epochs=0),
                       tmp_path / "fitted")
    assert fitted.stopped == "patience" and fitted.log["train_acc"].dropna().iloc[-1] >= UNDERFIT_ACC


def test_without_patience_a_run_goes_to_the_cap_in_encoder_passes(features, tmp_path):
    pdt = train_pdt(features, pdt_config(max_passes=10 * 16, eval_every=5, patience=0), tmp_path / "pdt")
    assert (pdt.stopped, pdt.steps, pdt.passes) == ("cap", 10, 160)
    # the same cap in passes gives the sampled PDT (2 passes a pair) half the steps
    sampled = train_pdt(features, pdt_config(mode="sampled", max_passes=160, eval_every=5, patience=0), tmp_path / "s")
    assert (sampled.steps, sampled.passes) == (5, 160)
    classifier = train_classifier(features, classifier_config(max_passes=160, eval_every=5, patience=0), tmp_path / "c")
    assert (classifier.stopped, classifier.passes) == ("cap", 160)


def test_warmup_raises_the_learning_rate_linearly(features, tmp_path):
    trainer = ClassifierTrainer(features, classifier_config(lr=1e-3, warmup=4), tmp_path, torch.device("cpu"))
    rates = []
    for step in range(6):
        trainer.fit_batch(step)
        rates.append(trainer.optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])


def log_of(values, train_acc=0.99, steps=None):
    steps = steps or [25 * i for i in range(len(values))]
    return pd.DataFrame({"step": steps, "val_ua": values, "train_loss": [1.0 - 0.1 * i for i in range(len(values))],
                         "train_acc": train_acc})


def chosen_at(log, i):
    return {"step": int(log["step"].iloc[i]), "metric": "val_ua", "value": float(log["val_ua"].iloc[i])}


def test_notes_say_when_training_did_not_help_or_a_budget_binds():
    flat = log_of([0.55, 0.50, 0.52, 0.54])  # the PDT: step 0 is the untrained encoder, never chosen
    notes = training_notes(flat, chosen_at(flat, 3), "patience")
    assert any("best validation UA 54.0% (step 75) is not above the untrained encoder's 55.0% (step 0)" in n
               for n in notes)
    assert not any("untrained" in n for n in training_notes(flat, chosen_at(flat, 0) | {"value": 0.56}, "patience"))

    rising = log_of([0.40, 0.50, 0.60, 0.70])
    notes = training_notes(rising, chosen_at(rising, 3), "cap", max_passes=40_000)
    assert any("came at the last evaluation, at the cap of 40,000 encoder passes" in n and "raise max_passes" in n
               for n in notes)
    assert training_notes(rising, chosen_at(rising, 3), "patience") == []

    never = log_of([0.60, 0.60, 0.58], steps=[25, 50, 75])  # a classifier: no step-0 row
    assert any("never rose above its first value (60.0%)" in n for n in training_notes(never, chosen_at(never, 0), "patience"))

    underfit = log_of([0.40, 0.50, 0.60], train_acc=UNDERFIT_ACC - 0.2)
    assert any("under-fit" in n for n in training_notes(underfit, chosen_at(underfit, 2), "patience"))
    # the traditional row scores its final run (train + val, the passes chosen): its accuracy is what counts
    chosen = chosen_at(rising, 1) | {"passes": 1600}
    assert any("final run's training accuracy at the end 0.66 < 0.9 (1,600 passes on train + val" in n
               for n in training_notes(rising, chosen, "patience", final={"train_acc": 0.66, "passes": 1600}))
    assert not any("under-fit" in n for n in training_notes(underfit, chosen, "patience",
                                                            final={"train_acc": 0.95, "passes": 1600}))


def test_the_traditional_final_run_trains_at_least_min_epochs_of_train_and_val(features, tmp_path):
    # The final run keeps no checkpoint, so validation cannot stop it; it trains the passes its
    # selection run chose, and no fewer than min_epochs epochs of train + val (the fair length every
    # run gets): 96 utterances x 10 epochs = 960 passes = 30 steps of 32.
    from types import SimpleNamespace

    from pdtlib.report.params import load as load_params
    from pdtlib.report.pipeline.selection import train_baseline
    from pdtlib.report.summaries import selection_text

    def params(min_epochs):
        return SimpleNamespace(**load_params("params/default.yaml", [
            "encoder_channels=[4,4,4,4,4]", "baseline_batch_size=32", "max_passes=1600", "eval_every=2",
            "patience=2", f"min_epochs={min_epochs}", "precision=fp32"]))

    chosen, final = train_baseline(tmp_path / "floor", params(10), features)
    assert chosen["final"]["floor"] == 96 * 10
    assert chosen["passes"] < 960 and chosen["final"]["passes"] == 960  # the floor set the length
    assert final.steps == chosen["final"]["passes"] // 32 and len(final.log) > 0
    assert selection_text(chosen).endswith("; final run 960 passes = 10.0 epochs of train + val, weights averaged "
                                           "(decay 0.99)")  # params/default.yaml's baseline_weight_average
    # the selection run keeps the checkpoint validation chose: its config averages nothing
    (selecting,) = (json.loads(f.read_text()) for f in (tmp_path / "floor").rglob("select_lr*/train.json"))
    assert selecting["config"]["weight_average"] == 0.0 and selecting["config"]["select_on"] == "val_ua"

    # min_epochs 0: the passes chosen on validation alone, as before
    chosen0, final0 = train_baseline(tmp_path / "none", params(0), features)
    assert chosen0["final"]["floor"] == 0 and chosen0["final"]["passes"] == chosen0["passes"]
    # baseline_weight_average 0: the final run's last weights, and the text says nothing of averaging
    last = SimpleNamespace(**{**vars(params(10)), "baseline_weight_average": 0.0})
    chosen_last, final_last = train_baseline(tmp_path / "last", last, features)
    assert selection_text(chosen_last).endswith("epochs of train + val")
    averaged, plain = (dict(f.model.named_parameters()) for f in (final, final_last))
    assert chosen_last["passes"] == chosen["passes"] and any(not torch.equal(averaged[k], plain[k]) for k in plain)
