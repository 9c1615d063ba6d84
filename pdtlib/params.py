"""Report parameters: a YAML file (`params/*.yaml`) plus `key=value` overrides, read, checked
and resolved in one place, for the report driver and for every notebook.

The parameters are the keys of `params/default.yaml`; every notebook's `parameters` cell
declares a subset of them, with the same defaults, so stepping through the notebooks in
JupyterLab runs the default report. Values are YAML scalars or lists (`--set seed=3` is an int,
`--set iemocap_root=/data/x` a string); PyYAML reads `1e-4` as a string, so such strings are
read as the numbers they mean. A bad file, an unknown key or a value of the wrong type raises
ValueError naming the file (and line) or the key, before any work starts.

`resolve(namespace)` is what a notebook calls on its globals after papermill's injection: its
parameters as a namespace, with params/smoke.yaml laid over them when `smoke` is true or the
environment sets PDT_SMOKE=1 (nbval runs notebooks without papermill).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import yaml

from . import paths

DEFAULTS = paths.PARAMS / "default.yaml"
SMOKE = paths.PARAMS / "smoke.yaml"

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _numbers(value):
    """YAML 1.1 (PyYAML) reads `1e-4` as a string: read such strings as the floats they mean."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def read_file(path) -> dict:
    """The mapping in a YAML parameter file; ValueError naming the file (and line) otherwise."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"parameter file {path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except OSError as exc:
        raise ValueError(f"parameter file {path}: cannot be read ({exc.strerror})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"parameter file {path}: holds a {type(data).__name__}, not a mapping of "
                         f"`name: value` lines (see {paths.shown(DEFAULTS)})")
    return {str(k): _numbers(v) for k, v in data.items()}


def defaults() -> dict:
    """params/default.yaml: every parameter's name and default value."""
    return read_file(DEFAULTS)


def find_file(params_file) -> Path:
    """A parameter file given relative to the working directory or to the project root."""
    path = Path(params_file)
    if not path.is_absolute() and not path.exists():
        path = paths.PROJ_ROOT / path
    if not path.is_file():
        raise ValueError(f"parameter file {params_file} not found (the project's are in {paths.shown(paths.PARAMS)})")
    return path


def parse_override(item: str) -> tuple[str, object]:
    """`key=value` -> (key, YAML-typed value); an empty value is the empty string."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set takes key=value, got {item!r}")
    try:
        parsed = _numbers(yaml.safe_load(value)) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value  # a plain string YAML cannot read as a scalar, e.g. a path with ': '
    return key.strip(), parsed


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "list" if isinstance(value, list) else "str" if isinstance(value, str) else type(value).__name__


def check(params: dict, source: str) -> dict:
    """Every key known (a key of params/default.yaml) and of its default's type; ValueError naming
    `source`, the key and what is allowed otherwise. A single value where the default is a list
    becomes a one-element list (`--set pdt_lr=1e-4` is the grid [1e-4]). Returns the checked dict."""
    known = defaults()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"{source}: unknown parameter(s) {unknown}; the notebooks declare {sorted(known)}")
    checked = {}
    for key, value in params.items():
        want = _kind(known[key])
        if want == "list" and _kind(value) in ("number", "str"):
            value = [value]
        if _kind(value) != want:
            raise ValueError(f"{source}: {key} = {value!r} is a {_kind(value)}; it must be a {want} "
                             f"like the default {known[key]!r}")
        checked[key] = value
    return checked


def load(params_file, overrides=()) -> dict:
    """The parameter file's values with `key=value` overrides applied, checked.

    When an override changes the corpus but names no run, the run gets the corpus as a suffix,
    so another corpus never overwrites the parameter file's run (e.g. the committed default).
    """
    path = find_file(params_file)
    params = check(read_file(path), str(paths.shown(path)))
    corpus = params.get("corpus")
    named = check(dict(parse_override(item) for item in overrides), "--set")
    params.update(named)
    if "corpus" in named and "run" not in named and params["corpus"] != corpus:
        params["run"] = f"{params.get('run', 'run')}-{params['corpus']}"
        print(f"report: corpus overridden, writing to run '{params['run']}' (choose with RUN=...)")
    return params


def smoke_from_env() -> bool:
    """PDT_SMOKE=1: nbval runs notebooks without papermill, so the smoke switch also comes from here."""
    return os.environ.get("PDT_SMOKE", "0").strip().lower() in ("1", "true", "yes")


def resolve(namespace: dict) -> SimpleNamespace:
    """A notebook's parameters: the names of params/default.yaml found in `namespace` (the
    notebook's globals after papermill's injection). When its `smoke` is true or PDT_SMOKE=1,
    params/smoke.yaml is laid over them, so any way of running the notebook gets smoke sizes."""
    values = check({k: namespace[k] for k in defaults() if k in namespace}, "notebook parameters")
    values["smoke"] = bool(values.get("smoke")) or smoke_from_env()
    if values["smoke"]:
        overlay = read_file(SMOKE)
        values.update({k: v for k, v in overlay.items() if k in values})
    return SimpleNamespace(**values)
