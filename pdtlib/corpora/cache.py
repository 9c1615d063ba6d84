"""Feature cache: the log-spectrograms of a corpus, computed once per (content, config).

Spectrograms (paper §3: 257 bins x 100 frames per second) are stored under
`paths.cache_dir()/features/<key>/`:

    features.npy   float16 (N, 257, T), opened back with np.load(mmap_mode="r")
    index.csv      the utterance table, plus each file's size and mtime_ns (the key's inputs)
    meta.json      the key, its inputs' summary, the FeatureConfig, pdtlib version, created time

The key hashes FORMAT, the FeatureConfig (duration included) and, per utterance in table
order, (utterance_id, resolved path, file size, mtime_ns, label, split). Content is detected
by size + mtime rather than by hashing the audio: a stat is microseconds, while reading the
whole corpus (about 1 GB for IEMOCAP) on every load would cost more than the cache saves.
Rewriting or re-exporting a file changes its mtime, so the key changes; only an edit that
restores both size and mtime (`touch -r`, `rsync -t` of same-sized audio) goes unseen — delete
the cache folder then. A stale cache is never used: it simply is not at the new key.

A build writes into a hidden temporary folder beside the final one (atomic.atomic_folder,
meta.json last) and renames it into place only when complete, so an interrupted build never
leaves a cache that is later trusted; the next call builds afresh, and removes what a build killed
with `kill -9` left (atomic.remove_stale). A features.npy damaged after its build (a truncated copy)
is named in a warning and built again. What is stored is
features.encoder_input, the encoder's input as features.py defines it (float16).
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..system import paths
from ..system.atomic import atomic_folder, exclusive, remove_stale
from ..audio import load_audio
from .table import file_fingerprints, fingerprint_key, validate_table
from ..features import DTYPE, FORMAT, FeatureConfig, FeatureSet, encoder_input
from ..system.progress import progress as progress_bar


def load_features(table: pd.DataFrame, config: FeatureConfig, *, cache_root=None, batch_size: int = 32,
                  progress: bool | None = None) -> FeatureSet:
    """The spectrograms of `table`'s utterances under `config`, from the cache or built into it.

    table:      an utterance table (pdtlib.corpora.table.COLUMNS); features follow its row order.
    config:     the FeatureConfig (its duration fixes T = 100 * duration frames).
    cache_root: the folder holding the `<key>/` folders; default `paths.cache_dir()/features`.
    batch_size: utterances per log_spectrogram call while building.
    progress:   show a progress bar while building; None leaves it to pdtlib.system.progress
                (PDT_PROGRESS, CI, terminal).

    A file that cannot be read fails the build with its AudioError (the message names the
    file) and leaves nothing in the cache.
    """
    table = validate_table(table, name="load_features table")
    if table.empty:
        raise ValueError("load_features: the utterance table is empty")
    fingerprints = file_fingerprints(table)
    key = cache_key(fingerprints, config)
    folder = Path(cache_root) if cache_root is not None else paths.cache_dir() / "features"
    folder = folder / key
    if not _is_complete(folder, key):
        with exclusive(folder):  # two runs asking for the same features at once (a study): one builds
            if not _is_complete(folder, key):
                _build(table, fingerprints, config, folder, key, batch_size, progress)
    features, problem = _open(folder / "features.npy", (len(table), config.n_bins, config.n_frames))
    if problem:  # damaged after it was built (a truncated copy, a full disk): built again
        warnings.warn(f"feature cache {folder / 'features.npy'} {problem}; rebuilding it", stacklevel=2)
        _build(table, fingerprints, config, folder, key, batch_size, progress)
        features, problem = _open(folder / "features.npy", (len(table), config.n_bins, config.n_frames))
        if problem:
            raise RuntimeError(f"feature cache {folder / 'features.npy'} {problem} right after it was built: "
                               f"check the disk holding {folder.parent}")
    return FeatureSet(features, table, config, key=key)


def _open(path: Path, shape: tuple) -> tuple[np.ndarray | None, str]:
    """The cached (N, 257, T) array memory-mapped, or None and what is wrong with the file."""
    try:
        features = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:  # numpy: "mmap length is greater than file size", a bad header
        return None, f"cannot be read ({exc}): truncated or damaged"
    if features.shape != shape or features.dtype != DTYPE:
        return None, f"holds {features.shape} {features.dtype}, expected {shape} {np.dtype(DTYPE)}"
    return features, ""


def cache_key(fingerprints: pd.DataFrame, config: FeatureConfig) -> str:
    """The folder name of these utterances' features under `config` (table.fingerprint_key)."""
    return fingerprint_key({"format": FORMAT, "config": config.to_dict()}, fingerprints)


def _is_complete(folder: Path, key: str) -> bool:
    # Folders only appear at `<key>/` by a rename after meta.json was written; checking the
    # key inside guards against a folder copied or renamed by hand.
    try:
        return json.loads((folder / "meta.json").read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def _build(table, fingerprints, config: FeatureConfig, folder: Path, key: str, batch_size: int, progress) -> None:
    if folder.exists() and not _is_complete(folder, key):  # incomplete or foreign: never trusted, replaced below
        warnings.warn(f"feature cache {folder} is incomplete or damaged; rebuilding it", stacklevel=3)
    remove_stale(folder.parent)  # what builds killed mid-way left (kill -9 runs no cleanup)
    with atomic_folder(folder, tag="building") as tmp:
        _write_features(table, config, tmp / "features.npy", batch_size, progress)
        table.assign(file_size=fingerprints["file_size"], mtime_ns=fingerprints["mtime_ns"]).to_csv(
            tmp / "index.csv", index=False)
        meta = {"key": key, "format": FORMAT, "pdtlib_version": __version__,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "config": config.to_dict(), "n_utterances": len(table),
                "shape": [len(table), config.n_bins, config.n_frames], "dtype": np.dtype(DTYPE).name,
                "key_inputs": "FORMAT, config, and per utterance (utterance_id, path, file_size, mtime_ns, "
                              "label, split) in index.csv order"}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")  # last: marks the build complete


def _write_features(table: pd.DataFrame, config: FeatureConfig, target: Path, batch_size: int, progress) -> None:
    n = len(table)
    out = np.lib.format.open_memmap(target, mode="w+", dtype=DTYPE, shape=(n, config.n_bins, config.n_frames))
    starts = range(0, n, batch_size)
    for start in progress_bar(starts, enabled=progress, total=len(starts), desc="spectrograms", unit="batch"):
        batch_paths = table["path"].iloc[start:start + batch_size]
        waves = [load_audio(p, config.sample_rate) for p in batch_paths]  # AudioError names a bad file
        out[start:start + len(waves)] = encoder_input(waves, config)
    out.flush()
    del out
