"""Progress bars that stay quiet where nobody watches them.

`progress(iterable, **kw)` is tqdm, shown only when `progress_enabled()`:

| environment                      | bar |
|----------------------------------|-----|
| `PDT_PROGRESS=1` (or true/yes)    | on, even without a terminal |
| `PDT_PROGRESS=0` (or false/no)    | off |
| unset, `CI` set (GitHub, GitLab)  | off |
| unset, stderr is a terminal       | on  |
| unset, in a Jupyter kernel        | on (a widget in JupyterLab) |
| unset, anything else (logs)       | off |

`make report` and `make test` set `PDT_PROGRESS=0`, so executed notebooks hold no bars.

An explicit `enabled=True/False` (or tqdm's own `disable=`) wins over the environment.
"""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether a progress bar should be drawn (see the module docstring)."""
    if enabled is not None:
        return bool(enabled)
    value = os.environ.get("PDT_PROGRESS")
    if value is not None and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if os.environ.get("CI", "").strip().lower() not in _FALSE:
        return False
    return (sys.stderr is not None and sys.stderr.isatty()) or _in_jupyter_kernel()


def _in_jupyter_kernel() -> bool:
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def progress(iterable=None, *, enabled: bool | None = None, **kw):
    """`tqdm(iterable, **kw)`, disabled unless `progress_enabled(enabled)`."""
    disable = kw.pop("disable", None)
    if enabled is None and disable is not None:
        enabled = not disable
    kw.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=not progress_enabled(enabled), **kw)
