"""Model bundles (pdtlib.serving.bundle): a real smoke-sized model saved, loaded and used on waveforms.

`build_tiny_bundle` is the one place a test model is made (tests/pipeline/test_cli.py loads it
from this file): the generated corpus at scale 0.02 (113 utterances), a 4-8-8-8-8 channel PDT
trained for 5 in-batch steps, the SVM of evaluate.fit_svm on its vectors, save_bundle. Every
step reuses what an earlier call left in `base`, so both test files share one build per session.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pdtlib import EMOTIONS
from pdtlib.audio import load_audio
from pdtlib.serving.bundle import (FORMAT, TRUSTED_TYPES, Bundle, BundleError, corpus_description, find_bundle,
                                   load_bundle, load_svm, save_bundle)
from pdtlib.serving.inference import embed_waves, segment_bounds
from pdtlib.evaluation.evaluate import evaluate_predictions, fit_svm
from pdtlib.features import FeatureConfig
from pdtlib.models import AudioEncoder, EncoderConfig


def build_tiny_bundle(base: Path) -> SimpleNamespace:
    """Corpus, features, trained encoder, fitted SVM and the bundle at base/run/model (reused when present)."""
    from pdtlib.corpora.cache import load_features
    from pdtlib.corpora import load_iemocap
    from pdtlib.corpora.synthetic import SyntheticConfig, generate_corpus
    from pdtlib.training.inference import embed
    from pdtlib.training.configs import PDTConfig
    from pdtlib.training.train import train_pdt

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: one thread is faster on the shared 2-core machine
    try:
        root = generate_corpus(SyntheticConfig(scale=0.02), root=base / "corpus", progress=False)
        table = load_iemocap(root)
        features = load_features(table, FeatureConfig(duration=4.0), cache_root=base / "cache", progress=False)
        config = PDTConfig(encoder=EncoderConfig(channels=(4, 8, 8, 8, 8)), mode="in-batch", lr=1e-3, batch_size=16,
                           max_passes=5 * 16, eval_every=5, patience=0, eval_pairs=500)
        result = train_pdt(features, config, base / "run" / "checkpoints" / "pdt", resume=True)
        encoder = result.encoder.eval()
        vectors = embed(encoder, features)
        labels, splits = features.labels, table["split"].to_numpy()
        svm = fit_svm(vectors, labels, splits)
        test = features.indices("test")
        m = evaluate_predictions(labels[test], svm.pipeline.predict(vectors[test]))
        metrics = {"ua": m["ua"], "wa": m["wa"], "n": m["n"], "recall": m["recall"], "confusion": m["confusion"],
                   "best_params": svm.best_params, "val_ua": svm.val_ua, "refit_on": "+".join(svm.refit_on)}
        model = base / "run" / "model"
        if not (model / "bundle.json").is_file():
            save_bundle(model, encoder=encoder, svm_pipeline=svm.pipeline, feature_config=features.config,
                        corpus=corpus_description(table, corpus="synthetic", source=str(root)), metrics=metrics,
                        extra={"pdt_config": config.to_dict()})
    finally:
        torch.set_num_threads(threads)
    return SimpleNamespace(run=base / "run", model=model, root=root, table=table, features=features,
                           encoder=encoder, svm=svm.pipeline, vectors=vectors, metrics=metrics)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: a second thread costs more in waiting than it computes
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return build_tiny_bundle(tmp_path_factory.getbasetemp() / "tiny-bundle")


@pytest.fixture(scope="module")
def bundle(tiny) -> Bundle:
    return load_bundle(tiny.run)


def waves_of(tiny, rows):
    return [load_audio(tiny.table.at[int(i), "path"]) for i in rows]


def copy_bundle(tiny, tmp_path) -> Path:
    return Path(shutil.copytree(tiny.model, tmp_path / "model"))


def rewrite_checksum(folder: Path, name: str) -> None:
    from pdtlib.corpora.table import sha256_file  # an attacker can update bundle.json as easily as the file

    info = json.loads((folder / "bundle.json").read_text())
    info["files"][name]["sha256"] = sha256_file(folder / name)
    (folder / "bundle.json").write_text(json.dumps(info))


# ---------------------------------------------------------------- round trip

def test_loaded_bundle_predicts_exactly_as_the_in_memory_model(tiny, bundle):
    from pdtlib.training.inference import embed

    vectors = embed(bundle.encoder, tiny.features)
    np.testing.assert_array_equal(vectors, tiny.vectors)
    predicted, scores = bundle.predict_vectors(vectors)
    assert predicted == [EMOTIONS[c] for c in tiny.svm.predict(tiny.vectors)]
    np.testing.assert_array_equal(scores[:, tiny.svm.classes_], tiny.svm.decision_function(tiny.vectors))
    assert scores.shape == (len(vectors), 4)


def test_bundle_json_describes_the_model(tiny, bundle):
    info = bundle.info
    assert info["format"] == FORMAT and info["labels"] == list(EMOTIONS) == list(bundle.labels)
    assert bundle.feature_config == tiny.features.config
    assert bundle.encoder_config.channels == (4, 8, 8, 8, 8) and info["encoder"]["flops"] > 0
    assert info["metrics"]["ua"] == tiny.metrics["ua"]
    assert info["metrics"]["confusion"] == tiny.metrics["confusion"].tolist()
    assert info["corpus"]["utterances"] == len(tiny.table)
    assert sum(info["corpus"]["counts"]["train"].values()) == 2 * (tiny.table["split"] == "train").sum()  # + total
    assert info["svm"]["steps"] == ["scaler: StandardScaler", "svc: SVC"]
    weights = torch.load(tiny.model / "encoder.pt", weights_only=True)  # tensors and plain values only
    assert set(weights["state_dict"]) == set(tiny.encoder.state_dict())
    assert weights["labels"] == info["labels"] and weights["features"] == info["features"]


def test_a_run_folder_a_bundle_folder_and_a_run_name_all_load(tiny, monkeypatch):
    assert find_bundle(tiny.run) == find_bundle(tiny.model) == find_bundle(tiny.model / "bundle.json") == tiny.model
    monkeypatch.setenv("PDT_REPORTS", str(tiny.run.parent))
    assert find_bundle("run") == tiny.model


def test_missing_or_incomplete_bundles_say_what_to_do(tmp_path):
    with pytest.raises(BundleError, match=r"no model bundle in .*x: run `make report` first"):
        load_bundle(tmp_path / "x")
    (tmp_path / "y" / "model").mkdir(parents=True)
    with pytest.raises(BundleError, match="incomplete model bundle"):
        load_bundle(tmp_path / "y")


# ---------------------------------------------------------------- waveforms in

def test_embed_waves_gives_the_vectors_of_the_training_features(tiny, bundle):
    rows = [0, 5, 17, 40]  # lengths above and below 4 s
    from pdtlib.training.inference import embed

    expected = embed(tiny.encoder, tiny.features, indices=rows)
    np.testing.assert_allclose(embed_waves(bundle, waves_of(tiny, rows)), expected, rtol=1e-4, atol=1e-5)


def test_bins_normalisation_travels_with_the_bundle(tiny, tmp_path):
    """An encoder that standardises each bin with training statistics: the bundle carries them,
    and embed_waves on the files gives the training features' vectors."""
    from pdtlib.training.inference import embed

    torch.manual_seed(0)
    encoder = AudioEncoder(EncoderConfig(channels=(4, 8, 8, 8, 8), input_norm="bins")).eval()
    encoder.input_norm.fit(tiny.features.features, tiny.features.indices("train"))
    folder = save_bundle(tmp_path / "model", encoder=encoder, svm_pipeline=tiny.svm,
                         feature_config=tiny.features.config, corpus={}, metrics={})
    loaded = load_bundle(folder)
    assert loaded.encoder_config.input_norm == "bins"
    assert torch.equal(loaded.encoder.input_norm.mean, encoder.input_norm.mean)
    rows = [0, 5, 17, 40]
    expected = embed(encoder, tiny.features, indices=rows)
    np.testing.assert_allclose(embed_waves(loaded, waves_of(tiny, rows)), expected, rtol=1e-4, atol=1e-5)


