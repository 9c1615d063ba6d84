"""Write a vectors file: one row per utterance, its columns (id, label, ...) and its (d,) vector.

The one writer of such files: the report's work/vectors.npz (artefacts.save_vectors) and
`pdt embed --out` (cli, through predict.Embeddings.table). The format comes from the extension:

    .npz      np.savez: `vectors` (N, d) float32 first, then each column as a str array, in order
    .csv      the columns, then v000..v{d-1}; no index
    .parquet  the same table

    import numpy as np
    from pdtlib.evaluation.vectors import write_vectors
    write_vectors("mine.parquet", {"utterance_id": ["a", "b"], "label": ["sad", "happy"]}, np.zeros((2, 256)))
    with np.load(write_vectors("mine.npz", {"utterance_id": ["a", "b"]}, np.zeros((2, 256)))) as data:
        print(data.files, data["vectors"].shape)  # ['vectors', 'utterance_id'] (2, 256)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..system.atomic import atomic_path

VECTOR_FORMATS = (".npz", ".csv", ".parquet")  # any case: VECTORS.NPZ is an .npz


def vector_columns(dim: int) -> list[str]:
    """The column names of a table's vectors: v000, v001, ... (d of them)."""
    return [f"v{k:03d}" for k in range(dim)]


def write_vectors(path, columns, vectors: np.ndarray) -> Path:
    """Write `vectors` `(N, d)` with the per-row `columns` (a DataFrame, or a mapping of column name
    -> N values) to `path`, atomically (a reader sees the old file or the new one, never half of
    one); returns the path. Format by extension (VECTOR_FORMATS, see the module docstring); an
    .npz stores every column as text (np.savez would otherwise need pickle for object columns)."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in VECTOR_FORMATS:
        raise ValueError(f"write_vectors: {path}: the format comes from the extension: {', '.join(VECTOR_FORMATS)}")
    # A filtered table keeps its row labels; rows pair with vectors by position, not by label.
    table = pd.DataFrame(columns).reset_index(drop=True)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != len(table):
        raise ValueError(f"write_vectors: {len(table)} rows of columns but vectors of shape {vectors.shape}")
    if "vectors" in table.columns or any(name in table.columns for name in vector_columns(vectors.shape[1])):
        raise ValueError("write_vectors: a column may not be named like the vectors (vectors, v000, ...)")
    with atomic_path(path) as tmp:
        if kind == ".npz":
            with open(tmp, "wb") as f:  # a file object: np.savez would add .npz to a name without it
                np.savez(f, vectors=vectors.astype(np.float32),
                         **{str(name): table[name].astype(str).to_numpy(str) for name in table.columns})
        else:
            values = pd.DataFrame(vectors, columns=vector_columns(vectors.shape[1]))
            both = pd.concat([table, values], axis=1)
            if kind == ".csv":
                both.to_csv(tmp, index=False)
            else:
                both.to_parquet(tmp, index=False)
    return path
