"""Atomic writes: a file is either complete or absent, never half written.

Everything the project writes and later trusts (checkpoints, caches, figures, tables,
run records) goes through `atomic_path`: write to a temporary name in the same folder,
then `os.replace`, which is atomic on POSIX and Windows within one filesystem.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

# mkstemp makes 0600 files and os.replace keeps the mode: give them the usual umask mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    `suffix` defaults to the target's, so writers that pick a format from the name
    (matplotlib, numpy) still see `.png` or `.npy`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix,
                               dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
