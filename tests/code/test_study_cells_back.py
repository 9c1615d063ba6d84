"""A study's cells on workers that are not the driver (issue 29), without Ray: what a cell takes
from the driver (its folders and threads) wins over its worker's environment, what it sends back is
written into the driver's study folder, and a cell is complete only when what came back says so.
The same on a real two-node cluster: tests/pipeline/test_study_cluster.py."""

import json
import os

import pytest

from pdtlib import study as studies
from pdtlib.study import running
from pdtlib.system import paths, runs


def two_cell_study(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(json.dumps({"study": "st", "base": "params/smoke.yaml", "seeds": [0, 1], "folds": ["loso:5"],
                                "set": {"baseline_durations": [4.0]}, "notebooks": ["01"]}))
    return studies.load_study(path)


def fake_execute(seen: list):
    """report.runner.execute, as a worker would run it: a complete run.json, a metrics file and an
    executed notebook under whatever PDT_REPORTS says, and which settings it ran under."""
    def execute(values, scope=None):
        seen.append({name: os.environ.get(name) for name in ("PDT_REPORTS", "PDT_DATA", "OMP_NUM_THREADS")})
        folder = runs.run_dir(values["run"])
        digest = runs.params_hash(values)
        runs.write_record(folder, {"status": "complete", "params": values, "params_hash": digest, "scope": ["01_data"],
                                   "notes": {"data": ["a note"]}})
        (folder / "metrics").mkdir(exist_ok=True)
        (folder / "metrics" / "data.json").write_text(json.dumps({"corpus": "synthetic", "params_hash": digest}))
        (folder / "notebooks").mkdir(exist_ok=True)
        (folder / "notebooks" / "01_data.ipynb").write_text("{}")  # stays where the cell ran
        return folder, "complete"
    return execute


def test_a_cell_runs_under_the_drivers_folders_and_sends_back_what_the_tables_read(tmp_path, monkeypatch):
    from pdtlib.report import runner

    study = two_cell_study(tmp_path)
    values = study.cells()["loso5-seed0"]
    settings = running.cell_settings(num_cpus=2)  # the driver's: conftest's folders under tmp
    assert settings["PDT_REPORTS"] == str(paths.reports_dir()) and settings["OMP_NUM_THREADS"] == "2"
    worker = tmp_path / "worker"  # the worker's own environment names other folders
    monkeypatch.setenv("PDT_REPORTS", str(worker / "reports"))
    monkeypatch.setenv("PDT_DATA", str(worker / "data"))
    seen = []
    monkeypatch.setattr(runner, "execute", fake_execute(seen))
    result = running.run_cell(values, settings, study.notebooks)
    assert seen == [{"PDT_REPORTS": settings["PDT_REPORTS"], "PDT_DATA": settings["PDT_DATA"], "OMP_NUM_THREADS": "2"}]
    assert os.environ["PDT_REPORTS"] == str(worker / "reports")  # the worker's environment as it was
    assert not worker.exists()
    assert result["status"] == "complete" and result["folder"] == settings["PDT_REPORTS"] + "/st/loso5-seed0"
    assert sorted(result["files"]) == ["metrics/data.json", "run.json"]  # not the executed notebooks


def test_a_cell_is_complete_from_what_came_back_and_is_not_run_again(tmp_path, monkeypatch):
    from pdtlib.report import runner

    study = two_cell_study(tmp_path)
    first, second = study.cells().values()
    elsewhere = {**running.cell_settings(), "PDT_REPORTS": str(tmp_path / "node2" / "reports")}  # no shared disk
    monkeypatch.setattr(runner, "execute", fake_execute([]))
    back = running.run_cell(first, elsewhere, study.notebooks)
    assert not (paths.reports_dir() / first["run"]).exists()  # the driver has nothing of it yet
    row = running.receive(first, back, study.notebooks)
    folder = paths.reports_dir() / first["run"]
    assert row["status"] == "complete" and "files" not in row
    assert json.loads((folder / "run.json").read_text())["notes"] == {"data": ["a note"]}
    assert (folder / "metrics" / "data.json").exists() and not (folder / "notebooks").exists()
    assert studies.is_complete(first, study.notebooks)

    # a worker's word alone: "complete", but no run.json came back (or one of other parameters)
    said = running.receive(second, {"run": second["run"], "status": "complete", "error": "", "files": {}},
                           study.notebooks)
    assert said["status"] == "failed" and "did not come back complete" in said["error"]
    other = {"run.json": json.dumps({"status": "complete", "params_hash": "another"})}
    assert running.receive(second, {"run": second["run"], "status": "complete", "files": other},
                           study.notebooks)["status"] == "failed"
    with pytest.raises(ValueError, match="not a file a cell sends back"):
        running.receive(second, {"run": second["run"], "status": "complete", "files": {"../../x.json": "{}"}},
                        study.notebooks)

    ran = []  # a rerun (the driver was interrupted, say) runs only the cell that did not come back
    monkeypatch.setattr(running, "run_cell", lambda values, settings, notebooks=None: ran.append(values["run"]) or
                        {"run": values["run"], "status": "failed", "error": "injected", "wall_s": 0.0})
    table = studies.run_study(study, use_ray=False, progress_enabled=False).set_index("cell")
    assert ran == [second["run"]] and table["status"].to_dict() == {"loso5-seed0": "complete", "loso5-seed1": "failed"}
    where = json.loads((paths.reports_dir() / "st" / running.WHERE).read_text())
    assert where["cells"]["loso5-seed1"]["error"] == "injected"
