"""Feature cache: the log-spectrograms of a corpus, computed once per (content, config).

Spectrograms are stored as one float16 `.npy` (N, 257, T), read back as a memmap, with
the utterance table beside it as `index.csv` and what made them in `meta.json`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import EMOTIONS
from .corpora.table import label_index
from .features import FeatureConfig


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

    def class_names(self) -> tuple[str, ...]:
        return EMOTIONS
