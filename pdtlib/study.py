"""A study: a grid of ordinary report runs (grid points x training seeds x folds), fanned out on
Ray, then one table with intervals and paired tests. `make report` is one run; a study is the path
to a claim. The one mechanism for every search: Table 2's m x λ is a study with a grid.

    python -m pdtlib.study params/study-default.yaml [--address ray://head:10001] [--no-ray] [--set key=value]
    python -m pdtlib.study compare reports/study-A reports/study-B ... [--out reports/compare]
    python -m pdtlib.study compare --between reports/study-default-fp32 reports/study-default
    python -m pdtlib.study table2 reports/study-table2 [--out DIR]

A study file (`params/study-*.yaml`) names the base parameter file, the training seeds, the folds
(`split` values: `paper` / `loso:K` for IEMOCAP's layout, `fold:K/N` for manifests), overrides for
every cell (`set`, and `--set` on the command line, e.g. iemocap_root) and what one cell needs
(`resources`: num_cpus, num_gpus). Optionally:

    grid:       parameter -> list of values, whose product gives the study's points (first key outermost)
    points:     a list of explicit points, each a mapping parameter -> value (settings off the product,
                e.g. the pairing scheme at one m and λ), after the grid's
    notebooks:  the notebooks each cell runs, as name prefixes (e.g. ["01", "02", "03", "04"]: PDT + SVM
                alone; YAML reads an unquoted 01 as the number 1, which means "01" too); default all

Grid and point values are checked like `set`'s (params.check), and a point's values win over `set`
and `--set`; run, seed and split are each cell's own and cannot be grid keys. Each cell is a normal
run folder `reports/<study>/<point>-<fold>-seed<seed>/` (the point named by its values, e.g.
`m0.1-lam0.9-loso5-seed0`; without grid or points `<fold>-seed<seed>/` as always), made by
`report.execute`, so every notebook, figure and `pdt` command works on it. A cell that runs some
notebooks records them (run.json `scope`) and is complete once they succeeded; the Table 3 rows
its notebooks do not make stay empty. The corpus stays fixed (`synthetic_seed`) while the
training seed varies.

The engine is Ray (https://docs.ray.io): each cell is one Ray task with the study's resources.
`ray.init()` starts a local instance, or joins the cluster `RAY_ADDRESS` (or `--address`) names;
on Slurm, start a cluster as the README shows. Ray is an optional extra
(`pip install ".[cluster]"`); without it the cells run one after another, and the study says so.
A cell whose run.json says `complete` for the same parameters (and the notebooks asked for) is
skipped; a failed cell is named and the others go on. Then notebook `09_study` reads every cell's
Table 3 rows (`collect`: table3.csv, or the metrics of a cell without notebook 08) and writes
`reports/<study>/table3_study.md/.csv`, `paired.md/.csv`, `cells.md/.csv` and `figures/study.*`;
for a study with a grid or points, notebook `10_table2` writes `cells.md/.csv` and Table 2
(`table2.md/.csv`, `table2_paired.csv`, `figures/table2.*`, study_table2) instead.

Statistics (`summarise`, `paired`, in `study_stats`): per Table 3 row, the mean, standard deviation,
a 95% t-interval of the mean and n cells; per row against PDT + SVM (row 5), the mean of the paired
differences over the cells both have, its 95% bootstrap interval (scipy.stats.bootstrap, percentile,
9999 resamples) and the Wilcoxon signed-rank p-value (scipy.stats.wilcoxon), with n. Bounds are
clipped to what a percentage (or a difference of two) can be, and a row over fewer than 5 cells says
that its interval rests on few cells.

`compare` sets studies side by side, e.g. one per corpus, from the `cells.csv` each study folder
holds (notebook 09 writes it; the cells' run folders are not needed, so committed results suffice):
one table of study (and corpus) x Table 3 row, UA mean ± sd [95% interval] and n, and per study
PDT + SVM minus the traditional row (exp 1, 4 s) and minus eGeMAPS + SVM (exp 7), paired over its
cells -> `<out>/compare.md` / `.csv` and a forest plot `<out>/figures/compare.*` beside the paper's
claim (+5.24 UA points over the traditional row). `table2` makes Table 2 again from a grid study's
committed `cells.csv` (study_outputs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from . import params as parameters
from . import paths
from .progress import progress
from .runs import run_dir
# the cells' rows, the written summaries and the statistics live in study_cells, study_outputs and
# study_stats (this module would pass 400 lines); `study.collect`, `study.summarise`, `study.compare`
# etc. stay where notebooks 09 and 10 and the tests have always called them
from .study_cells import collect, is_complete  # noqa: F401
from .study_outputs import (compare, compare_between, compare_main, find_study_folder, read_cells,  # noqa: F401
                            table2, table2_main, write_compare, write_table2)
from .study_stats import (ANSWER, FEW_CELLS, FEW_NOTE, PAPER_CLAIM, REFERENCE_EXP, compare_differences,  # noqa: F401
                          compare_shown, compare_table, in_words, paired, summarise, summary_table)

CELL_KEYS = ("run", "seed", "split")  # what each cell sets itself
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
        product = [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]
        found = {}
        for values in product + list(self.extra_points):
            name = point_name(values)
            if name in found:
                raise ValueError(f"study {self.name}: two points are both {name} ({found[name]} and {values}); "
                                 "every point needs values of its own")
            found[name] = values
        return found or {"": {}}

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
        points = self.points()
        out = {}
        for cell, point, fold, seed in self.plan():
            settings = {**self.overrides, **points[point]}  # the point's own values win over `set`
            overrides = [f"{k}={json.dumps(v)}" for k, v in settings.items()]
            out[cell] = parameters.load(self.base, [*overrides, f"seed={seed}", f"split={fold}",
                                                    f"run={self.name}/{cell}"])
        return out


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
    study = Study(name=str(data["study"]), base=str(data["base"]), seeds=seeds, folds=folds,
                  overrides=dict(data.get("set") or {}), num_cpus=float(resources.get("num_cpus", 1)),
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
    return {key: [checked_point({key: value}, source)[key] for value in values] for key, values in grid.items()}


def checked_points(points, source: str) -> list[dict]:
    """`points`: a list of mappings parameter -> value, each checked as `set` is."""
    if points is None:
        return []
    if not (isinstance(points, list) and points and all(isinstance(p, dict) and p for p in points)):
        raise ValueError(f"{source}: must be a list of mappings parameter -> value, got {points!r}")
    return [checked_point(point, source) for point in points]


def checked_point(values: dict, source: str) -> dict:
    """One point's values through params.check (a nested mapping escapes read_file's reading of 1e-4
    as a number: done here), without the keys each cell sets itself."""
    taken = sorted(set(values) & set(CELL_KEYS))
    if taken:
        raise ValueError(f"{source}: {', '.join(taken)} cannot be a grid parameter; the study's seeds and "
                         "folds set them, and each cell's run is <study>/<cell>")
    return parameters.check({key: parameters._numbers(value) for key, value in values.items()}, source)


def checked_notebooks(books, source: str) -> list[str] | None:
    """`notebooks`: name prefixes ("01", or 1 as YAML reads an unquoted 01), each matching one of a
    run's notebooks; None (absent): every notebook."""
    if books is None:
        return None
    if not (isinstance(books, list) and books and all(isinstance(b, (int, str)) for b in books)):
        raise ValueError(f"{source}: must be a list of notebook numbers such as [\"01\", \"02\"], got {books!r}")
    from .report import notebooks  # papermill: only for a study that names its notebooks

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
    parameters.check(overrides, source)
    taken = sorted(set(overrides) & set(CELL_KEYS))
    if taken:
        raise ValueError(f"{source}: {', '.join(taken)} cannot be set for every cell; the study's seeds and "
                         "folds set them, and each cell's run is <study>/<cell>")
    study.overrides = {**study.overrides, **overrides}
    return study


