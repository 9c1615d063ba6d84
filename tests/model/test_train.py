"""Training: real learning on a tiny synthetic set in seconds, exact resume, determinism, errors.

The features are class-dependent synthetic spectrograms (a class-specific band of 30 bins
raised over noise), 1 s long (T = 100) so that a tiny encoder trains in about a second.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from pdtlib import EMOTIONS
from pdtlib.corpora.cache import load_features
from pdtlib.corpora import load_iemocap
from pdtlib.corpora.synthetic import SyntheticConfig, generate_corpus
from pdtlib.training.checkpoints import load_checkpoint, load_encoder
from pdtlib.features import FeatureConfig, FeatureSet
from pdtlib.training.inference import embed, predict
from pdtlib.models import DiscriminatorConfig, EncoderConfig
from pdtlib.system.precision import resolve
from pdtlib.training.configs import ClassifierConfig, PDTConfig
from pdtlib.training.train import ClassifierTrainer, train_classifier, train_pdt

TINY = EncoderConfig(channels=(4, 8, 8, 8, 8), embedding_dim=32)
TINY_DISC = DiscriminatorConfig(embedding_dim=32, hidden=32)


def synthetic_features(sizes=(64, 32, 32), frames=100, shift=1.0, seed=0, splits=("train", "val", "test")):
    rng = np.random.default_rng(seed)
    rows, spectrograms = [], []
    for split, n in zip(splits, sizes):
        for i in range(n):
            c = i % 4
            x = rng.normal(-5.0, 2.0, (257, frames)).astype(np.float32)
            x[20 + 50 * c: 50 + 50 * c] += shift
            spectrograms.append(x)
            rows.append({"utterance_id": f"{split}_{i:03d}", "path": f"/nowhere/{split}_{i:03d}.wav",
                         "label": EMOTIONS[c], "speaker": f"{split}-{i % 2}", "session": split, "gender": "F",
                         "split": split, "duration_s": frames / 100})
    return FeatureSet(np.stack(spectrograms).astype(np.float16), pd.DataFrame(rows),
                      FeatureConfig(duration=frames / 100))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The tiny models run hundreds of small ops per step; on a shared 2-core machine two
    # threads spend more time waiting for each other at every op than computing.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def features():
    return synthetic_features()


def budget(steps: int, evals: int = 1, passes_per_step: int = 16) -> dict:
    """A run of exactly `steps` steps (no early stopping) with `evals` evaluations spread over them;
    16 passes a step: in-batch or a classifier at batch 16 (sampled pairs: 32)."""
    return dict(max_passes=steps * passes_per_step, eval_every=max(1, steps // evals), patience=0)


def epochs(n: int, pool: int = 64) -> dict:
    """A classifier run of `n` epochs of a `pool`-row training split at batch 16, evaluated after each."""
    return budget(n * (pool // 16), n)


def pdt_config(**kw):
    base = dict(encoder=TINY, discriminator=TINY_DISC, mode="in-batch", lr=3e-3, batch_size=16, eval_pairs=2000,
                **budget(40, 4))
    return PDTConfig(**{**base, **kw})


def classifier_config(**kw):
    return ClassifierConfig(**{**dict(encoder=TINY, lr=3e-3, batch_size=16, **epochs(6)), **kw})


def final_state(run_dir) -> dict:
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    return {"model": ckpt["model"], "optimizer": ckpt["optimizer"]["state"], "step": ckpt["step"]}


def assert_same_state(a: dict, b: dict):
    assert a["step"] == b["step"]
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for p in a["optimizer"]:
        for key, value in a["optimizer"][p].items():
            assert torch.equal(value, b["optimizer"][p][key]), (p, key)


@pytest.mark.parametrize("mode, steps, pairs, passes", [("in-batch", 40, 40 * 120, 16), ("sampled", 80, 80 * 16, 32)])
def test_pdt_learns(features, tmp_path, mode, steps, pairs, passes):
    result = train_pdt(features, pdt_config(mode=mode, **budget(steps, 4, passes)), tmp_path)
    log = result.log
    assert list(log["pairs_seen"]) == [0, pairs // 4, pairs // 2, 3 * pairs // 4, pairs]
    assert log["train_loss"].iloc[-1] < 0.5 * log["train_loss"].iloc[1]
    assert log["val_acc"].iloc[0] < 0.75  # untrained: about the 2/3 of always answering "different"
    assert log["val_acc"].max() > 0.9 and log["val_pair_acc"].max() > 0.9
    assert result.completed and result.best == {"step": int(log.loc[log["val_ua"].idxmax(), "step"]),
                                                "metric": "val_ua", "value": log["val_ua"].max()}
    assert log["val_ua"].max() > 0.9  # the linear probe on val vectors: what the SVM will be asked
    assert (tmp_path / "log.csv").exists() and (tmp_path / "best.pt").exists() and (tmp_path / "train.json").exists()
    assert "evaluation pairs" in result.notes[0]
    vectors = embed(result.encoder, features, features.indices("test"))
    assert vectors.shape == (32, 32) and not result.model.training  # returned in eval mode


def test_checkpoints_load_with_weights_only(features, tmp_path):
    train_pdt(features, pdt_config(**budget(8, 1)), tmp_path)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizer", "step", "rng", "sampler", "config", "running", "best"} <= set(ckpt)
    assert ckpt["step"] == 8 and ckpt["sampler"]["position"] == 8 and ckpt["config"]["mode"] == "in-batch"
    # the config as given, with `auto` precision resolved to the one the run used
    assert PDTConfig(**ckpt["config"]) == pdt_config(**budget(8, 1), precision=resolve("auto", "cpu"))
    assert torch.load(tmp_path / "best.pt", weights_only=True)["best"]["metric"] == "val_ua"


@pytest.mark.parametrize("mode", ["in-batch", "sampled"])
def test_interrupted_and_resumed_equals_uninterrupted(features, tmp_path, mode):
    config = pdt_config(mode=mode, **budget(12, 3, 16 if mode == "in-batch" else 32))
    train_pdt(features, config, tmp_path / "whole")
    whole = final_state(tmp_path / "whole")
    assert whole["step"] == 12

    # stopped on purpose between log points (log points at steps 4, 8, 12), then resumed
    stopped = train_pdt(features, config, tmp_path / "stopped", stop_after=6)
    assert not stopped.completed and stopped.steps == 6
    resumed = train_pdt(features, config, tmp_path / "stopped", resume=True)
    assert resumed.completed and resumed.events == ["resumed at step 6 of 12"]
    assert resumed.notes == train_pdt(features, config, tmp_path / "whole", resume=True).notes  # what a report keeps
    assert_same_state(whole, final_state(tmp_path / "stopped"))
    pd.testing.assert_frame_equal(resumed.log.drop(columns=["elapsed_s"]),
                                  train_pdt(features, config, tmp_path / "whole", resume=True).log.drop(
                                      columns=["elapsed_s"]), check_exact=False, rtol=1e-5)

    # a crash at step 7: the run resumes from its last checkpoint (step 4)
    def crash(step, metrics):
        if step == 7:
            raise RuntimeError("injected failure")

    with pytest.raises(RuntimeError, match="injected"):
        train_pdt(features, config, tmp_path / "crashed", callback=crash)
    assert load_checkpoint(tmp_path / "crashed" / "checkpoint.pt")["step"] == 4
    train_pdt(features, config, tmp_path / "crashed", resume=True)
    assert_same_state(whole, final_state(tmp_path / "crashed"))


@pytest.mark.parametrize("name", ["checkpoint.pt", "best.pt"])
def test_a_truncated_checkpoint_is_named_with_what_to_do(features, tmp_path, name):
    from pdtlib.training.checkpoints import CheckpointError

    config = pdt_config(**budget(4, 2))
    train_pdt(features, config, tmp_path, stop_after=2)  # step 2's evaluation keeps best.pt (step 0 never)
    path = tmp_path / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    load = {"checkpoint.pt": lambda: train_pdt(features, config, tmp_path, resume=True),
            "best.pt": lambda: load_encoder(path)}[name]
    with pytest.raises(CheckpointError, match=f"checkpoint {path} cannot be read .*truncated.*Delete it"):
        load()


def test_same_seed_same_weights_other_seed_other_weights(features, tmp_path):
    config = pdt_config(**budget(5, 1))
    train_pdt(features, config, tmp_path / "a")
    train_pdt(features, config, tmp_path / "b")
    assert_same_state(final_state(tmp_path / "a"), final_state(tmp_path / "b"))
    train_pdt(features, pdt_config(**budget(5, 1), seed=1), tmp_path / "c")
    assert not torch.equal(final_state(tmp_path / "a")["model"]["encoder.fc.weight"],
                           final_state(tmp_path / "c")["model"]["encoder.fc.weight"])


def test_resume_refuses_another_configuration(features, tmp_path):
    train_pdt(features, pdt_config(**budget(2)), tmp_path, stop_after=1)
    with pytest.raises(ValueError, match="lr: checkpoint 0.003, now 0.001"):
        train_pdt(features, pdt_config(**budget(2), lr=1e-3), tmp_path, resume=True)


def test_resume_refuses_other_features_and_auto_starts_afresh(features, tmp_path):
    """A finished run must not be handed back for features that changed (even by one value)."""
    config = pdt_config(**budget(2))
    first = train_pdt(features, config, tmp_path)
    changed = np.array(features.features)
    changed[0, 0, 0] += 1  # one spectrogram value
    other = FeatureSet(changed, features.table, features.config)
    assert other.fingerprint() != features.fingerprint()
    with pytest.raises(ValueError, match="data: other features"):
        train_pdt(other, config, tmp_path, resume=True)
    again = train_pdt(other, config, tmp_path, resume="auto")
    assert again.completed and again.steps == first.steps and "started afresh" in again.events[-1]
    assert train_pdt(other, config, tmp_path, resume=True).events[-1].startswith("resumed at step")


@pytest.mark.parametrize("make, match", [
    (lambda: pdt_config(lam=1.2), r"lam .*1\.2.*\[0, 1\]"),
    (lambda: pdt_config(lam=-0.5), r"lam .*\[0, 1\]"),
    (lambda: pdt_config(margin=1.0), r"margin .*\[0, 1\)"),
    (lambda: pdt_config(margin=-0.1), r"margin"),
    (lambda: pdt_config(batch_size=1), r"batch_size = 1 .*>= 2"),
    (lambda: pdt_config(mode="triplet"), r"mode"),
    (lambda: classifier_config(batch_size=1), r"batch_size = 1 .*>= 2"),
    (lambda: classifier_config(train_splits=("train", "test")), r"train_splits"),
    (lambda: classifier_config(weight_average=1.0), r"weight_average = 1\.0 .*\[0, 1\)"),
])
def test_bad_settings_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_checkpoints_record_the_features_they_were_trained_on(tmp_path):
    """The input duration is the features' alone (no second copy in the training configs to
    disagree with it); every checkpoint carries the FeatureConfig, so a reader feeds it right."""
    longer = synthetic_features(sizes=(32, 16), frames=150, splits=("train", "val"))  # 1.5 s
    train_pdt(longer, pdt_config(**budget(1)), tmp_path / "pdt")
    train_classifier(longer, classifier_config(**epochs(1)), tmp_path / "classifier")
    for name in ("pdt/best.pt", "pdt/checkpoint.pt", "classifier/checkpoint.pt"):
        encoder, info = load_encoder(tmp_path / name)
        assert info["features"] == longer.config.to_dict() and info["features"]["duration"] == 1.5
        assert embed(encoder, longer).shape == (48, 32)
    assert "duration" not in PDTConfig().to_dict() and "duration" not in ClassifierConfig().to_dict()


def test_an_empty_split_raises(tmp_path):
    no_val = synthetic_features(sizes=(32, 16), splits=("train", "test"))
    with pytest.raises(ValueError, match=r"'val' split is empty"):
        train_pdt(no_val, pdt_config(), tmp_path)
    only_test = synthetic_features(sizes=(16,), splits=("test",))
    with pytest.raises(ValueError, match=r"'train\+val' split is empty"):
        train_classifier(only_test, classifier_config(), tmp_path)


def test_classifier_learns_and_resumes_exactly(features, tmp_path):
    config = classifier_config(**epochs(6, pool=96))  # train + val
    result = train_classifier(features, config, tmp_path / "whole")
    log = result.log
    assert list(log["epoch"]) == [1, 2, 3, 4, 5, 6] and log["passes"].iloc[-1] == 6 * 96 == result.passes
    assert log["train_loss"].iloc[-1] < 0.3 * log["train_loss"].iloc[0]
    test = features.indices("test")
    assert (predict(result.model, features, test) == features.labels[test]).mean() > 0.7  # chance 0.25

    train_classifier(features, config, tmp_path / "resumed", stop_after=8)
    train_classifier(features, config, tmp_path / "resumed", resume=True)
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "resumed"))


def test_embed_is_batch_independent_and_leaves_train_mode(features, tmp_path):
    result = train_pdt(features, pdt_config(**budget(4, 1)), tmp_path)
    encoder = result.encoder.train()
    rows = features.indices("val")
    big = embed(encoder, features, rows, batch_size=32)
    small = embed(encoder, features.features, rows, batch_size=3)
    np.testing.assert_allclose(big, small, atol=1e-5, rtol=1e-4)
    assert encoder.training


def test_memmapped_float16_features_train_as_in_memory_ones(features, tmp_path):
    np.save(tmp_path / "features.npy", features.features)
    mapped = FeatureSet(np.load(tmp_path / "features.npy", mmap_mode="r"), features.table, features.config)
    config = pdt_config(**budget(3, 1))
    train_pdt(features, config, tmp_path / "memory")
    train_pdt(mapped, config, tmp_path / "mapped")
    assert_same_state(final_state(tmp_path / "memory"), final_state(tmp_path / "mapped"))


def test_classifier_takes_the_feature_sets_duration(tmp_path):
    longer = synthetic_features(sizes=(32, 16), frames=150, splits=("train", "val"))  # 1.5 s, T = 150
    result = train_classifier(longer, classifier_config(**epochs(1, pool=48)), tmp_path)
    assert result.completed and result.steps == 48 // 16
    assert predict(result.model, longer).shape == (48,)


# ---------------------------------------------------------------- batch norm and real speech (issue 9)

def batchnorm_gaps(encoder, features, rows) -> list[tuple[float, float]]:
    """Per BN layer: (largest |running mean - mean| in standard deviations, largest |log var ratio|)
    between its running statistics and the statistics of its inputs over `rows` at these weights."""
    bns = [m for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    seen = {k: [] for k in range(len(bns))}
    hooks = [bn.register_forward_hook(lambda m, i, o, k=k: seen[k].append(i[0].detach())) for k, bn in enumerate(bns)]
    embed(encoder, features, rows)  # eval mode: the running statistics are used, the inputs recorded
    for hook in hooks:
        hook.remove()
    gaps = []
    for k, bn in enumerate(bns):
        inputs = torch.cat(seen[k])  # (N, C, F, T)
        mean, var = inputs.mean(dim=(0, 2, 3)), inputs.var(dim=(0, 2, 3))
        gaps.append((float(((bn.running_mean - mean).abs() / var.sqrt()).max()),
                     float((bn.running_var / var).log().abs().max())))
    return gaps


def test_batchnorm_statistics_are_those_of_the_final_weights(features, tmp_path):
    """Training's running averages trail weights that keep moving (exponential average over the
    last ~10 steps); eval mode must normalise with the statistics of the final weights."""
    result = train_classifier(features, classifier_config(), tmp_path / "recalibrated")
    rows = features.indices("train", "val")
    for mean_gap, var_gap in batchnorm_gaps(result.model.encoder, features, rows):
        assert mean_gap < 0.05 and var_gap < 0.1  # var: batch averages of within-batch variances
    lagging = train_classifier(features, classifier_config(recalibrate_bn=False), tmp_path / "running")
    assert max(g for g, _ in batchnorm_gaps(lagging.model.encoder, features, rows)) > 0.2  # the lag it removes


@pytest.fixture(scope="module")
def recorded_speech(tmp_path_factory):
    """The generated corpus at 2% of IEMOCAP (113 utterances): speech with per-speaker level and
    per-session microphone colour, 4 s log-spectrograms."""
    base = tmp_path_factory.mktemp("recorded")
    root = generate_corpus(SyntheticConfig(scale=0.02), root=base / "corpus", progress=False)
    return load_features(load_iemocap(root), FeatureConfig(duration=4.0), cache_root=base / "cache", progress=False)


@pytest.mark.parametrize("seed", [1, 2])
def test_eval_mode_agrees_with_training_accuracy_on_recorded_speech(recorded_speech, tmp_path, seed):
    """The traditional classifier's eval-mode predictions on its own training rows say what its
    training accuracy says (before the fix: 0.52 against 0.74 at seed 1, 0.51 against 0.65 at seed 2)."""
    config = ClassifierConfig(encoder=EncoderConfig(channels=(4, 8, 8, 8, 8)), lr=3e-3, batch_size=16, seed=seed,
                              **budget(6 * (len(recorded_speech.indices("train", "val")) // 16)))
    result = train_classifier(recorded_speech, config, tmp_path)
    rows = recorded_speech.indices("train", "val")
    eval_accuracy = (predict(result.model, recorded_speech, rows) == recorded_speech.labels[rows]).mean()
    assert eval_accuracy >= result.log["train_acc"].iloc[-1] - 0.1


def test_classifier_chooses_its_epoch_count_on_validation(features, tmp_path):
    config = classifier_config(train_splits=("train",), select_on="val_ua")
    result = train_classifier(features, config, tmp_path)
    log = result.log
    assert list(log["epoch"]) == [1, 2, 3, 4, 5, 6] and log["val_ua"].notna().all()  # no untrained row
    best = log.loc[log["val_ua"].idxmax()]
    assert result.best == {"step": int(best["step"]), "metric": "val_ua", "value": best["val_ua"]}
    val = features.indices("val")
    chosen_ua = balanced_accuracy(features.labels[val], predict(result.model, features, val))
    assert chosen_ua == pytest.approx(best["val_ua"])  # the returned model is the chosen epoch's
    assert not any("test" in column for column in log.columns)
    with pytest.raises(ValueError, match="without 'val' when selecting"):
        classifier_config(select_on="val_ua")  # train + val, selected on val: a leak


def balanced_accuracy(y_true, y_pred) -> float:
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def test_pdt_logs_both_selection_signals_and_can_select_on_pairs(features, tmp_path):
    result = train_pdt(features, pdt_config(**budget(8, 2), select_on="val_pair_acc"),
                       tmp_path)
    log = result.log
    assert {"val_ua", "val_wa", "val_f1", "val_pair_acc"} <= set(log.columns) and log["val_ua"].notna().all()
    assert result.best["metric"] == "val_pair_acc" and result.best["value"] == log["val_pair_acc"].max()


@pytest.mark.parametrize("train", [train_pdt, train_classifier])
def test_bins_normalisation_is_fit_on_training_rows_only(features, tmp_path, train):
    encoder = EncoderConfig(channels=(4, 8, 8, 8, 8), embedding_dim=32, input_norm="bins")
    if train is train_pdt:
        result = train(features, pdt_config(encoder=encoder, **budget(1)), tmp_path)
        rows = features.indices("train")
    else:
        result = train(features, classifier_config(encoder=encoder, **epochs(1)), tmp_path)
        rows = features.indices("train", "val")
    x = np.asarray(features.features[rows], dtype=np.float64)
    norm = result.model.encoder.input_norm
    np.testing.assert_allclose(norm.mean.numpy(), x.mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(norm.std.numpy(), x.std(axis=(0, 2)), rtol=1e-4)
    reloaded, _ = load_encoder(tmp_path / "checkpoint.pt")  # the statistics travel with the weights
    assert torch.equal(reloaded.input_norm.mean, norm.mean)


def test_a_run_that_keeps_no_checkpoint_returns_the_moving_average_of_its_weights(features, tmp_path):
    """The final run (train + val, no selection) returns avg_t = avg_{t-1} + r_t (w_t - avg_{t-1}),
    r_t = 1 - min(decay, (1 + t) / (10 + t)), from the initial weights over every step's weights."""
    decay = 0.9
    trainer = ClassifierTrainer(features, classifier_config(weight_average=decay, **epochs(3, pool=96)),
                                tmp_path, torch.device("cpu"))
    params = lambda: [q.detach().clone() for q in trainer.model.parameters()]  # noqa: E731
    average, last = params(), None

    def follow(step, metrics):
        nonlocal last
        last = params()
        rate = 1 - min(decay, step / (9 + step))  # the callback's step is the steps done: t + 1
        for a, w in zip(average, last):
            a += rate * (w - a)
    result = trainer.fit(callback=follow)
    returned = [q.detach() for q in result.model.parameters()]
    assert all(torch.allclose(a, r, atol=1e-6) for a, r in zip(average, returned))
    assert max((r - w).abs().max().item() for r, w in zip(returned, last)) > 1e-3  # not the last weights


def test_averaging_resumes_exactly_and_leaves_a_selecting_run_alone(features, tmp_path):
    config = classifier_config(weight_average=0.9, **epochs(3, pool=96))
    train_classifier(features, config, tmp_path / "whole")
    train_classifier(features, config, tmp_path / "resumed", stop_after=7)
    train_classifier(features, config, tmp_path / "resumed", resume=True)
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "resumed"))
    selecting = classifier_config(weight_average=0.9, train_splits=("train",), select_on="val_ua")
    assert ClassifierTrainer(features, selecting, tmp_path / "select", torch.device("cpu")).average is None
