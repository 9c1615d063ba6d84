"""A study's specification: a study file (`params/study-*.yaml`; its keys are described in
study.command, the help of `python -m pdtlib.study`), checked, and the cells it makes (grid points
x folds x training seeds), each an ordinary report's parameters: the run `<study>/<cell>`, named
by its point's values, its fold and its seed (e.g. `m0.1-lam0.9-loso5-seed0`). The bottom of the
study package: it imports no sibling.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field

from ..report import params as parameters
from ..system import paths

CELL_KEYS = ("run", "seed", "split")  # what each cell sets itself
NAME_KEY = "name"  # an explicit point's own name (its cells' folder prefix), not a parameter
# how a point's name writes a parameter: the paper's symbols where it has them; the pairing scheme by
# its value alone (sampled, in-batch); any other parameter by its full name
SHORT_NAMES = {"pdt_margin": "m", "pdt_lam": "lam", "max_passes": "passes", "pdt_mode": ""}


@dataclass
class Study:
    name: str  # reports/<name>/
    base: str  # the parameter file every cell starts from
    seeds: list[int]  # training seeds
    folds: list[str]  # `split` values
    overrides: dict = field(default_factory=dict)  # `set`: the same for every cell
    num_cpus: float = 1.0  # one cell's needs, for Ray
    num_gpus: float = 0.0
    source: str = ""  # the study file
    grid: dict = field(default_factory=dict)  # `grid`: parameter -> values, whose product gives points
    extra_points: list = field(default_factory=list)  # `points`: explicit points after the grid's
    notebooks: list | None = None  # `notebooks`: the name prefixes each cell runs; None: every notebook

    def points(self) -> dict[str, dict]:
        """{point name: its parameters}: the grid's product, then the explicit points, in order; one
        unnamed point without either (the cells are seeds x folds, named as they always were)."""
        product = ([dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]
                   if self.grid else [])  # no grid: no product (itertools.product() is one empty point)
        found = {}
        for values in product + list(self.extra_points):
            values = dict(values)
            name = values.pop(NAME_KEY, None) or point_name(values)  # an explicit point may name itself
            if name in found:
                raise ValueError(f"study {self.name}: two points are both {name} ({found[name]} and {values}); "
                                 "every point needs values of its own")
            found[name] = values
        return found or {"": {}}

    def is_cross_corpus(self) -> bool:
        """Whether a point tests on another corpus (sets test_manifest): its summary is notebook
        11_cross_corpus, the in-corpus cells beside the cross-corpus ones (study.cross_corpus)."""
        return any(values.get("test_manifest") for values in self.points().values())

    def has_points(self) -> bool:
        """Whether the study has a grid or explicit points (else: seeds x folds alone)."""
        return bool(self.grid or self.extra_points)

    def plan(self) -> list[tuple[str, str, str, int]]:
        """(cell, point, fold, seed) of every cell: points outer, then folds, seeds inner."""
        return [("-".join(filter(None, [point, f"{fold.replace(':', '').replace('/', 'of')}-seed{seed}"])),
                 point, fold, seed)
                for point in self.points() for fold in self.folds for seed in self.seeds]

    def cells(self) -> dict[str, dict]:
        """{cell name: its resolved report parameters}, in `plan` order."""
        points, shared = self.points(), self.shared_values()
        out = {}
        for cell, point, fold, seed in self.plan():
            settings = {**self.overrides, **points[point]}  # the point's own values win over `set`
            settings = {k: shared[v[1:]] if is_reference(v) else v for k, v in settings.items()}
            overrides = [f"{k}={json.dumps(v)}" for k, v in settings.items()]
            out[cell] = parameters.load(self.base, [*overrides, f"seed={seed}", f"split={fold}",
                                                    f"run={self.name}/{cell}"])
        return out

    def shared_values(self) -> dict:
        """The parameters every cell gets before its point's values: the base file's, then `set` and
        `--set` (what a point's `$name` stands for)."""
        return {**parameters.layered(self.base), **self.overrides}

    def unset_references(self) -> list[str]:
        """'point: key = $name' for every point value that stands for a parameter left empty (a path the
        user must pass, e.g. test_manifest), so a study can say what to pass before any cell runs."""
        shared = self.shared_values()
        return [f"{point}: {key} = {value}" for point, values in self.points().items()
                for key, value in values.items() if is_reference(value) and shared.get(value[1:]) in ("", None)]


def is_reference(value) -> bool:
    """A point's value `$name`: the value of parameter `name` as every cell gets it (shared_values)."""
    return isinstance(value, str) and value.startswith("$") and len(value) > 1


def point_name(values: dict) -> str:
    """A point's name from its values, in their order, e.g. {pdt_margin: 0.1, pdt_lam: 0.9} ->
    m0.1-lam0.9: stable (the same values, the same name) and safe as a folder name."""
    return "-".join(f"{SHORT_NAMES.get(key, key)}{_written(value)}" for key, value in values.items())


def _written(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, "g")  # 0.1, 1e-05: the shortest that reads back as the same number
    if isinstance(value, list):
        return "_".join(_written(v) for v in value)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(value)).lstrip(".")  # no path separators, no hidden folder


