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

A build writes into a hidden temporary folder beside the final one (meta.json last) and
renames it into place only when complete, so an interrupted build never leaves a cache that
is later trusted; the next call builds afresh.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import EMOTIONS, __version__, paths
from .audio import load_audio
from .corpora.table import label_index, validate_table
from .features import FeatureConfig, log_spectrograms
from .progress import progress as progress_bar

# Bump when features.py changes what it computes for an unchanged FeatureConfig: every
# existing cache then misses and is rebuilt.
FORMAT = 2  # 2: log_spectrogram writes power with mul + addcmul (last-bit differences)
# float16 is enough for log-power: samples in [-1, 1] bound the power by (sum of the Hamming
# window)^2 = 172.8^2, so values lie in [log(1e-10), log(29860)] = [-23.0, +10.3] (about
# [-23, +20] with any margin), far inside float16's +-65504; its 11-bit mantissa rounds them by
# at most 0.008, far under the spread of speech spectrograms, at half the disk and memory of
# float32 (IEMOCAP at 4 s: 5531 x 257 x 400 x 2 bytes = 1.1 GB).
DTYPE = np.float16


@dataclass
class FeatureSet:
    """Spectrograms aligned with their utterance table: `features[i]` is `table.iloc[i]`.

    features: `(N, 257, T)` array, float16 memmap from the cache (float32 also accepted).
    table:    the utterance table (pdtlib.corpora.table.COLUMNS), index 0..N-1.
    config:   the FeatureConfig that made the features (its duration fixes T).
    """

    features: np.ndarray
    table: pd.DataFrame
    config: FeatureConfig
    key: str | None = None  # the cache key when loaded by load_features

    def __post_init__(self):
        if len(self.features) != len(self.table):
            raise ValueError(f"FeatureSet: {len(self.features)} spectrograms for {len(self.table)} table rows")
        self.table = self.table.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def labels(self) -> np.ndarray:
        """`(N,)` int64 indices into EMOTIONS (0 happy, 1 angry, 2 neutral, 3 sad)."""
        return label_index(self.table["label"]).to_numpy()

    def indices(self, *splits: str) -> np.ndarray:
        """Row indices of the utterances in any of `splits` ("train", "val", "test")."""
        return np.flatnonzero(self.table["split"].isin(splits).to_numpy())

    def fingerprint(self) -> str:
        """What identifies these features for a checkpoint: the cache key, which covers the files,
        labels, splits and config; for features built in memory, a hash of the same and the array."""
        if self.key is not None:
            return self.key
        digest = hashlib.sha256(json.dumps([FORMAT, self.config.to_dict()]).encode())
        digest.update(self.table[["utterance_id", "label", "split"]].to_csv(index=False).encode())
        digest.update(np.ascontiguousarray(self.features).tobytes())
        return digest.hexdigest()[:20]

    def class_names(self) -> tuple[str, ...]:
        return EMOTIONS


def load_features(table: pd.DataFrame, config: FeatureConfig, *, cache_root=None, batch_size: int = 32,
                  progress: bool | None = None) -> FeatureSet:
    """The spectrograms of `table`'s utterances under `config`, from the cache or built into it.

    table:      an utterance table (pdtlib.corpora.table.COLUMNS); features follow its row order.
    config:     the FeatureConfig (its duration fixes T = 100 * duration frames).
    cache_root: the folder holding the `<key>/` folders; default `paths.cache_dir()/features`.
    batch_size: utterances per log_spectrogram call while building.
    progress:   show a progress bar while building; None leaves it to pdtlib.progress
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
        _build(table, fingerprints, config, folder, key, batch_size, progress)
    features = np.load(folder / "features.npy", mmap_mode="r")
    expected = (len(table), config.n_bins, config.n_frames)
    if features.shape != expected or features.dtype != DTYPE:
        raise RuntimeError(f"feature cache {folder} holds {features.shape} {features.dtype}, expected "
                           f"{expected} {np.dtype(DTYPE)}: it was changed after it was built. Delete that "
                           "folder and call load_features again.")
    return FeatureSet(features, table, config, key=key)


def file_fingerprints(table: pd.DataFrame) -> pd.DataFrame:
    """Per utterance: the key's inputs (utterance_id, path resolved, file_size, mtime_ns, label, split)."""
    resolved = [str(Path(p).resolve()) for p in table["path"]]
    stats = [os.stat(p) for p in resolved]
    return pd.DataFrame({"utterance_id": table["utterance_id"].astype(str).to_numpy(), "path": resolved,
                         "file_size": [s.st_size for s in stats], "mtime_ns": [s.st_mtime_ns for s in stats],
                         "label": table["label"].astype(str).to_numpy(),
                         "split": table["split"].astype(str).to_numpy()})


def cache_key(fingerprints: pd.DataFrame, config: FeatureConfig) -> str:
    """20 hex digits of SHA-256 over FORMAT, the config and every fingerprint row, in order."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "config": config.to_dict()}, sort_keys=True).encode())
    for row in fingerprints.itertuples(index=False):
        digest.update(json.dumps([str(row.utterance_id), row.path, int(row.file_size), int(row.mtime_ns),
                                  row.label, row.split]).encode() + b"\n")
    return digest.hexdigest()[:20]


def _is_complete(folder: Path, key: str) -> bool:
    # Folders only appear at `<key>/` by a rename after meta.json was written; checking the
    # key inside guards against a folder copied or renamed by hand.
    try:
        return json.loads((folder / "meta.json").read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def _build(table, fingerprints, config: FeatureConfig, folder: Path, key: str, batch_size: int, progress) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists():  # incomplete or foreign: never trusted, replaced below
        warnings.warn(f"feature cache {folder} is incomplete or damaged; rebuilding it", stacklevel=3)
        shutil.rmtree(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.building-", dir=folder.parent))
    try:
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
        try:
            os.replace(tmp, folder)
        except OSError:
            if not _is_complete(folder, key):  # else another process finished the same build first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing left after a rename; the partial build otherwise


def _write_features(table: pd.DataFrame, config: FeatureConfig, target: Path, batch_size: int, progress) -> None:
    n = len(table)
    out = np.lib.format.open_memmap(target, mode="w+", dtype=DTYPE, shape=(n, config.n_bins, config.n_frames))
    starts = range(0, n, batch_size)
    for start in progress_bar(starts, enabled=progress, total=len(starts), desc="spectrograms", unit="batch"):
        batch_paths = table["path"].iloc[start:start + batch_size]
        waves = [load_audio(p, config.sample_rate) for p in batch_paths]  # AudioError names a bad file
        out[start:start + len(waves)] = log_spectrograms(waves, config).numpy().astype(DTYPE)
    out.flush()
    del out
