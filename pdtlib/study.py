"""A study: a grid of ordinary report runs (training seeds x folds), fanned out on Ray, then one
table with intervals and paired tests. `make report` is one run; a study is the path to a claim.

    python -m pdtlib.study params/study-default.yaml [--address ray://head:10001] [--no-ray] [--set key=value]
    python -m pdtlib.study compare reports/study-A reports/study-B ... [--out reports/compare]

A study file (`params/study-*.yaml`) names the base parameter file, the training seeds, the folds
(`split` values: `paper` / `loso:K` for IEMOCAP's layout, `fold:K/N` for manifests), overrides for
every cell (`set`, and `--set` on the command line, e.g. iemocap_root) and what one cell needs
(`resources`: num_cpus, num_gpus). Each cell is a normal run folder `reports/<study>/<fold>-seed<seed>/`,
made by `report.execute`, so every notebook, figure and `pdt` command works on it. The corpus stays
fixed (`synthetic_seed`) while the training seed varies.

The engine is Ray (https://docs.ray.io): each cell is one Ray task with the study's resources.
`ray.init()` starts a local instance, or joins the cluster `RAY_ADDRESS` (or `--address`) names;
on Slurm, start a cluster as the README shows. Ray is an optional extra
(`pip install ".[cluster]"`); without it the cells run one after another, and the study says so.
A cell whose run.json says `complete` for the same parameters is skipped; a failed cell is named
and the others go on. Then notebook `09_study` reads every cell's Table 3 and writes
`reports/<study>/table3_study.md/.csv`, `paired.md/.csv`, `cells.md/.csv` and `figures/study.*`.

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
claim (+5.24 UA points over the traditional row).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from . import params as parameters
from . import paths
from .atomic import atomic_path, write_text
from .progress import progress
from .runs import params_hash, read_record, run_dir
# the statistics live in study_stats (this module would pass 400 lines); `study.summarise` etc. stay
# where notebook 09 and the tests have always called them
from .study_stats import (FEW_CELLS, FEW_NOTE, PAPER_CLAIM, REFERENCE_EXP, compare_differences,  # noqa: F401
                          compare_shown, compare_table, in_words, paired, summarise, summary_table)


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

    def cells(self) -> dict[str, dict]:
        """{cell name: its resolved report parameters}, folds outer, seeds inner."""
        out = {}
        for fold in self.folds:
            for seed in self.seeds:
                cell = f"{fold.replace(':', '').replace('/', 'of')}-seed{seed}"
                overrides = [f"{k}={json.dumps(v)}" for k, v in self.overrides.items()]
                values = parameters.load(self.base, [*overrides, f"seed={seed}", f"split={fold}",
                                                     f"run={self.name}/{cell}"])
                out[cell] = values
        return out


def load_study(path) -> Study:
    """A study file, checked: ValueError naming the file and the key otherwise."""
    path = parameters.find_file(path)
    data = parameters.read_file(path)
    where = paths.shown(path)
    known = {"study", "base", "seeds", "folds", "set", "resources"}
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
                  num_gpus=float(resources.get("num_gpus", 0)), source=str(where))
    return with_overrides(study, study.overrides, f"study file {where}, set")


CELL_KEYS = ("run", "seed", "split")  # what each cell sets itself


def with_overrides(study: Study, overrides: dict, source: str) -> Study:
    """`study` with `overrides` laid over its `set` (for every cell), checked; the keys each cell
    sets (run, seed, split) are refused: seeds and folds are the study's own axes."""
    parameters.check(overrides, source)
    taken = sorted(set(overrides) & set(CELL_KEYS))
    if taken:
        raise ValueError(f"{source}: {', '.join(taken)} cannot be set for every cell; the study's seeds and "
                         "folds set them, and each cell's run is <study>/<cell>")
    study.overrides = {**study.overrides, **overrides}
    return study


def is_complete(values: dict) -> bool:
    """Whether the cell's run folder already holds a complete run made with these parameters."""
    record = read_record(paths.reports_dir() / values["run"])
    return record.get("status") == "complete" and record.get("params_hash") == params_hash(values)


def run_cell(values: dict, num_cpus: float = 1.0) -> dict:
    """One cell: `report.execute` on its parameters; never raises (a failed cell is reported)."""
    from .report import execute, kernel_environment  # papermill and the notebooks: not needed to plan or summarise

    threads = str(max(1, int(num_cpus)))
    start = time.perf_counter()
    try:
        with kernel_environment(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads):  # the cell's share of cores
            _, status = execute(values)
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
            for name, v in cells.items() if is_complete(v)}
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
            results[name] = run_cell(values, study.num_cpus)
            bar.update(1)
    else:
        task = ray.remote(run_cell).options(num_cpus=study.num_cpus, num_gpus=study.num_gpus)
        pending = {task.remote(values, study.num_cpus): name for name, values in todo.items()}
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
    """Run notebook 09_study on the study's cells -> reports/<study>/notebooks/09_study.ipynb."""
    from .report import STUDY_NOTEBOOK, run_notebook  # papermill: not needed to plan or summarise

    out = run_dir(study.name) / "notebooks" / STUDY_NOTEBOOK
    out.parent.mkdir(parents=True, exist_ok=True)
    run_notebook(paths.NOTEBOOKS / STUDY_NOTEBOOK, out, {"study_file": str(paths.PROJ_ROOT / study.source)})
    return out