def run_cell(values: dict, num_cpus: float = 1.0, notebooks: list[str] | None = None) -> dict:
    """One cell: `report.execute` on its parameters, of the `notebooks` the study asks for (its scope;
    None: every notebook); never raises (a failed cell is reported)."""
    from .report import execute, kernel_environment  # papermill and the notebooks: not needed to plan or summarise

    threads = str(max(1, int(num_cpus)))
    start = time.perf_counter()
    try:
        with kernel_environment(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads):  # the cell's share of cores
            _, status = execute(values, scope=notebooks)
        status, error = ("complete", "") if status == "complete" else ("failed", status)
    except (Exception, SystemExit) as exc:  # SystemExit: report's own message for a failed notebook
        status, error = "failed", str(exc)
    return {"run": values["run"], "status": status, "error": error, "wall_s": round(time.perf_counter() - start, 1)}


def check_cells(study: Study) -> dict[str, dict]:
    """Every cell's parameters, with every config built from them (as `report.execute` does for one
    run), before any cell starts: a bad value fails the study at once, not in its tenth cell."""
    from .pipeline import check_parameters  # torch and scikit-learn: only once a study is about to run

    cells = study.cells()
    for name, values in cells.items():
        try:
            check_parameters(SimpleNamespace(**values))
        except ValueError as exc:
            raise ValueError(f"cell {name}: {exc}") from None
    return cells


