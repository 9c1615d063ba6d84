"""A trained PDT + SVM as one self-describing folder, to use the model on any audio (paper §4.1:
the encoder's 256-D vectors classified by an SVM).

Notebook 04 writes `reports/<run>/model/`:

    bundle.json   what the model is: labels (EMOTIONS order), FeatureConfig, EncoderConfig, the
                  SVM's parameters, the training corpus, its test metrics (UA/WA), the files'
                  SHA-256, versions; written last
    encoder.pt    the AudioEncoder's state_dict with what it was trained for: the labels, the
                  FeatureConfig and the EncoderConfig as plain values (torch.save; read with
                  weights_only=True). bundle.json's copies are checked against these, so an edited
                  bundle.json (labels reordered, another duration) is refused, not silently obeyed.
    svm.skops     the fitted StandardScaler + SVC pipeline (skops: no pickle)

Loading runs no code from the files: torch reads tensors only, and skops builds only the types
it trusts by default (scikit-learn estimators, numpy arrays) plus `TRUSTED_TYPES` (none); a file
naming any other type is refused before it is loaded, and the loaded object must be exactly
Pipeline(StandardScaler, SVC). `save_bundle` writes into a hidden folder beside the target and
renames it into place, so an interrupted save never leaves a bundle that loads.

Using a bundle on waveforms is serving.inference's (embed_waves); on files, serving.predict's.
"""

from __future__ import annotations

import datetime as _dt
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skops.io as sio
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .. import EMOTIONS, __version__
from ..system import paths
from ..system.atomic import atomic_folder, atomic_path, remove_stale, write_json
from ..training.configs import from_dict
from ..corpora.table import sha256_file
from ..features import FeatureConfig
from ..models import AudioEncoder, EncoderConfig, flops
from ..system.runs import environment_record

FORMAT = "pdt-model-bundle"
FORMAT_VERSION = 2  # 2: encoder.pt carries the labels and configs bundle.json is checked against
BUNDLE_DIR = "model"  # reports/<run>/model/
INFO, ENCODER, SVM = "bundle.json", "encoder.pt", "svm.skops"

# Types a svm.skops may hold beyond skops' default trust (scikit-learn, numpy, scipy built-ins).
# Pipeline(StandardScaler, SVC) needs none; anything a file asks for on top is refused.
TRUSTED_TYPES: tuple[str, ...] = ()


class BundleError(ValueError):
    """A model bundle that is missing, incomplete, changed or unsafe; the message says which and what to do."""


@dataclass
class Bundle:
    encoder: AudioEncoder  # eval mode, on the CPU
    svm: object  # sklearn Pipeline(StandardScaler, SVC); classes_ index `labels`
    feature_config: FeatureConfig
    encoder_config: EncoderConfig
    labels: tuple[str, ...]
    info: dict  # bundle.json
    path: Path | None = None
    notes: tuple[str, ...] = ()  # what a user of this bundle should know (an older format)
    precision: str = "auto"  # the encoder's pass (system.precision): the one it was trained in, unless overridden

    @property
    def embedding_dim(self) -> int:
        return self.encoder_config.embedding_dim

    def predict_vectors(self, vectors) -> tuple[list[str], np.ndarray]:
        """`(n, 256)` vectors -> predicted emotions and `(n, len(labels))` SVM decision scores.

        The prediction is the SVM's `predict` (as the report's UA/WA); the scores are its one-vs-rest
        `decision_function` (votes plus a confidence in (-1/3, 1/3)), columns in `labels` order, so
        the predicted emotion has the top score except on an exact tie of votes. NaN marks a class
        the SVM never saw in training.
        """
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.embedding_dim:
            raise ValueError(f"predict_vectors expects (n, {self.embedding_dim}) vectors, got {x.shape}")
        scores = np.full((len(x), len(self.labels)), np.nan)
        if len(x) == 0:
            return [], scores
        classes = np.asarray(self.svm.classes_, dtype=np.int64)
        decision = self.svm.decision_function(x)
        if decision.ndim == 1:  # two classes: one score, positive for classes[1]
            decision = np.stack([-decision, decision], axis=1)
        scores[:, classes] = decision
        return [self.labels[int(c)] for c in self.svm.predict(x)], scores


def corpus_description(table, **info) -> dict:
    """What a model was trained on, for save_bundle's `corpus`: `info` (e.g. pipeline.corpus_table's
    corpus, source) plus utterances, speakers and utterances per split and class of `table`."""
    from ..corpora import SPLITS, counts  # the paper's Table 1 layout

    per_split = counts(table).drop(index="total", errors="ignore")
    speakers = table.groupby("split")["speaker"].nunique()
    return {**info, "utterances": int(len(table)),
            "speakers": {s: int(speakers[s]) for s in SPLITS if s in speakers.index},
            "counts": {str(s): {str(k): int(v) for k, v in row.items()} for s, row in per_split.iterrows()}}


