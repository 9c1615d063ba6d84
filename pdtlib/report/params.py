"""Report parameters: `params/default.yaml`, a parameter file laid over it, and `key=value`
overrides, read, checked and resolved in one place, for the report driver and every notebook.

The parameters are the keys of `params/default.yaml`, each with its default; every notebook's
`parameters` cell declares a subset of them, with the same defaults, so stepping through the
notebooks in JupyterLab runs the default report. Any other file states only what differs: it
names its base (`base: params/default.yaml`, or another file that does) and the loader lays it
over that (`layered`), as nanoGPT's config files over its defaults; a study file's `base` and
`set` go the same way. Values are YAML scalars or lists (`--set seed=3` is an int, `--set
iemocap_root=/data/x` a string); PyYAML reads `1e-4` as a string, so such strings are read as the
numbers they mean. A bad file, an unknown key or a value of the wrong type raises ValueError
naming the file (and line) or the key, before any work starts. How a name reaches the config
field it sets is one rule, in pdtlib.report.pipeline.configs.

Smoke is one overlay and one switch: `smoke: true` (in a file, `--set smoke=true`, or a
notebook's parameters cell) lays the sizes of params/smoke.yaml (its keys other than base, run
and smoke) over the run, except the ones the user set with `--set`; a smoke run that was not
named writes to `<run>-smoke`, so tiny results never overwrite a full run's folder.

`resolve(namespace)` is what a notebook calls on its globals after papermill's injection: its
parameters as a namespace. Under the report driver (RESOLVED_ENV set in the kernels'
environment) they are taken as they are; a notebook run otherwise (JupyterLab, nbval on
papermill-prepared copies) applies its own `smoke` switch.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import yaml

from ..system import paths

DEFAULTS = paths.PARAMS / "default.yaml"
SMOKE = paths.PARAMS / "smoke.yaml"
OVERLAY_KEYS = ("base", "run", "smoke")  # of params/smoke.yaml: what it is, not sizes it lays over
PATH_KEYS = ("iemocap_root", "manifest", "test_manifest")  # relative paths are the working directory's
RESOLVED_ENV = "PDT_PARAMS_RESOLVED"  # set by the report driver for its kernels: values are final

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def numbers(value):
    """YAML 1.1 (PyYAML) reads `1e-4` as a string: read such strings as the floats they mean."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    if isinstance(value, list):
        return [numbers(v) for v in value]
    return value


def read_file(path) -> dict:
    """The mapping in a YAML parameter file; ValueError naming the file (and line) otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"parameter file {path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except UnicodeDecodeError:
        raise ValueError(f"parameter file {path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ValueError(f"parameter file {path}: cannot be read ({exc.strerror})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        line = yaml.compose(text).start_mark.line + 1  # where the list or scalar begins
        raise ValueError(f"parameter file {path}, line {line}: holds a {type(data).__name__}, not a mapping of "
                         f"`name: value` lines (see {paths.shown(DEFAULTS)})")
    return {str(k): numbers(v) for k, v in data.items()}


def defaults() -> dict:
    """params/default.yaml: every parameter's name and default value."""
    return read_file(DEFAULTS)


def layered(params_file) -> dict:
    """A parameter file laid over its `base` (recursively, down to params/default.yaml), checked.
    A file without `base` must be default.yaml itself: every other file states only what differs."""
    path = find_file(params_file)
    data, shown = read_file(path), str(paths.shown(path))
    base = data.pop("base", None)
    if base is None:
        if path.resolve() != DEFAULTS.resolve():
            raise ValueError(f"parameter file {shown}: no `base:`; start it with `base: {paths.shown(DEFAULTS)}` "
                             "and state only what differs from it")
        return check(data, shown)
    if not isinstance(base, str) or not base:
        raise ValueError(f"parameter file {shown}: base must name a parameter file, got {base!r}")
    return {**layered(_relative_to(base, path)), **check(data, shown)}


def _relative_to(name: str, parent: Path) -> Path:
    """A base named relative to the project root (params/default.yaml) or to the naming file."""
    candidate = Path(name)
    if candidate.is_absolute() or (paths.PROJ_ROOT / candidate).exists():
        return paths.PROJ_ROOT / candidate
    return parent.parent / candidate


