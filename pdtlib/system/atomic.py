"""Atomic writes: a file or folder is either complete or absent, never half written.

Everything the project writes and later trusts (checkpoints, caches, figures, tables,
run records, model bundles) goes through `atomic_path` (one file) or `atomic_folder` (a
folder of files): write under a hidden temporary name in the same folder, then `os.replace`,
which is atomic on POSIX and Windows within one filesystem.

A process killed mid-write (`kill -9`, a power cut) leaves its temporary behind. Temporary names
carry their owner, `.<name>.<tag>.pid<pid>-<host>.<random>`, so `remove_stale` can tell what a
dead process left from what a live one is writing; the feature cache, the checkpoint writer and
the bundle writer call it on the folder they write into.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks (exclusive() then does not wait)
    fcntl = None

# mkstemp makes 0600 files and mkdtemp 0700 folders, and os.replace keeps the mode: give them
# the modes the user's umask gives an ordinary file or folder. The umask can only be read by
# setting it, so it is read once, at import, before any thread could race with it.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
FOLDER_MODE = 0o777 & ~_UMASK

# A temporary whose owner is on another machine (a shared filesystem) is only removed when old.
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
STALE_AFTER_S = 24 * 3600
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<tag>[\w-]+)\.pid(?P<pid>\d+)-(?P<host>[0-9a-f]{6})\.")


def _prefix(name: str, tag: str) -> str:
    """The start of a temporary's name: what it stands for and who writes it (pid, host)."""
    return f".{name}.{tag}.pid{os.getpid()}-{HOST}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(folder, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporaries of atomic_path / atomic_folder in `folder` whose owner is dead (on
    this machine) or that are older than `max_age_s`; return what was removed.

    A target moved aside by atomic_folder (`.old`) whose replacement never arrived is put back
    instead of removed, so an interrupted save loses nothing it had."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:  # its owner just renamed or removed it
            continue
        dead = match["host"] == HOST and not _alive(int(match["pid"]))
        if not dead and age < max_age_s:
            continue
        path, target = Path(entry.path), folder / match["name"]
        with contextlib.suppress(FileNotFoundError):
            if match["tag"] == "old" and not target.exists():
                os.replace(path, target)
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    `suffix` defaults to the target's, so writers that pick a format from the name
    (matplotlib, numpy) still see `.png` or `.npy`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path.name, "tmp"), suffix=path.suffix if suffix is None else suffix,
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
    """Yield an empty hidden folder `.<name>.<tag>.pid<pid>-*` beside `target`; on success it becomes `target`.

    An existing `target` is moved aside first (onto an empty folder: atomic on POSIX) and deleted
    once the new one is in place, so a reader sees the old folder or the new one, never a mix.
    On an error (or an interruption) the temporary folder is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(target.name, tag), dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, FOLDER_MODE)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(target.name, "old"), dir=target.parent))
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


@contextlib.contextmanager
def exclusive(target):
    """Hold an advisory lock on `target` (the file `.<name>.lock` beside it) for the block; a second
    process asking for the same target waits. Around "build it unless complete" (the generated
    corpus, a feature cache), two runs at once (a study's cells) build it once: the second finds
    it complete. The kernel releases the lock however the holder ends, even killed.

    The holder removes the lock file before releasing it, so nothing is left beside the target. A
    waiter then holds a lock on the removed file while a newcomer may lock a new one: callers must
    check "complete?" again inside the block (then at worst both build, each atomically)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    with open(lock, "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