def save_bundle(directory, *, encoder: AudioEncoder, svm_pipeline, feature_config: FeatureConfig, corpus: dict,
                metrics: dict, extra: dict | None = None, precision: str = "auto") -> Path:
    """Write the bundle folder `directory` (normally reports/<run>/model) and return its path.

    encoder:        the trained AudioEncoder (its config travels in bundle.json).
    svm_pipeline:   the fitted Pipeline(StandardScaler, SVC) of evaluate.fit_svm, trained on integer
                    labels indexing EMOTIONS.
    feature_config: the FeatureConfig of the features the encoder and SVM saw (duration, pad).
    corpus:         what it was trained on (see corpus_description); metrics: its scores (ua, wa, ...);
                    extra: anything else worth keeping. All three must be JSON-able (numpy is converted).
    precision:      the precision the encoder was trained in (its checkpoint's config): `pdt` embeds in it.
    An existing bundle at `directory` is replaced; any other non-empty folder there is refused.
    """
    directory = Path(directory)
    _check_pipeline(svm_pipeline, "save_bundle")
    if not isinstance(encoder, AudioEncoder):
        raise TypeError(f"save_bundle: encoder must be an AudioEncoder, got {type(encoder).__name__}")
    if directory.exists() and any(directory.iterdir()) and not (directory / INFO).is_file():
        raise BundleError(f"{directory} exists and is not a model bundle (no {INFO}); not overwriting it")
    remove_stale(directory.parent)  # what a save killed mid-way left
    with atomic_folder(directory, tag="saving") as tmp:
        with atomic_path(tmp / ENCODER) as f:
            torch.save(_weights_record(encoder, feature_config), f)
        with atomic_path(tmp / SVM) as f:
            sio.dump(svm_pipeline, f)
        svc = svm_pipeline.steps[-1][1]
        info = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "pdtlib_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "labels": list(EMOTIONS),
            "features": feature_config.to_dict(), "precision": precision,
            "encoder": {"config": encoder.config.to_dict(),
                        "parameters": int(sum(p.numel() for p in encoder.parameters())),
                        "flops": int(flops(encoder.config, feature_config.n_frames))},
            "svm": {"steps": [f"{name}: {type(step).__name__}" for name, step in svm_pipeline.steps],
                    **{k: _plain(v) for k, v in svc.get_params().items()
                       if k in ("kernel", "C", "gamma", "class_weight")},
                    "classes": _plain(svc.classes_), "n_support": _plain(svc.n_support_)},
            "corpus": _plain(corpus), "metrics": _plain(metrics), "extra": _plain(extra or {}),
            "files": {name: _file_record(tmp / name) for name in (ENCODER, SVM)},
            "environment": environment_record(),
        }
        write_json(tmp / INFO, info)  # last: a folder without it is never a bundle
    return directory


def _weights_record(encoder: AudioEncoder, feature_config: FeatureConfig) -> dict:
    """encoder.pt: the weights and what they were trained for, as plain values (weights_only loads them)."""
    return {"state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
            "labels": list(EMOTIONS), "features": _plain(feature_config.to_dict()),
            "encoder": _plain(encoder.config.to_dict())}


