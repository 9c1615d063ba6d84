"""Run records: what made a report run, next to its results (as speechbrain's experiment folders).

A run lives in `reports/<run>/`:

    run.json          resolved parameters and their hash, git commit, package versions, device,
                      status, each notebook's status under that hash: the same on every re-run of
                      the same code and parameters, so a committed report shows only real changes
    run.local.json    what changes on every run: host, pid, start time, wall times (not committed)
    run.lock          held by the report writing the run (fcntl), naming it (not committed)
    table3.md/.csv    the paper's Table 3 for this run
    *.png, *.svg      figures
    metrics/          one JSON per result (written by the notebook that computed it)
    work/             the utterance table and vectors, each with a `.stamp` (not committed)
    checkpoints/      training state (not committed)
    notebooks/        the executed notebooks (not committed)

Every result a notebook writes for a later one carries the parameter hash of run.json at the
time (`write_metrics` inside the file, `write_stamp` beside it); a reader refuses a result
written under other parameters and names the notebook to run again (`read_metrics`,
`require_current`), so a report never mixes two sets of parameters.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import paths
from .atomic import write_json

RECORD, LOCAL_RECORD, LOCK = "run.json", "run.local.json", "run.lock"

PACKAGES = ("pdt", "torch", "numpy", "scipy", "scikit-learn", "pandas", "soundfile", "soxr",
            "matplotlib", "papermill", "nbclient", "ipykernel")


class MissingInputError(FileNotFoundError):
    """An input made by an earlier notebook is missing; the message names the notebook to run."""


class StaleInputError(MissingInputError):
    """An input made by an earlier notebook under other parameters; the message names the notebook."""


class RunLockedError(RuntimeError):
    """Another report holds the run folder; the message says which (pid, host, start, parameters)."""


def check_run_name(run: str) -> str:
    """A plain folder name, or `<study>/<cell>` (one level down) for a study's cell."""
    parts = str(run).split("/")
    if not run or len(parts) > 2 or any(not part or part.startswith(".") or "\\" in part for part in parts):
        raise ValueError(f"run name {run!r}: use a plain folder name such as 'default' or 'iemocap-paper' "
                         "(or study/cell for a study's cell)")
    return run


def run_dir(run: str) -> Path:
    """`reports/<run>/`, created if needed."""
    folder = paths.reports_dir() / check_run_name(run)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def lock_run(folder, params_file: str = ""):
    """Hold `<folder>/run.lock` (an advisory fcntl lock, released by the kernel however the holder
    ends) for the block; RunLockedError naming the holder when another report has it."""
    path = Path(folder) / LOCK
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            holder = json.loads(handle.read())
            who = (f"pid {holder['pid']} on {holder['host']}, started {holder['started']}, parameters "
                   f"{holder['params_file'] or '?'}")
        except (ValueError, KeyError):
            who = "a process that has not said who it is yet"
        handle.close()
        raise RunLockedError(f"{folder} is being written by another report ({who}). Wait for it to end, or "
                             "write this one to another run (RUN=... or --set run=...)") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now(),
                                 "params_file": str(params_file)}) + "\n")
        handle.flush()
        yield path
    finally:
        handle.close()  # closing releases the lock


def params_hash(params: dict) -> str:
    """16 hex digits of SHA-256 over the resolved parameters (sorted keys, as JSON)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def reconcile_parameters(folder, values: dict) -> None:
    """A notebook's parameters against run.json's. The report driver gives every notebook the
    parameters it recorded, so they agree; a notebook run by hand with other values makes them
    the run's (params and hash updated, status incomplete), so later notebooks refuse what was
    written under the old ones instead of mixing the two."""
    recorded = read_record(folder).get("params")
    if recorded is None:  # never run by the report driver: nothing recorded to agree with
        return
    changed = sorted(k for k, v in values.items() if _plain(recorded.get(k)) != _plain(v))
    if changed:
        params = {**recorded, **_plain(values)}
        update_record(folder, params=params, params_hash=params_hash(params),
                      status=f"incomplete: {', '.join(changed)} changed by a notebook run outside the report")


def require(path, notebook: str, what: str = "") -> Path:
    """Return `path` if it exists; otherwise say which notebook makes it."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{what or path.name} not found at {path}: run notebooks/{notebook}.ipynb "
                                f"first (or `make report`, which runs the notebooks in order)")
    return path


def read_record(folder, name: str = RECORD) -> dict:
    record = Path(folder) / name
    return json.loads(record.read_text()) if record.exists() else {}


