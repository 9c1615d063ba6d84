"""Atomic writes (pdtlib.system.atomic): temporaries name their owner, and what dead owners left is removed."""

import os
import subprocess
import sys
import time

from pdtlib.system import atomic
from pdtlib.system.atomic import atomic_folder, atomic_path, remove_stale


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_carry_the_owner_pid(tmp_path):
    with atomic_path(tmp_path / "x.npy") as tmp:
        assert tmp.name.startswith(f".x.npy.tmp.pid{os.getpid()}-") and tmp.suffix == ".npy"
        tmp.write_text("x")
    with atomic_folder(tmp_path / "cache", tag="building") as tmp:
        assert tmp.name.startswith(f".cache.building.pid{os.getpid()}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "x.npy"]


def test_remove_stale_keeps_live_owners_and_restores_a_target_moved_aside(tmp_path):
    dead, host = dead_pid(), atomic.HOST
    (tmp_path / f".key.building.pid{dead}-{host}.ab12cd").mkdir()  # a build killed with kill -9
    (tmp_path / f".checkpoint.pt.tmp.pid{dead}-{host}.zz9.pt").write_bytes(b"half")
    mine = tmp_path / f".bundle.saving.pid{os.getpid()}-{host}.q1"  # this process: still writing
    mine.mkdir()
    old = tmp_path / f".model.old.pid{dead}-{host}.r2"  # the old bundle, moved aside before the kill
    old.mkdir()
    (old / "bundle.json").write_text("{}")
    elsewhere = tmp_path / f".other.tmp.pid{dead}-abcdef.x1"  # another machine's: only removed when old
    elsewhere.write_text("")
    (tmp_path / ".hidden-by-the-user").write_text("")  # not ours: never touched

    removed = remove_stale(tmp_path)
    assert sorted(p.name for p in removed) == sorted([f".key.building.pid{dead}-{host}.ab12cd",
                                                      f".checkpoint.pt.tmp.pid{dead}-{host}.zz9.pt"])
    assert mine.is_dir() and elsewhere.exists() and (tmp_path / ".hidden-by-the-user").exists()
    assert (tmp_path / "model" / "bundle.json").exists() and not old.exists()

    past = time.time() - 2 * atomic.STALE_AFTER_S
    os.utime(elsewhere, (past, past))
    assert remove_stale(tmp_path) == [elsewhere] and mine.is_dir()