def test_batching_never_changes_a_vector(tiny, bundle):
    waves = waves_of(tiny, range(6))
    together = embed_waves(bundle, waves, batch_size=6)
    np.testing.assert_allclose(embed_waves(bundle, waves, batch_size=1), together, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(embed_waves(bundle, waves, segments=True, batch_size=4),
                               embed_waves(bundle, waves, segments=True, batch_size=1), rtol=1e-5, atol=1e-6)


def test_segments_average_consecutive_windows(tiny, bundle):
    cfg, sr = bundle.feature_config, 16000
    assert segment_bounds(10 * sr, cfg) == [(0, 4 * sr), (4 * sr, 4 * sr), (8 * sr, 2 * sr)]
    assert segment_bounds(int(8.5 * sr), cfg) == [(0, 4 * sr), (4 * sr, 4 * sr)]  # 0.5 s tail dropped
    assert segment_bounds(sr // 2, cfg) == [(0, sr // 2)]  # a short file is its only window
    wave = np.tile(np.concatenate(waves_of(tiny, [1, 2, 3])), 3)[: 10 * sr]
    pieces = embed_waves(bundle, [wave[:4 * sr], wave[4 * sr:8 * sr], wave[8 * sr:]])
    np.testing.assert_allclose(embed_waves(bundle, [wave], segments=True)[0], pieces.mean(0), rtol=1e-5, atol=1e-6)
    # default: the first 4 s
    np.testing.assert_allclose(embed_waves(bundle, [wave])[0], pieces[0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- saving safely

def test_an_interrupted_save_leaves_the_old_bundle_or_none(tiny, tmp_path, monkeypatch):
    import pdtlib.serving.bundle as module

    target = copy_bundle(tiny, tmp_path)
    before = (target / "bundle.json").read_text()

    class Interrupted(BaseException):  # as KeyboardInterrupt: not an Exception
        pass

    def crash(*args, **kwargs):
        raise Interrupted

    monkeypatch.setattr(module, "write_json", crash)
    args = dict(encoder=tiny.encoder, svm_pipeline=tiny.svm, feature_config=tiny.features.config, corpus={}, metrics={})
    for folder in (target, tmp_path / "fresh"):
        with pytest.raises(Interrupted):
            save_bundle(folder, **args)
    assert (target / "bundle.json").read_text() == before and not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folders left
    monkeypatch.undo()
    save_bundle(target, **args)  # replaces the old bundle
    assert load_bundle(target).info["metrics"] == {} and sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="not a model bundle"):
        save_bundle(tmp_path / "other", **args)


def test_changed_files_are_refused(tiny, tmp_path):
    folder = copy_bundle(tiny, tmp_path)
    with open(folder / "encoder.pt", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="does not match the SHA-256"):
        load_bundle(folder)


def test_an_encoder_file_with_more_than_tensors_is_refused(tiny, tmp_path):
    folder = copy_bundle(tiny, tmp_path)
    torch.save({**tiny.encoder.state_dict(), "run": os.system}, folder / "encoder.pt")
    rewrite_checksum(folder, "encoder.pt")
    with pytest.raises(BundleError, match="holds more than tensors"):
        load_bundle(folder)


def test_untrusted_types_are_refused_before_anything_is_built(tiny, tmp_path, monkeypatch):
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    assert sio.get_untrusted_types(file=tiny.model / "svm.skops") == [] and TRUSTED_TYPES == ()
    folder = copy_bundle(tiny, tmp_path)
    scaler, svc = tiny.svm.named_steps["scaler"], tiny.svm.named_steps["svc"]
    evil = Pipeline([("scaler", scaler), ("run", FunctionTransformer(os.system)), ("svc", svc)])
    sio.dump(evil, folder / "svm.skops")
    rewrite_checksum(folder, "svm.skops")
    monkeypatch.setattr(sio, "load", lambda *a, **k: pytest.fail("skops.io.load reached"))
    with pytest.raises(BundleError, match=r"not trusted: posix\.system"):
        load_bundle(folder)


def test_only_a_scaler_and_svc_pipeline_is_accepted(tiny, tmp_path):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "other.skops"
    sio.dump(LogisticRegression().fit(tiny.vectors, tiny.features.labels), path)  # trusted by skops, yet not ours
    with pytest.raises(BundleError, match=r"expected a Pipeline\(StandardScaler, SVC\)"):
        load_svm(path)


# ---------------------------------------------------------------- bundle.json against the weights

@pytest.mark.parametrize("edit, what", [
    (lambda info: info.update(labels=["angry", "happy", "neutral", "sad"]), "labels"),  # every happy becomes angry
    (lambda info: info["features"].update(duration=5.0), "features"),  # another input pipeline
    (lambda info: info["encoder"]["config"].update(input_norm="utterance"), "encoder"),  # no weights change shape
])
def test_an_edited_bundle_json_is_refused(tiny, tmp_path, edit, what):
    folder = copy_bundle(tiny, tmp_path)
    info = json.loads((folder / "bundle.json").read_text())
    edit(info)
    (folder / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match=f"bundle.json: {what} .* differ from those the model was saved with"):
        load_bundle(folder)


def test_a_format_1_bundle_still_loads_with_a_note(tiny, bundle, tmp_path):
    """Bundles saved before encoder.pt carried labels and configs: read as they are, and said so."""
    folder = copy_bundle(tiny, tmp_path)
    torch.save(torch.load(folder / "encoder.pt", weights_only=True)["state_dict"], folder / "encoder.pt")
    rewrite_checksum(folder, "encoder.pt")
    info = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({**info, "format_version": 1}))
    old = load_bundle(folder)
    assert len(old.notes) == 1 and "format-1 model bundle" in old.notes[0] and bundle.notes == ()
    waves = waves_of(tiny, [0, 5])
    np.testing.assert_array_equal(embed_waves(old, waves), embed_waves(bundle, waves))


# ---------------------------------------------------------------- on files: serving.predict, evaluation.vectors

def test_embed_files_and_write_vectors_keep_the_reports_npz_layout(tiny, capsys, tmp_path):
    import pandas as pd

    from pdtlib.serving.predict import embed_files
    from pdtlib.evaluation.vectors import write_vectors

    rows = tiny.table.iloc[::20]  # a filtered table: rows pair with vectors by position, not index
    rows[["path", "label", "speaker", "split"]].to_csv(tmp_path / "mine.csv", index=False)
    result = embed_files(tiny.model, [tmp_path / "mine.csv"], batch_size=2)
    assert capsys.readouterr() == ("", "") and result.failures == []
    assert list(result.table().columns) == ["utterance_id", "path", "label", "speaker", "split", "warning"]
    np.testing.assert_allclose(result.vectors, tiny.vectors[rows.index], rtol=1e-4, atol=1e-5)
    with open(tmp_path / "direct.npz", "wb") as f:  # artefacts.save_vectors' np.savez (work/vectors.npz)
        np.savez(f, vectors=result.vectors.astype(np.float32), utterance_id=rows["utterance_id"].to_numpy(str),
                 label=rows["label"].to_numpy(str), split=rows["split"].to_numpy(str),
                 speaker=rows["speaker"].astype(str).to_numpy(str))
    written = write_vectors(tmp_path / "v.npz", rows[["utterance_id", "label", "split", "speaker"]], result.vectors)
    assert written.read_bytes() == (tmp_path / "direct.npz").read_bytes()
    back = pd.read_parquet(write_vectors(tmp_path / "v.PARQUET", result.table(), result.vectors))
    np.testing.assert_array_equal(back[[f"v{k:03d}" for k in range(256)]].to_numpy(), result.vectors)
    with pytest.raises(ValueError, match="extension"):
        write_vectors(tmp_path / "v.txt", rows, result.vectors)
