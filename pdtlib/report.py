"""`make report`: run the numbered notebooks in order with papermill and record the run.

    python -m pdtlib.report --params params/default.yaml [--set key=value ...]

Parameters come from one YAML file (`params/*.yaml`), with `--set` overrides parsed as
YAML scalars (so `--set seed=3` is an int and `--set iemocap_root=/data/x` a string;
papermill's `-p` would guess types); pdtlib.params reads and checks them. Each notebook
receives only the parameters its `parameters` cell declares; a key that no notebook
declares is an error (a typo would otherwise be ignored silently). Executed notebooks go to `reports/<run>/notebooks/`,
never over their sources; `run.json` records the parameters, the environment and the
wall time of each notebook as it finishes, so an interrupted run still says how far it got.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import papermill
from jupyter_client.manager import AsyncKernelManager

from . import params as parameters
from . import paths
from .progress import progress_enabled
from .runs import environment_record, run_dir, update_record

KERNEL = "python3"
CELL_TIMEOUT_S = 3600  # per cell; the default report's longest cell takes a few minutes


class LocalKernelManager(AsyncKernelManager):
    """The notebooks' kernels talk to papermill over local (IPC) sockets rather than TCP: nothing
    leaves the machine, and ipykernel has no reason to print its "running over TCP without
    encryption" warning into every report. POSIX only; elsewhere papermill's TCP default stays."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if os.name == "posix":
            self.transport = "ipc"


def run_notebook(notebook: Path, out: Path, parameters: dict, *, timeout: int = CELL_TIMEOUT_S,
                 progress_bar: bool = False) -> None:
    """Execute `notebook` into `out` with papermill (kernel python3, IPC, cwd notebooks/)."""
    papermill.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name=KERNEL,
                               execution_timeout=timeout, cwd=str(paths.NOTEBOOKS), progress_bar=progress_bar,
                               log_output=False, kernel_manager_class=f"{__name__}.LocalKernelManager")


def notebooks() -> list[Path]:
    """The numbered notebooks, in the order they run."""
    found = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no numbered notebooks in {paths.NOTEBOOKS}")
    return found


def declared_parameters(notebook: Path) -> dict:
    """Names and default values in the notebook's `parameters` cell."""
    return papermill.inspect_notebook(str(notebook))


def split_by_notebook(params: dict, books: list[Path]) -> dict[Path, dict]:
    """Each notebook's share of `params`; unknown keys are an error naming the known ones."""
    declared = {nb: declared_parameters(nb) for nb in books}
    known = set().union(*declared.values())
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; the notebooks declare {sorted(known)}")
    return {nb: {k: v for k, v in params.items() if k in names} for nb, names in declared.items()}


def execute(params: dict, *, only: list[str] | None = None, timeout: int = CELL_TIMEOUT_S,
            params_file: str = "") -> Path:
    """Run the notebooks in order into `reports/<run>/`; return the run folder."""
    books = notebooks()
    per_book = split_by_notebook(params, books)
    cell_bar = progress_enabled()  # papermill's bar over each notebook's cells, when someone watches
    os.environ.setdefault("PDT_PROGRESS", "0")  # the kernels inherit it: no bars in executed notebooks
    if only:
        books = [nb for nb in books if any(nb.name.startswith(o) for o in only)]
    folder = run_dir(str(params.get("run", "default")))
    update_record(folder, params=params, params_file=paths.shown(params_file) if params_file else '', environment=environment_record(),
                  status="running")
    total = time.perf_counter()
    for nb in books:
        out = folder / "notebooks" / nb.name
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"report: {nb.name} -> {out.relative_to(folder.parent)}", flush=True)
        start = time.perf_counter()
        try:
            run_notebook(nb, out, per_book[nb], timeout=timeout, progress_bar=cell_bar)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            update_record(folder, status=f"{status} in {nb.name}",
                          notebooks={nb.stem: {"status": status, "wall_s": round(time.perf_counter() - start, 1)}})
            if isinstance(exc, papermill.PapermillExecutionError):
                raise SystemExit(f"report: {nb.name} failed ({exc.ename}: {exc.evalue}).\n"
                                 f"The executed notebook, with the error in place, is {out}") from None
            raise
        wall = round(time.perf_counter() - start, 1)
        update_record(folder, notebooks={nb.stem: {"status": "ok", "wall_s": wall}})
        print(f"report: {nb.name} done in {wall:.0f} s", flush=True)
    update_record(folder, status="complete", notebooks_wall_s=round(time.perf_counter() - total, 1))
    return folder


def prepare(params: dict, out_dir) -> list[Path]:
    """Papermill-prepared copies (parameters injected, nothing run) for nbval to execute."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for nb, values in split_by_notebook(params, notebooks()).items():
        out = out_dir / nb.name
        papermill.execute_notebook(str(nb), str(out), parameters=values, prepare_only=True,
                                   kernel_name=KERNEL, progress_bar=False)
        written.append(out)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdtlib.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params/default.yaml", help="YAML parameter file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter (repeatable)")
    parser.add_argument("--only", action="append", metavar="NN", help="run only notebooks starting with NN")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="per-cell execution timeout, s")
    parser.add_argument("--prepare-only", metavar="DIR", help="write parameterised copies to DIR, run nothing")
    args = parser.parse_args(argv)

    try:
        params = parameters.load(args.params, args.overrides)
        if args.prepare_only:
            for path in prepare(params, args.prepare_only):
                print(path)
            return 0
        split_by_notebook(params, notebooks())  # an undeclared key fails before any notebook runs
    except ValueError as exc:
        raise SystemExit(f"report: {exc}") from None
    folder = execute(params, only=args.only, timeout=args.timeout, params_file=args.params)
    print(f"report: complete, see {folder}/table3.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