def load_study(path) -> Study:
    """A study file, checked: ValueError naming the file and the key otherwise."""
    path = parameters.find_file(path)
    data = parameters.read_file(path)
    where = paths.shown(path)
    known = {"study", "base", "seeds", "folds", "set", "resources", "grid", "points", "notebooks"}
    if set(data) - known or not {"study", "base", "seeds", "folds"} <= set(data):
        raise ValueError(f"study file {where}: keys must be {sorted(known)} (study, base, seeds and folds "
                         f"required); got {sorted(data)}")
    seeds, folds = data["seeds"], data["folds"]
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
        raise ValueError(f"study file {where}: seeds must be a list of integers, got {seeds!r}")
    if not (isinstance(folds, list) and folds and all(isinstance(f, str) for f in folds)):
        raise ValueError(f"study file {where}: folds must be a list of split names such as loso:5, got {folds!r}")
    resources = data.get("resources") or {}
    # a study file's relative paths are the project's (make runs there), wherever the file is read from
    shared = parameters.absolute_paths(dict(data.get("set") or {}), paths.PROJ_ROOT)
    study = Study(name=str(data["study"]), base=str(data["base"]), seeds=seeds, folds=folds,
                  overrides=shared, num_cpus=float(resources.get("num_cpus", 1)),
                  num_gpus=float(resources.get("num_gpus", 0)), source=str(where),
                  grid=checked_grid(data.get("grid"), f"study file {where}, grid"),
                  extra_points=checked_points(data.get("points"), f"study file {where}, points"),
                  notebooks=checked_notebooks(data.get("notebooks"), f"study file {where}, notebooks"))
    study.points()  # two points of the same name: an error now, not in the middle of a study
    return with_overrides(study, study.overrides, f"study file {where}, set")


def checked_grid(grid, source: str) -> dict[str, list]:
    """`grid`: each parameter a non-empty list of values, each value checked as `set`'s are."""
    if grid is None:
        return {}
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"{source}: must map parameter names to lists of values, got {grid!r}")
    for key, values in grid.items():
        if not (isinstance(values, list) and values):
            raise ValueError(f"{source}: {key} must be a non-empty list of values, got {values!r}")
    return {key: [parameters.absolute_paths(checked_point({key: value}, source), paths.PROJ_ROOT)[key]
                  for value in values] for key, values in grid.items()}


def checked_points(points, source: str) -> list[dict]:
    """`points`: a list of mappings parameter -> value, each checked as `set` is."""
    if points is None:
        return []
    if not (isinstance(points, list) and points and all(isinstance(p, dict) and p for p in points)):
        raise ValueError(f"{source}: must be a list of mappings parameter -> value, got {points!r}")
    return [{**point, **parameters.absolute_paths({k: v for k, v in point.items() if not is_reference(v)},
                                                    paths.PROJ_ROOT)}
            for point in (checked_point(point, source) for point in points)]


def checked_point(values: dict, source: str) -> dict:
    """One point's values through params.check (a nested mapping escapes read_file's reading of 1e-4
    as a number: done here), without the keys each cell sets itself. An explicit point may carry its
    `name` (a folder-safe string), and a string parameter's value may be `$name`: the value every cell
    gets of parameter `name` (a path passed once, e.g. test_manifest, used as another parameter)."""
    values = dict(values)
    name = values.pop(NAME_KEY, None)
    if name is not None and not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name)):
        raise ValueError(f"{source}: a point's name must be a plain folder name (letters, digits, . _ -), "
                         f"got {name!r}")
    taken = sorted(set(values) & set(CELL_KEYS))
    if taken:
        raise ValueError(f"{source}: {', '.join(taken)} cannot be a grid parameter; the study's seeds and "
                         "folds set them, and each cell's run is <study>/<cell>")
    unknown = sorted(v for v in values.values() if is_reference(v) and v[1:] not in parameters.defaults())
    if unknown:
        raise ValueError(f"{source}: {', '.join(unknown)} names no parameter; `$name` stands for the value of "
                         "parameter `name` (e.g. $test_manifest)")
    checked = parameters.check({key: parameters.numbers(value) for key, value in values.items()}, source)
    return {**checked, **({NAME_KEY: name} if name is not None else {})}


def checked_notebooks(books, source: str) -> list[str] | None:
    """`notebooks`: name prefixes ("01", or 1 as YAML reads an unquoted 01), each matching one of a
    run's notebooks; None (absent): every notebook."""
    if books is None:
        return None
    if not (isinstance(books, list) and books and all(isinstance(b, (int, str)) for b in books)):
        raise ValueError(f"{source}: must be a list of notebook numbers such as [\"01\", \"02\"], got {books!r}")
    from ..report.runner import notebooks  # papermill: only for a study that names its notebooks

    prefixes = [f"{b:02d}" if isinstance(b, int) else str(b) for b in books]
    names = [book.name for book in notebooks()]
    unmatched = [p for p in prefixes if not any(name.startswith(p) for name in names)]
    if unmatched:
        raise ValueError(f"{source}: {', '.join(unmatched)} matches no notebook of a run; they are "
                         f"{', '.join(name.removesuffix('.ipynb') for name in names)}")
    return prefixes


def with_overrides(study: Study, overrides: dict, source: str) -> Study:
    """`study` with `overrides` laid over its `set` (for every cell; a grid point's own values still
    win), checked; the keys each cell sets (run, seed, split) are refused: seeds and folds are the
    study's own axes."""
    # relative paths are the command's working directory's, made absolute now: the summary notebook
    # (cwd notebooks/) gets these overrides and must find the cells complete with the same parameters
    parameters.check(overrides, source)
    overrides = parameters.absolute_paths(overrides)
    taken = sorted(set(overrides) & set(CELL_KEYS))
    if taken:
        raise ValueError(f"{source}: {', '.join(taken)} cannot be set for every cell; the study's seeds and "
                         "folds set them, and each cell's run is <study>/<cell>")
    study.overrides = {**study.overrides, **overrides}
    return study
