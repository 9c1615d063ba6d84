"""A study: a grid of ordinary report runs (training seeds x folds), fanned out on Ray, then one
table with intervals and paired tests. `make report` is one run; a study is the path to a claim.

    python -m pdtlib.study params/study-default.yaml [--address ray://head:10001] [--no-ray] [--set key=value]

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

Statistics (`summarise`, `paired`): per Table 3 row, the mean, standard deviation, a 95% t-interval
of the mean and n cells; per row against PDT + SVM (row 5), the mean of the paired differences over
the cells both have, its 95% bootstrap interval (scipy.stats.bootstrap, percentile, 9999 resamples)
and the Wilcoxon signed-rank p-value (scipy.stats.wilcoxon), with n.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from . import params as parameters
from . import paths
from .progress import progress
from .runs import params_hash, read_record, run_dir

REFERENCE_EXP = 5  # PDT + SVM: the row every other row is compared with


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
    paper_ua, ua, wa, f1."""
    frames = []
    for name, values in study.cells().items():
        path = paths.reports_dir() / values["run"] / "table3.csv"
        if is_complete(values) and path.exists():
            frames.append(pd.read_csv(path).assign(cell=name, seed=values["seed"], fold=values["split"]))
    if not frames:
        raise ValueError(f"study {study.name}: no complete cell yet (run `python -m pdtlib.study {study.source}`)")
    table = pd.concat(frames, ignore_index=True).dropna(subset=["ua"])  # rows the study leaves out: no UA
    columns = ["cell", "seed", "fold", "exp", "method", "duration", "paper_ua", "ua", "wa", "f1"]
    return table[columns].reset_index(drop=True)


def summarise(cells: pd.DataFrame, metrics=("ua", "wa", "f1")) -> pd.DataFrame:
    """Per Table 3 row that any cell ran: for each metric the mean, sd, 95% t-interval of the mean and n
    (the cells that ran it)."""
    rows = []
    run = cells.dropna(subset=["ua"])  # rows a study leaves out (e.g. durations) have no cell
    for (exp, method, duration, paper), group in run.groupby(["exp", "method", "duration", "paper_ua"],
                                                             dropna=False, sort=True):
        row = {"exp": exp, "method": method, "duration": duration, "paper_ua": paper}
        for metric in metrics:
            values = group[metric].dropna().to_numpy(dtype=float)
            n, mean = len(values), values.mean() if len(values) else np.nan
            sd = values.std(ddof=1) if n > 1 else np.nan
            low, high = (stats.t.interval(0.95, n - 1, loc=mean, scale=sd / np.sqrt(n)) if n > 1 and sd > 0
                         else (mean, mean) if n > 1 else (np.nan, np.nan))
            row.update({f"{metric}_mean": mean, f"{metric}_sd": sd, f"{metric}_low": low, f"{metric}_high": high,
                        f"{metric}_n": n})
        rows.append(row)
    return pd.DataFrame(rows).sort_values("exp").reset_index(drop=True)


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`summarise`'s table as a reader sees it: per metric "mean ± sd [low, high]", n, the paper's UA
    (blank where the paper has no such row)."""
    shown = pd.DataFrame({"Exp": summary["exp"], "Method": summary["method"],
                          "Duration (s)": summary["duration"].map(lambda v: _or_blank(v, "g")),
                          "Paper UA": summary["paper_ua"].map(lambda v: _or_blank(v, ".2f"))})
    for metric, name in (("ua", "UA"), ("wa", "WA"), ("f1", "Macro-F1")):
        shown[name] = [f"{mean:.2f} ± {sd:.2f} [{low:.2f}, {high:.2f}]" for mean, sd, low, high in
                       summary[[f"{metric}_mean", f"{metric}_sd", f"{metric}_low", f"{metric}_high"]].to_numpy()]
    shown["n"] = summary["ua_n"]
    return shown


def _or_blank(value, fmt: str) -> str:
    return "" if pd.isna(value) else format(value, fmt)


def paired(cells: pd.DataFrame, metric: str = "ua", reference: int = REFERENCE_EXP, seed: int = 0) -> pd.DataFrame:
    """Row `reference` (PDT + SVM) minus every other row, over the cells both have: mean difference,
    95% bootstrap interval, Wilcoxon signed-rank p-value, n. Points of UA (or the metric) in %."""
    wide = cells.pivot_table(index="cell", columns="exp", values=metric)
    rows = []
    for exp in wide.columns:
        if exp == reference or reference not in wide:
            continue
        both = wide[[reference, exp]].dropna()
        diff = (both[reference] - both[exp]).to_numpy(dtype=float)
        n = len(diff)
        if n == 0:  # a row this study did not run
            continue
        row = {"exp": exp, "method": cells.loc[cells["exp"] == exp, "method"].iloc[0], "n": n,
               "mean_diff": diff.mean() if n else np.nan, "low": np.nan, "high": np.nan, "wilcoxon_p": np.nan}
        if n >= 2 and np.ptp(diff) > 0:
            ci = stats.bootstrap((diff,), np.mean, confidence_level=0.95, n_resamples=9999, method="percentile",
                                 random_state=seed).confidence_interval
            row.update(low=ci.low, high=ci.high)
        elif n >= 2:  # every cell the same difference: the interval is that point
            row.update(low=diff.mean(), high=diff.mean())
        if np.any(diff != 0):
            row["wilcoxon_p"] = float(stats.wilcoxon(diff).pvalue)
        rows.append(row)
    return pd.DataFrame(rows)


def in_words(summary: pd.DataFrame, comparisons: pd.DataFrame) -> str:
    """The study's result in words: PDT + SVM's interval, then each paired difference with its interval."""
    rows = summary.set_index("exp")
    if REFERENCE_EXP not in rows.index:
        return f"No PDT + SVM row in the study's cells; rows: {', '.join(rows['method'])}."
    ref = rows.loc[REFERENCE_EXP]
    text = (f"Over {int(ref['ua_n'])} cells, PDT + SVM scores UA {ref['ua_mean']:.1f} ± {ref['ua_sd']:.1f}% "
            f"[{ref['ua_low']:.1f}, {ref['ua_high']:.1f}] (paper: {ref['paper_ua']:.1f}%). Against the other rows "
            f"(PDT + SVM minus row, UA points, paired over cells): ")
    parts = [f"exp {r.exp} ({r.method}) {r.mean_diff:+.1f} [{r.low:+.1f}, {r.high:+.1f}], "
             f"Wilcoxon p = {r.wilcoxon_p:.3g}, n {r.n}" for r in comparisons.itertuples()]
    return text + "; ".join(parts) + "."


def main(argv=None) -> int:
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