# ---------------------------------------------------------------- statistics over cells

def collect(study: Study) -> pd.DataFrame:
    """Every complete cell's Table 3 rows that it ran, long: cell, seed, fold, exp, method, duration,
    paper_ua, ua, wa, f1, and corpus where the cells' table3.csv has it."""
    frames = []
    for name, values in study.cells().items():
        path = paths.reports_dir() / values["run"] / "table3.csv"
        if is_complete(values) and path.exists():
            frames.append(pd.read_csv(path).assign(cell=name, seed=values["seed"], fold=values["split"]))
    if not frames:
        raise ValueError(f"study {study.name}: no complete cell yet (run `python -m pdtlib.study {study.source}`)")
    table = pd.concat(frames, ignore_index=True).dropna(subset=["ua"])  # rows the study leaves out: no UA
    columns = ["cell", "seed", "fold", "exp", "method", "duration", "paper_ua", "ua", "wa", "f1"]
    columns += ["corpus"] if "corpus" in table else []  # so cells.csv says which corpus, for `compare`
    return table[columns].reset_index(drop=True)


# ---------------------------------------------------------------- studies side by side

def find_study_folder(where) -> Path:
    """A study folder as typed (from here, or from the project root), or a study name under reports/."""
    for candidate in (Path(where), paths.PROJ_ROOT / where, paths.reports_dir() / where):
        if (candidate / "cells.csv").exists():
            return candidate
    raise ValueError(f"{where}: no cells.csv there, nor under {paths.shown(paths.reports_dir())}; a study folder "
                     "gets it from notebook 09_study (python -m pdtlib.study STUDY_FILE)")


def read_cells(folder) -> pd.DataFrame:
    """The cells of a study from its committed cells.csv, the rows it ran (with a UA)."""
    path = Path(folder) / "cells.csv"
    cells = pd.read_csv(path)
    missing = sorted({"cell", "exp", "method", "duration", "paper_ua", "ua"} - set(cells.columns))
    if missing:
        raise ValueError(f"{paths.shown(path)}: columns {missing} missing; is it a study's cells.csv?")
    return cells.dropna(subset=["ua"])


def compare(folders, out=None, seed: int = 0) -> pd.DataFrame:
    """Studies side by side (`study_stats.compare_table`), each named by its folder -> <out>/compare.md
    and .csv, and the forest plot <out>/figures/compare.png and .svg; out defaults to reports/compare."""
    from . import plots  # matplotlib: only once there is a figure to draw

    found = [find_study_folder(f) for f in folders]
    names = [f.resolve().name for f in found]
    if len(set(names)) < len(names):
        raise ValueError(f"two study folders share a name ({', '.join(names)}): the table tells studies by name")
    table = compare_table({name: read_cells(f) for name, f in zip(names, found)}, seed=seed)
    out = Path(out) if out is not None else paths.reports_dir() / "compare"
    write_compare(table, out)
    fig = plots.plot_compare(compare_differences(table), paper=PAPER_CLAIM)
    plots.save_figure(fig, out / "figures" / "compare")
    return table


def write_compare(table: pd.DataFrame, out: Path) -> Path:
    """<out>/compare.csv (every column) and compare.md (the table as read, what it means, the paper's claim)."""
    with atomic_path(out / "compare.csv") as tmp:
        table.to_csv(tmp, index=False)
    few = [f"Note: {FEW_NOTE}."] if (table["note"] != "").any() else []
    return write_text(out / "compare.md", "\n\n".join([
        f"# Studies side by side: {', '.join(table['study'].unique())}", compare_shown(table).to_markdown(index=False),
        "UA: mean ± standard deviation over a study's cells [95% t-interval of the mean, clipped to 0-100], in %; "
        "n = cells. PDT + SVM − row: PDT + SVM's UA minus the row's, paired over the cells both have (same seed "
        "and fold), mean [95% bootstrap interval, percentile, 9999 resamples], with the Wilcoxon signed-rank p "
        "and n pairs; on the traditional row (exp 1, 4 s) and eGeMAPS + SVM (exp 7).",
        f"The paper (Table 3, one run): PDT + SVM minus traditional 4 s = {PAPER_CLAIM:+.2f} UA points.",
        *few]) + "\n")


def compare_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.study compare",
                                     description="Studies side by side (e.g. one per corpus) from their cells.csv.")
    parser.add_argument("folders", nargs="+", help="study folders (reports/<study>/, each with cells.csv)")
    parser.add_argument("--out", default=None, help="where compare.md/.csv and figures/compare.* go "
                                                    "(default reports/compare)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else paths.reports_dir() / "compare"
    try:
        table = compare(args.folders, out)
    except ValueError as exc:
        raise SystemExit(f"study compare: {exc}") from None
    print(f"study compare: {table['study'].nunique()} studies -> {paths.shown(out / 'compare.md', Path.cwd())}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:  # a subcommand only by its first word: `STUDY_FILE ...` stays as it was
        return compare_main(argv[1:])
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
        print(f"study: see {run_dir(study.name)}/table3_study.md (notebook {paths.shown(out)})")
    return 0 if complete == len(table) else 1


if __name__ == "__main__":
    sys.exit(main())
