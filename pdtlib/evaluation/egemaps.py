"""eGeMAPS functionals: the classic hand-crafted reference for Table 3 ("eGeMAPS + SVM").

The extended Geneva Minimalistic Acoustic Parameter Set (eGeMAPS; Eyben, Scherer, Schuller,
Sundberg, André, Busso, Devillers, Epps, Laukka, Narayanan, Truong: "The Geneva Minimalistic
Acoustic Parameter Set (GeMAPS) for Voice Research and Affective Computing", IEEE Transactions
on Affective Computing 7(2), 2016) is a small, fixed set of acoustic descriptors chosen by
voice and emotion researchers for their physiological meaning and their track record in
affect recognition: pitch (F0 in semitones), jitter, shimmer, loudness, harmonics-to-noise
ratio, formants F1-F3 with bandwidths and amplitudes, spectral slopes, alpha ratio, Hammarberg
index, MFCC 1-4, spectral flux, plus rate and length statistics of voiced and unvoiced
segments. openSMILE's `eGeMAPSv02` configuration summarises those low-level descriptors over
a whole utterance as 88 functionals (means, coefficients of variation, percentiles, slopes).

It is the reference a speech-emotion paper is first compared to: it is standardised (one
published configuration, one implementation), needs no training, and its numbers for IEMOCAP
are widely reported, so "eGeMAPS + SVM" tells whether a learned representation (here PDT's
256-D vectors) beats a strong, well-known hand-crafted baseline under the same SVM protocol
(`pdtlib.evaluation.evaluate.fit_svm`).

Here each file is read with `pdtlib.audio.load_audio` (16 kHz mono float32) and processed
whole, not cropped to the paper's N seconds: functionals are statistics over the utterance.

Cache: computing costs about 60 ms per 4 s utterance, so the (N, 88) float32 matrix is stored
as one `.npz` per key under `paths.cache_dir()/egemaps/<key>.npz`. The key is built like the
spectrogram cache's (`pdtlib.corpora.cache`): SHA-256 over a header (EGEMAPS_FORMAT, the opensmile
package version, the feature set) and, per utterance in table order, (utterance_id, resolved
path, file size, mtime_ns, label, split): `corpora.table.fingerprint_key`; see pdtlib.corpora.cache
for what size + mtime does and does not detect. The file is written atomically
(`pdtlib.system.atomic.atomic_path`), so a reader never sees half of it.

Workers: `workers` processes (default: every CPU core; 1 computes in this process), each
building one openSMILE extractor at start. Worker processes are *spawned*, as in Python 3.14's
default on every platform: safe after torch or a progress-bar thread has started, at the price
of about a second to start them. A script calling `egemaps_features(..., workers>1)` therefore
needs the usual `if __name__ == "__main__":` guard; notebooks and the `pdt` command need nothing.
Every utterance is computed on its own, so the numbers do not depend on the worker count.
"""

from __future__ import annotations

import datetime as _dt
import json
import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..system import paths
from ..system.atomic import atomic_path
from ..audio import AudioError, load_audio
from ..corpora.table import file_fingerprints, fingerprint_key, validate_table
from ..system.progress import progress as progress_bar

# Bump when anything that shapes the stored numbers changes (sample rate, whole-file processing,
# NaN handling, stored layout): old cache files are then simply not at the new keys.
EGEMAPS_FORMAT = 1
FEATURE_SET = "eGeMAPSv02"
N_FEATURES = 88
SAMPLE_RATE = 16000
DTYPE = np.float32

_INSTALL_HINT = ("the 'eGeMAPS + SVM' row of Table 3 needs the opensmile package: "
                 "pip install opensmile  (or `pip install -e .` in the checkout, which lists it)")


def _opensmile():
    try:
        import opensmile
    except ImportError as exc:
        raise ImportError(f"opensmile is not installed: {_INSTALL_HINT}") from exc
    return opensmile


@lru_cache(maxsize=1)
def _smile():
    """One eGeMAPSv02 functionals extractor per process (built lazily, then reused)."""
    opensmile = _opensmile()
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


@lru_cache(maxsize=1)
def egemaps_names() -> tuple[str, ...]:
    """The 88 column names, in the order of egemaps_features' columns (openSMILE's feature_names)."""
    names = tuple(_smile().feature_names)
    if len(names) != N_FEATURES:
        raise RuntimeError(f"openSMILE's {FEATURE_SET} functionals have {len(names)} features, expected "
                           f"{N_FEATURES}; this opensmile version is not supported")
    return names


