"""A trained model (a bundle, serving.bundle) on audio files: their 256-D vectors, or emotions and
SVM scores, returned with what was done to the audio and what could not be read. Prints nothing.

    from pdtlib.serving.predict import predict_files
    result = predict_files("reports/default", ["clip.wav", "recordings/", "my_corpus.csv"])
    print(result.table())              # utterance_id, path, [label], predicted, a score per emotion, warning
    print(*result.failures, sep="\n")  # "FILE: REASON" for each input skipped
    result.vectors, result.notes       # (N, 256) float32; ["3 files resampled from 44100 Hz to 16000 Hz", ...]

INPUTS (serving.inputs): audio files, folders and manifest CSVs.

AUDIO (serving.inference): any rate and channel count, resampled to the model's 16 kHz and averaged
to mono; audio longer than the model's duration is cropped from the start as in training, or with
`segments=True` cut into windows whose vectors are averaged; only the part used is read. A
near-silent or very short file is kept, with its `warnings`. The notes, the files' warnings and
the failures are kept in one `log`, in the order met (what `pdt` prints on stderr).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..system.precision import check as check_precision
from .inputs import Failure, Item, Note, collect_inputs

# serving.bundle and serving.inference (torch: seconds to import) are imported where they are used, so
# that importing this module (as `pdt --help` does) stays instant.
if TYPE_CHECKING:
    from .bundle import Bundle


@dataclass
class Embeddings:
    """What embed_files returns: one row per file read, in input order."""

    bundle: Bundle
    items: list[Item]  # the files read; row i of `vectors` is items[i]'s
    vectors: np.ndarray  # (N, embedding_dim) float32
    log: list[Note | Failure]  # in the order met: the bundle's notes, the inputs', the audio's

    @property
    def notes(self) -> list[str]:
        return [note.text for note in self.log if isinstance(note, Note)]

    @property
    def failures(self) -> list[Failure]:
        return [failure for failure in self.log if isinstance(failure, Failure)]

    @property
    def warnings(self) -> dict[str, tuple[str, ...]]:
        """Each file with warnings (by its path as given) -> the warnings; its row is kept."""
        return {item.shown: item.warnings for item in self.items if item.warnings}

    def table(self) -> pd.DataFrame:
        """utterance_id, path, [label, speaker, split when any file has one], warning ('' or the
        file's warnings joined by '; '): the per-row columns vectors.write_vectors takes."""
        return pd.DataFrame({"utterance_id": [i.utterance_id for i in self.items],
                             "path": [str(i.path) for i in self.items],
                             **{c: [getattr(i, c) for i in self.items] for c in self._known_columns()},
                             "warning": ["; ".join(i.warnings) for i in self.items]})

    def _known_columns(self) -> list[str]:
        return [c for c in ("label", "speaker", "split") if any(getattr(i, c) for i in self.items)]


@dataclass
class Predictions(Embeddings):
    """What predict_files returns: Embeddings plus each file's emotion and SVM scores."""

    predicted: list[str]  # one of bundle.labels per row
    scores: np.ndarray  # (N, len(bundle.labels)) SVM decision scores (Bundle.predict_vectors); NaN: a class unseen

    def table(self) -> pd.DataFrame:
        """utterance_id, path, [label when a manifest gave one], predicted, one score column per
        label (bundle.labels order), warning."""
        rows = super().table()
        return pd.DataFrame({"utterance_id": rows["utterance_id"], "path": rows["path"],
                             **({"label": rows["label"]} if "label" in rows else {}), "predicted": self.predicted,
                             **{label: self.scores[:, k] for k, label in enumerate(self.bundle.labels)},
                             "warning": rows["warning"]})

    def accuracy(self) -> dict | None:
        """evaluate.evaluate_predictions (ua, wa, n, ...) when every file came with a label (a
        manifest), else None."""
        if not self.items or not all(item.label for item in self.items):
            return None
        from ..evaluation.evaluate import evaluate_predictions

        index = {label: k for k, label in enumerate(self.bundle.labels)}
        return evaluate_predictions(pd.Series([item.label for item in self.items]).map(index),
                                    pd.Series(self.predicted).map(index))


def embed_files(bundle_or_path, inputs, *, segments: bool = False, batch_size: int = 32,
                precision: str | None = None) -> Embeddings:
    """The 256-D vector of every audio file in `inputs` (files, folders, manifest CSVs; one path or
    a list) by the bundle (a Bundle, or a run folder, run name or bundle folder: bundle.find_bundle).
    `segments`: average the vectors of consecutive windows over each whole file instead of using
    its first window. `batch_size` files are read and windows encoded at a time. Files that cannot
    be read are left out and listed in `failures`; raises bundle.BundleError for an unusable model.
    `precision` (auto, fp32, bf16; pdtlib.system.precision): default the one the model was trained in."""
    return _embeddings(bundle_or_path, inputs, segments, batch_size, precision, desc="pdt embed")


def predict_files(bundle_or_path, inputs, *, segments: bool = False, batch_size: int = 32,
                  precision: str | None = None) -> Predictions:
    """embed_files, then the SVM's emotion and per-emotion decision scores of each file."""
    embedded = _embeddings(bundle_or_path, inputs, segments, batch_size, precision, desc="pdt predict")
    predicted, scores = embedded.bundle.predict_vectors(embedded.vectors)
    return Predictions(**vars(embedded), predicted=predicted, scores=scores)


def _embeddings(bundle_or_path, inputs, segments: bool, batch_size: int, precision: str | None,
                desc: str) -> Embeddings:
    from .inference import embed_items  # torch: only once there is audio to embed

    bundle = _loaded(bundle_or_path)
    if precision is not None:
        bundle = dataclasses.replace(bundle, precision=check_precision(precision))
    log: list[Note | Failure] = [Note(note) for note in bundle.notes]
    items = collect_inputs([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs, log)
    done, vectors = embed_items(bundle, items, segments=segments, batch_size=batch_size, log=log, desc=desc)
    return Embeddings(bundle, done, vectors, log)


def _loaded(bundle_or_path) -> Bundle:
    from .bundle import Bundle, load_bundle

    return bundle_or_path if isinstance(bundle_or_path, Bundle) else load_bundle(bundle_or_path)
