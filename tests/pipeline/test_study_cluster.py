"""A study sent to a Ray cluster that is not this process (issue 29): a two-node cluster on this
machine (ray.cluster_utils.Cluster, one CPU a node), started as `ray start` elsewhere would be: with
other reports, data and cache folders in its environment and in another working directory. The
cells must land under the driver's PDT_REPORTS all the same; a worker killed during a cell is run
again. Cells are smoke-sized and run notebooks 01-04 (or 01 alone): measured on two shared cores
under a load of 5-12, 100-160 s for the first test (its cells take 75 s of it), 45-65 s for the
second, and about 20 s to start the cluster once for both."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from pdtlib import study as studies
from pdtlib.study import running
from pdtlib.system import paths

ray = pytest.importorskip("ray", reason="ray is the cluster extra: pip install '.[cluster]' (make test installs it)")
from ray.cluster_utils import Cluster  # noqa: E402

FOLDERS = ("PDT_REPORTS", "PDT_DATA", "PDT_CACHE")
# smoke cells, smaller still: PDT + SVM alone (notebooks 01-04), a short training
SMALL = {"baseline_durations": [4.0], "max_passes": 16, "eval_every": 8}


@contextlib.contextmanager
def environment(**variables):
    """os.environ with `variables` set (None: removed) for the block."""
    before = {name: os.environ.get(name) for name in variables}
    try:
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def cluster():
    """Two nodes whose environment points at folders of their own (`elsewhere`), started in another
    working directory; Ray's own files (and its "current cluster" address) under a temporary
    RAY_TMPDIR, so that no other Ray on this machine finds this cluster, nor it them."""
    elsewhere = Path(tempfile.mkdtemp(prefix="pdt-ray-"))  # short: Ray's socket paths hang off it
    wrong = {name: str(elsewhere / name.lower()) for name in FOLDERS}
    here = os.getcwd()
    nodes = None
    with environment(RAY_ADDRESS=None, RAY_TMPDIR=str(elsewhere)):
        try:
            with environment(**wrong):  # what the nodes' processes (and so their workers) inherit
                os.chdir(elsewhere)
                try:
                    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
                    nodes.add_node(num_cpus=1)
                    nodes.wait_for_nodes()
                finally:
                    os.chdir(here)
            yield SimpleNamespace(address=nodes.address, wrong=wrong)
        finally:
            if ray.is_initialized():
                ray.shutdown()
            if nodes is not None:
                nodes.shutdown()
            shutil.rmtree(elsewhere, ignore_errors=True)


def write_study(folder: Path, name: str, seeds: list[int], notebooks: list[str], overrides: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps({"study": name, "base": "params/smoke.yaml", "seeds": seeds, "folds": ["loso:5"],
                                "set": overrides, "notebooks": notebooks, "resources": {"num_cpus": 1}}))
    return path


def test_a_study_sent_to_a_cluster_lands_under_the_drivers_reports(tmp_path, cluster):
    """`RAY_ADDRESS=... PDT_REPORTS=... python -m pdtlib.study`, as a user types it: every cell and the
    summary under that PDT_REPORTS, none in the folders the cluster's own environment names."""
    path = write_study(tmp_path, "cluster-study", [0, 1], ["01", "02", "03", "04"], SMALL)
    done = subprocess.run([sys.executable, "-m", "pdtlib.study", str(path)], cwd=tmp_path, text=True,
                          capture_output=True, timeout=600, env={**os.environ, "RAY_ADDRESS": cluster.address})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 of 2 cells complete" in done.stdout
    folder = paths.reports_dir() / "cluster-study"
    for cell in ("loso5-seed0", "loso5-seed1"):  # each ran its notebooks here, under the driver's folders
        record = json.loads((folder / cell / "run.json").read_text())
        assert record["status"] == "complete" and record["params"]["seed"] == int(cell[-1])
        assert (folder / cell / "notebooks" / "04_svm_eval.ipynb").exists()
    cells = pd.read_csv(folder / "cells.csv")
    assert sorted(cells["cell"].unique()) == ["loso5-seed0", "loso5-seed1"]
    assert (folder / "table3_study.md").exists() and (folder / "figures" / "study.png").exists()
    where = json.loads((folder / running.WHERE).read_text())["cells"]
    assert {w["folder"] for w in where.values()} == {str(folder / "loso5-seed0"), str(folder / "loso5-seed1")}
    assert len({w["node"] for w in where.values()}) == 2  # one cell a node: both nodes ran one
    assert not any(Path(cluster.wrong[name]).exists() for name in FOLDERS)  # nothing where the workers' env says


def test_a_cell_whose_worker_is_killed_runs_again(tmp_path, cluster, capsys):
    """Seed 0's worker is killed once during its cell: Ray runs it again, and it completes. Seed 1's is
    killed on both tries: the cell is named with its error, and seed 0 goes on regardless."""
    study = studies.load_study(write_study(tmp_path, "killed-study", [0, 1], ["01"], {}))
    folder = paths.reports_dir() / study.name
    kills = {"loso5-seed0": 1, "loso5-seed1": 1 + running.RETRIES}
    killed = {cell: [] for cell in kills}
    stop = threading.Event()

    def kill_workers():
        """The report running a cell holds its run.lock and writes its pid there: the Ray worker's."""
        while not stop.is_set():
            for cell, times in kills.items():
                with contextlib.suppress(OSError, ValueError, KeyError):
                    pid = json.loads((folder / cell / "run.lock").read_text())["pid"]
                    started = (folder / cell / "notebooks" / "01_data.ipynb").exists()  # papermill is at work
                    if started and len(killed[cell]) < times and pid not in killed[cell] and pid != os.getpid():
                        os.kill(pid, signal.SIGKILL)
                        killed[cell].append(pid)
            time.sleep(0.1)

    killer = threading.Thread(target=kill_workers, daemon=True)
    killer.start()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        table = studies.run_study(study, progress_enabled=False).set_index("cell")
    finally:
        stop.set()
        killer.join()
        ray.shutdown()
        for pid in sum(killed.values(), []):  # the kernel sockets of a report that was killed (report.runner)
            for left in Path(tempfile.gettempdir()).glob(f"pdt-kernel-{pid}-*"):
                left.unlink(missing_ok=True)
    assert [len(pids) for pids in killed.values()] == [1, 1 + running.RETRIES]
    assert table.at["loso5-seed0", "status"] == "complete" and table.at["loso5-seed0", "attempts"] == 2
    assert table.at["loso5-seed1", "status"] == "failed" and "worker died" in table.at["loso5-seed1", "error"]
    out = capsys.readouterr()
    assert "cell loso5-seed0: its worker died, and Ray ran it again" in out.out
    assert "cell loso5-seed1 failed: its worker died 2 times" in out.err
    assert studies.is_complete(study.cells()["loso5-seed0"], study.notebooks)
    where = json.loads((folder / running.WHERE).read_text())["cells"]
    assert where["loso5-seed0"]["attempts"] == 2 and where["loso5-seed1"]["status"] == "failed"