def _ray(address: str | None, use_ray: bool | None):
    """The ray module, initialised, or None (not installed, or not wanted)."""
    if use_ray is False:
        return None
    try:
        import ray
    except ImportError:
        if use_ray:
            raise ImportError("ray is not installed: pip install '.[cluster]' (make study installs it)") from None
        return None
    if not ray.is_initialized():
        # address None: RAY_ADDRESS if set, else a new local instance
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray


def run_study(study: Study, *, address: str | None = None, use_ray: bool | None = None,
              progress_enabled: bool | None = None) -> pd.DataFrame:
    """Run every cell not yet complete; one row per cell: run, status, error, wall_s."""
    cells = study.cells()
    done = {name: {"run": v["run"], "status": "complete", "error": "", "wall_s": 0.0, "skipped": True}
            for name, v in cells.items() if is_complete(v, study.notebooks)}
    todo = {name: v for name, v in cells.items() if name not in done}
    print(f"study {study.name}: {len(cells)} cells, {len(done)} already complete, {len(todo)} to run")
    ray = _ray(address, use_ray) if todo else None
    bar = progress(total=len(cells), initial=len(done), desc=f"study {study.name}", unit="cell",
                   enabled=progress_enabled)
    results = dict(done)
    if ray is None:
        if todo:
            why = "--no-ray" if use_ray is False else "ray is not installed (pip install '.[cluster]')"
            print(f"study: {why}, so the cells run one after another")
        for name, values in todo.items():
            results[name] = run_cell(values, study.num_cpus, study.notebooks)
            bar.update(1)
    else:
        task = ray.remote(run_cell).options(num_cpus=study.num_cpus, num_gpus=study.num_gpus)
        pending = {task.remote(values, study.num_cpus, study.notebooks): name for name, values in todo.items()}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            name = pending.pop(ready[0])
            try:
                results[name] = ray.get(ready[0])
            except Exception as exc:  # the worker itself died (memory, node lost): name the cell, go on
                results[name] = {"run": todo[name]["run"], "status": "failed", "error": f"ray: {exc}", "wall_s": 0.0}
            bar.update(1)
    bar.close()
    table = pd.DataFrame([{"cell": name, "skipped": False, **results[name]} for name in cells])
    for row in table.itertuples():
        if row.status != "complete":
            print(f"study: cell {row.cell} failed: {row.error}", file=sys.stderr)
    return table


def summarise_notebook(study: Study) -> Path:
    """Run the study's summary on its cells -> reports/<study>/notebooks/<notebook>: 10_table2 for a
    study with a grid or points (Table 2: one row per point), else 09_study (Table 3 over the cells)."""
    from .report import STUDY_NOTEBOOK, TABLE2_NOTEBOOK, run_notebook  # papermill: not needed to plan

    book = TABLE2_NOTEBOOK if study.has_points() else STUDY_NOTEBOOK
    out = run_dir(study.name) / "notebooks" / book
    out.parent.mkdir(parents=True, exist_ok=True)
    # The overrides (the file's `set` and the command line's, e.g. MANIFEST=...) go along: the cells ran
    # with them, and a cell counts as complete only for the parameters it ran with.
    run_notebook(paths.NOTEBOOKS / book, out, {"study_file": str(paths.PROJ_ROOT / study.source),
                                               "study_set": study.overrides})
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:  # a subcommand only by its first word: `STUDY_FILE ...` stays as it was
        return compare_main(argv[1:])
    if argv[:1] == ["table2"]:
        return table2_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", nargs="?", default="params/study-default.yaml",
                        help="a study file (params/study-*.yaml)")
    parser.add_argument("--address", default=None, help="a Ray cluster to send the cells to (default: RAY_ADDRESS, "
                                                        "else a local instance)")
    parser.add_argument("--no-ray", action="store_true", help="run the cells one after another in this process")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter for every cell, over the study file's `set` "
                             "(e.g. iemocap_root=/data/IEMOCAP)")
    args = parser.parse_args(argv)
    try:
        study = load_study(args.study)
        study = with_overrides(study, dict(parameters.parse_override(item) for item in args.set), "--set")
        check_cells(study)
    except ValueError as exc:
        raise SystemExit(f"study: {exc}") from None
    start = time.perf_counter()
    table = run_study(study, address=args.address, use_ray=False if args.no_ray else None)
    complete = int((table["status"] == "complete").sum())
    minutes = (time.perf_counter() - start) / 60
    print(f"study {study.name}: {complete} of {len(table)} cells complete in {minutes:.1f} min")
    if complete:
        out = summarise_notebook(study)
        written = "table2.md" if study.has_points() else "table3_study.md"
        print(f"study: see {run_dir(study.name)}/{written} (notebook {paths.shown(out)})")
    return 0 if complete == len(table) else 1


if __name__ == "__main__":
    sys.exit(main())