def write_record(folder, data: dict, record: str = RECORD) -> dict:
    """`<folder>/run.json` (or `record`) holding `data`, its keys sorted: the same content gives the
    same bytes, whichever notebook added a key first. Atomic."""
    data = dict(sorted(data.items()))
    write_json(Path(folder) / record, data)
    return data


def update_record(folder, *, record: str = RECORD, **fields) -> dict:
    """Merge `fields` into `<folder>/run.json` (or `record`; dicts merge one level deep), atomically."""
    data = read_record(folder, record)
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return write_record(folder, data, record)


def update_local(folder, **fields) -> dict:
    """Merge `fields` into `<folder>/run.local.json`: what differs on every run (times, host)."""
    return update_record(folder, record=LOCAL_RECORD, **fields)


def run_hash(folder) -> str | None:
    """The parameter hash run.json records (None before the report driver ran)."""
    return read_record(folder).get("params_hash")


def _refuse_stale(folder, path: Path, stamp, notebook: str, what: str) -> None:
    current = run_hash(folder)
    if stamp != current:
        raise StaleInputError(f"{what or path.name} at {path} was written under other parameters (hash {stamp}) "
                              f"than the run's (hash {current}, run.json): run notebooks/{notebook}.ipynb again "
                              "first (or `make report`, which runs the notebooks in order)")


def write_stamp(folder, path) -> Path:
    """`<path>.stamp`: the run's parameter hash `path` was just written under."""
    stamp = Path(f"{path}.stamp")
    write_json(stamp, {"params_hash": run_hash(folder)})
    return stamp


def require_current(folder, path, notebook: str, what: str = "") -> Path:
    """`require`, and `path` must have been written under the run's parameters (its `.stamp`)."""
    path = require(path, notebook, what)
    stamp = Path(f"{path}.stamp")
    _refuse_stale(folder, path, json.loads(stamp.read_text()).get("params_hash") if stamp.exists() else "none",
                  notebook, what)
    return path


def write_metrics(folder, name: str, metrics: dict) -> Path:
    """`<folder>/metrics/<name>.json`: one result, read back by later notebooks, stamped with the
    run's parameter hash."""
    return write_json(Path(folder) / "metrics" / f"{name}.json", {**metrics, "params_hash": run_hash(folder)})


def read_metrics(folder, name: str, notebook: str) -> dict:
    """The result `name`, if written under the run's parameters (else StaleInputError naming `notebook`)."""
    path = require(Path(folder) / "metrics" / f"{name}.json", notebook, f"metrics '{name}'")
    metrics = json.loads(path.read_text())
    _refuse_stale(folder, path, metrics.pop("params_hash", "none"), notebook, f"metrics '{name}'")
    return metrics


# `make install` sets nbstripout as the notebooks' clean filter. In a fresh clone every notebook is
# "racily clean" to git, so each `git status` would start one Python per notebook (about 2 s each)
# to filter it; `cat` compares the files as they are, which for the notebooks git holds (no
# outputs) gives the same answer in milliseconds.
_NO_FILTER = ("-c", "filter.nbstripout.clean=cat", "-c", "filter.nbstripout.required=false")


@functools.lru_cache(maxsize=1)
def git_commit() -> dict:
    """The commit and whether tracked code differs from it (outside reports/): once per process,
    the code a process runs being the code it started with."""
    def git(*args):
        out = subprocess.run(["git", *_NO_FILTER, *args], cwd=paths.PROJ_ROOT, capture_output=True, text=True,
                             timeout=30)
        return out.stdout.strip() if out.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        # a run rewrites its own tracked outputs under reports/: those do not make the code dirty
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def device_description() -> dict:
    """The CPU (model, cores, the ISA flags that decide training speed, whether bf16 is native and
    what `precision: auto` becomes on it), torch's threads and the GPU."""
    import torch  # here, not at the top: reading metrics and run records needs no torch

    from .precision import cpu_description, native_bf16_cpu, resolve

    cpu = cpu_description()
    info = {"cpu": cpu["model"], "cpu_cores": cpu["cores"], "isa": cpu["flags"], "bf16_native": native_bf16_cpu(),
            "precision_auto": resolve("auto", "cuda" if torch.cuda.is_available() else "cpu"),
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def environment_record() -> dict:
    """Git commit, Python, platform, package versions and device: what a run ran on (no times:
    the same on every run of the same code on one machine)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"git": dict(git_commit()), "python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions, "device": device_description()}


def local_record() -> dict:
    """What differs on every run: the host, the process and the time (run.local.json)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "recorded_at": _now()}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
