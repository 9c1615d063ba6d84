"""Running a study's cells: each an ordinary report run (`report.runner.execute`), fanned out on Ray
(https://docs.ray.io) when it is installed, one after another otherwise; then the study's summary
notebook (09_study, or 10_table2 for a study with a grid or points).

Each cell is one Ray task with the study's resources. `ray.init()` starts a local instance, or joins
the cluster `RAY_ADDRESS` (or `--address`) names. A cell whose run.json says `complete` for the same
parameters (and the notebooks asked for) is skipped; a failed cell is named and the others go on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from ..system import paths
from ..system.progress import progress
from ..system.runs import run_dir
from .cells import is_complete
from .spec import Study


def run_cell(values: dict, num_cpus: float = 1.0, notebooks: list[str] | None = None) -> dict:
    """One cell: `report.execute` on its parameters, of the `notebooks` the study asks for (its scope;
    None: every notebook); never raises (a failed cell is reported)."""
    from ..report.runner import execute, kernel_environment  # papermill, the notebooks: not needed to plan or summarise

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
    from ..report.pipeline import check_parameters  # torch and scikit-learn: only once a study is about to run

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
    from ..report.runner import STUDY_NOTEBOOK, TABLE2_NOTEBOOK, run_notebook  # papermill: not needed to plan

    book = TABLE2_NOTEBOOK if study.has_points() else STUDY_NOTEBOOK
    out = run_dir(study.name) / "notebooks" / book
    out.parent.mkdir(parents=True, exist_ok=True)
    # The overrides (the file's `set` and the command line's, e.g. MANIFEST=...) go along: the cells ran
    # with them, and a cell counts as complete only for the parameters it ran with.
    run_notebook(paths.NOTEBOOKS / book, out, {"study_file": str(paths.PROJ_ROOT / study.source),
                                               "study_set": study.overrides})
    return out