def egemaps_features(table: pd.DataFrame, *, cache_root=None, workers: int | None = None,
                     progress: bool | None = None) -> np.ndarray:
    """The eGeMAPSv02 functionals of `table`'s utterances: float32 `(len(table), 88)`, row i for `table.iloc[i]`.

    table:      an utterance table (pdtlib.corpora.table.COLUMNS).
    cache_root: the folder holding the `<key>.npz` files; default `paths.cache_dir()/egemaps`.
    workers:    processes computing features; default every CPU core; 1 = this process.
    progress:   show a progress bar while computing; None leaves it to pdtlib.system.progress.

    Columns are named by `egemaps_names()`. A second call with the same
    table (same files, sizes, mtimes, labels, splits) reads the cache and computes nothing.
    A missing or unreadable file raises its AudioError (the message names the file) and caches
    nothing. Non-finite values (openSMILE can give NaN, e.g. on digital silence) are set to 0 with
    a warning naming how many utterances had them.
    """
    opensmile = _opensmile()
    table = validate_table(table, check_files=False, name="egemaps_features table")
    if table.empty:
        raise ValueError("egemaps_features: the utterance table is empty")
    for path in table["path"]:  # before the stat in file_fingerprints, so the error names the file
        if not Path(path).is_file():
            raise AudioError(path, "no such file" if not Path(path).exists() else "not a regular file",
                             "check the path, or the corpus root it was resolved against")
    fingerprints = file_fingerprints(table)
    key = fingerprint_key({"format": EGEMAPS_FORMAT, "opensmile": opensmile.__version__, "feature_set": FEATURE_SET},
                          fingerprints)
    folder = Path(cache_root) if cache_root is not None else paths.cache_dir() / "egemaps"
    target = folder / f"{key}.npz"

    cached = _read_cache(target, key, len(table))
    if cached is not None:
        features, n_nonfinite = cached
    else:
        features = _compute(list(table["path"]), workers, progress)
        bad_rows = ~np.isfinite(features).all(axis=1)
        n_nonfinite = int(bad_rows.sum())
        features = np.where(np.isfinite(features), features, 0.0).astype(DTYPE)
        _write_cache(target, key, features, table, n_nonfinite, opensmile.__version__)
    if n_nonfinite:
        warnings.warn(f"eGeMAPS: {n_nonfinite} of {len(table)} utterances had non-finite feature values "
                      "(openSMILE gives NaN e.g. on digital silence); they were set to 0", stacklevel=2)
    return features


def _read_cache(target: Path, key: str, n: int):
    """(features, n_nonfinite) from `target`, or None when it is absent or not this key's."""
    if not target.is_file():
        return None
    try:
        with np.load(target, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            features = np.array(stored["features"])
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(f"eGeMAPS cache {target} is unreadable ({exc}); recomputing it", stacklevel=3)
        return None
    if meta.get("key") != key or features.shape != (n, N_FEATURES) or features.dtype != DTYPE:
        warnings.warn(f"eGeMAPS cache {target} does not hold this table's features; recomputing it",
                      stacklevel=3)
        return None
    return features, int(meta.get("n_nonfinite", 0))


def _write_cache(target: Path, key: str, features: np.ndarray, table: pd.DataFrame, n_nonfinite: int,
                 opensmile_version: str) -> None:
    meta = {"key": key, "format": EGEMAPS_FORMAT, "opensmile": opensmile_version, "feature_set": FEATURE_SET,
            "pdtlib_version": __version__, "n_utterances": len(table), "n_nonfinite": n_nonfinite,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "key_inputs": "EGEMAPS_FORMAT, opensmile version, feature set, and per utterance (utterance_id, "
                          "path, file_size, mtime_ns, label, split) in table order"}
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        np.savez(f, features=features, names=np.array(egemaps_names()),
                 utterance_id=table["utterance_id"].astype(str).to_numpy(dtype=str), meta=np.array(json.dumps(meta)))


def _compute(paths_: list, workers: int | None, progress: bool | None) -> np.ndarray:
    n = len(paths_)
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"egemaps_features: workers must be at least 1, got {workers}")
    workers = min(workers, n)
    bar = {"enabled": progress, "total": n, "desc": "eGeMAPS", "unit": "utt"}
    out = np.empty((n, N_FEATURES), dtype=np.float64)
    if workers == 1:
        for i, path in enumerate(progress_bar(paths_, **bar)):
            out[i] = _features_of(load_audio(path, SAMPLE_RATE), path)  # AudioError names a bad file
        return out
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker)
    try:
        chunksize = max(1, min(8, n // (workers * 8)))
        results = executor.map(_compute_one, [str(p) for p in paths_], chunksize=chunksize)
        for i, result in enumerate(progress_bar(results, **bar)):
            out[i] = _unpack(result)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)  # on an error: drop what has not started
    return out


def _init_worker() -> None:
    _smile()


def _features_of(wave: np.ndarray, path) -> np.ndarray:
    """The 88 functionals (float64) of one whole 16 kHz mono wave."""
    frame = _smile().process_signal(wave, SAMPLE_RATE)
    values = np.array(frame.to_numpy(dtype=np.float64)).reshape(-1)
    if values.shape != (N_FEATURES,):
        raise RuntimeError(f"{path}: openSMILE returned {values.shape[0]} values, expected {N_FEATURES}")
    return values


def _compute_one(path: str):
    """In a worker process: ("ok", 88 float64) for one whole file, or ("audio_error", path, problem, message).

    AudioError's constructor does not match its args, so it cannot cross a process boundary
    by pickling: it travels as its parts and is rebuilt in the caller by `_unpack`.
    """
    try:
        wave = load_audio(path, SAMPLE_RATE)
    except AudioError as exc:
        return ("audio_error", str(exc.path), exc.problem, str(exc))
    return ("ok", _features_of(wave, path))


def _unpack(result) -> np.ndarray:
    if result[0] == "audio_error":
        _, path, problem, message = result
        error = AudioError(path, problem)
        error.args = (message,)  # the original message, hint included
        raise error
    return result[1]


__all__ = ["EGEMAPS_FORMAT", "FEATURE_SET", "N_FEATURES", "egemaps_features", "egemaps_names"]