def _file_record(path: Path) -> dict:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def _plain(value):
    """numpy arrays and scalars, tuples and Paths -> JSON types, recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# ---------------------------------------------------------------- loading

def find_bundle(path) -> Path:
    """The bundle folder meant by `path`: a bundle folder, a report run folder holding model/, or a
    run name (reports/<name>). Raises BundleError saying what is missing."""
    given = Path(path).expanduser()
    candidates = [given]
    if not given.exists() and given.name == str(path):  # a bare name: a run under reports/
        candidates.append(paths.reports_dir() / given)
    for folder in candidates:
        if folder.is_file() and folder.name == INFO:
            return folder.parent
        for bundle in (folder, folder / BUNDLE_DIR):
            if (bundle / INFO).is_file():
                return bundle
    folder = next((c for c in candidates if c.exists()), candidates[-1])
    if (folder / BUNDLE_DIR).is_dir() or (folder.is_dir() and folder.name == BUNDLE_DIR):
        raise BundleError(f"{folder} holds an incomplete model bundle (no {INFO}): run notebook 04 "
                          f"(or `make report`) again")
    raise BundleError(f"no model bundle in {paths.shown(folder, Path.cwd())}: run `make report` first (notebook 04 writes "
                      f"reports/<run>/{BUNDLE_DIR}/), or give a run folder, a run name or a bundle folder")


def load_bundle(path) -> Bundle:
    """The Bundle at `path` (see find_bundle), checked: format, files' SHA-256, safe types, shapes."""
    folder = find_bundle(path)
    try:
        info = json.loads((folder / INFO).read_text())
    except ValueError as exc:
        raise BundleError(f"{folder / INFO} is not valid JSON ({exc}): save the bundle again") from exc
    if info.get("format") != FORMAT or not isinstance(info.get("format_version"), int):
        raise BundleError(f"{folder / INFO} is not a {FORMAT} description")
    if info["format_version"] > FORMAT_VERSION:
        raise BundleError(f"{folder} is a bundle of format {info['format_version']}, newer than this pdtlib reads "
                          f"({FORMAT_VERSION}): update pdt")
    for name in (ENCODER, SVM):
        record = info.get("files", {}).get(name, {})
        if not (folder / name).is_file():
            raise BundleError(f"{folder} lacks {name}: the bundle is incomplete; save it again")
        if record.get("sha256") != sha256_file(folder / name):
            raise BundleError(f"{folder / name} does not match the SHA-256 in {INFO}: the file was changed or "
                              "mixed with another bundle's; save the bundle again")

    try:
        encoder_config = from_dict(EncoderConfig, info["encoder"]["config"])
        feature_config = from_dict(FeatureConfig, info["features"])
        labels = tuple(info["labels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{folder / INFO} lacks or garbles the encoder, features or labels entry ({exc!r}): "
                          "save the bundle again") from exc
    try:
        weights = torch.load(folder / ENCODER, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's refusal of anything but tensors and plain containers
        raise BundleError(f"{folder / ENCODER} holds more than tensors, which weights_only loading refuses: "
                          "not loading it; it was not written by pdt") from exc
    notes = []
    if info["format_version"] >= 2:
        state = weights.get("state_dict") if isinstance(weights, dict) else None
        _cross_check(folder, weights, labels=list(labels), features=info["features"],
                     encoder=info["encoder"]["config"])
    else:  # format 1: encoder.pt is the bare state_dict; nothing to check bundle.json against
        state = weights
        notes.append(f"{paths.shown(folder, Path.cwd())} is a format-1 model bundle: its labels and feature "
                     f"settings come from {INFO} alone and cannot be checked against the weights; run "
                     "notebook 04 (or `make report`) again to save it in the current format")
    encoder = AudioEncoder(encoder_config)
    try:
        encoder.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise BundleError(f"{folder / ENCODER} does not hold the weights of the encoder bundle.json describes: "
                          f"{exc}") from exc
    svm = load_svm(folder / SVM)
    if not set(int(c) for c in svm.classes_) <= set(range(len(labels))):
        raise BundleError(f"{folder / SVM}: SVM classes {list(svm.classes_)} do not index the labels {labels}")
    return Bundle(encoder.eval(), svm, feature_config, encoder_config, labels, info, folder, tuple(notes),
                  precision=str(info.get("precision", "auto")))


def _cross_check(folder: Path, weights, **described) -> None:
    """bundle.json's labels, features and encoder config must be those encoder.pt was saved with:
    bundle.json carries no checksum of its own, and an edit there would relabel every prediction
    or change the input pipeline without a sign."""
    if not isinstance(weights, dict) or not isinstance(weights.get("state_dict"), dict):
        raise BundleError(f"{folder / ENCODER} lacks the state_dict a format-2 bundle holds: save the bundle again")
    for key, value in described.items():
        saved = weights.get(key)
        if _plain(saved) != _plain(value):
            raise BundleError(f"{folder / INFO}: {key} {value} differ from those the model was saved with, "
                              f"{saved} ({ENCODER}): {INFO} was edited. Refusing to use it; put back the "
                              f"saved values or save the bundle again")


def load_svm(path):
    """A Pipeline(StandardScaler, SVC) from a skops file, refusing any type outside skops' default
    trust and TRUSTED_TYPES before anything is built, and any other structure after."""
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # not a skops zip at all
        raise BundleError(f"{path} is not a readable skops file: {exc}") from exc
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise BundleError(f"{path} asks for types that are not trusted: {', '.join(unexpected)}. Refusing to load "
                          "it: a bundle written by pdt holds only scikit-learn's StandardScaler and SVC")
    pipeline = sio.load(path, trusted=list(TRUSTED_TYPES))
    _check_pipeline(pipeline, str(path))
    return pipeline


def _check_pipeline(pipeline, where: str) -> None:
    kinds = [type(step) for _, step in pipeline.steps] if type(pipeline) is Pipeline else None
    if kinds != [StandardScaler, SVC]:
        found = type(pipeline).__name__ + (f"({', '.join(k.__name__ for k in kinds)})" if kinds else "")
        raise BundleError(f"{where}: expected a Pipeline(StandardScaler, SVC) as evaluate.fit_svm makes, got {found}")
    if not hasattr(pipeline.steps[-1][1], "classes_"):
        raise BundleError(f"{where}: the SVM is not fitted")
