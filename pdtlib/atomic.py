"""Atomic writes: a file or folder is either complete or absent, never half written.

Everything the project writes and later trusts (checkpoints, caches, figures, tables,
run records, model bundles) goes through `atomic_path` (one file) or `atomic_folder` (a
folder of files): write under a hidden temporary name in the same folder, then `os.replace`,
which is atomic on POSIX and Windows within one filesystem.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

# mkstemp makes 0600 files and mkdtemp 0700 folders, and os.replace keeps the mode: give them
# the modes the user's umask gives an ordinary file or folder. The umask can only be read by
# setting it, so it is read once, at import, before any thread could race with it.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
FOLDER_MODE = 0o777 & ~_UMASK


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
    os.chmod(tmp, FILE_MODE)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(target, tag: str = "building"):
    """Yield an empty hidden folder `.<name>.<tag>-*` beside `target`; on success it becomes `target`.

    An existing `target` is moved aside first (onto an empty folder: atomic on POSIX) and deleted
    once the new one is in place, so a reader sees the old folder or the new one, never a mix.
    On an error (or an interruption) the temporary folder is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{tag}-", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, FOLDER_MODE)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; the partial folder otherwise


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
