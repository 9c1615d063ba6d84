"""`make report`: run the numbered notebooks in order with papermill and record the run.

    python -m pdtlib.report --params params/default.yaml [--set key=value ...]

Parameters come from one YAML file (`params/*.yaml`), with `--set` overrides parsed as
YAML scalars (so `--set seed=3` is an int and `--set iemocap_root=/data/x` a string;
papermill's `-p` would guess types); pdtlib.report.params reads and checks them. Each notebook
receives only the parameters its `parameters` cell declares; a key that no notebook
declares is an error (a typo would otherwise be ignored silently), and every config the
notebooks build is built before the first one starts (pipeline.check_parameters). Executed
notebooks go to `reports/<run>/notebooks/`, never over their sources. While it runs, the report
holds `reports/<run>/run.lock`; a second report into the same run is refused, naming the first.
`run.json` records the parameters, their hash, the environment and each notebook's status as it
finishes, so an interrupted run still says how far it got; `complete` means every notebook of the
run succeeded with these parameters: every numbered notebook, or the `scope` a run is made of by
design (a study's PDT-only cells run 01-04 alone, and run.json records that scope). Wall times,
host and dates go to `run.local.json`, so that a re-run with the same results leaves the
committed report unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import papermill
from jupyter_client.manager import AsyncKernelManager

from . import artefacts
from ..system import paths
from . import params as parameters
from ..system.progress import progress_enabled
from ..system.runs import (LOCAL_RECORD, RunLockedError, environment_record, local_record, lock_run, params_hash,
                           read_record, run_dir, update_local, update_record, write_record)

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
            # The sockets are files `<ip>-<port>`; jupyter_client's default prefix is relative to the
            # working directory, where two reports running at once (a study on Ray) would race for
            # the same names. A prefix of this kernel's own keeps them apart.
            self.ip = os.path.join(tempfile.gettempdir(), f"pdt-kernel-{os.getpid()}-{uuid.uuid4().hex[:12]}")


def run_notebook(notebook: Path, out: Path, parameters: dict, *, timeout: int = CELL_TIMEOUT_S,
                 progress_bar: bool = False) -> None:
    """Execute `notebook` into `out` with papermill (kernel python3, IPC, cwd notebooks/)."""
    papermill.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name=KERNEL,
                               execution_timeout=timeout, cwd=str(paths.NOTEBOOKS), progress_bar=progress_bar,
                               log_output=False, kernel_manager_class=f"{__name__}.LocalKernelManager")


STUDY_NOTEBOOK = f"{artefacts.STUDY}.ipynb"  # summarises a study's runs (pdtlib.study), not part of one run
TABLE2_NOTEBOOK = f"{artefacts.TABLE2}.ipynb"  # Table 2 from a grid study's runs (pdtlib.study), not part of one run
CROSS_NOTEBOOK = f"{artefacts.CROSS}.ipynb"  # a cross-corpus study's in- and cross-corpus UA (pdtlib.study), not part of one run
SUMMARY_NOTEBOOKS = (STUDY_NOTEBOOK, TABLE2_NOTEBOOK, CROSS_NOTEBOOK)


def notebooks() -> list[Path]:
    """The numbered notebooks of one run, in the order they run (not the studies' summaries)."""
    found = sorted(p for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if p.name not in SUMMARY_NOTEBOOKS)
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


def selected(books: list[Path], only: list[str] | None) -> list[Path]:
    """The notebooks `--only` names (all without it); ValueError for a name that matches none."""
    if not only:
        return books
    unmatched = [o for o in only if not any(nb.name.startswith(o) for nb in books)]
    if unmatched:
        raise ValueError(f"--only {', '.join(unmatched)} matches no notebook; the notebooks are "
                         f"{', '.join(nb.stem for nb in books)}")
    return [nb for nb in books if any(nb.name.startswith(o) for o in only)]


def run_status(notebooks_done: dict, books: list[Path], digest: str) -> str:
    """'complete' when every notebook of `books` (the run's) succeeded under the parameters of hash
    `digest`; otherwise what failed and what was not run with these parameters."""
    current = {stem: r["status"] for stem, r in notebooks_done.items() if r.get("params_hash") == digest}
    failed = [f"{nb.stem} {current[nb.stem]}" for nb in books if current.get(nb.stem, "ok") != "ok"]
    missing = [nb.stem for nb in books if nb.stem not in current]
    if not failed and not missing:
        return "complete"
    parts = failed + ([f"not run with these parameters: {', '.join(missing)}"] if missing else [])
    return "incomplete: " + "; ".join(parts)


@contextlib.contextmanager
def kernel_environment(**variables):
    """Set environment variables for the block (the kernels papermill starts inherit them)."""
    before = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute(params: dict, *, only: list[str] | None = None, scope: list[str] | None = None,
            timeout: int = CELL_TIMEOUT_S, params_file: str = "") -> tuple[Path, str]:
    """Run the notebooks in order into `reports/<run>/`; return the run folder and its status.

    `params` are final (params.load resolved them): every config is built from them first
    (pipeline.check_parameters), then the run folder is locked for the whole run (runs.lock_run).
    run.json records the parameters, their hash and each notebook's status under that hash; the
    run is `complete` only when every notebook of the run succeeded with these parameters (a
    partial `--only` run says what is missing). `scope` (name prefixes, e.g. ["01", "02", "03",
    "04"]) makes the run those notebooks by design: they run (or the part of them `only` names),
    run.json records them as `scope`, and the run is `complete` once they succeeded; without it a
    run is every numbered notebook. Times go to run.local.json."""
    from . import pipeline  # torch and scikit-learn: imported once the arguments are known

    books = notebooks()
    per_book = split_by_notebook(params, books)
    whole = selected(books, scope)  # the notebooks this run is made of
    chosen = selected(whole, only)
    pipeline.check_parameters(SimpleNamespace(**params))
    cell_bar = progress_enabled()  # papermill's bar over each notebook's cells, when someone watches
    folder = run_dir(str(params.get("run", "default")))
    shown_file = paths.shown(params_file) if params_file else ""
    with lock_run(folder, shown_file), kernel_environment(**{parameters.RESOLVED_ENV: "1"}):
        os.environ.setdefault("PDT_PROGRESS", "0")  # the kernels inherit it: no bars in executed notebooks
        digest = params_hash(params)
        record = read_record(folder)
        done = {stem: r for stem, r in record.get("notebooks", {}).items() if r.get("params_hash") == digest}
        write_record(folder, {"params": params, "params_hash": digest, "params_file": shown_file,
                              "environment": environment_record(), "status": "running", "notebooks": done,
                              **({"corpus": record["corpus"]} if "corpus" in record and books[0].stem in done else {}),
                              # only a run smaller than the report says so: a whole run's run.json is as before
                              **({"scope": [nb.stem for nb in whole]} if len(whole) < len(books) else {})})
        write_record(folder, {**local_record(), "notebooks": {}}, LOCAL_RECORD)  # this run's times only
        total = time.perf_counter()
        for nb in chosen:
            out = folder / "notebooks" / nb.name
            out.parent.mkdir(parents=True, exist_ok=True)
            print(f"report: {nb.name} -> {out.relative_to(folder.parent)}", flush=True)
            start = time.perf_counter()
            try:
                run_notebook(nb, out, per_book[nb], timeout=timeout, progress_bar=cell_bar)
            except BaseException as exc:
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                update_record(folder, status=f"{status} in {nb.name}",
                              notebooks={nb.stem: {"status": status, "params_hash": digest}})
                update_local(folder, notebooks={nb.stem: {"wall_s": round(time.perf_counter() - start, 1)}})
                if isinstance(exc, papermill.PapermillExecutionError):
                    raise SystemExit(f"report: {nb.name} failed ({exc.ename}: {exc.evalue}).\n"
                                     f"The executed notebook, with the error in place, is {out}") from None
                raise
            wall = round(time.perf_counter() - start, 1)
            update_record(folder, notebooks={nb.stem: {"status": "ok", "params_hash": digest}})
            update_local(folder, notebooks={nb.stem: {"wall_s": wall}})
            print(f"report: {nb.name} done in {wall:.0f} s", flush=True)
        status = run_status(read_record(folder)["notebooks"], whole, digest)
        update_record(folder, status=status, notes=artefacts.run_notes(folder))
        update_local(folder, notebooks_wall_s=round(time.perf_counter() - total, 1))
    return folder, status


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
        folder, status = execute(params, only=args.only, timeout=args.timeout, params_file=args.params)
    except (ValueError, RunLockedError) as exc:  # bad parameters, an --only matching nothing, a locked run
        raise SystemExit(f"report: {exc}") from None
    if status == "complete":
        print(f"report: complete, see {folder}/table3.md")
    else:
        print(f"report: the notebooks asked for ran; the run is {status} ({folder}/run.json)")
    return 0
