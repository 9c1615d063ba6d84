"""One place for every path the project reads or writes.

Nothing depends on the current working directory: defaults hang off the project
root, and each folder can be moved with an environment variable:

| folder   | variable      | default                 |
|----------|---------------|-------------------------|
| data     | `PDT_DATA`    | `<root>/data`           |
| cache    | `PDT_CACHE`   | `<root>/.cache`         |
| reports  | `PDT_REPORTS` | `<root>/reports`        |

The variables are read at each call, so a test or a notebook can set them late.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = PROJ_ROOT / "notebooks"
PARAMS = PROJ_ROOT / "params"


def _base() -> Path:
    # An editable install (the Makefile's) lives in the checkout; a plain
    # `pip install` puts pdtlib in site-packages, where a user data folder is better.
    if (PROJ_ROOT / "pyproject.toml").exists():
        return PROJ_ROOT
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "pdt"


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """Corpora (the generated one included) live here."""
    return _from_env("PDT_DATA", _base() / "data")


def cache_dir() -> Path:
    """Feature caches and other derived, re-buildable files."""
    return _from_env("PDT_CACHE", _base() / ".cache")


def reports_dir() -> Path:
    """One sub-folder per report run."""
    return _from_env("PDT_REPORTS", _base() / "reports")


def shown(path, base=None) -> str:
    """`path` relative to `base` when it lies below it, else absolute; `base` defaults to the
    project root (run records stay machine-independent). The `pdt` command passes the working
    directory, so messages show paths as the user would type them."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path(base).resolve() if base is not None else PROJ_ROOT))
    except ValueError:
        return str(path)