def smoke_sizes() -> dict:
    """The sizes params/smoke.yaml lays over a run: its keys other than OVERLAY_KEYS."""
    return {k: v for k, v in read_file(SMOKE).items() if k not in OVERLAY_KEYS}


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
        parsed = numbers(yaml.safe_load(value)) if value.strip() else ""
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
    """The report's parameters, resolved once: the file's values, `key=value` overrides, relative
    paths made absolute (against the working directory), and smoke sizes when `smoke` is true.

    When an override changes the corpus but names no run, the run gets the corpus as a suffix,
    so another corpus never overwrites the parameter file's run (e.g. the committed default); an
    override naming a test corpus (`test_manifest`, a cross-corpus run) likewise gets
    `-to-<test corpus>` (`corpus_label`), and a smoke run `-smoke` (apply_smoke).
    """
    params = layered(params_file)
    corpus = params.get("corpus")
    named = check(dict(parse_override(item) for item in overrides), "--set")
    params.update(named)
    params.update(absolute_paths(params))
    if "corpus" in named and "run" not in named and params["corpus"] != corpus:
        params["run"] = f"{params.get('run', 'run')}-{params['corpus']}"
        print(f"report: corpus overridden, writing to run '{params['run']}' (choose with RUN=...)")
    if named.get("test_manifest") and "run" not in named:
        params["run"] = f"{params.get('run', 'run')}-to-{corpus_label(params['test_manifest'])}"
        print(f"report: tested on another corpus, writing to run '{params['run']}' (choose with RUN=...)")
    if params.get("smoke"):
        before = params.get("run")
        params = apply_smoke(params, kept=named)
        if params.get("run") != before:
            print(f"report: smoke sizes, writing to run '{params['run']}' (choose with RUN=...)")
    return params


def absolute_paths(values: dict, root=None) -> dict:
    """`values` with every path parameter (PATH_KEYS) that is set made absolute against `root`
    (default: the working directory), so the value means the same file wherever it is read next (a
    study's summary notebook runs in notebooks/, a Ray worker elsewhere)."""
    base = Path(root) if root is not None else Path.cwd()
    return {**values, **{k: str(base / Path(values[k]).expanduser()) for k in PATH_KEYS
                         if isinstance(values.get(k), str) and values[k]}}  # not a path: check() says so


def corpus_label(manifest) -> str:
    """A corpus's short name from its manifest's path, safe in a run name: the file's stem, or its
    folder's name when the file is called manifest.csv (data/ravdess/manifest.csv -> ravdess)."""
    path = Path(str(manifest))
    name = path.parent.name if path.stem.lower() == "manifest" and path.parent.name else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "corpus"


def apply_smoke(params: dict, kept=()) -> dict:
    """`params` with the sizes of params/smoke.yaml laid over them, except the keys in `kept`
    (what the user set); nothing else changes but the run, which gets `-smoke` when it is not
    in `kept` and not a smoke run already, so that tiny results never land in a full run's folder."""
    out = {**params, **{k: v for k, v in smoke_sizes().items() if k in params and k not in kept}}
    run = str(out.get("run", ""))
    if "run" in out and "run" not in kept and run != "smoke" and not run.endswith("-smoke"):
        out["run"] = f"{run}-smoke"
    return out


def resolve(namespace: dict) -> SimpleNamespace:
    """A notebook's parameters: the names of params/default.yaml found in `namespace` (the
    notebook's globals after papermill's injection), checked.

    Under the report driver (RESOLVED_ENV=1) they are final: `load` applied everything. Otherwise
    (JupyterLab, nbval) a true `smoke` shrinks the sizes (apply_smoke), the same in every
    notebook, so any way of running the notebooks gets one consistent smoke run."""
    values = check({k: namespace[k] for k in defaults() if k in namespace}, "notebook parameters")
    if os.environ.get(RESOLVED_ENV) == "1":
        return SimpleNamespace(**values)
    if values.get("smoke"):
        values = apply_smoke(values)
    return SimpleNamespace(**values)
