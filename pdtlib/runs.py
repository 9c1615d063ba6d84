"""Run records: what made a report run, next to its results (as speechbrain's experiment folders).

A run lives in `reports/<run>/`:

    run.json          resolved parameters, git commit, package versions, device, wall times
    table3.md/.csv    the paper's Table 3 for this run
    *.png, *.svg      figures
    metrics/          one JSON per result (written by the notebook that computed it)
    checkpoints/      training state (not committed)
    notebooks/        the executed notebooks (not committed)
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import paths
from .atomic import write_json

PACKAGES = ("pdt", "torch", "numpy", "scipy", "scikit-learn", "pandas", "soundfile", "soxr",
            "matplotlib", "papermill", "nbclient", "ipykernel")


class MissingInputError(FileNotFoundError):
    """An input made by an earlier notebook is missing; the message names the notebook to run."""


def run_dir(run: str) -> Path:
    """`reports/<run>/`, created if needed."""
    if not run or any(c in run for c in "/\\") or run.startswith("."):
        raise ValueError(f"run name {run!r}: use a plain folder name such as 'default' or 'iemocap-paper'")
    folder = paths.reports_dir() / run
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require(path, notebook: str, what: str = "") -> Path:
    """Return `path` if it exists; otherwise say which notebook makes it."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{what or path.name} not found at {path}: run notebooks/{notebook}.ipynb "
                                f"first (or `make report`, which runs the notebooks in order)")
    return path


def read_record(folder) -> dict:
    record = Path(folder) / "run.json"
    return json.loads(record.read_text()) if record.exists() else {}


def update_record(folder, **fields) -> dict:
    """Merge `fields` into `<folder>/run.json` (dicts merge one level deep), atomically."""
    record = read_record(folder)
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(record.get(key), dict):
            record[key] = {**record[key], **value}
        else:
            record[key] = value
    write_json(Path(folder) / "run.json", record)
    return record


def write_metrics(folder, name: str, metrics: dict) -> Path:
    """`<folder>/metrics/<name>.json`: one result, read back by later notebooks."""
    return write_json(Path(folder) / "metrics" / f"{name}.json", metrics)


def read_metrics(folder, name: str, notebook: str) -> dict:
    path = require(Path(folder) / "metrics" / f"{name}.json", notebook, f"metrics '{name}'")
    return json.loads(path.read_text())


def git_commit() -> dict:
    def git(*args):
        out = subprocess.run(["git", *args], cwd=paths.PROJ_ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        # a run rewrites its own tracked outputs under reports/: those do not make the code dirty
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def device_description() -> dict:
    import torch  # here, not at the top: reading metrics and run records needs no torch

    info = {"cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available()}
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def environment_record() -> dict:
    """Git commit, Python, platform, package versions and device: what a run ran on."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"git": git_commit(), "python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions, "device": device_description(),
            "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
