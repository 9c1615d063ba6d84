"""Running a study's cells: each an ordinary report run (`report.runner.execute`), fanned out on Ray
(https://docs.ray.io) when it is installed, one after another otherwise; then the study's summary
notebook (09_study; 10_table2 for a study with a grid or points; 11_cross_corpus for a study whose
points test on another corpus).

Each cell is one Ray task with the study's resources. `ray.init()` starts a local instance, or joins
the cluster `RAY_ADDRESS` (or `--address`) names. A cluster started elsewhere (`ray start`, `ray up`,
KubeRay) gives its workers its own environment, not the driver's, so what a cell needs travels with
it as the task's arguments (`cell_settings`: the reports, data and cache folders and the cell's
threads, as the driver sees them; they win over the worker's). The cell returns what the study's
tables read (`RETURNED`: run.json with its notes, table3.csv, the metrics), and the driver writes
them into its own `reports/<study>/<cell>/` as each cell comes back: a cluster without a shared
filesystem still yields the study's tables, and a cell is complete when what came back says so
(`cells.is_complete` on the driver's copy), never on the worker's word alone. The rest of a cell's
folder (executed notebooks, checkpoints, figures) stays where the cell ran; `study.local.json` in the
study folder says where (host, folder, Ray node) and how many tries each cell took.

Faults: a cell whose worker dies (a killed process, a lost node) is run again by Ray once
(`RETRIES`, Ray's `max_retries`), and the study says so; a cell that fails twice, or whose notebooks
fail, is named with its error and the others go on. A cell already complete for the same parameters
(and the notebooks asked for) is skipped, so a study interrupted at the driver resumes where it was.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from ..system import paths
from ..system.atomic import write_json, write_text
from ..system.progress import progress
from ..system.runs import run_dir
from .cells import is_complete
from .spec import Study

RETRIES = 1  # Ray runs a cell whose worker died once more (max_retries): two tries at most
# what a cell sends back to the driver, beside metrics/*.json: its record (with the notes), Table 3
RETURNED = ("run.json", "run.local.json", "table3.csv", "table3.md")
FOLDERS = {"PDT_REPORTS": paths.reports_dir, "PDT_DATA": paths.data_dir, "PDT_CACHE": paths.cache_dir}
WHERE = "study.local.json"  # in the study folder: where each cell ran (host, folder), its tries


def cell_settings(num_cpus: float = 1.0) -> dict[str, str]:
    """What a cell takes from the driver rather than from its worker's environment: the reports,
    data and cache folders as the driver resolves them, and its threads (its share of cores)."""
    threads = str(max(1, int(num_cpus)))
    return {**{name: str(folder()) for name, folder in FOLDERS.items()},
            "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def cell_files(folder: Path) -> dict[str, str]:
    """What the study's tables read from a cell's folder (`RETURNED`, metrics/*.json), as text."""
    names = [name for name in RETURNED if (folder / name).is_file()]
    names += [f"metrics/{p.name}" for p in sorted((folder / "metrics").glob("*.json"))]
    return {name: (folder / name).read_text() for name in names}


def run_cell(values: dict, settings: dict | None = None, notebooks: list[str] | None = None) -> dict:
    """One cell: `report.execute` on its parameters, of the `notebooks` the study asks for (its scope;
    None: every notebook), under `settings` (`cell_settings`, which win over this process's
    environment); never raises (a failed cell is reported). Returns run, status, error, wall_s,
    where it ran (host, folder) and its `files` (`cell_files`) for the driver."""
    from ..report.runner import execute, kernel_environment  # papermill and the notebooks: not needed to plan or summarise

    settings = cell_settings() if settings is None else settings
    start = time.perf_counter()
    with kernel_environment(**settings):  # paths read them at each call; the notebooks' kernels inherit them
        try:
            _, status = execute(values, scope=notebooks)
            status, error = ("complete", "") if status == "complete" else ("failed", status)
        except (Exception, SystemExit) as exc:  # SystemExit: report's own message for a failed notebook
            status, error = "failed", str(exc)
        folder = paths.reports_dir() / values["run"]
        files = cell_files(folder) if folder.is_dir() else {}
    return {"run": values["run"], "status": status, "error": error, "wall_s": round(time.perf_counter() - start, 1),
            "host": socket.gethostname(), "folder": str(folder), "files": files}


def _ray_cell(values: dict, settings: dict, notebooks: list[str] | None) -> dict:
    """`run_cell` as a Ray task, with its Ray node and which try this is (1, or 2 after its worker died)."""
    import ray

    result = run_cell(values, settings, notebooks)
    try:  # Ray's own count of this task's tries; not public API, so a missing one is not an error
        attempt = int(ray._private.worker.global_worker.core_worker.get_current_task_attempt_number()) + 1
    except Exception:  # noqa: BLE001
        attempt = 0
    return {**result, "node": ray.get_runtime_context().get_node_id(), "attempts": attempt}


def receive(values: dict, result: dict, notebooks: list[str] | None) -> dict:
    """A cell's result on the driver: the files it sent back written into the driver's own
    `reports/<run>/` (where they differ: on a shared filesystem they are the same files), and its
    status checked there (`is_complete`): a cell whose run.json did not come back complete with
    these parameters failed, whatever its worker said."""
    folder = run_dir(values["run"])
    for name, text in (result.get("files") or {}).items():
        if not (name in RETURNED or re.fullmatch(r"metrics/[\w.-]+\.json", name)):
            raise ValueError(f"cell {values['run']}: {name!r} is not a file a cell sends back")
        path = folder / name
        if not (path.is_file() and path.read_text() == text):
            write_text(path, text)
    row = {key: value for key, value in result.items() if key != "files"}
    if is_complete(values, notebooks):
        return {**row, "status": "complete", "error": ""}
    said = row.get("error") or ("its worker said complete, but its run.json did not come back complete "
                                "with these parameters")
    return {**row, "status": "failed", "error": said}


def check_cells(study: Study) -> dict[str, dict]:
    """Every cell's parameters, with every config built from them (as `report.execute` does for one
    run), before any cell starts: a bad value fails the study at once, not in its tenth cell."""
    from ..report.pipeline import check_parameters  # torch and scikit-learn: only once a study is about to run

    unset = study.unset_references()
    if unset:
        names = sorted({line.rsplit("$", 1)[1] for line in unset})
        raise ValueError(f"study {study.name}: points stand for parameters left empty ({'; '.join(unset)}): pass "
                         + " and ".join(f"{n} (make study ... {n.upper()}=... or SET=\"{n}=...\")" for n in names))
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


def _died(exc: Exception) -> str:
    """A Ray error (the worker died, the node was lost) in one line."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"ray: {type(exc).__name__}: {first}"[:500]


def run_study(study: Study, *, address: str | None = None, use_ray: bool | None = None,
              progress_enabled: bool | None = None) -> pd.DataFrame:
    """Run every cell not yet complete; one row per cell: run, status, error, wall_s, skipped, and
    where it ran (host, folder, node) and its tries (`attempts`) when it ran now."""
    cells = study.cells()
    done = {name: {"run": v["run"], "status": "complete", "error": "", "wall_s": 0.0, "skipped": True}
            for name, v in cells.items() if is_complete(v, study.notebooks)}
    todo = {name: v for name, v in cells.items() if name not in done}
    print(f"study {study.name}: {len(cells)} cells, {len(done)} already complete, {len(todo)} to run")
    ray = _ray(address, use_ray) if todo else None
    bar = progress(total=len(cells), initial=len(done), desc=f"study {study.name}", unit="cell",
                   enabled=progress_enabled)
    settings = cell_settings(study.num_cpus)  # the driver's folders, whatever the workers' environment says
    results = dict(done)
    try:
        if ray is None:
            if todo:
                why = "--no-ray" if use_ray is False else "ray is not installed (pip install '.[cluster]')"
                print(f"study: {why}, so the cells run one after another")
            for name, values in todo.items():
                results[name] = receive(values, run_cell(values, settings, study.notebooks), study.notebooks)
                bar.update(1)
        else:
            task = ray.remote(num_cpus=study.num_cpus, num_gpus=study.num_gpus, max_retries=RETRIES)(_ray_cell)
            pending = {task.options(name=f"{study.name}/{name}").remote(values, settings, study.notebooks): name
                       for name, values in todo.items()}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                name = pending.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except Exception as exc:  # its worker died on every try (memory, node lost): name it, go on
                    result = {"run": todo[name]["run"], "status": "failed", "wall_s": 0.0, "attempts": 1 + RETRIES,
                              "error": f"its worker died {1 + RETRIES} times ({_died(exc)})"}
                results[name] = receive(todo[name], result, study.notebooks)  # written back as each comes
                bar.update(1)
    finally:
        bar.close()
        if todo:
            where(study, {name: results[name] for name in todo if name in results})
    table = pd.DataFrame([{"cell": name, "skipped": False, **results[name]} for name in cells])
    for row in table.itertuples():
        if row.status != "complete":
            print(f"study: cell {row.cell} failed: {row.error}", file=sys.stderr)
        elif getattr(row, "attempts", 1) == 1 + RETRIES:
            print(f"study: cell {row.cell}: its worker died, and Ray ran it again (try {row.attempts} of "
                  f"{1 + RETRIES}, Ray's max_retries)")
    return table


def where(study: Study, ran: dict[str, dict]) -> Path:
    """reports/<study>/study.local.json: where each cell that ran now ran (host, folder, Ray node),
    its tries, status and error, over what it said before; and say it when a cell's own folder
    (executed notebooks, checkpoints, figures) is not the driver's."""
    path = run_dir(study.name) / WHERE
    record = json.loads(path.read_text()) if path.is_file() else {}
    here = socket.gethostname()
    keys = ("host", "folder", "node", "attempts", "status", "error", "wall_s")
    cells = {**record.get("cells", {}), **{name: {k: r[k] for k in keys if k in r} for name, r in ran.items()}}
    write_json(path, {"driver": {"host": here, "reports": str(paths.reports_dir())}, "cells": cells})
    away = {name: f"{r['host']}:{r['folder']}" for name, r in ran.items() if "folder" in r and
            (r.get("host") != here or Path(r["folder"]) != paths.reports_dir() / r["run"])}
    if away:
        print(f"study: the cells' own folders (executed notebooks, checkpoints, figures) stay where they ran "
              f"(listed in {paths.shown(path)}):\n  " + "\n  ".join(f"{name}: {at}" for name, at in away.items()))
    return path


def summarise_notebook(study: Study) -> Path:
    """Run the study's summary on its cells -> reports/<study>/notebooks/<notebook>: 11_cross_corpus for a
    study whose points test on another corpus (in- beside cross-corpus), 10_table2 for a study with a grid
    or points (Table 2: one row per point), else 09_study (Table 3 over the cells)."""
    # papermill: not needed to plan
    from ..report.runner import CROSS_NOTEBOOK, STUDY_NOTEBOOK, TABLE2_NOTEBOOK, run_notebook

    book = CROSS_NOTEBOOK if study.is_cross_corpus() else TABLE2_NOTEBOOK if study.has_points() else STUDY_NOTEBOOK
    out = run_dir(study.name) / "notebooks" / book
    out.parent.mkdir(parents=True, exist_ok=True)
    # The overrides (the file's `set` and the command line's, e.g. MANIFEST=...) go along: the cells ran
    # with them, and a cell counts as complete only for the parameters it ran with.
    run_notebook(paths.NOTEBOOKS / book, out, {"study_file": str(paths.PROJ_ROOT / study.source),
                                               "study_set": study.overrides})
    return out
